//! Incident episodes in the store: each opening and clearing the engine's
//! [`EpisodeTracker`](crate::incidents::EpisodeTracker) reports is written in
//! one statement; open episodes are read back when a console starts, so its
//! incident clock keeps the true start.
//!
//! Two consoles watching one fleet share an open episode: the partial unique
//! index allows one open row per (fleet, kind, subject), and an opening that
//! finds one already open leaves it (and its start) as it is.

use std::collections::BTreeMap;

use sqlx::Row;

use super::{Store, StoreError};
use crate::incidents::{Episode, EpisodeEvent};

/// A recorded episode with its row id.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StoredEpisode {
    /// Row id.
    pub id: i64,
    /// The episode.
    #[serde(flatten)]
    pub episode: Episode,
}

fn text<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

impl Store {
    /// Writes one event of the tracker.
    pub async fn record(&self, event: &EpisodeEvent) -> Result<(), StoreError> {
        let e = event.episode();
        let subject = serde_json::to_string(&e.subject).unwrap_or_default();
        let peak = serde_json::to_string(&e.peak).unwrap_or_else(|_| "{}".into());
        let (kind, severity) = (text(&e.kind), text(&e.severity));
        match event {
            EpisodeEvent::Opened(_) => {
                sqlx::query(
                    "INSERT INTO incident_episodes
                        (fleet, kind, subject, severity, first_seen, last_seen, first_message, last_message, peak)
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                     ON CONFLICT (fleet, kind, subject) WHERE cleared_at IS NULL DO NOTHING",
                )
                .bind(&e.fleet)
                .bind(&kind)
                .bind(&subject)
                .bind(&severity)
                .bind(&e.first_seen)
                .bind(&e.last_seen)
                .bind(&e.first_message)
                .bind(&e.last_message)
                .bind(&peak)
                .execute(&self.pool)
                .await
                .map_err(self.query_error("recording an episode's opening"))?;
            }
            EpisodeEvent::Updated(_) | EpisodeEvent::Cleared(_) => {
                sqlx::query(
                    "UPDATE incident_episodes
                        SET severity = ?, last_seen = ?, last_message = ?, peak = ?, cleared_at = ?
                      WHERE fleet = ? AND kind = ? AND subject = ? AND cleared_at IS NULL",
                )
                .bind(&severity)
                .bind(&e.last_seen)
                .bind(&e.last_message)
                .bind(&peak)
                .bind(&e.cleared_at)
                .bind(&e.fleet)
                .bind(&kind)
                .bind(&subject)
                .execute(&self.pool)
                .await
                .map_err(self.query_error("recording an episode's progress"))?;
            }
        }
        Ok(())
    }

    /// The open episodes of `fleet`, oldest first.
    pub async fn open_episodes(&self, fleet: &str) -> Result<Vec<StoredEpisode>, StoreError> {
        let mut open: Vec<StoredEpisode> =
            self.episodes(fleet, None).await?.into_iter().filter(|s| s.episode.is_open()).collect();
        open.sort_by(|a, b| a.episode.first_seen.cmp(&b.episode.first_seen).then(a.id.cmp(&b.id)));
        Ok(open)
    }

