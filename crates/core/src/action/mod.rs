//! Guarded actions: the one flow every change to the fleet goes through.
//!
//! plan (a dry run that reads and changes nothing) → preflight checks, each
//! pass / warn / fail with the evidence it read → confirmation (the operator
//! types the target's name) → execute, each step journaled in the local store
//! *before* it runs and again when it ends, and streamed as it happens →
//! verify → exactly one audit record.
//!
//! Each action is one type in one file behind [`Action`] (`switchover.rs`,
//! `failover.rs`, `recovery.rs`; the index actions join them). [`run`] owns
//! the flow, so no action can skip a part of it: a failed check blocks unless
//! the check is overridable and the operator gave a typed reason (audited);
//! nothing is retried blindly; one action per fleet at a time, held twice — a
//! lock in this process ([`EngineLock`]) and a PostgreSQL advisory lock on
//! the nodes the action changes, taken over the node's own action login (a
//! direct connection: a transaction pooler would hand the session lock to
//! whoever gets the server connection next).
//!
//! An action that fails returns how it left the fleet: rolled back (as
//! before, stated) or needing attention (what is changed, what to do). A
//! console killed mid-action leaves a journal with no end; `recovery` reads
//! it back, inspects the fleet and finishes or rolls back.

pub mod failover;
pub mod fence;
pub mod pooler;
pub mod promote;
pub mod recovery;
pub mod switchover;

use std::collections::HashSet;
use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::sync::mpsc::UnboundedSender;
use ts_rs::TS;

use crate::fleet::Fleet;
use crate::store::audit::AuditEntry;
use crate::store::journal::NewRun;
use crate::store::Store;

/// The advisory lock every FleetDeck action holds on the nodes it changes
/// (`pg_try_advisory_lock(ADVISORY_LOCK.0, ADVISORY_LOCK.1)`; in `pg_locks`
/// it is `classid = 1178880768, objid = 1, objsubid = 2`).
pub const ADVISORY_LOCK: (i32, i32) = (0x4644_4B00, 1);

/// The `application_name` of every action connection: fencing ends every
/// other client session, never these.
pub const APPLICATION_NAME: &str = "fleetdeck-action";

/// A check's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum CheckStatus {
    /// Fine.
    Pass,
    /// Worth reading; does not block.
    Warn,
    /// Blocks, unless overridden with a reason (when it can be).
    Fail,
}

/// One preflight or verification check with the evidence it read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Check {
    /// Stable id (`target_lag`), what an override names.
    pub id: String,
    /// What is checked, in words.
    pub title: String,
    /// The verdict.
    pub status: CheckStatus,
    /// What was read, as numbers and names, so the verdict can be audited.
    pub evidence: String,
    /// Whether a typed reason may override a failure.
    pub overridable: bool,
    /// The operator's reason, when a failure was overridden.
    pub overridden: Option<String>,
}

impl Check {
    /// A check that passed.
    pub fn pass(id: &str, title: impl Into<String>, evidence: impl Into<String>) -> Self {
        Self { id: id.into(), title: title.into(), status: CheckStatus::Pass, evidence: evidence.into(), overridable: false, overridden: None }
    }
    /// A warning.
    pub fn warn(id: &str, title: impl Into<String>, evidence: impl Into<String>) -> Self {
        Self { status: CheckStatus::Warn, ..Self::pass(id, title, evidence) }
    }
    /// A failure no reason can override.
    pub fn fail(id: &str, title: impl Into<String>, evidence: impl Into<String>) -> Self {
        Self { status: CheckStatus::Fail, ..Self::pass(id, title, evidence) }
    }
    /// A failure the operator may override with a typed reason.
    pub fn fail_overridable(id: &str, title: impl Into<String>, evidence: impl Into<String>) -> Self {
        Self { overridable: true, ..Self::fail(id, title, evidence) }
    }
    /// `pass` when `ok`, else `fail`.
    pub fn pass_or_fail(ok: bool, id: &str, title: impl Into<String>, evidence: impl Into<String>) -> Self {
        if ok { Self::pass(id, title, evidence) } else { Self::fail(id, title, evidence) }
    }
    /// A failure that nobody overrode.
    pub fn blocks(&self) -> bool {
        self.status == CheckStatus::Fail && self.overridden.is_none()
    }
}

