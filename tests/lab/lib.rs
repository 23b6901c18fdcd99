//! Shared plumbing for the lab tests: find the running lab through `lab/lab fleet`,
//! load its fleet file with the core's loader, and open real connections to it.
//!
//! Nothing here fakes a server; every helper talks to what `lab/lab up` started.
//! Ports come from the lab ([`ports`], [`fleet`]), never from constants in a
//! test: the lab may run on shifted ports (`FLEETDECK_LAB_PORT_OFFSET`).

use std::collections::BTreeMap;
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

/// The running lab's ports as `lab/lab ports --json` prints them: for each kind,
/// node name → port, named as in the fleet file.
#[derive(Debug, Clone, PartialEq)]
pub struct LabPorts {
    /// PostgreSQL `pgI`.
    pub postgres: BTreeMap<String, u16>,
    /// PgBouncer `pgbI` (in front of `pgI`).
    pub pgbouncer: BTreeMap<String, u16>,
    /// postgres_exporter of `pgI`, keyed by the node it exports.
    pub postgres_exporter: BTreeMap<String, u16>,
    /// Redis `redisI` (plain TCP).
    pub redis: BTreeMap<String, u16>,
    /// redis_exporter of `redisI`, keyed by the node it exports.
    pub redis_exporter: BTreeMap<String, u16>,
    /// Redis TLS ports (empty when redis-server was built without TLS).
    pub redis_tls: BTreeMap<String, u16>,
    /// Prometheus.
    pub prometheus: u16,
    /// The chat workload's `/metrics` and `/control`.
    pub chatload: u16,
    /// The CA that signed the Redis TLS certificates, when there is TLS.
    pub redis_tls_ca: Option<PathBuf>,
}

impl LabPorts {
    /// Parses the output of `lab/lab ports --json`, panicking with the field that is wrong.
    pub fn parse(json: &str) -> LabPorts {
        let v: serde_json::Value =
            serde_json::from_str(json).unwrap_or_else(|e| panic!("lab/lab ports --json is not JSON ({e}):\n{json}"));
        let port = |field: &str, p: &serde_json::Value| -> u16 {
            p.as_u64()
                .and_then(|p| u16::try_from(p).ok())
                .unwrap_or_else(|| panic!("lab/lab ports --json: {field} is not a port: {p}"))
        };
        let map = |field: &str| -> BTreeMap<String, u16> {
            let obj = v[field].as_object().unwrap_or_else(|| panic!("lab/lab ports --json: {field} is not an object:\n{json}"));
            obj.iter().map(|(name, p)| (name.clone(), port(&format!("{field}.{name}"), p))).collect()
        };
        LabPorts {
            postgres: map("postgres"),
            pgbouncer: map("pgbouncer"),
            postgres_exporter: map("postgres_exporter"),
            redis: map("redis"),
            redis_exporter: map("redis_exporter"),
            redis_tls: map("redis_tls"),
            prometheus: port("prometheus", &v["prometheus"]),
            chatload: port("chatload", &v["chatload"]),
            redis_tls_ca: v["redis_tls_ca"].as_str().map(PathBuf::from),
        }
    }
}

/// The running lab's ports, from `lab/lab ports --json`.
pub fn ports() -> LabPorts {
    LabPorts::parse(&lab_ok(&["ports", "--json"]))
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

/// The blocking form of [`wait_until`], for tests without a runtime (the CLI's):
/// polls `check` until it returns `Some`, or panics with `what` after `timeout`.
pub fn wait_until_blocking<T>(timeout: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting until {what}");
        std::thread::sleep(Duration::from_millis(300));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_parse_the_shape_lab_ports_json_prints() {
        let json = r#"{"postgres":{"pg0":16000,"pg1":16001},"pgbouncer":{"pgb0":16400,"pgb1":16401},"postgres_exporter":{"pg0":16800,"pg1":16801},"redis":{"redis0":17000,"redis1":17001},"redis_exporter":{"redis0":17100,"redis1":17101},"redis_tls":{"redis0":17010},"prometheus":19090,"chatload":19100,"redis_tls_ca":"/var/tmp/fleetdeck-lab/tls/ca.crt"}"#;
        let p = LabPorts::parse(json);
        assert_eq!(p.postgres["pg1"], 16001);
        assert_eq!(p.pgbouncer["pgb0"], 16400);
        assert_eq!(p.postgres_exporter["pg1"], 16801);
        assert_eq!((p.redis["redis0"], p.redis_exporter["redis1"], p.redis_tls["redis0"]), (17000, 17101, 17010));
        assert_eq!((p.prometheus, p.chatload), (19090, 19100));
        assert_eq!(p.redis_tls_ca.as_deref(), Some(std::path::Path::new("/var/tmp/fleetdeck-lab/tls/ca.crt")));
    }

    #[test]
    fn a_lab_without_redis_tls_has_no_tls_ports_and_no_ca() {
        let json = r#"{"postgres":{"pg0":16100},"pgbouncer":{"pgb0":16500},"postgres_exporter":{"pg0":16900},"redis":{"redis0":17100},"redis_exporter":{"redis0":17200},"redis_tls":{},"prometheus":19190,"chatload":19200,"redis_tls_ca":null}"#;
        let p = LabPorts::parse(json);
        assert!(p.redis_tls.is_empty() && p.redis_tls_ca.is_none(), "redis-server without TLS: {p:?}");
        assert_eq!(p.postgres["pg0"], 16100, "a shifted lab's ports are read, not assumed");
    }

    #[test]
    #[should_panic(expected = "postgres.pg0 is not a port")]
    fn a_port_out_of_range_names_its_field() {
        LabPorts::parse(r#"{"postgres":{"pg0":70000}}"#);
    }
}
