//! Anomalies: what is wrong right now, derived from a snapshot's observations
//! alone (a pure function, so every rule is unit-tested without servers).
//! Each anomaly names its subject and says what an on-call engineer needs to
//! read, with the numbers that made it fire.

use crate::fleet::Thresholds;
use crate::snapshot::{Anomaly, AnomalyKind as K, Role, Severity, Snapshot};

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
    let mut add = |kind, severity, subject: &str, message: String| {
        out.push(Anomaly { kind, severity, subject: subject.to_string(), message })
    };

    let primaries: Vec<_> = s.nodes.iter().filter(|n| n.role == Role::Primary).collect();
    if primaries.len() > 1 {
        let who: Vec<String> = primaries
            .iter()
            .map(|n| format!("{} (timeline {})", n.name, n.timeline.map_or("?".into(), |t| t.to_string())))
            .collect();
        add(K::SplitBrain, Severity::Critical, &who.join(","), format!(
            "SPLIT BRAIN: {} nodes are out of recovery and accept writes: {}",
            primaries.len(),
            who.join(", ")
        ));
    } else if primaries.is_empty() && !s.nodes.is_empty() {
        add(K::NoPrimary, Severity::Critical, "fleet", "no reachable node is out of recovery: writes have nowhere to go".into());
    }

    for n in &s.nodes {
        if !n.reachable {
            add(K::NodeUnreachable, Severity::Critical, &n.name, format!(
                "{} ({}) is unreachable: {}",
                n.name,
                n.address,
                n.error.as_deref().unwrap_or("no answer")
            ));
            continue;
        }
        if n.role == Role::Replica {
            match &n.wal_receiver {
                Some(rx) if rx.status == "streaming" => {}
                Some(rx) => add(K::ReplicaNotStreaming, Severity::Critical, &n.name, format!(
                    "{}'s WAL receiver is '{}', not streaming",
                    n.name, rx.status
                )),
                None => add(K::ReplicaNotStreaming, Severity::Critical, &n.name, format!(
                    "{} is in recovery with no WAL receiver: it is not streaming from anyone",
                    n.name
                )),
            }
            if n.replay_paused {
                add(K::ReplayPaused, Severity::Warning, &n.name, format!(
                    "{} has WAL replay paused ({} received but not replayed)",
                    n.name,
                    n.replay_lag_bytes.map_or("?".into(), bytes)
                ));
            }
        }
        for slot in &n.slots {
            let retained = slot.retained_bytes.unwrap_or(0);
            if retained > t.slot_retained_bytes || !slot.active {
                let why = if slot.active { "retains" } else { "is inactive and retains" };
                add(K::SlotRetainingWal, if retained > t.slot_retained_bytes { Severity::Critical } else { Severity::Warning },
                    &format!("{}/{}", n.name, slot.name),
                    format!("slot {} on {} {why} {} of WAL", slot.name, n.name, bytes(retained)));
            }
        }
        if n.connections.max > 0 && f64::from(n.connections.total) >= 0.9 * f64::from(n.connections.max) {
            add(K::ConnectionsNearMax, Severity::Warning, &n.name, format!(
                "{} has {} of {} connections in use",
                n.name, n.connections.total, n.connections.max
            ));
        }
    }

    for e in &s.edges {
        let over_bytes = e.lag_bytes.is_some_and(|b| b > t.replay_lag_bytes);
        let over_secs = e.lag_seconds.is_some_and(|x| x > t.replay_lag_seconds);
        if over_bytes || over_secs {
            add(K::LagOverThreshold, Severity::Warning, &format!("{}→{}", e.upstream, e.downstream), format!(
                "{} is {} and {} behind {} (limits {} / {:.0} s)",
                e.downstream,
                e.lag_bytes.map_or("?".into(), bytes),
                e.lag_seconds.map_or("?".into(), |x| format!("{x:.1} s")),
                e.upstream,
                bytes(t.replay_lag_bytes),
                t.replay_lag_seconds
            ));
        }
    }

    for p in &s.poolers {
        if !p.reachable {
            add(K::PoolerUnreachable, Severity::Critical, &p.name, format!(
                "PgBouncer {} ({}) is unreachable: {}",
                p.name,
                p.address,
                p.error.as_deref().unwrap_or("no answer")
            ));
        }
    }
    for pool in s.pools.iter().filter(|p| p.saturated) {
        add(K::PoolSaturated, Severity::Warning, &format!("{}/{}", pool.name, pool.database), format!(
            "pool {}/{} is saturated: {}",
            pool.name,
            pool.database,
            pool.saturation_reasons.join("; ")
        ));
    }
    for c in &s.caches {
        if !c.reachable {
            add(K::CacheUnreachable, Severity::Critical, &c.name, format!(
                "Redis {} ({}) is unreachable: {}",
                c.name,
                c.address,
                c.error.as_deref().unwrap_or("no answer")
            ));
        } else if c.master_link_status.as_deref().is_some_and(|l| l != "up") {
            add(K::CacheReplicaLinkDown, Severity::Warning, &c.name, format!(
                "Redis replica {}'s link to {} is {}",
                c.name,
                c.upstream.as_deref().unwrap_or("its master"),
                c.master_link_status.as_deref().unwrap_or("?")
            ));
        }
    }
    for sc in s.scrapes.iter().filter(|sc| !sc.reachable || !sc.parse_errors.is_empty()) {
        let why = sc.error.clone().unwrap_or_else(|| format!("{} malformed lines, first: {}", sc.parse_errors.len(), sc.parse_errors[0]));
        add(K::MetricsUnavailable, Severity::Warning, &sc.name, format!("scrape {} ({}): {why}", sc.name, sc.url));
    }
    if !s.ai.errors.is_empty() {
        add(K::MetricsUnavailable, Severity::Warning, "prometheus", format!("Prometheus: {}", s.ai.errors.join("; ")));
    }

    out.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.kind.cmp(&b.kind)).then(a.subject.cmp(&b.subject)));
    out
}
