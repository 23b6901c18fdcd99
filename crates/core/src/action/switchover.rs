//! Planned switchover of a healthy primary to one of its direct replicas,
//! through the poolers, with SQL and the pooler console only (so it works
//! where there is no host access).
//!
//! `PAUSE` the write database on every pooler that sends writes to the
//! primary (bounded) → fence the old primary ([`super::fence`]) and end its
//! remaining sessions → prove the fence (an application-role write gets
//! 25006) → read its final flush LSN → wait until the target has received and
//! flushed it (polled every 5 ms, bounded) → promote ([`super::promote`]) →
//! re-point the poolers and `RELOAD`, and read `SHOW DATABASES` until it
//! names the target → the target accepts an application-role write →
//! `RESUME` → re-point the siblings (slot first, then `primary_conninfo` +
//! reload) → verify.
//!
//! Clients of the poolers queue during the pause instead of failing, and no
//! acknowledged write can be lost: every commit acknowledged before the fence
//! is at or below the final flush LSN, which the target has flushed before it
//! is promoted; nothing after the fence can be acknowledged.
//!
//! Unlike Patroni there is no restart and no polling at 1 s: the write
//! window is the pause, and each step inside it is a round trip on a
//! connection opened before it started.
//!
//! Any failure before promotion rolls back: un-fence (the settings restored
//! exactly as `postgresql.auto.conf` had them), `RESUME`, the fleet as before,
//! stated. After promotion the old primary stays fenced (recorded in the
//! store too) and is shown as needing rejoin.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio_postgres::Client;

use super::fence::{self, FenceBefore};
use super::pooler::{self, Console};
use super::promote::Configured;
use super::{lsn_bytes, poll, Action, ActionContext, Check, Failure, Plan, PlannedStep, StepError, Steps, APPLICATION_NAME};
use crate::address::Address;
use crate::fleet::Fleet;
use crate::pg;
use crate::refresh::Engine;
use crate::snapshot::{Role, Snapshot, StreamState};
use crate::topology;

/// What recovery needs to finish or roll back a switchover or failover,
/// journaled before the first step and as it changes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MoveContext {
    /// The primary before (the lost one, for a failover).
    pub primary: String,
    /// The node promoted.
    pub target: String,
    /// The old primary's host (where rolled-back siblings go back to).
    pub primary_host: String,
    /// And port.
    pub primary_port: u16,
    /// Where poolers and siblings must point: the target's host.
    pub target_host: String,
    /// And port.
    pub target_port: u16,
    /// Poolers and their databases that pointed at the old primary.
    pub poolers: Vec<PoolerDatabases>,
    /// Replicas that must re-point to the target.
    pub siblings: Vec<String>,
    /// The old primary's fence settings before (switchover).
    pub fence_before: Option<FenceBefore>,
    /// The old primary was fenced.
    pub fenced: bool,
    /// The target was promoted.
    pub promoted: bool,
    /// Application roles (for write probes).
    pub app_roles: Vec<String>,
}

/// A pooler's databases that send writes to the primary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PoolerDatabases {
    /// Pooler name.
    pub pooler: String,
    /// Databases.
    pub databases: Vec<String>,
}

/// What preflight found.
#[derive(Debug, Clone)]
struct Facts {
    ctx: MoveContext,
    following: Vec<(String, String)>,
    promotion: String,
    timeline: Option<u32>,
    pause_timeout: Duration,
}

/// A planned switchover to `target`.
pub struct Switchover {
    target: String,
    facts: Option<Facts>,
    preflight_error: Option<String>,
}

impl Switchover {
    /// A switchover to the node named `target`.
    pub fn new(target: &str) -> Self {
        Self { target: target.to_string(), facts: None, preflight_error: None }
    }
}

/// A fresh snapshot of the fleet for a preflight.
pub async fn snapshot(fleet: &Fleet) -> Snapshot {
    Engine::new(fleet.clone()).refresh().await
}

/// The host and port of a node as the fleet probes it.
pub fn node_address(s: &Snapshot, node: &str) -> Option<Address> {
    s.nodes.iter().find(|n| n.name == node).and_then(|n| Address::parse(&n.address))
}

/// Opens the action login of `node`.
pub async fn action_session(fleet: &Fleet, node: &str) -> Result<Client, String> {
    let endpoint = fleet.postgres.iter().find(|p| p.name == node).ok_or_else(|| format!("no PostgreSQL node '{node}' in the fleet"))?;
    let login = endpoint
        .action
        .as_ref()
        .ok_or_else(|| format!("{node} has no action login in the fleet file (postgres.action): actions on it are unavailable"))?;
    pg::connect(login, APPLICATION_NAME, Duration::from_secs(3)).await.map(|(c, _)| c).map_err(|e| format!("{node}: {e}"))
}

/// The application roles of the write path: users with pools on the poolers'
/// write databases, FleetDeck's own logins aside; else the database owner.
pub async fn app_roles(fleet: &Fleet, s: &Snapshot, poolers: &[PoolerDatabases], primary: &Client) -> Vec<String> {
    let ours: Vec<String> = fleet
        .pgbouncer
        .iter()
        .flat_map(|p| [p.admin.user.clone(), p.action.as_ref().and_then(|a| a.user.clone())])
        .chain(fleet.postgres.iter().flat_map(|p| [p.monitor.user.clone(), p.action.as_ref().and_then(|a| a.user.clone())]))
        .flatten()
        .collect();
    let mut roles: Vec<String> = s
        .pools
        .iter()
        .filter(|p| poolers.iter().any(|w| w.pooler == p.name && w.databases.contains(&p.database)))
        .map(|p| p.user.clone())
        .filter(|u| !ours.contains(u))
        .collect();
    if roles.is_empty() {
        for db in poolers.iter().flat_map(|p| &p.databases) {
            if let Ok(r) = primary.query_one("SELECT pg_get_userbyid(datdba)::text FROM pg_database WHERE datname = $1", &[db]).await {
                roles.push(r.get(0));
            }
        }
    }
    roles.sort();
    roles.dedup();
    roles
}

/// A session idle in transaction this long is holding its transaction open,
/// not between two statements of a busy one (the chat workload's are idle for
/// microseconds between its statements).
pub const IDLE_IN_TRANSACTION_SECONDS: f64 = 1.0;

