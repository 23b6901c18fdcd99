//! The `fleetdeck` command against the running lab: the JSON it promises, its
//! exit codes, the guards around EXPLAIN, and the incident episodes `watch`
//! records. Run with `--test-threads=1`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use fleetdeck_lab_tests::{lab, lab_ok, ports, wait_until_blocking, IncidentGuard};
use serde_json::{json, Value};

mod switchover;

/// How long a staged incident may take to show (or a cleared one to go) in what
/// the CLI reports, on a loaded 2-core machine.
const STAGE: Duration = Duration::from_secs(60);

/// A scratch directory of this test process, fresh, deleted when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("fleetdeck-cli-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `fleetdeck` for a command that keeps no local store. Its data directory
/// lies under /dev/null, where nothing can be created: a command that did open
/// the store would say so instead of writing the store of whoever runs the tests.
fn fleetdeck(args: &[&str]) -> Output {
    fleetdeck_with_data(Path::new("/dev/null/fleetdeck-cli-tests"), args)
}

/// Runs `fleetdeck` with its local store in `data_dir` (`$FLEETDECK_DATA_DIR`).
fn fleetdeck_with_data(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fleetdeck"))
        .args(args)
        .env("FLEETDECK_DATA_DIR", data_dir)
        .output()
        .expect("run fleetdeck")
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
    let dir = Scratch::new("bad-fleet");
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
    // replica-down returns once pg_ctl has stopped pg3, so the one snapshot sees it down.
    let incident = IncidentGuard::stage("replica-down");
    let out = fleetdeck(&["snapshot", "--fleet", &f, "--json", "--fail-on-anomaly"]);
    drop(incident);
    assert_eq!(out.status.code(), Some(1), "an unreachable node is an anomaly");
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    let pg3 = s["nodes"].as_array().unwrap().iter().find(|n| n["name"] == "pg3").unwrap().clone();
    assert_eq!(pg3["reachable"], false, "a stopped pg3 refuses connections: {pg3}");
    assert_eq!(pg3["role"], "unknown", "an unreachable node's role is not guessed: {pg3}");
    assert!(
        s["anomalies"].as_array().unwrap().iter().any(|a| a["kind"] == "node_unreachable" && a["subject"] == json!({"kind": "node", "node": "pg3"})),
        "the anomaly names pg3 as a typed subject: {}",
        s["anomalies"]
    );
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
    let incident = IncidentGuard::stage("slow-query");
    // The injector spreads its queries over the replicas and pg_stat_statements
    // counts one only when it completes (a seq scan: seconds on a loaded
    // machine), so pg1's first is awaited, not given a fixed time.
    let slow = wait_until_blocking(STAGE, "the slow query is in pg1's top statements", || {
        let top = json(&fleetdeck(&["top-queries", "--fleet", &f, "--node", "pg1", "--json", "--sort", "mean", "--limit", "50"]));
        top.as_array()?.iter().find(|s| s["query"].as_str().is_some_and(|q| q.contains("FROM messages WHERE user_id"))).cloned()
    });
    drop(incident);
    let id = slow["query_id"].as_str().expect("query_id is a string (a 64-bit id does not fit a JSON number)");
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
    let url = format!("http://127.0.0.1:{}/metrics", ports().chatload);
    let s = json(&fleetdeck(&["scrape", &url, "--json"]));
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
    let data = Scratch::new("redraws");
    let out = fleetdeck_with_data(&data, &["watch", "--fleet", &fleet_path(), "--count", "2"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "watch exits 0 after its count: {err}");
    assert!(!err.contains("not being recorded"), "a writable data directory records incidents: {err}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.matches("FleetDeck — lab").count(), 2, "two screens drawn");
    assert!(text.contains("#1"), "the second refresh is numbered 1");
}

#[test]
fn status_of_the_lab_is_unaffected_by_the_cli() {
    assert!(lab(&["status"]).status.success(), "the CLI tests leave every lab component running");
}

/// `fleetdeck incidents --json` for the lab's fleet, with the store in `data`.
fn incidents(data: &Path, fleet: &str) -> Vec<Value> {
    let out = fleetdeck_with_data(data, &["incidents", "--fleet", fleet, "--json"]);
    match json(&out) {
        Value::Array(episodes) => episodes,
        other => panic!("incidents --json prints an array of episodes: {other}"),
    }
}

/// The replay_paused episodes of pg2 among `episodes`.
fn pg2_paused(episodes: &[Value]) -> Vec<Value> {
    episodes
        .iter()
        .filter(|e| e["kind"] == "replay_paused" && e["subject"] == json!({"kind": "node", "node": "pg2"}))
        .cloned()
        .collect()
}

/// Runs `fleetdeck watch --count N` to its end (it records episodes as it
/// watches and flushes the store before exiting).
fn watch(data: &Path, fleet: &str, count: u32) {
    let out = fleetdeck_with_data(data, &["watch", "--fleet", fleet, "--count", &count.to_string()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "watch exits 0 after its count: {err}");
    assert!(!err.contains("not being recorded"), "the scratch store must be usable: {err}");
}

fn time(episode: &Value, field: &str) -> chrono::DateTime<chrono::FixedOffset> {
    let text = episode[field].as_str().unwrap_or_else(|| panic!("{field} is an RFC 3339 string: {episode}"));
    assert!(text.ends_with('Z'), "{field} is UTC: {text}");
    chrono::DateTime::parse_from_rfc3339(text).unwrap_or_else(|e| panic!("{field} is RFC 3339 ({e}): {text}"))
}

/// `watch` records a paused replica as one episode that opens while the
/// incident lasts and closes after it, and a second `watch` (a restarted
/// console) adopts the open episode from the store instead of starting a new
/// one: the incident's start survives the restart.
#[test]
fn watch_records_one_episode_across_a_restart_and_closes_it_after_clear() {
    let fleet = fleetdeck_lab_tests::fleet();
    let f = fleet_path();
    let data = Scratch::new("episodes");
    assert!(incidents(&data, &f).is_empty(), "a fresh data directory has no episodes");

    let incident = IncidentGuard::stage("replica-lag");
    // pg_wal_replay_pause() has returned, so pg2 reports itself paused from the
    // first refresh; polled all the same, as a refresh on a loaded machine can
    // time pg2 out.
    let opened = wait_until_blocking(STAGE, "an open replay_paused episode on pg2 is stored", || {
        watch(&data, &f, 2);
        pg2_paused(&incidents(&data, &f)).into_iter().find(|e| e["cleared_at"].is_null())
    });
    let keys: std::collections::BTreeSet<&str> = opened.as_object().expect("an episode is an object").keys().map(String::as_str).collect();
    let expected = ["id", "fleet", "kind", "subject", "severity", "first_seen", "last_seen", "cleared_at", "first_message", "last_message", "peak"];
    assert_eq!(keys, expected.into(), "an episode's JSON is exactly these fields: {opened}");
    assert_eq!(opened["fleet"], fleet.name.as_str(), "episodes are kept per fleet: {opened}");
    assert_eq!(opened["severity"], "warning", "a paused replay is a warning: {opened}");
    assert!(opened["first_message"].as_str().is_some_and(|m| m.contains("pg2")), "the message names the node: {opened}");
    assert!(opened["peak"].is_object(), "peak holds the worst figure seen: {opened}");
    let first_seen = time(&opened, "first_seen");

    drop(incident);
    let cleared_after = chrono::Utc::now();
    // Replay resumed before `incident clear` returned: the second console starts
    // with the episode open in the store and no anomaly, and closes it after
    // three refreshes without it.
    let closed = wait_until_blocking(STAGE, "pg2's replay_paused episode is closed", || {
        watch(&data, &f, 5);
        pg2_paused(&incidents(&data, &f)).into_iter().find(|e| !e["cleared_at"].is_null())
    });

    let all = pg2_paused(&incidents(&data, &f));
    assert_eq!(all.len(), 1, "one pause is one episode, across both consoles: {all:#?}");
    assert_eq!(closed["id"], opened["id"], "the second console closed the row the first opened: {closed}");
    assert_eq!(
        closed["first_seen"], opened["first_seen"],
        "the restarted console adopted the open episode, keeping its start: {closed}"
    );
    let cleared_at = time(&closed, "cleared_at");
    assert!(first_seen < cleared_at, "an episode clears after it starts: {closed}");
    assert!(
        cleared_at >= cleared_after,
        "cleared_at is the first refresh without the anomaly, after the clear at {cleared_after}: {closed}"
    );
    let last_seen = time(&closed, "last_seen");
    assert!(first_seen <= last_seen && last_seen <= cleared_at, "last seen while it lasted: {closed}");
}

/// A data directory that cannot be created (its parent is a regular file, which
/// stops root too) costs the incident record, not the console: `watch` says why
/// on stderr, naming the path, and goes on drawing; `incidents`, which has
/// nothing to show without the store, fails naming it.
#[test]
fn an_unusable_data_directory_is_named_and_watch_still_draws() {
    let f = fleet_path();
    let scratch = Scratch::new("unusable");
    let blocker = scratch.join("a-file");
    std::fs::write(&blocker, "not a directory").unwrap();
    let data = blocker.join("data");
    let path = data.display().to_string();

    let out = fleetdeck_with_data(&data, &["watch", "--fleet", &f, "--count", "2"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "watch goes on without its store: {err}");
    assert!(err.contains(&path), "watch names the unusable data directory on stderr: {err}");
    let screens = String::from_utf8_lossy(&out.stdout).matches("FleetDeck — lab").count();
    assert_eq!(screens, 2, "both snapshots are drawn without the store");

    let out = fleetdeck_with_data(&data, &["incidents", "--fleet", &f, "--json"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "incidents without a store has nothing to list: exit {:?}", out.status.code());
    assert!(err.contains(&path), "incidents names the unusable data directory: {err}");
    assert!(out.stdout.is_empty(), "no partial listing on stdout: {}", String::from_utf8_lossy(&out.stdout));
}

/// Regression: `--since` far enough in the past overflowed the date
/// arithmetic and panicked (exit 101) instead of listing everything.
#[test]
fn incidents_since_before_the_calendar_lists_everything() {
    let f = fleet_path();
    let scratch = Scratch::new("since");
    let all = fleetdeck_with_data(&scratch, &["incidents", "--fleet", &f, "--json"]);
    assert!(all.status.success(), "{}", String::from_utf8_lossy(&all.stderr));
    let out = fleetdeck_with_data(&scratch, &["incidents", "--fleet", &f, "--since", "200000000d", "--json"]);
    assert_eq!(out.status.code(), Some(0), "no panic: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(json(&out), json(&all), "a cut-off before any date keeps every episode");
    let bad = fleetdeck_with_data(&scratch, &["incidents", "--fleet", &f, "--since", "2 weeks"]);
    assert_eq!(bad.status.code(), Some(2), "a malformed duration is a usage error");
    assert!(String::from_utf8_lossy(&bad.stderr).contains("2 weeks"), "and names what was wrong");
}
