//! Prometheus metrics for chatload, written by hand in text format 0.0.4.
//!
//! Why it exists: Prometheus scrapes chatload, and FleetDeck reads the same
//! series a real chat stack would expose — vLLM-named inference metrics
//! (`vllm:*`, labelled `model_name="chat-large"`), moderation metrics and the
//! workload's own `chatload_*` counters. The format is small enough that a
//! hand-written encoder (a few locked maps) is simpler to audit than a
//! dependency, and it keeps `:` in names exactly as vLLM does.
//!
//! Every family renders `# HELP` and `# TYPE`; histograms are cumulative and
//! their `+Inf` bucket always equals `_count` because a series is updated and
//! read under one lock.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;

/// The model name the simulated inference server reports.
pub const MODEL_NAME: &str = "chat-large";

/// vLLM's time-to-first-token buckets (seconds).
pub const TTFT_BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
    20.0, 40.0, 80.0,
];

/// vLLM's end-to-end request latency buckets (seconds).
pub const E2E_BUCKETS: &[f64] = &[
    0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0,
];

/// Buckets for whole chat turns (seconds).
pub const TURN_BUCKETS: &[f64] = &[
    0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 7.5, 10.0, 15.0, 30.0, 60.0,
];

/// Buckets for fast service calls: moderation and single database queries.
pub const FAST_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// What every family knows about itself.
struct Meta {
    name: &'static str,
    help: &'static str,
    kind: &'static str,
    const_labels: &'static [(&'static str, &'static str)],
    label_names: &'static [&'static str],
}

impl Meta {
    fn header(&self, out: &mut String) {
        let _ = writeln!(out, "# HELP {} {}", self.name, escape_help(self.help));
        let _ = writeln!(out, "# TYPE {} {}", self.name, self.kind);
    }

    /// Renders `{a="x",b="y"}` (or nothing) for one series, with an optional
    /// trailing `le` label for histogram buckets.
    fn labels(&self, values: &[String], le: Option<&str>, out: &mut String) {
        let mut pairs: Vec<(&str, &str)> = self.const_labels.to_vec();
        pairs.extend(
            self.label_names
                .iter()
                .copied()
                .zip(values.iter().map(String::as_str)),
        );
        if let Some(le) = le {
            pairs.push(("le", le));
        }
        if pairs.is_empty() {
            return;
        }
        out.push('{');
        for (i, (k, v)) in pairs.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{k}=\"{}\"", escape_label(v));
        }
        out.push('}');
    }

    fn key(&self, labels: &[&str]) -> Vec<String> {
        debug_assert_eq!(
            labels.len(),
            self.label_names.len(),
            "wrong label count for {}",
            self.name
        );
        labels.iter().map(|s| s.to_string()).collect()
    }
}

/// A counter or gauge family with zero or more variable labels.
pub struct ScalarVec {
    meta: Meta,
    series: Mutex<BTreeMap<Vec<String>, f64>>,
}

impl ScalarVec {
    fn new(
        kind: &'static str,
        name: &'static str,
        help: &'static str,
        const_labels: &'static [(&'static str, &'static str)],
        label_names: &'static [&'static str],
    ) -> Self {
        let v = ScalarVec {
            meta: Meta {
                name,
                help,
                kind,
                const_labels,
                label_names,
            },
            series: Mutex::new(BTreeMap::new()),
        };
        if label_names.is_empty() {
            v.init(&[]);
        }
        v
    }

    /// Makes a series exist at 0 so that `rate()` works from the first scrape.
    pub fn init(&self, labels: &[&str]) {
        let key = self.meta.key(labels);
        self.series.lock().unwrap().entry(key).or_insert(0.0);
    }

    pub fn inc(&self, labels: &[&str]) {
        self.add(labels, 1.0);
    }

    pub fn add(&self, labels: &[&str], v: f64) {
        let key = self.meta.key(labels);
        *self.series.lock().unwrap().entry(key).or_insert(0.0) += v;
    }

    pub fn set(&self, labels: &[&str], v: f64) {
        let key = self.meta.key(labels);
        self.series.lock().unwrap().insert(key, v);
    }

    #[cfg(test)]
    pub fn get(&self, labels: &[&str]) -> f64 {
        let key = self.meta.key(labels);
        self.series
            .lock()
            .unwrap()
            .get(&key)
            .copied()
            .unwrap_or(0.0)
    }

    fn render(&self, out: &mut String) {
        self.meta.header(out);
        for (values, v) in self.series.lock().unwrap().iter() {
            out.push_str(self.meta.name);
            self.meta.labels(values, None, out);
            let _ = writeln!(out, " {}", fmt_value(*v));
        }
    }
}