/// Write-path transactions that would hold `PAUSE` open: idle in transaction
/// for over [`IDLE_IN_TRANSACTION_SECONDS`], or older than `limit` seconds, on
/// `databases`, not FleetDeck's.
pub async fn long_transactions(client: &Client, databases: &[String], limit: f64) -> Result<Vec<String>, String> {
    let rows = client
        .query(
            "SELECT pid, coalesce(usename::text, ''), coalesce(application_name, ''), state,
                    extract(epoch FROM now() - xact_start)::float8, left(regexp_replace(query, '\\s+', ' ', 'g'), 80)
             FROM pg_stat_activity
             WHERE backend_type = 'client backend' AND datname = ANY($1) AND application_name <> $2 AND pid <> pg_backend_pid()
               AND xact_start IS NOT NULL
               AND ((state LIKE 'idle in transaction%' AND now() - state_change > make_interval(secs => $4))
                    OR now() - xact_start > make_interval(secs => $3))
             ORDER BY xact_start LIMIT 10",
            &[&databases, &APPLICATION_NAME, &limit, &IDLE_IN_TRANSACTION_SECONDS],
        )
        .await
        .map_err(|e| pg::error_text(&e))?;
    Ok(rows
        .iter()
        .map(|r| {
            format!(
                "pid {} ({} via '{}') {} for {:.1} s: {}",
                r.get::<_, i32>(0),
                r.get::<_, String>(1),
                r.get::<_, String>(2),
                r.get::<_, Option<String>>(3).unwrap_or_default(),
                r.get::<_, Option<f64>>(4).unwrap_or(0.0),
                r.get::<_, Option<String>>(5).unwrap_or_default()
            )
        })
        .collect())
}

/// Checks shared by switchover and failover: the journal has no live or
/// interrupted action for this fleet, and no session holds FleetDeck's lock on `node`.
pub async fn lock_checks(ctx: &ActionContext, nodes: &[(&str, &Client)]) -> Check {
    match ctx.store.open_runs(Some(&ctx.fleet.name)).await {
        Ok(open) if !open.is_empty() => {
            let r = &open[0];
            let live = super::recovery::is_live(r);
            return Check::fail(
                "lock",
                "no other action on this fleet",
                if live {
                    format!("action #{} ({} of {}) by {} is running (pid {} on {})", r.id, r.kind, r.targets.join(", "), r.operator, r.pid, r.host)
                } else if r.ended_at.is_some() {
                    format!("action #{} ({} of {}) ended needing attention: recover it first (fleetdeck actions): {}", r.id, r.kind, r.targets.join(", "), r.message)
                } else {
                    format!("action #{} ({} of {}) was interrupted: recover it first (fleetdeck actions)", r.id, r.kind, r.targets.join(", "))
                },
            );
        }
        Ok(_) => {}
        Err(e) => return Check::fail("lock", "no other action on this fleet", format!("the action journal is unreadable: {e}")),
    }
    for (node, client) in nodes {
        if let Some(holder) = super::lock_holder(client).await {
            return Check::fail("lock", "no other action on this fleet", format!("FleetDeck's advisory lock on {node} is held: {holder}"));
        }
    }
    Check::pass("lock", "no other action on this fleet", "journal has no open action; advisory lock free")
}

/// The poolers that send writes to `primary`, with their write databases
/// (from `SHOW DATABASES` over each console), and a check on each.
pub async fn write_poolers(fleet: &Fleet, s: &Snapshot, primary: &str) -> (Vec<PoolerDatabases>, Vec<Check>) {
    let mut out = Vec::new();
    let mut checks = Vec::new();
    let Some(addr) = node_address(s, primary) else { return (out, checks) };
    for p in &s.poolers {
        let Some(endpoint) = fleet.pgbouncer.iter().find(|e| e.name == p.name) else { continue };
        if !p.reachable {
            // It may send writes to the primary: nobody can tell. Refuse.
            checks.push(Check::fail(
                "poolers",
                format!("pooler {} reachable", p.name),
                format!("{} is unreachable ({}): it may route writes to {primary} and could not be paused", p.name, p.error.as_deref().unwrap_or("no answer")),
            ));
            continue;
        }
        if p.node.as_deref() != Some(primary) {
            continue;
        }
        let console = match Console::open(endpoint).await {
            Ok(c) => c,
            Err(e) => {
                checks.push(Check::fail("poolers", format!("pooler {} console", p.name), e));
                continue;
            }
        };
        let dbs: Vec<String> = match console.databases().await {
            Ok(rows) => rows
                .into_iter()
                .filter(|r| r.name != crate::probe::pgbouncer::ADMIN_DATABASE)
                .filter(|r| r.port == Some(addr.port) && r.host.as_deref().is_some_and(|h| crate::address::same_host(h, &addr.host)))
                .map(|r| r.name)
                .collect(),
            Err(e) => {
                checks.push(Check::fail("poolers", format!("pooler {} console", p.name), e));
                continue;
            }
        };
        let how = match &endpoint.repoint {
            Some(crate::fleet::Repoint::ConfigFile(f)) => {
                let readable = std::fs::read_to_string(f).map_err(|e| e.to_string()).and_then(|t| {
                    dbs.iter().try_for_each(|d| pooler::rewrite_database(&t, d, "h", 1).map(|_| ()))
                });
                match readable {
                    Ok(()) => Ok(format!("rewrites {}", f.display())),
                    Err(e) => Err(format!("cannot re-point through {}: {e}", f.display())),
                }
            }
            Some(crate::fleet::Repoint::Command(argv)) => Ok(format!("runs {}", argv.join(" "))),
            None => Err("no config_file or repoint_command in the fleet file".into()),
        };
        checks.push(match how {
            Ok(how) => Check::pass(
                "poolers",
                format!("pooler {} can pause and re-point", p.name),
                format!("{} ({}) sends {} to {primary}; console answers with the action login; re-pointing {how}", p.name, p.address, dbs.join(", ")),
            ),
            Err(e) => Check::fail("poolers", format!("pooler {} can pause and re-point", p.name), format!("{}: {e}", p.name)),
        });
        out.push(PoolerDatabases { pooler: p.name.clone(), databases: dbs });
    }
    (out, checks)
}

