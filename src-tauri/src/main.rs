//! `fleetdeck-desktop [--fleet FILE] [--kiosk]`: parses the arguments and runs
//! the app that `fleetdeck_desktop::run_app` builds (after the one locale fix
//! WebKitGTK needs before GTK starts, see `fleetdeck_desktop::locale`).
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

#[derive(Parser)]
#[command(name = "fleetdeck-desktop", version, about = "FleetDeck on-call console (desktop)")]
struct Args {
    /// Fleet file to watch (default: the last one opened).
    #[arg(long)]
    fleet: Option<PathBuf>,
    /// War-room display: full screen, no action buttons, no EXPLAIN ANALYZE.
    #[arg(long)]
    kiosk: bool,
    /// Added by WebKitWebDriver when it starts the app for end-to-end tests.
    #[arg(long, hide = true)]
    automation: bool,
}

fn main() -> ExitCode {
    fleetdeck_desktop::locale::avoid_c_codeset_language();
    let args = Args::parse();
    let options = fleetdeck_desktop::Options { fleet: args.fleet, kiosk: args.kiosk, config_dir: None };
    match fleetdeck_desktop::run_app(tauri::Builder::default(), options) {
        Ok(app) => {
            app.run(|_, _| {});
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("fleetdeck-desktop: cannot start: {e}");
            ExitCode::FAILURE
        }
    }
}
