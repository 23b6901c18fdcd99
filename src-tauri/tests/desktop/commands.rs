//! Each command answers through the ACL the capability grants, with the
//! contract's types, and errors arrive as `{code, message}`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use fleetdeck_core::contract::{FleetInfo, PlanView, RangeResult};
use fleetdeck_core::snapshot::{NodeStatements, Role, Snapshot};
use serde_json::{json, Value};
use tauri::Listener;

use super::*;

#[test]
fn fleet_info_describes_the_lab_fleet() {
    let fleet = lab_fleet();
    let (_app, window) =
        app(Options { fleet: Some(fleet.clone()), kiosk: false, config_dir: Some(scratch_dir("info")) });
    let info: FleetInfo = invoke(&window, "fleet_info", json!({})).expect("fleet_info answers with a fleet open");
    assert_eq!(info.name, "lab", "the lab's fleet file names itself lab");
    assert_eq!(PathBuf::from(&info.path), fleet, "the path is the file given with --fleet");
    assert!(info.prometheus, "the lab has Prometheus, so the AI panels have history");
    assert!(!info.kiosk, "not started with --kiosk");
}

#[test]
fn snapshots_are_pushed_and_the_latest_is_kept() {
    let (app, window) = app(Options { fleet: Some(lab_fleet()), kiosk: false, config_dir: Some(scratch_dir("push")) });
    let pushed: Arc<Mutex<Vec<Snapshot>>> = Arc::default();
    let sink = Arc::clone(&pushed);
    app.listen_any(fleetdeck_desktop::SNAPSHOT_EVENT, move |event| {
        let text: String = serde_json::from_str(event.payload()).expect("the event carries JSON text");
        let snapshot: Snapshot = serde_json::from_str(&text).expect("the text is a Snapshot");
        sink.lock().unwrap().push(snapshot);
    });
    let statements: Arc<Mutex<Vec<Vec<NodeStatements>>>> = Arc::default();
    let sink = Arc::clone(&statements);
    app.listen_any(fleetdeck_desktop::STATEMENTS_EVENT, move |event| {
        let text: String = serde_json::from_str(event.payload()).expect("the event carries JSON text");
        let read: Vec<NodeStatements> = serde_json::from_str(&text).expect("the text is the nodes' statements");
        sink.lock().unwrap().push(read);
    });
    // Statements are re-read every 5th refresh: 7 snapshots span at least one re-read.
    let seqs = wait_for(Duration::from_secs(60), "seven pushed snapshots", || {
        let got = pushed.lock().unwrap();
        (got.len() >= 7).then(|| got.iter().map(|s| s.seq).collect::<Vec<_>>())
    });
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "one event per refresh, in order: {seqs:?}");
    assert!(
        pushed.lock().unwrap().iter().all(|s| s.statements.is_empty()),
        "statements never ride in the snapshot event"
    );
    let reads = statements.lock().unwrap().clone();
    assert!(
        (1..=3).contains(&reads.len()),
        "statements are pushed when re-read, not with every one of {} snapshots: {} pushes",
        seqs.len(),
        reads.len()
    );
    assert!(
        reads.iter().flatten().any(|n| n.node == "pg0" && !n.top.is_empty()),
        "the primary's pg_stat_statements arrive (the lab's workload writes through it)"
    );
    let latest: Option<Snapshot> = invoke(&window, "latest_snapshot", json!({})).unwrap();
    let latest = latest.expect("a snapshot is kept once one was pushed");
    let pg0 = latest.nodes.iter().find(|n| n.name == "pg0").expect("pg0 is in the lab");
    assert_eq!(pg0.role, Role::Primary, "the lab's pg0 is its primary");
    assert!(!latest.statements.is_empty(), "latest_snapshot answers whole, statements included");
    let store = latest.store.path.as_deref().map(PathBuf::from);
    assert!(
        store.as_ref().is_some_and(|p| p.starts_with(scratch_data_dir())),
        "incidents are recorded in $FLEETDECK_DATA_DIR, never in the user's store: {:?} ({:?})",
        latest.store.path,
        latest.store.error
    );
}

