//! Guarded actions through the shell: the session starts read-only, a dry run
//! is allowed while locked, execution is refused until the operator unlocks,
//! each event reaches the window, the audit trail reads back newest first,
//! and the war-room window is granted none of it.
//!
//! Nothing here changes the lab: the only action executed is a switchover to
//! a node that does not exist, which preflight refuses (and the audit log in
//! the scratch data directory records).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use fleetdeck_core::action::{ActionEvent, CheckStatus, Outcome, OutcomeKind};
use fleetdeck_core::contract::FleetInfo;
use serde_json::{json, Value};
use tauri::Listener;

use super::*;

/// Every action command and an argument set it accepts.
fn action_commands() -> Vec<(&'static str, Value)> {
    vec![
        ("actions_state", json!({})),
        ("actions_unlock", json!({ "operator": "someone" })),
        ("actions_lock", json!({})),
        ("action_plan", json!({ "kind": "switchover", "target": "pg1" })),
        ("action_execute", json!({ "kind": "switchover", "target": "pg1", "confirm": "pg1" })),
        ("audit_trail", json!({ "limit": 10 })),
    ]
}

#[test]
fn actions_start_locked_plan_while_locked_and_run_only_once_unlocked() {
    let (app, window) =
        app(Options { fleet: Some(lab_fleet()), kiosk: false, config_dir: Some(scratch_dir("actions")) });
    let state: Value = invoke(&window, "actions_state", json!({})).expect("actions_state answers in the console");
    assert_eq!(state["unlocked"], false, "the app starts read-only: {state}");
    assert_eq!(state["available"], true, "the lab's nodes have action logins: {state}");
    assert!(state["open_runs"].is_array(), "interrupted runs are listed (none or some): {state}");

    let nope = json!({ "kind": "switchover", "target": "nope", "confirm": "nope" });
    let err = invoke::<Outcome>(&window, "action_execute", nope.clone()).expect_err("locked");
    assert_eq!(err["code"], "refused", "execution is refused while locked: {err}");
    assert!(err["message"].as_str().unwrap().contains("locked"), "and says why: {err}");

    let plan: Outcome = invoke(&window, "action_plan", json!({ "kind": "switchover", "target": "nope" }))
        .expect("a dry run is allowed while locked");
    assert_eq!(plan.kind, OutcomeKind::Refused, "no node 'nope': preflight refuses: {}", plan.message);
    assert_eq!((plan.run_id, plan.audit_seq), (None, None), "a dry run is neither journaled nor audited");
    assert!(!plan.checks.is_empty(), "every check is shown");
    assert!(plan.checks.iter().all(|c| !c.evidence.is_empty()), "each check with its evidence: {:?}", plan.checks);
    assert!(plan.checks.iter().any(|c| c.status == CheckStatus::Fail), "the failed check is among them: {:?}", plan.checks);
    assert_eq!(plan.plan.as_ref().map(|p| p.confirm.as_str()), Some("nope"), "the operator confirms by typing the target");

    let err = invoke::<Value>(&window, "actions_unlock", json!({})).expect_err("no name yet");
    assert_eq!(err["code"], "bad_request", "the first unlock asks for the operator's name: {err}");
    let err = invoke::<Value>(&window, "actions_unlock", json!({ "operator": "  " })).expect_err("blank");
    assert_eq!(err["code"], "bad_request", "{err}");
    let state: Value = invoke(&window, "actions_unlock", json!({ "operator": "Desktop Test" })).expect("unlocks");
    assert_eq!(state["unlocked"], true, "{state}");
    assert_eq!(state["operator"], "Desktop Test");
    let relock = state["relock_in_seconds"].as_u64().expect("a countdown while unlocked");
    assert!((590..=600).contains(&relock), "re-locks 10 minutes after the last action command: {relock}");

    let events: Arc<Mutex<Vec<ActionEvent>>> = Arc::default();
    let sink = Arc::clone(&events);
    app.listen_any(fleetdeck_desktop::ACTION_EVENT, move |event| {
        let e: ActionEvent = serde_json::from_str(event.payload()).expect("each action-event is an ActionEvent");
        sink.lock().unwrap().push(e);
    });
    let outcome: Outcome = invoke(&window, "action_execute", nope).expect("unlocked: the flow runs");
    assert_eq!(outcome.kind, OutcomeKind::Refused, "preflight still refuses, nothing changed: {}", outcome.message);
    let seq = outcome.audit_seq.expect("a refused execution is audited");
    let seen = wait_for(Duration::from_secs(5), "the finished event", || {
        let got = events.lock().unwrap();
        matches!(got.last(), Some(ActionEvent::Finished { .. })).then(|| got.clone())
    });
    let names: Vec<&str> = seen
        .iter()
        .map(|e| match e {
            ActionEvent::Planned { .. } => "planned",
            ActionEvent::Checked { .. } => "checked",
            ActionEvent::Step { .. } => "step",
            ActionEvent::Verified { .. } => "verified",
            ActionEvent::Finished { .. } => "finished",
        })
        .collect();
    assert_eq!(names, ["planned", "checked", "finished"], "the window hears the plan, the checks and the end");
    assert!(
        matches!(seen.last(), Some(ActionEvent::Finished { outcome: o }) if *o == outcome),
        "the finished event carries the outcome the command returns"
    );

    let trail: Value = invoke(&window, "audit_trail", json!({ "limit": 3 })).expect("the audit trail reads");
    let newest = &trail["records"][0];
    assert_eq!(newest["seq"], seq, "newest first: {trail}");
    assert_eq!(newest["entry"]["operator"], "Desktop Test", "the name given at unlock is audited");
    assert_eq!(newest["entry"]["action"], "switchover");
    assert_eq!(newest["entry"]["targets"], json!(["nope"]));
    assert_eq!(newest["entry"]["outcome"], "refused");
    assert!(trail["records"].as_array().unwrap().len() <= 3, "at most the limit");
    assert!(trail["total"].as_u64().unwrap() >= 1);
    assert_eq!(trail["verification"]["fault"], Value::Null, "the chain is intact: {}", trail["verification"]);

    let state: Value = invoke(&window, "actions_lock", json!({})).unwrap();
    assert_eq!(state["unlocked"], false);
    let err = invoke::<Outcome>(&window, "action_execute", json!({ "kind": "failover", "confirm": "x" })).expect_err("locked again");
    assert_eq!(err["code"], "refused", "{err}");
    let state: Value = invoke(&window, "actions_unlock", json!({})).expect("the name is asked once per session");
    assert_eq!((state["unlocked"].clone(), state["operator"].clone()), (json!(true), json!("Desktop Test")));

    let err = invoke::<Outcome>(&window, "action_plan", json!({ "kind": "recovery", "runId": 999_999_999 })).expect_err("no such run");
    assert_eq!(err["code"], "bad_request", "{err}");
    let err = invoke::<Outcome>(&window, "action_plan", json!({ "kind": "switchover" })).expect_err("no target");
    assert_eq!(err["code"], "bad_request", "{err}");
    let err = invoke::<Value>(&window, "action_plan", json!({ "kind": "drop_database", "target": "pg0" })).expect_err("unknown kind");
    assert!(err.to_string().contains("drop_database"), "only switchover, failover and recovery exist: {err}");
}