impl Switchover {
    async fn gather(&mut self, ctx: &ActionContext) -> Vec<Check> {
        let fleet = &ctx.fleet;
        let limits = &fleet.actions;
        let s = snapshot(fleet).await;
        let mut checks = Vec::new();
        let primaries: Vec<&str> = s.nodes.iter().filter(|n| n.role == Role::Primary).map(|n| n.name.as_str()).collect();
        let Some(primary) = topology::primary(&s).map(|n| n.name.clone()) else {
            checks.push(Check::fail(
                "one_primary",
                "exactly one primary",
                format!("{} nodes are out of recovery: {}", primaries.len(), if primaries.is_empty() { "none".into() } else { primaries.join(", ") }),
            ));
            return checks;
        };
        checks.push(Check::pass("one_primary", "exactly one primary", format!("{primary} is the only node out of recovery")));
        let Some(target) = s.nodes.iter().find(|n| n.name == self.target) else {
            checks.push(Check::fail("target_direct_child", "target streams directly from the primary", format!("no node '{}' in the fleet", self.target)));
            return checks;
        };
        let streaming = target.wal_receiver.as_ref().is_some_and(|r| r.status == StreamState::Streaming);
        let direct = target.upstream.as_deref() == Some(primary.as_str());
        checks.push(Check::pass_or_fail(
            direct && streaming && target.role == Role::Replica,
            "target_direct_child",
            format!("{} streams directly from {primary}", target.name),
            format!(
                "{} is {:?}, upstream {}, WAL receiver {}",
                target.name,
                target.role,
                target.upstream.as_deref().unwrap_or("none"),
                target.wal_receiver.as_ref().map_or("absent".to_string(), |r| r.status.to_string())
            ),
        ));
        if !(direct && streaming && target.role == Role::Replica) {
            return checks;
        }
        checks.push(Check::pass_or_fail(
            !target.replay_paused,
            "target_replay",
            format!("{}'s replay is running", target.name),
            format!("pg_is_wal_replay_paused() = {}", target.replay_paused),
        ));
        let lag = target.replay_lag_bytes.unwrap_or(u64::MAX);
        checks.push(if lag <= limits.max_lag_bytes {
            Check::pass("target_lag", format!("{} lags at most {} bytes", target.name, limits.max_lag_bytes), format!("replay lag {lag} bytes"))
        } else {
            Check::fail_overridable(
                "target_lag",
                format!("{} lags at most {} bytes", target.name, limits.max_lag_bytes),
                format!("replay lag {} bytes", target.replay_lag_bytes.map_or("unknown".into(), |b| b.to_string())),
            )
        });
        let received = |n: &crate::snapshot::Node| n.receive_lsn.as_deref().and_then(lsn_bytes);
        // Nodes are read a few ms apart under load, so a sibling is "further
        // ahead" only by more than the lag limit (the catch-up wait covers the rest).
        let ahead: Vec<String> = topology::children(&s, &primary)
            .into_iter()
            .filter(|c| *c != target.name)
            .filter_map(|c| s.nodes.iter().find(|n| n.name == c))
            .filter(|n| received(n).zip(received(target)).is_some_and(|(a, b)| a > b.saturating_add(limits.max_lag_bytes)))
            .map(|n| format!("{} received {}", n.name, n.receive_lsn.as_deref().unwrap_or("?")))
            .collect();
        checks.push(if ahead.is_empty() {
            Check::pass("most_advanced", format!("no sibling is more than {} bytes further ahead", limits.max_lag_bytes), format!("{} received {}", target.name, target.receive_lsn.as_deref().unwrap_or("?")))
        } else {
            Check::fail_overridable(
                "most_advanced",
                format!("no sibling is more than {} bytes further ahead", limits.max_lag_bytes),
                format!("{} received {}; ahead: {}", target.name, target.receive_lsn.as_deref().unwrap_or("?"), ahead.join(", ")),
            )
        });

        // Live sessions with the action logins.
        let (old, new) = (action_session(fleet, &primary).await, action_session(fleet, &target.name).await);
        for (node, session) in [(&primary, &old), (&target.name, &new)] {
            checks.push(match session {
                Ok(_) => Check::pass("action_login", format!("{node}'s action login connects"), "connected directly"),
                Err(e) => Check::fail("action_login", format!("{node}'s action login connects"), e.clone()),
            });
        }
        let (Ok(old), Ok(new)) = (old, new) else { return checks };

        let (poolers, pooler_checks) = write_poolers(fleet, &s, &primary).await;
        if poolers.is_empty() && pooler_checks.is_empty() {
            checks.push(Check::warn("poolers", "poolers that send writes", format!("no pooler routes to {primary}: clients connecting directly are not paused")));
        }
        checks.extend(pooler_checks);
        let databases: Vec<String> = poolers.iter().flat_map(|p| p.databases.clone()).collect();
        checks.push(match long_transactions(&old, &databases, limits.max_transaction_seconds).await {
            Ok(v) if v.is_empty() => Check::pass(
                "write_transactions",
                "no write-path transaction would hold PAUSE open",
                format!("none idle in transaction or older than {} s on {}", limits.max_transaction_seconds, databases.join(", ")),
            ),
            Ok(v) => Check::fail_overridable("write_transactions", "no write-path transaction would hold PAUSE open", v.join("; ")),
            Err(e) => Check::fail("write_transactions", "no write-path transaction would hold PAUSE open", e),
        });
        checks.push(match old.query_one("SELECT count(*) FROM pg_stat_progress_create_index", &[]).await {
            Ok(r) => {
                let n: i64 = r.get(0);
                Check::pass_or_fail(n == 0, "index_builds", "no index build is running", format!("{n} in pg_stat_progress_create_index on {primary}"))
            }
            Err(e) => Check::fail("index_builds", "no index build is running", pg::error_text(&e)),
        });
        let address = node_address(&s, &primary).map(|a| a.to_string()).unwrap_or_default();
        checks.push(match fence::overrides(&old, &address).await {
            Ok(v) if v.is_empty() => Check::pass("fence_overrides", "no role or database setting undoes the fence", "pg_db_role_setting has none"),
            Ok(v) => Check::fail_overridable("fence_overrides", "no role or database setting undoes the fence", v.join("; ")),
            Err(e) => Check::fail("fence_overrides", "no role or database setting undoes the fence", e.to_string()),
        });
        let repointing = topology::repointing(&s, &target.name).unwrap_or(topology::Repointing { siblings: Vec::new(), following: Vec::new() });
        for sib in &repointing.siblings {
            let has_login = fleet.postgres.iter().any(|p| &p.name == sib && p.action.is_some());
            checks.push(Check::pass_or_fail(
                has_login,
                "siblings",
                format!("sibling {sib} can be re-pointed"),
                if has_login { format!("{sib} has an action login") } else { format!("{sib} has no action login: it could not follow the new primary") },
            ));
        }
        checks.push(lock_checks(ctx, &[(&primary, &old), (&target.name, &new)]).await);
        let app_roles = app_roles(fleet, &s, &poolers, &old).await;
        let target_addr = node_address(&s, &target.name).unwrap_or_else(|| Address::new("?", 0));
        let primary_addr = node_address(&s, &primary).unwrap_or_else(|| Address::new("?", 0));
        let promotion = fleet.postgres.iter().find(|p| p.name == target.name).map(Configured::for_node).map(|p| p.describe()).unwrap_or_default();
        self.facts = Some(Facts {
            ctx: MoveContext {
                primary: primary.clone(),
                target: target.name.clone(),
                primary_host: primary_addr.host.clone(),
                primary_port: primary_addr.port,
                target_host: target_addr.host.clone(),
                target_port: target_addr.port,
                poolers,
                siblings: repointing.siblings,
                fence_before: None,
                fenced: false,
                promoted: false,
                app_roles,
            },
            following: repointing.following,
            promotion,
            timeline: s.nodes.iter().find(|n| n.name == primary).and_then(|n| n.timeline),
            pause_timeout: limits.pause_timeout,
        });
        checks
    }
}

