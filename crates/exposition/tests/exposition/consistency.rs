//! Lines that are well-formed on their own but contradict the rest of the
//! exposition are reported, not silently accepted.
//!
//! Each of these used to slip through: a negative histogram bucket poisons
//! every quantile computed from it, a `__name__` label renames or shadows
//! the series depending on who reads it, and a late `# TYPE` retypes samples
//! that were already handed out under the old type.

use fleetdeck_exposition::{histograms, parse, Exposition, MetricType, ParseError};

/// `(line, message)` of every error, for compact assertions.
fn errors(exposition: &Exposition) -> Vec<(usize, &str)> {
    exposition
        .errors
        .iter()
        .map(|error| (error.line, error.message.as_str()))
        .collect()
}

/// Checks that `bad`, placed as line 2 between two good samples, is
/// reported with `message`, and that it yields no sample.
fn assert_rejected(prelude: &str, bad: &str, message: &str) {
    let text = format!("{prelude}good 1\n{bad}\ngood 2\n");
    let line = prelude.lines().count() + 2;
    let exposition = parse(&text);
    assert_eq!(
        exposition.errors,
        [ParseError {
            line,
            message: message.to_owned(),
            text: bad.to_owned(),
        }],
        "{bad:?} after {prelude:?} must be reported on line {line} with its reason"
    );
    let without = parse(&format!("{prelude}good 1\ngood 2\n"));
    assert_eq!(
        exposition.samples, without.samples,
        "{bad:?} must yield no sample and must not stop the lines around it"
    );
}

#[test]
fn negative_histogram_bucket_or_count_was_accepted() {
    // Regression: `h_bucket{le="1"} -1` under `# TYPE h histogram` was kept
    // as a bucket holding -1 observations.
    let histogram = "# TYPE h histogram\n";
    assert_rejected(
        histogram,
        r#"h_bucket{le="1"} -1"#,
        "negative bucket count -1 in histogram 'h'",
    );
    assert_rejected(
        histogram,
        r#"h_bucket{le="+Inf"} -Inf"#,
        "negative bucket count -inf in histogram 'h'",
    );
    assert_rejected(
        histogram,
        "h_count -0.5",
        "negative observation count -0.5 in histogram 'h'",
    );
    assert_rejected(
        "# TYPE \"rpc.latency\" histogram\n",
        r#"{"rpc.latency_bucket",le="1"} -3"#,
        "negative bucket count -3 in histogram 'rpc.latency'",
    );
    assert_rejected(
        "# HELP vllm:ttft help\n# TYPE vllm:ttft histogram\n",
        r#"vllm:ttft_count{model="m"} -1e3"#,
        "negative observation count -1000 in histogram 'vllm:ttft'",
    );
}

#[test]
fn negative_values_elsewhere_are_kept() {
    let text = r#"# TYPE h histogram
h_bucket{le="-1"} 0
h_bucket{le="+Inf"} 2
h_sum -3.5
h_count 2
h_bucket{le="1",x="nan"} NaN
h_bucket{le="1",x="zero"} -0
# TYPE g gauge
g_bucket -1
g_count -1
u_bucket{le="1"} -1
u_count -2
# TYPE c_bucket counter
c_bucket -1
"#;
    let exposition = parse(text);
    assert!(
        exposition.errors.is_empty(),
        "a histogram's _sum may be negative, NaN and -0 are not negative, and only a \
         family declared histogram has buckets and counts: {:?}",
        exposition.errors
    );
    assert_eq!(exposition.samples.len(), 11, "every sample is kept");
    let h = &histograms(&exposition)[0];
    assert_eq!(h.sum, Some(-3.5), "the negative sum is kept");
}

