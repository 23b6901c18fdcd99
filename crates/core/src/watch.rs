//! The one watch stream: an [`Engine`] refreshing a fleet every
//! `probe.interval_ms`, publishing each snapshot to any number of readers.
//! The CLI's `watch`, `fleetdeck serve` and the desktop app all consume it,
//! so the refresh loop, the incident store and their timing live once.
//!
//! A slow refresh delays the next tick rather than queueing a burst of them.
//! Readers get the latest snapshot (a `tokio::sync::watch` channel): one
//! that falls behind skips to the newest instead of piling up old ones.
//! Statements ride in every snapshot; a reader that forwards them only when
//! re-read compares `NodeStatements::read_at`.

use std::sync::Arc;

use tokio::sync::watch;

use crate::fleet::Fleet;
use crate::refresh::Engine;
use crate::snapshot::Snapshot;
use crate::store::Store;

/// Where the watch records incident episodes.
pub enum IncidentStore {
    /// The store in the user's data directory ([`crate::store::data_dir`]).
    Default,
    /// This store.
    Open(Store),
    /// None (a one-off look; tests).
    Off,
}

/// A receiver of the stream: `None` until the first snapshot.
pub type Snapshots = watch::Receiver<Option<Arc<Snapshot>>>;

/// Refreshes `fleet` until every receiver is gone or `stop` fires, publishing
/// each snapshot on `tx`; then waits for the store's pending writes. Spawn it
/// on the runtime of your choice (the desktop uses Tauri's). Aborting it
/// instead loses nothing either: the store writer drains on its own task.
pub async fn run(
    fleet: Fleet,
    store: IncidentStore,
    tx: watch::Sender<Option<Arc<Snapshot>>>,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) {
    let mut ticker = tokio::time::interval(fleet.probe.interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut engine = Engine::new(fleet);
    match store {
        IncidentStore::Default => engine.attach_store(Store::open_default().await).await,
        IncidentStore::Open(s) => engine.attach_store(Ok(s)).await,
        IncidentStore::Off => {}
    }
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = &mut stop => break,
        }
        let snapshot = Arc::new(engine.refresh().await);
        if tx.send(Some(snapshot)).is_err() {
            break;
        }
    }
    engine.flush_store().await;
}

/// A running watch on the current Tokio runtime; dropping it stops the refreshes.
pub struct FleetWatch {
    rx: Snapshots,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl FleetWatch {
    /// Starts watching `fleet` (must be called within a Tokio runtime).
    pub fn spawn(fleet: Fleet, store: IncidentStore) -> Self {
        let (tx, rx) = watch::channel(None);
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(run(fleet, store, tx, stopped));
        Self { rx, stop: Some(stop), task }
    }

    /// Stops refreshing and waits until the incident store has every event
    /// (call before the process exits).
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }

    /// A new reader of the stream.
    pub fn subscribe(&self) -> Snapshots {
        self.rx.clone()
    }

    /// The newest snapshot, if any yet.
    pub fn latest(&self) -> Option<Arc<Snapshot>> {
        self.rx.borrow().clone()
    }
}

impl Drop for FleetWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}