fn step(id: &str, title: impl Into<String>, detail: impl Into<String>) -> PlannedStep {
    PlannedStep { id: id.into(), title: title.into(), detail: detail.into() }
}

/// The steps that move writes from `c.primary` to `c.target` (shared with failover's plan).
pub fn move_steps(c: &MoveContext, pause_timeout: Duration) -> (Vec<PlannedStep>, Vec<PlannedStep>) {
    let (before, after): (Vec<PlannedStep>, Vec<PlannedStep>) = (
        c.poolers
            .iter()
            .map(|p| {
                step(
                    &format!("pause:{}", p.pooler),
                    format!("PAUSE {} on {}", p.databases.join(", "), p.pooler),
                    format!("bounded by {pause_timeout:?}; on expiry the console is closed, RESUME is sent, and nothing else happens"),
                )
            })
            .collect(),
        c.poolers
            .iter()
            .map(|p| {
                step(
                    &format!("repoint:{}", p.pooler),
                    format!("re-point {} on {} to {} ({}:{}) and RELOAD", p.databases.join(", "), p.pooler, c.target, c.target_host, c.target_port),
                    "then SHOW DATABASES must name the new host",
                )
            })
            .collect(),
    );
    (before, after)
}

impl Action for Switchover {
    fn kind(&self) -> &'static str {
        "switchover"
    }

    fn targets(&self) -> Vec<String> {
        match &self.facts {
            Some(f) => vec![f.ctx.primary.clone(), self.target.clone()],
            None => vec![self.target.clone()],
        }
    }

    fn confirm_name(&self) -> String {
        self.target.clone()
    }

    async fn preflight(&mut self, ctx: &ActionContext) -> Vec<Check> {
        self.preflight_error = None;
        self.gather(ctx).await
    }

    fn plan(&self) -> Plan {
        let Some(f) = &self.facts else {
            return Plan {
                kind: "switchover".into(),
                targets: vec![self.target.clone()],
                confirm: self.target.clone(),
                summary: format!("switchover to {}: cannot be planned (see the checks)", self.target),
                effects: Vec::new(),
                steps: Vec::new(),
            };
        };
        let c = &f.ctx;
        let (pauses, repoints) = move_steps(c, f.pause_timeout);
        let mut steps = vec![step("connect", "open action sessions and pooler consoles", "before the pause, so no login happens inside the write window")];
        for s in &c.siblings {
            steps.push(step(
                &format!("repoint_sibling:{s}"),
                format!("move {s} below {} while writes still flow", c.target),
                "its slot created on the target, ALTER SYSTEM SET primary_conninfo + pg_reload_conf(), then wait until it streams from the target: a fenced primary still writes some WAL (autovacuum, hint bits) that the target may never receive, and a sibling that got it could not follow",
            ));
        }
        steps.extend(pauses);
        steps.push(step(
            &format!("fence:{}", c.primary),
            format!("fence {}", c.primary),
            format!("ALTER SYSTEM SET default_transaction_read_only = on, synchronous_standby_names = '{}'; pg_reload_conf()", fence::SENTINEL),
        ));
        steps.push(step(&format!("terminate:{}", c.primary), format!("end {}'s other client sessions", c.primary), "pg_terminate_backend, FleetDeck's own sessions aside"));
        steps.push(step(
            &format!("prove_fence:{}", c.primary),
            "prove the fence",
            format!("a new transaction as {} must get SQLSTATE 25006", if c.app_roles.is_empty() { "the application role".into() } else { c.app_roles.join(", ") }),
        ));
        steps.push(step(&format!("final_lsn:{}", c.primary), format!("read {}'s final flush LSN", c.primary), "pg_current_wal_flush_lsn()"));
        steps.push(step(&format!("catchup:{}", c.target), format!("wait until {} has flushed it", c.target), "pg_last_wal_receive_lsn() polled every 5 ms"));
        steps.push(step(&format!("promote:{}", c.target), format!("promote {}", c.target), f.promotion.clone()));
        steps.extend(repoints);
        steps.push(step(&format!("write_check:{}", c.target), format!("{} accepts an application-role write", c.target), "a temporary table in a rolled-back transaction"));
        for p in &c.poolers {
            steps.push(step(&format!("resume:{}", p.pooler), format!("RESUME {} on {}", p.databases.join(", "), p.pooler), "queued clients go on, to the new primary"));
        }
        let mut effects = Vec::new();
        for p in &c.poolers {
            effects.push(format!("{} pauses {} and then sends it to {}", p.pooler, p.databases.join(", "), c.target));
        }
        for s in &c.siblings {
            effects.push(format!("{s} re-points from {} to {} (below it first, before the pause; it follows the promotion)", c.primary, c.target));
        }
        for (n, up) in &f.following {
            effects.push(format!("{n} keeps streaming from {up} and follows the new timeline"));
        }
        effects.push(format!("{} stays fenced (read-only, commits held) and needs rejoin: lab/lab rejoin {} or pg_rewind", c.primary, c.primary));
        Plan {
            kind: "switchover".into(),
            targets: vec![c.primary.clone(), c.target.clone()],
            confirm: self.target.clone(),
            summary: format!("switch the primary from {} to {} (timeline {} → next)", c.primary, c.target, f.timeline.map_or("?".into(), |t| t.to_string())),
            effects,
            steps,
        }
    }

    fn lock_nodes(&self) -> Vec<String> {
        self.facts.as_ref().map(|f| vec![f.ctx.primary.clone(), f.ctx.target.clone()]).unwrap_or_default()
    }

    fn context(&self) -> Value {
        self.facts.as_ref().map(|f| serde_json::to_value(&f.ctx).unwrap_or(Value::Null)).unwrap_or(Value::Null)
    }

    async fn execute(&mut self, ctx: &ActionContext, steps: &mut Steps) -> Result<String, Failure> {
        let f = self.facts.clone().expect("run() calls preflight first");
        let mut c = f.ctx.clone();
        let limits = ctx.fleet.actions.clone();
        let fleet = &ctx.fleet;
        let primary_address = format!("{} ({}:{})", c.primary, c.primary_host, c.primary_port);

        // Everything that logs in happens before the pause.
        let opened = steps
            .run("connect", "open action sessions and pooler consoles", async {
                let old = action_session(fleet, &c.primary).await?;
                let new = action_session(fleet, &c.target).await?;
                let mut consoles = Vec::new();
                for p in &c.poolers {
                    let endpoint = fleet.pgbouncer.iter().find(|e| e.name == p.pooler).ok_or("pooler left the fleet")?;
                    consoles.push(Console::open(endpoint).await?);
                }
                let before = fence::settings_before(&old, &primary_address).await?;
                Ok::<_, StepError>(Opened { old, new, consoles, before })
            })
            .await;
        let Opened { old, new, consoles, before } =
            opened.map_err(|e| Failure::RolledBack(format!("nothing changed: {}", e.0)))?;
        c.fence_before = Some(before.clone());
        steps.context(&serde_json::to_value(&c).unwrap_or(Value::Null)).await;

        // Siblings below the target first, while writes still flow.
        if let Err(e) = repoint_siblings(ctx, steps, &c.siblings, &c.target, &c.target_host, c.target_port).await {
            let back = repoint_siblings(ctx, steps, &c.siblings, &c.primary, &c.primary_host, c.primary_port).await;
            return Err(match back {
                Ok(()) => Failure::RolledBack(format!("{e}; the siblings were put back on {}; nothing else changed", c.primary)),
                Err(b) => Failure::NeedsAttention(format!("{e}; putting them back failed too: {b}")),
            });
        }
        if let Err(e) = await_siblings(ctx, steps, &c.siblings, &c.target, c.target_port, None).await {
            let _ = repoint_siblings(ctx, steps, &c.siblings, &c.primary, &c.primary_host, c.primary_port).await;
            return Err(Failure::RolledBack(format!("{e}; the siblings were put back on {}; nothing else changed", c.primary)));
        }

        let window = Instant::now();
        // PAUSE each write database, each bounded.
        let mut consoles: Vec<Option<Console>> = consoles.into_iter().map(Some).collect();
        let mut paused: Vec<(usize, String)> = Vec::new();
        let mut pause_error = None;
        'pausing: for (i, p) in c.poolers.iter().enumerate() {
            for db in &p.databases {
                let con = consoles[i].as_ref().expect("open until a PAUSE expires");
                let r = steps
                    .run(&format!("pause:{}", p.pooler), format!("PAUSE {db} on {}", p.pooler), async {
                        con.pause(db, limits.pause_timeout).await.map_err(StepError)
                    })
                    .await;
                match r {
                    Ok(_) => paused.push((i, db.clone())),
                    Err(e) if e.0.contains(pooler::PAUSE_EXPIRED) => {
                        // Close the console that sent the PAUSE before anyone sends RESUME.
                        consoles[i] = None;
                        let endpoint = fleet.pgbouncer.iter().find(|x| x.name == p.pooler).expect("checked");
                        let resumed = steps
                            .run(&format!("resume:{}", p.pooler), format!("roll back: RESUME {db} on {} over a new console", p.pooler), async {
                                pooler::resume_fresh(endpoint, db).await.map_err(StepError)
                            })
                            .await;
                        pause_error = Some(match resumed {
                            Ok(m) => format!("{}; {m}", e.0),
                            Err(r) => format!("{}; RESUME FAILED: {}", e.0, r.0),
                        });
                        break 'pausing;
                    }
                    Err(e) => {
                        pause_error = Some(e.0);
                        break 'pausing;
                    }
                }
            }
        }
        let paused: Vec<(&Console, String)> =
            paused.iter().filter_map(|(i, db)| consoles[*i].as_ref().map(|con| (con, db.clone()))).collect();
        if let Some(e) = pause_error {
            return Err(self.roll_back(fleet, steps, &old, None, &paused, &e).await);
        }

        let fenced = steps
            .run(&format!("fence:{}", c.primary), format!("fence {}", c.primary), async {
                fence::fence(&old, &primary_address, Duration::from_secs(2)).await?;
                Ok::<_, StepError>(format!("read-only by default; commits wait for standby '{}'", fence::SENTINEL))
            })
            .await;
        c.fenced = true; // even a failed step may have set one layer: roll back restores both
        steps.context(&serde_json::to_value(&c).unwrap_or(Value::Null)).await;
        if let Err(e) = fenced {
            return Err(self.roll_back(fleet, steps, &old, Some(&before), &paused, &e.0).await);
        }
        let proven = async {
            steps
                .run(&format!("terminate:{}", c.primary), format!("end {}'s other client sessions", c.primary), async {
                    let n = fence::terminate_sessions(&old, &primary_address).await?;
                    Ok::<_, StepError>(format!("{n} sessions ended"))
                })
                .await?;
            steps
                .run(&format!("prove_fence:{}", c.primary), "prove the fence", async {
                    fence::prove(&old, &c.app_roles).await.map(|v| v.join("; ")).map_err(StepError)
                })
                .await?;
            let final_lsn = steps
                .run(&format!("final_lsn:{}", c.primary), format!("read {}'s final flush LSN", c.primary), async {
                    let r = old.query_one("SELECT pg_current_wal_flush_lsn()::text", &[]).await?;
                    Ok::<_, StepError>(r.get::<_, String>(0))
                })
                .await?;
            let want = lsn_bytes(&final_lsn).ok_or_else(|| StepError(format!("unreadable LSN {final_lsn}")))?;
            steps
                .run(&format!("catchup:{}", c.target), format!("wait until {} has flushed {final_lsn}", c.target), async {
                    let got = poll(limits.catchup_timeout, Duration::from_millis(5), || async {
                        let r = new.query_one("SELECT pg_last_wal_receive_lsn()::text", &[]).await.ok()?;
                        let lsn: Option<String> = r.get(0);
                        let lsn = lsn?;
                        (lsn_bytes(&lsn)? >= want).then_some(lsn)
                    })
                    .await;
                    got.map(|l| format!("flushed {l} ≥ {final_lsn}"))
                        .ok_or_else(|| StepError(format!("{} did not flush {final_lsn} within {:?}", c.target, limits.catchup_timeout)))
                })
                .await?;
            Ok::<_, StepError>(final_lsn)
        }
        .await;
        if let Err(e) = proven {
            return Err(self.roll_back(fleet, steps, &old, Some(&before), &paused, &e.0).await);
        }

        let promotion = fleet.postgres.iter().find(|p| p.name == c.target).map(Configured::for_node).expect("checked");
        let promoted = steps
            .run(&format!("promote:{}", c.target), format!("promote {}", c.target), async { promotion.promote_and_wait(&new, limits.promote_timeout).await.map_err(StepError) })
            .await;
        if let Err(e) = promoted {
            // Did it promote anyway (a timeout after the request)? Then it is too late to roll back.
            let still_standby = new.query_one("SELECT pg_is_in_recovery()", &[]).await.map(|r| r.get::<_, bool>(0)).unwrap_or(false);
            if still_standby && e.0.contains("failed") {
                return Err(self.roll_back(fleet, steps, &old, Some(&before), &paused, &e.0).await);
            }
            return Err(Failure::NeedsAttention(format!(
                "promotion of {} is in doubt ({}); {} stays fenced and {} stay paused: run fleetdeck actions to finish or roll back",
                c.target,
                e.0,
                c.primary,
                c.poolers.iter().map(|p| p.pooler.as_str()).collect::<Vec<_>>().join(", ")
            )));
        }
        c.promoted = true;
        steps.context(&serde_json::to_value(&c).unwrap_or(Value::Null)).await;
        // A node FleetDeck once fenced that is now the primary is fenced no more.
        let _ = ctx.store.lift_fence(&fleet.name, &c.target).await;
        let _ = ctx.store.add_fence(&fleet.name, &c.primary, Some(steps.run_id()), &format!("former primary after switchover to {}", c.target)).await;

        finish_move(ctx, steps, &c, &new, &paused, limits.pause_timeout).await?;
        let window_ms = window.elapsed().as_secs_f64() * 1000.0;
        Ok(format!(
            "{} is the primary; writes were paused {window_ms:.0} ms; {} is fenced and needs rejoin",
            c.target, c.primary
        ))
    }

    async fn verify(&mut self, ctx: &ActionContext, steps: &mut Steps) -> Vec<Check> {
        let Some(f) = &self.facts else { return Vec::new() };
        verify_move(ctx, steps, &f.ctx, true).await
    }
}