/// One step of a plan, in execution order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct PlannedStep {
    /// Stable id (`pause:pgb0`), the same the journal records.
    pub id: String,
    /// What it does.
    pub title: String,
    /// Exactly how (statements, bounds).
    pub detail: String,
}

/// What an action will do, said before anything is done.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Plan {
    /// Action kind.
    pub kind: String,
    /// Names acted on.
    pub targets: Vec<String>,
    /// What the operator must type to confirm.
    pub confirm: String,
    /// One line.
    pub summary: String,
    /// What changes where: poolers that pause, replicas that re-point, cascades that follow.
    pub effects: Vec<String>,
    /// The steps, in order.
    pub steps: Vec<PlannedStep>,
}

/// Where a step is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum StepPhase {
    /// Journaled, running.
    Started,
    /// Done.
    Ok,
    /// Failed.
    Failed,
}

/// A step as it happens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct StepEvent {
    /// Order in the run, from 1.
    pub seq: u32,
    /// Stable id.
    pub id: String,
    /// What it does.
    pub title: String,
    /// Where it is.
    pub phase: StepPhase,
    /// Wall time when it ended, ms.
    pub ms: Option<f64>,
    /// Result or error.
    pub message: Option<String>,
}

/// How an action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum OutcomeKind {
    /// A dry run: planned and checked, nothing changed.
    Planned,
    /// Done and verified.
    Done,
    /// Refused by preflight, the confirmation or the lock: nothing changed.
    Refused,
    /// Failed and rolled back: the fleet is as before.
    RolledBack,
    /// Failed (or verified wrong) and needs attention: the message says the fleet's state.
    NeedsAttention,
}

impl OutcomeKind {
    /// The CLI's exit code: 0 done (or a dry run that would go ahead), 3
    /// refused, 4 rolled back, 5 needs attention.
    pub fn exit_code(self) -> u8 {
        match self {
            OutcomeKind::Planned | OutcomeKind::Done => 0,
            OutcomeKind::Refused => 3,
            OutcomeKind::RolledBack => 4,
            OutcomeKind::NeedsAttention => 5,
        }
    }

    fn state(self) -> &'static str {
        match self {
            OutcomeKind::Planned => "planned",
            OutcomeKind::Done => "done",
            OutcomeKind::Refused => "refused",
            OutcomeKind::RolledBack => "rolled_back",
            OutcomeKind::NeedsAttention => "needs_attention",
        }
    }
}

/// The end of an action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Outcome {
    /// How it ended.
    pub kind: OutcomeKind,
    /// In words, with the state the fleet is in.
    pub message: String,
    /// The journal's run id, once execution started.
    #[ts(type = "number | null")]
    pub run_id: Option<i64>,
    /// The audit record's sequence number.
    #[ts(type = "number | null")]
    pub audit_seq: Option<i64>,
    /// The plan shown.
    pub plan: Option<Plan>,
    /// The preflight checks.
    pub checks: Vec<Check>,
    /// The steps run.
    pub steps: Vec<StepEvent>,
    /// The verification checks.
    pub verification: Vec<Check>,
}

/// What a console streams while an action runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "event", rename_all = "snake_case")]
#[ts(export)]
pub enum ActionEvent {
    /// The plan.
    Planned {
        /// It.
        plan: Plan,
    },
    /// The preflight checks.
    Checked {
        /// Them.
        checks: Vec<Check>,
    },
    /// A step started or ended.
    Step {
        /// It.
        step: StepEvent,
    },
    /// The verification.
    Verified {
        /// Its checks.
        checks: Vec<Check>,
    },
    /// The end.
    Finished {
        /// How.
        outcome: Outcome,
    },
}

/// An operator's override of one failed check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Override {
    /// The check's id.
    pub check: String,
    /// Why, typed by the operator (audited).
    pub reason: String,
}

