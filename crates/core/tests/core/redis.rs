//! Redis probe against the lab's cache fleet (redis0 master, redis1 and redis2
//! its replicas), and its behaviour when a node is closed or hung.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use fleetdeck_core::fleet::RedisEndpoint;
use fleetdeck_core::assemble::caches;
use fleetdeck_core::probe::redis::{RedisProbe, RedisReading};
use fleetdeck_core::probe::ProbeError;
use fleetdeck_core::snapshot::CacheRole;

use crate::common::{lab_fleet, lab_port};
use crate::pgbouncer::{assert_on_time, guarded, hung_listener, Relay};

const TIMEOUT: Duration = Duration::from_secs(5);

fn endpoint_at(name: &str, addr: &str) -> RedisEndpoint {
    RedisEndpoint { name: name.into(), url: format!("redis://{addr}"), password_env: None, tls_ca_file: None }
}

async fn read(endpoint: &RedisEndpoint) -> RedisReading {
    RedisProbe::new(endpoint.clone())
        .read(TIMEOUT)
        .await
        .unwrap_or_else(|e| panic!("{} must answer INFO: {e}", endpoint.name))
}

#[tokio::test]
async fn the_master_and_its_linked_replicas_are_read() {
    let fleet = lab_fleet();
    let master_endpoint = fleet.redis.iter().find(|r| r.name == "redis0").expect("the lab has redis0");
    let master = read(master_endpoint).await;
    assert_eq!(master.role, "master", "redis0 is the lab's master");
    let redis0_port = lab_port("redis", "redis0");
    assert_eq!(master.address, format!("127.0.0.1:{redis0_port}"), "the address redis0 is read at is where the lab runs it");
    assert!(master.repl_offset.is_some(), "a master reports master_repl_offset");
    assert_eq!(master.maxmemory, 64 << 20, "the lab caps each node at 64 MB");
    assert!(master.used_memory > 0 && master.connected_clients > 0, "{master:?}");
    assert!(master.keyspace_hits + master.keyspace_misses > 0, "the workload caches conversation context in redis0");
    for endpoint in fleet.redis.iter().filter(|r| r.name != "redis0") {
        let replica = read(endpoint).await;
        assert_eq!(replica.role, "slave", "{}: Redis 7 still reports replicas as 'slave'", endpoint.name);
        assert_eq!(
            replica.master_link_status.as_deref(),
            Some("up"),
            "{}: the lab waits for linked replicas",
            endpoint.name
        );
        assert_eq!(
            (replica.master_host.as_deref(), replica.master_port),
            (Some("127.0.0.1"), Some(redis0_port)),
            "{} replicates from redis0",
            endpoint.name
        );
    }
}

#[tokio::test]
async fn caches_give_replicas_redis0_as_upstream_with_a_small_offset_lag() {
    let fleet = lab_fleet();
    // Replicas first, master last: the master's offset is then read after the replicas',
    // so a raw difference below zero would be a decoding bug, not timing skew.
    let mut ordered: Vec<&RedisEndpoint> = fleet.redis.iter().filter(|r| r.name != "redis0").collect();
    ordered.extend(fleet.redis.iter().filter(|r| r.name == "redis0"));
    let mut readings = Vec::new();
    for endpoint in ordered {
        readings.push((endpoint.clone(), Ok(read(endpoint).await)));
    }
    let master_offset = readings.last().unwrap().1.as_ref().unwrap().repl_offset.expect("master offset");

    let mut previous = HashMap::new();
    let first = caches(&readings, &mut previous);
    assert_eq!(first.len(), fleet.redis.len(), "one cache row per node");
    for (cache, (_, reading)) in first.iter().zip(&readings) {
        assert!(cache.reachable && cache.error.is_none(), "{cache:?}");
        if cache.name == "redis0" {
            assert_eq!((&cache.role, cache.upstream.as_deref()), (&CacheRole::Master, None));
            assert!(cache.hit_ratio_lifetime.is_some_and(|r| (0.0..=1.0).contains(&r)), "{cache:?}");
            continue;
        }
        assert_eq!(cache.role, CacheRole::Replica, "'slave' is shown as replica");
        assert_eq!(cache.upstream.as_deref(), Some("redis0"), "matched by master_host:master_port");
        let raw = master_offset - reading.as_ref().unwrap().repl_offset.expect("replica offset");
        assert!(raw >= 0, "{}: a replica read before its master cannot be ahead of it ({raw})", cache.name);
        assert_eq!(cache.replication_offset_lag, Some(raw));
        assert!(raw < 1 << 20, "{}: a linked replica is within the 1 MB backlog, lag {raw}", cache.name);
    }
    assert_eq!(previous.len(), fleet.redis.len(), "caches() remembers every node's counters for the next refresh");
}

