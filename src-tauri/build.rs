//! Generates the Tauri context and the ACL. Listing the app's own commands in
//! the app manifest makes tauri-build generate an `allow-<command>` permission
//! for each, so `capabilities/` must grant every command the UI may call:
//! a command left out of a capability is refused at the IPC boundary.

fn main() {
    let commands = &[
        "fleet_info",
        "set_fleet",
        "latest_snapshot",
        "query_range",
        "explain",
        // Admin: granted by capabilities/actions.json alone.
        "actions_state",
        "actions_unlock",
        "actions_lock",
        "action_plan",
        "action_execute",
        "audit_trail",
    ];
    tauri_build::try_build(
        tauri_build::Attributes::new().app_manifest(tauri_build::AppManifest::new().commands(commands)),
    )
    .expect("tauri-build: bad tauri.conf.json, capabilities or icons");
}
