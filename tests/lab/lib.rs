//! Shared plumbing for the lab tests: find the running lab through `lab/lab fleet`,
//! load its fleet file with the core's loader, and open real connections to it.
//!
//! Nothing here fakes a server; every helper talks to what `lab/lab up` started.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use fleetdeck_core::fleet::Fleet;

/// The repository root (two levels above this crate).
pub fn repo_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("repo dir")
}

/// Runs `lab/lab ARGS…` and returns its output (never panics on a non-zero exit).
pub fn lab(args: &[&str]) -> Output {
    Command::new(repo_dir().join("lab/lab")).args(args).output().expect("run lab/lab")
}

/// Runs `lab/lab ARGS…` and panics with its stderr if it fails.
pub fn lab_ok(args: &[&str]) -> String {
    let out = lab(args);
    assert!(
        out.status.success(),
        "lab/lab {} failed ({}):\n{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The running lab's fleet, loaded by the core exactly as FleetDeck loads it.
pub fn fleet() -> Fleet {
    let path = lab_ok(&["fleet"]);
    Fleet::load(PathBuf::from(path.trim()).as_path()).expect("the lab's fleet file must load")
}

fn env(k: &str) -> Option<String> {
    std::env::var(k).ok()
}

/// A tokio-postgres config for a conninfo of the fleet, password from its passfile.
pub fn pg_config(info: &fleetdeck_core::conninfo::ConnInfo) -> tokio_postgres::Config {
    let r = info.resolve(&env).expect("conninfo resolves");
    let mut c = tokio_postgres::Config::new();
    c.host(&r.host).port(r.port).dbname(&r.dbname).user(&r.user).application_name("fleetdeck-lab-tests");
    c.connect_timeout(Duration::from_secs(3));
    if let Some(p) = r.password(&env).expect("passfile readable") {
        c.password(p);
    }
    c
}

/// Connects to PostgreSQL node `name` with the monitoring login.
pub async fn pg(fleet: &Fleet, name: &str) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let node = fleet.postgres.iter().find(|p| p.name == name).unwrap_or_else(|| panic!("no node {name}"));
    connect(&pg_config(&node.monitor)).await
}

/// Connects to PgBouncer `name`'s admin console with the monitoring login.
pub async fn pgbouncer(fleet: &Fleet, name: &str) -> tokio_postgres::Client {
    let b = fleet.pgbouncer.iter().find(|p| p.name == name).unwrap_or_else(|| panic!("no pgbouncer {name}"));
    connect(&pg_config(&b.admin)).await.expect("pgbouncer admin console answers")
}

async fn connect(c: &tokio_postgres::Config) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let (client, conn) = c.connect(tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    Ok(client)
}

/// One row of `SHOW POOLS` as name → value, for database `db` (simple-query protocol).
pub async fn show_pool(client: &tokio_postgres::Client, db: &str) -> std::collections::HashMap<String, String> {
    let msgs = client.simple_query("SHOW POOLS").await.expect("SHOW POOLS");
    for m in msgs {
        if let tokio_postgres::SimpleQueryMessage::Row(row) = m {
            if row.get("database") == Some(db) {
                return row
                    .columns()
                    .iter()
                    .enumerate()
                    .map(|(i, c)| (c.name().to_string(), row.get(i).unwrap_or_default().to_string()))
                    .collect();
            }
        }
    }
    panic!("SHOW POOLS has no row for database {db}")
}

/// `INFO section` of Redis node `name`, as key → value.
pub async fn redis_info(fleet: &Fleet, name: &str, section: &str) -> std::collections::HashMap<String, String> {
    let r = fleet.redis.iter().find(|r| r.name == name).unwrap_or_else(|| panic!("no redis {name}"));
    let client = redis::Client::open(r.url.as_str()).expect("redis url");
    let mut conn = client.get_multiplexed_async_connection().await.expect("redis connects");
    let text: String = redis::cmd("INFO").arg(section).query_async(&mut conn).await.expect("INFO");
    text.lines().filter_map(|l| l.split_once(':')).map(|(k, v)| (k.to_string(), v.trim().to_string())).collect()
}

/// GET `path` on the lab's Prometheus and returns the JSON body.
pub async fn prometheus(fleet: &Fleet, path: &str) -> serde_json::Value {
    let base = &fleet.prometheus.as_ref().expect("lab has prometheus").url;
    reqwest::get(format!("{base}{path}")).await.expect("prometheus answers").json().await.expect("json")
}

/// Polls `check` until it returns `Some`, or panics with `what` after `timeout`.
pub async fn wait_until<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting until {what}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Clears every staged incident when dropped, so a failing test leaves the lab usable.
pub struct IncidentGuard;

impl IncidentGuard {
    /// Stages incident `name` and returns the guard that clears it.
    pub fn stage(name: &str) -> IncidentGuard {
        lab_ok(&["incident", name]);
        IncidentGuard
    }
}

impl Drop for IncidentGuard {
    fn drop(&mut self) {
        let out = lab(&["incident", "clear"]);
        if !out.status.success() && !std::thread::panicking() {
            panic!("lab/lab incident clear failed:\n{}", String::from_utf8_lossy(&out.stderr));
        }
    }
}
