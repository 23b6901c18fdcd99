//! Reads made when a UI asks, outside the refresh loop: a Prometheus range
//! (history behind a panel) and a plan (EXPLAIN on one node), for both
//! backends of the UI (the desktop's commands and `fleetdeck serve`). Each
//! maps the core's errors to the closed [`ErrorCode`] set the UI branches on.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::contract::{ErrorCode, PlanView, RangeResult, RangeSeries, UiError};
use crate::explain::{self, Target};
use crate::fleet::Fleet;
use crate::pg;
use crate::probe::prometheus::{step_for, PrometheusClient};

/// The longest history a panel may ask for: Prometheus' default retention.
pub const MAX_RANGE_SECONDS: f64 = 15.0 * 24.0 * 3600.0;
/// Connecting to a node for EXPLAIN.
const EXPLAIN_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// `statement_timeout` for the EXPLAIN itself (ANALYZE runs the statement).
const EXPLAIN_STATEMENT_TIMEOUT: Duration = Duration::from_secs(5);

/// The last `range_seconds` of `promql`, at the coarsest step that keeps
/// within Prometheus' point limit and no finer than `min_step`.
pub async fn range(
    prometheus: &PrometheusClient,
    promql: &str,
    range_seconds: f64,
    min_step: Duration,
) -> Result<RangeResult, UiError> {
    if promql.trim().is_empty() {
        return Err(UiError::new(ErrorCode::BadRequest, "the PromQL is empty"));
    }
    if !(range_seconds.is_finite() && range_seconds > 0.0 && range_seconds <= MAX_RANGE_SECONDS) {
        return Err(UiError::new(
            ErrorCode::BadRequest,
            format!("range must be between 0 and {MAX_RANGE_SECONDS} seconds, got {range_seconds}"),
        ));
    }
    let end = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs_f64();
    let series = prometheus.range(promql, end - range_seconds, end, min_step).await?;
    Ok(RangeResult {
        query: promql.to_string(),
        step_seconds: step_for(range_seconds, min_step).as_secs_f64(),
        series: series
            .into_iter()
            .map(|s| RangeSeries {
                labels: s.labels,
                // JSON cannot carry NaN or ±Inf.
                points: s.points.into_iter().filter(|(_, v)| v.is_finite()).collect(),
            })
            .collect(),
    })
}

/// The plan of a `pg_stat_statements` entry (`query_id`) or of `sql` on
/// `node`, through the node's monitoring login, connecting as
/// `application_name`. ANALYZE is guarded by [`explain::explain`] (replicas
/// only, rolled back, under a statement timeout).
pub async fn explain(
    fleet: &Fleet,
    node: &str,
    target: (Option<String>, Option<String>),
    analyze: bool,
    application_name: &str,
) -> Result<PlanView, UiError> {
    let endpoint = fleet.postgres.iter().find(|p| p.name == node).ok_or_else(|| {
        UiError::new(ErrorCode::BadRequest, format!("no PostgreSQL node '{node}' in the fleet {}", fleet.name))
    })?;
    let target = match target {
        (Some(id), None) => Target::QueryId(id),
        (None, Some(sql)) => {
            // Refuse multi-statement SQL before connecting anywhere.
            explain::single_statement(&sql)?;
            Target::Sql(sql)
        }
        _ => return Err(UiError::new(ErrorCode::BadRequest, "give exactly one of a query id or SQL")),
    };
    let (mut client, _) = pg::connect(&endpoint.monitor, application_name, EXPLAIN_CONNECT_TIMEOUT).await?;
    let plan = explain::explain(&mut client, node, target, analyze, EXPLAIN_STATEMENT_TIMEOUT).await?;
    Ok(plan.into())
}
