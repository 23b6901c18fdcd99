//! The operator's action session. The desktop starts read-only: planning
//! (a dry run) and reading the audit trail are always allowed, but a guarded
//! action (design §4: switchover, failover, recovery) runs only while the
//! operator has unlocked actions for this session. Unlocking asks for the
//! operator's name once; it is remembered for the rest of the app's life and
//! written into every journal run and audit record, beside the OS user.
//!
//! The session re-locks itself after [`IDLE_LIMIT`] without an action
//! command: a console left unlocked on a desk, or on a screen someone else
//! walks up to, goes back to read-only on its own. Every action command
//! counts as activity (`touch`); reading the lock state does not, so a UI
//! that shows the countdown does not keep the session open by asking.
//! Switching fleets locks it too: an unlock is for the fleet it was given on.
//!
//! Times are passed in (`now`), so the expiry is tested without waiting.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use fleetdeck_core::contract::{ErrorCode, UiError};
use fleetdeck_core::store::Store;
use serde::Serialize;

use crate::local_store::LocalStore;

/// How long an unlocked session may sit without an action command: 10 min.
pub const IDLE_LIMIT: Duration = Duration::from_secs(600);

/// The longest operator name kept (it goes into every audit record).
const NAME_MAX_CHARS: usize = 64;

/// The lock as the UI shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Lock {
    /// Actions may run now.
    pub unlocked: bool,
    /// The name the operator gave (kept after a re-lock, so the next unlock does not ask again).
    pub operator: Option<String>,
    /// Seconds until the session re-locks without further activity (`None` while locked).
    pub relock_in_seconds: Option<u64>,
    /// The inactivity period after which it re-locks, seconds.
    pub idle_limit_seconds: u64,
}

#[derive(Debug, Default)]
struct State {
    operator: Option<String>,
    /// The last action command while unlocked; `None` while locked.
    last_activity: Option<Instant>,
}

/// The desktop's one action session, managed as Tauri state.
pub struct ActionSession {
    idle: Duration,
    state: Mutex<State>,
    /// The app's local store (journal, fences, audit log).
    store: LocalStore,
}

