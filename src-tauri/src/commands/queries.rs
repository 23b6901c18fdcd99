//! History and plans, read when the UI asks.

use fleetdeck_core::contract::{ErrorCode, PlanView, RangeResult, UiError};
use fleetdeck_core::on_demand;
use tauri::State;

use crate::watch::Desk;

/// The last `range_seconds` of `promql` from the fleet's Prometheus
/// (`NotConfigured` without one).
#[tauri::command]
pub async fn query_range(desk: State<'_, Desk>, promql: String, range_seconds: f64) -> Result<RangeResult, UiError> {
    let (prometheus, fleet) = (desk.prometheus()?, desk.fleet()?);
    on_demand::range(&prometheus, &promql, range_seconds, fleet.probe.interval).await
}

/// The plan of a `pg_stat_statements` entry or of one SQL statement on `node`.
/// ANALYZE runs the statement, so the war-room display never offers it.
#[tauri::command]
pub async fn explain(
    desk: State<'_, Desk>,
    node: String,
    query_id: Option<String>,
    sql: Option<String>,
    analyze: Option<bool>,
) -> Result<PlanView, UiError> {
    let analyze = analyze.unwrap_or(false);
    if analyze && desk.kiosk() {
        return Err(UiError::new(ErrorCode::Refused, "refused: EXPLAIN ANALYZE is not offered in kiosk mode"));
    }
    let fleet = desk.fleet()?;
    on_demand::explain(&fleet, &node, (query_id, sql), analyze, "fleetdeck-explain").await
}
