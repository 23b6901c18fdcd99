//! Guarded actions (design §4) from the desktop: the lock, plans, execution
//! and the audit trail. The flow is the core's (`fleetdeck_core::action::run`:
//! preflight with evidence, plan, typed confirmation, journal, steps, verify,
//! one audit record, one action per fleet at a time); these commands only
//! choose the action, hold the session's lock ([`ActionSession`]) and carry
//! the events to the window.
//!
//! They are admin commands: `capabilities/actions.json` grants them to the
//! main window only, never to the war-room window (`--kiosk` opens that one
//! under another label), and each refuses in kiosk mode besides. `fleetdeck
//! serve` has no equivalent at all.

use std::time::Instant;

use fleetdeck_core::action::failover::Failover;
use fleetdeck_core::action::recovery::{is_live, Recovery};
use fleetdeck_core::action::switchover::Switchover;
use fleetdeck_core::action::{self, ActionContext, ActionEvent, Operator, Outcome, Override, Request};
use fleetdeck_core::contract::{ErrorCode, UiError};
use fleetdeck_core::store::audit::{AuditRecord, AuditVerification};
use fleetdeck_core::store::journal::RunRecord;
use fleetdeck_core::store::{Store, StoreError};
use serde::{Deserialize, Serialize};
use tauri::{Emitter, Runtime, State, WebviewWindow};

use crate::action_session::{ActionSession, Lock};
use crate::watch::Desk;

/// The event that carries each [`ActionEvent`] of a running action to the
/// window that started it (an object: plan, checks, step, verification, end).
pub const ACTION_EVENT: &str = "action-event";

/// How many audit records `audit_trail` returns without a limit.
const AUDIT_DEFAULT_LIMIT: usize = 200;

/// Which action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// Switchover to `target` (the primary is healthy).
    Switchover,
    /// Failover, to `target` or the most advanced replica (the primary is gone).
    Failover,
    /// Recovery of run `run_id` (interrupted, or ended needing attention).
    Recovery,
}

/// A journaled run that needs someone (no end yet, or ended needing attention
/// and not recovered), and whether a live console runs it now.
#[derive(Debug, Clone, Serialize)]
pub struct OpenRun {
    /// The run, with its steps.
    #[serde(flatten)]
    pub run: RunRecord,
    /// Running now: no end, and its console alive (same host, its process exists).
    pub running: bool,
}

/// What the Actions panel shows before anything is asked.
#[derive(Debug, Clone, Serialize)]
pub struct ActionsState {
    /// The session's lock.
    #[serde(flatten)]
    pub lock: Lock,
    /// Actions can be offered at all (some node or pooler has an action login).
    pub available: bool,
    /// Runs of this fleet that need someone: each not running needs a recovery.
    pub open_runs: Vec<OpenRun>,
}

/// The audit trail: records newest first, and the whole chain's verdict.
#[derive(Debug, Clone, Serialize)]
pub struct AuditTrail {
    /// This fleet's records, newest first, at most the limit asked.
    pub records: Vec<AuditRecord>,
    /// How many records this fleet has in all.
    pub total: usize,
    /// The hash chain of the whole log (every fleet): intact, or the first bad record.
    pub verification: AuditVerification,
}

/// The lock, whether actions can be offered, and the fleet's runs to recover.
#[tauri::command]
pub async fn actions_state(desk: State<'_, Desk>, session: State<'_, ActionSession>) -> Result<ActionsState, UiError> {
    state(&desk, &session).await
}

/// Unlocks actions for this session as `operator` (asked once: `None` reuses
/// the name given before). Refused in the war room and for a fleet without
/// any action login.
#[tauri::command]
pub async fn actions_unlock(
    desk: State<'_, Desk>,
    session: State<'_, ActionSession>,
    operator: Option<String>,
) -> Result<ActionsState, UiError> {
    not_in_war_room(&desk)?;
    let info = desk.fleet_info()?;
    if info.read_only {
        return Err(UiError::new(
            ErrorCode::Refused,
            format!("refused: no node or pooler of fleet {} has an action login, so no action can run", info.name),
        ));
    }
    session.unlock(operator.as_deref(), Instant::now())?;
    state(&desk, &session).await
}

/// Locks actions now.
#[tauri::command]
pub async fn actions_lock(desk: State<'_, Desk>, session: State<'_, ActionSession>) -> Result<ActionsState, UiError> {
    session.lock();
    state(&desk, &session).await
}

/// A dry run: the plan and every check with its evidence; nothing changes and
/// nothing is audited, so it is allowed while locked.
#[tauri::command]
pub async fn action_plan(
    desk: State<'_, Desk>,
    session: State<'_, ActionSession>,
    kind: ActionKind,
    target: Option<String>,
    run_id: Option<i64>,
    overrides: Option<Vec<Override>>,
) -> Result<Outcome, UiError> {
    not_in_war_room(&desk)?;
    session.touch(Instant::now());
    let ctx = context(&desk, &session, None).await?;
    let request = Request { confirm: None, overrides: overrides.unwrap_or_default() };
    run_kind(kind, target, run_id, &ctx, request).await
}

