//! Failover: the primary is gone and a replica must take its place.
//!
//! Preflight confirms the primary is down from more than one vantage point,
//! sampled over a short window: its own login, a new client through each
//! pooler that routes to it, and Prometheus' `pg_up` for its exporter. It
//! lists every candidate (the primary's direct replicas) with what each has
//! received, flushed and replayed, picks the most advanced by received LSN
//! (promotion replays everything received; `pg_last_wal_receive_lsn()` is the
//! safer reading once the primary is gone), and states the possible loss: the
//! bytes between the last primary LSN seen in recent snapshots (with when it
//! was seen) and the candidate, plus the seconds since then in which writes
//! are unknown. Above `actions.max_failover_loss_bytes` it refuses unless the
//! operator types a reason (`--allow-data-loss`).
//!
//! Execute: PAUSE the poolers (so their clients queue instead of failing),
//! promote, re-point the poolers and RESUME, re-point the siblings. The old
//! primary is recorded as fenced in the store: if it comes back out of
//! recovery it is a second primary — split brain, loudly — and no pooler
//! routes to it.

use std::time::Duration;

use serde_json::Value;

use super::pooler::{self, Console};
use super::promote::Configured;
use super::switchover::{self, action_session, finish_move, node_address, repoint_siblings, verify_move, MoveContext};
use super::{lsn_bytes, Action, ActionContext, Check, Failure, Plan, PlannedStep, StepError, Steps};
use crate::address::Address;
use crate::pg;
use crate::snapshot::{Role, Snapshot};

/// A last sighting of the primary older than this (seconds) cannot bound the
/// loss: refused like a loss over the limit, unless a reason is typed.
pub const STALE_SIGHTING_SECONDS: f64 = 10.0;

/// A replica that could take over.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Candidate {
    /// Node name.
    pub node: String,
    /// `pg_last_wal_receive_lsn()`: received and flushed.
    pub received: Option<String>,
    /// `pg_last_wal_replay_lsn()`.
    pub replayed: Option<String>,
    /// Replay paused.
    pub replay_paused: bool,
}

/// A failover, to `to` or the most advanced candidate.
pub struct Failover {
    to: Option<String>,
    ctx: Option<MoveContext>,
    candidates: Vec<Candidate>,
    loss: String,
    promotion: String,
    pause_timeout: Duration,
}

impl Failover {
    /// A failover; `to` names the replica to promote (default: the most advanced).
    pub fn new(to: Option<&str>) -> Self {
        Self { to: to.map(str::to_string), ctx: None, candidates: Vec::new(), loss: String::new(), promotion: String::new(), pause_timeout: Duration::ZERO }
    }

}

/// The node the replicas' `primary_conninfo` names (they all still point at
/// the lost primary), else where the store last saw the primary.
async fn lost_primary(ctx: &ActionContext, s: &Snapshot) -> Option<String> {
    for n in s.nodes.iter().filter(|n| n.role == Role::Replica) {
        let Ok(c) = action_session(&ctx.fleet, &n.name).await else { continue };
        let Ok(r) = c.query_one("SELECT current_setting('primary_conninfo')", &[]).await else { continue };
        let conninfo: String = r.get(0);
        let (host, port) = conninfo_host_port(&conninfo);
        let Some(port) = port else { continue };
        let host = host.unwrap_or_else(|| "localhost".into());
        if let Some(up) = s.nodes.iter().find(|u| Address::parse(&u.address).is_some_and(|a| a.is(&host, port))) {
            if up.role != Role::Replica {
                return Some(up.name.clone());
            }
        }
    }
    ctx.store.primary_position(&ctx.fleet.name).await.ok().flatten().map(|p| p.node)
}

fn conninfo_host_port(conninfo: &str) -> (Option<String>, Option<u16>) {
    let mut host = None;
    let mut port = None;
    for tok in conninfo.split_whitespace() {
        match tok.split_once('=') {
            Some(("host", v)) => host = Some(v.trim_matches('\'').to_string()),
            Some(("port", v)) => port = v.trim_matches('\'').parse().ok(),
            _ => {}
        }
    }
    (host, port)
}

