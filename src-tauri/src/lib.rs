//! FleetDeck's desktop shell: the Tauri 2 app around the core. It owns no
//! logic of its own beyond wiring: the core's watch stream refreshes the
//! fleet on Tauri's runtime ([`watch`]) and every snapshot is pushed to the
//! window as events ([`push`]); the window asks for the rest through the
//! commands in [`commands`], which the capability in `capabilities/main.json`
//! grants. Guarded actions are admin commands with their own capability
//! (`capabilities/actions.json`), granted to the main window only: the
//! war-room display (`--kiosk`) opens its window under another label
//! ([`WAR_ROOM_WINDOW`]), which can read but never act. The session starts
//! read-only and the operator unlocks actions for it ([`action_session`]).
//!
//! [`run_app`] takes the builder so that the same wiring runs on the real
//! runtime (`main.rs`) and on `tauri::test::mock_builder()` in the smoke tests.

pub mod action_session;
pub mod commands;
pub mod local_store;
pub mod locale;
pub mod push;
pub mod remembered;
pub mod watch;

use std::path::PathBuf;
use std::sync::Arc;

use tauri::{App, AppHandle, Builder, Manager, Runtime, WebviewUrl, WebviewWindow, WebviewWindowBuilder};

use crate::action_session::{ActionSession, IDLE_LIMIT};
use crate::local_store::LocalStore;
use crate::remembered::RememberedFleet;
use crate::watch::{Desk, Watch};

pub use commands::actions::ACTION_EVENT;
pub use push::{SNAPSHOT_EVENT, STATEMENTS_EVENT};
/// The label of the console's window: `capabilities/main.json` grants it the
/// read commands and `capabilities/actions.json` the actions.
pub const MAIN_WINDOW: &str = "main";
/// The label of the war-room display's window (`--kiosk`): granted the read
/// commands only, so no action command reaches the shell from it.
pub const WAR_ROOM_WINDOW: &str = "war-room";

/// The label of the app's one window in this mode.
pub fn window_label(kiosk: bool) -> &'static str {
    if kiosk {
        WAR_ROOM_WINDOW
    } else {
        MAIN_WINDOW
    }
}

/// How the app was started.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `--fleet FILE`; without it, the remembered fleet, else the fleet chooser.
    pub fleet: Option<PathBuf>,
    /// `--kiosk`: full screen, and `FleetInfo.kiosk` tells the UI to show no actions.
    pub kiosk: bool,
    /// Where the remembered fleet is kept; default the app's config directory.
    /// Tests point it at a scratch directory.
    pub config_dir: Option<PathBuf>,
}

/// Builds the app on `builder`'s runtime: the notification plugin, the
/// commands and the fleet under watch. The fleet's watch starts first, before
/// Tauri starts GTK, so that the first refresh (cold logins to every node)
/// overlaps GTK's start and the window's creation rather than following them.
/// The caller runs the event loop (`main.rs`), which opens the main window;
/// tests drive the app over IPC without one, opening the window with
/// [`main_window`].
pub fn run_app<R: Runtime>(builder: Builder<R>, options: Options) -> tauri::Result<App<R>> {
    let kiosk = options.kiosk;
    let context = tauri::generate_context!();
    let config_dir = match options.config_dir {
        Some(dir) => dir,
        None => app_config_dir(context.config())?,
    };
    let remembered = RememberedFleet::in_dir(&config_dir);
    let store = LocalStore::default();
    let first = match options.fleet.or_else(|| remembered.get()) {
        Some(path) => Watch::start(&path, &store).map_err(|e| e.message),
        None => Err("no fleet file: start with --fleet FILE or choose one".to_string()),
    };

    let app = builder
        .plugin(tauri_plugin_notification::init())
        .invoke_handler(tauri::generate_handler![
            commands::fleet::fleet_info,
            commands::fleet::set_fleet,
            commands::snapshot::latest_snapshot,
            commands::queries::query_range,
            commands::queries::explain,
            commands::actions::actions_state,
            commands::actions::actions_unlock,
            commands::actions::actions_lock,
            commands::actions::action_plan,
            commands::actions::action_execute,
            commands::actions::audit_trail,
        ])
        // Setup runs once the event loop is up: the window needs it.
        .setup(move |app| {
            main_window(app.handle(), kiosk)?;
            Ok(())
        })
        .build(context)?;

    let handle = app.handle().clone();
    let sent = push::StatementsSent::default();
    let emit: watch::Emit = Arc::new(move |snapshot| {
        if let Err(e) = push::push(&handle, &sent, snapshot) {
            eprintln!("fleetdeck-desktop: cannot push a snapshot: {e}");
        }
    });
    let desk = Desk::new(kiosk, remembered, store.clone(), emit);
    match first {
        Ok(watch) => {
            desk.show(watch);
        }
        Err(reason) => {
            // Start anyway: the window shows why and offers the chooser.
            eprintln!("fleetdeck-desktop: {reason}");
            desk.watch_nothing(reason);
        }
    }
    app.manage(desk);
    app.manage(ActionSession::new(IDLE_LIMIT, store));
    Ok(app)
}

/// Stops the watch and waits for the incident store's last writes: for the
/// event loop's `RunEvent::Exit`.
pub fn stop_watching<R: Runtime>(app: &AppHandle<R>) {
    if let Some(desk) = app.try_state::<Desk>() {
        tauri::async_runtime::block_on(desk.stop());
    }
}

