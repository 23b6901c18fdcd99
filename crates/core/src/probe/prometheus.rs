//! Prometheus HTTP API client: inference and moderation throughput (the AI
//! panels), alerts and scrape targets. It is how the console sees the top of
//! the "vicious cycle" — inference queues and latencies — next to the data
//! layer it reads directly.
//!
//! The API wraps every answer in `{"status": …, "data": …}`; an `"error"`
//! status carries `errorType`/`error` and becomes [`ProbeError::Query`] with
//! both, while a body that is not that JSON shape becomes
//! [`ProbeError::Malformed`]. Sample values arrive as strings (`"1.5"`,
//! `"NaN"`, `"+Inf"`) and are decoded exactly; only the AI panels turn
//! non-finite values into "no value", because JSON cannot carry them to the UI.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use super::scrape::{request_error, snippet};
use super::ProbeError;
use crate::fleet::PrometheusEndpoint;
use crate::snapshot::{Ai, Alert, Target};

/// Prometheus refuses a range query with more than this many points per series.
const MAX_POINTS: f64 = 11_000.0;

/// One Prometheus server, through one reqwest client (its connection pool is
/// reused across refreshes and across the AI panels' concurrent queries).
#[derive(Debug, Clone)]
pub struct PrometheusClient {
    endpoint: PrometheusEndpoint,
    http: Result<reqwest::Client, String>,
}

/// One sample of an instant vector (or the single value of a scalar result, with no labels).
#[derive(Debug, Clone, PartialEq)]
pub struct VectorSample {
    /// Series labels, `__name__` included when the query kept it.
    pub labels: BTreeMap<String, String>,
    /// Value; may be NaN or ±Inf.
    pub value: f64,
}

/// One series of a range query.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Series labels.
    pub labels: BTreeMap<String, String>,
    /// `(unix seconds, value)` at each step where the series has a value.
    pub points: Vec<(f64, f64)>,
}

impl PrometheusClient {
    /// A client for `endpoint`, with its own HTTP client whose every request is
    /// bounded by `endpoint.timeout`.
    pub fn new(endpoint: PrometheusEndpoint) -> Self {
        // Building fails only when the TLS backend cannot initialise. `Client::new` would
        // panic then; instead every request reports it, so one bad panel never takes the
        // console down.
        let http = reqwest::Client::builder()
            .timeout(endpoint.timeout)
            .connect_timeout(endpoint.timeout)
            .build()
            .map_err(|e| format!("cannot build an HTTP client: {e}"));
        Self { endpoint, http }
    }

    /// A client for `endpoint` sharing an existing HTTP client (and its connection pool).
    pub fn with_client(endpoint: PrometheusEndpoint, http: reqwest::Client) -> Self {
        Self { endpoint, http: Ok(http) }
    }

    /// The endpoint this client reads.
    pub fn endpoint(&self) -> &PrometheusEndpoint {
        &self.endpoint
    }

    /// `/api/v1/query`: an instant query. Vector results give one sample per
    /// series; a scalar result gives one sample without labels. Matrix or string
    /// results (a range selector typed into a panel) are [`ProbeError::Malformed`].
    pub async fn instant(&self, promql: &str) -> Result<Vec<VectorSample>, ProbeError> {
        let what = format!("query {promql}");
        let data = self.get("/api/v1/query", &[("query", promql.to_string())], &what).await?;
        decode_instant(data).map_err(|reason| ProbeError::Malformed { what, reason })
    }

    /// `/api/v1/query_range` from `start` to `end` (unix seconds) with the step
    /// [`step_for`] picks, never below `min_step`.
    pub async fn range(
        &self,
        promql: &str,
        start: f64,
        end: f64,
        min_step: Duration,
    ) -> Result<Vec<Series>, ProbeError> {
        let step = step_for(end - start, min_step);
        let what = format!("query_range {promql}");
        let params = [
            ("query", promql.to_string()),
            ("start", format!("{start:.3}")),
            ("end", format!("{end:.3}")),
            ("step", format!("{:.3}", step.as_secs_f64())),
        ];
        let data = self.get("/api/v1/query_range", &params, &what).await?;
        decode_range(data).map_err(|reason| ProbeError::Malformed { what, reason })
    }

    /// `/api/v1/alerts`: firing and pending alerts.
    pub async fn alerts(&self) -> Result<Vec<Alert>, ProbeError> {
        let what = "alerts".to_string();
        let data = self.get("/api/v1/alerts", &[], &what).await?;
        decode_alerts(data).map_err(|reason| ProbeError::Malformed { what, reason })
    }

