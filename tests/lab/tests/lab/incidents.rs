//! Each incident produces its effect while staged, and `incident clear` removes it.

use std::time::Duration;

use fleetdeck_lab_tests::*;

const STAGE: Duration = Duration::from_secs(45);

async fn replay_gap_bytes(c: &tokio_postgres::Client) -> Option<f64> {
    let r = c
        .query_one(
            "SELECT pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::float8",
            &[],
        )
        .await
        .ok()?;
    r.get::<_, Option<f64>>(0)
}

#[tokio::test]
async fn replica_lag_grows_while_replay_is_paused_and_returns_to_zero_after_clear() {
    let fleet = fleet();
    let guard = IncidentGuard::stage("replica-lag");
    let pg2 = pg(&fleet, "pg2").await.unwrap();
    let paused: bool = pg2.query_one("SELECT pg_is_wal_replay_paused()", &[]).await.unwrap().get(0);
    assert!(paused, "replica-lag pauses replay on pg2");
    let first = wait_until(STAGE, "pg2 receives WAL it does not replay", || async {
        replay_gap_bytes(&pg2).await.filter(|&g| g > 0.0)
    })
    .await;
    wait_until(STAGE, "pg2's replay gap keeps growing under the workload", || async {
        replay_gap_bytes(&pg2).await.filter(|&g| g > first)
    })
    .await;
    // The walsender learns pg2's replay position from pg2's status messages, so
    // its row trails pg2's own view: await it rather than read it once.
    let pg0 = pg(&fleet, "pg0").await.unwrap();
    wait_until(STAGE, "the primary's walsender row shows pg2 behind on replay", || async {
        let r = pg0
            .query_one(
                "SELECT pg_wal_lsn_diff(sent_lsn, replay_lsn)::float8 FROM pg_stat_replication WHERE application_name = 'pg2'",
                &[],
            )
            .await
            .ok()?;
        r.get::<_, Option<f64>>(0).filter(|&gap| gap > 0.0)
    })
    .await;
    drop(guard);
    wait_until(STAGE, "pg2's replay catches up after clear", || async {
        replay_gap_bytes(&pg2).await.filter(|&g| g == 0.0)
    })
    .await;
}

#[tokio::test]
async fn pool_saturation_makes_clients_wait_on_the_primary_pool() {
    let fleet = fleet();
    let guard = IncidentGuard::stage("pool-saturation");
    let admin = pgbouncer(&fleet, "pgb0").await;
    // Clients can queue while the last server connection is still logging in
    // (sv_login): wait for the settled state, every server connection busy.
    wait_until(STAGE, "clients wait on pgb0 with all 4 server connections busy", || async {
        let p = show_pool(&admin, "chat").await;
        (p["cl_waiting"].parse::<i64>().unwrap() > 0 && p["sv_active"] == "4").then_some(p)
    })
    .await;
    drop(guard);
    wait_until(STAGE, "no client waits on pgb0 after clear", || async {
        let p = show_pool(&admin, "chat").await;
        (p["cl_waiting"] == "0").then_some(())
    })
    .await;
    // pg_terminate_backend only signals: a terminated backend stays in
    // pg_stat_activity until it has exited, so its disappearance is awaited.
    let pg0 = pg(&fleet, "pg0").await.unwrap();
    wait_until(STAGE, "clear ends the burst's backends on pg0", || async {
        let left: i64 = pg0
            .query_one("SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%lab pool-saturation%' AND pid <> pg_backend_pid()", &[])
            .await
            .ok()?
            .get(0);
        (left == 0).then_some(())
    })
    .await;
}

/// Lookups a hit-ratio window must hold: at the lab's ~20 turns/s about ten
/// seconds of them, enough that the ratio's sampling noise (±0.04) is far
/// below the differences asserted on it. A window is closed by this count, not
/// by a clock, so a slow or loaded machine gets a longer window, not a noisier one.
const WINDOW_LOOKUPS: f64 = 150.0;

/// redis0's (hits, misses) so far.
async fn cache_counters(fleet: &fleetdeck_core::fleet::Fleet) -> (f64, f64) {
    let i = redis_info(fleet, "redis0", "stats").await;
    (i["keyspace_hits"].parse().unwrap(), i["keyspace_misses"].parse().unwrap())
}

/// Hit ratio of redis0 over the next [`WINDOW_LOOKUPS`] lookups.
async fn hit_ratio(fleet: &fleetdeck_core::fleet::Fleet) -> f64 {
    let (h0, m0) = cache_counters(fleet).await;
    let (h1, m1) = wait_until(STAGE, "the workload makes enough cache lookups for a hit ratio", || async {
        let (h1, m1) = cache_counters(fleet).await;
        ((h1 - h0) + (m1 - m0) >= WINDOW_LOOKUPS).then_some((h1, m1))
    })
    .await;
    (h1 - h0) / ((h1 - h0) + (m1 - m0))
}

/// What the storm guarantees: a lookup hits only if its key was written since
/// the last FLUSHALL, at most half a second before. The workload's Zipf-skewed
/// users still re-read their hottest conversations within that half second
/// (a third of lookups or more can hit), so the ratio falls by a clear margin,
/// not necessarily below half of what it was.
const STORM_DROP: f64 = 0.1;

