//! Snapshots are pushed as the `snapshot` event after every refresh; this is
//! for a window that (re)loads between two of them.

use fleetdeck_core::snapshot::Snapshot;
use tauri::State;

use crate::watch::Desk;

/// The newest snapshot, none before the first refresh or without a fleet.
#[tauri::command]
pub fn latest_snapshot(desk: State<'_, Desk>) -> Option<Snapshot> {
    desk.latest()
}
