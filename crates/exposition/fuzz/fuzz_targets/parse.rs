//! Feeds arbitrary bytes to `parse` and `histograms`: neither may panic,
//! and what they report must be consistent with the input and with the
//! rules `parse` enforces (no `__name__` label, no negative count in a
//! declared histogram).

#![no_main]

use fleetdeck_exposition::{histograms, parse, MetricType, ParseError};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Borrowed when the bytes are valid UTF-8, repaired otherwise.
    let text = String::from_utf8_lossy(data);
    let exposition = parse(&text);

    let lines = text.split('\n').count();
    assert!(
        exposition.samples.len() + exposition.errors.len() <= lines,
        "each line yields at most one sample or one error"
    );
    for error in &exposition.errors {
        assert!(
            (1..=lines).contains(&error.line),
            "error line numbers are 1-based and within the input"
        );
        assert!(
            error.text.chars().count() <= ParseError::MAX_TEXT_CHARS + 1,
            "error text is cut to 200 characters plus an ellipsis"
        );
        let _ = error.to_string();
    }

    for sample in &exposition.samples {
        assert!(
            !sample.name.is_empty(),
            "every kept sample has a metric name"
        );
        assert!(
            sample.label("__name__").is_none(),
            "`__name__` is reserved for the metric name and never kept as a label"
        );
    }
    for family in &exposition.families {
        if family.metric_type != MetricType::Histogram {
            continue;
        }
        let counts = [
            format!("{}_bucket", family.name),
            format!("{}_count", family.name),
        ];
        assert!(
            exposition
                .samples
                .iter()
                .filter(|sample| counts.contains(&sample.name))
                .all(|sample| sample.value.is_nan() || sample.value >= 0.0),
            "a declared histogram never keeps a negative bucket or count"
        );
    }

    for histogram in histograms(&exposition) {
        assert!(
            histogram
                .buckets
                .windows(2)
                .all(|pair| pair[0].le <= pair[1].le),
            "buckets are sorted by bound"
        );
        for q in [0.0, 0.25, 0.5, 0.99, 1.0] {
            let _ = histogram.quantile(q);
        }
    }
});
