//! The action journal in the store: one run row per guarded action and one
//! row per step, written *before* the step runs and updated when it ends.
//! A console that is killed mid-action leaves a run with no end and, often, a
//! step that started and never ended: the next console reads them back
//! ([`Store::open_runs`]) and shows the action as interrupted with the state
//! it left the fleet in (`crate::action::recovery`).
//!
//! Also here, because recovery and failover read them: fences (nodes
//! FleetDeck fenced, kept across restarts) and the last WAL position each
//! fleet's primary was seen at.
//!
//! Each event is one statement (one transaction); the store runs with
//! `synchronous = FULL` so a written step survives a power cut.

use serde::Serialize;
use serde_json::Value;
use sqlx::Row;

use super::{Store, StoreError};
fn timestamp() -> String {
    crate::incidents::timestamp(chrono::Utc::now())
}

/// A run as it starts.
#[derive(Debug, Clone)]
pub struct NewRun<'a> {
    /// Fleet name.
    pub fleet: &'a str,
    /// Action kind (`switchover`, `failover`, `recovery`, …).
    pub kind: &'a str,
    /// Names acted on.
    pub targets: &'a [String],
    /// The operator name the console asked for.
    pub operator: &'a str,
    /// The OS user running the console.
    pub os_user: &'a str,
    /// The plan shown (JSON).
    pub plan: &'a Value,
    /// The checks passed (JSON).
    pub checks: &'a Value,
    /// What recovery needs to know (JSON).
    pub context: &'a Value,
}

/// One journaled step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepRecord {
    /// Order within the run, from 1.
    pub seq: i64,
    /// Stable id (`pause:pgb0`).
    pub step: String,
    /// What it does, in words.
    pub title: String,
    /// When it started.
    pub started_at: String,
    /// When it ended; `None`: it started and never ended (the console died in it).
    pub ended_at: Option<String>,
    /// `ok` or `failed`.
    pub outcome: Option<String>,
    /// Wall time, ms.
    pub ms: Option<f64>,
    /// Result or error.
    pub message: Option<String>,
}

/// One journaled run with its steps.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunRecord {
    /// Row id (shown to operators as the action's number).
    pub id: i64,
    /// Fleet name.
    pub fleet: String,
    /// Action kind.
    pub kind: String,
    /// Names acted on.
    pub targets: Vec<String>,
    /// Operator name.
    pub operator: String,
    /// OS user.
    pub os_user: String,
    /// Machine of the console.
    pub host: String,
    /// Process of the console.
    pub pid: i64,
    /// Start.
    pub started_at: String,
    /// End; `None` while running or when interrupted.
    pub ended_at: Option<String>,
    /// `running`, `done`, `refused`, `rolled_back`, `needs_attention`, `recovered`.
    pub state: String,
    /// Outcome in words.
    pub message: String,
    /// Plan (JSON).
    pub plan: Value,
    /// Checks (JSON).
    pub checks: Value,
    /// Recovery context (JSON).
    pub context: Value,
    /// The recovery run that closed it, if any.
    pub recovered_by: Option<i64>,
    /// Steps in order.
    pub steps: Vec<StepRecord>,
}

/// A node FleetDeck fenced.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FenceRecord {
    /// Fleet name.
    pub fleet: String,
    /// Node name.
    pub node: String,
    /// When.
    pub since: String,
    /// The run that fenced it.
    pub run_id: Option<i64>,
    /// Why, in words.
    pub reason: String,
}

/// The last WAL position a fleet's primary was seen at.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PrimaryPosition {
    /// The primary's name.
    pub node: String,
    /// `pg_current_wal_lsn()` as text.
    pub lsn: String,
    /// Its timeline.
    pub timeline: Option<u32>,
    /// When it was read.
    pub seen_at: String,
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

