//! How snapshots reach the window. A Tauri event is delivered by evaluating
//! a script that holds its payload, so an object payload becomes a JavaScript
//! object literal that the webview compiles to bytecode on the UI's main
//! thread, once per event, and keeps until its next full collection. Two
//! things keep that small:
//!
//! - Each payload is sent as JSON *text* (a single string literal in the
//!   script), which the UI decodes with `JSON.parse`: no code is compiled for
//!   the data.
//! - `pg_stat_statements` are most of a snapshot (≈ 440 of 520 KB on the
//!   49-node lab) but change only when the engine re-reads them, every
//!   `statements_every` refreshes. They travel on their own `statements` event,
//!   only when re-read, just before the `snapshot` event that carries the rest
//!   (with `statements` empty); the UI puts the two back together.
//!
//! `latest_snapshot` still answers whole.

use std::sync::{Mutex, PoisonError};

use fleetdeck_core::snapshot::{NodeStatements, Snapshot};
use tauri::{Emitter, Runtime};

/// The event that carries every snapshot, without its statements, as JSON text.
pub const SNAPSHOT_EVENT: &str = "snapshot";
/// The event that carries the statements of every node, when they were re-read, as JSON text.
pub const STATEMENTS_EVENT: &str = "statements";

/// Remembers which statements were pushed last.
#[derive(Default)]
pub struct StatementsSent {
    /// (node, read_at) of the statements pushed last; None before the first.
    last: Mutex<Option<Vec<(String, String)>>>,
}

impl StatementsSent {
    /// Whether `statements` differ from those pushed last (a node re-read,
    /// added or gone), remembering them as pushed when they do.
    pub fn changed(&self, statements: &[NodeStatements]) -> bool {
        let signature: Vec<(String, String)> =
            statements.iter().map(|s| (s.node.clone(), s.read_at.clone())).collect();
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        let changed = last.as_ref() != Some(&signature);
        *last = Some(signature);
        changed
    }

    /// Forgets what was pushed (a push that failed): the next snapshot carries
    /// its statements again.
    pub fn forget(&self) {
        *self.last.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }
}

/// Pushes `snapshot` to the window: its statements first when they were
/// re-read since the last push, then the rest.
pub fn push<R: Runtime>(to: &impl Emitter<R>, sent: &StatementsSent, snapshot: &Snapshot) -> tauri::Result<()> {
    let pushed = (|| {
        if sent.changed(&snapshot.statements) {
            to.emit(STATEMENTS_EVENT, serde_json::to_string(&snapshot.statements)?)?;
        }
        to.emit(SNAPSHOT_EVENT, serde_json::to_string(&without_statements(snapshot))?)
    })();
    if pushed.is_err() {
        sent.forget();
    }
    pushed
}

/// `snapshot` without its statements, as the `snapshot` event carries it.
pub fn without_statements(snapshot: &Snapshot) -> Snapshot {
    let Snapshot { fleet, taken_at, refresh_ms, seq, nodes, edges, poolers, pools, caches, ai, alerts, targets, scrapes, statements: _, anomalies, store } = snapshot;
    Snapshot {
        fleet: fleet.clone(),
        taken_at: taken_at.clone(),
        refresh_ms: *refresh_ms,
        seq: *seq,
        nodes: nodes.clone(),
        edges: edges.clone(),
        poolers: poolers.clone(),
        pools: pools.clone(),
        caches: caches.clone(),
        ai: ai.clone(),
        alerts: alerts.clone(),
        targets: targets.clone(),
        scrapes: scrapes.clone(),
        statements: Vec::new(),
        anomalies: anomalies.clone(),
        store: store.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(reads: &[(&str, &str)]) -> Vec<NodeStatements> {
        reads
            .iter()
            .map(|(node, at)| NodeStatements { node: node.to_string(), read_at: at.to_string(), top: Vec::new() })
            .collect()
    }

    #[test]
    fn statements_are_pushed_once_per_read() {
        let sent = StatementsSent::default();
        assert!(sent.changed(&read(&[])), "the first push always carries statements, even none");
        assert!(sent.changed(&read(&[("pg0", "t1"), ("pg1", "t1")])));
        assert!(!sent.changed(&read(&[("pg0", "t1"), ("pg1", "t1")])), "unchanged statements are not pushed again");
        assert!(sent.changed(&read(&[("pg0", "t2"), ("pg1", "t1")])), "a node re-read is a change");
        assert!(sent.changed(&read(&[("pg0", "t2")])), "a node gone is a change");
        assert!(!sent.changed(&read(&[("pg0", "t2")])));
        sent.forget();
        assert!(sent.changed(&read(&[("pg0", "t2")])), "after a failed push they go again");
    }
}
