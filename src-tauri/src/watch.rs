//! The fleet under watch: the core's watch stream ([`fleetdeck_core::watch`])
//! refreshing it on Tauri's runtime at the fleet's `probe.interval_ms` and
//! recording incident episodes in the local store, and a forwarding task that
//! pushes every snapshot to the window as the `snapshot` event and keeps it as
//! the latest for a window that (re)loads later.
//!
//! A [`Watch`] is the stream alone, so it can start before there is a window
//! to push to: `run_app` starts the first one before Tauri builds the app,
//! and the first refresh (cold logins to every node) overlaps GTK's start and
//! the window's creation instead of following them. The stream keeps its
//! newest snapshot, so one taken before the forwarder exists is not lost.
//!
//! [`Desk`] is what the commands see. It shows at most one watch; switching
//! fleets at run time shows a new one and drops the old, which stops its
//! stream (letting it finish writing incidents) and its forwarder. A
//! snapshot of the old fleet that was already being assembled is discarded
//! rather than emitted: the generation is checked and the snapshot pushed
//! under one lock, which switching fleets takes to bump it, so after
//! `set_fleet` answers the UI only ever hears about the new fleet.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use fleetdeck_core::contract::{ErrorCode, FleetInfo, UiError};
use fleetdeck_core::fleet::Fleet;
use fleetdeck_core::probe::prometheus::PrometheusClient;
use fleetdeck_core::snapshot::Snapshot;
use fleetdeck_core::watch::{self, IncidentStore, Snapshots};
use tauri::async_runtime::JoinHandle;
use tokio::sync::oneshot;

use crate::local_store::LocalStore;
use crate::remembered::RememberedFleet;

/// Pushes one snapshot to the UI (the Tauri event, in the app; anything in tests).
pub type Emit = Arc<dyn Fn(&Snapshot) + Send + Sync>;

/// Longest wait at exit for the stream to finish its refresh and the store its writes.
const STOP_WAIT: Duration = Duration::from_secs(3);

/// A fleet file loaded and its watch stream running on Tauri's runtime,
/// recording incidents in the app's local store (`$FLEETDECK_DATA_DIR`, else
/// the user's data directory). Dropping it stops the stream.
pub struct Watch {
    path: PathBuf,
    fleet: Arc<Fleet>,
    snapshots: Snapshots,
    started: Instant,
    stop: Option<oneshot::Sender<()>>,
    stream: Option<JoinHandle<()>>,
}

impl Watch {
    /// Loads the fleet file at `path` and starts refreshing it at once,
    /// recording incidents in `store`.
    pub fn start(path: &Path, store: &LocalStore) -> Result<Self, UiError> {
        let fleet =
            Fleet::load(path).map_err(|e| UiError::new(ErrorCode::BadRequest, format!("bad fleet file: {e}")))?;
        let (tx, snapshots) = tokio::sync::watch::channel(None);
        let (stop, stopped) = oneshot::channel();
        let (watched, store) = (fleet.clone(), store.clone());
        let stream = tauri::async_runtime::spawn(async move {
            // A store that does not open: the engine opens it again itself and
            // reports why in every snapshot (`store.error`).
            let incidents = store.get().await.map_or(IncidentStore::Default, IncidentStore::Open);
            watch::run(watched, incidents, tx, stopped).await
        });
        Ok(Self {
            path: path.to_path_buf(),
            fleet: Arc::new(fleet),
            snapshots,
            started: Instant::now(),
            stop: Some(stop),
            stream: Some(stream),
        })
    }

    /// Stops refreshing; the stream ends after the refresh in flight and the
    /// store's pending writes. Wait on the returned task to know when.
    fn stop(&mut self) -> Option<JoinHandle<()>> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.stream.take()
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        // Not aborted: it stops at its next tick and flushes the store.
        let _ = self.stop();
    }
}

/// A watch shown in the window: the stream and the task forwarding it.
struct Shown {
    watch: Watch,
    info: FleetInfo,
    prometheus: Option<PrometheusClient>,
    latest: Arc<Mutex<Option<Arc<Snapshot>>>>,
    forward: JoinHandle<()>,
}

impl Drop for Shown {
    fn drop(&mut self) {
        self.forward.abort();
    }
}

/// What the window watches: a fleet, or the reason there is none (no fleet
/// given and none remembered, or a fleet file that does not load).
enum Watched {
    Nothing(String),
    Fleet(Box<Shown>),
}

/// The desktop's state, shared by every command.
pub struct Desk {
    kiosk: bool,
    remembered: RememberedFleet,
    store: LocalStore,
    emit: Emit,
    /// Bumped on every switch; held while a snapshot is checked and pushed.
    generation: Arc<Mutex<u64>>,
    watched: Mutex<Watched>,
}

impl Desk {
    /// A desk watching nothing yet; the fleets it shows record incidents in `store`.
    pub fn new(kiosk: bool, remembered: RememberedFleet, store: LocalStore, emit: Emit) -> Self {
        Self {
            kiosk,
            remembered,
            store,
            emit,
            generation: Arc::new(Mutex::new(0)),
            watched: Mutex::new(Watched::Nothing("no fleet file yet".into())),
        }
    }

    /// War-room mode.
    pub fn kiosk(&self) -> bool {
        self.kiosk
    }

    /// The fleet file remembered from an earlier run.
    pub fn remembered(&self) -> Option<PathBuf> {
        self.remembered.get()
    }

