//! Recovering an action the console died in.
//!
//! A run with no end in the journal whose console is gone (its pid is not
//! alive on this host) is *interrupted*. What it left behind is read from the
//! fleet itself, not guessed from the journal: is the target out of
//! recovery, is the old primary fenced, which poolers are paused and where do
//! they point. Then the decision is mechanical: if the target was promoted,
//! the only safe direction is forward (keep the old primary fenced, re-point
//! and resume the poolers, re-point the siblings); if not, roll back
//! (un-fence exactly as before, resume). The recovery is itself an action:
//! planned, checked, confirmed, journaled and audited, and it closes the
//! interrupted run.

use std::time::Duration;

use serde_json::Value;

use super::fence;
use super::pooler::Console;
use super::switchover::{action_session, finish_move, repoint_siblings, verify_move, MoveContext};
use super::{Action, ActionContext, Check, Failure, Plan, PlannedStep, StepError, Steps};
use crate::store::journal::{host_name, RunRecord};

/// Whether `run` is running now: no end yet, and its console alive (same host, its process exists).
pub fn is_live(run: &RunRecord) -> bool {
    run.ended_at.is_none() && run.host == host_name() && run.pid > 0 && std::path::Path::new(&format!("/proc/{}", run.pid)).exists()
}

/// Which way a recovery goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// The target was promoted: finish (re-point, resume, siblings).
    Finish,
    /// It was not: roll back (un-fence, resume).
    RollBack,
}

/// What the fleet looks like after an interrupted switchover or failover.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct LeftBehind {
    /// The target is out of recovery (`None`: unreachable).
    pub target_promoted: Option<bool>,
    /// The old primary carries the fence (`None`: unreachable).
    pub old_fenced: Option<bool>,
    /// `pooler/database` paused now.
    pub paused: Vec<String>,
    /// `pooler/database -> host:port` now.
    pub pointing: Vec<String>,
}

impl LeftBehind {
    /// One line.
    pub fn describe(&self, c: &MoveContext) -> String {
        let tri = |v: Option<bool>, yes: &str, no: &str| match v {
            Some(true) => yes.to_string(),
            Some(false) => no.to_string(),
            None => "unreachable".to_string(),
        };
        format!(
            "{}: {}; {}: {}; paused: {}; poolers point at: {}",
            c.target,
            tri(self.target_promoted, "promoted", "still a standby"),
            c.primary,
            tri(self.old_fenced, "fenced", "not fenced"),
            if self.paused.is_empty() { "none".into() } else { self.paused.join(", ") },
            self.pointing.join(", ")
        )
    }
}

/// Reads what an interrupted move left behind.
pub async fn inspect(ctx: &ActionContext, c: &MoveContext) -> LeftBehind {
    let mut lb = LeftBehind::default();
    if let Ok(t) = action_session(&ctx.fleet, &c.target).await {
        lb.target_promoted = t.query_one("SELECT pg_is_in_recovery()", &[]).await.ok().map(|r| !r.get::<_, bool>(0));
    }
    if let Ok(o) = action_session(&ctx.fleet, &c.primary).await {
        lb.old_fenced = fence::is_fenced(&o).await;
    }
    for p in &c.poolers {
        let Some(endpoint) = ctx.fleet.pgbouncer.iter().find(|e| e.name == p.pooler) else { continue };
        match Console::open(endpoint).await {
            Ok(con) => match con.databases().await {
                Ok(rows) => {
                    for r in rows.iter().filter(|r| p.databases.contains(&r.name)) {
                        if r.paused {
                            lb.paused.push(format!("{}/{}", p.pooler, r.name));
                        }
                        lb.pointing.push(format!("{}/{} -> {}:{}", p.pooler, r.name, r.host.as_deref().unwrap_or("?"), r.port.unwrap_or(0)));
                    }
                }
                Err(e) => lb.pointing.push(format!("{}: {e}", p.pooler)),
            },
            Err(e) => lb.pointing.push(format!("{}: {e}", p.pooler)),
        }
    }
    lb
}

/// The recovery of interrupted run `run`.
pub struct Recovery {
    run: RunRecord,
    ctx: Option<MoveContext>,
    left: LeftBehind,
    direction: Option<Direction>,
}

impl Recovery {
    /// A recovery of the journaled `run`.
    pub fn new(run: RunRecord) -> Self {
        let ctx = serde_json::from_value::<MoveContext>(run.context.clone()).ok().filter(|c| !c.target.is_empty());
        Self { run, ctx, left: LeftBehind::default(), direction: None }
    }

    /// Which way it goes, after preflight.
    pub fn direction(&self) -> Option<Direction> {
        self.direction
    }