    /// `/api/v1/targets?state=active`: the scrape targets and their health.
    pub async fn targets(&self) -> Result<Vec<Target>, ProbeError> {
        let what = "targets".to_string();
        let data = self.get("/api/v1/targets", &[("state", "active".to_string())], &what).await?;
        decode_targets(data).map_err(|reason| ProbeError::Malformed { what, reason })
    }

    /// Every AI panel's query of `endpoint.queries`, concurrently. A failed panel
    /// leaves its field `None` and adds `"panel: error"` to `errors`; `available`
    /// is true when at least one panel answered. NaN and ±Inf give `None` (a
    /// quantile over no traffic is NaN). A scalar panel whose query returns
    /// several series is an error for that panel: it needs an aggregation.
    pub async fn ai(&self) -> Ai {
        let q = &self.endpoint.queries;
        let panels: [(&str, &str); 11] = [
            ("generation_tokens_per_second", &q.generation_tokens_per_second),
            ("prompt_tokens_per_second", &q.prompt_tokens_per_second),
            ("requests_running", &q.requests_running),
            ("requests_waiting", &q.requests_waiting),
            ("ttft_p50_seconds", &q.ttft_p50_seconds),
            ("ttft_p99_seconds", &q.ttft_p99_seconds),
            ("e2e_p99_seconds", &q.e2e_p99_seconds),
            ("success_per_second", &q.success_per_second),
            ("kv_cache_usage", &q.kv_cache_usage),
            ("moderation_per_second", &q.moderation_per_second),
            ("moderation_p99_seconds", &q.moderation_p99_seconds),
        ];
        let answers = futures_util::future::join_all(panels.iter().map(|(_, promql)| self.instant(promql))).await;
        let mut ai = Ai::default();
        for ((panel, _), answer) in panels.iter().zip(answers) {
            let samples = match answer {
                Ok(samples) => samples,
                Err(e) => {
                    ai.errors.push(format!("{panel}: {e}"));
                    continue;
                }
            };
            ai.available = true;
            if *panel == "moderation_per_second" {
                ai.moderation_per_second = by_decision(&samples);
                continue;
            }
            match single_value(&samples) {
                Ok(v) => *scalar_panel(&mut ai, panel) = v,
                Err(reason) => ai.errors.push(format!("{panel}: {reason}")),
            }
        }
        ai
    }

    /// GET `path` with `params` within the endpoint's timeout; the envelope's `data`.
    async fn get(&self, path: &str, params: &[(&str, String)], what: &str) -> Result<Value, ProbeError> {
        let timeout = self.endpoint.timeout;
        let url = format!("{}{path}", self.endpoint.url);
        let http = self
            .http
            .as_ref()
            .map_err(|reason| ProbeError::Connect { address: self.endpoint.url.clone(), reason: reason.clone() })?;
        let fetch = async {
            let response = http
                .get(&url)
                .query(params)
                .timeout(timeout)
                .send()
                .await
                .map_err(|e| request_error(&e, &self.endpoint.url, what, timeout))?;
            let status = response.status();
            let body = response.bytes().await.map_err(|e| request_error(&e, &self.endpoint.url, what, timeout))?;
            decode_envelope(what, status, &body)
        };
        match tokio::time::timeout(timeout, fetch).await {
            Ok(result) => result,
            Err(_) => Err(ProbeError::Timeout(timeout)),
        }
    }
}

/// Step so that (end-start)/step stays within Prometheus' 11,000 points per
/// series, never below min_step; pure, unit-tested.
///
/// Steps above one second are rounded up to whole seconds so that points land
/// on round times; the step is never below 1 ms (Prometheus' resolution; it
/// refuses a zero step).
pub fn step_for(range_seconds: f64, min_step: Duration) -> Duration {
    let floor = min_step.max(Duration::from_millis(1));
    if !range_seconds.is_finite() || range_seconds <= 0.0 {
        return floor;
    }
    let needed = range_seconds / MAX_POINTS;
    let needed = if needed > 1.0 { needed.ceil() } else { (needed * 1000.0).ceil() / 1000.0 };
    floor.max(Duration::from_secs_f64(needed))
}