impl Failover {
    async fn gather(&mut self, ctx: &ActionContext) -> Vec<Check> {
        let fleet = &ctx.fleet;
        let mut checks = Vec::new();
        self.pause_timeout = fleet.actions.pause_timeout;
        let s = switchover::snapshot(fleet).await;
        let live: Vec<&str> = s.nodes.iter().filter(|n| n.role == Role::Primary).map(|n| n.name.as_str()).collect();
        if !live.is_empty() {
            checks.push(Check::fail(
                "primary_down",
                "the primary is down",
                format!("{} is out of recovery and answering: use a switchover, not a failover", live.join(", ")),
            ));
            return checks;
        }
        let Some(old) = lost_primary(ctx, &s).await else {
            checks.push(Check::fail("primary_down", "the primary is down", "no node is out of recovery and no replica names a primary"));
            return checks;
        };
        // Vantage points, sampled three times over ~0.6 s.
        let endpoint = fleet.postgres.iter().find(|p| p.name == old);
        let poolers: Vec<_> = s.poolers.iter().filter(|p| p.node.as_deref() == Some(old.as_str())).collect();
        let address = node_address(&s, &old).map(|a| a.to_string()).unwrap_or_default();
        let mut votes = Vec::new();
        for round in 0..3 {
            if round > 0 {
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            if let Some(e) = endpoint {
                let own = pg::connect(&e.monitor, "fleetdeck", Duration::from_millis(800)).await;
                votes.push(("own probe", own.is_err(), own.err().map(|e| e.to_string()).unwrap_or_else(|| "answers".into())));
            }
            for p in &poolers {
                let Some(pe) = fleet.pgbouncer.iter().find(|e| e.name == p.name) else { continue };
                let through = pooler::new_client_reaches(pe, &pooler_database(pe)).await;
                votes.push(("pooler", through.is_err(), through.unwrap_or_else(|e| e)));
            }
        }
        let prom = prometheus_up(ctx, &address, &old).await;
        let own_down = votes.iter().filter(|v| v.0 == "own probe").all(|v| v.1);
        let pooler_down = votes.iter().any(|v| v.0 == "pooler") && votes.iter().filter(|v| v.0 == "pooler").all(|v| v.1);
        let points = usize::from(own_down) + usize::from(pooler_down) + usize::from(prom == Some(false));
        let evidence = format!(
            "own probe: {}; poolers: {}; Prometheus pg_up: {}",
            if own_down { format!("down 3/3 ({})", votes.iter().find(|v| v.0 == "own probe").map(|v| v.2.as_str()).unwrap_or("")) } else { "ANSWERS".into() },
            if poolers.is_empty() { "none routes to it".to_string() } else if pooler_down { "down 3/3".into() } else { "a client got through".into() },
            match prom {
                Some(false) => "0".to_string(),
                Some(true) => "1 (possibly stale)".into(),
                None => "not known".into(),
            }
        );
        checks.push(Check::pass_or_fail(own_down && points >= 2, "primary_down", format!("{old} is down, seen from more than one vantage point"), evidence));

        // Candidates: the lost primary's direct replicas (their receiver points at it).
        let old_addr = node_address(&s, &old);
        let mut candidates = Vec::new();
        for n in s.nodes.iter().filter(|n| n.role == Role::Replica && n.reachable) {
            let Ok(c) = action_session(fleet, &n.name).await else { continue };
            let Ok(r) = c
                .query_one(
                    "SELECT current_setting('primary_conninfo'), pg_last_wal_receive_lsn()::text, pg_last_wal_replay_lsn()::text, pg_is_wal_replay_paused()",
                    &[],
                )
                .await
            else {
                continue;
            };
            let (host, port) = conninfo_host_port(&r.get::<_, String>(0));
            let direct = old_addr.as_ref().is_some_and(|a| port.is_some_and(|p| a.is(host.as_deref().unwrap_or("localhost"), p)));
            if direct {
                candidates.push(Candidate { node: n.name.clone(), received: r.get(1), replayed: r.get(2), replay_paused: r.get(3) });
            }
        }
        candidates.sort_by_key(|c| std::cmp::Reverse(c.received.as_deref().and_then(lsn_bytes).unwrap_or(0)));
        self.candidates = candidates.clone();
        checks.push(Check::pass_or_fail(
            !candidates.is_empty(),
            "candidates",
            "a replica of the lost primary can take over",
            candidates
                .iter()
                .map(|c| format!("{} received {} replayed {}{}", c.node, c.received.as_deref().unwrap_or("?"), c.replayed.as_deref().unwrap_or("?"), if c.replay_paused { " (replay paused)" } else { "" }))
                .collect::<Vec<_>>()
                .join("; "),
        ));
        let Some(best) = candidates.first() else { return checks };
        let chosen = match &self.to {
            Some(t) => match candidates.iter().find(|c| &c.node == t) {
                Some(c) => c.clone(),
                None => {
                    checks.push(Check::fail("target", format!("{t} can take over"), format!("{t} is not a reachable direct replica of {old}")));
                    return checks;
                }
            },
            None => best.clone(),
        };
        if chosen.node != best.node {
            checks.push(Check::fail_overridable(
                "most_advanced",
                format!("{} is the most advanced", chosen.node),
                format!("{} received {}, more than {}'s {}", best.node, best.received.as_deref().unwrap_or("?"), chosen.node, chosen.received.as_deref().unwrap_or("?")),
            ));
        }
        // The possible loss.
        let seen = ctx.store.primary_position(&fleet.name).await.ok().flatten().filter(|p| p.node == old);
        let received = chosen.received.as_deref().and_then(lsn_bytes).unwrap_or(0);
        let limit = fleet.actions.max_failover_loss_bytes;
        match seen {
            Some(p) => {
                let last = lsn_bytes(&p.lsn).unwrap_or(0);
                let bytes = last.saturating_sub(received);
                let age = chrono::DateTime::parse_from_rfc3339(&p.seen_at)
                    .map(|t| (chrono::Utc::now() - t.with_timezone(&chrono::Utc)).num_milliseconds() as f64 / 1000.0)
                    .unwrap_or(f64::NAN);
                self.loss = format!(
                    "{old} was last seen at {} ({}, {age:.1} s ago); {} has received {}: at least {bytes} bytes may be lost, plus whatever {old} wrote in the {age:.1} s after it was last seen",
                    p.lsn,
                    p.seen_at,
                    chosen.node,
                    chosen.received.as_deref().unwrap_or("?")
                );
                // A sighting older than a few refreshes bounds nothing: the primary
                // may have written any amount since.
                let stale = !(age.is_finite() && age <= STALE_SIGHTING_SECONDS);
                checks.push(if bytes <= limit && !stale {
                    Check::pass("data_loss", format!("possible loss within {limit} bytes"), self.loss.clone())
                } else {
                    Check::fail_overridable("data_loss", format!("possible loss within {limit} bytes"), self.loss.clone())
                });
            }
            None => {
                self.loss = format!("{old}'s last position is not in the store (no console watched it): the loss cannot be estimated");
                checks.push(Check::fail_overridable("data_loss", format!("possible loss within {limit} bytes"), self.loss.clone()));
            }
        }
        let new = match action_session(fleet, &chosen.node).await {
            Ok(c) => c,
            Err(e) => {
                checks.push(Check::fail("action_login", format!("{}'s action login connects", chosen.node), e));
                return checks;
            }
        };
        checks.push(Check::pass("action_login", format!("{}'s action login connects", chosen.node), "connected directly"));
        let (pooler_dbs, pooler_checks) = switchover::write_poolers(fleet, &s, &old).await;
        checks.extend(pooler_checks);
        checks.push(switchover::lock_checks(ctx, &[(&chosen.node, &new)]).await);
        let siblings: Vec<String> = candidates.iter().filter(|c| c.node != chosen.node).map(|c| c.node.clone()).collect();
        let app_roles = switchover::app_roles(fleet, &s, &pooler_dbs, &new).await;
        let target_addr = node_address(&s, &chosen.node).unwrap_or_else(|| Address::new("?", 0));
        self.promotion = fleet.postgres.iter().find(|p| p.name == chosen.node).map(Configured::for_node).map(|p| p.describe()).unwrap_or_default();
        self.ctx = Some(MoveContext {
            primary: old.clone(),
            target: chosen.node.clone(),
            primary_host: old_addr.as_ref().map(|a| a.host.clone()).unwrap_or_default(),
            primary_port: old_addr.as_ref().map_or(0, |a| a.port),
            target_host: target_addr.host,
            target_port: target_addr.port,
            poolers: pooler_dbs,
            siblings,
            fence_before: None,
            fenced: false,
            promoted: false,
            app_roles,
        });
        checks
    }
}

/// The database a pooler's vantage client asks for: its first non-admin
/// database in the action login, else the admin login's.
fn pooler_database(pe: &crate::fleet::PgBouncerEndpoint) -> String {
    pe.action.as_ref().and_then(|a| a.dbname.clone()).filter(|d| d != crate::probe::pgbouncer::ADMIN_DATABASE).unwrap_or_else(|| "chat".into())
}

/// Prometheus' `pg_up` for the node's exporter (by its `server` label, the
/// node's address, or a `node` label with its name).
async fn prometheus_up(ctx: &ActionContext, address: &str, node: &str) -> Option<bool> {
    let prom = ctx.fleet.prometheus.as_ref()?;
    let client = crate::probe::prometheus::PrometheusClient::new(prom.clone());
    let query = format!("pg_up{{server=\"{address}\"}} or pg_up{{node=\"{node}\"}}");
    let v = client.instant(&query).await.ok()?;
    let values: Vec<f64> = v.iter().map(|s| s.value).collect();
    (!values.is_empty()).then(|| values.iter().any(|v| *v >= 1.0))
}

impl Action for Failover {
    fn kind(&self) -> &'static str {
        "failover"
    }

