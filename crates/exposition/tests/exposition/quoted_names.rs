//! Prometheus 3 quoted UTF-8 metric and label names.
//!
//! Since Prometheus 3, names outside `[a-zA-Z_:][a-zA-Z0-9_:]*` (OpenTelemetry's
//! `http.server.duration`, for one) are exposed quoted: the metric name moves
//! inside the braces as a quoted string not followed by `=`, and label names
//! may be quoted too. FleetDeck must read them with their dots intact.

use fleetdeck_exposition::{histograms, parse, MetricType, ParseError, Sample};

use crate::labels;

fn only_sample(text: &str) -> Sample {
    let exposition = parse(text);
    assert!(
        exposition.errors.is_empty(),
        "{text:?} is valid, yet: {:?}",
        exposition.errors
    );
    assert_eq!(exposition.samples.len(), 1, "{text:?} holds one sample");
    exposition.samples.into_iter().next().expect("one sample")
}

#[test]
fn quoted_metric_name_with_dots_was_an_invalid_metric_name() {
    // Regression: `{"name.with.dots",...} 1` used to be reported as
    // "invalid metric name '{"name.with.dots",...}'".
    let sample = only_sample(r#"{"name.with.dots",label="v"} 1"#);
    assert_eq!(sample.name, "name.with.dots", "the name keeps its dots");
    assert_eq!(
        sample.labels,
        labels(&[("label", "v")]),
        "the quoted name is not a label"
    );
    assert_eq!(sample.value, 1.0, "value after the braces");

    let sample = only_sample(r#"{"name.with.dots"} 1"#);
    assert_eq!(
        (sample.name.as_str(), sample.labels.len()),
        ("name.with.dots", 0),
        "a quoted name alone in the braces"
    );
}

#[test]
fn quoted_label_names_keep_their_dots() {
    let sample = only_sample(r#"{"my.metric", "label.name"="v", plain="w"} 1"#);
    assert_eq!(sample.name, "my.metric", "quoted metric name");
    assert_eq!(
        sample.labels,
        labels(&[("label.name", "v"), ("plain", "w")]),
        "quoted and plain label names mix, in exposition order"
    );
    let sample = only_sample(r#"classic{"label.name"="v"} 1"#);
    assert_eq!(
        (sample.name.as_str(), sample.label("label.name")),
        ("classic", Some("v")),
        "a quoted label name after an unquoted metric name"
    );
}

#[test]
fn quoted_help_and_type_declare_the_dotted_family() {
    let text = "# HELP \"name.with.dots\" help text\n\
                # TYPE \"name.with.dots\" counter\n\
                {\"name.with.dots\"} 1\n";
    let exposition = parse(text);
    assert!(
        exposition.errors.is_empty(),
        "valid: {:?}",
        exposition.errors
    );
    let family = exposition
        .family("name.with.dots")
        .expect("the quoted name declares a family, dots kept");
    assert_eq!(
        (family.metric_type, family.help.as_deref()),
        (MetricType::Counter, Some("help text")),
        "type and help of the quoted family"
    );
    assert_eq!(
        exposition.find("name.with.dots", &[]).count(),
        1,
        "the sample is found under the same name"
    );
}

#[test]
fn quoted_names_follow_the_prometheus_grammar() {
    /// A line, the name it must yield and the labels it must keep.
    type Case = (
        &'static str,
        &'static str,
        &'static [(&'static str, &'static str)],
    );
    let cases: &[Case] = &[
        (r#"{a="1", "late.name"} 1"#, "late.name", &[("a", "1")]),
        (r#"{"trailing.comma",} 1"#, "trailing.comma", &[]),
        (r#"{ "blanks" , b = "2" } 1"#, "blanks", &[("b", "2")]),
        (r#"{"no.blank"}1"#, "no.blank", &[]),
        (r#"{"esc\"aped\\x\ny\tz"} 1"#, "esc\"aped\\x\ny\\tz", &[]),
        (r#"{"température °C"} 1"#, "température °C", &[]),
        (r#"{"vllm:colon"} 1"#, "vllm:colon", &[]),
        (r#"{"{\"x\"=1}"} 1"#, "{\"x\"=1}", &[]),
    ];
    for &(text, name, pairs) in cases {
        let sample = only_sample(text);
        assert_eq!(
            (sample.name.as_str(), sample.labels),
            (name, labels(pairs)),
            "{text:?}: the quoted string not followed by `=` is the name, anywhere in \
             the braces, unescaped like a label value"
        );
    }
    let sample = only_sample(r#"{"with.ts"} 2 1700000000000"#);
    assert_eq!(
        sample.timestamp_ms,
        Some(1_700_000_000_000),
        "a timestamp may follow"
    );
}

#[test]
fn quoted_and_classic_spellings_are_the_same_series() {
    let exposition = parse("{\"vllm:up\"} 1\nvllm:up 2\n# TYPE \"plain\" gauge\nplain 3\n");
    assert!(
        exposition.errors.is_empty(),
        "valid: {:?}",
        exposition.errors
    );
    assert_eq!(
        exposition.find("vllm:up", &[]).count(),
        2,
        "quoting a classic name does not change it"
    );
    assert_eq!(
        exposition.family("plain").map(|f| f.metric_type),
        Some(MetricType::Gauge),
        "a quoted TYPE applies to the unquoted samples"
    );
}

#[test]
fn quoted_histograms_are_reassembled() {
    let text = r#"# TYPE "rpc.latency" histogram
{"rpc.latency_bucket",le="0.5"} 2
{"rpc.latency_bucket",le="+Inf"} 4
{"rpc.latency_sum"} 1.5
{"rpc.latency_count"} 4
"#;
    let exposition = parse(text);
    assert!(
        exposition.errors.is_empty(),
        "valid: {:?}",
        exposition.errors
    );
    let all = histograms(&exposition);
    assert_eq!(all.len(), 1, "one histogram");
    assert_eq!(all[0].name, "rpc.latency", "its name keeps the dot");
    assert_eq!(
        (all[0].sum, all[0].count, all[0].buckets.len()),
        (Some(1.5), Some(4.0), 2),
        "sum, count and buckets found through the quoted names"
    );
}

#[test]
fn malformed_quoted_names_are_reported() {
    let cases = [
        (r#"{"a.b} 1"#, "unterminated quoted name"),
        (r#"{"a.b""#, "unterminated label set"),
        (r#"{"a.b","#, "unterminated label set"),
        (r#"{""} 1"#, "empty metric name"),
        (r#"{"a.b", ""="v"} 1"#, "empty label name"),
        (r#"{"a.b" "c"} 1"#, "expected '=' after label name 'a.b'"),
        (r#"{"a.b", "c.d"} 1"#, "metric name given twice"),
        (r#"foo{"a.b"} 1"#, "metric name given twice"),
        (r#"{"a.b", x="1", x="2"} 1"#, "duplicate label name 'x'"),
        (r#"{"a.b"}"#, "missing value"),
        ("a.b 1", "invalid character '.' in metric name"),
        (
            r#"# HELP "a.b text"#,
            "unterminated quoted metric name after HELP",
        ),
        (r#"# TYPE "" counter"#, "empty metric name after TYPE"),
        (
            r#"# TYPE "a.b"counter"#,
            "invalid character 'c' after quoted metric name",
        ),
        (r#"# TYPE "a.b""#, "missing type for 'a.b'"),
    ];
    for (bad, message) in cases {
        let text = format!("good 1\n{bad}\ngood 2\n");
        let exposition = parse(&text);
        assert_eq!(
            exposition.errors,
            [ParseError {
                line: 2,
                message: message.to_owned(),
                text: bad.to_owned(),
            }],
            "{bad:?} is malformed and must be reported on line 2 with its reason"
        );
        assert_eq!(
            exposition.samples.len(),
            2,
            "{bad:?} must not stop the lines around it"
        );
    }
}
