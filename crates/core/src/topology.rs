//! Topology is discovered, never configured: who is primary is what
//! `pg_is_in_recovery()` says right now, and who streams from whom comes from
//! each standby's WAL receiver (its `sender_host:sender_port` names the
//! upstream) matched to the upstream's walsender row (by the standby's
//! `cluster_name` or fleet name as `application_name`). Cascades fall out as
//! tiers: a breadth-first walk from the primary.
//!
//! Every other "who is attached to whom" rule lives here too, over the one
//! [`Address`] type: which PostgreSQL node a PgBouncer's databases point at,
//! which Redis master a replica follows, and the questions a switchover asks
//! of a snapshot — which poolers send writes to the primary, which replicas
//! must re-point, what streams below them. Probes only read; they never decide.

use std::collections::{BTreeMap, VecDeque};

use crate::address::Address;
use crate::probe::pgbouncer::DatabaseRow;
use crate::probe::postgres::{parse_lsn, PgReading};
use crate::probe::ProbeError;
use crate::snapshot::{Node, Pooler, ReplicationEdge, Role, Snapshot, StreamState};

/// One node's outcome in a refresh.
pub struct NodeResult<'a> {
    /// Fleet name.
    pub name: &'a str,
    /// `host:port` probed.
    pub address: &'a str,
    /// Probe wall time, ms.
    pub probe_ms: f64,
    /// What it said, or why it did not.
    pub reading: &'a Result<PgReading, ProbeError>,
}

/// Replay-lag thresholds deciding an edge's health.
#[derive(Debug, Clone, Copy)]
pub struct EdgeLimits {
    /// Bytes.
    pub lag_bytes: u64,
    /// Seconds.
    pub lag_seconds: f64,
}