#[derive(Clone)]
struct HistState {
    /// Per-bucket (non-cumulative) counts; cumulated when rendering.
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

/// A histogram family with zero or more variable labels.
pub struct HistogramVec {
    meta: Meta,
    buckets: &'static [f64],
    series: Mutex<BTreeMap<Vec<String>, HistState>>,
}

impl HistogramVec {
    fn new(
        name: &'static str,
        help: &'static str,
        const_labels: &'static [(&'static str, &'static str)],
        label_names: &'static [&'static str],
        buckets: &'static [f64],
    ) -> Self {
        debug_assert!(
            buckets.windows(2).all(|w| w[0] < w[1]),
            "buckets must increase"
        );
        let h = HistogramVec {
            meta: Meta {
                name,
                help,
                kind: "histogram",
                const_labels,
                label_names,
            },
            buckets,
            series: Mutex::new(BTreeMap::new()),
        };
        if label_names.is_empty() {
            h.init(&[]);
        }
        h
    }

    fn empty(&self) -> HistState {
        HistState {
            counts: vec![0; self.buckets.len()],
            sum: 0.0,
            count: 0,
        }
    }

    pub fn init(&self, labels: &[&str]) {
        let key = self.meta.key(labels);
        let empty = self.empty();
        self.series.lock().unwrap().entry(key).or_insert(empty);
    }

    pub fn observe(&self, labels: &[&str], v: f64) {
        let key = self.meta.key(labels);
        let empty = self.empty();
        let mut series = self.series.lock().unwrap();
        let st = series.entry(key).or_insert(empty);
        // First bucket whose upper bound is >= v; values above the last bound
        // only show up in +Inf (== count).
        if let Some(i) = self.buckets.iter().position(|b| v <= *b) {
            st.counts[i] += 1;
        }
        st.sum += v;
        st.count += 1;
    }

    fn render(&self, out: &mut String) {
        self.meta.header(out);
        let name = self.meta.name;
        for (values, st) in self.series.lock().unwrap().iter() {
            let mut cumulative = 0u64;
            for (bound, n) in self.buckets.iter().zip(&st.counts) {
                cumulative += n;
                let _ = write!(out, "{name}_bucket");
                self.meta.labels(values, Some(&fmt_value(*bound)), out);
                let _ = writeln!(out, " {cumulative}");
            }
            let _ = write!(out, "{name}_bucket");
            self.meta.labels(values, Some("+Inf"), out);
            let _ = writeln!(out, " {}", st.count);
            let _ = write!(out, "{name}_sum");
            self.meta.labels(values, None, out);
            let _ = writeln!(out, " {}", fmt_value(st.sum));
            let _ = write!(out, "{name}_count");
            self.meta.labels(values, None, out);
            let _ = writeln!(out, " {}", st.count);
        }
    }
}

const VLLM: &[(&str, &str)] = &[("model_name", MODEL_NAME)];