    /// Every episode of `fleet` open now or seen since `since` (RFC 3339; all
    /// when `None`): open ones first, then the most recent first.
    pub async fn episodes(&self, fleet: &str, since: Option<&str>) -> Result<Vec<StoredEpisode>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM incident_episodes
              WHERE fleet = ?1 AND (cleared_at IS NULL OR ?2 IS NULL OR last_seen >= ?2)
              ORDER BY cleared_at IS NOT NULL, first_seen DESC, id DESC",
        )
            .bind(fleet)
            .bind(since)
            .fetch_all(&self.pool)
            .await
            .map_err(self.query_error("reading episodes"))?;
        rows.iter()
            .map(|r| {
                let id: i64 = r.get("id");
                let bad = |reason: String| StoreError::Malformed {
                    path: self.path.clone(),
                    table: "incident_episodes",
                    id,
                    reason,
                };
                let json = |col: &str| serde_json::Value::String(r.get::<String, _>(col));
                let episode = Episode {
                    fleet: r.get("fleet"),
                    kind: serde_json::from_value(json("kind")).map_err(|e| bad(format!("kind: {e}")))?,
                    subject: serde_json::from_str(&r.get::<String, _>("subject"))
                        .map_err(|e| bad(format!("subject: {e}")))?,
                    severity: serde_json::from_value(json("severity")).map_err(|e| bad(format!("severity: {e}")))?,
                    first_seen: r.get("first_seen"),
                    last_seen: r.get("last_seen"),
                    cleared_at: r.get("cleared_at"),
                    first_message: r.get("first_message"),
                    last_message: r.get("last_message"),
                    peak: serde_json::from_str::<BTreeMap<String, f64>>(&r.get::<String, _>("peak"))
                        .map_err(|e| bad(format!("peak: {e}")))?,
                };
                Ok(StoredEpisode { id, episode })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::*;
    use crate::incidents::EpisodeTracker;
    use crate::snapshot::{Anomaly, AnomalyKind, Severity, Subject};

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }

    fn paused(node: &str) -> Anomaly {
        Anomaly {
            kind: AnomalyKind::ReplayPaused,
            severity: Severity::Warning,
            subject: Subject::Node { node: node.into() },
            message: format!("{node} has WAL replay paused"),
            since: None,
            figures: BTreeMap::from([("replay_lag_bytes".to_string(), 4096.0)]),
        }
    }

    async fn feed(store: &Store, t: &mut EpisodeTracker, anomalies: &mut [Anomaly], now: DateTime<Utc>) {
        for ev in t.observe(anomalies, now) {
            store.record(&ev).await.expect("recorded");
        }
    }

    #[tokio::test]
    async fn an_episode_is_written_when_it_opens_and_when_it_clears() {
        let store = Store::memory().await.unwrap();
        let mut t = EpisodeTracker::new("lab", 2);
        feed(&store, &mut t, &mut [paused("pg2")], at(0)).await;
        let open = store.open_episodes("lab").await.unwrap();
        assert_eq!(open.len(), 1, "the opening is on disk before it clears");
        assert_eq!(open[0].episode.subject, Subject::Node { node: "pg2".into() });

        feed(&store, &mut t, &mut [], at(1)).await;
        feed(&store, &mut t, &mut [], at(2)).await;
        assert!(store.open_episodes("lab").await.unwrap().is_empty());
        let all = store.episodes("lab", None).await.unwrap();
        assert_eq!(all.len(), 1, "{all:#?}");
        let e = &all[0].episode;
        assert_eq!(e.first_seen, crate::incidents::timestamp(at(0)));
        assert_eq!(e.cleared_at.as_deref(), Some(crate::incidents::timestamp(at(1)).as_str()));
        assert_eq!(e.peak["replay_lag_bytes"], 4096.0);
    }

    #[tokio::test]
    async fn a_restarted_tracker_keeps_the_stored_start() {
        let store = Store::memory().await.unwrap();
        let mut before = EpisodeTracker::new("lab", 3);
        feed(&store, &mut before, &mut [paused("pg2")], at(0)).await;
        drop(before);

        let mut after = EpisodeTracker::new("lab", 3);
        let open = store.open_episodes("lab").await.unwrap();
        after.adopt(open.into_iter().map(|s| s.episode), at(300));
        let mut now = [paused("pg2")];
        feed(&store, &mut after, &mut now, at(300)).await;
        assert_eq!(now[0].since.as_deref(), Some(crate::incidents::timestamp(at(0)).as_str()));
        assert_eq!(store.episodes("lab", None).await.unwrap().len(), 1, "one episode across the restart");
    }

    #[tokio::test]
    async fn two_consoles_share_one_open_episode() {
        let store = Store::memory().await.unwrap();
        let (mut a, mut b) = (EpisodeTracker::new("lab", 3), EpisodeTracker::new("lab", 3));
        feed(&store, &mut a, &mut [paused("pg2")], at(0)).await;
        feed(&store, &mut b, &mut [paused("pg2")], at(1)).await;
        let open = store.open_episodes("lab").await.unwrap();
        assert_eq!(open.len(), 1, "the unique open index keeps one row");
        assert_eq!(open[0].episode.first_seen, crate::incidents::timestamp(at(0)), "the first console's start stands");
    }

    #[tokio::test]
    async fn listing_puts_open_episodes_first_and_filters_by_time() {
        let store = Store::memory().await.unwrap();
        let mut t = EpisodeTracker::new("lab", 1);
        feed(&store, &mut t, &mut [paused("pg1")], at(0)).await;
        feed(&store, &mut t, &mut [], at(10)).await;
        feed(&store, &mut t, &mut [paused("pg2")], at(20)).await;
        let all = store.episodes("lab", None).await.unwrap();
        let names: Vec<String> = all.iter().map(|s| s.episode.subject.to_string()).collect();
        assert_eq!(names, ["pg2", "pg1"], "open first");
        let recent = store.episodes("lab", Some(&crate::incidents::timestamp(at(15)))).await.unwrap();
        assert_eq!(recent.len(), 1, "pg1 was last seen before the cut-off");
        assert!(store.episodes("other", None).await.unwrap().is_empty(), "fleets are kept apart");
    }
}