/// Builds the snapshot's nodes and edges from one refresh's results.
pub fn discover(results: &[NodeResult<'_>], limits: EdgeLimits) -> (Vec<Node>, Vec<ReplicationEdge>) {
    let ok = |i: usize| results[i].reading.as_ref().ok();
    let primaries: Vec<usize> = (0..results.len()).filter(|&i| ok(i).is_some_and(|r| !r.in_recovery && !r.fenced)).collect();
    // With exactly one primary its WAL position is the reference for everyone's lag.
    let primary_lsn = match primaries.as_slice() {
        [p] => ok(*p).and_then(|r| r.current_lsn.as_deref()).and_then(parse_lsn),
        _ => None,
    };

    // upstream index of each downstream, from the downstream's WAL receiver.
    let mut upstream: Vec<Option<usize>> = vec![None; results.len()];
    for (d, res) in results.iter().enumerate() {
        let Some(rx) = res.reading.as_ref().ok().and_then(|r| r.wal_receiver.as_ref()) else { continue };
        let (Some(host), Some(port)) = (rx.sender_host.as_deref(), rx.sender_port) else { continue };
        let Ok(port) = u16::try_from(port) else { continue };
        upstream[d] = results.iter().position(|u| Address::parse(u.address).is_some_and(|a| a.is(host, port)));
    }
    // A standby that is not receiving (down, or its receiver stopped) is still
    // known to its upstream's walsender rows until they go; use those as a fallback.
    let sender_name_matches = |d: usize, app: &str| {
        app == results[d].name || ok(d).is_some_and(|r| !r.cluster_name.is_empty() && r.cluster_name == app)
    };
    for (d, up) in upstream.iter_mut().enumerate().filter(|(_, up)| up.is_none()) {
        *up = (0..results.len()).find(|&u| {
            u != d && ok(u).is_some_and(|r| r.senders.iter().any(|s| sender_name_matches(d, &s.application_name)))
        });
    }

    let mut edges = Vec::new();
    for (d, up) in upstream.iter().enumerate() {
        let Some(u) = *up else { continue };
        let sender = ok(u).and_then(|r| r.senders.iter().find(|s| sender_name_matches(d, &s.application_name)));
        let down = ok(d);
        let lag_bytes = sender.and_then(|s| s.replay_lag_bytes).or_else(|| {
            let up_pos = ok(u).and_then(|r| r.current_lsn.as_deref().or(r.receive_lsn.as_deref())).and_then(parse_lsn)?;
            let replayed = down?.replay_lsn.as_deref().and_then(parse_lsn)?;
            Some(up_pos.saturating_sub(replayed))
        });
        let lag_seconds = down.and_then(|r| r.replay_lag_seconds).or_else(|| sender.and_then(|s| s.replay_lag_seconds));
        let state = sender
            .map(|s| s.state.clone())
            .or_else(|| down.and_then(|r| r.wal_receiver.as_ref()).map(|w| w.status.clone()))
            .unwrap_or(StreamState::Disconnected);
        let healthy = state == StreamState::Streaming
            && down.is_some_and(|r| !r.replay_paused)
            && lag_bytes.is_none_or(|b| b <= limits.lag_bytes)
            && lag_seconds.is_none_or(|s| s <= limits.lag_seconds);
        edges.push(ReplicationEdge {
            upstream: results[u].name.to_string(),
            downstream: results[d].name.to_string(),
            state,
            sync_state: sender.map_or_else(|| "unknown".into(), |s| s.sync_state.clone()),
            lag_bytes,
            lag_seconds,
            healthy,
        });
    }

    // Tiers: breadth-first from each primary.
    let mut tier: Vec<Option<u32>> = vec![None; results.len()];
    let mut queue: VecDeque<usize> = primaries.iter().copied().collect();
    for &p in &primaries {
        tier[p] = Some(0);
    }
    while let Some(u) = queue.pop_front() {
        for d in 0..results.len() {
            if upstream[d] == Some(u) && tier[d].is_none() {
                tier[d] = tier[u].map(|t| t + 1);
                queue.push_back(d);
            }
        }
    }

    let nodes = results
        .iter()
        .enumerate()
        .map(|(i, res)| node(res, upstream[i].map(|u| results[u].name.to_string()), tier[i], primary_lsn))
        .collect();
    (nodes, edges)
}

fn node(res: &NodeResult<'_>, upstream: Option<String>, tier: Option<u32>, primary_lsn: Option<u64>) -> Node {
    let base = Node {
        name: res.name.to_string(),
        address: res.address.to_string(),
        role: Role::Unknown,
        reachable: false,
        error: None,
        probe_ms: res.probe_ms,
        upstream,
        tier,
        version: None,
        timeline: None,
        lsn: None,
        receive_lsn: None,
        replay_lsn: None,
        replay_lag_bytes: None,
        replay_lag_seconds: None,
        replay_paused: false,
        last_replay_at: None,
        wal_receiver: None,
        senders: Vec::new(),
        slots: Vec::new(),
        connections: Default::default(),
    };
    let r = match res.reading {
        Ok(r) => r,
        Err(e) => return Node { error: Some(e.to_string()), ..base },
    };
    let replay_lag_bytes = if r.in_recovery {
        let replayed = r.replay_lsn.as_deref().and_then(parse_lsn);
        match (primary_lsn, replayed) {
            (Some(p), Some(x)) => Some(p.saturating_sub(x)),
            _ => {
                let received = r.receive_lsn.as_deref().and_then(parse_lsn);
                received.zip(replayed).map(|(a, b)| a.saturating_sub(b))
            }
        }
    } else {
        None
    };
    Node {
        role: match (r.in_recovery, r.fenced) {
            (true, _) => Role::Replica,
            (false, true) => Role::Fenced,
            (false, false) => Role::Primary,
        },
        reachable: true,
        version: Some(r.version.clone()),
        timeline: r.timeline,
        lsn: if r.in_recovery { r.replay_lsn.clone() } else { r.current_lsn.clone() },
        receive_lsn: r.receive_lsn.clone(),
        replay_lsn: r.replay_lsn.clone(),
        replay_lag_bytes,
        replay_lag_seconds: r.replay_lag_seconds,
        replay_paused: r.replay_paused,
        last_replay_at: r.last_replay_at.clone(),
        wal_receiver: r.wal_receiver.clone(),
        senders: r.senders.clone(),
        slots: r.slots.clone(),
        connections: r.connections.clone(),
        ..base
    }
}

/// The PostgreSQL node a PgBouncer's databases point at (host:port from
/// `SHOW DATABASES`, the admin database aside), if it is in the fleet.
pub fn pooler_node(databases: &[DatabaseRow], nodes: &[Node]) -> Option<String> {
    databases.iter().filter(|d| d.name != crate::probe::pgbouncer::ADMIN_DATABASE).find_map(|d| {
        let (host, port) = (d.host.as_deref()?, d.port?);
        nodes.iter().find(|n| Address::parse(&n.address).is_some_and(|a| a.is(host, port))).map(|n| n.name.clone())
    })
}

/// The fleet name of the Redis master at `master_host:master_port`, among
/// `caches` (fleet name, address).
pub fn cache_master<'a>(host: &str, port: u16, caches: &'a [(String, Address)]) -> Option<&'a str> {
    caches.iter().find(|(_, a)| a.is(host, port)).map(|(n, _)| n.as_str())
}

