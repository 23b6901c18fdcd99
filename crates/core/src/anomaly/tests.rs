//! Every anomaly kind is made to fire by one change to a healthy snapshot, and
//! kept quiet by the nearest healthy value: failover and the incident store
//! depend on these rules, so none of them may be asserted nowhere.

use std::collections::BTreeMap;

use super::*;
use crate::snapshot::*;

fn node(name: &str, role: Role, upstream: Option<&str>) -> Node {
    Node {
        name: name.into(),
        address: format!("127.0.0.1:{}", 5000 + name.len()),
        role,
        reachable: true,
        error: None,
        probe_ms: 1.0,
        upstream: upstream.map(str::to_string),
        tier: Some(if upstream.is_some() { 1 } else { 0 }),
        version: Some("15".into()),
        timeline: Some(1),
        lsn: Some("0/3000".into()),
        receive_lsn: None,
        replay_lsn: None,
        replay_lag_bytes: upstream.map(|_| 0),
        replay_lag_seconds: upstream.map(|_| 0.0),
        replay_paused: false,
        last_replay_at: None,
        wal_receiver: upstream.map(|_| WalReceiver {
            status: StreamState::Streaming,
            sender_host: Some("127.0.0.1".into()),
            sender_port: Some(5002),
            slot_name: Some(name.into()),
            received_tli: Some(1),
            last_msg_receipt_time: None,
        }),
        senders: Vec::new(),
        slots: Vec::new(),
        connections: Connections { total: 10, max: 100, by_state: BTreeMap::new() },
    }
}

fn cache(name: &str, role: CacheRole, upstream: Option<&str>) -> Cache {
    Cache {
        name: name.into(),
        address: "127.0.0.1:6379".into(),
        role,
        reachable: true,
        error: None,
        upstream: upstream.map(str::to_string),
        hit_ratio: Some(0.9),
        hit_ratio_lifetime: Some(0.9),
        evicted_keys: 0,
        used_memory_bytes: 1 << 20,
        maxmemory_bytes: 64 << 20,
        fragmentation_ratio: Some(1.1),
        ops_per_second: 10.0,
        connected_clients: 2,
        blocked_clients: 0,
        master_link_status: upstream.map(|_| "up".into()),
        replication_offset_lag: upstream.map(|_| 0),
    }
}

/// A primary `p` with replica `r` (streaming, slot `r` active), pooler `pgb`
/// with an idle pool `pgb/chat`, Redis master `m` and replica `c`, a scrape
/// and Prometheus answering: no rule fires.
fn healthy() -> Snapshot {
    let mut p = node("p", Role::Primary, None);
    p.slots.push(Slot {
        name: "r".into(),
        slot_type: "physical".into(),
        active: true,
        retained_bytes: Some(1024),
        wal_status: Some("reserved".into()),
    });
    Snapshot {
        fleet: "t".into(),
        taken_at: "2026-01-01T00:00:00.000Z".into(),
        refresh_ms: 1.0,
        seq: 0,
        nodes: vec![p, node("r", Role::Replica, Some("p"))],
        edges: vec![ReplicationEdge {
            upstream: "p".into(),
            downstream: "r".into(),
            state: StreamState::Streaming,
            sync_state: "async".into(),
            lag_bytes: Some(0),
            lag_seconds: Some(0.0),
            healthy: true,
        }],
        poolers: vec![Pooler {
            name: "pgb".into(),
            address: "127.0.0.1:6432".into(),
            reachable: true,
            error: None,
            node: Some("p".into()),
            paused: Vec::new(),
            stats: Vec::new(),
        }],
        pools: vec![Pool {
            name: "pgb".into(),
            database: "chat".into(),
            user: "app".into(),
            cl_active: 1,
            cl_waiting: 0,
            sv_active: 1,
            sv_idle: 3,
            sv_used: 0,
            maxwait_seconds: 0.0,
            pool_size: 4,
            pool_mode: "transaction".into(),
            saturated: false,
            saturation_reasons: Vec::new(),
        }],
        caches: vec![cache("m", CacheRole::Master, None), cache("c", CacheRole::Replica, Some("m"))],
        ai: Ai { available: true, ..Ai::default() },
        alerts: Vec::new(),
        targets: Vec::new(),
        scrapes: vec![ScrapeSummary {
            name: "load".into(),
            url: "http://127.0.0.1:9100/metrics".into(),
            reachable: true,
            error: None,
            samples: 10,
            parse_errors: Vec::new(),
            read_at: None,
            age_seconds: None,
        }],
        statements: Vec::new(),
        anomalies: Vec::new(),
        store: StoreStatus::default(),
    }
}

