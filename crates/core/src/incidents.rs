//! Incident memory: when did this start? A snapshot only says what is wrong
//! *now*; the engine follows each anomaly (kind + subject) across refreshes as
//! an *episode* — first seen, last seen, worst severity, peak figures, cleared
//! at — and stamps every anomaly of a snapshot with its episode's start, so an
//! incident clock counts from the true beginning even after a restart (the
//! open episodes are read back from the [`crate::store`] at start).
//!
//! [`EpisodeTracker`] is pure: it takes one snapshot's anomalies and a time and
//! returns what changed as [`EpisodeEvent`]s for the store to write. An anomaly
//! that is absent for fewer than `clear_after` consecutive refreshes (a probe
//! timing out under load) keeps its episode; once absent that long the episode
//! closes, dated at the first refresh it was missing from.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::snapshot::{Anomaly, AnomalyKind, Severity, Subject};

/// Consecutive refreshes an anomaly must be missing from before its episode closes.
pub const CLEAR_AFTER_REFRESHES: u32 = 3;

/// An open episode's figures and time are written back at most this often
/// while nothing else changes (its opening and clearing are written at once).
const TOUCH_EVERY: chrono::TimeDelta = chrono::TimeDelta::seconds(15);

/// One episode of an anomaly, as the store keeps it and `fleetdeck incidents` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Episode {
    /// The fleet's name.
    pub fleet: String,
    /// What kind of anomaly.
    pub kind: AnomalyKind,
    /// What it concerns.
    pub subject: Subject,
    /// The worst severity seen in the episode.
    pub severity: Severity,
    /// First seen, RFC 3339 UTC.
    pub first_seen: String,
    /// Last seen, RFC 3339 UTC.
    pub last_seen: String,
    /// When it cleared (the first refresh it was missing from), or `None` while open.
    pub cleared_at: Option<String>,
    /// The message when it opened.
    pub first_message: String,
    /// The latest message.
    pub last_message: String,
    /// The worst value of each figure over the episode.
    pub peak: BTreeMap<String, f64>,
}

impl Episode {
    /// Still going.
    pub fn is_open(&self) -> bool {
        self.cleared_at.is_none()
    }
}

/// What changed in one refresh, for the store.
#[derive(Debug, Clone, PartialEq)]
pub enum EpisodeEvent {
    /// A new episode.
    Opened(Episode),
    /// An open episode got worse, or its periodic touch is due.
    Updated(Episode),
    /// An episode ended.
    Cleared(Episode),
}

impl EpisodeEvent {
    /// The episode as it now stands.
    pub fn episode(&self) -> &Episode {
        match self {
            EpisodeEvent::Opened(e) | EpisodeEvent::Updated(e) | EpisodeEvent::Cleared(e) => e,
        }
    }
}

/// RFC 3339 UTC with milliseconds: the one time format of the store, whose
/// text order is time order.
pub fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

struct Tracked {
    episode: Episode,
    /// Consecutive refreshes it has been missing from, and when it first went missing.
    missing: Option<(u32, DateTime<Utc>)>,
    written_at: DateTime<Utc>,
}

/// Follows anomaly episodes of one fleet across refreshes.
pub struct EpisodeTracker {
    fleet: String,
    clear_after: u32,
    open: HashMap<(AnomalyKind, Subject), Tracked>,
}

impl EpisodeTracker {
    /// A tracker for `fleet` that closes an episode after `clear_after` refreshes without it.
    pub fn new(fleet: impl Into<String>, clear_after: u32) -> Self {
        Self { fleet: fleet.into(), clear_after: clear_after.max(1), open: HashMap::new() }
    }

    /// Takes over episodes that were open when a previous run stopped (read from
    /// the store): if their anomaly is still present they go on with their start.
    pub fn adopt(&mut self, episodes: impl IntoIterator<Item = Episode>, now: DateTime<Utc>) {
        for episode in episodes.into_iter().filter(|e| e.is_open() && e.fleet == self.fleet) {
            let key = (episode.kind, episode.subject.clone());
            self.open.entry(key).or_insert(Tracked { episode, missing: None, written_at: now });
        }
    }

    /// The open episodes, oldest first.
    pub fn open_episodes(&self) -> Vec<&Episode> {
        let mut v: Vec<&Episode> = self.open.values().map(|t| &t.episode).collect();
        v.sort_by(|a, b| a.first_seen.cmp(&b.first_seen).then(a.kind.cmp(&b.kind)));
        v
    }

