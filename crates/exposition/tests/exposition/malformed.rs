//! Malformed lines are reported with their line number and a reason, and
//! never stop the parse.

use fleetdeck_exposition::{parse, MetricType, ParseError};

/// Each bad line, placed as line 2 between two good samples, and the
/// message it must produce.
const CASES: &[(&str, &str)] = &[
    (r#"foo{a="b} 1"#, "unterminated label value"),
    (r#"foo{a="b\"} 1"#, "unterminated label value"),
    (r#"foo{a="b""#, "unterminated label set"),
    (r#"foo{a="b","#, "unterminated label set"),
    (
        r#"foo{a="b" 1"#,
        "expected ',' or '}' after the value of label 'a'",
    ),
    (
        r#"foo{a="b" c="d"} 1"#,
        "expected ',' or '}' after the value of label 'a'",
    ),
    ("foo abc", "invalid value 'abc'"),
    ("foo 1,5", "invalid value '1,5'"),
    ("foo", "missing value"),
    ("foo{} ", "missing value"),
    ("foo 1 abc", "invalid timestamp 'abc'"),
    ("foo 1 1.5", "invalid timestamp '1.5'"),
    ("foo 1 2 3", "unexpected text after timestamp: '3'"),
    ("1foo 1", "invalid metric name '1foo'"),
    (
        r#"{a="b"} 1"#,
        "no metric name before or quoted inside the braces",
    ),
    ("foo-bar 1", "invalid character '-' in metric name"),
    ("foo\u{e9} 1", "invalid character '\u{e9}' in metric name"),
    (r#"foo{1a="b"} 1"#, r#"invalid label name at '1a="b"} 1'"#),
    (r#"foo{a="1",,} 1"#, "invalid label name at ',} 1'"),
    (r#"foo{a:b="c"} 1"#, "expected '=' after label name 'a'"),
    ("foo{a=b} 1", "expected '\"' to open the value of label 'a'"),
    (r#"foo{a="1",a="2"} 1"#, "duplicate label name 'a'"),
    ("# TYPE foo bogus", "unknown metric type 'bogus'"),
    ("# TYPE foo", "missing type for 'foo'"),
    ("# HELP 9x text", "invalid metric name '9x' after HELP"),
    (
        "# TYPE foo- counter",
        "invalid character '-' in metric name",
    ),
    (
        "# TYPE foo counter extra",
        "unexpected text after type: 'extra'",
    ),
];

#[test]
fn each_malformed_line_is_reported_and_parsing_continues() {
    for &(bad, message) in CASES {
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
        let values: Vec<f64> = exposition.samples.iter().map(|s| s.value).collect();
        assert_eq!(
            values,
            [1.0, 2.0],
            "{bad:?} must not be dropped silently nor stop the lines around it"
        );
    }
}

#[test]
fn errors_keep_their_order_and_line_numbers() {
    let text = "a 1\r\nb{x=\"1} 2\r\n\r\n# comment\r\nc nope\r\nd 4\r\n";
    let exposition = parse(text);
    let found: Vec<(usize, &str, &str)> = exposition
        .errors
        .iter()
        .map(|error| (error.line, error.message.as_str(), error.text.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            (2, "unterminated label value", "b{x=\"1} 2"),
            (5, "invalid value 'nope'", "c nope"),
        ],
        "line numbers are 1-based, count blank and comment lines, and the text drops the \\r"
    );
    assert_eq!(exposition.samples.len(), 2, "a and d are still parsed");
}

#[test]
fn repeated_type_or_help_is_reported_and_the_first_wins() {
    let text = "# TYPE foo counter\n# HELP foo first\n# TYPE foo gauge\n# HELP foo second\nfoo 1\n";
    let exposition = parse(text);
    let found: Vec<(usize, &str)> = exposition
        .errors
        .iter()
        .map(|error| (error.line, error.message.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            (3, "duplicate TYPE line for 'foo'"),
            (4, "duplicate HELP line for 'foo'"),
        ],
        "a family has one type and one help; a second one is a conflict to surface"
    );
    let family = exposition.family("foo").expect("foo is declared");
    assert_eq!(
        family.metric_type,
        MetricType::Counter,
        "the first TYPE is kept"
    );
    assert_eq!(
        family.help.as_deref(),
        Some("first"),
        "the first HELP is kept"
    );
    assert_eq!(exposition.families.len(), 1, "still one family");
}

#[test]
fn display_names_line_reason_and_text() {
    let exposition = parse("ok 1\nok 2\nok 3\nok 4\nok 5\nok 6\nfoo{a=\"b} 1\n");
    assert_eq!(
        exposition.errors[0].to_string(),
        "line 7: unterminated label value: foo{a=\"b} 1",
        "Display is `line N: message: text`"
    );
}

#[test]
fn long_lines_are_cut_in_the_error() {
    let bad = format!("foo {}", "\u{e9}".repeat(500));
    let exposition = parse(&bad);
    let text = &exposition.errors[0].text;
    assert_eq!(
        text.chars().count(),
        ParseError::MAX_TEXT_CHARS + 1,
        "the text keeps 200 characters plus an ellipsis, cut on a character boundary"
    );
    assert!(
        text.starts_with("foo \u{e9}") && text.ends_with('\u{2026}'),
        "cut at the end"
    );
    assert!(
        exposition.errors[0].message.chars().count() < 80,
        "the message quotes only a snippet of the bad token"
    );
}
