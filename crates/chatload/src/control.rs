//! The HTTP listener: `/metrics`, `/healthz` and the run-time control API.
//!
//! Why it exists: Prometheus scrapes `/metrics`, and the lab (or an incident
//! drill) steers the workload without restarting it — `POST
//! /control/rate?rps=N` changes the Poisson arrival rate (0 pauses),
//! `POST /control/slow-query?enabled=true|false` switches the slow-query
//! injector. The settings live in a `watch` channel so the arrival loop and
//! the injector react immediately.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::app::App;
use crate::metrics::{Metrics, CONTENT_TYPE};

/// Highest accepted rate, a guard against typos (turns per second).
pub const MAX_RATE: f64 = 10_000.0;

/// What can be changed at run time.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Settings {
    pub rate: f64,
    pub slow_query: bool,
}

/// Owner of the settings; updates the matching gauges on every change.
pub struct Control {
    tx: watch::Sender<Settings>,
    metrics: Arc<Metrics>,
}

impl Control {
    pub fn new(initial: Settings, metrics: Arc<Metrics>) -> Self {
        let (tx, _) = watch::channel(initial.clone());
        let c = Control { tx, metrics };
        c.publish(&initial);
        c
    }

    fn publish(&self, s: &Settings) {
        self.metrics.target_rate.set(&[], s.rate);
        self.metrics
            .slow_query_enabled
            .set(&[], if s.slow_query { 1.0 } else { 0.0 });
    }

    pub fn get(&self) -> Settings {
        self.tx.borrow().clone()
    }

    pub fn subscribe(&self) -> watch::Receiver<Settings> {
        self.tx.subscribe()
    }

    pub fn set_rate(&self, rate: f64) -> Result<Settings, String> {
        if !rate.is_finite() || !(0.0..=MAX_RATE).contains(&rate) {
            return Err(format!("rps must be a number between 0 and {MAX_RATE}"));
        }
        self.tx.send_modify(|s| s.rate = rate);
        let s = self.get();
        self.publish(&s);
        tracing::info!(rate, "target rate changed");
        Ok(s)
    }

    pub fn set_slow_query(&self, enabled: bool) -> Settings {
        self.tx.send_modify(|s| s.slow_query = enabled);
        let s = self.get();
        self.publish(&s);
        tracing::info!(enabled, "slow-query injector switched");
        s
    }
}

/// `GET /control` body.
#[derive(Serialize)]
struct ControlState {
    rate: f64,
    slow_query: bool,
    slow_query_rps: f64,
    slow_query_timeout_ms: u64,
    in_flight: usize,
    max_in_flight: usize,
    inference_slots: usize,
    replicas: usize,
    db_connections: usize,
    seed: u64,
}

fn state_of(app: &App) -> ControlState {
    let s = app.control.get();
    ControlState {
        rate: s.rate,
        slow_query: s.slow_query,
        slow_query_rps: app.cfg.slow_query_rps,
        slow_query_timeout_ms: app.cfg.slow_query_timeout.as_millis() as u64,
        in_flight: app.in_flight(),
        max_in_flight: app.cfg.max_in_flight,
        inference_slots: app.cfg.inference_slots,
        replicas: app.db.replicas.len(),
        db_connections: app.cfg.db_connections,
        seed: app.cfg.seed,
    }
}

#[derive(Deserialize)]
struct RateParams {
    rps: f64,
}

#[derive(Deserialize)]
struct SlowQueryParams {
    enabled: bool,
}

async fn metrics(State(app): State<Arc<App>>) -> Response {
    app.metrics.turns_in_flight.set(&[], app.in_flight() as f64);
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], app.metrics.render()).into_response()
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn get_control(State(app): State<Arc<App>>) -> Response {
    Json(state_of(&app)).into_response()
}

async fn post_rate(State(app): State<Arc<App>>, Query(p): Query<RateParams>) -> Response {
    match app.control.set_rate(p.rps) {
        Ok(_) => Json(state_of(&app)).into_response(),
        Err(msg) => (
            StatusCode::BAD_REQUEST,
            Json(serde_json::json!({ "error": msg })),
        )
            .into_response(),
    }
}

async fn post_slow_query(
    State(app): State<Arc<App>>,
    Query(p): Query<SlowQueryParams>,
) -> Response {
    app.control.set_slow_query(p.enabled);
    Json(state_of(&app)).into_response()
}

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/control", get(get_control))
        .route("/control/rate", post(post_rate))
        .route("/control/slow-query", post(post_slow_query))
        .with_state(app)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_validation_and_gauges() {
        let m = Arc::new(Metrics::new());
        let c = Control::new(
            Settings {
                rate: 20.0,
                slow_query: false,
            },
            m.clone(),
        );
        assert_eq!(m.target_rate.get(&[]), 20.0);
        let mut rx = c.subscribe();
        assert_eq!(c.set_rate(0.0).unwrap().rate, 0.0);
        assert!(rx.has_changed().unwrap());
        assert_eq!(rx.borrow_and_update().rate, 0.0);
        assert!(c.set_rate(-1.0).is_err());
        assert!(c.set_rate(f64::NAN).is_err());
        assert!(c.set_rate(MAX_RATE * 2.0).is_err());
        assert_eq!(c.get().rate, 0.0);
        assert!(c.set_slow_query(true).slow_query);
        assert_eq!(m.slow_query_enabled.get(&[]), 1.0);
    }
}