fn run(s: &Snapshot) -> Vec<Anomaly> {
    detect(s, &Thresholds::default())
}

/// The one anomaly `s` raises, which must be of `kind` about `subject`.
fn only(s: &Snapshot, kind: AnomalyKind, subject: Subject) -> Anomaly {
    let found = run(s);
    assert_eq!(found.len(), 1, "exactly one anomaly expected, got {found:#?}");
    let a = found.into_iter().next().unwrap();
    assert_eq!((a.kind, &a.subject), (kind, &subject), "{}", a.message);
    assert!(a.since.is_none(), "detect is pure: the engine stamps episodes");
    a
}

fn quiet(s: &Snapshot) {
    let found = run(s);
    assert!(found.is_empty(), "nothing is wrong, yet: {found:#?}");
}

fn edit_node<'a>(s: &'a mut Snapshot, name: &str) -> &'a mut Node {
    s.nodes.iter_mut().find(|n| n.name == name).unwrap()
}

#[test]
fn a_healthy_fleet_raises_nothing() {
    quiet(&healthy());
}

#[test]
fn split_brain_names_every_node_out_of_recovery() {
    let mut s = healthy();
    let r = edit_node(&mut s, "r");
    r.role = Role::Primary;
    r.wal_receiver = None;
    r.timeline = Some(2);
    let found = run(&s);
    let a = found.iter().find(|a| a.kind == AnomalyKind::SplitBrain).expect("split brain must fire");
    assert_eq!(a.severity, Severity::Critical);
    assert_eq!(a.subject, Subject::Nodes { nodes: vec!["p".into(), "r".into()] }, "sorted names, not a joined string");
    assert!(a.message.contains("timeline 2"), "the timelines tell which side moved on: {}", a.message);
    assert!(!found.iter().any(|a| a.kind == AnomalyKind::NoPrimary));
}

#[test]
fn one_primary_is_not_split_brain() {
    quiet(&healthy());
    let s = healthy();
    assert_eq!(s.nodes.iter().filter(|n| n.role == Role::Primary).count(), 1);
}

#[test]
fn no_primary_fires_when_every_reachable_node_is_in_recovery() {
    let mut s = healthy();
    s.nodes.retain(|n| n.name == "r");
    s.edges.clear();
    let a = only(&s, AnomalyKind::NoPrimary, Subject::Fleet);
    assert_eq!(a.severity, Severity::Critical);
}

#[test]
fn no_primary_is_quiet_for_a_fleet_without_postgres() {
    let mut s = healthy();
    s.nodes.clear();
    s.edges.clear();
    quiet(&s);
}

#[test]
fn an_unreachable_node_fires_with_its_error_and_nothing_else_about_it() {
    let mut s = healthy();
    let r = edit_node(&mut s, "r");
    r.reachable = false;
    r.role = Role::Unknown;
    r.error = Some("no answer within 1s".into());
    r.wal_receiver = None;
    let a = only(&s, AnomalyKind::NodeUnreachable, Subject::Node { node: "r".into() });
    assert!(a.message.contains("no answer within 1s"), "{}", a.message);
}

#[test]
fn a_replica_whose_receiver_is_not_streaming_fires() {
    let mut s = healthy();
    edit_node(&mut s, "r").wal_receiver.as_mut().unwrap().status = StreamState::Waiting;
    let a = only(&s, AnomalyKind::ReplicaNotStreaming, Subject::Node { node: "r".into() });
    assert!(a.message.contains("'waiting'"), "{}", a.message);
}

#[test]
fn a_replica_with_no_receiver_at_all_fires() {
    let mut s = healthy();
    edit_node(&mut s, "r").wal_receiver = None;
    only(&s, AnomalyKind::ReplicaNotStreaming, Subject::Node { node: "r".into() });
}

#[test]
fn an_unknown_receiver_state_is_kept_and_is_not_streaming() {
    let mut s = healthy();
    edit_node(&mut s, "r").wal_receiver.as_mut().unwrap().status = StreamState::parse("some_future_state");
    let a = only(&s, AnomalyKind::ReplicaNotStreaming, Subject::Node { node: "r".into() });
    assert!(a.message.contains("some_future_state"), "the reported value is kept: {}", a.message);
}