    fn watched(&self) -> std::sync::MutexGuard<'_, Watched> {
        lock(&self.watched)
    }

    /// Shows `reason` instead of a fleet (the UI's fleet chooser).
    pub fn watch_nothing(&self, reason: impl Into<String>) {
        *lock(&self.generation) += 1;
        *self.watched() = Watched::Nothing(reason.into());
    }

    /// Loads the fleet file at `path` and shows it in place of the current
    /// one, which keeps running if the file does not load.
    pub fn open(&self, path: &Path) -> Result<FleetInfo, UiError> {
        Ok(self.show(Watch::start(path, &self.store)?))
    }

    /// Shows `watch` from its newest snapshot on, in place of the current
    /// fleet. The fleet is remembered for the next start without `--fleet`.
    pub fn show(&self, watch: Watch) -> FleetInfo {
        let fleet = &watch.fleet;
        // Offer no action where none can be taken: in the war room, or when no
        // node or pooler of the fleet has an action login.
        let has_action =
            fleet.postgres.iter().any(|p| p.action.is_some()) || fleet.pgbouncer.iter().any(|b| b.action.is_some());
        let info = FleetInfo::new(fleet, self.kiosk, self.kiosk || !has_action);
        let generation = {
            let mut g = lock(&self.generation);
            *g += 1;
            *g
        };
        let latest = Arc::new(Mutex::new(None));
        let forward = tauri::async_runtime::spawn(forward(
            watch.snapshots.clone(),
            Arc::clone(&latest),
            Arc::clone(&self.emit),
            Arc::clone(&self.generation),
            generation,
            (fleet.name.clone(), watch.started),
        ));
        if let Err(e) = self.remembered.set(&watch.path) {
            eprintln!("fleetdeck-desktop: cannot remember the fleet {}: {e}", watch.path.display());
        }
        let shown = Shown {
            prometheus: fleet.prometheus.clone().map(PrometheusClient::new),
            watch,
            info: info.clone(),
            latest,
            forward,
        };
        // The old one is dropped here, which stops its stream and its forwarder.
        *self.watched() = Watched::Fleet(Box::new(shown));
        info
    }

    /// Stops watching and waits (up to a few seconds) until the incident
    /// store has every event: call when the app exits.
    pub async fn stop(&self) {
        let stream = {
            *lock(&self.generation) += 1;
            let previous = std::mem::replace(&mut *self.watched(), Watched::Nothing("closing".into()));
            match previous {
                Watched::Fleet(mut shown) => shown.watch.stop(),
                Watched::Nothing(_) => None,
            }
        };
        if let Some(stream) = stream {
            if tokio::time::timeout(STOP_WAIT, stream).await.is_err() {
                eprintln!("fleetdeck-desktop: the watch did not stop within {STOP_WAIT:?}; the last incident events may be lost");
            }
        }
    }

    /// The fleet and mode, or `NotConfigured` with the reason there is none.
    pub fn fleet_info(&self) -> Result<FleetInfo, UiError> {
        match &*self.watched() {
            Watched::Fleet(w) => Ok(w.info.clone()),
            Watched::Nothing(reason) => Err(UiError::new(ErrorCode::NotConfigured, reason.clone())),
        }
    }

    /// The fleet under watch.
    pub fn fleet(&self) -> Result<Arc<Fleet>, UiError> {
        match &*self.watched() {
            Watched::Fleet(w) => Ok(Arc::clone(&w.watch.fleet)),
            Watched::Nothing(reason) => Err(UiError::new(ErrorCode::NotConfigured, reason.clone())),
        }
    }

    /// The fleet's Prometheus, or `NotConfigured`.
    pub fn prometheus(&self) -> Result<PrometheusClient, UiError> {
        match &*self.watched() {
            Watched::Fleet(w) => w.prometheus.clone().ok_or_else(|| {
                UiError::new(ErrorCode::NotConfigured, format!("the fleet {} has no [prometheus] section", w.info.name))
            }),
            Watched::Nothing(reason) => Err(UiError::new(ErrorCode::NotConfigured, reason.clone())),
        }
    }

    /// The newest snapshot pushed of the fleet under watch (none before its first refresh).
    pub fn latest(&self) -> Option<Snapshot> {
        match &*self.watched() {
            Watched::Fleet(w) => lock(&w.latest).as_deref().cloned(),
            Watched::Nothing(_) => None,
        }
    }
}

/// Locks `m`. A panic while holding one of these locks leaves plain data
/// behind; keep going.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Pushes each snapshot of the stream, starting with one already taken, until
/// the stream ends or the desk shows another generation.
async fn forward(
    mut snapshots: Snapshots,
    latest: Arc<Mutex<Option<Arc<Snapshot>>>>,
    emit: Emit,
    generation: Arc<Mutex<u64>>,
    mine: u64,
    (name, started): (String, Instant),
) {
    // `changed` also fires for a snapshot sent before this task began: the
    // receiver was made with the channel and has seen only its `None`.
    while snapshots.changed().await.is_ok() {
        let Some(snapshot) = snapshots.borrow_and_update().clone() else { continue };
        {
            let current = lock(&generation);
            if *current != mine {
                return;
            }
            *lock(&latest) = Some(Arc::clone(&snapshot));
            emit(&snapshot);
        }
        if snapshot.seq == 0 {
            // A fixed line to read cold starts from.
            eprintln!(
                "fleetdeck-desktop: first snapshot of {name} emitted {:.0} ms after the watch started ({} nodes, refresh {:.0} ms)",
                started.elapsed().as_secs_f64() * 1000.0,
                snapshot.nodes.len(),
                snapshot.refresh_ms
            );
            if let Some(e) = &snapshot.store.error {
                eprintln!("fleetdeck-desktop: incidents are not being recorded: {e}");
            }
        }
    }
}