    fn targets(&self) -> Vec<String> {
        match &self.ctx {
            Some(c) => vec![c.primary.clone(), c.target.clone()],
            None => self.to.iter().cloned().collect(),
        }
    }

    fn confirm_name(&self) -> String {
        self.ctx.as_ref().map(|c| c.target.clone()).or_else(|| self.to.clone()).unwrap_or_default()
    }

    async fn preflight(&mut self, ctx: &ActionContext) -> Vec<Check> {
        self.gather(ctx).await
    }

    fn plan(&self) -> Plan {
        let Some(c) = &self.ctx else {
            return Plan {
                kind: "failover".into(),
                targets: self.targets(),
                confirm: self.confirm_name(),
                summary: "failover: cannot be planned (see the checks)".into(),
                effects: Vec::new(),
                steps: Vec::new(),
            };
        };
        let (pauses, repoints) = switchover::move_steps(c, self.pause_timeout);
        let step = |id: String, title: String, detail: String| PlannedStep { id, title, detail };
        let mut steps = vec![step("connect".into(), "open the action session and pooler consoles".into(), String::new())];
        steps.extend(pauses);
        steps.push(step(format!("promote:{}", c.target), format!("promote {}", c.target), self.promotion.clone()));
        steps.extend(repoints);
        steps.push(step(format!("write_check:{}", c.target), format!("{} accepts an application-role write", c.target), String::new()));
        for p in &c.poolers {
            steps.push(step(format!("resume:{}", p.pooler), format!("RESUME {} on {}", p.databases.join(", "), p.pooler), String::new()));
        }
        for s in &c.siblings {
            steps.push(step(format!("repoint_sibling:{s}"), format!("re-point {s} to {}", c.target), "slot + primary_conninfo + reload".into()));
        }
        let mut effects = vec![self.loss.clone()];
        effects.extend(self.candidates.iter().map(|k| {
            format!("candidate {}: received {}, replayed {}", k.node, k.received.as_deref().unwrap_or("?"), k.replayed.as_deref().unwrap_or("?"))
        }));
        effects.push(format!("{} is recorded as fenced: if it comes back out of recovery it shows as split brain and no pooler routes to it", c.primary));
        Plan {
            kind: "failover".into(),
            targets: vec![c.primary.clone(), c.target.clone()],
            confirm: c.target.clone(),
            summary: format!("fail over from the lost {} to {}", c.primary, c.target),
            effects,
            steps,
        }
    }

