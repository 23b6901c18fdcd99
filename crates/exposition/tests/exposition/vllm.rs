//! The vLLM fixture parses completely and exactly.

use fleetdeck_exposition::{histograms, parse, Exposition, MetricType};

use crate::{labels, VLLM};

const MODEL: &str = "meta-llama/Llama-3.1-8B-Instruct";

fn count(exposition: &Exposition, name: &str) -> usize {
    exposition.find(name, &[]).count()
}

fn value(exposition: &Exposition, name: &str, matchers: &[(&str, &str)]) -> f64 {
    let mut found = exposition.find(name, matchers);
    let sample = found
        .next()
        .unwrap_or_else(|| panic!("{name} {matchers:?} is in the fixture"));
    assert!(
        found.next().is_none(),
        "{name} {matchers:?} must select exactly one series"
    );
    sample.value
}

#[test]
fn every_sample_is_kept() {
    let exposition = parse(VLLM);
    assert!(
        exposition.errors.is_empty(),
        "the fixture is valid exposition text, yet: {:?}",
        exposition.errors
    );
    assert_eq!(
        exposition.samples.len(),
        90,
        "each of the 90 non-comment lines of the fixture is one sample"
    );
    assert_eq!(
        exposition
            .samples
            .iter()
            .filter(|sample| sample.name.starts_with("vllm:"))
            .count(),
        72,
        "all 72 `vllm:` samples survive: names with `:` are valid"
    );
    assert_eq!(
        exposition.families.len(),
        32,
        "the fixture declares 32 families with # HELP and # TYPE"
    );

    let expected_counts = [
        ("python_gc_objects_collected_total", 3),
        ("python_gc_objects_uncollectable_total", 3),
        ("python_gc_collections_total", 3),
        ("python_info", 1),
        ("process_virtual_memory_bytes", 1),
        ("process_resident_memory_bytes", 1),
        ("process_start_time_seconds", 1),
        ("process_cpu_seconds_total", 1),
        ("process_open_fds", 1),
        ("process_max_fds", 1),
        ("vllm:num_requests_running", 1),
        ("vllm:num_requests_waiting", 1),
        ("vllm:kv_cache_usage_perc", 1),
        ("vllm:prefix_cache_queries_total", 1),
        ("vllm:prefix_cache_queries_created", 1),
        ("vllm:prefix_cache_hits_total", 1),
        ("vllm:prefix_cache_hits_created", 1),
        ("vllm:num_preemptions_total", 1),
        ("vllm:num_preemptions_created", 1),
        ("vllm:prompt_tokens_total", 1),
        ("vllm:prompt_tokens_created", 1),
        ("vllm:generation_tokens_total", 1),
        ("vllm:generation_tokens_created", 1),
        ("vllm:request_success_total", 3),
        ("vllm:request_success_created", 3),
        ("vllm:time_to_first_token_seconds_bucket", 23),
        ("vllm:time_to_first_token_seconds_count", 1),
        ("vllm:time_to_first_token_seconds_sum", 1),
        ("vllm:time_to_first_token_seconds_created", 1),
        ("vllm:e2e_request_latency_seconds_bucket", 22),
        ("vllm:e2e_request_latency_seconds_count", 1),
        ("vllm:e2e_request_latency_seconds_sum", 1),
        ("vllm:e2e_request_latency_seconds_created", 1),
        ("vllm:cache_config_info", 1),
        ("vllm:lora_requests_info", 1),
        ("fleetdeck_probe_info", 2),
    ];
    for (name, expected) in expected_counts {
        assert_eq!(
            count(&exposition, name),
            expected,
            "{name} appears {expected} times in the fixture"
        );
    }
    assert_eq!(
        expected_counts.iter().map(|&(_, n)| n).sum::<usize>(),
        exposition.samples.len(),
        "the per-name counts above must account for every sample"
    );
}

