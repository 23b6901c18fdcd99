//! Probes: one per endpoint kind, each keeping its connection between refreshes
//! and reading its endpoint under a timeout the caller enforces.
//!
//! A probe never retries blindly: after a failure it drops its connection and
//! waits out an exponential [`Backoff`] before the next attempt, so a dead node
//! costs one failed connect every few seconds rather than one per refresh.

pub mod pgbouncer;
pub mod postgres;
pub mod prometheus;
pub mod redis;
pub mod scrape;

use std::time::{Duration, Instant};

/// Why an endpoint could not be read in this refresh.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ProbeError {
    /// No answer within the timeout (a hung or stopped process, a black-holed host).
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// Connecting or authenticating failed.
    #[error("cannot connect to {address}: {reason}")]
    Connect {
        /// `host:port` or URL.
        address: String,
        /// What the client library said.
        reason: String,
    },
    /// Still waiting out the backoff after a failure.
    #[error("reconnecting in {remaining:?} after: {last}")]
    Backoff {
        /// Time until the next attempt.
        remaining: Duration,
        /// The failure that started the backoff.
        last: String,
    },
    /// A query or command failed on an open connection.
    #[error("{what} failed: {reason}")]
    Query {
        /// Which statement or command.
        what: String,
        /// What the server or library said.
        reason: String,
    },
    /// The endpoint answered with something we cannot read.
    #[error("malformed response from {what}: {reason}")]
    Malformed {
        /// Which response.
        what: String,
        /// What was wrong with it.
        reason: String,
    },
}

/// Exponential backoff between reconnect attempts: 250 ms doubling to 8 s.
#[derive(Debug, Default)]
pub struct Backoff {
    failures: u32,
    next_attempt: Option<Instant>,
    last_error: Option<String>,
}

impl Backoff {
    const BASE: Duration = Duration::from_millis(250);
    const MAX: Duration = Duration::from_secs(8);

    /// `Err` while an attempt is not yet allowed.
    pub fn check(&self) -> Result<(), ProbeError> {
        match self.next_attempt {
            Some(t) if Instant::now() < t => Err(ProbeError::Backoff {
                remaining: t - Instant::now(),
                last: self.last_error.clone().unwrap_or_default(),
            }),
            _ => Ok(()),
        }
    }

    /// Records a failure and schedules the next attempt.
    pub fn failed(&mut self, error: &ProbeError) {
        let delay = Self::BASE.saturating_mul(1 << self.failures.min(5)).min(Self::MAX);
        self.failures += 1;
        self.next_attempt = Some(Instant::now() + delay);
        self.last_error = Some(error.to_string());
    }

    /// Records a success: the next failure starts again from the base delay.
    pub fn succeeded(&mut self) {
        *self = Self::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_blocks_after_a_failure_and_clears_on_success() {
        let mut b = Backoff::default();
        assert!(b.check().is_ok(), "a fresh probe may connect");
        b.failed(&ProbeError::Timeout(Duration::from_secs(1)));
        assert!(matches!(b.check(), Err(ProbeError::Backoff { .. })), "a failure blocks the next attempt");
        b.succeeded();
        assert!(b.check().is_ok());
    }

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let mut b = Backoff::default();
        let err = ProbeError::Timeout(Duration::from_secs(1));
        for _ in 0..10 {
            b.failed(&err);
        }
        let Err(ProbeError::Backoff { remaining, .. }) = b.check() else { panic!("must be backing off") };
        assert!(remaining <= Backoff::MAX && remaining > Backoff::MAX / 2, "{remaining:?}");
    }
}
