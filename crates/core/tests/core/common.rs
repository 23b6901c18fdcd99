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
