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
use fleetdeck_lab_tests::{lab_ok, pg_config};
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

/// Puts the lab back: every fenced or stray node rejoined, pg0 the primary.
fn restore_lab(data: &Path) {
    for _ in 0..3 {
        if roles(data).iter().any(|(_, r)| r == "unknown") {
            lab_ok(&["incident", "clear"]); // starts what is stopped, rejoins what forked
        }
        for (n, role) in roles(data) {
            if role == "fenced" {
                lab_ok(&["rejoin", &n]);
            }
        }
        match primary(data).as_deref() {
            Some("pg0") => {
                if roles(data).iter().all(|(_, r)| r == "primary" || r == "replica") {
                    restore_layout();
                    return;
                }
            }
            Some(_) => {
                let o = fd(data, &[
                    "switchover", "--fleet", fleet_file().to_str().unwrap(), "--to", "pg0", "--yes", "--confirm", "pg0", "--json",
                    "--override", "target_lag=test cleanup", "--override", "most_advanced=test cleanup",
                ]);
                assert!(o.status.success() || o.status.code() == Some(5), "switching back to pg0: {}", text(&o));
            }
            None => {
                lab_ok(&["incident", "clear"]);
            }
        }
    }
    panic!("the lab could not be put back to pg0 as the primary: {:?}", roles(data));
}

/// Puts the lab's built layout back once pg0 is the primary again: each
/// replica streams from the upstream it was built with (`$RUN/topology`:
/// switchovers make cascades direct), and each pgbK (K ≥ 1) is in front of
/// pgK again (a switchover re-points every pooler that routes to the primary).
fn restore_layout() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let topology = std::fs::read_to_string(run_dir().join("topology")).unwrap();
        for line in topology.lines() {
            let Some((k, up)) = line.split_once(' ') else { continue };
            let (node, upstream) = (format!("pg{k}"), format!("pg{up}"));
            let up_port = port_of("postgres", &upstream);
            let c = admin(&node).await;
            let conninfo: String = c.query_one("SELECT current_setting('primary_conninfo')", &[]).await.unwrap().get(0);
            if conninfo.contains(&format!("port={up_port}")) {
                continue;
            }
            admin(&upstream)
                .await
                .execute("SELECT pg_create_physical_replication_slot($1, true) WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)", &[&node])
                .await
                .unwrap();
            let moved = fleetdeck_core::action::switchover::replace_host_port(&conninfo, "127.0.0.1", up_port);
            let sql: String = c.query_one("SELECT format('ALTER SYSTEM SET primary_conninfo = %L', $1::text)", &[&moved]).await.unwrap().get(0);
            c.batch_execute(&sql).await.unwrap();
            c.batch_execute("SELECT pg_reload_conf()").await.unwrap();
            fleetdeck_lab_tests::wait_until(Duration::from_secs(60), &format!("{node} streams from {upstream} again"), || async {
                let r = c.query_opt("SELECT sender_port FROM pg_stat_wal_receiver WHERE status = 'streaming'", &[]).await.ok()??;
                (r.get::<_, Option<i32>>(0) == Some(i32::from(up_port))).then_some(())
            })
            .await;
        }
        // Slots a replica left on a node it streamed from meanwhile hold WAL
        // (slot_retaining_wal): keep only the built layout's.
        let wanted: Vec<(String, String)> =
            topology.lines().filter_map(|l| l.split_once(' ')).map(|(k, up)| (format!("pg{up}"), format!("pg{k}"))).collect();
        let nodes: Vec<String> = std::iter::once("pg0".to_string()).chain(wanted.iter().map(|(_, k)| k.clone())).collect();
        for n in &nodes {
            let c = admin(n).await;
            for r in c.query("SELECT slot_name::text FROM pg_replication_slots WHERE NOT active", &[]).await.unwrap() {
                let slot: String = r.get(0);
                if !wanted.contains(&(n.clone(), slot.clone())) {
                    c.execute("SELECT pg_drop_replication_slot($1)", &[&slot]).await.unwrap();
                }
            }
        }
        let f = fleetdeck_lab_tests::fleet();
        for (k, _) in topology.lines().filter_map(|l| l.split_once(' ')) {
            let (pooler, node) = (format!("pgb{k}"), format!("pg{k}"));
            let ini = run_dir().join(format!("pgbouncer/{pooler}.ini"));
            let text = std::fs::read_to_string(&ini).unwrap();
            let port = port_of("postgres", &node);
            let put = fleetdeck_core::action::pooler::rewrite_database(&text, "chat", "127.0.0.1", port).unwrap();
            if put == text {
                continue;
            }
            std::fs::write(&ini, put).unwrap();
            let e = f.pgbouncer.iter().find(|p| p.name == pooler).unwrap();
            let (c, conn) = pg_config(e.action.as_ref().unwrap()).connect(tokio_postgres::NoTls).await.unwrap();
            tokio::spawn(conn);
            c.simple_query("RELOAD").await.unwrap();
        }
    });
}

/// Puts the lab back on drop, even when the test failed.
struct Restore(PathBuf);

impl Restore {
    /// Puts the lab back now (a test before may have failed half-way) and again when dropped.
    fn new(data: &Path) -> Restore {
        let d = data.to_path_buf();
        std::thread::spawn(move || restore_lab(&d)).join().expect("the lab is put back before the test");
        Restore(data.to_path_buf())
    }
}

