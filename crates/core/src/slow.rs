//! Slow sources, read on their own schedule. Prometheus and the directly
//! scraped `/metrics` endpoints answer in tens of milliseconds when healthy and
//! not at all when overloaded — exactly during a big incident. Read inline, a
//! frozen Prometheus held every snapshot for its 2 s timeout, halving the
//! refresh rate of the replication tree, the pools and the caches, the views
//! that matter most then.
//!
//! So each slow source has its own task, ticking at the fleet's
//! `probe.interval_ms` (a slow read delays its own next tick, never a
//! refresh), and keeps its latest good reading with the time it was read. A
//! refresh takes whatever is there without waiting: the snapshot carries the
//! reading, its age, and the error while the source fails (the previous
//! values stay visible, never a blank panel). A read still in flight after
//! two intervals is reported as overdue before its own timeout fires.
//!
//! The CLI's one-shot `snapshot` may wait for the first readings
//! ([`SlowSources::settle`]) and names the sources that were late.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::fleet::{Fleet, ScrapeEndpoint};
use crate::probe::prometheus::PrometheusClient;
use crate::probe::scrape;
use crate::snapshot::{Ai, Alert, ScrapeSummary, Target};

/// What one Prometheus read gives the snapshot.
#[derive(Debug, Clone, Default)]
struct PromReading {
    ai: Ai,
    alerts: Vec<Alert>,
    targets: Vec<Target>,
}

/// One source's latest state.
#[derive(Debug)]
struct Slot<T> {
    /// The latest good reading and when it was taken.
    good: Option<(T, DateTime<Utc>)>,
    /// Why the latest attempt failed, if it did.
    error: Option<String>,
    /// Attempts finished so far.
    attempts: u64,
    /// When the attempt now running started.
    in_flight_since: Option<Instant>,
}

impl<T> Default for Slot<T> {
    fn default() -> Self {
        Self { good: None, error: None, attempts: 0, in_flight_since: None }
    }
}

type Shared<T> = Arc<Mutex<Slot<T>>>;

fn lock<T>(s: &Shared<T>) -> std::sync::MutexGuard<'_, Slot<T>> {
    s.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Prometheus and the scrapes of one fleet, each read by its own task.
pub struct SlowSources {
    interval: Duration,
    prometheus: Option<(Shared<PromReading>, Duration)>,
    scrapes: Vec<(ScrapeEndpoint, Shared<ScrapeSummary>)>,
    attempted: Arc<Notify>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for SlowSources {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Runs `read` every `interval` (a slow read delays its own next tick),
/// recording each outcome in `slot`.
fn spawn_reader<T, F, Fut>(interval: Duration, slot: Shared<T>, attempted: Arc<Notify>, mut read: F) -> JoinHandle<()>
where
    T: Send + 'static,
    F: FnMut(Option<T>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<T, (Option<T>, String)>> + Send,
    T: Clone,
{
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let previous = {
                let mut s = lock(&slot);
                s.in_flight_since = Some(Instant::now());
                s.good.as_ref().map(|(v, _)| v.clone())
            };
            let started = Utc::now();
            let outcome = read(previous).await;
            {
                let mut s = lock(&slot);
                s.in_flight_since = None;
                s.attempts += 1;
                match outcome {
                    Ok(v) => {
                        s.good = Some((v, started));
                        s.error = None;
                    }
                    Err((partial, e)) => {
                        if let Some(v) = partial {
                            s.good = Some((v, started));
                        }
                        s.error = Some(e);
                    }
                }
            }
            attempted.notify_waiters();
        }
    })
}

impl SlowSources {
    /// Starts a reader per slow source of `fleet` (within a Tokio runtime).
    pub fn start(fleet: &Fleet, prometheus: Option<PrometheusClient>, http: reqwest::Client) -> Self {
        let interval = fleet.probe.interval;
        let attempted = Arc::new(Notify::new());
        let mut tasks = Vec::new();
        let prometheus = prometheus.map(|client| {
            let slot: Shared<PromReading> = Arc::default();
            let timeout = fleet.prometheus.as_ref().map_or(Duration::from_secs(2), |p| p.timeout);
            tasks.push(spawn_reader(interval, Arc::clone(&slot), Arc::clone(&attempted), move |previous: Option<PromReading>| {
                let client = client.clone();
                async move { read_prometheus(&client, previous).await }
            }));
            (slot, timeout)
        });
        let scrapes = fleet
            .scrape
            .iter()
            .map(|endpoint| {
                let slot: Shared<ScrapeSummary> = Arc::default();
                let (e, http, timeout) = (endpoint.clone(), http.clone(), fleet.probe.timeout);
                tasks.push(spawn_reader(interval, Arc::clone(&slot), Arc::clone(&attempted), move |_| {
                    let (e, http) = (e.clone(), http.clone());
                    async move {
                        let result = scrape::scrape(&http, &e.url, timeout).await;
                        let summary = scrape::summary(&e, &result);
                        match &result {
                            Ok(_) => Ok(summary),
                            Err(err) => Err((None, err.to_string())),
                        }
                    }
                }));
                (endpoint.clone(), slot)
            })
            .collect();
        Self { interval, prometheus, scrapes, attempted, tasks }
    }

