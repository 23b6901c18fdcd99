//! Guarded switchover and failover against the real lab, proven with failure
//! as well as success: a writer through the primary's PgBouncer counts every
//! acknowledged transaction client-side, and whatever a test does to the
//! fleet (kill the target, the pooler, the CLI), it ends with the state the
//! action stated and the lab back on pg0.
//!
//! Every test leaves pg0 the primary (a [`Restore`] guard switches back and
//! rejoins when dropped), because the rest of this binary assumes it.

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fleetdeck_core::conninfo::ConnInfo;
use fleetdeck_lab_tests::{lab, lab_ok, pg_config};
use serde_json::Value;

use super::Scratch;

/// Acting on a loaded 2-core machine: how long a whole CLI action may take.
const ACTION: Duration = Duration::from_secs(120);

fn fleet_file() -> PathBuf {
    PathBuf::from(lab_ok(&["fleet"]).trim())
}

fn run_dir() -> PathBuf {
    fleet_file().parent().expect("the fleet file lives in the run directory").to_path_buf()
}

/// `fleetdeck ARGS` with its store in `data` (blocking; call from spawn_blocking in async tests).
fn fd(data: &Path, args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_fleetdeck"))
        .args(args)
        .env("FLEETDECK_DATA_DIR", data)
        .env("FLEETDECK_OPERATOR", "cli-tests")
        .output()
        .expect("run fleetdeck")
}

async fn fd_async(data: &Path, args: &[&str]) -> Output {
    let (data, args): (PathBuf, Vec<String>) = (data.to_path_buf(), args.iter().map(|s| s.to_string()).collect());
    tokio::task::spawn_blocking(move || fd(&data, &args.iter().map(String::as_str).collect::<Vec<_>>())).await.unwrap()
}

fn text(o: &Output) -> String {
    format!("exit {:?}\nstdout:\n{}\nstderr:\n{}", o.status.code(), String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn outcome(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("--json prints the outcome ({e}):\n{}", text(o)))
}

/// The snapshot's nodes: name → role.
fn roles(data: &Path) -> Vec<(String, String)> {
    let out = fd(data, &["snapshot", "--fleet", fleet_file().to_str().unwrap(), "--json"]);
    let s: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("snapshot: {}", text(&out)));
    s["nodes"].as_array().unwrap().iter().map(|n| (n["name"].as_str().unwrap().to_string(), n["role"].as_str().unwrap().to_string())).collect()
}

fn primary(data: &Path) -> Option<String> {
    let r = roles(data);
    let p: Vec<&(String, String)> = r.iter().filter(|(_, role)| role == "primary").collect();
    (p.len() == 1).then(|| p[0].0.clone())
}

fn switchover(data: &Path, to: &str) -> Output {
    fd(data, &["switchover", "--fleet", fleet_file().to_str().unwrap(), "--to", to, "--yes", "--confirm", to, "--json"])
}

/// Puts the lab back: every fenced or stray node rejoined, pg0 the primary.
fn restore_lab(data: &Path) {
    for _ in 0..3 {
        for (n, role) in roles(data) {
            if role == "fenced" {
                lab_ok(&["rejoin", &n]);
            }
        }
        match primary(data).as_deref() {
            Some("pg0") => {
                if roles(data).iter().all(|(_, r)| r == "primary" || r == "replica") {
                    return;
                }
            }
            Some(_) => {
                let o = switchover(data, "pg0");
                assert!(o.status.success() || o.status.code() == Some(5), "switching back to pg0: {}", text(&o));
            }
            None => {
                lab_ok(&["incident", "clear"]);
            }
        }
    }
    panic!("the lab could not be put back to pg0 as the primary: {:?}", roles(data));
}

/// Puts the lab back on drop, even when the test failed.
struct Restore(PathBuf);

impl Drop for Restore {
    fn drop(&mut self) {
        let _ = std::panic::catch_unwind(|| restore_lab(&self.0));
    }
}

/// chat_app through the PgBouncer in front of pg0 (the write path).
fn app_config(port: u16) -> tokio_postgres::Config {
    let passfile = run_dir().join("pgpass");
    let info: ConnInfo =
        format!("host=127.0.0.1 port={port} dbname=chat user=chat_app passfile={} sslmode=disable", passfile.display()).parse().unwrap();
    pg_config(&info)
}

fn port_of(kind: &str, name: &str) -> u16 {
    let p: Value = serde_json::from_str(&lab_ok(&["ports", "--json"])).unwrap();
    p[kind][name].as_u64().unwrap_or_else(|| panic!("lab ports: no {kind}.{name} in {p}")) as u16
}

async fn admin(node: &str) -> tokio_postgres::Client {
    let f = fleetdeck_lab_tests::fleet();
    let e = f.postgres.iter().find(|p| p.name == node).unwrap();
    let (c, conn) = pg_config(e.action.as_ref().unwrap()).connect(tokio_postgres::NoTls).await.expect("action login connects");
    tokio::spawn(conn);
    c
}