impl Store {
    /// Records the start of a run; returns its id.
    pub async fn begin_run(&self, r: &NewRun<'_>) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "INSERT INTO action_runs (fleet, kind, targets, operator, os_user, host, pid, started_at, state, plan, checks, context)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'running', ?, ?, ?) RETURNING id",
        )
        .bind(r.fleet)
        .bind(r.kind)
        .bind(serde_json::to_string(r.targets).unwrap_or_default())
        .bind(r.operator)
        .bind(r.os_user)
        .bind(host_name())
        .bind(i64::from(std::process::id()))
        .bind(timestamp())
        .bind(r.plan.to_string())
        .bind(r.checks.to_string())
        .bind(r.context.to_string())
        .fetch_one(&self.pool)
        .await
        .map_err(self.query_error("begin an action run"))?;
        Ok(row.get(0))
    }

    /// Replaces a run's recovery context (facts learnt while executing).
    pub async fn set_run_context(&self, run: i64, context: &Value) -> Result<(), StoreError> {
        sqlx::query("UPDATE action_runs SET context = ? WHERE id = ?")
            .bind(context.to_string())
            .bind(run)
            .execute(&self.pool)
            .await
            .map_err(self.query_error("update an action's context"))?;
        Ok(())
    }

    /// Writes that step `seq` of `run` is starting. Called before the step runs.
    pub async fn step_started(&self, run: i64, seq: i64, step: &str, title: &str) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO action_steps (run_id, seq, step, title, started_at) VALUES (?, ?, ?, ?, ?)")
            .bind(run)
            .bind(seq)
            .bind(step)
            .bind(title)
            .bind(timestamp())
            .execute(&self.pool)
            .await
            .map_err(self.query_error("journal a step's start"))?;
        Ok(())
    }

    /// Writes how step `seq` of `run` ended.
    pub async fn step_ended(&self, run: i64, seq: i64, ok: bool, ms: f64, message: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE action_steps SET ended_at = ?, outcome = ?, ms = ?, message = ? WHERE run_id = ? AND seq = ?")
            .bind(timestamp())
            .bind(if ok { "ok" } else { "failed" })
            .bind(ms)
            .bind(message)
            .bind(run)
            .bind(seq)
            .execute(&self.pool)
            .await
            .map_err(self.query_error("journal a step's end"))?;
        Ok(())
    }

    /// Closes a run with its final state and message.
    pub async fn end_run(&self, run: i64, state: &str, message: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE action_runs SET ended_at = ?, state = ?, message = ? WHERE id = ?")
            .bind(timestamp())
            .bind(state)
            .bind(message)
            .bind(run)
            .execute(&self.pool)
            .await
            .map_err(self.query_error("end an action run"))?;
        Ok(())
    }

    /// Closes an interrupted (or needs-attention) run as recovered by run `by`.
    pub async fn mark_recovered(&self, run: i64, by: i64, message: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE action_runs SET ended_at = coalesce(ended_at, ?), state = 'recovered', recovered_by = ?, message = ? WHERE id = ? AND recovered_by IS NULL")
            .bind(timestamp())
            .bind(by)
            .bind(message)
            .bind(run)
            .execute(&self.pool)
            .await
            .map_err(self.query_error("close a recovered run"))?;
        Ok(())
    }

    /// Runs that need someone: with no end (running now, or interrupted), or
    /// ended needing attention and not yet recovered; oldest first.
    pub async fn open_runs(&self, fleet: Option<&str>) -> Result<Vec<RunRecord>, StoreError> {
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT id FROM action_runs
             WHERE (ended_at IS NULL OR (state = 'needs_attention' AND recovered_by IS NULL)) AND (?1 IS NULL OR fleet = ?1)
             ORDER BY id",
        )
        .bind(fleet)
        .fetch_all(&self.pool)
        .await
        .map_err(self.query_error("list open action runs"))?;
        self.runs(ids).await
    }

    async fn runs(&self, ids: Vec<i64>) -> Result<Vec<RunRecord>, StoreError> {
        let mut out = Vec::new();
        for id in ids {
            if let Some(r) = self.action_run(id).await? {
                out.push(r);
            }
        }
        Ok(out)
    }

    /// One run with its steps.
    pub async fn action_run(&self, id: i64) -> Result<Option<RunRecord>, StoreError> {
        let Some(r) = sqlx::query(
            "SELECT id, fleet, kind, targets, operator, os_user, host, pid, started_at, ended_at, state, message,
                    plan, checks, context, recovered_by FROM action_runs WHERE id = ?",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(self.query_error("read an action run"))?
        else {
            return Ok(None);
        };
        let steps = sqlx::query(
            "SELECT seq, step, title, started_at, ended_at, outcome, ms, message FROM action_steps WHERE run_id = ? ORDER BY seq",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await
        .map_err(self.query_error("read an action's steps"))?
        .into_iter()
        .map(|s| StepRecord {
            seq: s.get(0),
            step: s.get(1),
            title: s.get(2),
            started_at: s.get(3),
            ended_at: s.get(4),
            outcome: s.get(5),
            ms: s.get(6),
            message: s.get(7),
        })
        .collect();
        let targets: String = r.get(3);
        Ok(Some(RunRecord {
            id: r.get(0),
            fleet: r.get(1),
            kind: r.get(2),
            targets: serde_json::from_str(&targets).unwrap_or_default(),
            operator: r.get(4),
            os_user: r.get(5),
            host: r.get(6),
            pid: r.get(7),
            started_at: r.get(8),
            ended_at: r.get(9),
            state: r.get(10),
            message: r.get(11),
            plan: json(r.get::<&str, _>(12)),
            checks: json(r.get::<&str, _>(13)),
            context: json(r.get::<&str, _>(14)),
            recovered_by: r.get(15),
            steps,
        }))
    }

    /// Records that `node` is fenced (a no-op when it already is).
    pub async fn add_fence(&self, fleet: &str, node: &str, run: Option<i64>, reason: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO fences (fleet, node, since, run_id, reason) VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (fleet, node) WHERE lifted_at IS NULL DO NOTHING",
        )
        .bind(fleet)
        .bind(node)
        .bind(timestamp())
        .bind(run)
        .bind(reason)
        .execute(&self.pool)
        .await
        .map_err(self.query_error("record a fence"))?;
        Ok(())
    }

    /// Lifts `node`'s fence (rolled back, or the node rejoined as a replica).
    pub async fn lift_fence(&self, fleet: &str, node: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE fences SET lifted_at = ? WHERE fleet = ? AND node = ? AND lifted_at IS NULL")
            .bind(timestamp())
            .bind(fleet)
            .bind(node)
            .execute(&self.pool)
            .await
            .map_err(self.query_error("lift a fence"))?;
        Ok(())
    }

    /// The fences in force for `fleet`.
    pub async fn fences(&self, fleet: &str) -> Result<Vec<FenceRecord>, StoreError> {
        let rows = sqlx::query("SELECT fleet, node, since, run_id, reason FROM fences WHERE fleet = ? AND lifted_at IS NULL ORDER BY id")
            .bind(fleet)
            .fetch_all(&self.pool)
            .await
            .map_err(self.query_error("read fences"))?;
        Ok(rows
            .into_iter()
            .map(|r| FenceRecord { fleet: r.get(0), node: r.get(1), since: r.get(2), run_id: r.get(3), reason: r.get(4) })
            .collect())
    }

    /// Remembers where `fleet`'s primary was seen (replacing the previous reading).
    pub async fn record_primary_position(&self, fleet: &str, p: &PrimaryPosition) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO primary_positions (fleet, node, lsn, timeline, seen_at) VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (fleet) DO UPDATE SET node = excluded.node, lsn = excluded.lsn,
                 timeline = excluded.timeline, seen_at = excluded.seen_at",
        )
        .bind(fleet)
        .bind(&p.node)
        .bind(&p.lsn)
        .bind(p.timeline)
        .bind(&p.seen_at)
        .execute(&self.pool)
        .await
        .map_err(self.query_error("record the primary's position"))?;
        Ok(())
    }

    /// Where `fleet`'s primary was last seen.
    pub async fn primary_position(&self, fleet: &str) -> Result<Option<PrimaryPosition>, StoreError> {
        let row = sqlx::query("SELECT node, lsn, timeline, seen_at FROM primary_positions WHERE fleet = ?")
            .bind(fleet)
            .fetch_optional(&self.pool)
            .await
            .map_err(self.query_error("read the primary's position"))?;
        Ok(row.map(|r| PrimaryPosition { node: r.get(0), lsn: r.get(1), timeline: r.get(2), seen_at: r.get(3) }))
    }
}