/// The one primary of `s`, when there is exactly one.
pub fn primary(s: &Snapshot) -> Option<&Node> {
    let mut primaries = s.nodes.iter().filter(|n| n.role == Role::Primary);
    match (primaries.next(), primaries.next()) {
        (Some(p), None) => Some(p),
        _ => None,
    }
}

/// The nodes streaming directly from `node`, by fleet name.
pub fn children<'a>(s: &'a Snapshot, node: &str) -> Vec<&'a str> {
    let mut v: Vec<&str> =
        s.nodes.iter().filter(|n| n.upstream.as_deref() == Some(node)).map(|n| n.name.as_str()).collect();
    v.sort();
    v
}

/// Every node streaming from `node`, directly or through cascades, nearest first.
pub fn downstream<'a>(s: &'a Snapshot, node: &str) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut queue: VecDeque<&str> = children(s, node).into();
    while let Some(n) = queue.pop_front() {
        if out.contains(&n) || n == node {
            continue; // a loop in what the nodes report: never walk it twice
        }
        out.push(n);
        queue.extend(children(s, n));
    }
    out
}

/// The poolers whose databases point at `node` (for the primary: the ones
/// that send writes, and must pause during a switchover).
pub fn poolers_of<'a>(s: &'a Snapshot, node: &str) -> Vec<&'a Pooler> {
    s.poolers.iter().filter(|p| p.node.as_deref() == Some(node)).collect()
}

/// Who moves when `target`, a direct replica of the primary, is promoted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repointing {
    /// The primary's other direct replicas: each must re-point to the target.
    pub siblings: Vec<String>,
    /// Cascades below the siblings and the target: they keep their upstream and
    /// follow it (node, its upstream).
    pub following: Vec<(String, String)>,
}

/// What re-points if `target` is promoted, or `None` when there is not
/// exactly one primary or `target` does not stream directly from it.
pub fn repointing(s: &Snapshot, target: &str) -> Option<Repointing> {
    let p = primary(s)?;
    let siblings: Vec<String> = children(s, &p.name).into_iter().filter(|n| *n != target).map(str::to_string).collect();
    if !children(s, &p.name).contains(&target) {
        return None;
    }
    let mut following = Vec::new();
    for top in siblings.iter().map(String::as_str).chain([target]) {
        for n in downstream(s, top) {
            let up = s.nodes.iter().find(|x| x.name == n).and_then(|x| x.upstream.clone()).unwrap_or_default();
            following.push((n.to_string(), up));
        }
    }
    following.sort();
    Some(Repointing { siblings, following })
}

