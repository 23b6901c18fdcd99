//! Topology is discovered, never configured: who is primary is what
//! `pg_is_in_recovery()` says right now, and who streams from whom comes from
//! each standby's WAL receiver (its `sender_host:sender_port` names the
//! upstream) matched to the upstream's walsender row (by the standby's
//! `cluster_name` or fleet name as `application_name`). Cascades fall out as
//! tiers: a breadth-first walk from the primary.

use std::collections::{BTreeMap, VecDeque};

use crate::probe::postgres::{parse_lsn, PgReading};
use crate::probe::ProbeError;
use crate::snapshot::{Node, ReplicationEdge, Role, StreamState};

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

/// Two host names denote the same host: equal (ignoring case), or both loopback
/// (`localhost`, `127.x`, `::1`), since nodes report whichever their config says.
pub fn same_host(a: &str, b: &str) -> bool {
    let loopback = |h: &str| h == "localhost" || h == "::1" || h.starts_with("127.");
    a.eq_ignore_ascii_case(b) || (loopback(a) && loopback(b))
}

fn split_address(address: &str) -> Option<(&str, u16)> {
    let (h, p) = address.rsplit_once(':')?;
    Some((h.trim_start_matches('[').trim_end_matches(']'), p.parse().ok()?))
}

/// Builds the snapshot's nodes and edges from one refresh's results.
pub fn discover(results: &[NodeResult<'_>], limits: EdgeLimits) -> (Vec<Node>, Vec<ReplicationEdge>) {
    let ok = |i: usize| results[i].reading.as_ref().ok();
    let primaries: Vec<usize> = (0..results.len()).filter(|&i| ok(i).is_some_and(|r| !r.in_recovery)).collect();
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
        upstream[d] = results.iter().position(|u| {
            split_address(u.address).is_some_and(|(h, p)| i32::from(p) == port && same_host(h, host))
        });
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
        role: if r.in_recovery { Role::Replica } else { Role::Primary },
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