#[derive(Deserialize)]
struct Envelope {
    status: String,
    #[serde(default)]
    data: Option<Value>,
    #[serde(default, rename = "errorType")]
    error_type: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

/// The `data` of a successful answer; the server's `errorType: error` otherwise.
fn decode_envelope(what: &str, status: reqwest::StatusCode, body: &[u8]) -> Result<Value, ProbeError> {
    let query = |reason: String| ProbeError::Query { what: what.to_string(), reason };
    let malformed = |reason: String| ProbeError::Malformed { what: what.to_string(), reason };
    let envelope: Envelope = match serde_json::from_slice(body) {
        Ok(e) => e,
        // A proxy's error page in front of Prometheus: the status says more than the body.
        Err(_) if !status.is_success() => return Err(query(format!("HTTP {status}{}", snippet(body)))),
        Err(e) => return Err(malformed(format!("not the API's JSON ({e}){}", snippet(body)))),
    };
    match envelope.status.as_str() {
        "error" => Err(query(format!(
            "{}: {}",
            envelope.error_type.as_deref().unwrap_or("error"),
            envelope.error.as_deref().unwrap_or("(no message)")
        ))),
        "success" if !status.is_success() => Err(query(format!("HTTP {status}"))),
        "success" => envelope.data.ok_or_else(|| malformed("a success without data".into())),
        other => Err(malformed(format!("status is '{other}', expected success or error"))),
    }
}

/// A Prometheus sample value: a decimal, `NaN`, `+Inf` or `-Inf`.
fn parse_value(text: &str) -> Result<f64, String> {
    match text {
        "NaN" => Ok(f64::NAN),
        "+Inf" | "Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        _ => text.parse().map_err(|_| format!("sample value '{text}' is not a number")),
    }
}

#[derive(Deserialize)]
#[serde(tag = "resultType", content = "result", rename_all = "lowercase")]
enum QueryData {
    Vector(Vec<VectorItem>),
    Scalar((f64, String)),
    Matrix(Vec<MatrixItem>),
    String(serde::de::IgnoredAny),
}

#[derive(Deserialize)]
struct VectorItem {
    #[serde(default)]
    metric: BTreeMap<String, String>,
    value: (f64, String),
}

#[derive(Deserialize)]
struct MatrixItem {
    #[serde(default)]
    metric: BTreeMap<String, String>,
    #[serde(default)]
    values: Vec<(f64, String)>,
}

fn query_data(data: Value) -> Result<QueryData, String> {
    serde_json::from_value(data).map_err(|e| format!("unexpected result shape: {e}"))
}

fn decode_instant(data: Value) -> Result<Vec<VectorSample>, String> {
    match query_data(data)? {
        QueryData::Vector(items) => {
            items.into_iter().map(|i| Ok(VectorSample { labels: i.metric, value: parse_value(&i.value.1)? })).collect()
        }
        QueryData::Scalar((_, v)) => Ok(vec![VectorSample { labels: BTreeMap::new(), value: parse_value(&v)? }]),
        QueryData::Matrix(_) => Err("a range vector (matrix) where an instant vector or scalar was expected".into()),
        QueryData::String(_) => Err("a string where an instant vector or scalar was expected".into()),
    }
}

fn decode_range(data: Value) -> Result<Vec<Series>, String> {
    match query_data(data)? {
        QueryData::Matrix(items) => items
            .into_iter()
            .map(|i| {
                let points = i.values.iter().map(|(t, v)| Ok((*t, parse_value(v)?))).collect::<Result<_, String>>()?;
                Ok(Series { labels: i.metric, points })
            })
            .collect(),
        _ => Err("a range query answered with something other than a matrix".into()),
    }
}

#[derive(Deserialize)]
struct AlertsData {
    alerts: Vec<AlertItem>,
}

#[derive(Deserialize)]
struct AlertItem {
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    state: String,
    #[serde(default, rename = "activeAt")]
    active_at: Option<String>,
}

fn decode_alerts(data: Value) -> Result<Vec<Alert>, String> {
    let data: AlertsData = serde_json::from_value(data).map_err(|e| format!("unexpected alerts shape: {e}"))?;
    data.alerts
        .into_iter()
        .map(|a| {
            let name = a
                .labels
                .get("alertname")
                .cloned()
                .ok_or_else(|| format!("an alert without alertname: {:?}", a.labels))?;
            Ok(Alert {
                name,
                state: a.state,
                severity: a.labels.get("severity").cloned(),
                summary: a.annotations.get("summary").cloned(),
                active_at: a.active_at,
                labels: a.labels,
            })
        })
        .collect()
}

#[derive(Deserialize)]
struct TargetsData {
    #[serde(rename = "activeTargets")]
    active_targets: Vec<TargetItem>,
}

#[derive(Deserialize)]
struct TargetItem {
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default, rename = "scrapePool")]
    scrape_pool: Option<String>,
    #[serde(rename = "scrapeUrl")]
    scrape_url: String,
    health: String,
    #[serde(default, rename = "lastError")]
    last_error: Option<String>,
}

