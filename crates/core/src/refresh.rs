//! The refresh cycle: every database-side endpoint of the fleet (PostgreSQL,
//! PgBouncer, Redis) read concurrently, each under its own timeout, assembled
//! into one [`Snapshot`]. A node that does not answer is marked unreachable in
//! that snapshot; it never delays the others by more than its own timeout,
//! since all reads run at once. Prometheus and the scrapes are read on their
//! own schedule ([`crate::slow`]): a refresh takes their latest reading and
//! never waits for them.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use tokio::sync::mpsc;

use crate::assemble;
use crate::fleet::Fleet;
use crate::probe::pgbouncer::PgBouncerProbe;
use crate::probe::postgres::PostgresProbe;
use crate::probe::prometheus::PrometheusClient;
use crate::probe::redis::RedisProbe;
use crate::probe::ProbeError;
use crate::slow::SlowSources;
use crate::incidents::{EpisodeEvent, EpisodeTracker, CLEAR_AFTER_REFRESHES};
use crate::snapshot::{NodeStatements, Pooler, Snapshot, StoreStatus};
use crate::store::journal::PrimaryPosition;
use crate::store::{Store, StoreError};
use crate::topology::{self, EdgeLimits, NodeResult};

/// Keeps every probe (and so every connection) between refreshes.
pub struct Engine {
    fleet: Fleet,
    postgres: Vec<PostgresProbe>,
    pgbouncers: Vec<PgBouncerProbe>,
    redis: Vec<RedisProbe>,
    prometheus: Option<PrometheusClient>,
    http: reqwest::Client,
    slow: Option<SlowSources>,
    seq: u64,
    cache_counters: HashMap<String, (u64, u64)>,
    statements: HashMap<String, NodeStatements>,
    episodes: EpisodeTracker,
    recorder: Option<Recorder>,
    store_status: StoreStatus,
}

/// Writes episode events to the store off the refresh path: a refresh never
/// waits for the disk, and a failing write is reported on the next snapshot.
struct Recorder {
    events: mpsc::UnboundedSender<StoreWrite>,
    task: tokio::task::JoinHandle<()>,
    error: std::sync::Arc<std::sync::Mutex<Option<String>>>,
}

/// What the engine writes to the store.
enum StoreWrite {
    /// An incident episode opened or cleared.
    Episode(EpisodeEvent),
    /// Where the primary was seen (what a failover states its possible loss against).
    Primary(PrimaryPosition),
}

fn elapsed_ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

/// Runs `f` under `timeout` (plus a small grace for the probe's own), mapping
/// expiry to [`ProbeError::Timeout`] and timing it.
async fn timed<T>(timeout: Duration, f: impl std::future::Future<Output = Result<T, ProbeError>>) -> (Result<T, ProbeError>, f64) {
    let start = Instant::now();
    let r = tokio::time::timeout(timeout + Duration::from_millis(50), f)
        .await
        .unwrap_or(Err(ProbeError::Timeout(timeout)));
    (r, elapsed_ms(start))
}

impl Engine {
    /// Builds probes for every endpoint of `fleet`; nothing connects until the first refresh.
    pub fn new(fleet: Fleet) -> Self {
        Self {
            postgres: fleet.postgres.iter().cloned().map(PostgresProbe::new).collect(),
            pgbouncers: fleet.pgbouncer.iter().cloned().map(PgBouncerProbe::new).collect(),
            redis: fleet.redis.iter().cloned().map(RedisProbe::new).collect(),
            prometheus: fleet.prometheus.clone().map(PrometheusClient::new),
            http: reqwest::Client::new(),
            slow: None,
            seq: 0,
            cache_counters: HashMap::new(),
            statements: HashMap::new(),
            episodes: EpisodeTracker::new(fleet.name.clone(), CLEAR_AFTER_REFRESHES),
            recorder: None,
            store_status: StoreStatus::default(),
            fleet,
        }
    }