#[test]
fn without_a_fleet_the_ui_is_told_to_choose_one_and_the_choice_is_remembered() {
    let config = scratch_dir("choose");
    let (_app, window) = app(Options { fleet: None, kiosk: false, config_dir: Some(config.clone()) });
    let err = invoke::<FleetInfo>(&window, "fleet_info", json!({})).expect_err("no fleet yet");
    assert_eq!(err["code"], "not_configured", "the UI shows its fleet chooser on this code: {err}");
    assert!(err["message"].as_str().is_some_and(|m| !m.is_empty()), "and says why: {err}");

    let err =
        invoke::<FleetInfo>(&window, "set_fleet", json!({ "path": "/nonexistent/fleet.toml" })).expect_err("no file");
    assert_eq!(err["code"], "bad_request", "a fleet file that does not load is the caller's mistake: {err}");

    let info: FleetInfo = invoke(&window, "set_fleet", json!({ "path": lab_fleet() })).expect("the lab fleet loads");
    assert_eq!(info.name, "lab");
    let info: FleetInfo = invoke(&window, "fleet_info", json!({})).expect("a fleet is open after set_fleet");
    assert_eq!(info.name, "lab");

    // A later start without --fleet opens the remembered one.
    let (_app2, window2) = app(Options { fleet: None, kiosk: false, config_dir: Some(config) });
    let info: FleetInfo = invoke(&window2, "fleet_info", json!({})).expect("the remembered fleet is opened");
    assert_eq!(info.name, "lab", "set_fleet must be remembered across starts");
}

#[test]
fn a_range_query_reads_prometheus_history() {
    let (_app, window) =
        app(Options { fleet: Some(lab_fleet()), kiosk: false, config_dir: Some(scratch_dir("range")) });
    let range: RangeResult =
        invoke(&window, "query_range", json!({ "promql": "up", "rangeSeconds": 120.0 })).expect("Prometheus answers");
    assert!(!range.series.is_empty(), "every lab target has an `up` series");
    assert!(range.step_seconds >= 1.0, "never finer than the probe interval");
    let err = invoke::<RangeResult>(&window, "query_range", json!({ "promql": "up", "rangeSeconds": -1.0 }))
        .expect_err("a negative range is refused");
    assert_eq!(err["code"], "bad_request", "{err}");
}

#[test]
fn a_plan_is_explained_and_analyze_is_refused_in_kiosk_mode() {
    let (_app, window) = app(Options { fleet: Some(lab_fleet()), kiosk: true, config_dir: Some(scratch_dir("kiosk")) });
    let info: FleetInfo = invoke(&window, "fleet_info", json!({})).unwrap();
    assert!(info.kiosk && info.read_only, "kiosk mode offers no action");

    let plan: PlanView = invoke(&window, "explain", json!({ "node": "pg0", "sql": "SELECT count(*) FROM messages" }))
        .expect("EXPLAIN without ANALYZE is allowed everywhere");
    let doc: Value = serde_json::from_str(&plan.plan_json).expect("plan_json is the EXPLAIN JSON document");
    assert!(doc[0]["Plan"].is_object(), "PEV2 needs the [{{Plan: …}}] document: {doc}");
    assert!(!plan.analyzed);

    let err = invoke::<PlanView>(&window, "explain", json!({ "node": "pg1", "sql": "SELECT 1", "analyze": true }))
        .expect_err("ANALYZE runs the statement");
    assert_eq!(err["code"], "refused", "the war-room display never runs statements: {err}");

    let err = invoke::<PlanView>(&window, "explain", json!({ "node": "pg0", "sql": "SELECT 1; DROP TABLE messages" }))
        .expect_err("multi-statement SQL");
    assert_eq!(err["code"], "refused", "{err}");
    let err =
        invoke::<PlanView>(&window, "explain", json!({ "node": "nope", "sql": "SELECT 1" })).expect_err("no such node");
    assert_eq!(err["code"], "bad_request", "{err}");

    let err = invoke::<FleetInfo>(&window, "set_fleet", json!({ "path": lab_fleet() })).expect_err("kiosk keeps its fleet");
    assert_eq!(err["code"], "refused", "the war-room display does not switch fleets: {err}");
}

#[test]
fn a_command_the_capability_does_not_grant_is_refused() {
    let (_app, window) = app(Options { fleet: Some(lab_fleet()), kiosk: false, config_dir: Some(scratch_dir("acl")) });
    // The notification plugin has more commands than the capability grants.
    let err = invoke::<Value>(&window, "plugin:notification|get_active", json!({}))
        .expect_err("only is_permission_granted, request_permission and notify are granted");
    assert!(err.to_string().contains("not allowed"), "refused by the ACL, not by the plugin: {err}");
}

#[test]
fn a_window_the_capability_does_not_name_gets_no_command() {
    let (app, _window) =
        app(Options { fleet: Some(lab_fleet()), kiosk: false, config_dir: Some(scratch_dir("other")) });
    let other = tauri::WebviewWindowBuilder::new(&app, "other", Default::default()).build().unwrap();
    let err =
        invoke::<FleetInfo>(&other, "fleet_info", json!({})).expect_err("only the main window is granted commands");
    assert!(err.to_string().contains("not allowed"), "the app's own commands go through the ACL too: {err}");
}
