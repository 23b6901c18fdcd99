//! Throughput of `fleetdeck_exposition::parse` against `prometheus-parse`
//! 0.2.5 on a large, deterministic vLLM-style exposition.
//!
//! ```text
//! cargo run --release -p fleetdeck-exposition --example parse_bench [-- <MB> <runs>]
//! ```
//!
//! The input (about 20 MB by default) is generated from a fixed seed: many
//! vLLM engines' gauges, counters and histograms (names with `:`), LoRA info
//! series whose label values are comma-separated lists, and the `python_gc`,
//! `process` and `http_*` series a vLLM server also exposes. Both parsers run
//! `runs` times, interleaved, and the medians are printed. Timing covers
//! parsing only; `prometheus-parse` is fed owned lines, which is the input its
//! API takes.

use std::fmt::Write;
use std::hint::black_box;
use std::time::{Duration, Instant};

use prometheus_parse::{Scrape, Value};

const SEED: u64 = 0x5eed_f1ee_7dec_0001;

/// SplitMix64: a tiny deterministic generator, good enough for test data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

const TTFT_BOUNDS: &[&str] = &[
    "0.001", "0.005", "0.01", "0.02", "0.04", "0.06", "0.08", "0.1", "0.25", "0.5", "0.75", "1.0",
    "2.5", "5.0", "7.5", "10.0", "20.0", "40.0", "80.0", "160.0", "640.0", "2560.0", "+Inf",
];
const LATENCY_BOUNDS: &[&str] = &[
    "0.3", "0.5", "0.8", "1.0", "1.5", "2.0", "2.5", "5.0", "10.0", "15.0", "20.0", "30.0", "40.0",
    "50.0", "60.0", "120.0", "240.0", "480.0", "960.0", "1920.0", "7680.0", "+Inf",
];
const TOKEN_BOUNDS: &[&str] = &[
    "1.0", "2.0", "5.0", "10.0", "20.0", "50.0", "100.0", "200.0", "500.0", "1000.0", "2000.0",
    "5000.0", "10000.0", "+Inf",
];

/// One vLLM engine's label set.
struct Engine {
    labels: String,
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}").unwrap();
}

fn histogram(out: &mut String, rng: &mut Rng, name: &str, bounds: &[&str], engines: &[Engine]) {
    family(
        out,
        name,
        "histogram",
        "Histogram of a vLLM request property.",
    );
    for engine in engines {
        let mut cumulative = 0u64;
        for bound in bounds {
            cumulative += rng.below(400);
            writeln!(
                out,
                "{name}_bucket{{{},le=\"{bound}\"}} {cumulative}.0",
                engine.labels
            )
            .unwrap();
        }
        writeln!(out, "{name}_count{{{}}} {cumulative}.0", engine.labels).unwrap();
        writeln!(
            out,
            "{name}_sum{{{}}} {}",
            engine.labels,
            rng.unit() * cumulative as f64
        )
        .unwrap();
    }
}

/// Appends every family, each declared once, with one series (or one
/// series per label variant) for each engine.
fn exposition(out: &mut String, rng: &mut Rng, engines: &[Engine]) {
    for (name, kind, help) in [
        (
            "vllm:num_requests_running",
            "gauge",
            "Number of requests in model execution batches.",
        ),
        (
            "vllm:num_requests_waiting",
            "gauge",
            "Number of requests waiting to be processed.",
        ),
        (
            "vllm:kv_cache_usage_perc",
            "gauge",
            "KV-cache usage. 1 means 100 percent usage.",
        ),
        (
            "vllm:prompt_tokens_total",
            "counter",
            "Number of prefill tokens processed.",
        ),
        (
            "vllm:generation_tokens_total",
            "counter",
            "Number of generation tokens processed.",
        ),
        (
            "vllm:num_preemptions_total",
            "counter",
            "Cumulative number of preemption from the engine.",
        ),
    ] {
        family(out, name, kind, help);
        for engine in engines {
            let value = if kind == "gauge" {
                rng.unit() * 64.0
            } else {
                rng.below(10_000_000) as f64
            };
            writeln!(out, "{name}{{{}}} {value:e}", engine.labels).unwrap();
        }
    }
    family(
        out,
        "vllm:request_success_total",
        "counter",
        "Count of successfully processed requests.",
    );
    for engine in engines {
        for reason in ["stop", "length", "abort"] {
            writeln!(
                out,
                "vllm:request_success_total{{{},finished_reason=\"{reason}\"}} {}.0",
                engine.labels,
                rng.below(100_000)
            )
            .unwrap();
        }
    }
    histogram(
        out,
        rng,
        "vllm:time_to_first_token_seconds",
        TTFT_BOUNDS,
        engines,
    );
    histogram(
        out,
        rng,
        "vllm:e2e_request_latency_seconds",
        LATENCY_BOUNDS,
        engines,
    );
    histogram(
        out,
        rng,
        "vllm:request_prompt_tokens",
        TOKEN_BOUNDS,
        engines,
    );
    family(
        out,
        "vllm:lora_requests_info",
        "gauge",
        "Running stats on lora requests.",
    );
    for engine in engines {
        let adapters: Vec<String> = (0..1 + rng.below(4))
            .map(|_| format!("lora-{}", rng.below(50)))
            .collect();
        writeln!(
            out,
            "vllm:lora_requests_info{{{},max_lora=\"8\",running_lora_adapters=\"{}\",waiting_lora_adapters=\"\"}} 1.7638873051e+09",
            engine.labels,
            adapters.join(",")
        )
        .unwrap();
    }

    family(
        out,
        "http_requests_total",
        "counter",
        "Total number of requests by method, status and handler.",
    );
    for engine in engines {
        for (handler, status) in [
            ("/v1/chat/completions", "2xx"),
            ("/v1/completions", "2xx"),
            ("/metrics", "2xx"),
            ("/v1/chat/completions", "4xx"),
        ] {
            writeln!(
                out,
                "http_requests_total{{handler=\"{handler}\",method=\"POST\",status=\"{status}\",{}}} {}.0",
                engine.labels,
                rng.below(1_000_000)
            )
            .unwrap();
        }
    }
    family(
        out,
        "python_gc_objects_collected_total",
        "counter",
        "Objects collected during gc",
    );
    for generation in 0..3 {
        writeln!(
            out,
            "python_gc_objects_collected_total{{generation=\"{generation}\"}} {}.0",
            rng.below(100_000)
        )
        .unwrap();
    }
    family(
        out,
        "process_resident_memory_bytes",
        "gauge",
        "Resident memory size in bytes.",
    );
    writeln!(
        out,
        "process_resident_memory_bytes {:e}",
        rng.below(1 << 34) as f64
    )
    .unwrap();
}

