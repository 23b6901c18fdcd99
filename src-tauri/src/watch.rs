//! The fleet under watch: one [`Engine`] refreshing it in a background task at
//! the fleet's `probe.interval_ms`, every snapshot pushed to the window as the
//! `snapshot` event and kept as the latest for a window that (re)loads later.
//!
//! [`Desk`] is what the commands see. It holds at most one [`Watch`]; switching
//! fleets at run time starts a new one and drops the old, which stops its
//! task. A snapshot of the old fleet that was already being assembled is
//! discarded rather than emitted: the generation is checked and the snapshot
//! pushed under one lock, which switching fleets takes to bump it, so after
//! `set_fleet` answers the UI only ever hears about the new fleet.

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use fleetdeck_core::contract::{ErrorCode, FleetInfo, UiError};
use fleetdeck_core::fleet::Fleet;
use fleetdeck_core::probe::prometheus::PrometheusClient;
use fleetdeck_core::refresh::Engine;
use fleetdeck_core::snapshot::Snapshot;

use crate::remembered::RememberedFleet;

/// Pushes one snapshot to the UI (the Tauri event, in the app; anything in tests).
pub type Emit = Arc<dyn Fn(&Snapshot) + Send + Sync>;

/// A fleet being refreshed.
struct Watch {
    fleet: Arc<Fleet>,
    info: FleetInfo,
    prometheus: Option<PrometheusClient>,
    latest: Arc<Mutex<Option<Arc<Snapshot>>>>,
    task: tauri::async_runtime::JoinHandle<()>,
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What the window watches: a fleet, or the reason there is none (no fleet
/// given and none remembered, or a fleet file that does not load).
enum Watched {
    Nothing(String),
    Fleet(Box<Watch>),
}

/// The desktop's state, shared by every command.
pub struct Desk {
    kiosk: bool,
    remembered: RememberedFleet,
    emit: Emit,
    /// Bumped on every switch; held while a snapshot is checked and pushed.
    generation: Arc<Mutex<u64>>,
    watched: Mutex<Watched>,
}

impl Desk {
    /// A desk watching nothing yet.
    pub fn new(kiosk: bool, remembered: RememberedFleet, emit: Emit) -> Self {
        Self {
            kiosk,
            remembered,
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
    pub fn remembered(&self) -> Option<std::path::PathBuf> {
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

    /// Loads the fleet file at `path` and starts watching it in place of the
    /// current one, which keeps running if the file does not load. The fleet
    /// is remembered for the next start without `--fleet`.
    pub fn open(&self, path: &Path) -> Result<FleetInfo, UiError> {
        let fleet =
            Fleet::load(path).map_err(|e| UiError::new(ErrorCode::BadRequest, format!("bad fleet file: {e}")))?;
        // Offer no action where none can be taken: in the war room, or when no
        // node or pooler of the fleet has an action login.
        let has_action =
            fleet.postgres.iter().any(|p| p.action.is_some()) || fleet.pgbouncer.iter().any(|b| b.action.is_some());
        let info = FleetInfo::new(&fleet, self.kiosk, self.kiosk || !has_action);
        let generation = {
            let mut g = lock(&self.generation);
            *g += 1;
            *g
        };
        let latest = Arc::new(Mutex::new(None));
        let task = tauri::async_runtime::spawn(refresh_loop(
            fleet.clone(),
            Arc::clone(&latest),
            Arc::clone(&self.emit),
            Arc::clone(&self.generation),
            generation,
        ));
        let watch = Watch {
            prometheus: fleet.prometheus.clone().map(PrometheusClient::new),
            fleet: Arc::new(fleet),
            info: info.clone(),
            latest,
            task,
        };
        // The old watch is dropped here, which stops its task.
        *self.watched() = Watched::Fleet(Box::new(watch));
        if let Err(e) = self.remembered.set(path) {
            eprintln!("fleetdeck-desktop: cannot remember the fleet {}: {e}", path.display());
        }
        Ok(info)
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
            Watched::Fleet(w) => Ok(Arc::clone(&w.fleet)),
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

    /// The newest snapshot of the fleet under watch (none before its first refresh).
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

/// Refreshes `fleet` every probe interval until aborted or superseded. A slow
/// refresh delays the next tick rather than queueing a burst of them.
async fn refresh_loop(
    fleet: Fleet,
    latest: Arc<Mutex<Option<Arc<Snapshot>>>>,
    emit: Emit,
    generation: Arc<Mutex<u64>>,
    mine: u64,
) {
    let started = Instant::now();
    let name = fleet.name.clone();
    let mut ticker = tokio::time::interval(fleet.probe.interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut engine = Engine::new(fleet);
    loop {
        ticker.tick().await;
        let snapshot = Arc::new(engine.refresh().await);
        {
            let current = lock(&generation);
            if *current != mine {
                return;
            }
            *lock(&latest) = Some(Arc::clone(&snapshot));
            emit(&snapshot);
        }
        if snapshot.seq == 0 {
            // A fixed line the cold-start benchmark can wait for.
            eprintln!(
                "fleetdeck-desktop: first snapshot of {name} emitted {:.0} ms after the watch started ({} nodes, refresh {:.0} ms)",
                started.elapsed().as_secs_f64() * 1000.0,
                snapshot.nodes.len(),
                snapshot.refresh_ms
            );
        }
    }
}
