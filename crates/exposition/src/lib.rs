//! Parser for the Prometheus text exposition format, version 0.0.4, with the
//! Prometheus 3 quoted-name extension.
//!
//! FleetDeck scrapes vLLM-style inference servers directly. Their metric
//! names carry a `:` namespace (`vllm:num_requests_running`) and some label
//! values are comma-separated lists (`running_lora_adapters="a,b"`). The
//! widely used `prometheus-parse` crate (0.2.5) silently drops every sample
//! whose name contains `:` and cuts label values at the first comma, so
//! FleetDeck would see an empty or wrong picture of the fleet. This crate is
//! the replacement it can trust:
//!
//! * every name matching `[a-zA-Z_:][a-zA-Z0-9_:]*` is kept, exactly as
//!   exposed, and so is every quoted Prometheus 3 UTF-8 name
//!   (`{"http.server.duration",code="200"} 1`), dots and all;
//! * label values are unescaped (`\\`, `\"`, `\n`) and may contain commas,
//!   `=`, braces and any Unicode;
//! * a line that cannot be parsed is never dropped silently: it is reported
//!   in [`Exposition::errors`] with its line number, and parsing goes on with
//!   the next line;
//! * so is a line that parses but contradicts the rest of the exposition,
//!   where Prometheus would refuse it: a negative bucket or count in a
//!   declared histogram, a `__name__` label, a `# TYPE` after its family's
//!   samples (see [`parse`] for the full list);
//! * the scanner is hand-written and works on bytes; apart from the owned
//!   strings it returns, and one set entry per distinct series name, it
//!   allocates nothing per sample.
//!
//! ```
//! let text = "# TYPE vllm:num_requests_running gauge\n\
//!             vllm:num_requests_running{model_name=\"llama\"} 3\n";
//! let exposition = fleetdeck_exposition::parse(text);
//! assert!(exposition.errors.is_empty());
//! let running = exposition
//!     .find("vllm:num_requests_running", &[("model_name", "llama")])
//!     .next()
//!     .unwrap();
//! assert_eq!(running.value, 3.0);
//! ```
//!
//! Histograms spread over `_bucket`/`_sum`/`_count` series are reassembled by
//! [`histograms`], and [`Histogram::quantile`] computes quantiles the way
//! PromQL's `histogram_quantile` does.

#![deny(missing_docs)]

mod histogram;
mod parser;

use std::fmt;

pub use histogram::{histograms, Bucket, Histogram};
pub use parser::parse;

/// Everything read from one exposition text.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Exposition {
    /// Every sample line, in the order it appeared.
    pub samples: Vec<Sample>,
    /// Metric families declared by `# TYPE` or `# HELP` comments, in the
    /// order their first comment appeared.
    pub families: Vec<Family>,
    /// Lines that could not be parsed, in the order they appeared.
    pub errors: Vec<ParseError>,
}

impl Exposition {
    /// The family declared under exactly `name` by a `# TYPE` or `# HELP`
    /// line.
    pub fn family(&self, name: &str) -> Option<&Family> {
        self.families.iter().find(|family| family.name == name)
    }

    /// Samples whose series name is exactly `name` and that carry every
    /// `(label, value)` pair of `matchers` (other labels are ignored).
    pub fn find<'a>(
        &'a self,
        name: &'a str,
        matchers: &'a [(&'a str, &'a str)],
    ) -> impl Iterator<Item = &'a Sample> + 'a {
        self.samples
            .iter()
            .filter(move |sample| sample.name == name && sample.matches(matchers))
    }
}

/// One sample line: a series name, its labels, a value and an optional
/// timestamp.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Full series name as exposed, e.g. `vllm:time_to_first_token_seconds_bucket`.
    pub name: String,
    /// Labels in exposition order, values unescaped.
    pub labels: Vec<(String, String)>,
    /// The sample value; `NaN`, `+Inf` and `-Inf` are accepted.
    pub value: f64,
    /// Optional timestamp in milliseconds since the Unix epoch.
    pub timestamp_ms: Option<i64>,
}

impl Sample {
    /// The value of label `name`, if the sample has it.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(label, _)| label == name)
            .map(|(_, value)| value.as_str())
    }

    /// Whether the sample carries every `(label, value)` pair of `matchers`.
    pub fn matches(&self, matchers: &[(&str, &str)]) -> bool {
        matchers
            .iter()
            .all(|&(name, value)| self.label(name) == Some(value))
    }
}

/// A metric family as declared by `# TYPE` and `# HELP` comments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Family {
    /// Family name, e.g. `vllm:e2e_request_latency_seconds`.
    pub name: String,
    /// Type from `# TYPE`; [`MetricType::Untyped`] when there was none.
    pub metric_type: MetricType,
    /// Unescaped text from `# HELP`, if there was one.
    pub help: Option<String>,
}

/// The type of a metric family, from its `# TYPE` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum MetricType {
    /// `counter`
    Counter,
    /// `gauge`
    Gauge,
    /// `histogram`
    Histogram,
    /// `summary`
    Summary,
    /// `untyped`, or no `# TYPE` line at all.
    #[default]
    Untyped,
}

impl MetricType {
    /// The keyword used for this type in a `# TYPE` line.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Histogram => "histogram",
            MetricType::Summary => "summary",
            MetricType::Untyped => "untyped",
        }
    }
}

impl fmt::Display for MetricType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A line that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    /// What was wrong, e.g. `unterminated label value`.
    pub message: String,
    /// The offending line, cut to at most [`ParseError::MAX_TEXT_CHARS`]
    /// characters (followed by `…` when cut).
    pub text: String,
}

impl ParseError {
    /// How many characters of the offending line [`ParseError::text`] keeps.
    pub const MAX_TEXT_CHARS: usize = 200;

    fn new(line: usize, message: String, text: &str) -> Self {
        let text = match text.char_indices().nth(Self::MAX_TEXT_CHARS) {
            Some((cut, _)) => format!("{}…", &text[..cut]),
            None => text.to_owned(),
        };
        ParseError {
            line,
            message,
            text,
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}: {}", self.line, self.message, self.text)
    }
}

impl std::error::Error for ParseError {}
