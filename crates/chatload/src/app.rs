//! The shared state of a running generator.
//!
//! Why it exists: every chat turn, the slow-query injector and the HTTP
//! handlers need the same pools, cache, simulators, metrics and settings;
//! this is the one `Arc`-shared place that holds them, plus the in-flight
//! cap that keeps an open-loop generator from piling up unbounded tasks when
//! a dependency is slow.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

use crate::cache::Cache;
use crate::control::Control;
use crate::db::Db;
use crate::errors::Reporter;
use crate::metrics::Metrics;
use crate::sim::{Dists, Inference};

/// Fixed knobs, from the command line.
#[derive(Clone, Debug)]
pub struct RunConfig {
    pub max_in_flight: usize,
    pub inference_slots: usize,
    pub db_connections: usize,
    pub slow_query_rps: f64,
    pub slow_query_timeout: Duration,
    pub seed: u64,
}

pub struct App {
    pub cfg: RunConfig,
    pub db: Db,
    pub cache: Cache,
    pub inference: Inference,
    pub dists: Dists,
    pub metrics: Arc<Metrics>,
    pub reporter: Arc<Reporter>,
    pub control: Control,
    /// One permit per turn in flight; arrivals that find none are dropped.
    pub turn_permits: Arc<Semaphore>,
}

impl App {
    pub fn in_flight(&self) -> usize {
        self.cfg
            .max_in_flight
            .saturating_sub(self.turn_permits.available_permits())
    }
}
