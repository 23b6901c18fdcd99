//! Prometheus client against the lab's Prometheus: instant and range
//! queries, alerts, targets and the AI panels, and how it reports a server that
//! is closed, hung, or answers with something that is not the API.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use fleetdeck_core::fleet::PrometheusEndpoint;
use fleetdeck_core::probe::prometheus::{step_for, PrometheusClient};
use fleetdeck_core::probe::ProbeError;

use crate::common::lab_fleet;
use crate::pgbouncer::{assert_on_time, guarded, hung_listener};
use crate::scrape::http_listener;

/// How long a freshly started lab may take to settle: every target is `up` after
/// its first successful scrape (15 s interval at most), and `rate(...[1m])` needs
/// two scrapes of the workload (5 s apart). Tests poll until then, not sleep blindly.
const SETTLE: Duration = Duration::from_secs(60);

fn lab_prometheus() -> PrometheusEndpoint {
    lab_fleet().prometheus.expect("the lab's fleet file names its Prometheus")
}

fn client_at(url: String, timeout: Duration) -> PrometheusClient {
    PrometheusClient::new(PrometheusEndpoint { url, timeout, ..lab_prometheus() })
}

fn now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs_f64()
}

#[tokio::test]
async fn up_covers_every_target_and_every_target_is_up() {
    let fleet = lab_fleet();
    let client = PrometheusClient::new(lab_prometheus());
    let deadline = Instant::now() + SETTLE;
    let (up, targets) = loop {
        let up = client.instant("up").await.expect("instant query 'up'");
        let targets = client.targets().await.expect("/api/v1/targets");
        let settled = up.iter().all(|s| s.value == 1.0) && targets.iter().all(|t| t.health == "up");
        if settled || Instant::now() > deadline {
            break (up, targets);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    assert_eq!(up.len(), targets.len(), "'up' has one series per active target");
    // A postgres_exporter per node, a redis_exporter per cache node, and the workload.
    let expected = fleet.postgres.len() + fleet.redis.len() + fleet.scrape.len();
    assert!(targets.len() >= expected, "{} targets, expected at least {expected}", targets.len());
    for sample in &up {
        assert_eq!(sample.value, 1.0, "every lab target is scraped successfully: {:?}", sample.labels);
        assert_eq!(sample.labels.get("__name__").map(String::as_str), Some("up"));
    }
    for target in &targets {
        assert_eq!(target.health, "up", "{target:?}");
        assert_eq!(target.last_error, None, "a healthy target carries no error: {target:?}");
        assert!(target.url.starts_with("http://127.0.0.1:"), "{target:?}");
    }
    assert!(targets.iter().any(|t| t.job == "chatload"), "the workload is a target");
}

#[tokio::test]
async fn alerts_parse_even_when_none_fire() {
    let alerts = PrometheusClient::new(lab_prometheus()).alerts().await.expect("/api/v1/alerts");
    for alert in &alerts {
        assert!(!alert.name.is_empty(), "{alert:?}");
        assert!(["firing", "pending"].contains(&alert.state.as_str()), "{alert:?}");
        assert_eq!(alert.labels.get("alertname"), Some(&alert.name), "the name is the alertname label");
        assert!(alert.severity.is_some(), "every lab rule sets a severity: {alert:?}");
    }
}

#[tokio::test]
async fn a_five_minute_range_returns_points_at_the_chosen_step() {
    let client = PrometheusClient::new(lab_prometheus());
    let end = now();
    let min_step = Duration::from_secs(1);
    let series = client.range("sum(up)", end - 300.0, end, min_step).await.expect("query_range");
    assert_eq!(series.len(), 1, "sum(up) is one series");
    let points = &series[0].points;
    assert!(points.len() > 1, "five minutes of a lab that has been up: {points:?}");
    let step = step_for(300.0, min_step).as_secs_f64();
    assert_eq!(step, 1.0, "five minutes fit at the 1 s minimum");
    for pair in points.windows(2) {
        assert!((pair[1].0 - pair[0].0 - step).abs() < 1e-3, "points are one step apart: {pair:?}");
    }
    assert!(points.iter().all(|(t, v)| *t >= end - 300.0 - 1e-3 && *t <= end + 1e-3 && *v >= 1.0), "{points:?}");
}

#[tokio::test]
async fn a_24_hour_range_is_not_refused_for_too_many_points() {
    let client = PrometheusClient::new(lab_prometheus());
    let end = now();
    // At 1 s this would be 86,400 points, which Prometheus refuses; step_for must widen the step.
    let series = client.range("sum(up)", end - 86_400.0, end, Duration::from_secs(1)).await;
    let series = series.expect("a day of data at the step step_for picks is within Prometheus' limit");
    let points = &series[0].points;
    for pair in points.windows(2) {
        assert!((pair[1].0 - pair[0].0 - 8.0).abs() < 1e-3, "a day is drawn at 8 s steps: {pair:?}");
    }
}

#[tokio::test]
async fn ai_panels_show_token_and_moderation_throughput() {
    let client = PrometheusClient::new(lab_prometheus());
    let deadline = Instant::now() + SETTLE;
    let ai = loop {
        let ai = client.ai().await;
        let settled = ai.generation_tokens_per_second.is_some_and(|t| t > 0.0) && !ai.moderation_per_second.is_empty();
        if settled || Instant::now() > deadline {
            break ai;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    assert!(ai.available, "Prometheus answers: {:?}", ai.errors);
    assert!(ai.errors.is_empty(), "every default panel query is valid against the lab: {:?}", ai.errors);
    let tokens = ai.generation_tokens_per_second.expect("the workload generates tokens");
    assert!(tokens > 0.0, "the workload is running, so tokens flow: {tokens}");
    assert!(!ai.moderation_per_second.is_empty(), "moderation decisions are counted");
    assert!(ai.moderation_per_second.values().all(|v| v.is_finite() && *v >= 0.0), "{:?}", ai.moderation_per_second);
    for quantile in [ai.ttft_p50_seconds, ai.ttft_p99_seconds, ai.e2e_p99_seconds, ai.moderation_p99_seconds] {
        assert!(quantile.is_none_or(|q| q.is_finite() && q >= 0.0), "quantiles are finite or absent: {quantile:?}");
    }
}

#[tokio::test]
async fn a_failed_panel_is_named_and_leaves_the_others() {
    let mut endpoint = lab_prometheus();
    endpoint.queries.requests_waiting = "sum(".into();
    endpoint.queries.kv_cache_usage = "up".into(); // one series per target, not a single value
    // The token rate needs two scrapes of the workload: awaited, as on a lab
    // that just came up it is absent for reasons unrelated to the broken panels.
    let client = PrometheusClient::new(endpoint);
    let deadline = Instant::now() + SETTLE;
    let ai = loop {
        let ai = client.ai().await;
        if ai.generation_tokens_per_second.is_some() || Instant::now() > deadline {
            break ai;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    assert!(ai.available, "the other panels still answered");
    assert_eq!(ai.errors.len(), 2, "{:?}", ai.errors);
    assert!(ai.errors[0].starts_with("requests_waiting: query sum( failed: bad_data"), "{:?}", ai.errors);
    assert!(ai.errors[1].starts_with("kv_cache_usage: ") && ai.errors[1].contains("series"), "{:?}", ai.errors);
    assert_eq!((ai.requests_waiting, ai.kv_cache_usage), (None, None));
    assert!(ai.generation_tokens_per_second.is_some(), "a failed panel does not take the others down");
}

#[tokio::test]
async fn api_errors_are_query_errors_and_matrices_are_malformed_for_instant() {
    let client = PrometheusClient::new(lab_prometheus());
    let Err(ProbeError::Query { what, reason }) = client.instant("sum(").await else {
        panic!("a PromQL syntax error is a Query error")
    };
    assert_eq!(what, "query sum(");
    assert!(reason.starts_with("bad_data: "), "the server's errorType and message are kept: {reason}");
    let result = client.instant("up[1m]").await;
    assert!(
        matches!(&result, Err(ProbeError::Malformed { reason, .. }) if reason.contains("matrix")),
        "a range vector cannot fill an instant panel: {result:?}"
    );
}

#[tokio::test]
async fn a_closed_port_is_a_connect_error_at_once() {
    let client = client_at("http://127.0.0.1:1".into(), Duration::from_secs(2));
    let started = Instant::now();
    let result = client.instant("up").await;
    assert!(
        matches!(&result, Err(ProbeError::Connect { address, .. }) if address == "http://127.0.0.1:1"),
        "{result:?}"
    );
    assert!(started.elapsed() < Duration::from_millis(500), "a refused connection must not wait for the timeout");
    let ai = client.ai().await;
    assert!(!ai.available && ai.errors.len() == 11, "every panel reports the failure: {:?}", ai.errors);
}

#[tokio::test]
async fn a_server_that_never_answers_times_out_within_the_timeout() {
    let addr = hung_listener().await;
    let timeout = Duration::from_millis(300);
    let client = client_at(format!("http://{addr}"), timeout);
    let started = Instant::now();
    let result = guarded(timeout, client.targets()).await;
    assert!(matches!(result, Err(ProbeError::Timeout(t)) if t == timeout), "{result:?}");
    assert_on_time("a request to a hung Prometheus", started.elapsed(), timeout);
}

#[tokio::test]
async fn a_200_that_is_not_json_is_malformed() {
    let addr = http_listener("200 OK", "text/html", "<html><body>Sign in to continue</body></html>").await;
    let client = client_at(format!("http://{addr}"), Duration::from_secs(2));
    let result = client.alerts().await;
    assert!(
        matches!(&result, Err(ProbeError::Malformed { what, reason }) if what == "alerts" && reason.contains("Sign in")),
        "a login page where the API should be is Malformed, with the body quoted: {result:?}"
    );
}