    /// Records incident episodes in `store` from now on, first taking over the
    /// fleet's episodes that were open when the last console stopped (so their
    /// start survives a restart). With an `Err` (a store that cannot be opened)
    /// the engine keeps watching without one, and every snapshot says why.
    pub async fn attach_store(&mut self, store: Result<Store, StoreError>) {
        let store = match store {
            Ok(s) => s,
            Err(e) => {
                self.store_status = StoreStatus { path: None, error: Some(e.to_string()) };
                return;
            }
        };
        let path = store.path().display().to_string();
        match store.open_episodes(&self.fleet.name).await {
            Ok(open) => self.episodes.adopt(open.into_iter().map(|s| s.episode), chrono::Utc::now()),
            Err(e) => {
                self.store_status = StoreStatus { path: Some(path), error: Some(e.to_string()) };
                return;
            }
        }
        let (events, mut rx) = mpsc::unbounded_channel::<StoreWrite>();
        let error = std::sync::Arc::new(std::sync::Mutex::new(None));
        let shared = std::sync::Arc::clone(&error);
        let fleet = self.fleet.name.clone();
        let task = tokio::spawn(async move {
            while let Some(w) = rx.recv().await {
                let outcome = match &w {
                    StoreWrite::Episode(ev) => store.record(ev).await,
                    StoreWrite::Primary(p) => store.record_primary_position(&fleet, p).await,
                }
                .err()
                .map(|e| e.to_string());
                *shared.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = outcome;
            }
        });
        self.recorder = Some(Recorder { events, task, error });
        self.store_status = StoreStatus { path: Some(path), error: None };
    }

    /// Waits until every episode event so far is written (before a process exits).
    pub async fn flush_store(&mut self) {
        if let Some(r) = self.recorder.take() {
            drop(r.events);
            let _ = r.task.await;
        }
    }

    /// The fleet being watched.
    pub fn fleet(&self) -> &Fleet {
        &self.fleet
    }

    /// The Prometheus client, when the fleet has one (for range queries).
    pub fn prometheus(&self) -> Option<&PrometheusClient> {
        self.prometheus.as_ref()
    }

    fn slow_sources(&mut self) -> &SlowSources {
        let (fleet, prometheus, http) = (&self.fleet, &self.prometheus, &self.http);
        self.slow.get_or_insert_with(|| SlowSources::start(fleet, prometheus.clone(), http.clone()))
    }

    /// Starts the slow sources' readers (if not yet) and waits until each has
    /// answered once or failed, at most `max` (the longest of their timeouts
    /// is enough). Returns the sources that were late. For one-shot commands;
    /// a watch never waits.
    pub async fn settle_slow_sources(&mut self, max: Duration) -> Vec<String> {
        self.slow_sources().settle(max).await
    }

    /// The longest any slow source may take to answer once.
    pub fn slow_source_timeout(&self) -> Duration {
        let prometheus = self.fleet.prometheus.as_ref().map_or(Duration::ZERO, |p| p.timeout);
        let scrape = if self.fleet.scrape.is_empty() { Duration::ZERO } else { self.fleet.probe.timeout };
        prometheus.max(scrape) + Duration::from_millis(250)
    }

