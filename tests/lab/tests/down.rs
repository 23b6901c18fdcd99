//! `lab/lab down` leaves no process and no port behind. Run last: it stops the lab.

use std::net::TcpStream;
use std::time::Duration;

use fleetdeck_lab_tests::*;

#[test]
fn down_leaves_nothing_listening_and_no_process() {
    let run_dir = lab_ok(&["fleet"]).trim().trim_end_matches("/fleet.toml").to_string();
    lab_ok(&["down"]);
    let ports: [u16; 14] = [16000, 16001, 16002, 16003, 16400, 16403, 16800, 16803, 17000, 17002, 17100, 17102, 19090, 19100];
    for port in ports {
        let addr = format!("127.0.0.1:{port}").parse().unwrap();
        assert!(
            TcpStream::connect_timeout(&addr, Duration::from_millis(300)).is_err(),
            "port {port} must be closed after down"
        );
    }
    let ps = std::process::Command::new("pgrep").args(["-f", &run_dir]).output().unwrap();
    assert!(ps.stdout.is_empty(), "no process may still reference {run_dir}: {}", String::from_utf8_lossy(&ps.stdout));
    let status = lab(&["status"]);
    assert_eq!(status.status.code(), Some(3), "status after down must report things not running");
}
