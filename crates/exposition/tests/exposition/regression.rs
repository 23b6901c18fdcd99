//! Why this crate exists: `prometheus-parse` 0.2.5 loses most of the vLLM
//! fixture without reporting anything, while this parser keeps all of it.

use prometheus_parse::{Scrape, Value};

use fleetdeck_exposition::parse;

use crate::VLLM;

fn prometheus_parse(text: &str) -> Scrape {
    Scrape::parse(text.lines().map(|line| Ok(line.to_owned())))
        .expect("reading from a string cannot fail")
}

/// Sample lines behind a `prometheus-parse` result: it folds each
/// histogram and summary series into one value.
fn lines_kept(scrape: &Scrape) -> usize {
    scrape
        .samples
        .iter()
        .map(|sample| match &sample.value {
            Value::Histogram(buckets) => buckets.len(),
            Value::Summary(quantiles) => quantiles.len(),
            Value::Counter(_) | Value::Gauge(_) | Value::Untyped(_) => 1,
        })
        .sum()
}

#[test]
fn prometheus_parse_drops_colon_names_and_cuts_comma_values() {
    let theirs = prometheus_parse(VLLM);
    assert!(
        theirs
            .samples
            .iter()
            .all(|sample| !sample.metric.contains(':')),
        "prometheus-parse 0.2.5 drops every `vllm:` sample: its name regex is `\\w+`"
    );
    assert!(
        theirs.docs.keys().all(|name| !name.contains(':')),
        "it drops the # HELP of `vllm:` families too"
    );
    assert_eq!(
        lines_kept(&theirs),
        17,
        "only the 16 python/process samples and one probe survive out of 90, silently"
    );
    let lab1 = theirs
        .samples
        .iter()
        .find(|sample| sample.labels.get("probe") == Some("lab-1"))
        .expect("the comma-only probe line survives");
    assert_eq!(
        lab1.labels.get("targets"),
        Some("gpu-0"),
        "prometheus-parse splits label sets on every comma, cutting `gpu-0,gpu-1`"
    );
    assert!(
        theirs
            .samples
            .iter()
            .all(|sample| sample.labels.get("probe") != Some("lab-2")),
        "a `}}` inside a quoted value makes it drop the whole line"
    );

    let ours = parse(VLLM);
    assert!(
        ours.errors.is_empty(),
        "the fixture is valid: {:?}",
        ours.errors
    );
    assert_eq!(ours.samples.len(), 90, "we keep all 90 samples");
    assert_eq!(
        ours.samples
            .iter()
            .filter(|sample| sample.name.contains(':'))
            .count(),
        72,
        "we keep all 72 `vllm:` samples"
    );
    assert_eq!(
        ours.find("fleetdeck_probe_info", &[("probe", "lab-1")])
            .next()
            .and_then(|sample| sample.label("targets")),
        Some("gpu-0,gpu-1"),
        "we keep the whole comma-separated value"
    );
    assert_eq!(
        ours.find("fleetdeck_probe_info", &[("probe", "lab-2")])
            .count(),
        1,
        "we keep the line with `}}` inside a value"
    );
}