/// Nodes grouped by tier (unplaced nodes last), for drawing.
pub fn tiers(nodes: &[Node]) -> BTreeMap<u32, Vec<&Node>> {
    let mut m: BTreeMap<u32, Vec<&Node>> = BTreeMap::new();
    for n in nodes {
        m.entry(n.tier.unwrap_or(u32::MAX)).or_default().push(n);
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::{WalReceiver, WalSender};

    fn reading(in_recovery: bool, lsn: &str) -> PgReading {
        PgReading {
            address: String::new(),
            version: "15".into(),
            cluster_name: String::new(),
            in_recovery,
            fenced: false,
            current_lsn: (!in_recovery).then(|| lsn.to_string()),
            receive_lsn: in_recovery.then(|| lsn.to_string()),
            replay_lsn: in_recovery.then(|| lsn.to_string()),
            replay_paused: false,
            last_replay_at: None,
            replay_lag_seconds: in_recovery.then_some(0.0),
            timeline: Some(1),
            wal_receiver: None,
            senders: Vec::new(),
            slots: Vec::new(),
            connections: Default::default(),
            statements: None,
        }
    }

    fn streams_from(mut r: PgReading, port: i32) -> PgReading {
        r.wal_receiver = Some(WalReceiver {
            status: StreamState::Streaming,
            sender_host: Some("127.0.0.1".into()),
            sender_port: Some(port),
            slot_name: None,
            received_tli: Some(1),
            last_msg_receipt_time: None,
        });
        r
    }

    fn sender(app: &str, lag: u64) -> WalSender {
        WalSender {
            application_name: app.into(),
            client_addr: Some("127.0.0.1".into()),
            state: StreamState::Streaming,
            sync_state: "async".into(),
            sent_lsn: None,
            write_lsn: None,
            flush_lsn: None,
            replay_lsn: None,
            write_lag_seconds: None,
            flush_lag_seconds: None,
            replay_lag_seconds: None,
            replay_lag_bytes: Some(lag),
        }
    }

    const LIMITS: EdgeLimits = EdgeLimits { lag_bytes: 1000, lag_seconds: 30.0 };

    fn run(readings: Vec<(&'static str, &'static str, Result<PgReading, ProbeError>)>) -> (Vec<Node>, Vec<ReplicationEdge>) {
        let results: Vec<NodeResult<'_>> = readings
            .iter()
            .map(|(n, a, r)| NodeResult { name: n, address: a, probe_ms: 1.0, reading: r })
            .collect();
        discover(&results, LIMITS)
    }

    #[test]
    fn a_cascade_is_discovered_as_a_second_tier() {
        let mut p = reading(false, "0/3000");
        p.senders = vec![sender("a", 0), sender("b", 5000)];
        let mut a = streams_from(reading(true, "0/3000"), 5000);
        a.senders = vec![sender("c", 0)];
        let (nodes, edges) = run(vec![
            ("p", "127.0.0.1:5000", Ok(p)),
            ("a", "127.0.0.1:5001", Ok(a)),
            ("b", "localhost:5002", Ok(streams_from(reading(true, "0/2000"), 5000))),
            ("c", "127.0.0.1:5003", Ok(streams_from(reading(true, "0/3000"), 5001))),
        ]);
        let tiers: Vec<_> = nodes.iter().map(|n| (n.name.as_str(), n.tier, n.upstream.as_deref())).collect();
        assert_eq!(
            tiers,
            [("p", Some(0), None), ("a", Some(1), Some("p")), ("b", Some(1), Some("p")), ("c", Some(2), Some("a"))],
            "roles and edges come from what the nodes report"
        );
        let b = edges.iter().find(|e| e.downstream == "b").unwrap();
        assert_eq!(b.lag_bytes, Some(5000), "the walsender row's byte lag is the edge's");
        assert!(!b.healthy, "5000 bytes is over the 1000-byte limit");
        assert_eq!(nodes[2].replay_lag_bytes, Some(0x1000), "a node's lag is measured against the primary's position");
    }

    #[test]
    fn a_standby_without_receiver_is_attached_by_its_upstreams_walsender_row() {
        let mut p = reading(false, "0/3000");
        p.senders = vec![sender("a", 0)];
        let (nodes, edges) = run(vec![("p", "127.0.0.1:5000", Ok(p)), ("a", "127.0.0.1:5001", Ok(reading(true, "0/3000")))]);
        assert_eq!(nodes[1].upstream.as_deref(), Some("p"));
        assert_eq!(edges.len(), 1);
    }

    #[test]
    fn an_unreachable_node_has_role_unknown_and_its_error() {
        let (nodes, edges) = run(vec![
            ("p", "127.0.0.1:5000", Ok(reading(false, "0/3000"))),
            ("a", "127.0.0.1:5001", Err(ProbeError::Timeout(std::time::Duration::from_secs(1)))),
        ]);
        assert_eq!(nodes[1].role, Role::Unknown);
        assert!(!nodes[1].reachable);
        assert!(nodes[1].error.as_deref().unwrap().contains("no answer"), "{:?}", nodes[1].error);
        assert!(edges.is_empty(), "nothing is known about an unreachable node's upstream");
    }

    fn snapshot(nodes: Vec<Node>) -> Snapshot {
        Snapshot {
            fleet: "t".into(),
            taken_at: String::new(),
            refresh_ms: 0.0,
            seq: 0,
            nodes,
            edges: Vec::new(),
            poolers: Vec::new(),
            pools: Vec::new(),
            caches: Vec::new(),
            ai: Default::default(),
            alerts: Vec::new(),
            targets: Vec::new(),
            scrapes: Vec::new(),
            statements: Vec::new(),
            anomalies: Vec::new(),
            store: Default::default(),
        }
    }

    /// p ← a ← c, p ← b ← d ← e: the lab's shape plus a deeper cascade.
    fn cascade() -> Snapshot {
        let mut p = reading(false, "0/3000");
        p.senders = vec![sender("a", 0), sender("b", 0)];
        let mut a = streams_from(reading(true, "0/3000"), 5000);
        a.senders = vec![sender("c", 0)];
        let mut b = streams_from(reading(true, "0/3000"), 5000);
        b.senders = vec![sender("d", 0)];
        let mut d = streams_from(reading(true, "0/3000"), 5002);
        d.senders = vec![sender("e", 0)];
        let (nodes, _) = run(vec![
            ("p", "127.0.0.1:5000", Ok(p)),
            ("a", "127.0.0.1:5001", Ok(a)),
            ("b", "127.0.0.1:5002", Ok(b)),
            ("c", "127.0.0.1:5003", Ok(streams_from(reading(true, "0/3000"), 5001))),
            ("d", "127.0.0.1:5004", Ok(d)),
            ("e", "127.0.0.1:5005", Ok(streams_from(reading(true, "0/3000"), 5004))),
        ]);
        snapshot(nodes)
    }

    #[test]
    fn promoting_a_direct_replica_repoints_its_siblings_and_cascades_follow() {
        let s = cascade();
        let r = repointing(&s, "a").expect("a streams from the primary");
        assert_eq!(r.siblings, ["b"], "b must re-point to the new primary");
        assert_eq!(
            r.following,
            [("c".to_string(), "a".to_string()), ("d".to_string(), "b".to_string()), ("e".to_string(), "d".to_string())],
            "cascades keep their upstream and move with it"
        );
        assert_eq!(repointing(&s, "c"), None, "a cascade is not a switchover target");
        assert_eq!(repointing(&s, "p"), None, "the primary is not its own target");
        assert_eq!(downstream(&s, "b"), ["d", "e"], "nearest first");
    }

    #[test]
    fn poolers_are_attached_by_the_address_their_databases_point_at() {
        let s = cascade();
        let db = |name: &str, host: &str, port: u16| DatabaseRow {
            name: name.into(),
            host: Some(host.into()),
            port: Some(port),
            database: "chat".into(),
            pool_size: 4,
            pool_mode: None,
            paused: false,
        };
        assert_eq!(pooler_node(&[db("pgbouncer", "127.0.0.1", 5000), db("chat", "localhost", 5002)], &s.nodes).as_deref(), Some("b"));
        assert_eq!(pooler_node(&[db("chat", "10.1.1.1", 5002)], &s.nodes), None, "another host is not ours");
        let mut s = s;
        s.poolers = vec![Pooler { name: "pgb0".into(), address: String::new(), reachable: true, error: None, node: Some("p".into()), paused: Vec::new(), stats: Vec::new() }];
        assert_eq!(poolers_of(&s, "p").len(), 1, "it sends writes to the primary");
        assert!(poolers_of(&s, "a").is_empty());
    }

    #[test]
    fn a_cache_replica_finds_its_master_by_any_loopback_spelling() {
        let caches = vec![("redis0".to_string(), Address::new("127.0.0.1", 17000)), ("redis1".to_string(), Address::new("localhost", 17001))];
        assert_eq!(cache_master("localhost", 17000, &caches), Some("redis0"));
        assert_eq!(cache_master("127.0.0.1", 17002, &caches), None);
    }

    #[test]
    fn two_primaries_are_both_tier_zero() {
        let (nodes, _) = run(vec![
            ("p", "127.0.0.1:5000", Ok(reading(false, "0/3000"))),
            ("q", "127.0.0.1:5001", Ok(reading(false, "0/4000"))),
        ]);
        assert!(nodes.iter().all(|n| n.role == Role::Primary && n.tier == Some(0)));
        assert_eq!(nodes[0].replay_lag_bytes, None, "with two primaries there is no reference position");
    }
}
