//! `# HELP` and `# TYPE` with nothing after the keyword are comments.
//!
//! Prometheus's own text parser (`expfmt` in `prometheus/common`) treats a
//! metadata line that ends right after its keyword as a plain comment: it
//! names no family, so it declares nothing. Exporters do emit such lines
//! (an empty help string rendered as `# HELP ` by a templating bug), and
//! flagging them would make a healthy target look broken.

use fleetdeck_exposition::{parse, MetricType};

#[test]
fn bare_help_or_type_was_reported_as_a_missing_metric_name() {
    // Regression: `# HELP` / `# TYPE` alone used to be reported as
    // "missing metric name after HELP" (or TYPE).
    let bare = [
        "# HELP",
        "# HELP   ",
        "# HELP\t",
        "#HELP",
        "  #  HELP \t ",
        "# TYPE",
        "# TYPE   ",
        "# TYPE\t \t",
        "#TYPE",
    ];
    for line in bare {
        for eol in ["\n", "\r\n"] {
            let text = format!("a 1{eol}{line}{eol}b 2{eol}");
            let exposition = parse(&text);
            assert!(
                exposition.errors.is_empty(),
                "{line:?} names no family, so it is a comment, not an error: {:?}",
                exposition.errors
            );
            assert!(
                exposition.families.is_empty(),
                "{line:?} declares no family"
            );
            let values: Vec<f64> = exposition.samples.iter().map(|s| s.value).collect();
            assert_eq!(
                values,
                [1.0, 2.0],
                "{line:?} must not disturb the samples around it"
            );
        }
    }
}

#[test]
fn metadata_with_a_name_still_declares_and_is_still_checked() {
    let exposition = parse("# HELP foo\n# TYPE bar counter\n");
    assert!(
        exposition.errors.is_empty(),
        "valid: {:?}",
        exposition.errors
    );
    assert_eq!(
        exposition.family("foo").map(|f| f.help.as_deref()),
        Some(Some("")),
        "a HELP with a name but no text declares an empty help, as before"
    );
    assert_eq!(
        exposition.family("bar").map(|f| f.metric_type),
        Some(MetricType::Counter),
        "a complete TYPE line still declares"
    );

    let exposition = parse("# TYPE foo\n# HELP 9x text\n");
    let found: Vec<(usize, &str)> = exposition
        .errors
        .iter()
        .map(|error| (error.line, error.message.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            (1, "missing type for 'foo'"),
            (2, "invalid metric name '9x' after HELP"),
        ],
        "only a line that stops right after the keyword is a comment; a TYPE \
         without its type, or a bad name, is still an error"
    );
}
