//! Every `#[tauri::command]` of the desktop, grouped by domain, one file each.
//! Each is a few lines: call the core (through [`crate::watch::Desk`]) and
//! return its answer or a [`fleetdeck_core::contract::UiError`], never a bare
//! string. `build.rs` lists them for the ACL; `capabilities/main.json`
//! grants the read commands to the console and the war-room windows,
//! `capabilities/actions.json` the action commands to the console's only.

pub mod actions;
pub mod fleet;
pub mod queries;
pub mod snapshot;