#[tokio::test]
async fn cache_storm_collapses_the_hit_ratio_and_clear_lets_it_recover() {
    let fleet = fleet();
    let before = hit_ratio(&fleet).await;
    let guard = IncidentGuard::stage("cache-storm");
    // The flush loop's first FLUSHALL runs before `incident` returns: every
    // lookup from here on is under the storm.
    let during = hit_ratio(&fleet).await;
    assert!(
        during < before - STORM_DROP,
        "flushing every 0.5 s must drop the hit ratio by over {STORM_DROP}: before {before:.2}, during {during:.2}"
    );
    drop(guard);
    // Once the flushes stop, entries live their 60–300 s TTL again: the ratio
    // climbs back at least halfway to where it was.
    let halfway = (before + during) / 2.0;
    wait_until(STAGE, "the hit ratio recovers halfway after clear", || {
        let fleet = fleet.clone();
        async move { (hit_ratio(&fleet).await > halfway).then_some(()) }
    })
    .await;
}

const SLOW: &str = "SELECT coalesce(sum(calls), 0)::float8 FROM pg_stat_statements WHERE query LIKE '%FROM messages WHERE user_id%'";

async fn slow_calls(fleet: &fleetdeck_core::fleet::Fleet) -> f64 {
    let mut total = 0.0;
    for node in ["pg1", "pg2", "pg3"] {
        let c = pg(fleet, node).await.unwrap();
        total += c.query_one(SLOW, &[]).await.unwrap().get::<_, f64>(0);
    }
    total
}

#[tokio::test]
async fn slow_query_runs_a_seq_scan_on_the_replicas_until_cleared() {
    let fleet = fleet();
    let base = slow_calls(&fleet).await;
    let guard = IncidentGuard::stage("slow-query");
    wait_until(STAGE, "the slow query shows up in pg_stat_statements", || {
        let fleet = fleet.clone();
        async move { (slow_calls(&fleet).await >= base + 3.0).then_some(()) }
    })
    .await;
    let pg1 = pg(&fleet, "pg1").await.unwrap();
    let plan: Vec<String> = pg1
        .query("EXPLAIN SELECT id, conversation_id, created_at FROM messages WHERE user_id = 42 ORDER BY created_at DESC LIMIT 20", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(
        plan.iter().any(|l| l.contains("Seq Scan on messages")),
        "without an index on messages(user_id) the query must seq-scan:\n{}",
        plan.join("\n")
    );
    drop(guard);
    // Queries in flight at the clear still complete (and count) for up to their
    // statement_timeout; after that the count must stop. Await a quiet spell
    // longer than the timeout and the injector's 4/s cadence would allow.
    let mut last = slow_calls(&fleet).await;
    let mut quiet_since = std::time::Instant::now();
    let deadline = quiet_since + STAGE;
    while quiet_since.elapsed() < SLOW_QUIET {
        assert!(
            std::time::Instant::now() < deadline,
            "after clear no more slow queries may complete: still counting {last} calls after {STAGE:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = slow_calls(&fleet).await;
        if now != last {
            (last, quiet_since) = (now, std::time::Instant::now());
        }
    }
}

/// Longer than a slow query's life (chatload's 5 s statement_timeout plus its
/// 2 s pool wait) and than many gaps of the injector (4 queries a second).
const SLOW_QUIET: Duration = Duration::from_secs(8);

#[tokio::test]
async fn replica_down_stops_the_leaf_and_clear_brings_it_back_streaming() {
    let fleet = fleet();
    let guard = IncidentGuard::stage("replica-down");
    assert!(pg(&fleet, "pg3").await.is_err(), "pg3 must refuse connections while down");
    let status = lab(&["status"]);
    assert_eq!(status.status.code(), Some(3), "status exits 3 when something is down");
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(text.lines().any(|l| l.starts_with("pg3 ") && l.contains("stopped")), "{text}");
    drop(guard);
    let pg1 = pg(&fleet, "pg1").await.unwrap();
    wait_until(STAGE, "pg3 streams from pg1 again", || async {
        let n: i64 = pg1
            .query_one("SELECT count(*) FROM pg_stat_replication WHERE application_name = 'pg3' AND state = 'streaming'", &[])
            .await
            .ok()?
            .get(0);
        (n == 1).then_some(())
    })
    .await;
}

#[tokio::test]
async fn primary_down_leaves_replicas_in_recovery_and_clear_restores_the_topology() {
    let fleet = fleet();
    let guard = IncidentGuard::stage("primary-down");
    assert!(pg(&fleet, "pg0").await.is_err(), "pg0 must refuse connections while down");
    let pg1 = pg(&fleet, "pg1").await.unwrap();
    let r: bool = pg1.query_one("SELECT pg_is_in_recovery()", &[]).await.unwrap().get(0);
    assert!(r, "nothing promotes a replica on its own: the lab has no auto-failover");
    drop(guard);
    let pg0 = pg(&fleet, "pg0").await.expect("pg0 is back after clear");
    let r: bool = pg0.query_one("SELECT pg_is_in_recovery()", &[]).await.unwrap().get(0);
    assert!(!r, "pg0 is the primary again");
    wait_until(STAGE, "pg1 and pg2 stream from pg0 again", || async {
        let n: i64 = pg0
            .query_one("SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'", &[])
            .await
            .ok()?
            .get(0);
        (n == 2).then_some(())
    })
    .await;
}