fn engines(rng: &mut Rng, count: usize) -> Vec<Engine> {
    (0..count)
        .map(|index| Engine {
            labels: format!(
                "engine=\"{}\",model_name=\"org-{}/Llama-3.1-{}B-Instruct\",pod=\"vllm-{index}\"",
                index % 4,
                rng.below(40),
                [8, 70, 405][rng.below(3) as usize],
            ),
        })
        .collect()
}

/// A deterministic exposition of about `target_bytes`.
fn generate(target_bytes: usize) -> String {
    const PROBE: usize = 64;
    let mut probe = String::new();
    exposition(&mut probe, &mut Rng(SEED), &engines(&mut Rng(SEED), PROBE));
    let count = (target_bytes * PROBE / probe.len()).max(1);

    let mut rng = Rng(SEED);
    let engines = engines(&mut rng, count);
    let mut out = String::with_capacity(target_bytes + (1 << 20));
    exposition(&mut out, &mut rng, &engines);
    out
}

/// Sample lines behind a `prometheus-parse` result: it folds each histogram
/// and summary series into one value.
fn prometheus_parse_lines(scrape: &Scrape) -> usize {
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

fn median(times: &mut [Duration]) -> f64 {
    times.sort();
    times[times.len() / 2].as_secs_f64()
}

/// Runs both parsers `runs` times on `text`, interleaved, and prints the
/// medians.
fn compare(title: &str, text: &str, runs: usize) {
    let bytes = text.len() as f64;
    let lines = text.lines().filter(|line| !line.starts_with('#')).count();
    let colon_lines = text
        .lines()
        .filter(|line| !line.starts_with('#') && line.contains(':'))
        .count();
    println!(
        "\n{title}: {:.1} MB, {lines} sample lines ({colon_lines} with `:` in the name)",
        bytes / 1e6
    );

    let mut ours_times = Vec::with_capacity(runs);
    let mut theirs_times = Vec::with_capacity(runs);
    let mut ours_samples = 0;
    let mut ours_errors = Vec::new();
    let mut theirs_samples = 0;
    for _ in 0..runs {
        let start = Instant::now();
        let exposition = black_box(fleetdeck_exposition::parse(black_box(text)));
        ours_times.push(start.elapsed());
        ours_samples = exposition.samples.len();
        ours_errors = exposition.errors.clone();
        drop(exposition);

        let start = Instant::now();
        let scrape = black_box(
            Scrape::parse(black_box(text).lines().map(|line| Ok(line.to_owned())))
                .expect("reading from a string cannot fail"),
        );
        theirs_times.push(start.elapsed());
        theirs_samples = prometheus_parse_lines(&scrape);
        drop(scrape);
    }

    let ours = median(&mut ours_times);
    let theirs = median(&mut theirs_times);
    println!(
        "  {:<18} {:>10} {:>9} {:>14} {:>14}",
        "parser", "median ms", "MB/s", "samples/s", "samples kept"
    );
    for (name, seconds, samples) in [
        ("fleetdeck", ours, ours_samples),
        ("prometheus-parse", theirs, theirs_samples),
    ] {
        println!(
            "  {name:<18} {:>10.1} {:>9.1} {:>14.0} {:>14}",
            seconds * 1e3,
            bytes / 1e6 / seconds,
            samples as f64 / seconds,
            samples
        );
    }
    println!(
        "  ratio fleetdeck / prometheus-parse: {:.1}x MB/s, {:.1}x samples/s",
        theirs / ours,
        (ours_samples as f64 / ours) / (theirs_samples as f64 / theirs)
    );
    println!("  fleetdeck parse errors: {}", ours_errors.len());
    if let Some(first) = ours_errors.first() {
        println!("    first: {first}");
    }
    println!(
        "  prometheus-parse dropped {} of {lines} sample lines ({:.1}%) without a word",
        lines - theirs_samples,
        100.0 * (lines - theirs_samples) as f64 / lines as f64
    );
}

fn main() {
    let mut args = std::env::args().skip(1);
    let megabytes: usize = args
        .next()
        .map_or(20, |arg| arg.parse().expect("<MB> is a number"));
    let runs: usize = args
        .next()
        .map_or(5, |arg| arg.parse().expect("<runs> is a number"));

    let text = generate(megabytes << 20);
    println!("seed {SEED:#x}, {runs} runs per parser and input, interleaved; medians");
    compare("vLLM-style input", &text, runs);
    // prometheus-parse skips `vllm:` lines almost for free, so its speed on
    // the input above mostly measures how fast it throws data away. Renaming
    // `vllm:` to `vllm_` makes it parse every line: a like-for-like race.
    compare(
        "same input with `vllm:` renamed `vllm_`",
        &text.replace("vllm:", "vllm_"),
        runs,
    );
}