#[test]
fn values_and_labels_are_exact() {
    let exposition = parse(VLLM);
    let model = [("model_name", MODEL)];
    assert_eq!(
        value(&exposition, "vllm:num_requests_running", &model),
        7.0,
        "gauge value"
    );
    assert_eq!(
        value(&exposition, "vllm:num_requests_waiting", &model),
        2.0,
        "gauge value"
    );
    assert_eq!(
        value(&exposition, "vllm:kv_cache_usage_perc", &model),
        0.41723046,
        "fractional gauge value"
    );
    assert_eq!(
        value(&exposition, "vllm:prompt_tokens_total", &model),
        1_284_713.0,
        "exponent notation 1.284713e+06"
    );
    assert_eq!(
        value(&exposition, "vllm:generation_tokens_total", &model),
        402_981.0,
        "counter value"
    );
    assert_eq!(
        value(&exposition, "process_virtual_memory_bytes", &[]),
        60_427_075_584.0,
        "three-digit exponent 6.0427075584e+010 as Python prints it"
    );
    for (reason, expected) in [("stop", 1204.0), ("length", 87.0), ("abort", 5.0)] {
        assert_eq!(
            value(
                &exposition,
                "vllm:request_success_total",
                &[("finished_reason", reason)]
            ),
            expected,
            "one request_success series per finished_reason"
        );
    }

    let stop = exposition
        .find("vllm:request_success_total", &[("finished_reason", "stop")])
        .next()
        .expect("the stop series exists");
    assert_eq!(
        stop.labels,
        labels(&[
            ("engine", "0"),
            ("finished_reason", "stop"),
            ("model_name", MODEL)
        ]),
        "labels keep exposition order"
    );
    assert_eq!(stop.timestamp_ms, None, "vLLM does not expose timestamps");

    let lora = exposition
        .find("vllm:lora_requests_info", &[])
        .next()
        .expect("the LoRA info series exists");
    assert_eq!(
        lora.label("running_lora_adapters"),
        Some("sql-lora,chat-lora"),
        "a comma inside a label value does not end it"
    );

    let cache_config = exposition
        .find("vllm:cache_config_info", &[])
        .next()
        .expect("the cache config series exists");
    assert_eq!(
        cache_config.labels.len(),
        15,
        "all 15 config labels are kept"
    );
    assert_eq!(
        cache_config.label("num_gpu_blocks"),
        Some("29877"),
        "label lookup"
    );

    assert_eq!(
        exposition
            .find("fleetdeck_probe_info", &[("probe", "lab-2")])
            .next()
            .and_then(|sample| sample.label("note")),
        Some("a,b=c} \"quoted\" {x} C:\\temp\nline two"),
        "commas, `=`, braces and escaped quote, backslash and newline stay in the value"
    );
}

#[test]
fn families_carry_type_and_unescaped_help() {
    let exposition = parse(VLLM);
    let ttft = exposition
        .family("vllm:time_to_first_token_seconds")
        .expect("declared in the fixture");
    assert_eq!(
        ttft.metric_type,
        MetricType::Histogram,
        "# TYPE ... histogram"
    );
    assert_eq!(
        ttft.help.as_deref(),
        Some("Histogram of time to first token in seconds."),
        "# HELP text after the name"
    );
    assert_eq!(
        exposition
            .family("vllm:request_success_created")
            .map(|family| family.metric_type),
        Some(MetricType::Gauge),
        "prometheus_client exposes _created series as their own gauge family"
    );
    assert_eq!(
        exposition
            .family("fleetdeck_probe_info")
            .and_then(|family| family.help.as_deref()),
        Some("Probe annotation; help text with a backslash \\ and a newline \n escape."),
        "HELP text unescapes \\\\ and \\n"
    );
}

#[test]
fn histograms_are_reassembled() {
    let exposition = parse(VLLM);
    let all = histograms(&exposition);
    let names: Vec<&str> = all.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "vllm:time_to_first_token_seconds",
            "vllm:e2e_request_latency_seconds"
        ],
        "exactly the two declared histograms, in exposition order"
    );

    let ttft = &all[0];
    assert_eq!(
        ttft.labels,
        labels(&[("engine", "0"), ("model_name", MODEL)]),
        "shared labels without `le`"
    );
    assert_eq!(ttft.buckets.len(), 23, "23 buckets including +Inf");
    assert!(
        ttft.buckets.windows(2).all(|pair| pair[0].le < pair[1].le),
        "buckets are sorted by bound"
    );
    assert_eq!(
        ttft.buckets.last().map(|bucket| (bucket.le, bucket.count)),
        Some((f64::INFINITY, 1296.0)),
        "`+Inf` parses to infinity"
    );
    assert_eq!(ttft.count, Some(1296.0), "_count is attached");
    assert_eq!(ttft.sum, Some(98.43170738220215), "_sum is attached");

    let p50 = ttft.quantile(0.5).expect("non-empty histogram");
    let expected = 0.08 + 0.02 * (648.0 - 611.0) / (780.0 - 611.0);
    assert!(
        (p50 - expected).abs() < 1e-12,
        "rank 648 falls in (0.08, 0.1], interpolated linearly: {p50} vs {expected}"
    );

    let e2e = &all[1];
    assert_eq!(e2e.buckets.len(), 22, "22 buckets including +Inf");
    let p99 = e2e.quantile(0.99).expect("non-empty histogram");
    let expected = 10.0 + 5.0 * (0.99 * 1296.0 - 1279.0) / (1291.0 - 1279.0);
    assert!(
        (p99 - expected).abs() < 1e-9,
        "rank 1283.04 falls in (10, 15]: {p99} vs {expected}"
    );
}