    /// One refresh of the whole fleet.
    pub async fn refresh(&mut self) -> Snapshot {
        self.slow_sources();
        let started = Instant::now();
        let started_at = chrono::Utc::now();
        let taken_at = crate::incidents::timestamp(started_at);
        let timeout = self.fleet.probe.timeout;
        let read_statements = self.seq % u64::from(self.fleet.probe.statements_every) == 0;
        let limit = read_statements.then_some(self.fleet.probe.top_statements);

        let pg = join_all(self.postgres.iter_mut().map(|p| timed(timeout, p.read(timeout, limit))));
        let pgb = join_all(self.pgbouncers.iter_mut().map(|p| timed(timeout, p.read(timeout))));
        let rd = join_all(self.redis.iter_mut().map(|p| timed(timeout, p.read(timeout))));
        let (pg, pgb, rd) = tokio::join!(pg, pgb, rd);

        let results: Vec<NodeResult<'_>> = self
            .postgres
            .iter()
            .zip(&pg)
            .map(|(p, (r, ms))| NodeResult { name: p.name(), address: p.address(), probe_ms: *ms, reading: r })
            .collect();
        let limits = EdgeLimits {
            lag_bytes: self.fleet.thresholds.replay_lag_bytes,
            lag_seconds: self.fleet.thresholds.replay_lag_seconds,
        };
        let (nodes, edges) = topology::discover(&results, limits);
        for (p, (r, _)) in self.postgres.iter().zip(&pg) {
            if let Ok(Some(Ok(top))) = r.as_ref().map(|r| r.statements.clone()) {
                let entry = NodeStatements { node: p.name().to_string(), read_at: taken_at.clone(), top };
                self.statements.insert(p.name().to_string(), entry);
            }
        }

        let mut pools = Vec::new();
        let mut poolers = Vec::new();
        for (probe, (r, _)) in self.pgbouncers.iter().zip(&pgb) {
            match r {
                Ok(reading) => {
                    pools.extend(assemble::pools(probe.name(), reading, &self.fleet.thresholds));
                    poolers.push(Pooler {
                        name: probe.name().to_string(),
                        address: reading.address.clone(),
                        reachable: true,
                        error: None,
                        node: topology::pooler_node(&reading.databases, &nodes),
                        paused: reading.databases.iter().filter(|d| d.paused).map(|d| d.name.clone()).collect(),
                        stats: reading.stats.clone(),
                    });
                }
                Err(e) => poolers.push(Pooler {
                    name: probe.name().to_string(),
                    // Resolved once when the probe was made: no conninfo work per refresh.
                    address: probe.address().to_string(),
                    reachable: false,
                    error: Some(e.to_string()),
                    node: None,
                    paused: Vec::new(),
                    stats: Vec::new(),
                }),
            }
        }

        let redis_results: Vec<_> =
            self.fleet.redis.iter().cloned().zip(rd.into_iter().map(|(r, _)| r)).collect();
        let caches = assemble::caches(&redis_results, &mut self.cache_counters);
        let now = chrono::Utc::now();
        let slow = self.slow.as_ref().expect("started above");
        let scrapes = slow.scrapes(now);
        let (ai, alerts, targets) = slow.prometheus(now);
        let mut statements: Vec<NodeStatements> = self
            .fleet
            .postgres
            .iter()
            .filter_map(|p| self.statements.get(&p.name).cloned())
            .collect();
        statements.sort_by(|a, b| a.node.cmp(&b.node));

        let mut snap = Snapshot {
            fleet: self.fleet.name.clone(),
            taken_at,
            refresh_ms: 0.0,
            seq: self.seq,
            nodes,
            edges,
            poolers,
            pools,
            caches,
            ai,
            alerts,
            targets,
            scrapes,
            statements,
            anomalies: Vec::new(),
            store: StoreStatus::default(),
        };
        snap.anomalies = crate::anomaly::detect(&snap, &self.fleet.thresholds);
        for ev in self.episodes.observe(&mut snap.anomalies, started_at) {
            if let Some(r) = &self.recorder {
                // A closed channel means the writer is gone; the status says so below.
                let _ = r.events.send(StoreWrite::Episode(ev));
            }
        }
        if let (Some(r), Some(p)) = (&self.recorder, topology::primary(&snap)) {
            if let Some(lsn) = &p.lsn {
                let seen = PrimaryPosition { node: p.name.clone(), lsn: lsn.clone(), timeline: p.timeline, seen_at: taken_at_text(&snap) };
                let _ = r.events.send(StoreWrite::Primary(seen));
            }
        }
        if let Some(r) = &self.recorder {
            let failed = r.error.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
            self.store_status.error = failed.or_else(|| r.task.is_finished().then(|| "the store writer stopped".into()));
        }
        snap.store = self.store_status.clone();
        snap.refresh_ms = elapsed_ms(started);
        self.seq += 1;
        snap
    }
}

/// The snapshot's time in the store's format.
fn taken_at_text(s: &Snapshot) -> String {
    chrono::DateTime::parse_from_rfc3339(&s.taken_at)
        .map(|t| crate::incidents::timestamp(t.with_timezone(&chrono::Utc)))
        .unwrap_or_else(|_| crate::incidents::timestamp(chrono::Utc::now()))
}
