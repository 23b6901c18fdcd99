//! Every `#[tauri::command]` of the desktop, grouped by domain, one file each.
//! Each is a few lines: call the core (through [`crate::watch::Desk`]) and
//! return its answer or a [`fleetdeck_core::contract::UiError`], never a bare
//! string. `build.rs` lists them for the ACL and `capabilities/main.json`
//! grants them to the main window.

pub mod fleet;
pub mod queries;
pub mod snapshot;
