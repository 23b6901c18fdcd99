//! Which fleet the window watches, and in which mode.

use std::path::Path;

use fleetdeck_core::contract::{ErrorCode, FleetInfo, UiError};
use tauri::State;

use crate::action_session::ActionSession;
use crate::watch::Desk;

/// The fleet and mode; `NotConfigured` (with the reason) when no fleet is
/// open, which is the UI's cue to show its fleet chooser.
#[tauri::command]
pub fn fleet_info(desk: State<'_, Desk>) -> Result<FleetInfo, UiError> {
    desk.fleet_info()
}

/// Switches to the fleet file at `path` and remembers it for the next start.
/// A file that does not load leaves the current fleet running. The war-room
/// display watches the fleet it was started on and nothing else. Actions
/// lock: an unlock is for the fleet it was given on.
#[tauri::command]
pub fn set_fleet(desk: State<'_, Desk>, session: State<'_, ActionSession>, path: String) -> Result<FleetInfo, UiError> {
    if desk.kiosk() {
        return Err(UiError::new(ErrorCode::Refused, "refused: the war-room display does not switch fleets"));
    }
    let info = desk.open(Path::new(&path))?;
    session.lock();
    Ok(info)
}
