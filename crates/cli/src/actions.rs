//! Guarded actions from a terminal: `switchover`, `failover` and `actions`
//! (interrupted actions and their recovery). The flow is the core's
//! (`fleetdeck_core::action::run`); this file asks for the confirmation,
//! prints the plan, the checks and each step as it happens, and turns the
//! outcome into the documented exit code: 0 done and verified (or a dry run
//! that would go ahead), 3 refused and nothing changed, 4 failed and rolled
//! back, 5 failed and needs attention.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use anyhow::bail;
use clap::Args;
use fleetdeck_core::action::recovery::{is_live, Recovery};
use fleetdeck_core::action::{
    self, Action, ActionContext, ActionEvent, CheckStatus, Operator, Outcome, Override, Request, StepPhase,
};
use fleetdeck_core::fleet::Fleet;
use fleetdeck_core::store::Store;

/// What every action command takes.
#[derive(Args, Debug, Clone)]
pub struct ActionArgs {
    /// Plan and check only; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask: the confirmation is given with --confirm.
    #[arg(long, requires = "confirm")]
    pub yes: bool,
    /// The target's name, typed to confirm (with --yes).
    #[arg(long)]
    pub confirm: Option<String>,
    /// Override a failed check that allows it: CHECK=REASON (audited). Repeatable.
    #[arg(long = "override", value_name = "CHECK=REASON")]
    pub overrides: Vec<String>,
    /// The operator's name for the audit log (default: the OS user).
    #[arg(long, env = "FLEETDECK_OPERATOR")]
    pub operator: Option<String>,
    /// Print the outcome as JSON (events are not streamed).
    #[arg(long)]
    pub json: bool,
}

fn overrides(args: &ActionArgs) -> anyhow::Result<Vec<Override>> {
    args.overrides
        .iter()
        .map(|o| match o.split_once('=') {
            Some((check, reason)) if !check.trim().is_empty() && !reason.trim().is_empty() => {
                Ok(Override { check: check.trim().to_string(), reason: reason.trim().to_string() })
            }
            _ => bail!("--override needs CHECK=REASON with a non-empty reason, got '{o}'"),
        })
        .collect()
}

/// Runs `action` through the one flow, asking for the confirmation on the
/// terminal unless `--yes --confirm` gave it.
pub async fn drive<A: Action>(fleet: Fleet, mut action: A, args: &ActionArgs, extra: Vec<Override>) -> anyhow::Result<ExitCode> {
    let store = Store::open_default().await.map_err(|e| anyhow::anyhow!("actions need the local store for their journal and audit log: {e}"))?;
    let mut overrides = overrides(args)?;
    overrides.extend(extra);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let json = args.json;
    let printer = tokio::spawn(async move {
        while let Some(e) = rx.recv().await {
            if !json {
                print_event(&e);
            }
        }
    });
    let ctx = ActionContext { fleet, store, operator: Operator::current(args.operator.as_deref()), events: Some(tx) };
    let confirm = if args.dry_run {
        None
    } else if args.yes {
        args.confirm.clone()
    } else {
        // Show the plan and checks first (a dry run), then ask.
        let dry = action::run(&mut action, &ctx, Request { confirm: None, overrides: overrides.clone() }).await;
        if dry.kind == action::OutcomeKind::Refused {
            drop(ctx);
            let _ = printer.await;
            return Ok(finish(&dry, json));
        }
        if !std::io::stdin().is_terminal() {
            bail!("no terminal to confirm on: pass --yes --confirm {}", dry.plan.as_ref().map(|p| p.confirm.as_str()).unwrap_or("NAME"));
        }
        let want = dry.plan.as_ref().map(|p| p.confirm.clone()).unwrap_or_default();
        print!("Type {want} to go ahead (anything else cancels): ");
        std::io::stdout().flush()?;
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        Some(line.trim().to_string())
    };
    let outcome = action::run(&mut action, &ctx, Request { confirm, overrides }).await;
    drop(ctx);
    let _ = printer.await;
    Ok(finish(&outcome, json))
}

fn finish(outcome: &Outcome, json: bool) -> ExitCode {
    if json {
        println!("{}", serde_json::to_string_pretty(outcome).unwrap_or_default());
    }
    ExitCode::from(outcome.kind.exit_code())
}

fn mark(status: CheckStatus, overridden: bool) -> &'static str {
    match (status, overridden) {
        (CheckStatus::Pass, _) => "pass",
        (CheckStatus::Warn, _) => "WARN",
        (CheckStatus::Fail, true) => "OVERRIDDEN",
        (CheckStatus::Fail, false) => "FAIL",
    }
}