/// Who acts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Operator {
    /// The OS user running the console.
    pub os_user: String,
    /// The name the operator gave (the app asks once).
    pub name: String,
}

impl Operator {
    /// The OS user, named `name` (or the OS user when `None`).
    pub fn current(name: Option<&str>) -> Self {
        let os_user = std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .unwrap_or_else(|_| uid_name());
        Self { name: name.map(str::to_string).unwrap_or_else(|| os_user.clone()), os_user }
    }
}

fn uid_name() -> String {
    // Without $USER (cron, systemd): the owner of our own /proc entry.
    use std::os::unix::fs::MetadataExt;
    let uid = std::fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(u32::MAX);
    std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|p| {
            p.lines().find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.len() > 2 && f[2] == uid.to_string()).then(|| f[0].to_string())
            })
        })
        .unwrap_or_else(|| format!("uid {uid}"))
}

/// What every action gets: the fleet, the store (journal and audit), who acts,
/// and where to stream events.
pub struct ActionContext {
    /// The checked fleet file.
    pub fleet: Fleet,
    /// The local store: journal, fences and audit log. Actions need it.
    pub store: Store,
    /// Who acts.
    pub operator: Operator,
    /// Where events go (the CLI's progress list, the app's panel).
    pub events: Option<UnboundedSender<ActionEvent>>,
}

impl ActionContext {
    fn emit(&self, e: ActionEvent) {
        if let Some(tx) = &self.events {
            let _ = tx.send(e);
        }
    }
}

/// How a failed execution left the fleet.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// Undone: the fleet is as before (the message says so, and what failed).
    RolledBack(String),
    /// Something is changed and must be looked at: the message says what and what to do.
    NeedsAttention(String),
}

/// A guarded action. [`run`] drives it; an implementation never calls its
/// own parts out of order.
pub trait Action: Send {
    /// Kind (`switchover`).
    fn kind(&self) -> &'static str;
    /// Names acted on.
    fn targets(&self) -> Vec<String>;
    /// What the operator must type to confirm.
    fn confirm_name(&self) -> String;
    /// Reads the fleet and checks it; prepares the plan. Changes nothing.
    fn preflight<'a>(&'a mut self, ctx: &'a ActionContext) -> impl Future<Output = Vec<Check>> + Send + 'a;
    /// The plan, after [`Action::preflight`].
    fn plan(&self) -> Plan;
    /// The nodes whose action login takes the advisory lock for the run.
    fn lock_nodes(&self) -> Vec<String>;
    /// What recovery must know, journaled before the first step (and again as it changes).
    fn context(&self) -> Value;
    /// Does it, step by step through `steps`.
    fn execute<'a>(
        &'a mut self,
        ctx: &'a ActionContext,
        steps: &'a mut Steps,
    ) -> impl Future<Output = Result<String, Failure>> + Send + 'a;
    /// Checks the result (steps may be run to wait for it).
    fn verify<'a>(&'a mut self, ctx: &'a ActionContext, steps: &'a mut Steps) -> impl Future<Output = Vec<Check>> + Send + 'a;
}

/// A step that failed: the error, in words.
#[derive(Debug, Clone, PartialEq)]
pub struct StepError(pub String);

impl<E: std::fmt::Display> From<E> for StepError {
    fn from(e: E) -> Self {
        StepError(e.to_string())
    }
}

/// Runs, journals and streams an action's steps.
pub struct Steps {
    store: Store,
    events: Option<UnboundedSender<ActionEvent>>,
    run: i64,
    seq: u32,
    done: Vec<StepEvent>,
}

