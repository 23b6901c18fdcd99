//! Error accounting: counting, rate-limited logging, and reconnect backoff.
//!
//! Why it exists: the lab kills PgBouncer, PostgreSQL and Redis nodes on
//! purpose. At 20 turns/s a dead node would otherwise produce thousands of
//! identical log lines and reconnect storms. Every error is counted in
//! `chatload_errors_total{stage,target}`, logged at most once per interval
//! per (stage, target) with a count of what was suppressed, and a per-node
//! [`Breaker`] makes callers fail fast (and fall back elsewhere) while the
//! node is in backoff.

use std::collections::HashMap;
use std::fmt::Display;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::metrics::Metrics;

/// Per (stage, node): when we last logged, and how many were suppressed since.
type LogState = HashMap<(&'static str, String), (Instant, u64)>;

/// Counts errors and logs them at most once per `interval` per key.
pub struct Reporter {
    metrics: Arc<Metrics>,
    interval: Duration,
    last: Mutex<LogState>,
}

impl Reporter {
    pub fn new(metrics: Arc<Metrics>, interval: Duration) -> Self {
        Reporter {
            metrics,
            interval,
            last: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one error; `node` names the endpoint for the log line only
    /// (metrics use the low-cardinality `target`).
    pub fn report(&self, stage: &'static str, target: &str, node: &str, err: &dyn Display) {
        self.metrics.errors.inc(&[stage, target]);
        let now = Instant::now();
        let suppressed = {
            let mut last = self.last.lock().unwrap();
            let entry = last
                .entry((stage, node.to_string()))
                .or_insert((now - self.interval * 2, 0));
            if now.duration_since(entry.0) < self.interval {
                entry.1 += 1;
                return;
            }
            let suppressed = entry.1;
            *entry = (now, 0);
            suppressed
        };
        if suppressed > 0 {
            tracing::warn!(stage, target, node, suppressed, "error: {err:#}");
        } else {
            tracing::warn!(stage, target, node, "error: {err:#}");
        }
    }
}

/// A tiny circuit breaker with exponential backoff.
///
/// After a failure the breaker is open for a while (doubling per
/// consecutive failure, capped); while open, callers should fail fast. The
/// first caller after the window closes probes the node again.
pub struct Breaker {
    base: Duration,
    max: Duration,
    state: Mutex<BreakerState>,
}

struct BreakerState {
    failures: u32,
    open_until: Option<Instant>,
}

impl Breaker {
    pub fn new(base: Duration, max: Duration) -> Self {
        Breaker {
            base,
            max,
            state: Mutex::new(BreakerState {
                failures: 0,
                open_until: None,
            }),
        }
    }

    /// `Err(remaining)` while in backoff.
    pub fn check(&self) -> Result<(), Duration> {
        let st = self.state.lock().unwrap();
        match st.open_until {
            Some(t) if t > Instant::now() => Err(t - Instant::now()),
            _ => Ok(()),
        }
    }

    pub fn success(&self) {
        let mut st = self.state.lock().unwrap();
        st.failures = 0;
        st.open_until = None;
    }

    /// Records a failure and returns the backoff now in force.
    pub fn failure(&self) -> Duration {
        let mut st = self.state.lock().unwrap();
        st.failures = st.failures.saturating_add(1);
        let wait = backoff(self.base, self.max, st.failures);
        st.open_until = Some(Instant::now() + wait);
        wait
    }
}

/// `base * 2^(failures-1)`, capped at `max`.
pub fn backoff(base: Duration, max: Duration, failures: u32) -> Duration {
    let exp = failures.saturating_sub(1).min(16);
    base.saturating_mul(1u32 << exp).min(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let b = Duration::from_millis(100);
        let m = Duration::from_secs(5);
        assert_eq!(backoff(b, m, 1), Duration::from_millis(100));
        assert_eq!(backoff(b, m, 2), Duration::from_millis(200));
        assert_eq!(backoff(b, m, 4), Duration::from_millis(800));
        assert_eq!(backoff(b, m, 10), m);
        assert_eq!(backoff(b, m, u32::MAX), m);
    }

    #[test]
    fn breaker_opens_and_closes() {
        let br = Breaker::new(Duration::from_millis(50), Duration::from_secs(1));
        assert!(br.check().is_ok());
        br.failure();
        assert!(br.check().is_err());
        br.success();
        assert!(br.check().is_ok());
    }

    #[test]
    fn reporter_counts_every_error() {
        let m = Arc::new(Metrics::new());
        let r = Reporter::new(m.clone(), Duration::from_secs(60));
        for _ in 0..5 {
            r.report("write", "primary", "127.0.0.1:1", &"boom");
        }
        assert_eq!(m.errors.get(&["write", "primary"]), 5.0);
    }
}
