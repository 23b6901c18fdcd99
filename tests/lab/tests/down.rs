//! `lab/lab down` leaves no process and no port behind. Run last: it stops the lab.

use std::net::TcpStream;
use std::time::Duration;

use fleetdeck_lab_tests::*;

/// Every port of the lab, as `lab/lab ports --json` reports them (named per kind,
/// plus Prometheus and chatload), so a lab on another port offset is checked too.
fn every_lab_port() -> Vec<(String, u16)> {
    let json = lab_ok(&["ports", "--json"]);
    let ports: serde_json::Value = serde_json::from_str(&json).expect("lab/lab ports --json prints JSON");
    let mut all = Vec::new();
    for (kind, v) in ports.as_object().expect("a JSON object") {
        match v {
            serde_json::Value::Object(nodes) => {
                for (name, port) in nodes {
                    all.push((format!("{kind} {name}"), port_number(port)));
                }
            }
            serde_json::Value::Number(_) => all.push((kind.clone(), port_number(v))),
            _ => {} // redis_tls_ca: a path, not a port
        }
    }
    all
}

fn port_number(v: &serde_json::Value) -> u16 {
    v.as_u64().and_then(|p| u16::try_from(p).ok()).unwrap_or_else(|| panic!("not a port: {v}"))
}

#[test]
fn down_leaves_nothing_listening_and_no_process() {
    let run_dir = lab_ok(&["fleet"]).trim().trim_end_matches("/fleet.toml").to_string();
    let ports = every_lab_port();
    for kind in ["postgres pg3", "pgbouncer pgb3", "postgres_exporter pg3", "redis redis2", "redis_exporter redis2", "prometheus", "chatload"] {
        assert!(ports.iter().any(|(k, _)| k == kind), "lab/lab ports must name {kind}: {ports:?}");
    }
    lab_ok(&["down"]);
    for (what, port) in ports {
        let addr = format!("127.0.0.1:{port}").parse().unwrap();
        assert!(
            TcpStream::connect_timeout(&addr, Duration::from_millis(300)).is_err(),
            "port {port} ({what}) must be closed after down"
        );
    }
    // "RUN/": every lab process names a path inside the run directory, and a lab
    // beside this one (say /var/tmp/fleetdeck-lab-2) must not count as left behind.
    let ps = std::process::Command::new("pgrep").args(["-f", &format!("{run_dir}/")]).output().unwrap();
    assert!(ps.stdout.is_empty(), "no process may still reference {run_dir}: {}", String::from_utf8_lossy(&ps.stdout));
    let status = lab(&["status"]);
    assert_eq!(status.status.code(), Some(3), "status after down must report things not running");
}