impl Steps {
    /// Runs `f` as step `id`: journaled before it starts and when it ends,
    /// streamed both times, timed. A step whose start cannot be journaled does
    /// not run (nothing may happen that the journal does not know).
    pub async fn run<T, F>(&mut self, id: &str, title: impl Into<String>, f: F) -> Result<T, StepError>
    where
        F: Future<Output = Result<T, StepError>>,
        T: StepReport,
    {
        let title = title.into();
        self.seq += 1;
        let seq = self.seq;
        if let Err(e) = self.store.step_started(self.run, i64::from(seq), id, &title).await {
            let message = format!("not run: the journal cannot record it: {e}");
            self.finish(seq, id, &title, StepPhase::Failed, 0.0, message.clone());
            return Err(StepError(message));
        }
        self.emit(StepEvent { seq, id: id.into(), title: title.clone(), phase: StepPhase::Started, ms: None, message: None });
        let t0 = Instant::now();
        let result = f.await;
        let ms = t0.elapsed().as_secs_f64() * 1000.0;
        let (phase, message) = match &result {
            Ok(v) => (StepPhase::Ok, v.report()),
            Err(e) => (StepPhase::Failed, e.0.clone()),
        };
        // The end is best effort: the step already happened, and the start in
        // the journal is what recovery needs.
        let _ = self.store.step_ended(self.run, i64::from(seq), phase == StepPhase::Ok, ms, &message).await;
        self.finish(seq, id, &title, phase, ms, message);
        result
    }

    fn finish(&mut self, seq: u32, id: &str, title: &str, phase: StepPhase, ms: f64, message: String) {
        let e = StepEvent { seq, id: id.into(), title: title.into(), phase, ms: Some(ms), message: Some(message) };
        self.emit(e.clone());
        self.done.push(e);
    }

    fn emit(&self, step: StepEvent) {
        if let Some(tx) = &self.events {
            let _ = tx.send(ActionEvent::Step { step });
        }
    }

    /// Replaces the journaled recovery context.
    pub async fn context(&self, context: &Value) {
        let _ = self.store.set_run_context(self.run, context).await;
    }

    /// The journal's run id.
    pub fn run_id(&self) -> i64 {
        self.run
    }

}

/// What a successful step says about itself in the journal and the stream.
pub trait StepReport {
    /// One line.
    fn report(&self) -> String;
}

impl StepReport for () {
    fn report(&self) -> String {
        "ok".into()
    }
}

impl StepReport for tokio_postgres::Client {
    fn report(&self) -> String {
        "connected".into()
    }
}

impl StepReport for String {
    fn report(&self) -> String {
        self.clone()
    }
}

/// Held while an action runs in this process: one action per fleet.
pub struct EngineLock {
    fleet: String,
}

static RUNNING: Mutex<Option<HashSet<String>>> = Mutex::new(None);

impl EngineLock {
    /// Takes the fleet's lock, or `None` when an action holds it.
    pub fn try_take(fleet: &str) -> Option<EngineLock> {
        let mut running = RUNNING.lock().unwrap_or_else(|p| p.into_inner());
        running.get_or_insert_with(HashSet::new).insert(fleet.to_string()).then(|| EngineLock { fleet: fleet.to_string() })
    }
}

impl Drop for EngineLock {
    fn drop(&mut self) {
        let mut running = RUNNING.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(set) = running.as_mut() {
            set.remove(&self.fleet);
        }
    }
}

/// What [`run`] is asked to do.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// What the operator typed; `None` is a dry run (plan and checks only).
    pub confirm: Option<String>,
    /// Overrides of failed checks, each with its reason.
    pub overrides: Vec<Override>,
}

/// The advisory locks held for a run: one direct session per node.
struct AdvisoryLocks {
    _sessions: Vec<tokio_postgres::Client>,
}

async fn take_advisory_locks(ctx: &ActionContext, nodes: &[String]) -> Result<AdvisoryLocks, String> {
    let mut sessions = Vec::new();
    for node in nodes {
        let endpoint = ctx.fleet.postgres.iter().find(|p| &p.name == node).ok_or_else(|| format!("no node {node} in the fleet"))?;
        let login = endpoint.action.as_ref().ok_or_else(|| format!("{node} has no action login"))?;
        let (client, _) = crate::pg::connect(login, APPLICATION_NAME, Duration::from_secs(5))
            .await
            .map_err(|e| format!("cannot take the action lock on {node}: {e}"))?;
        let got: bool = client
            .query_one("SELECT pg_try_advisory_lock($1, $2)", &[&ADVISORY_LOCK.0, &ADVISORY_LOCK.1])
            .await
            .map_err(|e| format!("cannot take the action lock on {node}: {}", crate::pg::error_text(&e)))?
            .get(0);
        if !got {
            let holder = lock_holder(&client).await.unwrap_or_else(|| "another session".into());
            return Err(format!("another action holds FleetDeck's lock on {node} ({holder})"));
        }
        sessions.push(client);
    }
    Ok(AdvisoryLocks { _sessions: sessions })
}

