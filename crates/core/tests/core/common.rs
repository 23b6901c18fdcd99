//! Finding the running lab: its fleet file path comes from `lab/lab fleet`.

use std::path::PathBuf;
use std::process::Command;

use fleetdeck_core::fleet::Fleet;

/// The repository root.
pub fn repo_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("repo dir")
}

/// Runs `lab/lab ARGS…`, panicking with its stderr on failure; returns stdout.
pub fn lab_ok(args: &[&str]) -> String {
    let out = Command::new(repo_dir().join("lab/lab")).args(args).output().expect("run lab/lab");
    assert!(out.status.success(), "lab/lab {} failed:\n{}", args.join(" "), String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The running lab's fleet file.
pub fn lab_fleet_path() -> PathBuf {
    PathBuf::from(lab_ok(&["fleet"]).trim())
}

/// The running lab's fleet, checked.
pub fn lab_fleet() -> Fleet {
    Fleet::load(&lab_fleet_path()).expect("the lab's fleet file loads")
}

/// The port of node `name` of `kind` ("postgres", "redis", ...) as `lab/lab ports
/// --json` reports it: the lab may run on shifted ports (FLEETDECK_LAB_PORT_OFFSET),
/// so no test names a port itself. (The lab tests' `LabPorts` reads the same
/// output; the core's tests cannot depend on that crate, which depends on the core.)
pub fn lab_port(kind: &str, name: &str) -> u16 {
    let json = lab_ok(&["ports", "--json"]);
    let ports: serde_json::Value = serde_json::from_str(&json).unwrap_or_else(|e| panic!("lab/lab ports --json is not JSON ({e}):\n{json}"));
    ports[kind][name]
        .as_u64()
        .and_then(|p| u16::try_from(p).ok())
        .unwrap_or_else(|| panic!("lab/lab ports --json has no {kind} port for {name}:\n{json}"))
}
