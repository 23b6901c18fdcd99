//! The read-only API under `/api/` (the table in the crate docs): what the
//! UI asks `fleetdeck serve` for, answered from the published snapshots and
//! the core's on-demand reads. Errors are `UiError` JSON, as the desktop's
//! commands return them, so the UI handles both backends the same way.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::{Query, Request, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::{Json, Router};
use fleetdeck_core::contract::{ErrorCode, FleetInfo, PlanView, RangeResult, UiError};
use fleetdeck_core::on_demand;
use futures_util::stream::{self, Stream};
use tokio::sync::broadcast;

use crate::Served;

/// The routes under `/api/`; any other path there is a `UiError`, never a page.
pub(crate) fn router(served: &Arc<Served>) -> Router {
    Router::new()
        .route("/api/fleet", get(fleet_info))
        .route("/api/snapshots", get(snapshots))
        .route("/api/range", get(range))
        .route("/api/explain", get(explain))
        .route("/api/{*rest}", any(no_such_endpoint))
        .with_state(Arc::clone(served))
}

/// A [`UiError`] as an HTTP answer.
pub(crate) struct ApiError(pub(crate) StatusCode, pub(crate) UiError);

impl From<UiError> for ApiError {
    fn from(e: UiError) -> Self {
        let status = match e.code {
            ErrorCode::BadRequest => StatusCode::BAD_REQUEST,
            ErrorCode::Refused => StatusCode::FORBIDDEN,
            ErrorCode::Unreachable | ErrorCode::Server => StatusCode::BAD_GATEWAY,
            ErrorCode::NotConfigured => StatusCode::NOT_FOUND,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Self(status, e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(self.1)).into_response()
    }
}

fn bad_request(message: impl Into<String>) -> ApiError {
    UiError::new(ErrorCode::BadRequest, message).into()
}

async fn fleet_info(State(served): State<Arc<Served>>) -> Json<FleetInfo> {
    Json(served.info.clone())
}

async fn snapshots(State(served): State<Arc<Served>>) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    // Subscribe before reading the latest, so that no snapshot falls between the two.
    let receiver = served.published.subscribe();
    let first = served.latest();
    let sent = first.as_ref().map(|(seq, _)| *seq);
    let events = stream::unfold((first, sent, receiver), |(first, sent, mut receiver)| async move {
        if let Some((seq, json)) = first {
            return Some((Ok(snapshot_event(seq, &json)), (None, Some(seq), receiver)));
        }
        loop {
            match receiver.recv().await {
                Ok((seq, _)) if sent.is_some_and(|s| seq <= s) => continue,
                Ok((seq, json)) => return Some((Ok(snapshot_event(seq, &json)), (None, Some(seq), receiver))),
                // A client too slow for the refresh rate skips to the newest snapshot.
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    Sse::new(events).keep_alive(KeepAlive::default())
}

fn snapshot_event(seq: u64, json: &str) -> Event {
    Event::default().event("snapshot").id(seq.to_string()).data(json)
}

async fn range(
    State(served): State<Arc<Served>>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<RangeResult>, ApiError> {
    let promql = params.get("query").ok_or_else(|| bad_request("query= is required"))?;
    let range_seconds: f64 = params
        .get("range")
        .ok_or_else(|| bad_request("range= (seconds) is required"))?
        .parse()
        .map_err(|_| bad_request("range= must be a number of seconds"))?;
    let prometheus = served.prometheus.as_ref().ok_or_else(|| {
        UiError::new(ErrorCode::NotConfigured, format!("the fleet {} has no [prometheus] section", served.info.name))
    })?;
    Ok(Json(on_demand::range(prometheus, promql, range_seconds, served.fleet.probe.interval).await?))
}

async fn explain(
    State(served): State<Arc<Served>>,
    Query(mut params): Query<HashMap<String, String>>,
) -> Result<Json<PlanView>, ApiError> {
    if params.get("analyze").is_some_and(|a| a != "false" && a != "0") {
        return Err(UiError::new(
            ErrorCode::Refused,
            "refused: fleetdeck serve is read-only and never runs EXPLAIN ANALYZE",
        )
        .into());
    }
    let node = params.remove("node").ok_or_else(|| bad_request("node= is required"))?;
    let target = (params.remove("query_id"), params.remove("sql"));
    let _slot = served.explain_slots.acquire().await.map_err(|_| UiError::new(ErrorCode::Internal, "shutting down"))?;
    Ok(Json(on_demand::explain(&served.fleet, &node, target, false, "fleetdeck-serve-explain").await?))
}

async fn no_such_endpoint(request: Request) -> ApiError {
    let e =
        UiError::new(ErrorCode::BadRequest, format!("no such endpoint: {} {}", request.method(), request.uri().path()));
    ApiError(StatusCode::NOT_FOUND, e)
}