/// All metrics chatload exposes. Fields are public so the code that does the
/// work updates them directly.
pub struct Metrics {
    // Simulated inference server (vLLM names).
    pub running: ScalarVec,
    pub waiting: ScalarVec,
    pub generation_tokens: ScalarVec,
    pub prompt_tokens: ScalarVec,
    pub ttft: HistogramVec,
    pub e2e: HistogramVec,
    pub request_success: ScalarVec,
    pub kv_cache_usage: ScalarVec,
    // Simulated moderation service.
    pub moderation_requests: ScalarVec,
    pub moderation_latency: HistogramVec,
    // The workload itself.
    pub turns: ScalarVec,
    pub turn_duration: HistogramVec,
    pub turns_in_flight: ScalarVec,
    pub cache_requests: ScalarVec,
    pub db_queries: ScalarVec,
    pub db_query_duration: HistogramVec,
    pub errors: ScalarVec,
    pub dropped: ScalarVec,
    pub target_rate: ScalarVec,
    pub slow_query_enabled: ScalarVec,
    pub slow_queries: ScalarVec,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let m = Metrics {
            running: ScalarVec::new(
                "gauge",
                "vllm:num_requests_running",
                "Number of requests currently running on the (simulated) GPU.",
                VLLM,
                &[],
            ),
            waiting: ScalarVec::new(
                "gauge",
                "vllm:num_requests_waiting",
                "Number of requests waiting to be processed.",
                VLLM,
                &[],
            ),
            generation_tokens: ScalarVec::new(
                "counter",
                "vllm:generation_tokens_total",
                "Number of generation tokens processed.",
                VLLM,
                &[],
            ),
            prompt_tokens: ScalarVec::new(
                "counter",
                "vllm:prompt_tokens_total",
                "Number of prefill tokens processed.",
                VLLM,
                &[],
            ),
            ttft: HistogramVec::new(
                "vllm:time_to_first_token_seconds",
                "Histogram of time to first token in seconds (queue wait + prefill).",
                VLLM,
                &[],
                TTFT_BUCKETS,
            ),
            e2e: HistogramVec::new(
                "vllm:e2e_request_latency_seconds",
                "Histogram of end to end request latency in seconds.",
                VLLM,
                &[],
                E2E_BUCKETS,
            ),
            request_success: ScalarVec::new(
                "counter",
                "vllm:request_success_total",
                "Count of successfully processed requests.",
                VLLM,
                &["finished_reason"],
            ),
            kv_cache_usage: ScalarVec::new(
                "gauge",
                "vllm:kv_cache_usage_perc",
                "KV-cache usage. 1 means 100 percent usage.",
                VLLM,
                &[],
            ),
            moderation_requests: ScalarVec::new(
                "counter",
                "moderation_requests_total",
                "Moderation decisions, by stage (input prompt or output completion).",
                &[],
                &["stage", "decision"],
            ),
            moderation_latency: HistogramVec::new(
                "moderation_request_latency_seconds",
                "Latency of the (simulated) moderation service in seconds.",
                &[],
                &["stage"],
                FAST_BUCKETS,
            ),
            turns: ScalarVec::new(
                "counter",
                "chatload_turns_total",
                "Chat turns finished, by outcome (ok, blocked, error).",
                &[],
                &["outcome"],
            ),
            turn_duration: HistogramVec::new(
                "chatload_turn_duration_seconds",
                "Wall time of a whole chat turn (database, cache, moderation, inference), by outcome.",
                &[],
                &["outcome"],
                TURN_BUCKETS,
            ),
            turns_in_flight: ScalarVec::new(
                "gauge",
                "chatload_turns_in_flight",
                "Chat turns currently in progress.",
                &[],
                &[],
            ),
            cache_requests: ScalarVec::new(
                "counter",
                "chatload_cache_requests_total",
                "Redis conversation-context lookups that got an answer, by result.",
                &[],
                &["result"],
            ),
            db_queries: ScalarVec::new(
                "counter",
                "chatload_db_queries_total",
                "Database round trips (statements or transactions) sent, by target.",
                &[],
                &["target"],
            ),
            db_query_duration: HistogramVec::new(
                "chatload_db_query_duration_seconds",
                "Duration of database operations as seen by chatload, by target.",
                &[],
                &["target"],
                FAST_BUCKETS,
            ),
            errors: ScalarVec::new(
                "counter",
                "chatload_errors_total",
                "Errors, by stage of the turn and target (primary, replica, redis).",
                &[],
                &["stage", "target"],
            ),
            dropped: ScalarVec::new(
                "counter",
                "chatload_dropped_total",
                "Arrivals dropped because the in-flight turn cap was reached.",
                &[],
                &[],
            ),
            target_rate: ScalarVec::new(
                "gauge",
                "chatload_target_rate",
                "Target chat turns per second (Poisson arrivals).",
                &[],
                &[],
            ),
            slow_query_enabled: ScalarVec::new(
                "gauge",
                "chatload_slow_query_enabled",
                "1 when the slow-query injector is on.",
                &[],
                &[],
            ),
            slow_queries: ScalarVec::new(
                "counter",
                "chatload_slow_queries_total",
                "Slow 'user's recent messages' queries issued by the injector, by result.",
                &[],
                &["result"],
            ),
        };
        for reason in ["stop", "length"] {
            m.request_success.init(&[reason]);
        }
        for stage in ["input", "output"] {
            m.moderation_latency.init(&[stage]);
            for decision in ["allowed", "flagged", "blocked"] {
                m.moderation_requests.init(&[stage, decision]);
            }
        }
        for outcome in ["ok", "blocked", "error"] {
            m.turns.init(&[outcome]);
            m.turn_duration.init(&[outcome]);
        }
        for result in ["hit", "miss"] {
            m.cache_requests.init(&[result]);
        }
        for target in ["primary", "replica"] {
            m.db_queries.init(&[target]);
            m.db_query_duration.init(&[target]);
        }
        for result in ["ok", "error"] {
            m.slow_queries.init(&[result]);
        }
        m
    }

    /// The whole exposition, in text format 0.0.4.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(16 * 1024);
        self.running.render(&mut out);
        self.waiting.render(&mut out);
        self.generation_tokens.render(&mut out);
        self.prompt_tokens.render(&mut out);
        self.ttft.render(&mut out);
        self.e2e.render(&mut out);
        self.request_success.render(&mut out);
        self.kv_cache_usage.render(&mut out);
        self.moderation_requests.render(&mut out);
        self.moderation_latency.render(&mut out);
        self.turns.render(&mut out);
        self.turn_duration.render(&mut out);
        self.turns_in_flight.render(&mut out);
        self.cache_requests.render(&mut out);
        self.db_queries.render(&mut out);
        self.db_query_duration.render(&mut out);
        self.errors.render(&mut out);
        self.dropped.render(&mut out);
        self.target_rate.render(&mut out);
        self.slow_query_enabled.render(&mut out);
        self.slow_queries.render(&mut out);
        out
    }
}