    /// What the fleet looked like at preflight.
    pub fn left_behind(&self) -> &LeftBehind {
        &self.left
    }
}

impl Action for Recovery {
    fn kind(&self) -> &'static str {
        "recovery"
    }

    fn targets(&self) -> Vec<String> {
        self.run.targets.clone()
    }

    fn confirm_name(&self) -> String {
        self.ctx.as_ref().map(|c| c.target.clone()).unwrap_or_else(|| self.run.id.to_string())
    }

    async fn preflight(&mut self, ctx: &ActionContext) -> Vec<Check> {
        let mut checks = Vec::new();
        let live = is_live(&self.run);
        let attention = self.run.state == "needs_attention" && self.run.recovered_by.is_none();
        let interrupted = self.run.ended_at.is_none() && !live;
        checks.push(Check::pass_or_fail(
            interrupted || attention,
            "interrupted",
            format!("action #{} is interrupted or needs attention", self.run.id),
            if attention {
                format!("it ended needing attention: {}", self.run.message)
            } else if live {
                format!("its console (pid {} on {}) is alive: it is running, not interrupted", self.run.pid, self.run.host)
            } else if self.run.ended_at.is_some() {
                format!("it ended ({})", self.run.state)
            } else {
                format!("no end in the journal and pid {} on {} is gone", self.run.pid, self.run.host)
            },
        ));
        let Some(c) = self.ctx.clone() else {
            checks.push(Check::fail("context", "the journal says what was being moved", format!("run #{} ({}) has no recovery context", self.run.id, self.run.kind)));
            return checks;
        };
        self.left = inspect(ctx, &c).await;
        let direction = match self.left.target_promoted {
            Some(true) => Some(Direction::Finish),
            Some(false) if c.promoted => None, // journal says promoted, node says standby: a human must look
            Some(false) => Some(Direction::RollBack),
            None => None,
        };
        self.direction = direction;
        checks.push(match direction {
            Some(d) => Check::pass("state", "the fleet's state is known", format!("{} → {d:?}", self.left.describe(&c))),
            None => Check::fail("state", "the fleet's state is known", format!("{} — cannot decide safely", self.left.describe(&c))),
        });
        checks
    }

    fn plan(&self) -> Plan {
        let c = self.ctx.clone().unwrap_or_default();
        let step = |id: &str, title: String, detail: &str| PlannedStep { id: id.into(), title, detail: detail.into() };
        let steps = match self.direction {
            Some(Direction::Finish) => {
                let mut v = vec![step(&format!("fence:{}", c.primary), format!("keep {} fenced", c.primary), "fence it again if it is reachable and not fenced")];
                for p in &c.poolers {
                    v.push(step(&format!("repoint:{}", p.pooler), format!("re-point {} to {}", p.pooler, c.target), "rewrite + RELOAD + SHOW DATABASES"));
                    v.push(step(&format!("resume:{}", p.pooler), format!("RESUME {} on {}", p.databases.join(", "), p.pooler), "only what is paused"));
                }
                for s in &c.siblings {
                    v.push(step(&format!("repoint_sibling:{s}"), format!("re-point {s} to {}", c.target), "slot + primary_conninfo + reload"));
                }
                v
            }
            Some(Direction::RollBack) => {
                let mut v = vec![step(&format!("unfence:{}", c.primary), format!("un-fence {}", c.primary), "restore the settings journaled before the fence")];
                for p in &c.poolers {
                    v.push(step(&format!("resume:{}", p.pooler), format!("RESUME {} on {}", p.databases.join(", "), p.pooler), "only what is paused"));
                }
                for s in &c.siblings {
                    v.push(step(&format!("repoint_sibling:{s}"), format!("put {s} back on {}", c.primary), "primary_conninfo + reload, when it was moved"));
                }
                v
            }
            None => Vec::new(),
        };
        Plan {
            kind: "recovery".into(),
            targets: self.run.targets.clone(),
            confirm: self.confirm_name(),
            summary: format!(
                "recover interrupted {} #{} ({}): {}",
                self.run.kind,
                self.run.id,
                self.run.targets.join(" → "),
                match self.direction {
                    Some(Direction::Finish) => "finish it",
                    Some(Direction::RollBack) => "roll it back",
                    None => "undecided",
                }
            ),
            effects: vec![self.ctx.as_ref().map(|c| self.left.describe(c)).unwrap_or_default()],
            steps,
        }
    }

    fn lock_nodes(&self) -> Vec<String> {
        // The nodes may be down (that may be why we are here): the journal and the engine lock guard this one.
        Vec::new()
    }

    fn context(&self) -> Value {
        serde_json::json!({ "recovers": self.run.id, "move": self.run.context })
    }

    async fn execute(&mut self, ctx: &ActionContext, steps: &mut Steps) -> Result<String, Failure> {
        let c = self.ctx.clone().expect("checked");
        let run = self.run.id;
        let result = match self.direction.expect("checked") {
            Direction::Finish => {
                if let Ok(old) = action_session(&ctx.fleet, &c.primary).await {
                    if fence::is_fenced(&old).await == Some(false) {
                        steps
                            .run(&format!("fence:{}", c.primary), format!("fence {}", c.primary), async {
                                fence::fence(&old, &c.primary, Duration::from_secs(2)).await?;
                                Ok::<_, StepError>("fenced".to_string())
                            })
                            .await
                            .map_err(|e| Failure::NeedsAttention(format!("{} is promoted but {} could not be fenced: {}", c.target, c.primary, e.0)))?;
                    }
                }
                let _ = ctx.store.add_fence(&ctx.fleet.name, &c.primary, Some(run), &format!("former primary after {} to {}", self.run.kind, c.target)).await;
                let new = action_session(&ctx.fleet, &c.target).await.map_err(Failure::NeedsAttention)?;
                finish_move(ctx, steps, &c, &new, &[], ctx.fleet.actions.pause_timeout).await?;
                repoint_siblings(ctx, steps, &c.siblings, &c.target, &c.target_host, c.target_port).await.map_err(|e| Failure::NeedsAttention(format!("{} is the primary but {e}", c.target)))?;
                Ok(format!("finished: {} is the primary, the poolers send writes to it, {} stays fenced and needs rejoin", c.target, c.primary))
            }
            Direction::RollBack => {
                let mut problems = Vec::new();
                if let Ok(old) = action_session(&ctx.fleet, &c.primary).await {
                    if fence::is_fenced(&old).await == Some(true) {
                        let before = c.fence_before.clone().unwrap_or_default();
                        if let Err(e) = steps
                            .run(&format!("unfence:{}", c.primary), format!("un-fence {}", c.primary), async {
                                fence::unfence(&old, &c.primary, &before, Duration::from_secs(2)).await?;
                                Ok::<_, StepError>("settings restored".to_string())
                            })
                            .await
                        {
                            problems.push(format!("{} is still fenced: {}", c.primary, e.0));
                        }
                    }
                }
                for p in &c.poolers {
                    let Some(endpoint) = ctx.fleet.pgbouncer.iter().find(|e| e.name == p.pooler) else { continue };
                    for db in &p.databases {
                        let r = steps
                            .run(&format!("resume:{}", p.pooler), format!("RESUME {db} on {}", p.pooler), async {
                                let con = Console::open(endpoint).await?;
                                let rows = con.databases().await?;
                                if rows.iter().any(|r| &r.name == db && r.paused) {
                                    con.resume(db).await?;
                                    Ok::<_, StepError>("resumed".to_string())
                                } else {
                                    Ok("was not paused".to_string())
                                }
                            })
                            .await;
                        if let Err(e) = r {
                            problems.push(format!("{} may still be paused: {}", p.pooler, e.0));
                        }
                    }
                }
                // Siblings may have been moved below the target before the pause: put them back.
                if let Err(e) = repoint_siblings(ctx, steps, &c.siblings, &c.primary, &c.primary_host, c.primary_port).await {
                    problems.push(format!("siblings not put back on {}: {e}", c.primary));
                }
                let _ = ctx.store.lift_fence(&ctx.fleet.name, &c.primary).await;
                if problems.is_empty() {
                    Ok(format!("rolled back: {} is the primary as before, writes resumed", c.primary))
                } else {
                    Err(Failure::NeedsAttention(problems.join("; ")))
                }
            }
        };
        if let Ok(m) = &result {
            let _ = ctx.store.mark_recovered(run, steps.run_id(), m).await;
        }
        result
    }

    async fn verify(&mut self, ctx: &ActionContext, steps: &mut Steps) -> Vec<Check> {
        let c = self.ctx.clone().expect("checked");
        match self.direction {
            Some(Direction::Finish) => verify_move(ctx, steps, &c, true).await,
            _ => {
                let lb = inspect(ctx, &c).await;
                vec![
                    Check::pass_or_fail(lb.paused.is_empty(), "resumed", "no pooler is paused", lb.describe(&c)),
                    Check::pass_or_fail(lb.old_fenced == Some(false), "unfenced", format!("{} takes writes again", c.primary), lb.describe(&c)),
                ]
            }
        }
    }
}