/// The app's config directory where Tauri resolves it
/// (`app.path().app_config_dir()`), wanted before there is an app: the
/// remembered fleet lives there, and its watch starts before Tauri builds the
/// app.
fn app_config_dir(config: &tauri::Config) -> tauri::Result<PathBuf> {
    dirs::config_dir().map(|dir| dir.join(&config.identifier)).ok_or(tauri::Error::UnknownPath)
}

/// Opens the one window; in kiosk mode full screen, undecorated and labelled
/// [`WAR_ROOM_WINDOW`] (which no capability grants an action).
pub fn main_window<R: Runtime>(app: &AppHandle<R>, kiosk: bool) -> tauri::Result<WebviewWindow<R>> {
    let window = WebviewWindowBuilder::new(app, window_label(kiosk), WebviewUrl::default())
        .title("FleetDeck")
        .inner_size(1440.0, 900.0)
        .min_inner_size(960.0, 600.0)
        .fullscreen(kiosk)
        .decorations(!kiosk)
        .build()?;
    if kiosk {
        // Full screen is a request to the window manager, and a war-room box
        // may run a bare X session without one: cover the monitor regardless.
        if let Some(monitor) = window.current_monitor()?.or(window.primary_monitor()?) {
            window.set_position(*monitor.position())?;
            window.set_size(*monitor.size())?;
        }
    }
    Ok(window)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::Value;

    use super::*;

    /// A CSP as directive → its sources in the order written.
    type Directives = BTreeMap<String, Vec<String>>;

    /// Pins the window's CSP to the one `fleetdeck serve` sends: the same UI
    /// under the same policy. (Serve used to read this file with an
    /// `include_str!` across crates to keep the two equal.)
    #[test]
    fn the_window_csp_is_the_one_fleetdeck_serve_sends() {
        let conf: Value = serde_json::from_str(include_str!("../tauri.conf.json")).expect("tauri.conf.json is JSON");
        let csp = conf
            .pointer("/app/security/csp")
            .and_then(Value::as_object)
            .expect("app.security.csp, directive by directive");
        let window: Directives = csp
            .iter()
            .map(|(name, sources)| {
                let sources = match sources {
                    Value::String(s) => s.split_whitespace().map(str::to_string).collect(),
                    Value::Array(a) => a.iter().map(|s| s.as_str().expect("sources are strings").to_string()).collect(),
                    other => panic!("{name}: a source list is a string or an array, not {other}"),
                };
                (name.clone(), sources)
            })
            .collect();
        let serve: Vec<(String, Vec<String>)> = fleetdeck_serve::CSP
            .split(';')
            .map(|d| {
                let mut words = d.split_whitespace().map(str::to_string);
                (words.next().expect("a directive has a name"), words.collect())
            })
            .collect();
        assert_eq!(serve.len(), window.len(), "each directive once in fleetdeck_serve::CSP: {}", fleetdeck_serve::CSP);
        assert_eq!(
            serve.into_iter().collect::<Directives>(),
            window,
            "tauri.conf.json's CSP and fleetdeck_serve::CSP must be the same policy: change both"
        );
    }

    /// The action commands' permissions, as tauri-build names them.
    const ACTION_PERMISSIONS: [&str; 6] = [
        "allow-actions-state",
        "allow-actions-unlock",
        "allow-actions-lock",
        "allow-action-plan",
        "allow-action-execute",
        "allow-audit-trail",
    ];

    fn capability(text: &str) -> (Vec<String>, Vec<String>) {
        let v: Value = serde_json::from_str(text).expect("a capability is JSON");
        let list = |key: &str| -> Vec<String> {
            v[key].as_array().unwrap_or_else(|| panic!("{key} is a list")).iter().map(|s| s.as_str().unwrap().to_string()).collect()
        };
        (list("windows"), list("permissions"))
    }

    /// Actions are granted by their own capability, to the console window
    /// alone: the war-room window (`--kiosk`) reads the fleet and can never
    /// act, whatever the UI shows.
    #[test]
    fn only_the_console_window_is_granted_actions_and_only_by_actions_json() {
        let (windows, permissions) = capability(include_str!("../capabilities/actions.json"));
        assert_eq!(windows, [MAIN_WINDOW], "actions.json grants the console window and no other");
        assert_eq!(permissions, ACTION_PERMISSIONS, "actions.json grants the action commands and nothing else");
        let (windows, permissions) = capability(include_str!("../capabilities/main.json"));
        assert!(windows.iter().any(|w| w == WAR_ROOM_WINDOW), "the war room reads through main.json");
        assert!(
            permissions.iter().all(|p| !ACTION_PERMISSIONS.contains(&p.as_str())),
            "main.json, which the war-room window gets, grants no action: {permissions:?}"
        );
        let files: Vec<String> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/capabilities"))
            .expect("capabilities/")
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        let mut files = files;
        files.sort();
        assert_eq!(files, ["actions.json", "main.json"], "a new capability file must be checked here too");
        assert_ne!(window_label(true), MAIN_WINDOW, "kiosk mode opens its window under the war-room label");
    }

    /// The remembered fleet is read before the app exists: from where Tauri
    /// resolves the config directory once it does, or it would be read from
    /// one directory and written to another.
    #[test]
    fn the_config_dir_is_where_tauri_resolves_it() {
        let app = tauri::test::mock_app();
        assert_eq!(app_config_dir(app.config()).unwrap(), app.path().app_config_dir().unwrap());
    }
}
