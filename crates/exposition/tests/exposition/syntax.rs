//! Everything the text format allows is accepted.

use fleetdeck_exposition::{parse, MetricType, Sample};

use crate::{labels, same_f64};

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
fn whitespace_crlf_blank_lines_and_comments() {
    let text = "\r\n\n  # just a comment\r\n#\n#HELPER not help\n\t \n  \tfoo:bar_baz  {  a = \"1\" ,\tb=\"2\" , }  \t 42 \t 1700000000000  \r\n\n";
    let sample = only_sample(text);
    assert_eq!(sample.name, "foo:bar_baz", "name with `:` kept as is");
    assert_eq!(
        sample.labels,
        labels(&[("a", "1"), ("b", "2")]),
        "blanks around tokens and a trailing comma are allowed"
    );
    assert_eq!(sample.value, 42.0, "value after blanks");
    assert_eq!(
        sample.timestamp_ms,
        Some(1_700_000_000_000),
        "timestamp after blanks"
    );
}

#[test]
fn special_and_exponent_values() {
    let cases = [
        ("NaN", f64::NAN),
        ("+Inf", f64::INFINITY),
        ("-Inf", f64::NEG_INFINITY),
        ("Inf", f64::INFINITY),
        ("1e-3", 0.001),
        ("-1.5E+10", -1.5e10),
        ("6.0427075584e+010", 6.0427075584e10),
        (".5", 0.5),
        ("-0", -0.0),
        ("12", 12.0),
    ];
    for (text, expected) in cases {
        let sample = only_sample(&format!("m {text}"));
        assert!(
            same_f64(sample.value, expected),
            "{text} must parse to {expected}, got {}",
            sample.value
        );
    }
}

#[test]
fn timestamps_are_optional_signed_milliseconds() {
    assert_eq!(only_sample("m 1").timestamp_ms, None, "no timestamp");
    assert_eq!(
        only_sample("m 1 -5").timestamp_ms,
        Some(-5),
        "negative timestamp"
    );
    assert_eq!(
        only_sample("m{a=\"x\"} 1 9223372036854775807").timestamp_ms,
        Some(i64::MAX),
        "full i64 range"
    );
}

#[test]
fn label_values_are_unescaped_and_may_hold_anything() {
    let sample = only_sample(
        r#"m{a="x,y=z}{w",b="say \"hi\"",c="back\\slash",d="two\nlines",e="tab\tkept",f="日本語 ✓",g=""} 1"#,
    );
    assert_eq!(
        sample.labels,
        labels(&[
            ("a", "x,y=z}{w"),
            ("b", "say \"hi\""),
            ("c", "back\\slash"),
            ("d", "two\nlines"),
            ("e", "tab\\tkept"),
            ("f", "日本語 ✓"),
            ("g", ""),
        ]),
        "commas, `=`, braces, escapes, unknown escapes (kept), Unicode and empty values"
    );
}

#[test]
fn empty_label_set_and_no_blank_before_value() {
    assert_eq!(only_sample("m{} 3").labels, [], "empty label set");
    assert_eq!(
        only_sample("m{a=\"1\"}3").value,
        3.0,
        "Prometheus allows the value right after `}}`"
    );
    assert_eq!(only_sample("_m 1").name, "_m", "names may start with `_`");
    assert_eq!(only_sample(":m 1").name, ":m", "names may start with `:`");
}

#[test]
fn last_line_needs_no_newline() {
    let exposition = parse("a 1\nb 2");
    assert_eq!(
        exposition.samples.len(),
        2,
        "the final line counts without \\n"
    );
    assert!(parse("").samples.is_empty(), "empty input has no samples");
    assert!(parse("").errors.is_empty(), "empty input is not an error");
}

#[test]
fn help_and_type_merge_into_one_family() {
    let text = "# HELP x A \\\\ and\\nnewline \\t\n# TYPE x summary\n# TYPE y histogram\n# HELP z\n# TYPE w untyped\n";
    let exposition = parse(text);
    assert!(
        exposition.errors.is_empty(),
        "valid: {:?}",
        exposition.errors
    );
    let families: Vec<(&str, MetricType, Option<&str>)> = exposition
        .families
        .iter()
        .map(|f| (f.name.as_str(), f.metric_type, f.help.as_deref()))
        .collect();
    assert_eq!(
        families,
        [
            ("x", MetricType::Summary, Some("A \\ and\nnewline \\t")),
            ("y", MetricType::Histogram, None),
            ("z", MetricType::Untyped, Some("")),
            ("w", MetricType::Untyped, None),
        ],
        "HELP and TYPE of one name form one family, in first-declaration order"
    );
}
