//! The `fleetdeck` command against the running lab: the JSON it promises, its
//! exit codes, and the guards around EXPLAIN. Run with `--test-threads=1`.

use std::process::{Command, Output};

use fleetdeck_lab_tests::{lab, lab_ok};
use serde_json::Value;

fn fleetdeck(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fleetdeck")).args(args).output().expect("run fleetdeck")
}

fn fleet_path() -> String {
    lab_ok(&["fleet"]).trim().to_string()
}

fn json(out: &Output) -> Value {
    assert!(out.status.success(), "fleetdeck failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("stdout is JSON")
}

#[test]
fn snapshot_json_has_every_promised_field() {
    let f = fleet_path();
    let s = json(&fleetdeck(&["snapshot", "--fleet", &f, "--json"]));
    assert!(s["taken_at"].as_str().is_some_and(|t| t.ends_with('Z')), "taken_at is RFC 3339 UTC");
    let nodes = s["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 4);
    for n in nodes {
        for key in ["name", "role", "reachable", "upstream", "replay_lag_bytes", "replay_lag_seconds"] {
            assert!(n.get(key).is_some(), "node field {key} missing: {n}");
        }
        assert!(n["connections"]["total"].is_u64() && n["connections"]["max"].is_u64());
    }
    let role = |name: &str| nodes.iter().find(|n| n["name"] == name).unwrap()["role"].clone();
    assert_eq!(role("pg0"), "primary");
    assert_eq!(role("pg3"), "replica");
    let pg3 = nodes.iter().find(|n| n["name"] == "pg3").unwrap();
    assert_eq!(pg3["upstream"], "pg1", "the cascade's upstream is discovered");
    for p in s["pools"].as_array().unwrap() {
        for key in ["name", "database", "cl_active", "cl_waiting", "sv_active", "sv_idle", "maxwait_seconds", "pool_size", "saturated"] {
            assert!(p.get(key).is_some(), "pool field {key} missing: {p}");
        }
    }
    for c in s["caches"].as_array().unwrap() {
        for key in ["name", "role", "reachable", "hit_ratio", "evicted_keys", "used_memory_bytes", "replication_offset_lag"] {
            assert!(c.get(key).is_some(), "cache field {key} missing: {c}");
        }
    }
    assert!(s["anomalies"].is_array());
    assert!(s["ai"]["generation_tokens_per_second"].as_f64().is_some_and(|t| t > 0.0), "ai rates: {}", s["ai"]);
    assert!(s["ai"]["moderation_per_second"]["allowed"].as_f64().is_some(), "moderation by decision: {}", s["ai"]);
}

#[test]
fn a_bad_fleet_file_exits_2_naming_file_line_and_field() {
    let dir = std::env::temp_dir().join(format!("fleetdeck-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "[[postgres]]\nname = \"a\"\nmonitor = \"host=x password=hunter2\"\n").unwrap();
    let out = fleetdeck(&["snapshot", "--fleet", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "a bad fleet file exits 2");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.toml:3: postgres[0].monitor: a password"), "{err}");
    assert!(!err.contains("hunter2"), "the refused secret is not echoed back: {err}");
    let missing = fleetdeck(&["topology", "--fleet", dir.join("nope.toml").to_str().unwrap()]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("cannot read"));
}

#[test]
fn fail_on_anomaly_exits_1_when_a_node_is_down() {
    let f = fleet_path();
    lab_ok(&["incident", "replica-down"]);
    let out = fleetdeck(&["snapshot", "--fleet", &f, "--json", "--fail-on-anomaly"]);
    lab_ok(&["incident", "clear"]);
    assert_eq!(out.status.code(), Some(1), "an unreachable node is an anomaly");
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    let pg3 = s["nodes"].as_array().unwrap().iter().find(|n| n["name"] == "pg3").unwrap().clone();
    assert_eq!(pg3["reachable"], false);
    assert_eq!(pg3["role"], "unknown");
    assert!(s["anomalies"].as_array().unwrap().iter().any(|a| a["kind"] == "node_unreachable" && a["subject"] == serde_json::json!({"kind": "node", "node": "pg3"})));
    let plain = fleetdeck(&["snapshot", "--fleet", &f, "--json"]);
    assert_eq!(plain.status.code(), Some(0), "without the flag, down nodes are data, not failure");
}

#[test]
fn topology_draws_the_cascade_under_its_upstream() {
    let out = fleetdeck(&["topology", "--fleet", &fleet_path()]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout).replace('\x1b', "");
    let lines: Vec<&str> = text.lines().collect();
    let at = |name: &str| lines.iter().position(|l| l.contains(&format!(" {name} ")) || l.starts_with(&format!("{name} "))).unwrap();
    assert!(lines[0].starts_with("pg0 ") && lines[0].contains("primary"), "{text}");
    let (pg1, pg3) = (at("pg1"), at("pg3"));
    assert!(pg3 == pg1 + 1 && lines[pg3].starts_with("│  └─"), "pg3 is drawn right under pg1, one level deeper:\n{text}");
    assert!(lines[pg1].contains("lag "), "edges carry lag:\n{text}");
}

#[test]
fn top_queries_lists_pg_stat_statements() {
    let out = fleetdeck(&["top-queries", "--fleet", &fleet_path(), "--node", "pg0", "--json", "--sort", "calls", "--limit", "5"]);
    let top = json(&out);
    let top = top.as_array().unwrap();
    assert!(!top.is_empty() && top.len() <= 5);
    let calls: Vec<i64> = top.iter().map(|s| s["calls"].as_i64().unwrap()).collect();
    assert!(calls.windows(2).all(|w| w[0] >= w[1]), "sorted by calls: {calls:?}");
    let out = fleetdeck(&["top-queries", "--fleet", &fleet_path(), "--node", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no PostgreSQL node 'nope'"));
}

#[test]
fn explain_refuses_multi_statement_sql_without_running_any_of_it() {
    let f = fleet_path();
    let out = fleetdeck(&["explain", "--fleet", &f, "--node", "pg0", "--sql", "SELECT 1; CREATE TABLE fleetdeck_must_not_exist ()"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("more than one statement"));
    let check = fleetdeck(&["explain", "--fleet", &f, "--node", "pg0", "--sql", "SELECT * FROM fleetdeck_must_not_exist"]);
    assert!(String::from_utf8_lossy(&check.stderr).contains("does not exist"), "nothing was created");
}

#[test]
fn explain_a_statement_by_query_id_gives_its_generic_plan() {
    let f = fleet_path();
    lab_ok(&["incident", "slow-query"]);
    std::thread::sleep(std::time::Duration::from_secs(3));
    let top = json(&fleetdeck(&["top-queries", "--fleet", &f, "--node", "pg1", "--json", "--sort", "mean", "--limit", "50"]));
    lab_ok(&["incident", "clear"]);
    let slow = top
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["query"].as_str().unwrap().contains("FROM messages WHERE user_id"))
        .expect("the slow query is in pg1's top statements")
        .clone();
    let id = slow["query_id"].as_str().unwrap();
    let plan = json(&fleetdeck(&["explain", "--fleet", &f, "--node", "pg1", "--query-id", id, "--json"]));
    assert_eq!(plan["generic"], true, "a normalised statement is explained as a generic plan");
    assert_eq!(plan["analyzed"], false, "no ANALYZE unless asked");
    assert!(plan["plan"].to_string().contains("\"Seq Scan\""), "{}", plan["plan"]);
    let text = fleetdeck(&["explain", "--fleet", &f, "--node", "pg1", "--query-id", id]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("Seq Scan on messages") && text.contains("◀ costly"), "{text}");
}

#[test]
fn explain_analyze_runs_only_on_a_replica() {
    let f = fleet_path();
    let sql = "SELECT count(*) FROM conversations";
    let out = fleetdeck(&["explain", "--fleet", &f, "--node", "pg0", "--sql", sql, "--analyze"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("only allowed on a replica"));
    let plan = json(&fleetdeck(&["explain", "--fleet", &f, "--node", "pg2", "--sql", sql, "--analyze", "--json"]));
    assert_eq!(plan["analyzed"], true);
    assert!(plan["plan"][0]["Plan"]["Actual Rows"].as_f64().is_some(), "ANALYZE reports actual rows");
    let timeout = fleetdeck(&["explain", "--fleet", &f, "--node", "pg2", "--sql", "SELECT pg_sleep(5)", "--analyze", "--timeout-ms", "200"]);
    assert_eq!(timeout.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&timeout.stderr).contains("statement timeout"), "{}", String::from_utf8_lossy(&timeout.stderr));
}

#[test]
fn scrape_keeps_vllm_names_and_unescaped_labels() {
    let s = json(&fleetdeck(&["scrape", "http://127.0.0.1:19100/metrics", "--json"]));
    let samples = s["samples"].as_array().unwrap();
    let ttft = samples
        .iter()
        .find(|x| x["name"] == "vllm:time_to_first_token_seconds_bucket")
        .expect("histogram buckets keep their vllm: name");
    assert!(ttft["labels"]["le"].is_string() && ttft["labels"]["model_name"] == "chat-large");
    assert!(ttft["value"].is_number());
    assert_eq!(s["errors"].as_array().unwrap().len(), 0, "the workload's exposition is well formed");
    let out = fleetdeck(&["scrape", "http://127.0.0.1:1/metrics"]);
    assert_eq!(out.status.code(), Some(1), "an unreachable endpoint is an error");
}

#[test]
fn watch_redraws_until_its_count() {
    let out = fleetdeck(&["watch", "--fleet", &fleet_path(), "--count", "2"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.matches("FleetDeck — lab").count(), 2, "two screens drawn");
    assert!(text.contains("#1"), "the second refresh is numbered 1");
}

#[test]
fn status_of_the_lab_is_unaffected_by_the_cli() {
    assert!(lab(&["status"]).status.success(), "the CLI tests leave every lab component running");
}
