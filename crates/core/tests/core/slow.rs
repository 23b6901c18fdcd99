//! A frozen Prometheus never slows the database view: the lab's Prometheus is
//! put behind a relay that can freeze (as a SIGSTOPped or overloaded server
//! behaves), and the engine must keep refreshing the PostgreSQL, PgBouncer and
//! Redis side well within Prometheus' own timeout, show the AI reading's age
//! and the failure, and recover by itself once Prometheus answers again.

use std::net::SocketAddr;
use std::time::Duration;

use fleetdeck_core::refresh::Engine;
use fleetdeck_core::snapshot::Snapshot;

use crate::common::lab_fleet;
use crate::pgbouncer::Relay;

/// Prometheus' timeout in this test: long, so a refresh that waited for it
/// could not be mistaken for one that did not.
const PROMETHEUS_TIMEOUT: Duration = Duration::from_secs(6);

async fn engine_behind(relay: &Relay) -> Engine {
    let mut fleet = lab_fleet();
    let p = fleet.prometheus.as_mut().expect("the lab has Prometheus");
    p.url = format!("http://{}", relay.addr);
    p.timeout = PROMETHEUS_TIMEOUT;
    Engine::new(fleet)
}

/// Refreshes until `done` holds, asserting every refresh kept the database
/// side's cadence (well under Prometheus' timeout).
async fn refresh_until(engine: &mut Engine, what: &str, done: impl Fn(&Snapshot) -> bool) -> Snapshot {
    for _ in 0..60 {
        let s = engine.refresh().await;
        assert!(
            s.refresh_ms < PROMETHEUS_TIMEOUT.as_millis() as f64 / 2.0,
            "refresh #{} took {:.0} ms: it waited for Prometheus",
            s.seq,
            s.refresh_ms
        );
        assert!(s.nodes.iter().any(|n| n.reachable), "the database side is still being read: {:?}", s.nodes.iter().map(|n| &n.error).collect::<Vec<_>>());
        if done(&s) {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("after 60 refreshes, still not: {what}");
}

#[tokio::test]
async fn a_frozen_prometheus_leaves_the_refresh_cadence_alone_and_recovers() {
    let fleet = lab_fleet();
    let url = &fleet.prometheus.as_ref().unwrap().url;
    let upstream: SocketAddr = url.trim_start_matches("http://").parse().expect("the lab's Prometheus is host:port");
    let relay = Relay::start(upstream).await;
    let mut engine = engine_behind(&relay).await;

    let first = engine.refresh().await;
    assert!(first.ai.read_at.is_none() || first.ai.available, "the first snapshot does not wait for Prometheus");
    let healthy = refresh_until(&mut engine, "Prometheus answered", |s| s.ai.available && s.ai.read_at.is_some()).await;
    assert!(healthy.ai.age_seconds.is_some_and(|a| a < 10.0), "a fresh reading carries its age: {:?}", healthy.ai.age_seconds);

    relay.freeze();
    let frozen = refresh_until(&mut engine, "the AI reading is reported stale with a reason", |s| {
        s.ai.errors.iter().any(|e| e.contains("prometheus: no answer") || e.contains("within"))
            && s.ai.age_seconds.is_some_and(|a| a >= 2.0)
    })
    .await;
    assert!(frozen.ai.available, "the last good values stay on screen, never a blank panel");
    assert!(
        frozen.anomalies.iter().any(|a| a.kind == fleetdeck_core::snapshot::AnomalyKind::MetricsUnavailable),
        "a stale Prometheus is an anomaly: {:#?}",
        frozen.anomalies
    );

    relay.thaw();
    refresh_until(&mut engine, "Prometheus answers again and the reading is fresh", |s| {
        s.ai.errors.iter().all(|e| !e.starts_with("prometheus:")) && s.ai.age_seconds.is_some_and(|a| a < 3.0)
    })
    .await;
}

#[tokio::test]
async fn a_one_shot_look_waits_for_prometheus_and_names_it_when_late() {
    let fleet = lab_fleet();
    let upstream: SocketAddr =
        fleet.prometheus.as_ref().unwrap().url.trim_start_matches("http://").parse().expect("host:port");
    let relay = Relay::start(upstream).await;
    let mut engine = engine_behind(&relay).await;
    let late = engine.settle_slow_sources(engine.slow_source_timeout()).await;
    assert!(late.is_empty(), "a healthy Prometheus answers within its timeout: late {late:?}");
    let s = engine.refresh().await;
    assert!(s.ai.available, "the one-shot snapshot carries the AI panels: {:?}", s.ai.errors);

    relay.freeze();
    let mut engine = engine_behind(&relay).await;
    let late = engine.settle_slow_sources(Duration::from_millis(800)).await;
    assert_eq!(late, ["prometheus"], "a frozen Prometheus is named as late");
}
