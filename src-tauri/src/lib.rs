//! FleetDeck's desktop shell: the Tauri 2 app around the core. It owns no
//! logic of its own beyond wiring: the core's [`Engine`] refreshes the fleet
//! in a background task ([`watch`]) and every snapshot is pushed to the window
//! as events ([`push`]); the window asks for the rest through the commands
//! in [`commands`], which the capability in `capabilities/main.json` grants.
//!
//! [`run_app`] takes the builder so that the same wiring runs on the real
//! runtime (`main.rs`) and on `tauri::test::mock_builder()` in the smoke tests.
//!
//! [`Engine`]: fleetdeck_core::refresh::Engine

pub mod commands;
pub mod locale;
pub mod push;
pub mod remembered;
pub mod watch;

use std::path::PathBuf;
use std::sync::Arc;

use tauri::{App, AppHandle, Builder, Manager, Runtime, WebviewUrl, WebviewWindow, WebviewWindowBuilder};

use crate::remembered::RememberedFleet;
use crate::watch::Desk;

pub use push::{SNAPSHOT_EVENT, STATEMENTS_EVENT};
/// The label of the one window (the capability names it).
pub const MAIN_WINDOW: &str = "main";

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
/// commands and the fleet under watch, whose refresh loop starts at once. The
/// caller runs the event loop (`main.rs`), which opens the main window; tests
/// drive the app over IPC without one, opening the window with [`main_window`].
pub fn run_app<R: Runtime>(builder: Builder<R>, options: Options) -> tauri::Result<App<R>> {
    let kiosk = options.kiosk;
    let app = builder
        .plugin(tauri_plugin_notification::init())
        .invoke_handler(tauri::generate_handler![
            commands::fleet::fleet_info,
            commands::fleet::set_fleet,
            commands::snapshot::latest_snapshot,
            commands::queries::query_range,
            commands::queries::explain,
        ])
        // Setup runs once the event loop is up: the window needs it.
        .setup(move |app| {
            main_window(app.handle(), kiosk)?;
            Ok(())
        })
        .build(tauri::generate_context!())?;

    let config_dir = match options.config_dir {
        Some(dir) => dir,
        None => app.path().app_config_dir()?,
    };
    let handle = app.handle().clone();
    let sent = push::StatementsSent::default();
    let emit: watch::Emit = Arc::new(move |snapshot| {
        if let Err(e) = push::push(&handle, &sent, snapshot) {
            eprintln!("fleetdeck-desktop: cannot push a snapshot: {e}");
        }
    });
    let desk = Desk::new(kiosk, RememberedFleet::in_dir(&config_dir), emit);
    match options.fleet.or_else(|| desk.remembered()) {
        Some(path) => {
            if let Err(e) = desk.open(&path) {
                // Start anyway: the window shows why and offers the chooser.
                eprintln!("fleetdeck-desktop: {}", e.message);
                desk.watch_nothing(e.message);
            }
        }
        None => desk.watch_nothing("no fleet file: start with --fleet FILE or choose one"),
    }
    app.manage(desk);
    Ok(app)
}

/// Opens the one window; in kiosk mode full screen and undecorated.
pub fn main_window<R: Runtime>(app: &AppHandle<R>, kiosk: bool) -> tauri::Result<WebviewWindow<R>> {
    let window = WebviewWindowBuilder::new(app, MAIN_WINDOW, WebviewUrl::default())
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
