//! The rest of the UI contract beside [`crate::snapshot::Snapshot`]: what the
//! desktop shell's commands and `fleetdeck serve`'s endpoints return, and the
//! closed set of error codes the UI matches on (never on message strings).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::fleet::{AiQueries, Fleet};

/// What the UI needs to know about the fleet and the mode it runs in.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct FleetInfo {
    /// Fleet name.
    pub name: String,
    /// Fleet file path.
    pub path: String,
    /// Refresh period, ms.
    pub interval_ms: u32,
    /// Prometheus is configured (history from range queries, AI panels).
    pub prometheus: bool,
    /// The PromQL of every AI panel, by panel key (e.g. `generation_tokens_per_second`).
    pub queries: BTreeMap<String, String>,
    /// War-room mode: full screen, large type, auto-cycling views, no action buttons.
    pub kiosk: bool,
    /// No action may be offered (browsers via `serve` are always read-only).
    pub read_only: bool,
    /// `[thresholds] connections_near_max_ratio`: the share of `max_connections`
    /// at which a node's connections are drawn as a warning.
    pub connections_near_max_ratio: f64,
}

impl FleetInfo {
    /// Describes `fleet` for the UI.
    pub fn new(fleet: &Fleet, kiosk: bool, read_only: bool) -> Self {
        let queries = fleet
            .prometheus
            .as_ref()
            .map(|p| ai_queries(&p.queries))
            .unwrap_or_default();
        Self {
            name: fleet.name.clone(),
            path: fleet.path.display().to_string(),
            interval_ms: fleet.probe.interval.as_millis() as u32,
            prometheus: fleet.prometheus.is_some(),
            queries,
            kiosk,
            read_only,
            connections_near_max_ratio: fleet.thresholds.connections_near_max_ratio,
        }
    }
}

/// Panel key → PromQL.
pub fn ai_queries(q: &AiQueries) -> BTreeMap<String, String> {
    match serde_json::to_value(q) {
        Ok(serde_json::Value::Object(m)) => {
            m.into_iter().filter_map(|(k, v)| v.as_str().map(|s| (k, s.to_string()))).collect()
        }
        _ => BTreeMap::new(),
    }
}

/// One series of a range query.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct RangeSeries {
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// `[unix seconds, value]` points; non-finite values are dropped.
    pub points: Vec<(f64, f64)>,
}

/// A range query's answer.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct RangeResult {
    /// The PromQL asked.
    pub query: String,
    /// The step Prometheus was asked for, seconds (chosen to stay within 11,000 points).
    pub step_seconds: f64,
    /// Series.
    pub series: Vec<RangeSeries>,
}

/// A plan for the Queries view.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct PlanView {
    /// Node explained on.
    pub node: String,
    /// The statement.
    pub query: String,
    /// EXPLAIN ANALYZE was used.
    pub analyzed: bool,
    /// A generic plan of a parameterised statement.
    pub generic: bool,
    /// The `EXPLAIN (FORMAT JSON)` document as text (what PEV2 takes).
    pub plan_json: String,
}

impl From<crate::explain::Explained> for PlanView {
    fn from(e: crate::explain::Explained) -> Self {
        Self { node: e.node, query: e.query, analyzed: e.analyzed, generic: e.generic, plan_json: e.plan.to_string() }
    }
}

/// The closed set of error codes the UI may branch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum ErrorCode {
    /// The request was malformed (bad PromQL parameter, unknown node).
    BadRequest,
    /// Refused by a guard (multi-statement SQL, ANALYZE on a primary, read-only mode).
    Refused,
    /// An endpoint did not answer.
    Unreachable,
    /// The server answered with an error.
    Server,
    /// Not configured (e.g. no Prometheus in the fleet).
    NotConfigured,
    /// A bug on our side.
    Internal,
}

/// An error as the UI receives it.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct UiError {
    /// What kind.
    pub code: ErrorCode,
    /// For a human.
    pub message: String,
}

impl UiError {
    /// Builds an error.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }
}

impl From<crate::explain::ExplainError> for UiError {
    fn from(e: crate::explain::ExplainError) -> Self {
        use crate::explain::ExplainError as E;
        let code = match &e {
            E::MultiStatement(_) | E::Empty | E::AnalyzeOnPrimary(_) | E::AnalyzeWithParameters(_) => ErrorCode::Refused,
            E::UnknownQueryId(..) => ErrorCode::BadRequest,
            E::Server(_) => ErrorCode::Server,
            E::Malformed(_) => ErrorCode::Internal,
        };
        Self::new(code, e.to_string())
    }
}

impl From<crate::pg::PgError> for UiError {
    fn from(e: crate::pg::PgError) -> Self {
        let code = match e.phase {
            crate::pg::Phase::Query if !e.is_timeout() && !e.is_connection_lost() => ErrorCode::Server,
            _ => ErrorCode::Unreachable,
        };
        Self::new(code, e.to_string())
    }
}

impl From<crate::probe::ProbeError> for UiError {
    fn from(e: crate::probe::ProbeError) -> Self {
        use crate::probe::ProbeError as P;
        let code = match &e {
            P::Timeout(_) | P::Connect { .. } | P::Backoff { .. } => ErrorCode::Unreachable,
            P::Query { .. } => ErrorCode::Server,
            P::Malformed { .. } => ErrorCode::Internal,
        };
        Self::new(code, e.to_string())
    }
}