/// What the writer saw: every acknowledged id with when, every failure.
#[derive(Default)]
struct WriteLog {
    acks: Vec<(i64, Instant, i32)>,
    failures: Vec<(i64, Instant, String)>,
}

/// A client that commits one row per few ms through pgb0 and records each ack.
struct Writer {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<WriteLog>,
}

impl Writer {
    async fn start(table: &str) -> Writer {
        let c = admin(&primary_now().await).await;
        c.batch_execute(&format!(
            "DROP TABLE IF EXISTS {table}; CREATE TABLE {table} (id bigint PRIMARY KEY, server_port int, at timestamptz DEFAULT clock_timestamp()); GRANT ALL ON {table} TO chat_app"
        ))
        .await
        .unwrap();
        let config = app_config(port_of("pgbouncer", "pgb0"));
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let table = table.to_string();
        let task = tokio::spawn(async move {
            let mut log = WriteLog::default();
            let mut client: Option<tokio_postgres::Client> = None;
            let mut id = 0i64;
            while !flag.load(Ordering::Relaxed) {
                id += 1;
                if client.as_ref().is_none_or(|c| c.is_closed()) {
                    match config.connect(tokio_postgres::NoTls).await {
                        Ok((c, conn)) => {
                            tokio::spawn(conn);
                            client = Some(c);
                        }
                        Err(e) => {
                            log.failures.push((id, Instant::now(), format!("connect: {e}")));
                            tokio::time::sleep(Duration::from_millis(20)).await;
                            continue;
                        }
                    }
                }
                // Simple protocol: PgBouncer in transaction mode keeps no prepared statements.
                let sql = format!("INSERT INTO {table} (id, server_port) VALUES ({id}, inet_server_port()) RETURNING server_port");
                match client.as_ref().unwrap().simple_query(&sql).await {
                    Ok(msgs) => {
                        let port = msgs
                            .iter()
                            .find_map(|m| match m {
                                tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).and_then(|p| p.parse().ok()),
                                _ => None,
                            })
                            .unwrap_or(0);
                        log.acks.push((id, Instant::now(), port));
                    }
                    Err(e) => {
                        log.failures.push((id, Instant::now(), fleetdeck_core::pg::error_text(&e)));
                        client = None;
                    }
                }
                tokio::time::sleep(Duration::from_millis(4)).await;
            }
            log
        });
        Writer { stop, task }
    }

    async fn finish(self) -> WriteLog {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.unwrap()
    }
}

/// The primary now, as the nodes say (direct, not through the CLI).
async fn primary_now() -> String {
    for n in ["pg0", "pg1", "pg2", "pg3"] {
        let f = fleetdeck_lab_tests::fleet();
        let Some(e) = f.postgres.iter().find(|p| p.name == n) else { continue };
        let Ok((c, conn)) = pg_config(e.action.as_ref().unwrap()).connect(tokio_postgres::NoTls).await else { continue };
        tokio::spawn(conn);
        let Ok(r) = c.query_one("SELECT NOT pg_is_in_recovery() AND current_setting('synchronous_standby_names') <> 'fleetdeck_fenced'", &[]).await else { continue };
        if r.get::<_, bool>(0) {
            return n.to_string();
        }
    }
    panic!("no primary in the lab")
}

/// The longest gap between consecutive acks that overlaps [from, to].
fn window(acks: &[(i64, Instant, i32)], from: Instant, to: Instant) -> Duration {
    acks.windows(2)
        .filter(|w| w[1].1 >= from && w[0].1 <= to)
        .map(|w| w[1].1 - w[0].1)
        .max()
        .unwrap_or_default()
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    if v.is_empty() { f64::NAN } else { v[v.len() / 2] }
}

async fn ids_on(node: &str, table: &str) -> HashSet<i64> {
    let c = admin(node).await;
    c.query(&format!("SELECT id FROM {table}"), &[]).await.unwrap().iter().map(|r| r.get(0)).collect()
}

fn pid_of_walreceiver_blocking(node: &str) -> i32 {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let c = admin(node).await;
        fleetdeck_lab_tests::wait_until(Duration::from_secs(30), &format!("{node} has a WAL receiver"), || async {
            c.query_opt("SELECT pid FROM pg_stat_wal_receiver WHERE status = 'streaming'", &[]).await.ok().flatten().map(|r| r.get::<_, i32>(0))
        })
        .await
    })
}

fn signal(pid: i32, sig: &str) {
    let ok = std::process::Command::new("kill").args([&format!("-{sig}"), &pid.to_string()]).status().unwrap().success();
    assert!(ok, "kill -{sig} {pid}");
}