#[tokio::test]
async fn an_unreachable_node_keeps_its_name_and_carries_the_error() {
    let endpoint = endpoint_at("gone", "127.0.0.1:1");
    let mut probe = RedisProbe::new(endpoint.clone());
    assert_eq!((probe.name(), probe.address()), ("gone", "127.0.0.1:1"));
    let started = Instant::now();
    let result = probe.read(Duration::from_secs(2)).await;
    assert!(matches!(&result, Err(ProbeError::Connect { address, .. }) if address == "127.0.0.1:1"), "{result:?}");
    assert!(started.elapsed() < Duration::from_millis(500), "a refused connection must not wait for the timeout");
    let again = probe.read(Duration::from_secs(2)).await;
    assert!(matches!(again, Err(ProbeError::Backoff { .. })), "a dead node is not retried every refresh: {again:?}");

    let rows = caches(&[(endpoint, result)], &mut HashMap::new());
    assert_eq!((rows[0].name.as_str(), &rows[0].role, rows[0].reachable), ("gone", &CacheRole::Unknown, false));
    assert!(rows[0].error.as_deref().is_some_and(|e| e.contains("127.0.0.1:1")), "{:?}", rows[0].error);
}

#[tokio::test]
async fn a_node_that_never_answers_times_out_within_the_timeout() {
    let addr = hung_listener().await;
    let mut probe = RedisProbe::new(endpoint_at("hung", &addr.to_string()));
    let timeout = Duration::from_millis(300);
    let started = Instant::now();
    let result = guarded(timeout, probe.read(timeout)).await;
    assert!(matches!(result, Err(ProbeError::Timeout(_))), "accepting TCP without answering is a Timeout: {result:?}");
    assert_on_time("connecting to a hung Redis", started.elapsed(), timeout);
}

#[tokio::test]
async fn a_node_that_stops_answering_times_out_and_is_reconnected_after_backoff() {
    let redis0: SocketAddr = format!("127.0.0.1:{}", lab_port("redis", "redis0")).parse().unwrap();
    let relay = Relay::start(redis0).await;
    let mut probe = RedisProbe::new(endpoint_at("redis0-relayed", &relay.addr.to_string()));
    probe.read(TIMEOUT).await.expect("redis0 answers through the relay");
    probe.read(TIMEOUT).await.expect("and again");
    assert_eq!(relay.accepted(), 1, "the multiplexed connection is kept between refreshes");

    relay.freeze();
    let timeout = Duration::from_millis(300);
    let started = Instant::now();
    let result = guarded(timeout, probe.read(timeout)).await;
    assert!(matches!(result, Err(ProbeError::Timeout(_))), "a hung connection is a Timeout: {result:?}");
    assert_on_time("INFO on a hung connection", started.elapsed(), timeout);

    relay.thaw();
    let Err(ProbeError::Backoff { remaining, .. }) = probe.read(timeout).await else {
        panic!("after a timeout the connection is dropped and the next connect waits out the backoff")
    };
    tokio::time::sleep(remaining).await;
    let reading = probe.read(TIMEOUT).await.expect("after the backoff the probe reconnects");
    assert_eq!(reading.role, "master");
    assert_eq!(relay.accepted(), 2, "the timed-out connection was replaced, not reused");
}