impl Drop for Restore {
    fn drop(&mut self) {
        // Its own thread: the tests that hold it may be inside a runtime.
        let data = self.0.clone();
        let _ = std::thread::spawn(move || restore_lab(&data)).join();
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
            // The writer's pace: one commit (or reconnect attempt) per tick.
            let mut tick = tokio::time::interval(Duration::from_millis(4));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            while !flag.load(Ordering::Relaxed) {
                tick.tick().await;
                id += 1;
                if client.as_ref().is_none_or(|c| c.is_closed()) {
                    match config.connect(tokio_postgres::NoTls).await {
                        Ok((c, conn)) => {
                            tokio::spawn(conn);
                            client = Some(c);
                        }
                        Err(e) => {
                            log.failures.push((id, Instant::now(), format!("connect: {e}")));
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

async fn pid_of_walreceiver(node: &str) -> i32 {
    let c = admin(node).await;
    fleetdeck_lab_tests::wait_until(Duration::from_secs(30), &format!("{node} has a WAL receiver"), || async {
        c.query_opt("SELECT pid FROM pg_stat_wal_receiver WHERE status = 'streaming'", &[]).await.ok().flatten().map(|r| r.get::<_, i32>(0))
    })
    .await
}

fn pid_of_walreceiver_blocking(node: &str) -> i32 {
    tokio::runtime::Runtime::new().unwrap().block_on(pid_of_walreceiver(node))
}

fn signal(pid: i32, sig: &str) {
    let ok = std::process::Command::new("kill").args([&format!("-{sig}"), &pid.to_string()]).status().unwrap().success();
    assert!(ok, "kill -{sig} {pid}");
}

/// The store file opened read-only (never migrated: its console owns it).
async fn read_only(path: &Path) -> Option<sqlx::SqlitePool> {
    if !path.exists() {
        return None;
    }
    sqlx::SqlitePool::connect(&format!("sqlite://{}?mode=ro", path.display())).await.ok()
}

/// Waits until the journal in `data` shows step `step` started (and not
/// ended) in an open run; fails with the CLI's output if `child` exits first.
fn await_step(data: &Path, step: &str, child: &mut std::process::Child) {
    let path = data.join("fleetdeck.sqlite3");
    let rt = tokio::runtime::Runtime::new().unwrap();
    fleetdeck_lab_tests::wait_until_blocking(ACTION, &format!("the journal shows step {step} running"), || {
        if let Some(status) = child.try_wait().unwrap() {
            let mut out = String::new();
            use std::io::Read;
            if let Some(mut o) = child.stdout.take() {
                let _ = o.read_to_string(&mut out);
            }
            panic!("the CLI exited ({status}) before step {step} ran:\n{out}");
        }
        // Read-only, no migrations: the CLI owns the store and may be creating it.
        rt.block_on(async {
            let n: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM action_steps s JOIN action_runs r ON r.id = s.run_id
                 WHERE s.step = ? AND s.ended_at IS NULL AND r.ended_at IS NULL",
            )
            .bind(step)
            .fetch_one(&read_only(&path).await?)
            .await
            .ok()?;
            (n > 0).then_some(())
        })
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_switchovers_under_load_lose_no_acknowledged_write() {
    let data = Scratch::new("switchover-load");
    let _restore = Restore::new(&data);
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
        // Each switchover starts from flowing writes: await 20 commits on the new
        // primary since this one ended (a stall after RESUME would otherwise run
        // into the next switchover and be measured there).
        let (new, port) = (admin(&to).await, i32::from(port_of("postgres", &to)));
        fleetdeck_lab_tests::wait_until(Duration::from_secs(60), &format!("writes flow to {to} again"), || async {
            let n: i64 = new
                .query_one(
                    "SELECT count(*) FROM fleetdeck_acks WHERE server_port = $1 AND at > clock_timestamp() - make_interval(secs => $2)",
                    &[&port, &t1.elapsed().as_secs_f64()],
                )
                .await
                .ok()?
                .get(0);
            (n >= 20).then_some(())
        })
        .await;
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
    // Between two switchovers every write went to the primary of that time.
    for (i, (from, _, t0, _, _)) in spans.iter().enumerate() {
        let pf = i32::from(port_of("postgres", from));
        let since = if i == 0 { None } else { Some(spans[i - 1].3) };
        let between: BTreeSet<i32> = log.acks.iter().filter(|a| a.1 < *t0 && since.is_none_or(|s| a.1 > s)).map(|a| a.2).collect();
        assert_eq!(between, BTreeSet::from([pf]), "before switchover {i} every write went to {from} ({pf})");
    }
    let verify = fd_async(&data, &["audit", "verify"]).await;
    assert!(verify.status.success(), "the audit chain of 20 switchovers verifies: {}", text(&verify));
}

/// A copy of the lab's fleet file with an `[actions]` table appended.
fn fleet_with(dir: &Path, actions: &str) -> String {
    let text = std::fs::read_to_string(fleet_file()).unwrap();
    let path = dir.join("fleet-actions.toml");
    std::fs::write(&path, format!("{text}\n[actions]\n{actions}\n")).unwrap();
    path.display().to_string()
}

fn check<'a>(o: &'a Value, id: &str) -> Vec<&'a Value> {
    o["checks"].as_array().unwrap().iter().filter(|c| c["id"] == id).collect()
}

/// The fleet is as before a refused action: pg0 the only primary, nothing fenced, pgb0 not paused.
fn assert_unchanged(data: &Path, why: &str) {
    let r = roles(data);
    assert_eq!(primary(data).as_deref(), Some("pg0"), "{why}: pg0 stays the primary: {r:?}");
    assert!(r.iter().all(|(_, role)| role != "fenced"), "{why}: nothing is fenced: {r:?}");
    let s: Value = serde_json::from_slice(&fd(data, &["snapshot", "--fleet", fleet_file().to_str().unwrap(), "--json"]).stdout).unwrap();
    let paused: Vec<&Value> = s["poolers"].as_array().unwrap().iter().filter(|p| !p["paused"].as_array().unwrap().is_empty()).collect();
    assert!(paused.is_empty(), "{why}: no pooler is paused: {paused:?}");
}

/// Runs a switchover that must be refused by `check_id`, and proves nothing changed.
fn refused(data: &Path, fleet: &str, to: &str, check_id: &str) -> Value {
    let out = fd(data, &["switchover", "--fleet", fleet, "--to", to, "--yes", "--confirm", to, "--json"]);
    assert_eq!(out.status.code(), Some(3), "refused by preflight, exit 3: {}", text(&out));
    let o = outcome(&out);
    let failed: Vec<&Value> = check(&o, check_id).into_iter().filter(|c| c["status"] == "fail").collect();
    assert!(!failed.is_empty(), "the refusal names check {check_id}: {}", serde_json::to_string_pretty(&o["checks"]).unwrap());
    assert!(o["steps"].as_array().unwrap().is_empty(), "a refused action runs no step");
    assert_unchanged(data, &format!("refused by {check_id}"));
    o
}

#[test]
fn a_cascade_grandchild_is_refused_as_target() {
    let data = Scratch::new("refuse-cascade");
    let _restore = Restore::new(&data);
    let o = refused(&data, fleet_file().to_str().unwrap(), "pg3", "target_direct_child");
    let ev = check(&o, "target_direct_child")[0]["evidence"].as_str().unwrap().to_string();
    assert!(ev.contains("upstream pg1"), "the evidence says where pg3 streams from: {ev}");
}

#[test]
fn a_target_with_replay_paused_is_refused() {
    let data = Scratch::new("refuse-paused");
    let _restore = Restore::new(&data);
    let _incident = fleetdeck_lab_tests::IncidentGuard::stage("replica-lag");
    // The lab pauses replay on a direct replica with nothing below it: find it.
    let s: Value = serde_json::from_slice(&fd(&data, &["snapshot", "--fleet", fleet_file().to_str().unwrap(), "--json"]).stdout).unwrap();
    let paused = s["nodes"].as_array().unwrap().iter().find(|n| n["replay_paused"] == true).expect("replica-lag pauses a replica")["name"]
        .as_str()
        .unwrap()
        .to_string();
    refused(&data, fleet_file().to_str().unwrap(), &paused, "target_replay");
}

#[test]
fn a_target_over_the_lag_limit_is_refused_and_an_override_needs_a_reason() {
    let data = Scratch::new("refuse-lag");
    let _restore = Restore::new(&data);
    let fleet = fleet_with(&data, "max_lag_bytes = 16384");
    let receiver = pid_of_walreceiver_blocking("pg2");
    signal(receiver, "STOP");
    struct Cont(i32);
    impl Drop for Cont {
        fn drop(&mut self) {
            signal(self.0, "CONT");
        }
    }
    let _cont = Cont(receiver);
    // The workload keeps writing; pg2 receives nothing.
    fleetdeck_lab_tests::wait_until_blocking(Duration::from_secs(60), "pg2 lags more than 16 KiB", || {
        let s: Value = serde_json::from_slice(&fd(&data, &["snapshot", "--fleet", &fleet, "--json"]).stdout).ok()?;
        let lag = s["nodes"].as_array()?.iter().find(|n| n["name"] == "pg2")?["replay_lag_bytes"].as_u64()?;
        (lag > 16384).then_some(())
    });
    let o = refused(&data, &fleet, "pg2", "target_lag");
    assert_eq!(check(&o, "target_lag")[0]["overridable"], true, "lag can be overridden with a reason (the catch-up wait still bounds it)");
    // A typed reason makes it an audited override; the catch-up bound still applies.
    let dry = fd(&data, &["switchover", "--fleet", &fleet, "--to", "pg2", "--dry-run", "--json", "--override", "target_lag=drill: lag accepted"]);
    let d = outcome(&dry);
    assert_eq!(check(&d, "target_lag")[0]["overridden"], "drill: lag accepted", "the override carries its reason: {d}");
}

#[test]
fn two_primaries_refuse_a_switchover() {
    let data = Scratch::new("refuse-two");
    let _restore = Restore::new(&data);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        admin("pg2").await.batch_execute("SELECT pg_promote()").await.unwrap();
    });
    fleetdeck_lab_tests::wait_until_blocking(Duration::from_secs(30), "pg2 is out of recovery", || {
        roles(&data).iter().any(|(n, r)| n == "pg2" && r == "primary").then_some(())
    });
    let out = fd(&data, &["switchover", "--fleet", fleet_file().to_str().unwrap(), "--to", "pg1", "--yes", "--confirm", "pg1", "--json"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let o = outcome(&out);
    let c = check(&o, "one_primary");
    assert_eq!(c[0]["status"], "fail", "two nodes out of recovery refuse it: {o}");
    assert!(c[0]["evidence"].as_str().unwrap().contains("pg2"), "the evidence names both: {}", c[0]["evidence"]);
    // pg2 is on a newer timeline now: stop it, so the lab rejoins it under pg0.
    let pgdata = run_dir().join("pg/pg2");
    let st = std::process::Command::new("runuser")
        .args(["-u", "postgres", "--", "/usr/lib/postgresql/15/bin/pg_ctl", "-D", pgdata.to_str().unwrap(), "-m", "fast", "-w", "stop"])
        .status()
        .unwrap();
    assert!(st.success(), "pg2 stops");
    lab_ok(&["rejoin", "pg2"]);
}

#[test]
fn an_unreachable_pooler_refuses_a_switchover() {
    let data = Scratch::new("refuse-pooler");
    let _restore = Restore::new(&data);
    let pid: i32 = std::fs::read_to_string(run_dir().join("pid/pgb2.pid")).unwrap().trim().parse().unwrap();
    signal(pid, "STOP");
    struct Cont(i32);
    impl Drop for Cont {
        fn drop(&mut self) {
            signal(self.0, "CONT");
        }
    }
    let _cont = Cont(pid);
    let o = refused(&data, fleet_file().to_str().unwrap(), "pg1", "poolers");
    let ev: Vec<String> = check(&o, "poolers").iter().map(|c| c["evidence"].as_str().unwrap().to_string()).collect();
    assert!(ev.iter().any(|e| e.contains("pgb2") && e.contains("unreachable")), "the unreachable pooler is named: {ev:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_open_transaction_on_the_write_path_refuses_a_switchover() {
    let data = Scratch::new("refuse-xact");
    let _restore = Restore::new(&data);
    let (c, conn) = app_config(port_of("pgbouncer", "pgb0")).connect(tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    c.batch_execute("BEGIN; SELECT 1").await.unwrap(); // idle in transaction through pgb0
    let pg0 = admin("pg0").await;
    fleetdeck_lab_tests::wait_until(Duration::from_secs(30), "the session is idle in transaction for over a second", || async {
        let n: i64 = pg0
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE usename = 'chat_app' AND application_name = 'fleetdeck-lab-tests'
                   AND state = 'idle in transaction' AND now() - state_change > interval '1.2 seconds'",
                &[],
            )
            .await
            .ok()?
            .get(0);
        (n > 0).then_some(())
    })
    .await;
    let d = data.to_path_buf();
    let o = tokio::task::spawn_blocking(move || refused(&d, fleet_file().to_str().unwrap(), "pg1", "write_transactions")).await.unwrap();
    let ev = check(&o, "write_transactions")[0]["evidence"].as_str().unwrap().to_string();
    assert!(ev.contains("idle in transaction") && ev.contains("chat_app"), "the evidence shows the session: {ev}");
    c.batch_execute("ROLLBACK").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_action_holding_the_lock_refuses_a_switchover() {
    let data = Scratch::new("refuse-lock");
    let _restore = Restore::new(&data);
    let holder = admin("pg0").await;
    let (k1, k2) = fleetdeck_core::action::ADVISORY_LOCK;
    holder.query_one("SELECT pg_advisory_lock($1, $2)", &[&k1, &k2]).await.unwrap();
    let d = data.to_path_buf();
    let o = tokio::task::spawn_blocking(move || refused(&d, fleet_file().to_str().unwrap(), "pg1", "lock")).await.unwrap();
    assert!(check(&o, "lock")[0]["evidence"].as_str().unwrap().contains("advisory lock on pg0 is held"), "{}", o["checks"]);
    holder.query_one("SELECT pg_advisory_unlock($1, $2)", &[&k1, &k2]).await.unwrap();
}

/// A switchover stuck in its catch-up wait: the target's WAL receiver is
/// stopped (after WAL it has not received was written), so the pause is held
/// and the old primary fenced until `release`.
struct Stuck {
    child: std::process::Child,
    receiver: i32,
}

impl Drop for Stuck {
    fn drop(&mut self) {
        self.release();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Stuck {
    fn start(data: &Path, fleet: &str, to: &str) -> Stuck {
        let receiver = pid_of_walreceiver_blocking(to);
        signal(receiver, "STOP");
        // The workload keeps writing: wait until the primary has WAL the target lacks.
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let (p, t) = (admin("pg0").await, admin(to).await);
            fleetdeck_lab_tests::wait_until(Duration::from_secs(60), &format!("pg0 has WAL {to} did not receive"), || async {
                let a: String = p.query_one("SELECT pg_current_wal_flush_lsn()::text", &[]).await.ok()?.get(0);
                let b: Option<String> = t.query_one("SELECT pg_last_wal_receive_lsn()::text", &[]).await.ok()?.get(0);
                (fleetdeck_core::action::lsn_bytes(&a)? > fleetdeck_core::action::lsn_bytes(&b?)?).then_some(())
            })
            .await
        });
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_fleetdeck"))
            .args(["switchover", "--fleet", fleet, "--to", to, "--yes", "--confirm", to, "--json"])
            // Its receiver is stopped: it lags, and a sibling may be ahead. Both are
            // overridable with a reason; the catch-up wait still bounds it.
            .args(["--override", "target_lag=test: receiver stopped on purpose", "--override", "most_advanced=test: receiver stopped on purpose"])
            .env("FLEETDECK_DATA_DIR", data)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stuck = Stuck { child, receiver };
        await_step(data, &format!("catchup:{to}"), &mut stuck.child);
        stuck
    }

    fn release(&self) {
        let _ = std::process::Command::new("kill").args(["-CONT", &self.receiver.to_string()]).status();
    }

    /// Waits for the CLI to exit and returns its output.
    fn wait(mut self) -> Output {
        let mut out = String::new();
        let mut err = String::new();
        use std::io::Read;
        if let Some(mut o) = self.child.stdout.take() {
            let _ = o.read_to_string(&mut out);
        }
        if let Some(mut e) = self.child.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        let status = self.child.wait().unwrap();
        Output { status, stdout: out.into_bytes(), stderr: err.into_bytes() }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_target_that_dies_before_promotion_rolls_back_with_writes_resumed() {
    let data = Scratch::new("fail-target");
    let _restore = Restore::new(&data);
    let writer = Writer::start("fleetdeck_acks_fail_target").await;
    let fleet = fleet_with(&data, "catchup_timeout_ms = 3000");
    let (d, f) = (data.to_path_buf(), fleet.clone());
    let stuck = tokio::task::spawn_blocking(move || Stuck::start(&d, &f, "pg1")).await.unwrap();
    let postmaster: i32 = std::fs::read_to_string(run_dir().join("pg/pg1/postmaster.pid")).unwrap().lines().next().unwrap().parse().unwrap();
    // Its WAL receiver stays stopped: the catch-up cannot complete, whatever the
    // orphaned backends of the dead postmaster still answer.
    signal(postmaster, "KILL");
    let out = tokio::task::spawn_blocking(move || stuck.wait()).await.unwrap();
    // The dead postmaster's children exit once they notice; end them now, so the
    // lab can start pg1 again on its shared memory.
    let _ = std::process::Command::new("pkill").args(["-KILL", "-f", "postgres: pg1: "]).status();
    assert_eq!(out.status.code(), Some(4), "failed before promotion: rolled back, exit 4: {}", text(&out));
    let o = outcome(&out);
    assert!(o["message"].as_str().unwrap().contains("pg0 is the primary as before"), "the state is stated: {}", o["message"]);
    let log = writer.finish().await;
    let d = data.to_path_buf();
    tokio::task::spawn_blocking(move || assert_unchanged(&d, "after the roll back")).await.unwrap();
    let after: Vec<_> = log.acks.iter().filter(|a| a.1 > Instant::now() - Duration::from_secs(1)).collect();
    let _ = after;
    assert!(log.failures.is_empty(), "writes queued and resumed, none failed: {:?}", &log.failures[..log.failures.len().min(5)]);
    let stored = ids_on("pg0", "fleetdeck_acks_fail_target").await;
    assert!(log.acks.iter().all(|a| stored.contains(&a.0)), "no acknowledged write lost");
    tokio::task::spawn_blocking(|| lab_ok(&["incident", "clear"])).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_pooler_killed_after_pause_leaves_a_stated_state_that_recovery_finishes() {
    let data = Scratch::new("fail-pooler");
    let _restore = Restore::new(&data);
    let fleet = fleet_file().display().to_string();
    let (d, f) = (data.to_path_buf(), fleet.clone());
    let stuck = tokio::task::spawn_blocking(move || Stuck::start(&d, &f, "pg1")).await.unwrap();
    let pgb0: i32 = std::fs::read_to_string(run_dir().join("pid/pgb0.pid")).unwrap().trim().parse().unwrap();
    signal(pgb0, "KILL");
    stuck.release();
    let out = tokio::task::spawn_blocking(move || stuck.wait()).await.unwrap();
    assert_eq!(out.status.code(), Some(5), "promoted, then the pooler could not be re-pointed: needs attention, exit 5: {}", text(&out));
    let o = outcome(&out);
    let msg = o["message"].as_str().unwrap();
    assert!(msg.contains("pg1 is promoted") && msg.contains("fleetdeck actions"), "the message states the fleet and the way out: {msg}");
    // The pooler comes back (the lab restarts it); the journal offers to finish.
    tokio::task::spawn_blocking(|| lab_ok(&["up"])).await.unwrap();
    let d = data.to_path_buf();
    let f2 = fleet.clone();
    let listed = tokio::task::spawn_blocking(move || fd(&d, &["actions", "--fleet", &f2, "--json"])).await.unwrap();
    assert_eq!(listed.status.code(), Some(5), "an action needing attention is listed, exit 5: {}", text(&listed));
    let l: Value = serde_json::from_slice(&listed.stdout).unwrap();
    let id = l[0]["id"].as_i64().unwrap();
    assert_eq!(l[0]["recovery"], "finish", "pg1 was promoted: the way is forward: {l}");
    let d = data.to_path_buf();
    let rec = tokio::task::spawn_blocking(move || fd(&d, &["actions", "--fleet", &fleet, "--recover", &id.to_string(), "--yes", "--confirm", "pg1", "--json"]))
        .await
        .unwrap();
    assert_eq!(rec.status.code(), Some(0), "the recovery finishes and verifies: {}", text(&rec));
    let r = outcome(&rec);
    assert!(r["verification"].as_array().unwrap().iter().all(|c| c["status"] != "fail"), "verified: {}", r["verification"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cli_killed_mid_switchover_is_shown_and_recovered_by_the_next_one() {
    let data = Scratch::new("fail-cli");
    let _restore = Restore::new(&data);
    let writer = Writer::start("fleetdeck_acks_fail_cli").await;
    let fleet = fleet_file().display().to_string();
    let (d, f) = (data.to_path_buf(), fleet.clone());
    let mut stuck = tokio::task::spawn_blocking(move || Stuck::start(&d, &f, "pg1")).await.unwrap();
    stuck.child.kill().unwrap(); // SIGKILL: no cleanup runs
    stuck.child.wait().unwrap();
    stuck.release();
    drop(stuck);
    // A pooler left paused by a dead console is never silent.
    let d = data.to_path_buf();
    let f = fleet.clone();
    let snap: Value = tokio::task::spawn_blocking(move || serde_json::from_slice(&fd(&d, &["snapshot", "--fleet", &f, "--json"]).stdout).unwrap())
        .await
        .unwrap();
    let kinds: Vec<&str> = snap["anomalies"].as_array().unwrap().iter().map(|a| a["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"pooler_paused"), "the paused pgb0 is an anomaly: {kinds:?}");
    let d = data.to_path_buf();
    let f = fleet.clone();
    let listed = tokio::task::spawn_blocking(move || fd(&d, &["actions", "--fleet", &f, "--json"])).await.unwrap();
    assert_eq!(listed.status.code(), Some(5), "{}", text(&listed));
    let l: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(l[0]["running"], false, "its console is dead: interrupted");
    assert_eq!(l[0]["left_behind"]["paused"][0], "pgb0/chat", "what it left: {l}");
    assert_eq!(l[0]["left_behind"]["old_fenced"], true, "{l}");
    assert_eq!(l[0]["recovery"], "roll_back", "pg1 was not promoted: roll back: {l}");
    let id = l[0]["id"].as_i64().unwrap().to_string();
    let d = data.to_path_buf();
    let rec = tokio::task::spawn_blocking(move || fd(&d, &["actions", "--fleet", &fleet, "--recover", &id, "--yes", "--confirm", "pg1", "--json"]))
        .await
        .unwrap();
    assert_eq!(rec.status.code(), Some(0), "{}", text(&rec));
    let log = writer.finish().await;
    let d = data.to_path_buf();
    tokio::task::spawn_blocking(move || assert_unchanged(&d, "after recovering the killed CLI")).await.unwrap();
    assert!(log.failures.is_empty(), "clients queued through the interruption: {:?}", &log.failures[..log.failures.len().min(5)]);
    let stored = ids_on("pg0", "fleetdeck_acks_fail_cli").await;
    assert!(log.acks.iter().all(|a| stored.contains(&a.0)), "no acknowledged write lost");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_session_that_turns_read_only_off_after_the_fence_gets_no_write_acknowledged() {
    let data = Scratch::new("fence-bypass");
    let _restore = Restore::new(&data);
    let table = "fleetdeck_fence_bypass";
    admin("pg0").await.batch_execute(&format!("DROP TABLE IF EXISTS {table}; CREATE TABLE {table} (id int); GRANT ALL ON {table} TO chat_app")).await.unwrap();
    let fleet = fleet_file().display().to_string();
    let (d, f) = (data.to_path_buf(), fleet.clone());
    let stuck = tokio::task::spawn_blocking(move || Stuck::start(&d, &f, "pg1")).await.unwrap();
    // Fenced now. A direct session of the application role undoes the first layer.
    let (c, conn) = app_config(port_of("postgres", "pg0")).connect(tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    c.batch_execute("SET default_transaction_read_only = off").await.unwrap();
    let write = tokio::spawn(async move { c.batch_execute(&format!("INSERT INTO {table} VALUES (1)")).await.map_err(|e| fleetdeck_core::pg::error_text(&e)) });
    stuck.release();
    let out = tokio::task::spawn_blocking(move || stuck.wait()).await.unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(!write.is_finished(), "the commit waits for the sentinel standby: it was never acknowledged");
    // Ending the session ends the wait with an error, never an acknowledgement.
    admin("pg0").await.batch_execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'chat_app' AND application_name = 'fleetdeck-lab-tests'").await.unwrap();
    let r = write.await.unwrap();
    assert!(r.is_err(), "the write was not acknowledged: {r:?}");
    // Like any commit whose acknowledgement never came, it may or may not
    // exist on the new primary (its WAL may have streamed before promotion):
    // what matters is that no client was told it committed.
}

#[test]
fn an_altered_audit_row_is_named_by_audit_verify() {
    let data = Scratch::new("audit-tamper");
    let _restore = Restore::new(&data);
    let f = fleet_file().display().to_string();
    for to in ["pg3", "pg3"] {
        let o = fd(&data, &["switchover", "--fleet", &f, "--to", to, "--yes", "--confirm", to]);
        assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    }
    let ok = fd(&data, &["audit", "verify"]);
    assert!(ok.status.success(), "two refusals, two records, intact: {}", text(&ok));
    // An attacker with the file: drop the guard trigger, alter record 1.
    let db = data.join("fleetdeck.sqlite3");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display())).await.unwrap();
        sqlx::raw_sql("DROP TRIGGER audit_log_no_update; UPDATE audit_log SET outcome = 'done' WHERE seq = 1").execute(&pool).await.unwrap();
        pool.close().await;
    });
    let bad = fd(&data, &["audit", "verify"]);
    assert_eq!(bad.status.code(), Some(1), "an altered row fails verification: {}", text(&bad));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("record 1"), "it names the record: {}", text(&bad));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failover_after_kill_9_states_its_loss_refuses_above_the_limit_and_fences_the_old_primary() {
    let data = Scratch::new("failover");
    let _restore = Restore::new(&data);
    let fleet = fleet_with(&data, "max_failover_loss_bytes = 1024");
    // A console watching the fleet records where the primary is (the loss estimate's reference).
    let mut watch = std::process::Command::new(env!("CARGO_BIN_EXE_fleetdeck"))
        .args(["watch", "--fleet", &fleet])
        .env("FLEETDECK_DATA_DIR", &*data)
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(data.join("watch.err")).unwrap())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    let writer = Writer::start("fleetdeck_acks_failover").await;
    eprintln!("[{:?}] writer started", t0.elapsed());
    // A partition: the replicas stop receiving while pg0 keeps acknowledging writes.
    // A partition: the replicas stop receiving (their WAL receivers ask for a
    // slot that does not exist, and retry) while pg0 keeps acknowledging writes.
    // Their primary_conninfo still names pg0, as after a real partition.
    for n in ["pg1", "pg2"] {
        let c = admin(n).await;
        c.batch_execute("ALTER SYSTEM SET primary_slot_name = 'fleetdeck_partition'").await.unwrap();
        c.batch_execute("SELECT pg_reload_conf()").await.unwrap();
        fleetdeck_lab_tests::wait_until(Duration::from_secs(30), &format!("{n} stops streaming"), || async {
            let r = c.query_opt("SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming'", &[]).await.ok()?;
            r.is_none().then_some(())
        })
        .await;
    }
    eprintln!("[{:?}] replicas partitioned", t0.elapsed());
    // What they have now is all they will have.
    let mut received = 0;
    for n in ["pg1", "pg2"] {
        let lsn: String = admin(n).await.query_one("SELECT pg_last_wal_receive_lsn()::text", &[]).await.unwrap().get(0);
        received = received.max(fleetdeck_core::action::lsn_bytes(&lsn).unwrap());
    }
    let store_path = data.join("fleetdeck.sqlite3");
    fleetdeck_lab_tests::wait_until(Duration::from_secs(60), "the watch saw pg0 64 KiB past what the replicas received", || async {
        let lsn: String = sqlx::query_scalar("SELECT lsn FROM primary_positions WHERE fleet = 'lab' AND node = 'pg0'")
            .fetch_one(&read_only(&store_path).await?)
            .await
            .ok()?;
        (fleetdeck_core::action::lsn_bytes(&lsn)? > received + 65536).then_some(())
    })
    .await;
    let postmaster: i32 = std::fs::read_to_string(run_dir().join("pg/pg0/postmaster.pid")).unwrap().lines().next().unwrap().parse().unwrap();
    eprintln!("[{:?}] position seen", t0.elapsed());
    signal(postmaster, "KILL");
    let killed_at = Instant::now();
    let _ = watch.kill();
    let _ = watch.wait();

    // Above the limit: refused without a reason.
    let (d, f) = (data.to_path_buf(), fleet.clone());
    let dry = tokio::task::spawn_blocking(move || fd(&d, &["failover", "--fleet", &f, "--dry-run", "--json"])).await.unwrap();
    assert_eq!(dry.status.code(), Some(3), "a loss above max_failover_loss_bytes is refused without --allow-data-loss: {}", text(&dry));
    let (d, f) = (data.to_path_buf(), fleet.clone());
    let tried = tokio::task::spawn_blocking(move || fd(&d, &["failover", "--fleet", &f, "--yes", "--confirm", "pg1", "--json"])).await.unwrap();
    assert_eq!(tried.status.code(), Some(3), "and confirming does not change that: {}", text(&tried));
    eprintln!("[{:?}] dry run done", t0.elapsed());
    let o = outcome(&dry);
    eprintln!("watch stderr: {}", std::fs::read_to_string(data.join("watch.err")).unwrap_or_default());
    assert_eq!(check(&o, "primary_down")[0]["status"], "pass", "pg0 is seen down from more than one vantage point: {}", o["checks"]);
    let loss = check(&o, "data_loss")[0]["evidence"].as_str().unwrap().to_string();
    let estimate: u64 = loss.split("at least ").nth(1).and_then(|t| t.split(' ').next()).and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("the loss is stated in bytes: {loss}"));
    assert!(estimate > 65536, "the estimate covers what pg0 wrote after the partition: {loss}");
    let target = o["plan"]["confirm"].as_str().unwrap().to_string();

    // With a typed reason it goes ahead.
    let (d, f, t) = (data.to_path_buf(), fleet.clone(), target.clone());
    let started = Instant::now();
    let out = tokio::task::spawn_blocking(move || {
        fd(&d, &["failover", "--fleet", &f, "--allow-data-loss", "drill: partition test", "--yes", "--confirm", &t, "--json"])
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(0), "failover done and verified: {}", text(&out));
    let r = outcome(&out);
    let steps = r["steps"].as_array().unwrap();
    let to_writes: f64 = steps
        .iter()
        .take_while(|s| !s["id"].as_str().unwrap().starts_with("repoint_sibling"))
        .filter(|s| s["phase"] != "started")
        .map(|s| s["ms"].as_f64().unwrap_or(0.0))
        .sum();
    assert!(check(&r, "data_loss")[0]["overridden"].as_str().is_some(), "the override and its reason are in the outcome (and the audit)");
    // Undo the partition's slot name on both (the lab's layout names slots after nodes).
    for n in ["pg1", "pg2"] {
        let c = admin(n).await;
        c.batch_execute(&format!("ALTER SYSTEM SET primary_slot_name = '{n}'")).await.unwrap();
        c.batch_execute("SELECT pg_reload_conf()").await.unwrap();
        if n != target {
            admin(&target)
                .await
                .execute("SELECT pg_create_physical_replication_slot($1, true) WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)", &[&n])
                .await
                .unwrap();
        }
    }
    let log = writer.finish().await;
    let first_after = log.acks.iter().find(|a| a.1 > started).map(|a| a.1 - started);
    let stored = ids_on(&target, "fleetdeck_acks_failover").await;
    let missing = log.acks.iter().filter(|a| a.1 < killed_at && !stored.contains(&a.0)).count();
    let lost_after_partition = log.acks.iter().filter(|a| !stored.contains(&a.0)).count();
    eprintln!(
        "BENCH failover: estimate shown {estimate} bytes; acknowledged writes actually missing {missing}; confirmation → writes accepted {to_writes:.0} ms (steps); first client write through pgb0 {:?} after the command started",
        first_after
    );
    assert!(missing > 0, "writes acknowledged by pg0 alone during the partition are lost, and the estimate said so beforehand");
    assert!(lost_after_partition <= missing + 1, "nothing acknowledged after the kill is lost ({lost_after_partition} vs {missing}; one ack may race the kill's timestamp)");
    assert!(log.acks.iter().any(|a| a.1 > started), "writes go on through pgb0 after the failover");

    // pg0 comes back out of recovery: split brain, loudly, and no pooler routes to it.
    let pgdata = run_dir().join("pg/pg0");
    let st = std::process::Command::new("runuser")
        .args(["-u", "postgres", "--", "/usr/lib/postgresql/15/bin/pg_ctl", "-D", pgdata.to_str().unwrap(), "-l", "/dev/null", "-w", "start"])
        .status()
        .unwrap();
    assert!(st.success(), "pg0 restarts");
    let d = data.to_path_buf();
    let snap: Value = tokio::task::spawn_blocking(move || {
        fleetdeck_lab_tests::wait_until_blocking(Duration::from_secs(60), "the snapshot sees pg0 back", || {
            let s: Value = serde_json::from_slice(&fd(&d, &["snapshot", "--fleet", fleet_file().to_str().unwrap(), "--json"]).stdout).ok()?;
            s["nodes"].as_array()?.iter().any(|n| n["name"] == "pg0" && n["reachable"] == true).then_some(s)
        })
    })
    .await
    .unwrap();
    let kinds: Vec<&str> = snap["anomalies"].as_array().unwrap().iter().map(|a| a["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"split_brain"), "the old primary back out of recovery is split brain: {kinds:?}");
    let routed: Vec<&Value> = snap["poolers"].as_array().unwrap().iter().filter(|p| p["node"] == "pg0").collect();
    assert!(routed.is_empty(), "no pooler routes to the old primary: {routed:?}");
}

#[test]
fn a_promote_command_from_the_fleet_file_does_the_promotion() {
    let data = Scratch::new("promote-command");
    let _restore = Restore::new(&data);
    // As a managed service would: an operator's command, here psql over the lab's socket as postgres.
    let (sock, port) = (run_dir().join("sock"), port_of("postgres", "pg1"));
    let marker = data.join("promoted-by-command");
    let file = std::fs::read_to_string(fleet_file()).unwrap();
    let action_line = file.lines().find(|l| l.starts_with("action = ") && l.contains(&format!("port={port} "))).unwrap().to_string();
    let command = format!(
        "promote_command = [\"sh\", \"-c\", \"touch {} && runuser -u postgres -- psql -XAtq -h {} -p {port} -d postgres -c 'SELECT pg_promote(false)' && test \\\"$FLEETDECK_NODE\\\" = {{node}}\"]",
        marker.display(),
        sock.display()
    );
    let fleet = data.join("fleet-promote.toml");
    std::fs::write(&fleet, file.replace(&action_line, &format!("{action_line}\n{command}"))).unwrap();
    let dry = fd(&data, &["switchover", "--fleet", fleet.to_str().unwrap(), "--to", "pg1", "--dry-run", "--json"]);
    let plan = outcome(&dry)["plan"]["steps"].to_string();
    assert!(plan.contains("run sh -c") && plan.contains("pg_promote"), "the plan says the command will promote: {plan}");
    let out = fd(&data, &["switchover", "--fleet", fleet.to_str().unwrap(), "--to", "pg1", "--yes", "--confirm", "pg1", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(marker.exists(), "the promotion went through the fleet file's command");
    assert_eq!(primary(&data).as_deref(), Some("pg1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pause_held_open_expires_closes_its_console_resumes_and_rolls_back() {
    let data = Scratch::new("pause-expiry");
    let _restore = Restore::new(&data);
    let fleet = fleet_with(&data, "pause_timeout_ms = 500");
    // A transaction held open through pgb0 keeps PAUSE from completing.
    let (c, conn) = app_config(port_of("pgbouncer", "pgb0")).connect(tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    c.batch_execute("BEGIN; SELECT 1").await.unwrap();
    let (d, f) = (data.to_path_buf(), fleet.clone());
    let out = tokio::task::spawn_blocking(move || {
        fd(&d, &["switchover", "--fleet", &f, "--to", "pg1", "--yes", "--confirm", "pg1", "--json", "--override", "write_transactions=test: PAUSE must expire"])
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(4), "an expired PAUSE stops the switchover and rolls back, exit 4: {}", text(&out));
    let o = outcome(&out);
    let msg = o["message"].as_str().unwrap();
    assert!(msg.contains("did not complete within") && msg.contains("pgb0 resumed"), "it says the PAUSE expired and pgb0 was resumed: {msg}");
    let steps = o["steps"].as_array().unwrap();
    let pause = steps.iter().position(|s| s["id"] == "pause:pgb0" && s["phase"] == "failed").expect("the PAUSE step failed");
    let resume = steps.iter().position(|s| s["id"] == "resume:pgb0" && s["phase"] == "ok").expect("RESUME went over a new console");
    assert!(pause < resume, "RESUME only after the PAUSE's console was given up");
    assert!(!steps.iter().any(|s| s["id"].as_str().unwrap().starts_with("fence:")), "nothing was fenced");
    // The transaction that held it goes on; new clients get through.
    c.batch_execute("SELECT 1; ROLLBACK").await.expect("the held transaction still works after the RESUME");
    let (n, conn) = app_config(port_of("pgbouncer", "pgb0")).connect(tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    n.simple_query("SELECT 1").await.expect("a new client gets through pgb0");
    let d = data.to_path_buf();
    tokio::task::spawn_blocking(move || assert_unchanged(&d, "after an expired PAUSE")).await.unwrap();
}