struct Opened {
    old: Client,
    new: Client,
    consoles: Vec<Console>,
    before: FenceBefore,
}

impl super::StepReport for Opened {
    fn report(&self) -> String {
        format!("2 action sessions and {} pooler console(s) open", self.consoles.len())
    }
}

impl Switchover {
    /// Before promotion: un-fence (when `before` is given) and RESUME what was paused.
    async fn roll_back(
        &self,
        fleet: &Fleet,
        steps: &mut Steps,
        old: &Client,
        before: Option<&FenceBefore>,
        paused: &[(&Console, String)],
        why: &str,
    ) -> Failure {
        let c = &self.facts.as_ref().expect("preflight").ctx;
        let mut problems = Vec::new();
        if let Some(before) = before {
            let r = steps
                .run(&format!("unfence:{}", c.primary), format!("roll back: un-fence {}", c.primary), async {
                    fence::unfence(old, &c.primary, before, Duration::from_secs(2)).await?;
                    Ok::<_, StepError>("settings restored as postgresql.auto.conf had them".to_string())
                })
                .await;
            if let Err(e) = r {
                problems.push(format!("{} is still fenced ({})", c.primary, e.0));
            }
        }
        for (console, db) in paused {
            let r = steps
                .run(&format!("resume:{}", console.name), format!("roll back: RESUME {db} on {}", console.name), async {
                    console.resume(db).await.map_err(StepError)
                })
                .await;
            if let Err(e) = r {
                problems.push(format!("{} may still be paused ({})", console.name, e.0));
            }
        }
        if let Err(e) = repoint_siblings_with(steps, fleet, &c.siblings, &c.primary, &c.primary_host, c.primary_port).await {
            problems.push(format!("siblings not put back on {}: {e}", c.primary));
        }
        if problems.is_empty() {
            Failure::RolledBack(format!("{why}; rolled back: {} is the primary as before, writes resumed", c.primary))
        } else {
            Failure::NeedsAttention(format!("{why}; the roll back did not complete: {}", problems.join("; ")))
        }
    }
}