/// Who holds FleetDeck's advisory lock on the node `client` is connected to.
pub async fn lock_holder(client: &tokio_postgres::Client) -> Option<String> {
    let row = client
        .query_opt(
            "SELECT l.pid, coalesce(a.application_name, ''), coalesce(a.usename::text, ''), coalesce(host(a.client_addr), 'local'),
                    coalesce(extract(epoch FROM now() - a.backend_start)::float8, 0)
             FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
             WHERE l.locktype = 'advisory' AND l.classid = $1::int::oid AND l.objid = $2::int::oid AND l.objsubid = 2 AND l.granted
               AND l.pid <> pg_backend_pid()",
            &[&ADVISORY_LOCK.0, &ADVISORY_LOCK.1],
        )
        .await
        .ok()??;
    let (pid, app, user, from, age): (i32, String, String, String, f64) = (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4));
    Some(format!("pid {pid}, {user} from {from}, application '{app}', for {age:.0} s"))
}

/// The one flow. Streams events to `ctx.events`, journals, writes exactly one
/// audit record for anything but a dry run, and returns how it ended.
pub async fn run<A: Action>(action: &mut A, ctx: &ActionContext, req: Request) -> Outcome {
    let started_at = now();
    let mut checks = action.preflight(ctx).await;
    for o in &req.overrides {
        if let Some(c) = checks.iter_mut().find(|c| c.id == o.check && c.status == CheckStatus::Fail && c.overridable) {
            c.overridden = Some(o.reason.clone());
        }
    }
    let plan = action.plan();
    ctx.emit(ActionEvent::Planned { plan: plan.clone() });
    ctx.emit(ActionEvent::Checked { checks: checks.clone() });
    let mut outcome = Outcome {
        kind: OutcomeKind::Planned,
        message: String::new(),
        run_id: None,
        audit_seq: None,
        plan: Some(plan.clone()),
        checks: checks.clone(),
        steps: Vec::new(),
        verification: Vec::new(),
    };
    let blocking: Vec<&Check> = checks.iter().filter(|c| c.blocks()).collect();
    let refusal = if !blocking.is_empty() {
        Some(format!(
            "refused by preflight, nothing changed: {}",
            blocking.iter().map(|c| format!("{} — {}", c.title, c.evidence)).collect::<Vec<_>>().join("; ")
        ))
    } else {
        None
    };
    let Some(typed) = req.confirm.as_deref() else {
        // A dry run: nothing changes and nothing is audited.
        outcome.kind = if refusal.is_some() { OutcomeKind::Refused } else { OutcomeKind::Planned };
        outcome.message = refusal.unwrap_or_else(|| format!("dry run: every check passes; confirm by typing '{}'", plan.confirm));
        ctx.emit(ActionEvent::Finished { outcome: outcome.clone() });
        return outcome;
    };
    let refusal = refusal.or_else(|| {
        (typed != plan.confirm).then(|| format!("refused, nothing changed: the confirmation '{typed}' is not '{}'", plan.confirm))
    });
    if let Some(message) = refusal {
        return finish(ctx, action, outcome, OutcomeKind::Refused, message, &started_at, &req).await;
    }
    let Some(_engine_lock) = EngineLock::try_take(&ctx.fleet.name) else {
        let message = format!("refused, nothing changed: another action on fleet {} runs in this console", ctx.fleet.name);
        return finish(ctx, action, outcome, OutcomeKind::Refused, message, &started_at, &req).await;
    };
    let _advisory = match take_advisory_locks(ctx, &action.lock_nodes()).await {
        Ok(l) => l,
        Err(e) => return finish(ctx, action, outcome, OutcomeKind::Refused, format!("refused, nothing changed: {e}"), &started_at, &req).await,
    };
    let targets = action.targets();
    let run_id = match ctx
        .store
        .begin_run(&NewRun {
            fleet: &ctx.fleet.name,
            kind: action.kind(),
            targets: &targets,
            operator: &ctx.operator.name,
            os_user: &ctx.operator.os_user,
            plan: &serde_json::to_value(&plan).unwrap_or(Value::Null),
            checks: &serde_json::to_value(&checks).unwrap_or(Value::Null),
            context: &action.context(),
        })
        .await
    {
        Ok(id) => id,
        Err(e) => {
            let message = format!("refused, nothing changed: the action journal cannot be written ({e}); no action runs without it");
            return finish(ctx, action, outcome, OutcomeKind::Refused, message, &started_at, &req).await;
        }
    };
    outcome.run_id = Some(run_id);
    let mut steps = Steps { store: ctx.store.clone(), events: ctx.events.clone(), run: run_id, seq: 0, done: Vec::new() };
    let result = action.execute(ctx, &mut steps).await;
    let (kind, message) = match result {
        Ok(message) => {
            let verification = action.verify(ctx, &mut steps).await;
            ctx.emit(ActionEvent::Verified { checks: verification.clone() });
            let failed: Vec<String> =
                verification.iter().filter(|c| c.status == CheckStatus::Fail).map(|c| format!("{}: {}", c.title, c.evidence)).collect();
            outcome.verification = verification;
            if failed.is_empty() {
                (OutcomeKind::Done, message)
            } else {
                (OutcomeKind::NeedsAttention, format!("{message}; but verification failed: {}", failed.join("; ")))
            }
        }
        Err(Failure::RolledBack(m)) => (OutcomeKind::RolledBack, m),
        Err(Failure::NeedsAttention(m)) => (OutcomeKind::NeedsAttention, m),
    };
    outcome.steps = steps.done.clone();
    let _ = ctx.store.end_run(run_id, kind.state(), &message).await;
    finish(ctx, action, outcome, kind, message, &started_at, &req).await
}

