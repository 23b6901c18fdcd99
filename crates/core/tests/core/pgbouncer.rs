//! PgBouncer probe against the lab's poolers, plus the failure modes an on-call
//! console meets at 3 a.m.: a closed port, a pooler that accepts TCP but never
//! answers (SIGSTOPped), and one that hangs after it has been answering.
//!
//! The TCP helpers at the top are shared with the Redis, Prometheus and scrape
//! tests: they stand in for the broken network, never for the servers.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fleetdeck_core::fleet::PgBouncerEndpoint;
use fleetdeck_core::probe::pgbouncer::PgBouncerProbe;
use fleetdeck_core::assemble::pools;
use fleetdeck_core::probe::ProbeError;
use futures_util::future::join_all;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::common::lab_fleet;

/// A local port that accepts connections and then never reads or writes, like a
/// stopped process whose kernel still completes the TCP handshake.
pub async fn hung_listener() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind a local port");
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket); // kept open: a closed socket would be an error, not a hang
        }
    });
    addr
}

/// A TCP relay in front of a real server that can be frozen: while frozen it
/// forwards nothing in either direction, so an established connection hangs
/// exactly as it would if the server were SIGSTOPped mid-session.
pub struct Relay {
    /// Where clients connect.
    pub addr: SocketAddr,
    frozen: watch::Sender<bool>,
    accepted: Arc<AtomicUsize>,
}

impl Relay {
    /// Starts relaying to `upstream`.
    pub async fn start(upstream: SocketAddr) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind a local port");
        let addr = listener.local_addr().unwrap();
        let (frozen, _) = watch::channel(false);
        let accepted = Arc::new(AtomicUsize::new(0));
        let (tx, count) = (frozen.clone(), accepted.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                let Ok(server) = TcpStream::connect(upstream).await else { continue };
                let (cr, cw) = client.into_split();
                let (sr, sw) = server.into_split();
                tokio::spawn(pump(cr, sw, tx.subscribe()));
                tokio::spawn(pump(sr, cw, tx.subscribe()));
            }
        });
        Relay { addr, frozen, accepted }
    }

    /// Stops forwarding (connections stay open).
    pub fn freeze(&self) {
        self.frozen.send_replace(true);
    }

    /// Resumes forwarding.
    pub fn thaw(&self) {
        self.frozen.send_replace(false);
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut frozen: watch::Receiver<bool>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if frozen.wait_for(|f| !*f).await.is_err() || to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
}

/// Asserts a probe gave up on time: not before its timeout (it did wait) and not
/// much after it (it enforced the timeout itself rather than hanging).
pub fn assert_on_time(what: &str, elapsed: Duration, timeout: Duration) {
    assert!(elapsed >= timeout.mul_f64(0.9), "{what} gave up after {elapsed:?}, before its timeout {timeout:?}");
    assert!(
        elapsed < timeout + Duration::from_millis(500),
        "{what} took {elapsed:?}: a probe must enforce its own timeout ({timeout:?})"
    );
}

/// Awaits `probe_call`, failing the test (instead of hanging it) when the probe
/// does not give up by itself well after its `timeout`.
pub async fn guarded<T>(timeout: Duration, probe_call: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(timeout * 10, probe_call)
        .await
        .unwrap_or_else(|_| panic!("the probe ignored its {timeout:?} timeout: a hung server would stall the refresh"))
}

/// A copy of the lab's pgb0 endpoint pointed at another port.
fn pgb0_at(port: u16) -> PgBouncerEndpoint {
    let mut endpoint = lab_fleet().pgbouncer[0].clone();
    endpoint.admin.host = Some("127.0.0.1".into());
    endpoint.admin.port = Some(port);
    endpoint
}

#[tokio::test]
async fn every_pgbouncer_reads_with_a_chat_pool_of_four_in_transaction_mode() {
    let fleet = lab_fleet();
    assert!(!fleet.pgbouncer.is_empty(), "the lab runs a PgBouncer per node");
    // Generous: 49 poolers read at once on a 2-core machine shared with the whole lab.
    let timeout = Duration::from_secs(5);
    let readings = join_all(fleet.pgbouncer.iter().cloned().map(|e| async move {
        let mut probe = PgBouncerProbe::new(e);
        let reading = probe.read(timeout).await;
        (probe.name().to_string(), reading)
    }))
    .await;
    for (name, reading) in readings {
        let reading = reading.unwrap_or_else(|e| panic!("{name} must answer SHOW POOLS/STATS/DATABASES: {e}"));
        let chat = reading.databases.iter().find(|d| d.name == "chat");
        let chat = chat.unwrap_or_else(|| panic!("{name}: SHOW DATABASES must list chat: {:?}", reading.databases));
        // pgbI fronts pgI: the database row must point at that node's port.
        let node = fleet.postgres.iter().find(|p| p.name == name.replacen("pgb", "pg", 1)).expect("pgbI has a pgI");
        assert_eq!(chat.port, node.monitor.port, "{name}: chat must point at {}", node.name);
        assert_eq!(chat.host.as_deref(), Some("127.0.0.1"), "{name}");
        assert!(reading.stats.iter().any(|s| s.database == "chat"), "{name}: SHOW STATS has a chat row");
        assert!(
            reading.stats.iter().all(|s| s.xacts_per_second >= 0.0 && s.avg_wait_seconds >= 0.0),
            "{name}: rates are never negative: {:?}",
            reading.stats
        );

        let pools = pools(&name, &reading, &fleet.thresholds);
        assert!(pools.iter().all(|p| p.database != "pgbouncer"), "{name}: the admin database is not a pool");
        let chat = pools.iter().find(|p| p.database == "chat" && p.user == "chat_app");
        let chat = chat.unwrap_or_else(|| panic!("{name}: the workload's chat pool exists: {pools:?}"));
        assert_eq!(chat.name, name);
        assert_eq!(chat.pool_size, 4, "{name}: the lab sets default_pool_size = 4");
        assert_eq!(chat.pool_mode, "transaction", "{name}: the lab pools in transaction mode");
        assert!(chat.sv_active <= chat.pool_size, "{name}: PgBouncer never exceeds pool_size: {chat:?}");
    }
}

