//! Anomalies: what is wrong right now, derived from a snapshot's observations
//! alone (a pure function, so every rule is unit-tested without servers).
//! Each anomaly names its subject and says what an on-call engineer needs to
//! read, with the numbers that made it fire.

use std::collections::BTreeMap;

use crate::fleet::Thresholds;
use crate::snapshot::{Anomaly, AnomalyKind as K, CacheRole, Role, Severity, Snapshot, StreamState, Subject};

/// Human bytes: 1.5 GiB, 12.0 MiB, 512 B.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 { format!("{n} B") } else { format!("{v:.1} {}", UNITS[u]) }
}

/// Every anomaly in `s`, most severe first.
pub fn detect(s: &Snapshot, t: &Thresholds) -> Vec<Anomaly> {
    let mut out = Vec::new();
    fn add(out: &mut Vec<Anomaly>, kind: K, severity: Severity, subject: Subject, message: String) {
        out.push(Anomaly { kind, severity, subject, message, since: None, figures: BTreeMap::new() })
    }
    // The numbers that made the latest anomaly fire: the engine keeps each
    // episode's worst as its peak.
    fn figures(out: &mut [Anomaly], list: &[(&str, Option<f64>)]) {
        if let Some(a) = out.last_mut() {
            a.figures.extend(list.iter().filter_map(|(k, v)| v.filter(|v| v.is_finite()).map(|v| (k.to_string(), v))));
        }
    }
    let node = |n: &str| Subject::Node { node: n.to_string() };

    let primaries: Vec<_> = s.nodes.iter().filter(|n| n.role == Role::Primary).collect();
    if primaries.len() > 1 {
        let who: Vec<String> = primaries
            .iter()
            .map(|n| format!("{} (timeline {})", n.name, n.timeline.map_or("?".into(), |t| t.to_string())))
            .collect();
        let mut nodes: Vec<String> = primaries.iter().map(|n| n.name.clone()).collect();
        nodes.sort();
        add(&mut out, K::SplitBrain, Severity::Critical, Subject::Nodes { nodes }, format!(
            "SPLIT BRAIN: {} nodes are out of recovery and accept writes: {}",
            primaries.len(),
            who.join(", ")
        ));
    } else if primaries.is_empty() && !s.nodes.is_empty() {
        add(&mut out, K::NoPrimary, Severity::Critical, Subject::Fleet, "no reachable node is out of recovery: writes have nowhere to go".into());
    }

    for n in &s.nodes {
        if !n.reachable {
            add(&mut out, K::NodeUnreachable, Severity::Critical, node(&n.name), format!(
                "{} ({}) is unreachable: {}",
                n.name,
                n.address,
                n.error.as_deref().unwrap_or("no answer")
            ));
            continue;
        }
        if n.role == Role::Replica {
            match &n.wal_receiver {
                Some(rx) if rx.status == StreamState::Streaming => {}
                Some(rx) => add(&mut out, K::ReplicaNotStreaming, Severity::Critical, node(&n.name), format!(
                    "{}'s WAL receiver is '{}', not streaming",
                    n.name, rx.status
                )),
                None => add(&mut out, K::ReplicaNotStreaming, Severity::Critical, node(&n.name), format!(
                    "{} is in recovery with no WAL receiver: it is not streaming from anyone",
                    n.name
                )),
            }
            if n.replay_paused {
                add(&mut out, K::ReplayPaused, Severity::Warning, node(&n.name), format!(
                    "{} has WAL replay paused ({} received but not replayed)",
                    n.name,
                    n.replay_lag_bytes.map_or("?".into(), bytes)
                ));
                figures(&mut out, &[("replay_lag_bytes", n.replay_lag_bytes.map(|b| b as f64)), ("replay_lag_seconds", n.replay_lag_seconds)]);
            }
        }
        for slot in &n.slots {
            let retained = slot.retained_bytes.unwrap_or(0);
            if retained > t.slot_retained_bytes || !slot.active {
                let why = if slot.active { "retains" } else { "is inactive and retains" };
                add(&mut out, K::SlotRetainingWal, if retained > t.slot_retained_bytes { Severity::Critical } else { Severity::Warning },
                    Subject::Slot { node: n.name.clone(), slot: slot.name.clone() },
                    format!("slot {} on {} {why} {} of WAL", slot.name, n.name, bytes(retained)));
                figures(&mut out, &[("retained_bytes", Some(retained as f64))]);
            }
        }
        if n.connections.max > 0
            && f64::from(n.connections.total) >= t.connections_near_max_ratio * f64::from(n.connections.max)
        {
            add(&mut out, K::ConnectionsNearMax, Severity::Warning, node(&n.name), format!(
                "{} has {} of {} connections in use",
                n.name, n.connections.total, n.connections.max
            ));
            figures(&mut out, &[("connections", Some(f64::from(n.connections.total))), ("max_connections", Some(f64::from(n.connections.max)))]);
        }
    }

    for e in &s.edges {
        let over_bytes = e.lag_bytes.is_some_and(|b| b > t.replay_lag_bytes);
        let over_secs = e.lag_seconds.is_some_and(|x| x > t.replay_lag_seconds);
        if over_bytes || over_secs {
            let subject = Subject::Edge { upstream: e.upstream.clone(), downstream: e.downstream.clone() };
            add(&mut out, K::LagOverThreshold, Severity::Warning, subject, format!(
                "{} is {} and {} behind {} (limits {} / {:.0} s)",
                e.downstream,
                e.lag_bytes.map_or("?".into(), bytes),
                e.lag_seconds.map_or("?".into(), |x| format!("{x:.1} s")),
                e.upstream,
                bytes(t.replay_lag_bytes),
                t.replay_lag_seconds
            ));
            figures(&mut out, &[("lag_bytes", e.lag_bytes.map(|b| b as f64)), ("lag_seconds", e.lag_seconds)]);
        }
    }

    for n in s.nodes.iter().filter(|n| n.role == Role::Fenced) {
        add(&mut out, K::NeedsRejoin, Severity::Warning, node(&n.name), format!(
            "{} is a fenced former primary (read-only, commits held): rejoin it as a replica of the current primary",
            n.name
        ));
    }
    for p in &s.poolers {
        for db in &p.paused {
            add(&mut out, K::PoolerPaused, Severity::Critical, Subject::Pool { pooler: p.name.clone(), database: db.clone() }, format!(
                "PgBouncer {} has '{db}' PAUSED: its clients queue until RESUME (a switchover in progress, or one interrupted — see fleetdeck actions)",
                p.name
            ));
        }
        if !p.reachable {
            add(&mut out, K::PoolerUnreachable, Severity::Critical, Subject::Pooler { pooler: p.name.clone() }, format!(
                "PgBouncer {} ({}) is unreachable: {}",
                p.name,
                p.address,
                p.error.as_deref().unwrap_or("no answer")
            ));
        }
    }
    for pool in s.pools.iter().filter(|p| p.saturated) {
        let subject = Subject::Pool { pooler: pool.name.clone(), database: pool.database.clone() };
        add(&mut out, K::PoolSaturated, Severity::Warning, subject, format!(
            "pool {}/{} is saturated: {}",
            pool.name,
            pool.database,
            pool.saturation_reasons.join("; ")
        ));
        figures(&mut out, &[
            ("cl_waiting", Some(f64::from(pool.cl_waiting))),
            ("maxwait_seconds", Some(pool.maxwait_seconds)),
            ("sv_active", Some(f64::from(pool.sv_active))),
        ]);
    }
    for c in &s.caches {
        if !c.reachable {
            add(&mut out, K::CacheUnreachable, Severity::Critical, Subject::Cache { cache: c.name.clone() }, format!(
                "Redis {} ({}) is unreachable: {}",
                c.name,
                c.address,
                c.error.as_deref().unwrap_or("no answer")
            ));
        } else if c.role == CacheRole::Replica && c.master_link_status.as_deref().is_some_and(|l| l != "up") {
            let subject = match &c.upstream {
                Some(master) => Subject::CacheLink { master: master.clone(), replica: c.name.clone() },
                None => Subject::Cache { cache: c.name.clone() },
            };
            add(&mut out, K::CacheReplicaLinkDown, Severity::Warning, subject, format!(
                "Redis replica {}'s link to {} is {}",
                c.name,
                c.upstream.as_deref().unwrap_or("its master"),
                c.master_link_status.as_deref().unwrap_or("?")
            ));
            figures(&mut out, &[("offset_lag_bytes", c.replication_offset_lag.map(|b| b as f64))]);
        }
    }
    for sc in s.scrapes.iter().filter(|sc| !sc.reachable || !sc.parse_errors.is_empty()) {
        let why = sc.error.clone().unwrap_or_else(|| format!("{} malformed lines, first: {}", sc.parse_errors.len(), sc.parse_errors[0]));
        add(&mut out, K::MetricsUnavailable, Severity::Warning, Subject::Metrics { source: sc.name.clone() }, format!("scrape {} ({}): {why}", sc.name, sc.url));
    }
    if !s.ai.errors.is_empty() {
        add(&mut out, K::MetricsUnavailable, Severity::Warning, Subject::Metrics { source: "prometheus".into() }, format!("Prometheus: {}", s.ai.errors.join("; ")));
    }

    out.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.kind.cmp(&b.kind)).then(a.subject.cmp(&b.subject)));
    out
}

#[cfg(test)]
mod tests;