#[test]
fn the_war_room_window_is_granted_no_action_command() {
    let (_app, window) = app(Options { fleet: Some(lab_fleet()), kiosk: true, config_dir: Some(scratch_dir("war-room")) });
    let info: FleetInfo = invoke(&window, "fleet_info", json!({})).expect("the war room reads the fleet");
    assert!(info.kiosk && info.read_only);
    for (cmd, args) in action_commands() {
        let err = invoke::<Value>(&window, cmd, args).expect_err("the war-room window has no action capability");
        assert!(err.to_string().contains("not allowed"), "{cmd} is refused by the ACL, before the shell sees it: {err}");
    }
}

#[test]
fn a_window_other_than_the_console_is_granted_no_action_command() {
    let (app, _window) = app(Options { fleet: Some(lab_fleet()), kiosk: false, config_dir: Some(scratch_dir("actions-other")) });
    // A war-room window beside the console: reads, never acts.
    let war_room = tauri::WebviewWindowBuilder::new(&app, fleetdeck_desktop::WAR_ROOM_WINDOW, Default::default()).build().unwrap();
    let _: FleetInfo = invoke(&war_room, "fleet_info", json!({})).expect("read commands are granted to it");
    for (cmd, args) in action_commands() {
        let err = invoke::<Value>(&war_room, cmd, args).expect_err("no action capability");
        assert!(err.to_string().contains("not allowed"), "{cmd}: {err}");
    }
}