/// Runs the action with the operator's typed confirmation and overrides,
/// streaming each event to `window` as [`ACTION_EVENT`], and returns how it
/// ended. Refused while the session is locked.
#[tauri::command]
#[allow(clippy::too_many_arguments)] // the IPC arguments, each one named field of the request
pub async fn action_execute<R: Runtime>(
    window: WebviewWindow<R>,
    desk: State<'_, Desk>,
    session: State<'_, ActionSession>,
    kind: ActionKind,
    target: Option<String>,
    run_id: Option<i64>,
    confirm: String,
    overrides: Option<Vec<Override>>,
) -> Result<Outcome, UiError> {
    not_in_war_room(&desk)?;
    if !session.touch(Instant::now()) {
        return Err(UiError::new(
            ErrorCode::Refused,
            "refused, nothing changed: actions are locked (the app starts read-only and re-locks when idle); unlock them for this session first",
        ));
    }
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<ActionEvent>();
    let label = window.label().to_string();
    let forward = tauri::async_runtime::spawn(async move {
        while let Some(event) = rx.recv().await {
            if let Err(e) = window.emit_to(label.as_str(), ACTION_EVENT, &event) {
                eprintln!("fleetdeck-desktop: cannot send an action event to the window: {e}");
            }
        }
    });
    let ctx = context(&desk, &session, Some(tx)).await?;
    let request = Request { confirm: Some(confirm), overrides: overrides.unwrap_or_default() };
    let outcome = run_kind(kind, target, run_id, &ctx, request).await;
    // Every event reaches the window before the answer: close the channel, drain it.
    drop(ctx);
    let _ = forward.await;
    // The run itself was activity: the idle period starts at its end.
    session.touch(Instant::now());
    outcome
}

/// The fleet's audit records, newest first (`limit`, default 200), with the
/// chain's verdict. Read-only: allowed while locked.
#[tauri::command]
pub async fn audit_trail(
    desk: State<'_, Desk>,
    session: State<'_, ActionSession>,
    limit: Option<usize>,
) -> Result<AuditTrail, UiError> {
    not_in_war_room(&desk)?;
    session.touch(Instant::now());
    let fleet = desk.fleet()?;
    let store = session.store().await?;
    let mut records = store.audit_records(Some(&fleet.name)).await.map_err(store_error)?;
    let verification = store.verify_audit().await.map_err(store_error)?;
    let total = records.len();
    records.reverse();
    records.truncate(limit.unwrap_or(AUDIT_DEFAULT_LIMIT));
    Ok(AuditTrail { records, total, verification })
}

async fn state(desk: &Desk, session: &ActionSession) -> Result<ActionsState, UiError> {
    not_in_war_room(desk)?;
    let info = desk.fleet_info()?;
    let store = session.store().await?;
    let open_runs = store
        .open_runs(Some(&info.name))
        .await
        .map_err(store_error)?
        .into_iter()
        .map(|run| OpenRun { running: is_live(&run), run })
        .collect();
    Ok(ActionsState { lock: session.lock_state(Instant::now()), available: !info.read_only, open_runs })
}

/// The war-room display takes no action; its window is not granted these
/// commands either, this is the second wall.
fn not_in_war_room(desk: &Desk) -> Result<(), UiError> {
    if desk.kiosk() {
        return Err(UiError::new(ErrorCode::Refused, "refused: the war-room display takes no action"));
    }
    Ok(())
}

async fn context(
    desk: &Desk,
    session: &ActionSession,
    events: Option<tokio::sync::mpsc::UnboundedSender<ActionEvent>>,
) -> Result<ActionContext, UiError> {
    let fleet = (*desk.fleet()?).clone();
    let store = session.store().await?;
    let operator = Operator::current(session.operator().as_deref());
    Ok(ActionContext { fleet, store, operator, events })
}

async fn run_kind(
    kind: ActionKind,
    target: Option<String>,
    run_id: Option<i64>,
    ctx: &ActionContext,
    request: Request,
) -> Result<Outcome, UiError> {
    Ok(match kind {
        ActionKind::Switchover => {
            let target = target.filter(|t| !t.is_empty()).ok_or_else(|| UiError::new(ErrorCode::BadRequest, "a switchover needs a target node"))?;
            action::run(&mut Switchover::new(&target), ctx, request).await
        }
        ActionKind::Failover => action::run(&mut Failover::new(target.as_deref().filter(|t| !t.is_empty())), ctx, request).await,
        ActionKind::Recovery => {
            let run = interrupted_run(&ctx.store, &ctx.fleet.name, run_id).await?;
            action::run(&mut Recovery::new(run), ctx, request).await
        }
    })
}

/// Run `id` of `fleet`, to recover: interrupted (no end, its console gone) or
/// ended needing attention; never one a live console runs.
async fn interrupted_run(store: &Store, fleet: &str, id: Option<i64>) -> Result<RunRecord, UiError> {
    let id = id.ok_or_else(|| UiError::new(ErrorCode::BadRequest, "a recovery needs the interrupted run's id"))?;
    let run = store
        .open_runs(Some(fleet))
        .await
        .map_err(store_error)?
        .into_iter()
        .find(|r| r.id == id)
        .ok_or_else(|| UiError::new(ErrorCode::BadRequest, format!("no action #{id} to recover for fleet {fleet}")))?;
    if is_live(&run) {
        return Err(UiError::new(
            ErrorCode::Refused,
            format!("refused: action #{id} is still running (pid {} on {}): there is nothing to recover yet", run.pid, run.host),
        ));
    }
    Ok(run)
}

fn store_error(e: StoreError) -> UiError {
    UiError::new(ErrorCode::Internal, e.to_string())
}
