//! The engine against the lab: discovered topology, anomalies under staged
//! incidents, and unreachable or hung nodes never delaying the snapshot.

use std::time::{Duration, Instant};

use fleetdeck_core::fleet::Fleet;
use fleetdeck_core::probe::redis::RedisProbe;
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
    // Token rates come from Prometheus' rate() over the workload's scrapes:
    // awaited with the edges, as a lab that just came up has none yet.
    let s = until(&mut engine, 60, "every edge is streaming and Prometheus has a token rate", |s| {
        s.edges.len() == 3
            && s.edges.iter().all(|e| e.state == StreamState::Streaming)
            && s.ai.generation_tokens_per_second.is_some_and(|t| t > 0.0)
    })
    .await;
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
    assert_eq!(
        s.caches.iter().filter(|c| c.upstream.as_deref() == Some("redis0")).count(),
        2,
        "redis1 and redis2 are matched to redis0 by their master_host:master_port"
    );
    let criticals: Vec<_> = s.anomalies.iter().filter(|a| a.severity == fleetdeck_core::snapshot::Severity::Critical).collect();
    assert!(criticals.is_empty(), "a healthy lab has no critical anomaly: {criticals:#?}");
    let pg0 = &s.nodes[0];
    assert!(pg0.connections.max >= 60 && pg0.connections.total > 0, "backends vs max_connections: {:?}", pg0.connections);
    assert_eq!(pg0.senders.len(), 2, "the primary's walsender rows: pg1 and pg2 stream from it");
    assert!(!s.statements.is_empty(), "statements are read on the first refresh and ride in every snapshot after it");
}

#[tokio::test]
async fn replica_lag_marks_the_edge_and_raises_anomalies_then_clears() {
    let mut fleet: Fleet = lab_fleet();
    fleet.thresholds.replay_lag_seconds = 2.0;
    let mut engine = Engine::new(fleet);
    let incident = Incident::stage("replica-lag");
    // The anomaly fires on bytes or seconds, whichever crosses first: await the
    // seconds this test lowered the threshold for, not the first anomaly.
    let s = until(&mut engine, 30, "pg0→pg2 is over the 2 s lag threshold", |s| {
        has(s, AnomalyKind::LagOverThreshold, "pg0→pg2")
            && s.edges.iter().any(|e| e.downstream == "pg2" && e.lag_seconds.is_some_and(|x| x > 2.0))
    })
    .await;
    let edge = s.edges.iter().find(|e| e.downstream == "pg2").unwrap();
    assert!(!edge.healthy, "a paused replica's edge is unhealthy: {edge:?}");
    assert!(edge.lag_bytes.is_some_and(|b| b > 0), "writes go on, so pg2 falls behind in bytes too: {edge:?}");
    assert!(
        has(&s, AnomalyKind::ReplayPaused, "pg2"),
        "pg_wal_replay_pause() was called before the first refresh, so every snapshot says so: {:#?}",
        s.anomalies
    );
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
    assert_eq!(primaries, ["pg0", "pg2"], "pg0 still runs as primary beside the promoted pg2");
    // A promotion starts the next timeline after the one pg2 replayed, pg0's.
    let pg0_timeline = s.nodes.iter().find(|n| n.name == "pg0").and_then(|n| n.timeline).expect("pg0's timeline is read");
    let a = s.anomalies.iter().find(|a| a.kind == AnomalyKind::SplitBrain).unwrap();
    assert!(
        a.message.contains("SPLIT BRAIN") && a.message.contains(&format!("pg2 (timeline {})", pg0_timeline + 1)),
        "the message names both primaries with their timelines: {}",
        a.message
    );
}