fn decode_targets(data: Value) -> Result<Vec<Target>, String> {
    let data: TargetsData = serde_json::from_value(data).map_err(|e| format!("unexpected targets shape: {e}"))?;
    Ok(data
        .active_targets
        .into_iter()
        .map(|t| Target {
            job: t.labels.get("job").cloned().or(t.scrape_pool).unwrap_or_default(),
            url: t.scrape_url,
            health: t.health,
            last_error: t.last_error.filter(|e| !e.is_empty()),
        })
        .collect())
}

/// A scalar panel's value: `None` for no series or a non-finite value; an
/// error when the query returns several series.
fn single_value(samples: &[VectorSample]) -> Result<Option<f64>, String> {
    match samples {
        [] => Ok(None),
        [one] => Ok(Some(one.value).filter(|v| v.is_finite())),
        many => Err(format!("{} series where one was expected; aggregate the query (e.g. sum(...))", many.len())),
    }
}

/// Moderation rates keyed by their `decision` label (other label sets are
/// written out, no labels at all is `total`); non-finite values are left out.
fn by_decision(samples: &[VectorSample]) -> BTreeMap<String, f64> {
    samples
        .iter()
        .filter(|s| s.value.is_finite())
        .map(|s| {
            let key = match s.labels.get("decision") {
                Some(d) => d.clone(),
                None if s.labels.is_empty() => "total".to_string(),
                None => {
                    let pairs: Vec<String> = s.labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
                    format!("{{{}}}", pairs.join(","))
                }
            };
            (key, s.value)
        })
        .collect()
}