async fn finish<A: Action>(
    ctx: &ActionContext,
    action: &A,
    mut outcome: Outcome,
    kind: OutcomeKind,
    message: String,
    started_at: &str,
    req: &Request,
) -> Outcome {
    outcome.kind = kind;
    outcome.message = message;
    let entry = AuditEntry {
        fleet: ctx.fleet.name.clone(),
        action: action.kind().to_string(),
        targets: action.targets(),
        os_user: ctx.operator.os_user.clone(),
        operator: ctx.operator.name.clone(),
        started_at: started_at.to_string(),
        ended_at: now(),
        outcome: kind.state().to_string(),
        body: json!({
            "run_id": outcome.run_id,
            "message": outcome.message,
            "plan": outcome.plan.as_ref().map(|p| &p.steps),
            "effects": outcome.plan.as_ref().map(|p| &p.effects),
            "checks": outcome.checks,
            "overrides": req.overrides,
            "steps": outcome.steps.iter().filter(|s| s.phase != StepPhase::Started).map(|s| json!({
                "name": s.id, "title": s.title, "outcome": s.phase, "ms": s.ms, "message": s.message,
            })).collect::<Vec<_>>(),
            "verification": outcome.verification,
        }),
    };
    match ctx.store.append_audit(&entry).await {
        Ok(r) => outcome.audit_seq = Some(r.seq),
        Err(e) => outcome.message.push_str(&format!(" (the audit record could not be written: {e})")),
    }
    ctx.emit(ActionEvent::Finished { outcome: outcome.clone() });
    outcome
}

fn now() -> String {
    crate::incidents::timestamp(chrono::Utc::now())
}

/// Polls `probe` every `every` until it yields `Some`, or gives up after `within`.
pub async fn poll<T, F, Fut>(within: Duration, every: Duration, mut probe: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = probe().await {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(every).await;
    }
}

/// `0/16B3748` as a byte position.
pub fn lsn_bytes(lsn: &str) -> Option<u64> {
    crate::probe::postgres::parse_lsn(lsn)
}
