//! The slow-query injector for the lab's slow-query incident.
//!
//! Why it exists: the schema deliberately lacks an index on
//! `messages(user_id)`, so "a user's recent messages" seq-scans the whole
//! table. When switched on (`POST /control/slow-query?enabled=true`), this
//! loop issues that query a few times per second against the replicas
//! round-robin, each inside its own transaction with `SET LOCAL
//! statement_timeout`, so FleetDeck can see the slow statements, the busy
//! PgBouncer pools and the latency they cause — and so it stops cleanly
//! when switched off. In-flight queries are capped so the injector cannot
//! take every pooled connection.

use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::{watch, Semaphore};

use crate::app::App;
use crate::db;
use crate::sim::USERS;

pub async fn run(app: Arc<App>, seed: u64, mut shutdown: watch::Receiver<bool>) {
    let mut settings = app.control.subscribe();
    let mut rng = StdRng::seed_from_u64(seed);
    let cap = (app.cfg.db_connections / 2).max(1);
    let in_flight = Arc::new(Semaphore::new(cap));
    let gap = Duration::from_secs_f64(1.0 / app.cfg.slow_query_rps.clamp(0.01, 1000.0));
    loop {
        if *shutdown.borrow() {
            return;
        }
        let enabled = settings.borrow_and_update().slow_query;
        if !enabled {
            tokio::select! {
                r = settings.changed() => if r.is_err() { return },
                _ = shutdown.changed() => return,
            }
            continue;
        }
        tokio::select! {
            _ = tokio::time::sleep(gap) => {}
            r = settings.changed() => { if r.is_err() { return } continue }
            _ = shutdown.changed() => return,
        }
        let Ok(permit) = in_flight.clone().try_acquire_owned() else {
            // All allowed slow queries are still running; skip this tick.
            continue;
        };
        let user = rng.random_range(1..=USERS as i64);
        let app = app.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let timeout = app.cfg.slow_query_timeout;
            let result = app
                .db
                .on_next_replica(
                    "slow_query",
                    timeout + Duration::from_secs(2),
                    |c| async move { db::user_recent_messages(&c, user, timeout).await },
                )
                .await;
            let label = if result.is_ok() { "ok" } else { "error" };
            app.metrics.slow_queries.inc(&[label]);
        });
    }
}