#[test]
fn paused_replay_fires_and_a_running_one_is_quiet() {
    let mut s = healthy();
    edit_node(&mut s, "r").replay_paused = true;
    let a = only(&s, AnomalyKind::ReplayPaused, Subject::Node { node: "r".into() });
    assert_eq!(a.severity, Severity::Warning);
}

#[test]
fn lag_over_either_threshold_fires_on_the_edge() {
    let t = Thresholds::default();
    let mut s = healthy();
    s.edges[0].lag_bytes = Some(t.replay_lag_bytes + 1);
    only(&s, AnomalyKind::LagOverThreshold, Subject::Edge { upstream: "p".into(), downstream: "r".into() });
    let mut s = healthy();
    s.edges[0].lag_seconds = Some(t.replay_lag_seconds + 0.5);
    only(&s, AnomalyKind::LagOverThreshold, Subject::Edge { upstream: "p".into(), downstream: "r".into() });
}

#[test]
fn lag_exactly_at_the_threshold_is_quiet() {
    let t = Thresholds::default();
    let mut s = healthy();
    s.edges[0].lag_bytes = Some(t.replay_lag_bytes);
    s.edges[0].lag_seconds = Some(t.replay_lag_seconds);
    quiet(&s);
}

#[test]
fn a_slot_retaining_too_much_wal_is_critical_and_an_inactive_one_a_warning() {
    let t = Thresholds::default();
    let slot = Subject::Slot { node: "p".into(), slot: "r".into() };
    let mut s = healthy();
    s.nodes[0].slots[0].retained_bytes = Some(t.slot_retained_bytes + 1);
    assert_eq!(only(&s, AnomalyKind::SlotRetainingWal, slot.clone()).severity, Severity::Critical);
    let mut s = healthy();
    s.nodes[0].slots[0].active = false;
    assert_eq!(only(&s, AnomalyKind::SlotRetainingWal, slot).severity, Severity::Warning);
}

#[test]
fn an_active_slot_within_its_limit_is_quiet() {
    let t = Thresholds::default();
    let mut s = healthy();
    s.nodes[0].slots[0].retained_bytes = Some(t.slot_retained_bytes);
    quiet(&s);
}

#[test]
fn a_saturated_pool_fires_with_its_reasons() {
    let mut s = healthy();
    s.pools[0].saturated = true;
    s.pools[0].saturation_reasons = vec!["3 clients waiting".into()];
    let a = only(&s, AnomalyKind::PoolSaturated, Subject::Pool { pooler: "pgb".into(), database: "chat".into() });
    assert!(a.message.contains("3 clients waiting"), "{}", a.message);
}

#[test]
fn an_unreachable_pooler_fires() {
    let mut s = healthy();
    s.poolers[0].reachable = false;
    s.poolers[0].error = Some("connection refused".into());
    s.pools.clear();
    let a = only(&s, AnomalyKind::PoolerUnreachable, Subject::Pooler { pooler: "pgb".into() });
    assert!(a.message.contains("connection refused"), "{}", a.message);
}

#[test]
fn an_unreachable_cache_fires_and_hides_its_link_state() {
    let mut s = healthy();
    s.caches[1].reachable = false;
    s.caches[1].role = CacheRole::Unknown;
    s.caches[1].master_link_status = Some("down".into());
    s.caches[1].error = Some("timed out".into());
    only(&s, AnomalyKind::CacheUnreachable, Subject::Cache { cache: "c".into() });
}

#[test]
fn a_replica_link_down_fires_on_the_link() {
    let mut s = healthy();
    s.caches[1].master_link_status = Some("down".into());
    only(&s, AnomalyKind::CacheReplicaLinkDown, Subject::CacheLink { master: "m".into(), replica: "c".into() });
}

#[test]
fn a_link_down_to_a_master_outside_the_fleet_names_the_replica() {
    let mut s = healthy();
    s.caches[1].upstream = None;
    s.caches[1].master_link_status = Some("down".into());
    only(&s, AnomalyKind::CacheReplicaLinkDown, Subject::Cache { cache: "c".into() });
}