    /// Feeds one snapshot's anomalies, taken at `now`: stamps each with its
    /// episode's start (`since`) and returns what the store must write.
    pub fn observe(&mut self, anomalies: &mut [Anomaly], now: DateTime<Utc>) -> Vec<EpisodeEvent> {
        let at = timestamp(now);
        let mut events = Vec::new();
        let mut present = std::collections::HashSet::new();
        for a in anomalies.iter_mut() {
            let key = (a.kind, a.subject.clone());
            if !present.insert(key.clone()) {
                // The same kind and subject twice in one snapshot is one episode.
                a.since = self.open.get(&key).map(|t| t.episode.first_seen.clone());
                continue;
            }
            match self.open.get_mut(&key) {
                None => {
                    let episode = Episode {
                        fleet: self.fleet.clone(),
                        kind: a.kind,
                        subject: a.subject.clone(),
                        severity: a.severity,
                        first_seen: at.clone(),
                        last_seen: at.clone(),
                        cleared_at: None,
                        first_message: a.message.clone(),
                        last_message: a.message.clone(),
                        peak: a.figures.clone(),
                    };
                    a.since = Some(at.clone());
                    events.push(EpisodeEvent::Opened(episode.clone()));
                    self.open.insert(key, Tracked { episode, missing: None, written_at: now });
                }
                Some(t) => {
                    let e = &mut t.episode;
                    t.missing = None;
                    e.last_seen = at.clone();
                    e.last_message = a.message.clone();
                    let mut worse = a.severity > e.severity;
                    e.severity = e.severity.max(a.severity);
                    for (k, v) in &a.figures {
                        let peak = e.peak.entry(k.clone()).or_insert(*v);
                        if *v > *peak {
                            *peak = *v;
                            worse = true;
                        }
                    }
                    a.since = Some(e.first_seen.clone());
                    if (worse && now - t.written_at >= chrono::TimeDelta::seconds(1)) || now - t.written_at >= TOUCH_EVERY {
                        t.written_at = now;
                        events.push(EpisodeEvent::Updated(e.clone()));
                    }
                }
            }
        }
        let mut closed = Vec::new();
        for (key, t) in self.open.iter_mut().filter(|(k, _)| !present.contains(*k)) {
            let (count, since) = t.missing.get_or_insert((0, now));
            *count += 1;
            if *count >= self.clear_after {
                let mut e = t.episode.clone();
                e.cleared_at = Some(timestamp(*since));
                closed.push((key.clone(), e));
            }
        }
        for (key, e) in closed {
            self.open.remove(&key);
            events.push(EpisodeEvent::Cleared(e));
        }
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }

    fn lag(bytes: f64) -> Anomaly {
        Anomaly {
            kind: AnomalyKind::LagOverThreshold,
            severity: Severity::Warning,
            subject: Subject::Edge { upstream: "pg0".into(), downstream: "pg2".into() },
            message: format!("{bytes} behind"),
            since: None,
            figures: BTreeMap::from([("lag_bytes".to_string(), bytes)]),
        }
    }

    #[test]
    fn an_episode_opens_keeps_its_start_and_clears_after_the_grace() {
        let mut t = EpisodeTracker::new("lab", 3);
        let mut a = vec![lag(100.0)];
        let ev = t.observe(&mut a, at(0));
        assert!(matches!(&ev[..], [EpisodeEvent::Opened(_)]), "{ev:?}");
        assert_eq!(a[0].since.as_deref(), Some(timestamp(at(0)).as_str()));

        let mut a = vec![lag(500.0)];
        t.observe(&mut a, at(5));
        assert_eq!(a[0].since.as_deref(), Some(timestamp(at(0)).as_str()), "the start is the episode's, not the refresh's");

        assert!(t.observe(&mut [], at(6)).is_empty(), "one missing refresh is not the end");
        assert!(t.observe(&mut [], at(7)).is_empty());
        let ev = t.observe(&mut [], at(8));
        let [EpisodeEvent::Cleared(e)] = &ev[..] else { panic!("third missing refresh closes it: {ev:?}") };
        assert_eq!(e.cleared_at.as_deref(), Some(timestamp(at(6)).as_str()), "dated at the first refresh it was gone");
        assert_eq!(e.peak["lag_bytes"], 500.0, "the peak is the worst seen");
        assert_eq!(e.first_message, "100 behind");
        assert!(t.open_episodes().is_empty());
    }

    #[test]
    fn a_blink_shorter_than_the_grace_keeps_the_episode() {
        let mut t = EpisodeTracker::new("lab", 3);
        t.observe(&mut [lag(1.0)], at(0));
        t.observe(&mut [], at(1));
        let mut a = vec![lag(1.0)];
        let ev = t.observe(&mut a, at(2));
        assert!(ev.is_empty(), "no new episode: {ev:?}");
        assert_eq!(a[0].since.as_deref(), Some(timestamp(at(0)).as_str()));
    }

    #[test]
    fn an_adopted_episode_goes_on_with_its_stored_start() {
        let mut first = EpisodeTracker::new("lab", 3);
        let ev = first.observe(&mut [lag(1.0)], at(0));
        let stored = ev[0].episode().clone();

        let mut restarted = EpisodeTracker::new("lab", 3);
        restarted.adopt([stored], at(600));
        let mut a = vec![lag(2.0)];
        let ev = restarted.observe(&mut a, at(600));
        assert_eq!(a[0].since.as_deref(), Some(timestamp(at(0)).as_str()), "a restart keeps the clock's start");
        assert!(!ev.iter().any(|e| matches!(e, EpisodeEvent::Opened(_))), "no second episode: {ev:?}");
    }

    #[test]
    fn another_fleets_episodes_are_not_adopted() {
        let mut other = EpisodeTracker::new("prod", 3);
        let stored = other.observe(&mut [lag(1.0)], at(0))[0].episode().clone();
        let mut t = EpisodeTracker::new("lab", 3);
        t.adopt([stored], at(1));
        assert!(t.open_episodes().is_empty());
    }

    #[test]
    fn worsening_is_written_and_steady_state_only_periodically() {
        let mut t = EpisodeTracker::new("lab", 3);
        t.observe(&mut [lag(1.0)], at(0));
        assert!(t.observe(&mut [lag(1.0)], at(1)).is_empty(), "nothing new to write");
        let ev = t.observe(&mut [lag(9.0)], at(2));
        assert!(matches!(&ev[..], [EpisodeEvent::Updated(e)] if e.peak["lag_bytes"] == 9.0), "{ev:?}");
        assert!(t.observe(&mut [lag(1.0)], at(3)).is_empty());
        assert!(matches!(&t.observe(&mut [lag(1.0)], at(20))[..], [EpisodeEvent::Updated(_)]), "touched every 15 s");
    }
}