/// This machine's host name (`/proc/sys/kernel/hostname`), to tell a run of
/// another machine sharing the store from one of a dead process here.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").map(|s| s.trim().to_string()).unwrap_or_else(|_| "unknown".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_run_whose_step_never_ended_reads_back_open_with_that_step_unfinished() {
        let store = Store::memory().await.unwrap();
        let targets = vec!["pg1".to_string()];
        let run = store
            .begin_run(&NewRun {
                fleet: "lab",
                kind: "switchover",
                targets: &targets,
                operator: "ada",
                os_user: "root",
                plan: &serde_json::json!({"steps": []}),
                checks: &serde_json::json!([]),
                context: &serde_json::json!({"old_primary": "pg0"}),
            })
            .await
            .unwrap();
        store.step_started(run, 1, "pause:pgb0", "PAUSE chat on pgb0").await.unwrap();
        store.step_ended(run, 1, true, 3.5, "paused").await.unwrap();
        store.step_started(run, 2, "fence:pg0", "fence pg0").await.unwrap();
        let open = store.open_runs(Some("lab")).await.unwrap();
        assert_eq!(open.len(), 1, "a run without an end is open");
        let r = &open[0];
        assert_eq!(r.context["old_primary"], "pg0", "the recovery context reads back");
        assert_eq!(r.steps.len(), 2);
        assert_eq!(r.steps[0].outcome.as_deref(), Some("ok"));
        assert!(r.steps[1].ended_at.is_none(), "the step the console died in has no end");
        store.end_run(run, "needs_attention", "pgb0 paused").await.unwrap();
        assert_eq!(store.open_runs(Some("lab")).await.unwrap().len(), 1, "a run that needs attention stays open until recovered");
        let recovery = store
            .begin_run(&NewRun {
                fleet: "lab",
                kind: "recovery",
                targets: &targets,
                operator: "ada",
                os_user: "root",
                plan: &serde_json::json!({}),
                checks: &serde_json::json!([]),
                context: &serde_json::json!({"recovers": run}),
            })
            .await
            .unwrap();
        store.end_run(recovery, "done", "finished").await.unwrap();
        store.mark_recovered(run, recovery, "finished").await.unwrap();
        let closed = store.action_run(run).await.unwrap().unwrap();
        assert_eq!((closed.state.as_str(), closed.recovered_by), ("recovered", Some(recovery)));
        assert!(store.open_runs(Some("lab")).await.unwrap().is_empty(), "a recovered run is not open");
    }

    #[tokio::test]
    async fn one_open_fence_per_node_and_lifting_it_ends_it() {
        let store = Store::memory().await.unwrap();
        store.add_fence("lab", "pg0", None, "old primary").await.unwrap();
        store.add_fence("lab", "pg0", None, "again").await.unwrap();
        let f = store.fences("lab").await.unwrap();
        assert_eq!(f.len(), 1, "fencing a fenced node keeps the first record");
        assert_eq!(f[0].reason, "old primary");
        store.lift_fence("lab", "pg0").await.unwrap();
        assert!(store.fences("lab").await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn the_primary_position_is_replaced_not_appended() {
        let store = Store::memory().await.unwrap();
        for (lsn, at) in [("0/10", "2026-12-02T10:00:00.000Z"), ("0/20", "2026-12-02T10:00:01.000Z")] {
            let p = PrimaryPosition { node: "pg0".into(), lsn: lsn.into(), timeline: Some(1), seen_at: at.into() };
            store.record_primary_position("lab", &p).await.unwrap();
        }
        let p = store.primary_position("lab").await.unwrap().expect("recorded");
        assert_eq!((p.lsn.as_str(), p.seen_at.as_str()), ("0/20", "2026-12-02T10:00:01.000Z"));
        assert!(store.primary_position("other").await.unwrap().is_none());
    }
}