fn scalar_panel<'a>(ai: &'a mut Ai, panel: &str) -> &'a mut Option<f64> {
    match panel {
        "generation_tokens_per_second" => &mut ai.generation_tokens_per_second,
        "prompt_tokens_per_second" => &mut ai.prompt_tokens_per_second,
        "requests_running" => &mut ai.requests_running,
        "requests_waiting" => &mut ai.requests_waiting,
        "ttft_p50_seconds" => &mut ai.ttft_p50_seconds,
        "ttft_p99_seconds" => &mut ai.ttft_p99_seconds,
        "e2e_p99_seconds" => &mut ai.e2e_p99_seconds,
        "success_per_second" => &mut ai.success_per_second,
        "kv_cache_usage" => &mut ai.kv_cache_usage,
        "moderation_p99_seconds" => &mut ai.moderation_p99_seconds,
        other => unreachable!("every scalar panel is listed in ai(): {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::StatusCode;

    fn json(text: &str) -> Value {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn a_24_hour_range_at_1_s_min_step_stays_within_11000_points() {
        let step = step_for(86_400.0, Duration::from_secs(1));
        assert_eq!(step, Duration::from_secs(8), "86400 / 11000 = 7.85 s, rounded up to whole seconds");
        assert!(86_400.0 / step.as_secs_f64() <= 11_000.0, "Prometheus refuses more than 11,000 points");
        assert!(86_400.0 / (step.as_secs_f64() - 1.0) > 11_000.0, "and the step is no coarser than needed");
    }

    #[test]
    fn short_ranges_keep_the_min_step() {
        assert_eq!(step_for(300.0, Duration::from_secs(1)), Duration::from_secs(1));
        assert_eq!(step_for(300.0, Duration::from_secs(15)), Duration::from_secs(15));
        assert_eq!(step_for(0.0, Duration::ZERO), Duration::from_millis(1), "a zero step is refused by Prometheus");
        assert_eq!(step_for(f64::NAN, Duration::from_secs(2)), Duration::from_secs(2));
        let fine = step_for(60.0, Duration::ZERO);
        assert!(60.0 / fine.as_secs_f64() <= 11_000.0, "sub-second steps also respect the limit: {fine:?}");
    }

    #[test]
    fn long_ranges_never_exceed_the_limit() {
        for days in [1.0, 7.0, 30.0, 365.0] {
            let range = days * 86_400.0;
            let step = step_for(range, Duration::from_secs(1));
            assert!(range / step.as_secs_f64() <= 11_000.0, "{days} days at {step:?}");
        }
    }

    #[test]
    fn values_are_decimal_strings_nan_and_infinities() {
        assert_eq!(parse_value("1.5"), Ok(1.5));
        assert_eq!(parse_value("1e+00"), Ok(1.0));
        assert!(parse_value("NaN").unwrap().is_nan());
        assert_eq!(parse_value("+Inf"), Ok(f64::INFINITY));
        assert_eq!(parse_value("-Inf"), Ok(f64::NEG_INFINITY));
        assert!(parse_value("lots").unwrap_err().contains("'lots'"));
    }

    #[test]
    fn vectors_and_scalars_decode_to_samples() {
        let v = decode_instant(json(
            r#"{"resultType":"vector","result":[{"metric":{"job":"chatload"},"value":[1795425098.07,"NaN"]}]}"#,
        ))
        .unwrap();
        assert_eq!(v[0].labels["job"], "chatload");
        assert!(v[0].value.is_nan(), "NaN is decoded as NaN, not dropped or zeroed");
        let s = decode_instant(json(r#"{"resultType":"scalar","result":[1795425098.088,"1"]}"#)).unwrap();
        assert_eq!(s, vec![VectorSample { labels: BTreeMap::new(), value: 1.0 }]);
        let m = decode_instant(json(r#"{"resultType":"matrix","result":[]}"#)).unwrap_err();
        assert!(m.contains("matrix"), "{m}");
    }

    #[test]
    fn nan_panels_are_none_and_several_series_are_an_error() {
        let sample = |value| VectorSample { labels: BTreeMap::new(), value };
        assert_eq!(single_value(&[sample(f64::NAN)]), Ok(None), "a quantile over no traffic is NaN: no value");
        assert_eq!(single_value(&[sample(f64::INFINITY)]), Ok(None), "JSON cannot carry Inf");
        assert_eq!(single_value(&[]), Ok(None));
        assert_eq!(single_value(&[sample(2.5)]), Ok(Some(2.5)));
        assert!(single_value(&[sample(1.0), sample(2.0)]).unwrap_err().contains("2 series"));
    }

    #[test]
    fn moderation_rates_are_keyed_by_decision_without_nan() {
        let s = |labels: &[(&str, &str)], value| VectorSample {
            labels: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            value,
        };
        let m = by_decision(&[
            s(&[("decision", "allow")], 9.5),
            s(&[("decision", "block")], f64::NAN),
            s(&[], 10.0),
            s(&[("model", "m")], 1.0),
        ]);
        assert_eq!(m.len(), 3, "{m:?}");
        assert_eq!((m["allow"], m["total"], m["{model=\"m\"}"]), (9.5, 10.0, 1.0));
    }

    #[test]
    fn error_bodies_become_query_errors_with_type_and_message() {
        let body = br#"{"status":"error","errorType":"bad_data","error":"parse error: unclosed left parenthesis"}"#;
        let e = decode_envelope("query foo(", StatusCode::BAD_REQUEST, body).unwrap_err();
        let ProbeError::Query { what, reason } = e else { panic!("an API error is a Query error") };
        assert_eq!(what, "query foo(");
        assert_eq!(reason, "bad_data: parse error: unclosed left parenthesis");
    }

    #[test]
    fn non_json_is_malformed_unless_the_status_already_failed() {
        let e = decode_envelope("alerts", StatusCode::OK, b"<html>hello</html>").unwrap_err();
        assert!(matches!(&e, ProbeError::Malformed { reason, .. } if reason.contains("<html>hello")), "{e:?}");
        let e = decode_envelope("alerts", StatusCode::BAD_GATEWAY, b"<html>bad gateway</html>").unwrap_err();
        assert!(matches!(&e, ProbeError::Query { reason, .. } if reason.starts_with("HTTP 502")), "{e:?}");
        let e = decode_envelope("alerts", StatusCode::OK, br#"{"status":"success"}"#).unwrap_err();
        assert!(matches!(e, ProbeError::Malformed { .. }), "a success without data is malformed");
    }

    #[test]
    fn alerts_and_targets_decode() {
        let alerts = decode_alerts(json(
            r#"{"alerts":[{"labels":{"alertname":"PostgresDown","severity":"critical","node":"pg3"},
                "annotations":{"summary":"cannot reach pg3"},"state":"firing","activeAt":"2026-11-23T09:00:00Z","value":"0e+00"}]}"#,
        ))
        .unwrap();
        assert_eq!(alerts[0].name, "PostgresDown");
        assert_eq!(
            (alerts[0].severity.as_deref(), alerts[0].summary.as_deref()),
            (Some("critical"), Some("cannot reach pg3"))
        );
        assert!(decode_alerts(json(r#"{"alerts":[{"labels":{},"state":"firing"}]}"#))
            .unwrap_err()
            .contains("alertname"));

        let targets = decode_targets(json(
            r#"{"activeTargets":[{"labels":{"job":"redis"},"scrapePool":"redis","scrapeUrl":"http://h/metrics","health":"up","lastError":""}],"droppedTargets":[]}"#,
        ))
        .unwrap();
        assert_eq!((targets[0].job.as_str(), targets[0].health.as_str()), ("redis", "up"));
        assert_eq!(targets[0].last_error, None, "an empty lastError is no error");
    }
}