#[tokio::test]
async fn saturation_on_real_pools_follows_the_thresholds() {
    let fleet = lab_fleet();
    let t = &fleet.thresholds;
    let mut probe = PgBouncerProbe::new(fleet.pgbouncer[0].clone());
    let reading = probe.read(Duration::from_secs(5)).await.expect("pgb0 answers");
    for pool in pools(probe.name(), &reading, t) {
        let expected = pool.cl_waiting > 0
            || pool.maxwait_seconds > t.pool_maxwait_seconds
            || (pool.pool_size > 0 && f64::from(pool.sv_active) / f64::from(pool.pool_size) >= t.pool_active_ratio);
        assert_eq!(pool.saturated, expected, "saturation is exactly the three rules: {pool:?}");
        assert_eq!(pool.saturated, !pool.saturation_reasons.is_empty(), "a saturated pool says why: {pool:?}");
    }
}

#[tokio::test]
async fn a_pooler_that_stops_answering_times_out_and_is_reconnected_after_backoff() {
    let fleet = lab_fleet();
    let real = &fleet.pgbouncer[0].admin;
    let upstream: SocketAddr = format!("127.0.0.1:{}", real.port.expect("the lab sets ports")).parse().unwrap();
    let relay = Relay::start(upstream).await;
    let mut probe = PgBouncerProbe::new(pgb0_at(relay.addr.port()));

    probe.read(Duration::from_secs(5)).await.expect("pgb0 answers through the relay");
    probe.read(Duration::from_secs(5)).await.expect("and again");
    assert_eq!(relay.accepted(), 1, "the probe keeps its connection between refreshes");

    relay.freeze();
    let timeout = Duration::from_millis(300);
    let started = Instant::now();
    let result = guarded(timeout, probe.read(timeout)).await;
    assert!(matches!(result, Err(ProbeError::Timeout(t)) if t == timeout), "a hung pooler is a Timeout: {result:?}");
    assert_on_time("a read on a hung connection", started.elapsed(), timeout);

    relay.thaw();
    let Err(ProbeError::Backoff { remaining, last }) = probe.read(timeout).await else {
        panic!("after a timeout the connection is dropped and the next connect waits out the backoff")
    };
    assert!(last.contains("no answer"), "the backoff names the failure that started it: {last}");
    tokio::time::sleep(remaining).await;
    probe.read(Duration::from_secs(5)).await.expect("after the backoff the probe reconnects");
    assert_eq!(relay.accepted(), 2, "the timed-out connection was replaced, not reused");
}

#[tokio::test]
async fn a_pooler_that_never_answers_times_out_within_the_timeout() {
    let addr = hung_listener().await;
    let mut probe = PgBouncerProbe::new(pgb0_at(addr.port()));
    let timeout = Duration::from_millis(300);
    let started = Instant::now();
    let result = guarded(timeout, probe.read(timeout)).await;
    assert!(matches!(result, Err(ProbeError::Timeout(_))), "accepting TCP without answering is a Timeout: {result:?}");
    assert_on_time("connecting to a hung pooler", started.elapsed(), timeout);
}

#[tokio::test]
async fn a_closed_port_is_a_connect_error_at_once_then_backoff() {
    let mut probe = PgBouncerProbe::new(pgb0_at(1));
    assert_eq!(probe.address(), "127.0.0.1:1", "the address is known before any answer");
    let started = Instant::now();
    let result = probe.read(Duration::from_secs(2)).await;
    assert!(matches!(&result, Err(ProbeError::Connect { address, .. }) if address == "127.0.0.1:1"), "{result:?}");
    assert!(started.elapsed() < Duration::from_millis(500), "a refused connection must not wait for the timeout");
    let again = probe.read(Duration::from_secs(2)).await;
    assert!(matches!(again, Err(ProbeError::Backoff { .. })), "a dead pooler is not retried every refresh: {again:?}");
}