#[test]
fn name_label_was_accepted_as_an_ordinary_label() {
    // Regression: `foo{__name__="bar"} 1` was kept with a `__name__` label,
    // which Prometheus reserves for the metric name.
    let reserved = "label name '__name__' is reserved";
    let twice = "metric name given twice";
    for (bad, message) in [
        (r#"foo{__name__="bar"} 1"#, reserved),
        (r#"foo{a="1",__name__="bar"} 1"#, reserved),
        (r#"foo{"__name__"="bar"} 1"#, reserved),
        (r#"foo{__name__="foo"} 1"#, reserved),
        (r#"{__name__="bar"} 1"#, reserved),
        (r#"{"foo.x", __name__="bar"} 1"#, twice),
        (r#"{__name__="bar", "foo.x"} 1"#, twice),
        (r#"{"foo.x", "__name__"="bar"} 1"#, twice),
        (r#"{__name__="a", __name__="b"} 1"#, twice),
    ] {
        assert_rejected("", bad, message);
    }
    let sample = &parse(r#"foo{__name_="x",name="y"} 1"#).samples[0];
    assert_eq!(
        sample.labels.len(),
        2,
        "labels that merely look like __name__ are fine"
    );
}

#[test]
fn late_type_line_was_accepted_and_retyped_earlier_samples() {
    // Regression: `foo 1` then `# TYPE foo counter` declared foo a counter
    // after its sample had been read as untyped.
    let exposition = parse("# HELP foo Help.\nfoo 1\n# TYPE foo counter\nfoo 2\n");
    assert_eq!(
        errors(&exposition),
        [(3, "TYPE line for 'foo' after samples of its family")],
        "the format requires TYPE before the family's first sample"
    );
    let family = exposition.family("foo").expect("declared by HELP");
    assert_eq!(
        (family.metric_type, family.help.as_deref()),
        (MetricType::Untyped, Some("Help.")),
        "the late TYPE is ignored; the HELP before it stands"
    );
    assert_eq!(exposition.samples.len(), 2, "both samples are kept");

    let exposition = parse("bar 1\n# TYPE bar gauge\n");
    assert!(
        exposition.family("bar").is_none(),
        "a rejected TYPE line declares no family"
    );
}

#[test]
fn late_type_line_counts_every_series_of_the_family() {
    for (prelude, bad) in [
        ("h_bucket{le=\"+Inf\"} 1\n", "# TYPE h histogram"),
        ("h_sum 1\n", "# TYPE h histogram"),
        ("h_count 1\n", "# TYPE h histogram"),
        ("s_sum 1\n", "# TYPE s summary"),
        ("s_count 1\n", "# TYPE s summary"),
        ("s{quantile=\"0.5\"} 1\n", "# TYPE s summary"),
        ("c_total 1\n", "# TYPE c counter"),
        ("c 1\n", "# TYPE c_total counter"),
        ("{\"a.b\"} 1\n", "# TYPE \"a.b\" gauge"),
        ("{\"a.b\"} 1\n", "# TYPE a.b gauge"),
    ] {
        let name = bad
            .split_whitespace()
            .nth(2)
            .expect("a name")
            .trim_matches('"');
        let message = if name == "a.b" && !bad.contains('"') {
            "invalid character '.' in metric name".to_owned()
        } else {
            format!("TYPE line for '{name}' after samples of its family")
        };
        assert_rejected(prelude, bad, &message);
    }
}

#[test]
fn type_before_or_beside_other_families_is_fine() {
    let text = "x_bucket 1\n\
                # TYPE x gauge\n\
                y_sum 1\n\
                # TYPE y counter\n\
                z 1\n\
                # TYPE z_other untyped\n\
                # TYPE w histogram\n\
                w_bucket{le=\"+Inf\"} 1\n\
                # HELP w Late help is allowed.\n\
                bad{__name__=\"q\"} 1\n\
                # TYPE bad counter\n";
    let exposition = parse(text);
    assert_eq!(
        errors(&exposition),
        [(10, "label name '__name__' is reserved")],
        "a gauge has no _bucket series and a counter no _sum, a HELP may come late, \
         and a rejected line is no sample of its family"
    );
    let types: Vec<(&str, MetricType)> = exposition
        .families
        .iter()
        .map(|f| (f.name.as_str(), f.metric_type))
        .collect();
    assert_eq!(
        types,
        [
            ("x", MetricType::Gauge),
            ("y", MetricType::Counter),
            ("z_other", MetricType::Untyped),
            ("w", MetricType::Histogram),
            ("bad", MetricType::Counter),
        ],
        "all five families declared"
    );
}

#[test]
fn repeated_late_type_is_reported_as_repeated() {
    let exposition = parse("# TYPE foo counter\nfoo 1\n# TYPE foo gauge\n");
    assert_eq!(
        errors(&exposition),
        [(3, "duplicate TYPE line for 'foo'")],
        "a second TYPE is a duplicate first; that it is also late adds nothing"
    );
}

#[test]
fn rejected_lines_keep_their_line_numbers_with_crlf() {
    let text = "# TYPE h histogram\r\n\
                h_bucket{le=\"1\"} 1\r\n\
                h_bucket{le=\"+Inf\"} -2\r\n\
                \r\n\
                m{__name__=\"x\"} 1\r\n\
                h_count 2\r\n\
                # TYPE m gauge\r\n";
    let exposition = parse(text);
    assert_eq!(
        errors(&exposition),
        [
            (3, "negative bucket count -2 in histogram 'h'"),
            (5, "label name '__name__' is reserved"),
        ],
        "each rejection carries its own 1-based line; the rejected m line is no \
         sample of m, so its TYPE on line 7 is in time"
    );
    let h = &histograms(&exposition)[0];
    assert_eq!(
        h.buckets.len(),
        1,
        "the negative bucket is not part of the histogram"
    );
}