impl ActionSession {
    /// A locked session that re-locks after `idle` without activity once
    /// unlocked, journaling and auditing in `store`.
    pub fn new(idle: Duration, store: LocalStore) -> Self {
        Self { idle, state: Mutex::new(State::default()), store }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Unlocks for `operator`, or for the name given before when `None`.
    /// Refuses an empty or unprintable name, and a first unlock without one.
    pub fn unlock(&self, operator: Option<&str>, now: Instant) -> Result<Lock, UiError> {
        let mut st = self.state();
        let name = match operator.map(str::trim).filter(|n| !n.is_empty()) {
            Some(n) => operator_name(n)?,
            None => st.operator.clone().ok_or_else(|| {
                UiError::new(ErrorCode::BadRequest, "give your name: it goes into the audit record of every action you run")
            })?,
        };
        st.operator = Some(name);
        st.last_activity = Some(now);
        Ok(self.describe(&st, now))
    }

    /// Locks now (the name is kept).
    pub fn lock(&self) {
        self.state().last_activity = None;
    }

    /// The lock at `now`; a session idle past the limit is locked here.
    pub fn lock_state(&self, now: Instant) -> Lock {
        let mut st = self.state();
        self.expire(&mut st, now);
        self.describe(&st, now)
    }

    /// An action command at `now`: restarts the inactivity timer of an
    /// unlocked session. Returns whether the session is unlocked (one that
    /// expired before this call stays locked).
    pub fn touch(&self, now: Instant) -> bool {
        let mut st = self.state();
        self.expire(&mut st, now);
        if st.last_activity.is_some() {
            st.last_activity = Some(now);
            true
        } else {
            false
        }
    }

    /// The operator's name, once given.
    pub fn operator(&self) -> Option<String> {
        self.state().operator.clone()
    }

    /// The local store in the data directory (`$FLEETDECK_DATA_DIR`).
    pub async fn store(&self) -> Result<Store, UiError> {
        self.store
            .get()
            .await
            .map_err(|e| UiError::new(ErrorCode::Internal, format!("actions need the local store for their journal and audit log: {e}")))
    }

    fn expire(&self, st: &mut State, now: Instant) {
        if st.last_activity.is_some_and(|t| now.saturating_duration_since(t) >= self.idle) {
            st.last_activity = None;
        }
    }

    fn describe(&self, st: &State, now: Instant) -> Lock {
        Lock {
            unlocked: st.last_activity.is_some(),
            operator: st.operator.clone(),
            relock_in_seconds: st
                .last_activity
                .map(|t| self.idle.saturating_sub(now.saturating_duration_since(t)).as_secs_f64().ceil() as u64),
            idle_limit_seconds: self.idle.as_secs(),
        }
    }
}

/// A name fit for the audit log: printable, at most [`NAME_MAX_CHARS`].
fn operator_name(name: &str) -> Result<String, UiError> {
    if name.chars().any(char::is_control) {
        return Err(UiError::new(ErrorCode::BadRequest, "the operator name must be printable text"));
    }
    if name.chars().count() > NAME_MAX_CHARS {
        return Err(UiError::new(ErrorCode::BadRequest, format!("the operator name is longer than {NAME_MAX_CHARS} characters")));
    }
    Ok(name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(60);

    #[test]
    fn a_session_starts_locked_and_the_first_unlock_needs_a_name() {
        let s = ActionSession::new(10 * MIN, LocalStore::default());
        let t0 = Instant::now();
        let lock = s.lock_state(t0);
        assert!(!lock.unlocked, "the app starts read-only");
        assert_eq!(lock.relock_in_seconds, None);
        assert!(!s.touch(t0), "activity does not unlock");
        let err = s.unlock(None, t0).expect_err("no name given yet");
        assert_eq!(err.code, ErrorCode::BadRequest);
        let err = s.unlock(Some("   "), t0).expect_err("a blank name is no name");
        assert_eq!(err.code, ErrorCode::BadRequest);
        assert_eq!(s.unlock(Some("bad\u{7}name"), t0).expect_err("control characters").code, ErrorCode::BadRequest);
        assert_eq!(s.unlock(Some(&"x".repeat(65)), t0).expect_err("too long").code, ErrorCode::BadRequest);
        let lock = s.unlock(Some("  Ada Lovelace "), t0).unwrap();
        assert!(lock.unlocked);
        assert_eq!(lock.operator.as_deref(), Some("Ada Lovelace"), "trimmed");
        assert_eq!(lock.relock_in_seconds, Some(600));
        assert_eq!(lock.idle_limit_seconds, 600);
    }

    #[test]
    fn it_relocks_after_the_idle_limit_and_activity_restarts_the_timer() {
        let s = ActionSession::new(10 * MIN, LocalStore::default());
        let t0 = Instant::now();
        s.unlock(Some("ada"), t0).unwrap();
        assert_eq!(s.lock_state(t0 + 4 * MIN).relock_in_seconds, Some(360));
        assert_eq!(s.lock_state(t0 + 4 * MIN).relock_in_seconds, Some(360), "reading the state is not activity");
        assert!(s.touch(t0 + 9 * MIN), "an action command within the limit");
        assert_eq!(s.lock_state(t0 + 12 * MIN).relock_in_seconds, Some(420), "the timer restarted at the touch");
        let later = t0 + 19 * MIN;
        assert!(!s.lock_state(later).unlocked, "10 minutes after the last activity it is locked");
        assert!(!s.touch(later + MIN), "an expired session stays locked on activity");
        let lock = s.unlock(None, later + MIN).expect("the name given before is remembered");
        assert_eq!(lock.operator.as_deref(), Some("ada"));
        assert!(lock.unlocked);
    }

    #[test]
    fn lock_locks_at_once_and_keeps_the_name() {
        let s = ActionSession::new(10 * MIN, LocalStore::default());
        let t0 = Instant::now();
        s.unlock(Some("ada"), t0).unwrap();
        s.lock();
        let lock = s.lock_state(t0);
        assert!(!lock.unlocked);
        assert_eq!(lock.operator.as_deref(), Some("ada"));
        assert!(!s.touch(t0));
    }
}
