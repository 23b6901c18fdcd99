//! The default lab's topology and services, as the servers themselves report them.

use std::time::Duration;

use fleetdeck_lab_tests::*;

/// The lab's ports as `lab/lab ports --json` reports them: the lab may run on a
/// port offset (FLEETDECK_LAB_PORT_OFFSET), so no test names a port itself.
fn lab_ports() -> serde_json::Value {
    serde_json::from_str(&lab_ok(&["ports", "--json"])).expect("lab/lab ports --json prints JSON")
}

/// The port of node `name` of `kind` ("postgres", "redis_tls"...) in `lab_ports()`.
fn port_of(ports: &serde_json::Value, kind: &str, name: &str) -> u16 {
    ports[kind][name]
        .as_u64()
        .and_then(|p| u16::try_from(p).ok())
        .unwrap_or_else(|| panic!("lab/lab ports has no {kind} port for {name}: {ports}"))
}

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
    let pg1_port = i32::from(port_of(&lab_ports(), "postgres", "pg1"));
    assert_eq!(row.get::<_, i32>(1), pg1_port, "pg3's WAL receiver must point at pg1's port");

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
async fn the_fleet_file_and_lab_ports_agree() {
    let fleet = fleet();
    let ports = lab_ports();
    for node in &fleet.postgres {
        let r = node.monitor.resolve(&|k| std::env::var(k).ok()).expect("conninfo resolves");
        assert_eq!(r.port, port_of(&ports, "postgres", &node.name), "{}'s port", node.name);
    }
    for b in &fleet.pgbouncer {
        let r = b.admin.resolve(&|k| std::env::var(k).ok()).expect("conninfo resolves");
        assert_eq!(r.port, port_of(&ports, "pgbouncer", &b.name), "{}'s port", b.name);
    }
    for r in &fleet.redis {
        let port = port_of(&ports, "redis", &r.name);
        assert_eq!(r.url, format!("redis://127.0.0.1:{port}"), "{}'s URL", r.name);
    }
    let prom = ports["prometheus"].as_u64().expect("a Prometheus port");
    assert_eq!(fleet.prometheus.as_ref().unwrap().url, format!("http://127.0.0.1:{prom}"));
    let chatload = ports["chatload"].as_u64().expect("a chatload port");
    let scrape = fleet.scrape.iter().find(|s| s.name == "chatload").expect("the fleet scrapes chatload");
    assert_eq!(scrape.url, format!("http://127.0.0.1:{chatload}/metrics"));
}

/// Redis's TLS port answers a client that checks the server against the lab's CA,
/// when the Debian build has TLS (`lab/lab ports` then names the port and the CA).
#[test]
fn redis0_answers_over_tls_checked_against_the_lab_ca() {
    let ports = lab_ports();
    let Some(ca) = ports["redis_tls_ca"].as_str() else {
        assert_eq!(ports["redis_tls"], serde_json::json!({}), "a TLS port without a CA: {ports}");
        return;
    };
    let port = port_of(&ports, "redis_tls", "redis0").to_string();
    for host in ["127.0.0.1", "localhost"] {
        let out = std::process::Command::new("redis-cli")
            .args(["--tls", "--cacert", ca, "-h", host, "-p", &port, "PING"])
            .output()
            .expect("run redis-cli");
        let said = String::from_utf8_lossy(&out.stdout);
        assert_eq!(said.trim(), "PONG", "redis0 over TLS via {host}:{port}: {}", String::from_utf8_lossy(&out.stderr));
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