    fn all_attempted(&self) -> bool {
        self.prometheus.as_ref().is_none_or(|(s, _)| lock(s).attempts > 0)
            && self.scrapes.iter().all(|(_, s)| lock(s).attempts > 0)
    }

    /// Waits until every source has finished a first attempt, at most `max`;
    /// returns the names of those that had not (`prometheus`, scrape names).
    pub async fn settle(&self, max: Duration) -> Vec<String> {
        let deadline = tokio::time::Instant::now() + max;
        loop {
            let notified = self.attempted.notified();
            if self.all_attempted() {
                return Vec::new();
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                break;
            }
        }
        let mut late = Vec::new();
        if self.prometheus.as_ref().is_some_and(|(s, _)| lock(s).attempts == 0) {
            late.push("prometheus".to_string());
        }
        late.extend(self.scrapes.iter().filter(|(_, s)| lock(s).attempts == 0).map(|(e, _)| e.name.clone()));
        late
    }

    /// The latest Prometheus reading as of `now`: AI panels (with `read_at`,
    /// `age_seconds` and the errors of the latest attempt), alerts and targets.
    pub fn prometheus(&self, now: DateTime<Utc>) -> (Ai, Vec<Alert>, Vec<Target>) {
        let Some((slot, timeout)) = &self.prometheus else { return (Ai::default(), Vec::new(), Vec::new()) };
        let s = lock(slot);
        let (mut reading, read_at) = match &s.good {
            Some((r, at)) => (r.clone(), Some(*at)),
            None => (PromReading::default(), None),
        };
        if let Some(at) = read_at {
            reading.ai.read_at = Some(crate::incidents::timestamp(at));
            reading.ai.age_seconds = Some(((now - at).num_milliseconds() as f64 / 1000.0).max(0.0));
        }
        let stale = read_at.map(|at| format!(" (showing the reading of {:.0} s ago)", (now - at).num_milliseconds() as f64 / 1000.0));
        if let Some(e) = &s.error {
            reading.ai.errors.push(format!("prometheus: {e}{}", stale.clone().unwrap_or_default()));
        } else if let Some(since) = s.in_flight_since.filter(|t| t.elapsed() > (self.interval * 2).min(*timeout)) {
            reading.ai.errors.push(format!(
                "prometheus: no answer for {:.1} s{}",
                since.elapsed().as_secs_f64(),
                stale.unwrap_or_default()
            ));
        }
        (reading.ai, reading.alerts, reading.targets)
    }

    /// The latest summary of every scrape endpoint as of `now`; one never
    /// read yet shows as such.
    pub fn scrapes(&self, now: DateTime<Utc>) -> Vec<ScrapeSummary> {
        self.scrapes
            .iter()
            .filter_map(|(endpoint, slot)| {
                let s = lock(slot);
                let mut summary = match &s.good {
                    Some((summary, at)) => ScrapeSummary {
                        read_at: Some(crate::incidents::timestamp(*at)),
                        age_seconds: Some(((now - *at).num_milliseconds() as f64 / 1000.0).max(0.0)),
                        ..summary.clone()
                    },
                    // Not attempted yet: nothing to say (and nothing to alarm about).
                    None if s.error.is_none() => return None,
                    None => ScrapeSummary {
                        name: endpoint.name.clone(),
                        url: endpoint.url.clone(),
                        reachable: false,
                        error: None,
                        samples: 0,
                        parse_errors: Vec::new(),
                        read_at: None,
                        age_seconds: None,
                    },
                };
                if let Some(e) = &s.error {
                    summary.reachable = false;
                    summary.error = Some(e.clone());
                }
                Some(summary)
            })
            .collect()
    }
}

/// One read of Prometheus: the AI panels, alerts and targets at once. Parts
/// that fail keep `previous` values and add their error; when nothing at all
/// answered it is an error, with the previous reading kept.
async fn read_prometheus(client: &PrometheusClient, previous: Option<PromReading>) -> Result<PromReading, (Option<PromReading>, String)> {
    let (mut ai, alerts, targets) = tokio::join!(client.ai(), client.alerts(), client.targets());
    let previous = previous.unwrap_or_default();
    if !ai.available && alerts.is_err() && targets.is_err() {
        let why = alerts.err().map(|e| e.to_string()).unwrap_or_default();
        return Err((None, why));
    }
    let alerts = alerts.unwrap_or_else(|e| {
        ai.errors.push(format!("alerts: {e}"));
        previous.alerts.clone()
    });
    let targets = targets.unwrap_or_else(|e| {
        ai.errors.push(format!("targets: {e}"));
        previous.targets.clone()
    });
    Ok(PromReading { ai, alerts, targets })
}