fn print_event(e: &ActionEvent) {
    match e {
        ActionEvent::Planned { plan } => {
            println!("plan: {}", plan.summary);
            for effect in &plan.effects {
                println!("  - {effect}");
            }
            for (i, s) in plan.steps.iter().enumerate() {
                println!("  {:>2}. {} — {}", i + 1, s.title, s.detail);
            }
        }
        ActionEvent::Checked { checks } => {
            println!("preflight:");
            for c in checks {
                let why = c.overridden.as_ref().map(|r| format!(" (override: {r})")).unwrap_or_default();
                println!("  [{:>4}] {}: {}{why}", mark(c.status, c.overridden.is_some()), c.title, c.evidence);
            }
        }
        ActionEvent::Step { step } => match step.phase {
            StepPhase::Started => println!("  … {}", step.title),
            StepPhase::Ok => println!("  ✓ {} ({:.1} ms) {}", step.title, step.ms.unwrap_or(0.0), step.message.as_deref().unwrap_or("")),
            StepPhase::Failed => println!("  ✗ {} ({:.1} ms) {}", step.title, step.ms.unwrap_or(0.0), step.message.as_deref().unwrap_or("")),
        },
        ActionEvent::Verified { checks } => {
            println!("verify:");
            for c in checks {
                println!("  [{:>4}] {}: {}", mark(c.status, false), c.title, c.evidence);
            }
        }
        ActionEvent::Finished { outcome } => {
            let word = match outcome.kind {
                action::OutcomeKind::Planned => "PLANNED",
                action::OutcomeKind::Done => "DONE",
                action::OutcomeKind::Refused => "REFUSED",
                action::OutcomeKind::RolledBack => "ROLLED BACK",
                action::OutcomeKind::NeedsAttention => "NEEDS ATTENTION",
            };
            let audit = outcome.audit_seq.map(|s| format!(" (audit #{s})")).unwrap_or_default();
            println!("{word}: {}{audit}", outcome.message);
        }
    }
}

/// `fleetdeck actions`: interrupted (and running) actions, what they left
/// behind, and with `--recover ID` the recovery.
pub async fn list_or_recover(fleet: Fleet, recover: Option<i64>, args: &ActionArgs) -> anyhow::Result<ExitCode> {
    let store = Store::open_default().await?;
    let open = store.open_runs(Some(&fleet.name)).await?;
    if let Some(id) = recover {
        let Some(run) = open.into_iter().find(|r| r.id == id) else {
            bail!("no open action #{id} for fleet {} (fleetdeck actions lists them)", fleet.name);
        };
        return drive(fleet, Recovery::new(run), args, Vec::new()).await;
    }
    let fences = reconcile_fences(&fleet, &store).await?;
    if !args.json {
        for (f, role) in &fences {
            println!(
                "{} fenced since {} ({}{}): {role}; rejoin it as a replica (lab/lab rejoin {} or pg_rewind)",
                f.node,
                f.since,
                f.reason,
                f.run_id.map(|r| format!(", action #{r}")).unwrap_or_default(),
                f.node
            );
        }
    }
    if open.is_empty() {
        if args.json {
            println!("[]");
        } else {
            println!("no interrupted or running action for fleet {}", fleet.name);
        }
        return Ok(if fences.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(5) });
    }
    let ctx = ActionContext { fleet: fleet.clone(), store: store.clone(), operator: Operator::current(None), events: None };
    let mut listed = Vec::new();
    for run in open {
        let live = is_live(&run);
        let mut recovery = Recovery::new(run.clone());
        let checks = if live { Vec::new() } else { recovery.preflight(&ctx).await };
        let plan = recovery.plan();
        if args.json {
            listed.push(serde_json::json!({
                "id": run.id, "kind": run.kind, "targets": run.targets, "operator": run.operator,
                "started_at": run.started_at, "running": live, "steps": run.steps,
                "left_behind": recovery.left_behind(), "recovery": recovery.direction(), "checks": checks, "plan": plan,
            }));
            continue;
        }
        println!(
            "#{} {} of {} by {} since {} — {}",
            run.id,
            run.kind,
            run.targets.join(" → "),
            run.operator,
            run.started_at,
            if live {
                format!("RUNNING (pid {} on {})", run.pid, run.host)
            } else if run.ended_at.is_some() {
                format!("NEEDS ATTENTION: {}", run.message)
            } else {
                "INTERRUPTED".into()
            }
        );
        for s in &run.steps {
            let state = match s.outcome.as_deref() {
                Some("ok") => "✓",
                Some(_) => "✗",
                None => "… never ended",
            };
            println!("    {state} {}{}", s.title, s.message.as_deref().map(|m| format!(": {m}")).unwrap_or_default());
        }
        if !live {
            for c in &checks {
                println!("  [{:>4}] {}: {}", mark(c.status, false), c.title, c.evidence);
            }
            println!("  recovery: {}", plan.summary);
            for s in &plan.steps {
                println!("    - {}", s.title);
            }
            println!("  run: fleetdeck actions --fleet {} --recover {} --yes --confirm {}", fleet.path.display(), run.id, plan.confirm);
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&listed)?);
    }
    // Something needs a human: say so in the exit code too.
    Ok(ExitCode::from(5))
}

/// The fences recorded for `fleet`, each with what its node is now; a node
/// that streams as a replica again was rejoined, and its record is lifted.
async fn reconcile_fences(fleet: &Fleet, store: &Store) -> anyhow::Result<Vec<(fleetdeck_core::store::journal::FenceRecord, String)>> {
    let recorded = store.fences(&fleet.name).await?;
    if recorded.is_empty() {
        return Ok(Vec::new());
    }
    let snap = fleetdeck_core::action::switchover::snapshot(fleet).await;
    let mut kept = Vec::new();
    for f in recorded {
        let node = snap.nodes.iter().find(|n| n.name == f.node);
        match node.map(|n| &n.role) {
            Some(fleetdeck_core::snapshot::Role::Replica) => {
                store.lift_fence(&fleet.name, &f.node).await?;
                eprintln!("{} streams as a replica again: its fence record is lifted", f.node);
            }
            Some(role) => {
                let role = format!("{role:?}").to_lowercase();
                kept.push((f, format!("now {role}")));
            }
            None => kept.push((f, "no longer in the fleet file".into())),
        }
    }
    Ok(kept)
}