    fn lock_nodes(&self) -> Vec<String> {
        self.ctx.as_ref().map(|c| vec![c.target.clone()]).unwrap_or_default()
    }

    fn context(&self) -> Value {
        self.ctx.as_ref().map(|c| serde_json::to_value(c).unwrap_or(Value::Null)).unwrap_or(Value::Null)
    }

    async fn execute(&mut self, ctx: &ActionContext, steps: &mut Steps) -> Result<String, Failure> {
        let mut c = self.ctx.clone().expect("preflight ran");
        let fleet = &ctx.fleet;
        let limits = fleet.actions.clone();
        let new = steps
            .run("connect", "open the action session", async { action_session(fleet, &c.target).await.map_err(StepError) })
            .await
            .map_err(|e| Failure::RolledBack(format!("nothing changed: {}", e.0)))?;
        let mut consoles = Vec::new();
        for p in &c.poolers {
            if let Some(endpoint) = fleet.pgbouncer.iter().find(|e| e.name == p.pooler) {
                if let Ok(con) = Console::open(endpoint).await {
                    consoles.push(con);
                }
            }
        }
        // Pause: queued clients wait for the new primary instead of failing.
        let mut paused: Vec<(&Console, String)> = Vec::new();
        for con in &consoles {
            let Some(p) = c.poolers.iter().find(|p| p.pooler == con.name) else { continue };
            for db in &p.databases {
                let r = steps
                    .run(&format!("pause:{}", con.name), format!("PAUSE {db} on {}", con.name), async {
                        con.pause(db, limits.pause_timeout).await.map_err(StepError)
                    })
                    .await;
                if r.is_ok() {
                    paused.push((con, db.clone()));
                }
            }
        }
        let promotion = fleet.postgres.iter().find(|p| p.name == c.target).map(Configured::for_node).expect("checked");
        let promoted = steps
            .run(&format!("promote:{}", c.target), format!("promote {}", c.target), async {
                promotion.promote_and_wait(&new, limits.promote_timeout).await.map_err(StepError)
            })
            .await;
        if let Err(e) = promoted {
            let mut resumed = Vec::new();
            for (con, db) in &paused {
                if con.resume(db).await.is_ok() {
                    resumed.push(con.name.clone());
                }
            }
            return Err(Failure::NeedsAttention(format!(
                "promotion of {} failed ({}); the fleet still has no primary; resumed: {}",
                c.target,
                e.0,
                if resumed.is_empty() { "none".into() } else { resumed.join(", ") }
            )));
        }
        c.promoted = true;
        steps.context(&serde_json::to_value(&c).unwrap_or(Value::Null)).await;
        // A node FleetDeck once fenced that is now the primary is fenced no more.
        let _ = ctx.store.lift_fence(&fleet.name, &c.target).await;
        let _ = ctx.store.add_fence(&fleet.name, &c.primary, Some(steps.run_id()), &format!("lost primary after failover to {}", c.target)).await;
        finish_move(ctx, steps, &c, &new, &paused, limits.pause_timeout).await?;
        repoint_siblings(ctx, steps, &c.siblings, &c.target, &c.target_host, c.target_port)
            .await
            .map_err(|e| Failure::NeedsAttention(format!("{} is the primary and takes writes, but {e}", c.target)))?;
        self.ctx = Some(c.clone());
        Ok(format!("{} is the primary; {} is recorded as fenced and must be rejoined, never restarted as a primary", c.target, c.primary))
    }

    async fn verify(&mut self, ctx: &ActionContext, steps: &mut Steps) -> Vec<Check> {
        let Some(c) = self.ctx.clone() else { return Vec::new() };
        let mut checks = verify_move(ctx, steps, &c, false).await;
        let back = match ctx.fleet.postgres.iter().find(|p| p.name == c.primary) {
            Some(e) => pg::connect(&e.monitor, "fleetdeck", Duration::from_millis(800)).await.is_ok(),
            None => false,
        };
        checks.push(if back {
            Check::warn("old_primary", format!("{} stays away", c.primary), format!("{} answers again: it must be rejoined as a replica (it is fenced in the store)", c.primary))
        } else {
            Check::pass("old_primary", format!("{} stays away", c.primary), "it does not answer")
        });
        checks
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_upstream_is_read_from_primary_conninfo() {
        let (h, p) = conninfo_host_port("host=127.0.0.1 port=16000 user=replicator application_name=pg2");
        assert_eq!((h.as_deref(), p), (Some("127.0.0.1"), Some(16000)));
        assert_eq!(conninfo_host_port("user=x"), (None, None), "no host, no port: nothing guessed");
    }
}
