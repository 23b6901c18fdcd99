//! The default lab's topology and services, as the servers themselves report them.

use std::time::Duration;

use fleetdeck_lab_tests::*;

#[tokio::test]
async fn primary_replicas_and_the_cascade_stream_as_claimed() {
    let fleet = fleet();
    assert_eq!(fleet.postgres.len(), 4, "default lab: 1 primary + 3 replicas");
    let mut recovery = Vec::new();
    for node in ["pg0", "pg1", "pg2", "pg3"] {
        let c = pg(&fleet, node).await.unwrap_or_else(|e| panic!("{node} must accept the monitor login: {e}"));
        let r: bool = c.query_one("SELECT pg_is_in_recovery()", &[]).await.unwrap().get(0);
        recovery.push(r);
        let n: i64 = c.query_one("SELECT count(*) FROM pg_stat_statements", &[]).await.unwrap().get(0);
        assert!(n >= 0, "pg_stat_statements must be readable on {node}");
        let member: bool = c
            .query_one("SELECT pg_has_role(current_user, 'pg_monitor', 'MEMBER')", &[])
            .await
            .unwrap()
            .get(0);
        assert!(member, "the monitor login must be a pg_monitor member on {node}");
    }
    assert_eq!(recovery, [false, true, true, true], "pg0 alone is out of recovery");

    // Walsender rows on each upstream name their downstream (application_name).
    let streaming = |node: &'static str| {
        let fleet = fleet.clone();
        async move {
            let c = pg(&fleet, node).await.unwrap();
            let rows = c
                .query("SELECT application_name FROM pg_stat_replication WHERE state = 'streaming' ORDER BY 1", &[])
                .await
                .unwrap();
            rows.iter().map(|r| r.get::<_, String>(0)).collect::<Vec<_>>()
        }
    };
    assert_eq!(streaming("pg0").await, ["pg1", "pg2"], "pg1 and pg2 stream from the primary");
    assert_eq!(streaming("pg1").await, ["pg3"], "pg3 cascades from pg1 (second tier)");
    assert!(streaming("pg3").await.is_empty(), "nothing streams from the leaf");

    let pg3 = pg(&fleet, "pg3").await.unwrap();
    let row = pg3.query_one("SELECT status, sender_port FROM pg_stat_wal_receiver", &[]).await.unwrap();
    assert_eq!(row.get::<_, String>(0), "streaming");
    assert_eq!(row.get::<_, i32>(1), 16001, "pg3's WAL receiver must point at pg1's port");

    let pg0 = pg(&fleet, "pg0").await.unwrap();
    let slots = pg0
        .query("SELECT slot_name::text, active FROM pg_replication_slots ORDER BY 1", &[])
        .await
        .unwrap();
    let slots: Vec<(String, bool)> = slots.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(slots, [("pg1".into(), true), ("pg2".into(), true)], "one active physical slot per direct replica");
}

#[tokio::test]
async fn every_pgbouncer_answers_show_pools_for_chat() {
    let fleet = fleet();
    assert_eq!(fleet.pgbouncer.len(), 4, "one PgBouncer per PostgreSQL node");
    for b in &fleet.pgbouncer {
        let c = pgbouncer(&fleet, &b.name).await;
        let pool = show_pool(&c, "chat").await;
        assert_eq!(pool["pool_mode"], "transaction", "{}: the lab pools by transaction", b.name);
        assert!(pool.contains_key("cl_waiting") && pool.contains_key("maxwait_us"), "{}: {pool:?}", b.name);
    }
}

#[tokio::test]
async fn redis_replicas_report_their_link_up() {
    let fleet = fleet();
    let master = redis_info(&fleet, "redis0", "replication").await;
    assert_eq!(master["role"], "master");
    assert_eq!(master["connected_slaves"], "2", "redis0 has two replicas");
    for r in ["redis1", "redis2"] {
        let info = redis_info(&fleet, r, "replication").await;
        assert_eq!(info["role"], "slave", "{r}");
        assert_eq!(info["master_link_status"], "up", "{r} must be linked to redis0");
    }
}

#[tokio::test]
async fn every_prometheus_target_is_up_and_the_generator_metrics_arrive() {
    let fleet = fleet();
    let targets = wait_until(Duration::from_secs(60), "every Prometheus target is up", || {
        let fleet = fleet.clone();
        async move {
            let t = prometheus(&fleet, "/api/v1/targets").await;
            let active = t["data"]["activeTargets"].as_array()?.clone();
            active.iter().all(|t| t["health"] == "up").then_some(active)
        }
    })
    .await;
    // 4 postgres_exporters + 3 redis_exporters + chatload.
    assert_eq!(targets.len(), 8, "targets: {targets:#?}");
    for metric in [
        "vllm:num_requests_running",
        "vllm:generation_tokens_total",
        "vllm:time_to_first_token_seconds_bucket",
        "moderation_requests_total",
        "pg_up",
        "redis_up",
    ] {
        let v = wait_until(Duration::from_secs(30), &format!("{metric} is in Prometheus"), || {
            let fleet = fleet.clone();
            async move {
                let r = prometheus(&fleet, &format!("/api/v1/query?query={}", urlencode(metric))).await;
                let n = r["data"]["result"].as_array().map_or(0, |a| a.len());
                (n > 0).then_some(n)
            }
        })
        .await;
        assert!(v > 0, "{metric}");
    }
}

#[tokio::test]
async fn the_workload_writes_on_the_primary_and_replicas_follow() {
    let fleet = fleet();
    let pg0 = pg(&fleet, "pg0").await.unwrap();
    let pg3 = pg(&fleet, "pg3").await.unwrap();
    let count = "SELECT count(*) FROM messages";
    let before: i64 = pg0.query_one(count, &[]).await.unwrap().get(0);
    let after = wait_until(Duration::from_secs(20), "new messages are written", || {
        let pg0 = &pg0;
        async move {
            let n: i64 = pg0.query_one(count, &[]).await.ok()?.get(0);
            (n > before).then_some(n)
        }
    })
    .await;
    wait_until(Duration::from_secs(20), "the cascade replica sees the new messages", || {
        let pg3 = &pg3;
        async move {
            let n: i64 = pg3.query_one(count, &[]).await.ok()?.get(0);
            (n >= after).then_some(())
        }
    })
    .await;
}

#[tokio::test]
async fn up_twice_is_harmless_and_status_says_everything_runs() {
    let pid = || std::fs::read_to_string(lab_ok(&["fleet"]).trim().replace("fleet.toml", "pid/chatload.pid")).unwrap();
    let before = pid();
    lab_ok(&["up"]);
    assert_eq!(pid(), before, "a second up must not restart what runs");
    let status = lab_ok(&["status"]);
    for name in ["pg0", "pg3", "pgb3", "redis2", "pgx3", "redisx2", "prometheus", "chatload"] {
        let line = status.lines().find(|l| l.split_whitespace().next() == Some(name));
        assert!(line.is_some_and(|l| l.contains("running")), "status must show {name} running:\n{status}");
    }
    assert!(status.contains("running (primary)"), "status names the primary:\n{status}");
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'-' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
