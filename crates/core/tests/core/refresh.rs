//! The engine against the lab: discovered topology, anomalies under staged
//! incidents, and unreachable or hung nodes never delaying the snapshot.

use std::time::Duration;

use fleetdeck_core::fleet::Fleet;
use fleetdeck_core::refresh::Engine;
use fleetdeck_core::snapshot::{AnomalyKind, Role, Snapshot, StreamState, Subject};

use crate::common::{lab_fleet, lab_fleet_path, lab_ok};

/// Clears every staged incident when dropped, even when the test fails.
struct Incident;

impl Incident {
    fn stage(name: &str) -> Incident {
        lab_ok(&["incident", name]);
        Incident
    }
}

impl Drop for Incident {
    fn drop(&mut self) {
        let out = std::process::Command::new(crate::common::repo_dir().join("lab/lab"))
            .args(["incident", "clear"])
            .output()
            .expect("lab/lab");
        assert!(out.status.success() || std::thread::panicking(), "clear failed: {}", String::from_utf8_lossy(&out.stderr));
    }
}

/// Refreshes once a second until `cond` holds, panicking after `secs` refreshes.
async fn until(engine: &mut Engine, secs: u32, what: &str, cond: impl Fn(&Snapshot) -> bool) -> Snapshot {
    for _ in 0..secs {
        let s = engine.refresh().await;
        if cond(&s) {
            return s;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    panic!("after {secs} refreshes, still not: {what}");
}

/// An anomaly of `kind` concerns `subject` (its short form: `pg2`, `pg0→pg2`,
/// `pgb0/chat`) or, for a set of nodes, includes it.
fn has(s: &Snapshot, kind: AnomalyKind, subject: &str) -> bool {
    s.anomalies.iter().any(|a| a.kind == kind && (a.subject.to_string() == subject || a.subject.names().contains(&subject) && matches!(a.subject, Subject::Nodes { .. })))
}

#[tokio::test]
async fn roles_edges_and_the_cascade_match_the_lab() {
    let fleet = lab_fleet();
    let mut engine = Engine::new(fleet);
    let s = until(&mut engine, 20, "every edge is streaming", |s| s.edges.len() == 3 && s.edges.iter().all(|e| e.state == StreamState::Streaming)).await;
    let shape: Vec<_> = s.nodes.iter().map(|n| (n.name.as_str(), n.role, n.upstream.as_deref(), n.tier)).collect();
    assert_eq!(
        shape,
        [
            ("pg0", Role::Primary, None, Some(0)),
            ("pg1", Role::Replica, Some("pg0"), Some(1)),
            ("pg2", Role::Replica, Some("pg0"), Some(1)),
            ("pg3", Role::Replica, Some("pg1"), Some(2)),
        ],
        "roles and edges are discovered, and pg3 cascades from pg1"
    );
    let pools: Vec<_> = s.poolers.iter().map(|p| (p.name.as_str(), p.node.as_deref())).collect();
    assert_eq!(pools[3], ("pgb3", Some("pg3")), "each PgBouncer is matched to the node it fronts");
    assert_eq!(s.caches.iter().filter(|c| c.upstream.as_deref() == Some("redis0")).count(), 2);
    assert!(s.ai.generation_tokens_per_second.is_some_and(|t| t > 0.0), "the workload generates tokens: {:?}", s.ai);
    let criticals: Vec<_> = s.anomalies.iter().filter(|a| a.severity == fleetdeck_core::snapshot::Severity::Critical).collect();
    assert!(criticals.is_empty(), "a healthy lab has no critical anomaly: {criticals:#?}");
    let pg0 = &s.nodes[0];
    assert!(pg0.connections.max >= 60 && pg0.connections.total > 0, "backends vs max_connections: {:?}", pg0.connections);
    assert_eq!(pg0.senders.len(), 2, "the primary's walsender rows");
    assert!(!s.statements.is_empty(), "the first refresh reads pg_stat_statements");
}

#[tokio::test]
async fn replica_lag_marks_the_edge_and_raises_anomalies_then_clears() {
    let mut fleet: Fleet = lab_fleet();
    fleet.thresholds.replay_lag_seconds = 2.0;
    let mut engine = Engine::new(fleet);
    let incident = Incident::stage("replica-lag");
    let s = until(&mut engine, 30, "pg0→pg2 is over the lag threshold", |s| has(s, AnomalyKind::LagOverThreshold, "pg0→pg2")).await;
    let edge = s.edges.iter().find(|e| e.downstream == "pg2").unwrap();
    assert!(!edge.healthy, "a paused replica's edge is unhealthy: {edge:?}");
    assert!(edge.lag_bytes.is_some_and(|b| b > 0), "lag in bytes: {edge:?}");
    assert!(edge.lag_seconds.is_some_and(|x| x > 2.0), "lag in seconds: {edge:?}");
    assert!(has(&s, AnomalyKind::ReplayPaused, "pg2"), "{:#?}", s.anomalies);
    drop(incident);
    until(&mut engine, 30, "pg2 caught up and healthy", |s| {
        s.edges.iter().any(|e| e.downstream == "pg2" && e.healthy) && !has(s, AnomalyKind::ReplayPaused, "pg2")
    })
    .await;
}

#[tokio::test]
async fn two_nodes_out_of_recovery_is_split_brain() {
    let fleet = lab_fleet();
    let admin = fleet.postgres.iter().find(|p| p.name == "pg2").unwrap().action.clone().unwrap();
    let mut engine = Engine::new(fleet);
    // The clear rebuilds pg2 from pg0: it left recovery.
    let _incident = Incident;
    let (client, _) = fleetdeck_core::pg::connect(&admin, "fleetdeck-test", Duration::from_secs(5)).await.unwrap();
    client.execute("SELECT pg_promote(true, 30)", &[]).await.expect("promote pg2");
    let s = until(&mut engine, 20, "split brain is reported", |s| has(s, AnomalyKind::SplitBrain, "pg2")).await;
    let primaries: Vec<_> = s.nodes.iter().filter(|n| n.role == Role::Primary).map(|n| n.name.as_str()).collect();
    assert_eq!(primaries, ["pg0", "pg2"]);
    let a = s.anomalies.iter().find(|a| a.kind == AnomalyKind::SplitBrain).unwrap();
    assert!(a.message.contains("SPLIT BRAIN") && a.message.contains("timeline 2"), "{}", a.message);
}

#[tokio::test]
async fn pool_saturation_marks_the_primary_pool_saturated() {
    let mut engine = Engine::new(lab_fleet());
    let _incident = Incident::stage("pool-saturation");
    let s = until(&mut engine, 30, "pgb0/chat is saturated", |s| has(s, AnomalyKind::PoolSaturated, "pgb0/chat")).await;
    let pool = s.pools.iter().find(|p| p.name == "pgb0" && p.database == "chat").unwrap();
    assert!(pool.saturated && pool.cl_waiting > 0, "{pool:?}");
    assert_eq!(pool.pool_size, 4);
    assert!(!pool.saturation_reasons.is_empty());
}

#[tokio::test]
async fn cache_storm_drops_the_hit_ratio() {
    let mut engine = Engine::new(lab_fleet());
    let ratio = |s: &Snapshot| s.caches.iter().find(|c| c.name == "redis0").and_then(|c| c.hit_ratio);
    engine.refresh().await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let before = ratio(&engine.refresh().await).expect("redis0 hit ratio");
    let _incident = Incident::stage("cache-storm");
    tokio::time::sleep(Duration::from_secs(1)).await;
    engine.refresh().await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let during = ratio(&engine.refresh().await).expect("redis0 hit ratio");
    assert!(during < before / 2.0, "the storm must collapse the interval hit ratio: before {before:.2}, during {during:.2}");
}

#[tokio::test]
async fn a_stopped_replica_is_unreachable_and_the_snapshot_still_arrives_in_time() {
    let mut engine = Engine::new(lab_fleet());
    engine.refresh().await;
    let _incident = Incident::stage("replica-down");
    let s = until(&mut engine, 10, "pg3 is unreachable", |s| s.nodes.iter().any(|n| n.name == "pg3" && !n.reachable)).await;
    assert!(has(&s, AnomalyKind::NodeUnreachable, "pg3"));
    assert!(s.refresh_ms < 1500.0, "a refused connection costs at most the timeout: {} ms", s.refresh_ms);
    assert!(s.nodes.iter().filter(|n| n.reachable).count() == 3, "the other nodes are still read");
}

/// SIGCONTs a process tree when dropped.
struct Stopped(Vec<String>);

impl Drop for Stopped {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill").arg("-CONT").args(&self.0).status();
    }
}

#[tokio::test]
async fn a_hung_node_is_marked_within_its_timeout_and_never_delays_the_snapshot() {
    let fleet = lab_fleet();
    let timeout = fleet.probe.timeout;
    let mut kept = Engine::new(fleet.clone());
    kept.refresh().await;
    let run = lab_fleet_path().parent().unwrap().to_path_buf();
    let pid = std::fs::read_to_string(run.join("pg/pg3/postmaster.pid")).unwrap().lines().next().unwrap().to_string();
    let children = std::process::Command::new("pgrep").args(["-P", &pid]).output().unwrap();
    let mut pids: Vec<String> = String::from_utf8_lossy(&children.stdout).split_whitespace().map(str::to_string).collect();
    pids.push(pid);
    // Accepting TCP (the kernel still does) but never answering: a SIGSTOPped postmaster and backends.
    let stopped = Stopped(pids);
    assert!(std::process::Command::new("kill").arg("-STOP").args(&stopped.0).status().unwrap().success());
    let limit = timeout.as_secs_f64() * 1000.0 + 400.0;
    for (what, engine) in [("kept connection", &mut kept), ("new connection", &mut Engine::new(fleet.clone()))] {
        let s = engine.refresh().await;
        let pg3 = s.nodes.iter().find(|n| n.name == "pg3").unwrap();
        assert!(!pg3.reachable, "{what}: a hung pg3 is unreachable");
        assert!(pg3.error.as_deref().unwrap_or("").contains("no answer"), "{what}: {:?}", pg3.error);
        assert!(s.refresh_ms < limit, "{what}: the snapshot took {} ms, over {limit} ms", s.refresh_ms);
        assert_eq!(s.nodes.iter().filter(|n| n.reachable).count(), 3, "{what}: the others are read");
    }
    drop(stopped);
    until(&mut kept, 15, "pg3 answers again after SIGCONT", |s| s.nodes.iter().any(|n| n.name == "pg3" && n.reachable)).await;
}