/// Content type Prometheus expects for the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

fn fmt_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        // Rust's Display never uses exponents and round-trips exactly.
        format!("{v}")
    }
}

fn escape_label(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

fn escape_help(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses `name{labels} value` lines into (name, labels, value).
    fn samples(text: &str) -> Vec<(String, String, f64)> {
        text.lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .map(|l| {
                let (series, value) = l.rsplit_once(' ').expect("sample has a value");
                let (name, labels) = match series.find('{') {
                    Some(i) => (&series[..i], &series[i..]),
                    None => (series, ""),
                };
                let value = match value {
                    "+Inf" => f64::INFINITY,
                    v => v.parse().expect("numeric value"),
                };
                (name.to_string(), labels.to_string(), value)
            })
            .collect()
    }

    #[test]
    fn histogram_is_cumulative_and_inf_equals_count() {
        let m = Metrics::new();
        for v in [0.0005, 0.003, 0.05, 0.05, 0.9, 3.0, 79.0, 500.0] {
            m.ttft.observe(&[], v);
        }
        let text = m.render();
        let s = samples(&text);
        let buckets: Vec<&(String, String, f64)> = s
            .iter()
            .filter(|(n, _, _)| n == "vllm:time_to_first_token_seconds_bucket")
            .collect();
        assert_eq!(buckets.len(), TTFT_BUCKETS.len() + 1);
        assert!(
            buckets.windows(2).all(|w| w[0].2 <= w[1].2),
            "buckets must be cumulative"
        );
        let inf = buckets.last().unwrap();
        assert!(inf.1.contains("le=\"+Inf\""));
        let count = s
            .iter()
            .find(|(n, _, _)| n == "vllm:time_to_first_token_seconds_count")
            .unwrap();
        assert_eq!(inf.2, count.2);
        assert_eq!(count.2, 8.0);
        // 500 s is above the last bound: only in +Inf.
        assert_eq!(buckets[buckets.len() - 2].2, 7.0);
        // le="0.001" holds exactly the 0.0005 observation.
        assert_eq!(buckets[0].2, 1.0);
        assert!(buckets[0].1.contains("le=\"0.001\""));
        let sum = s
            .iter()
            .find(|(n, _, _)| n == "vllm:time_to_first_token_seconds_sum")
            .unwrap();
        assert!((sum.2 - 583.0035).abs() < 1e-9);
    }

    #[test]
    fn labelled_histogram_series_are_each_valid() {
        let m = Metrics::new();
        m.moderation_latency.observe(&["input"], 0.012);
        m.moderation_latency.observe(&["output"], 0.2);
        m.moderation_latency.observe(&["output"], 0.02);
        let text = m.render();
        for stage in ["input", "output"] {
            let inf = format!(
                "moderation_request_latency_seconds_bucket{{stage=\"{stage}\",le=\"+Inf\"}}"
            );
            let count = format!("moderation_request_latency_seconds_count{{stage=\"{stage}\"}}");
            let inf_v = text.lines().find(|l| l.starts_with(&inf)).unwrap();
            let count_v = text.lines().find(|l| l.starts_with(&count)).unwrap();
            assert_eq!(inf_v.rsplit(' ').next(), count_v.rsplit(' ').next());
        }
    }

    #[test]
    fn exposition_has_all_required_names_with_help_and_type() {
        let m = Metrics::new();
        let text = m.render();
        let required = [
            ("vllm:num_requests_running", "gauge"),
            ("vllm:num_requests_waiting", "gauge"),
            ("vllm:generation_tokens_total", "counter"),
            ("vllm:prompt_tokens_total", "counter"),
            ("vllm:time_to_first_token_seconds", "histogram"),
            ("vllm:e2e_request_latency_seconds", "histogram"),
            ("vllm:request_success_total", "counter"),
            ("vllm:kv_cache_usage_perc", "gauge"),
            ("moderation_requests_total", "counter"),
            ("moderation_request_latency_seconds", "histogram"),
            ("chatload_turns_total", "counter"),
            ("chatload_cache_requests_total", "counter"),
            ("chatload_db_queries_total", "counter"),
            ("chatload_errors_total", "counter"),
            ("chatload_dropped_total", "counter"),
            ("chatload_target_rate", "gauge"),
            ("chatload_slow_query_enabled", "gauge"),
        ];
        for (name, kind) in required {
            assert!(
                text.contains(&format!("# HELP {name} ")),
                "missing HELP for {name}"
            );
            assert!(
                text.contains(&format!("# TYPE {name} {kind}\n")),
                "missing TYPE for {name}"
            );
        }
        assert!(text.contains("vllm:num_requests_running{model_name=\"chat-large\"} 0\n"));
        assert!(text.contains(
            "vllm:request_success_total{model_name=\"chat-large\",finished_reason=\"stop\"} 0\n"
        ));
        assert!(text.contains(
            "vllm:request_success_total{model_name=\"chat-large\",finished_reason=\"length\"} 0\n"
        ));
        assert!(text.contains("chatload_cache_requests_total{result=\"hit\"} 0\n"));
        assert!(text.contains("chatload_db_queries_total{target=\"replica\"} 0\n"));
        // Every vllm sample carries the model name.
        for line in text.lines().filter(|l| l.starts_with("vllm:")) {
            assert!(line.contains("model_name=\"chat-large\""), "{line}");
        }
        // Each family's HELP/TYPE appears exactly once.
        for (name, _) in required {
            assert_eq!(
                text.matches(&format!("# TYPE {name} ")).count(),
                1,
                "{name}"
            );
        }
    }

    #[test]
    fn fleetdeck_parser_reads_it_back() {
        let m = Metrics::new();
        m.ttft.observe(&[], 0.12);
        m.e2e.observe(&[], 1.3);
        m.e2e.observe(&[], 500.0);
        m.moderation_latency.observe(&["input"], 0.015);
        m.turn_duration.observe(&["ok"], 0.9);
        m.db_query_duration.observe(&["replica"], 0.002);
        m.errors.inc(&["write_turn", "primary"]);
        let text = m.render();
        let exp = fleetdeck_exposition::parse(&text);
        assert!(exp.errors.is_empty(), "{:?}", exp.errors);
        use fleetdeck_exposition::MetricType;
        let family = |n: &str| exp.family(n).unwrap_or_else(|| panic!("no family {n}"));
        assert_eq!(
            family("vllm:num_requests_waiting").metric_type,
            MetricType::Gauge
        );
        assert_eq!(
            family("vllm:request_success_total").metric_type,
            MetricType::Counter
        );
        assert_eq!(
            family("vllm:e2e_request_latency_seconds").metric_type,
            MetricType::Histogram
        );
        assert!(exp.families.iter().all(|f| f.help.is_some()));
        let hists = fleetdeck_exposition::histograms(&exp);
        assert!(hists.len() >= 4);
        for h in &hists {
            let inf = h.buckets.last().unwrap();
            assert_eq!(inf.le, f64::INFINITY, "{}", h.name);
            assert_eq!(Some(inf.count), h.count, "{}", h.name);
            assert!(
                h.buckets.windows(2).all(|w| w[0].count <= w[1].count),
                "{}",
                h.name
            );
        }
        let e2e = hists
            .iter()
            .find(|h| h.name == "vllm:e2e_request_latency_seconds")
            .unwrap();
        assert_eq!(e2e.count, Some(2.0));
        assert!(e2e
            .labels
            .contains(&("model_name".to_string(), MODEL_NAME.to_string())));
        let ttft = hists
            .iter()
            .find(|h| h.name == "vllm:time_to_first_token_seconds")
            .unwrap();
        let p50 = ttft.quantile(0.5).unwrap();
        assert!((0.1..=0.25).contains(&p50), "{p50}");
    }

    #[test]
    fn label_values_are_escaped() {
        let m = Metrics::new();
        m.errors.inc(&["we\"ird\\stage\n", "primary"]);
        let text = m.render();
        assert!(text.contains(
            "chatload_errors_total{stage=\"we\\\"ird\\\\stage\\n\",target=\"primary\"} 1\n"
        ));
    }

    #[test]
    fn values_format_like_prometheus() {
        assert_eq!(fmt_value(1.0), "1");
        assert_eq!(fmt_value(0.001), "0.001");
        assert_eq!(fmt_value(2.5), "2.5");
        assert_eq!(fmt_value(f64::INFINITY), "+Inf");
        assert_eq!(fmt_value(f64::NAN), "NaN");
    }
}