/// After promotion: re-point each paused pooler, prove the target takes an
/// application-role write, RESUME. Shared with failover and recovery.
pub async fn finish_move(
    ctx: &ActionContext,
    steps: &mut Steps,
    c: &MoveContext,
    new: &Client,
    paused: &[(&Console, String)],
    within: Duration,
) -> Result<(), Failure> {
    let fleet = &ctx.fleet;
    let mut repointed = true;
    for p in &c.poolers {
        let endpoint = fleet.pgbouncer.iter().find(|e| e.name == p.pooler).expect("checked");
        let console = paused.iter().find(|(con, _)| con.name == p.pooler).map(|(con, _)| *con);
        let r = steps
            .run(&format!("repoint:{}", p.pooler), format!("re-point {} on {} to {}", p.databases.join(", "), p.pooler, c.target), async {
                let mut said = Vec::new();
                for db in &p.databases {
                    said.push(pooler::repoint(endpoint, db, &c.target_host, c.target_port).await?);
                }
                let opened;
                let console = match console {
                    Some(con) => con,
                    None => {
                        opened = Console::open(endpoint).await?;
                        &opened
                    }
                };
                console.reload().await?;
                for db in &p.databases {
                    console.wait_pointing(db, &c.target_host, c.target_port, within.max(Duration::from_secs(2))).await?;
                }
                said.push("RELOAD; SHOW DATABASES names the new host".into());
                Ok::<_, StepError>(said.join("; "))
            })
            .await;
        if r.is_err() {
            repointed = false;
        }
    }
    if !repointed {
        return Err(Failure::NeedsAttention(format!(
            "{} is promoted but a pooler could not be re-pointed (see the steps); the poolers stay paused rather than send writes to the fenced {}: fix the pooler's config and run fleetdeck actions to finish",
            c.target, c.primary
        )));
    }
    let role = c.app_roles.first().cloned().unwrap_or_else(|| "current_user".into());
    let w = steps
        .run(&format!("write_check:{}", c.target), format!("{} accepts an application-role write", c.target), async {
            fence::accepts_write(new, &role).await.map_err(StepError)
        })
        .await;
    let mut problems = Vec::new();
    if let Err(e) = w {
        problems.push(format!("{} refused the write probe ({})", c.target, e.0));
    }
    for p in &c.poolers {
        let endpoint = fleet.pgbouncer.iter().find(|e| e.name == p.pooler).expect("checked");
        for db in &p.databases {
            let console = paused.iter().find(|(con, d)| con.name == p.pooler && d == db).map(|(con, _)| *con);
            let r = steps
                .run(&format!("resume:{}", p.pooler), format!("RESUME {db} on {}", p.pooler), async {
                    match console {
                        Some(con) => con.resume(db).await.map_err(StepError),
                        None => {
                            let con = Console::open(endpoint).await?;
                            // RESUME of a database that is not paused is an error; only resume what is.
                            let rows = con.databases().await?;
                            if rows.iter().any(|r| &r.name == db && r.paused) { con.resume(db).await.map_err(StepError) } else { Ok(()) }
                        }
                    }
                })
                .await;
            if let Err(e) = r {
                problems.push(format!("{} may still be paused ({})", p.pooler, e.0));
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Failure::NeedsAttention(format!("{} is the primary but: {}", c.target, problems.join("; "))))
    }
}

/// Re-points each of `siblings` at `to` (`host:port`): its slot created
/// there first (when it streams through one), then `primary_conninfo` with
/// that host and port, and a reload. Idempotent.
pub async fn repoint_siblings(ctx: &ActionContext, steps: &mut Steps, siblings: &[String], to: &str, host: &str, port: u16) -> Result<(), String> {
    repoint_siblings_with(steps, &ctx.fleet, siblings, to, host, port).await
}

async fn repoint_siblings_with(steps: &mut Steps, fleet: &Fleet, siblings: &[String], to: &str, host: &str, port: u16) -> Result<(), String> {
    let mut failed = Vec::new();
    for sib in siblings {
        let r = steps
            .run(&format!("repoint_sibling:{sib}"), format!("re-point {sib} to {to}"), async {
                let s = action_session(fleet, sib).await?;
                let row = s.query_one("SELECT current_setting('primary_conninfo'), current_setting('primary_slot_name')", &[]).await?;
                let (conninfo, slot): (String, String) = (row.get(0), row.get(1));
                let moved = replace_host_port(&conninfo, host, port);
                if moved == conninfo {
                    return Ok::<_, StepError>(format!("already streams from {host}:{port}"));
                }
                if !slot.is_empty() {
                    let upstream = action_session(fleet, to).await?;
                    upstream
                        .execute(
                            "SELECT pg_create_physical_replication_slot($1, true) WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)",
                            &[&slot],
                        )
                        .await?;
                }
                let sql: String = s.query_one("SELECT format('ALTER SYSTEM SET primary_conninfo = %L', $1::text)", &[&moved]).await?.get(0);
                s.batch_execute(&sql).await?;
                s.batch_execute("SELECT pg_reload_conf()").await?;
                Ok(format!("primary_conninfo now names {host}:{port}{}", if slot.is_empty() { String::new() } else { format!(", slot {slot} on {to}") }))
            })
            .await;
        if let Err(e) = r {
            failed.push(format!("{sib} could not be re-pointed ({})", e.0));
        }
    }
    if failed.is_empty() { Ok(()) } else { Err(failed.join("; ")) }
}

/// Waits until each of `siblings` streams from port `port` (on `timeline`, when given).
pub async fn await_siblings(
    ctx: &ActionContext,
    steps: &mut Steps,
    siblings: &[String],
    to: &str,
    port: u16,
    timeline: Option<i32>,
) -> Result<Vec<String>, String> {
    let fleet = &ctx.fleet;
    let within = fleet.actions.verify_timeout;
    let mut seen = Vec::new();
    for sib in siblings {
        let target_port = i32::from(port);
        let r = steps
            .run(&format!("await_sibling:{sib}"), format!("wait until {sib} streams from {to}"), async {
                let s = action_session(fleet, sib).await?;
                let got = poll(within, Duration::from_millis(10), || async {
                    let r = s.query_opt("SELECT status, sender_port, received_tli FROM pg_stat_wal_receiver", &[]).await.ok()??;
                    let (status, port, tli): (String, Option<i32>, Option<i32>) = (r.get(0), r.get(1), r.get(2));
                    (status == "streaming" && port == Some(target_port) && timeline.is_none_or(|t| tli == Some(t)))
                        .then(|| format!("streaming from port {target_port} on timeline {}", tli.unwrap_or(0)))
                })
                .await;
                got.ok_or_else(|| StepError(format!("{sib} does not stream from {to} within {within:?}")))
            })
            .await;
        match r {
            Ok(m) => seen.push(m),
            Err(e) => return Err(e.0),
        }
    }
    Ok(seen)
}

/// A libpq conninfo (`key=value ...`) with its host and port replaced.
pub fn replace_host_port(conninfo: &str, host: &str, port: u16) -> String {
    let mut out: Vec<String> = Vec::new();
    let (mut h, mut p) = (false, false);
    for tok in split_conninfo(conninfo) {
        match tok.split_once('=').map(|(k, _)| k.trim()) {
            Some("host") | Some("hostaddr") if !h => {
                h = true;
                out.push(format!("host={host}"));
            }
            Some("host") | Some("hostaddr") => {}
            Some("port") => {
                p = true;
                out.push(format!("port={port}"));
            }
            _ => out.push(tok),
        }
    }
    if !p {
        out.insert(0, format!("port={port}"));
    }
    if !h {
        out.insert(0, format!("host={host}"));
    }
    out.join(" ")
}

/// Splits a conninfo into `key=value` tokens, keeping quoted values whole.
fn split_conninfo(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = s.chars().peekable();
    while let Some(ch) = chars.next() {
        match ch {
            '\\' if quoted => {
                cur.push(ch);
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            '\'' => {
                quoted = !quoted;
                cur.push(ch);
            }
            c if c.is_whitespace() && !quoted => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    // `key = value` with spaces around '=': glue the pieces back.
    let mut glued: Vec<String> = Vec::new();
    for t in out {
        match glued.last_mut() {
            Some(last) if last.ends_with('=') || t.starts_with('=') => last.push_str(&t),
            _ => glued.push(t),
        }
    }
    glued
}

/// Verification shared by switchover, failover and recovery: the target is
/// the primary on a new timeline, every pooler points at it and is not
/// paused, a new client gets through, every sibling streams from it, and
/// (`old_fenced`) the old primary holds its fence.
pub async fn verify_move(ctx: &ActionContext, steps: &mut Steps, c: &MoveContext, old_fenced: bool) -> Vec<Check> {
    let fleet = &ctx.fleet;
        let mut checks = Vec::new();
    let timeline = match action_session(fleet, &c.target).await {
        Ok(new) => match new
            .query_one("SELECT pg_is_in_recovery(), ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int", &[])
            .await
        {
            Ok(r) if !r.get::<_, bool>(0) => {
                let tl: i32 = r.get(1);
                checks.push(Check::pass("new_primary", format!("{} is the primary", c.target), format!("out of recovery on timeline {tl}")));
                Some(tl)
            }
            Ok(_) => {
                checks.push(Check::fail("new_primary", format!("{} is the primary", c.target), "still in recovery"));
                None
            }
            Err(e) => {
                checks.push(Check::fail("new_primary", format!("{} is the primary", c.target), pg::error_text(&e)));
                None
            }
        },
        Err(e) => {
            checks.push(Check::fail("new_primary", format!("{} is the primary", c.target), e));
            None
        }
    };
    for p in &c.poolers {
        let Some(endpoint) = fleet.pgbouncer.iter().find(|e| e.name == p.pooler) else { continue };
        let rows = match Console::open(endpoint).await {
            Ok(con) => con.databases().await,
            Err(e) => Err(e),
        };
        match rows {
            Ok(rows) => {
                for db in &p.databases {
                    let row = rows.iter().find(|r| &r.name == db);
                    let ok = row.is_some_and(|r| {
                        r.port == Some(c.target_port) && r.host.as_deref().is_some_and(|h| crate::address::same_host(h, &c.target_host)) && !r.paused
                    });
                    checks.push(Check::pass_or_fail(
                        ok,
                        "pooler_points",
                        format!("{} sends {db} to {}, not paused", p.pooler, c.target),
                        row.map_or("no such database".into(), |r| {
                            format!("SHOW DATABASES: {}:{} paused={}", r.host.as_deref().unwrap_or("?"), r.port.unwrap_or(0), r.paused)
                        }),
                    ));
                    checks.push(match pooler::new_client_reaches(endpoint, db).await {
                        Ok(m) if m.contains("in recovery: false") => Check::pass("pooler_client", format!("a new client through {} reaches the primary", p.pooler), m),
                        Ok(m) => Check::fail("pooler_client", format!("a new client through {} reaches the primary", p.pooler), m),
                        Err(e) => Check::warn("pooler_client", format!("a new client through {} reaches the primary", p.pooler), format!("not checked: {e}")),
                    });
                }
            }
            Err(e) => checks.push(Check::fail("pooler_points", format!("{} points at {}", p.pooler, c.target), e)),
        }
    }
    for sib in &c.siblings {
        let seen = await_siblings(ctx, steps, std::slice::from_ref(sib), &c.target, c.target_port, timeline).await;
        checks.push(match seen {
            Ok(m) => Check::pass("sibling_streams", format!("{sib} streams from {} on its timeline", c.target), m.join("")),
            Err(e) => Check::fail("sibling_streams", format!("{sib} streams from {} on its timeline", c.target), e),
        });
    }
    if old_fenced {
        checks.push(match action_session(fleet, &c.primary).await {
            Ok(old) => match (fence::is_fenced(&old).await, fence::prove(&old, &c.app_roles).await) {
                (Some(true), Ok(ev)) => Check::pass("old_fenced", format!("{} stays fenced", c.primary), ev.join("; ")),
                (f, p) => Check::fail("old_fenced", format!("{} stays fenced", c.primary), format!("sentinel in force: {f:?}; write probe: {p:?}")),
            },
            Err(e) => Check::warn("old_fenced", format!("{} stays fenced", c.primary), format!("not reachable to check: {e}")),
        });
    }
    checks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sibling_conninfo_keeps_everything_but_host_and_port() {
        let before = "host=127.0.0.1 port=16000 user=replicator passfile=/var/tmp/lab/lab.pgpass application_name=pg2";
        assert_eq!(
            replace_host_port(before, "127.0.0.1", 16001),
            "host=127.0.0.1 port=16001 user=replicator passfile=/var/tmp/lab/lab.pgpass application_name=pg2"
        );
    }

    #[test]
    fn quoted_values_with_spaces_survive_and_missing_keys_are_added() {
        let before = "user=rep application_name='a b' sslmode = require";
        assert_eq!(replace_host_port(before, "db2", 5433), "host=db2 port=5433 user=rep application_name='a b' sslmode=require");
    }
}
