//! `fleetdeck-desktop [--fleet FILE] [--kiosk] [--gpu]`: parses the arguments
//! and runs the app that `fleetdeck_desktop::run_app` builds (after the
//! environment WebKitGTK reads before GTK starts: the locale fix in
//! `fleetdeck_desktop::locale`, and compositing off unless `--gpu`).
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
    /// Let WebKit composite with the GPU (OpenGL). Off by default: see `main`.
    #[arg(long)]
    gpu: bool,
    /// Added by WebKitWebDriver when it starts the app for end-to-end tests.
    #[arg(long, hide = true)]
    automation: bool,
}

fn main() -> ExitCode {
    fleetdeck_desktop::locale::avoid_c_codeset_language();
    let args = Args::parse();
    if !args.gpu && std::env::var_os("WEBKIT_DISABLE_COMPOSITING_MODE").is_none() {
        // Accelerated compositing loads an OpenGL stack into both the app and
        // its web process (Mesa with LLVM where there is no GPU: ≈ 90 MB of the
        // 48-replica lab's footprint) for a page of text, tables and 2D
        // canvases that gains nothing from it. Still single-threaded here.
        std::env::set_var("WEBKIT_DISABLE_COMPOSITING_MODE", "1");
    }
    let options = fleetdeck_desktop::Options { fleet: args.fleet, kiosk: args.kiosk, config_dir: None };
    match fleetdeck_desktop::run_app(tauri::Builder::default(), options) {
        Ok(app) => {
            app.run(|app, event| {
                if let tauri::RunEvent::Exit = event {
                    fleetdeck_desktop::stop_watching(app);
                }
            });
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("fleetdeck-desktop: cannot start: {e}");
            ExitCode::FAILURE
        }
    }
}
