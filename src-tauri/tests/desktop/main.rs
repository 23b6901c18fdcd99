//! Smoke tests of the desktop shell on `tauri::test::mock_builder()`: the app
//! that `run_app` builds, with the real context (capabilities, ACL, CSP) and
//! the running lab's fleet, answers its commands over IPC and pushes
//! snapshots. No display and no WebKit are needed; the end-to-end tests in
//! `tests/e2e` drive the real window.
//!
//! Needs the lab (`lab/lab up`); any size works, only `pg0` is assumed.
//! Every app records incidents in a scratch data directory
//! ([`scratch_data_dir`]), never in the user's store.

mod actions;
mod commands;

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use fleetdeck_desktop::{main_window, run_app, window_label, Options};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tauri::test::{get_ipc_response, mock_builder, MockRuntime, INVOKE_KEY};
use tauri::{App, WebviewWindow};

/// The running lab's fleet file.
fn lab_fleet() -> PathBuf {
    PathBuf::from(fleetdeck_lab_tests::lab_ok(&["fleet"]).trim())
}

/// A scratch config directory, so tests never touch the user's remembered fleet.
fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fleetdeck-desktop-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// The data directory every app of this test run records incidents in
/// (`$FLEETDECK_DATA_DIR`), set before the first app starts a watch.
fn scratch_data_dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = scratch_dir("data");
        // Before any app exists, so before any thread of Tauri's runtime reads the environment.
        std::env::set_var(fleetdeck_core::store::DATA_DIR_ENV, &dir);
        dir
    })
}

/// The app as `main.rs` builds it, on the mock runtime, and its window (which
/// the event loop's setup would open; the mock runs no event loop): `main`,
/// or `war-room` in kiosk mode.
fn app(options: Options) -> (App<MockRuntime>, WebviewWindow<MockRuntime>) {
    scratch_data_dir();
    let kiosk = options.kiosk;
    let app = run_app(mock_builder(), options).expect("the app builds with the real context");
    let window = main_window(app.handle(), kiosk).expect("the main window opens");
    assert_eq!(window.label(), window_label(kiosk), "the capabilities grant the window by this label");
    (app, window)
}

/// Invokes `cmd` with `args` as the UI would: Ok(answer) or Err(the UiError as JSON).
fn invoke<T: DeserializeOwned>(window: &WebviewWindow<MockRuntime>, cmd: &str, args: Value) -> Result<T, Value> {
    let request = tauri::webview::InvokeRequest {
        cmd: cmd.into(),
        callback: tauri::ipc::CallbackFn(0),
        error: tauri::ipc::CallbackFn(1),
        url: "tauri://localhost".parse().unwrap(),
        body: tauri::ipc::InvokeBody::Json(args),
        headers: Default::default(),
        invoke_key: INVOKE_KEY.to_string(),
    };
    get_ipc_response(window, request).map(|body| body.deserialize().expect("the answer has the contract's shape"))
}

/// Polls `check` every 200 ms until it gives a value or `timeout` passes.
fn wait_for<T>(timeout: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}