/// Regression: the first saturated snapshot was asserted to have waiting
/// clients, but saturation is any of three rules. The burst's first four
/// transactions take every server connection (4 of 4 active is already
/// saturated) while the other four psql clients are still starting, so the
/// queue comes a refresh or more later.
#[tokio::test]
async fn pool_saturation_marks_the_primary_pool_saturated() {
    let mut engine = Engine::new(lab_fleet());
    let _incident = Incident::stage("pool-saturation");
    let chat = |s: &Snapshot| s.pools.iter().find(|p| p.name == "pgb0" && p.database == "chat" && p.user == "chat_app").cloned();
    // Eight long transactions on a pool of four: the settled state has every
    // server connection busy and clients queued behind them.
    let s = until(&mut engine, 30, "pgb0/chat is saturated with clients waiting", |s| {
        has(s, AnomalyKind::PoolSaturated, "pgb0/chat") && chat(s).is_some_and(|p| p.cl_waiting > 0 && p.sv_active == p.pool_size)
    })
    .await;
    let pool = chat(&s).expect("pgb0 has the workload's chat pool");
    assert_eq!(pool.pool_size, 4, "the lab sets default_pool_size = 4: {pool:?}");
    assert!(pool.saturated, "waiting clients make a pool saturated: {pool:?}");
    assert!(
        pool.saturation_reasons.iter().any(|r| r.contains("waiting for a server connection")),
        "the reasons say clients wait: {:?}",
        pool.saturation_reasons
    );
}

/// Lookups a hit-ratio window must hold: at the lab's ~20 turns/s about ten
/// seconds of them, so the ratio's sampling noise (±0.04) stays far below the
/// drop asserted on it. The window is closed by this count, not by a clock: a
/// loaded machine gets a longer window, not a noisier ratio.
const WINDOW_LOOKUPS: u64 = 150;

/// redis0's lookups so far (hits + misses), read from redis0 itself.
async fn lookups(redis0: &mut RedisProbe) -> u64 {
    let r = redis0.read(Duration::from_secs(5)).await.expect("redis0 answers INFO");
    r.keyspace_hits + r.keyspace_misses
}

/// redis0's hit ratio as the engine reports it (since its previous refresh),
/// over a window of at least [`WINDOW_LOOKUPS`] lookups.
async fn engine_hit_ratio(engine: &mut Engine, redis0: &mut RedisProbe) -> f64 {
    engine.refresh().await;
    let start = lookups(redis0).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while lookups(redis0).await < start + WINDOW_LOOKUPS {
        assert!(Instant::now() < deadline, "the workload must keep reading the cache: fewer than {WINDOW_LOOKUPS} lookups in 60 s");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let s = engine.refresh().await;
    s.caches.iter().find(|c| c.name == "redis0").and_then(|c| c.hit_ratio).expect("redis0 had lookups, so it has an interval hit ratio")
}

/// What the storm guarantees: a lookup hits only if its key was written since
/// the last FLUSHALL, at most half a second before. The workload's Zipf-skewed
/// users still re-read their hottest conversations within that half second (a
/// third of lookups or more can hit), so the ratio falls by a clear margin, not
/// necessarily below half of what it was.
const STORM_DROP: f64 = 0.1;

/// Regression: "before 0.60, during 0.33" failed a "below half" rule on an idle
/// machine; the storm never promised half, and 3 s windows (~40 lookups) were
/// too noisy to promise anything.
#[tokio::test]
async fn cache_storm_drops_the_hit_ratio() {
    let fleet = lab_fleet();
    let endpoint = fleet.redis.iter().find(|r| r.name == "redis0").cloned().expect("the lab has redis0");
    let mut redis0 = RedisProbe::new(endpoint);
    let mut engine = Engine::new(fleet);
    let before = engine_hit_ratio(&mut engine, &mut redis0).await;
    let _incident = Incident::stage("cache-storm");
    // The flush loop's first FLUSHALL runs before `incident` returns, so the
    // whole window is under the storm.
    let during = engine_hit_ratio(&mut engine, &mut redis0).await;
    assert!(
        during < before - STORM_DROP,
        "flushing every 0.5 s must drop the interval hit ratio by over {STORM_DROP}: before {before:.2}, during {during:.2}"
    );
}

#[tokio::test]
async fn a_stopped_replica_is_unreachable_and_the_snapshot_still_arrives_in_time() {
    let mut engine = Engine::new(lab_fleet());
    engine.refresh().await;
    let _incident = Incident::stage("replica-down");
    let s = until(&mut engine, 10, "pg3 is unreachable", |s| s.nodes.iter().any(|n| n.name == "pg3" && !n.reachable)).await;
    assert!(has(&s, AnomalyKind::NodeUnreachable, "pg3"), "an unreachable node is an anomaly: {:#?}", s.anomalies);
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