/// Waits until the journal in `data` shows step `step` started (and not ended) in an open run.
fn await_step(data: &Path, step: &str) {
    let path = data.join("fleetdeck.sqlite3");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        fleetdeck_lab_tests::wait_until(ACTION, &format!("the journal shows step {step} running"), || async {
            let store = fleetdeck_core::store::Store::open(&path).await.ok()?;
            let runs = store.open_runs(None).await.ok()?;
            runs.iter().any(|r| r.steps.iter().any(|s| s.step == step && s.ended_at.is_none())).then_some(())
        })
        .await
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_switchovers_under_load_lose_no_acknowledged_write() {
    let data = Scratch::new("switchover-load");
    let _restore = Restore(data.to_path_buf());
    tokio::task::spawn_blocking({
        let d = data.to_path_buf();
        move || restore_lab(&d)
    })
    .await
    .unwrap();
    let writer = Writer::start("fleetdeck_acks").await;
    // Let the writer reach a steady pace first.
    let pg0 = admin("pg0").await;
    fleetdeck_lab_tests::wait_until(Duration::from_secs(30), "the writer commits through pgb0", || async {
        let n: i64 = pg0.query_one("SELECT count(*) FROM fleetdeck_acks", &[]).await.ok()?.get(0);
        (n > 20).then_some(())
    })
    .await;
    let mut windows = Vec::new();
    let mut spans = Vec::new();
    let mut from = "pg0".to_string();
    for i in 0..20 {
        let to = if from == "pg0" { "pg1" } else { "pg0" }.to_string();
        let t0 = Instant::now();
        let out = fd_async(&data, &["switchover", "--fleet", fleet_file().to_str().unwrap(), "--to", &to, "--yes", "--confirm", &to, "--json"]).await;
        let t1 = Instant::now();
        assert_eq!(out.status.code(), Some(0), "switchover {i} {from} → {to} must be done and verified: {}", text(&out));
        let o = outcome(&out);
        let steps = o["steps"].as_array().unwrap();
        let ms = |id: &str| steps.iter().filter(|s| s["id"].as_str().is_some_and(|x| x.starts_with(id)) && s["phase"] == "ok").map(|s| s["ms"].as_f64().unwrap()).sum::<f64>();
        spans.push((from.clone(), to.clone(), t0, t1, ms("promote")));
        let old = from.clone();
        tokio::task::spawn_blocking(move || lab_ok(&["rejoin", &old])).await.unwrap();
        from = to;
    }
    let log = writer.finish().await;
    for (i, (_, _, t0, t1, _)) in spans.iter().enumerate() {
        let w = window(&log.acks, *t0, *t1);
        windows.push(w.as_secs_f64());
        eprintln!("switchover {i}: longest gap between acknowledged writes {:.0} ms", w.as_secs_f64() * 1000.0);
    }
    let now = primary_now().await;
    let stored = ids_on(&now, "fleetdeck_acks").await;
    let missing: Vec<i64> = log.acks.iter().map(|a| a.0).filter(|id| !stored.contains(id)).collect();
    let max = windows.iter().cloned().fold(0.0, f64::max);
    eprintln!(
        "BENCH switchover x{}: write unavailability median {:.0} ms, max {:.0} ms; {} acknowledged writes, {} failed, {} lost",
        windows.len(),
        median(&mut windows.clone()) * 1000.0,
        max * 1000.0,
        log.acks.len(),
        log.failures.len(),
        missing.len()
    );
    assert!(log.acks.len() > 200, "the writer must have written throughout: {} acks", log.acks.len());
    assert!(missing.is_empty(), "every acknowledged write is on the current primary {now}; missing: {:?}", &missing[..missing.len().min(20)]);
    assert!(log.failures.is_empty(), "clients queue through a switchover, none fails: {:?}", &log.failures[..log.failures.len().min(5)]);
    // One writer at a time: the server that acknowledged changes exactly once per
    // switchover, and never goes back and forth inside one.
    let mut changes = 0;
    for w in log.acks.windows(2) {
        if w[0].2 != w[1].2 {
            changes += 1;
        }
    }
    assert_eq!(changes, spans.len(), "the acknowledging server changed {changes} times for {} switchovers: two nodes took writes", spans.len());
    for (i, (from, to, t0, t1, _)) in spans.iter().enumerate() {
        let (pf, pt) = (i32::from(port_of("postgres", from)), i32::from(port_of("postgres", to)));
        let before: BTreeSet<i32> = log.acks.iter().filter(|a| a.1 < *t0).rev().take(20).map(|a| a.2).collect();
        let after: BTreeSet<i32> = log.acks.iter().filter(|a| a.1 > *t1).take(20).map(|a| a.2).collect();
        assert!(before.iter().all(|p| *p == pf), "before switchover {i} writes went to {from} ({pf}), saw {before:?}");
        assert!(after.is_empty() || after.iter().all(|p| *p == pt), "after switchover {i} writes go to {to} ({pt}), saw {after:?}");
    }
    let verify = fd_async(&data, &["audit", "verify"]).await;
    assert!(verify.status.success(), "the audit chain of 20 switchovers verifies: {}", text(&verify));
}