#[test]
fn connections_at_the_ratio_fire_and_just_below_are_quiet() {
    let t = Thresholds::default();
    let at = (t.connections_near_max_ratio * 100.0).ceil() as u32;
    let mut s = healthy();
    s.nodes[0].connections.total = at;
    only(&s, AnomalyKind::ConnectionsNearMax, Subject::Node { node: "p".into() });
    s.nodes[0].connections.total = at - 1;
    quiet(&s);
}

#[test]
fn the_connections_ratio_comes_from_the_thresholds() {
    let mut s = healthy();
    s.nodes[0].connections.total = 50;
    let t = Thresholds { connections_near_max_ratio: 0.5, ..Thresholds::default() };
    let found = detect(&s, &t);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].kind, AnomalyKind::ConnectionsNearMax);
}

#[test]
fn a_failed_scrape_or_prometheus_query_fires_per_source() {
    let mut s = healthy();
    s.scrapes[0].parse_errors = vec!["line 3: bad value".into()];
    only(&s, AnomalyKind::MetricsUnavailable, Subject::Metrics { source: "load".into() });
    let mut s = healthy();
    s.scrapes[0].reachable = false;
    s.scrapes[0].error = Some("refused".into());
    only(&s, AnomalyKind::MetricsUnavailable, Subject::Metrics { source: "load".into() });
    let mut s = healthy();
    s.ai.errors.push("alerts: no answer".into());
    only(&s, AnomalyKind::MetricsUnavailable, Subject::Metrics { source: "prometheus".into() });
}

#[test]
fn most_severe_first() {
    let mut s = healthy();
    s.pools[0].saturated = true;
    s.caches[0].reachable = false;
    s.caches[0].error = Some("x".into());
    let found = run(&s);
    assert_eq!(found.len(), 2, "{found:#?}");
    assert_eq!(found[0].severity, Severity::Critical, "critical before warning");
}

#[test]
fn subjects_serialise_as_tagged_objects() {
    let edge = Subject::Edge { upstream: "pg0".into(), downstream: "pg2".into() };
    assert_eq!(
        serde_json::to_value(&edge).unwrap(),
        serde_json::json!({"kind": "edge", "upstream": "pg0", "downstream": "pg2"}),
        "the UI reads fields; no string to split"
    );
    assert_eq!(serde_json::to_value(Subject::Fleet).unwrap(), serde_json::json!({"kind": "fleet"}));
    assert_eq!(edge.to_string(), "pg0→pg2");
}

#[test]
fn unknown_stream_states_and_cache_roles_round_trip_as_reported() {
    let odd = StreamState::parse("quiescing");
    assert_eq!(odd, StreamState::Other("quiescing".into()));
    assert_eq!(serde_json::to_value(&odd).unwrap(), serde_json::json!("quiescing"), "kept, not dropped");
    assert_eq!(StreamState::parse("streaming"), StreamState::Streaming);
    let back: StreamState = serde_json::from_value(serde_json::json!("quiescing")).unwrap();
    assert_eq!(back, odd);
    assert_eq!(CacheRole::parse("slave"), CacheRole::Replica, "Redis 7 still says slave");
    assert_eq!(serde_json::to_value(CacheRole::parse("sentinel")).unwrap(), serde_json::json!("sentinel"));
}

#[test]
fn a_fenced_former_primary_needs_rejoin_and_is_not_a_second_primary() {
    let mut s = healthy();
    let mut old = node("old", Role::Fenced, None);
    old.tier = None;
    s.nodes.push(old);
    let a = only(&s, AnomalyKind::NeedsRejoin, Subject::Node { node: "old".into() });
    assert!(a.message.contains("rejoin"), "{}", a.message);
    // The same node unfenced would be split brain: the fence is what keeps it quiet.
    edit_node(&mut s, "old").role = Role::Primary;
    assert!(run(&s).iter().any(|a| a.kind == AnomalyKind::SplitBrain), "an unfenced second primary is split brain");
}

#[test]
fn a_paused_pooler_database_is_never_silent() {
    let mut s = healthy();
    s.poolers[0].paused = vec!["chat".into()];
    let a = only(&s, AnomalyKind::PoolerPaused, Subject::Pool { pooler: "pgb".into(), database: "chat".into() });
    assert_eq!(a.severity, Severity::Critical, "clients are queueing: look now");
    s.poolers[0].paused.clear();
    quiet(&s);
}
