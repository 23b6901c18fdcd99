//! `rediss://` against the lab's TLS port on redis0 (its CA is made at build):
//! the probe verifies the server against the fleet's CA file, and refuses a
//! server it cannot verify rather than falling back to plain text.

use std::time::Duration;

use fleetdeck_core::fleet::RedisEndpoint;
use fleetdeck_core::probe::redis::RedisProbe;
use fleetdeck_core::probe::ProbeError;

use crate::common::{lab_ok, lab_port};

fn tls_endpoint(ca: Option<String>) -> RedisEndpoint {
    let port = lab_port("redis_tls", "redis0");
    RedisEndpoint {
        name: "redis0-tls".into(),
        url: format!("rediss://127.0.0.1:{port}"),
        password_env: None,
        tls_ca_file: ca.map(Into::into),
    }
}

fn lab_ca() -> String {
    let json: serde_json::Value = serde_json::from_str(&lab_ok(&["ports", "--json"])).expect("ports JSON");
    json["redis_tls_ca"].as_str().expect("the lab reports its Redis CA").to_string()
}

#[tokio::test]
async fn rediss_with_the_fleets_ca_reads_the_master() {
    let mut probe = RedisProbe::new(tls_endpoint(Some(lab_ca())));
    let reading = probe.read(Duration::from_secs(5)).await.expect("INFO over TLS");
    assert_eq!(reading.role, "master", "the TLS port is redis0's own");
}

#[tokio::test]
async fn rediss_without_a_ca_that_signs_the_server_is_refused() {
    let mut probe = RedisProbe::new(tls_endpoint(None));
    let result = probe.read(Duration::from_secs(5)).await;
    assert!(
        matches!(&result, Err(ProbeError::Connect { .. })),
        "the lab's self-made CA is in no public root store: the connection must fail, not downgrade: {result:?}"
    );
}
