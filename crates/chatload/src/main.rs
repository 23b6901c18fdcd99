//! `chatload`: the chat workload generator for FleetDeck's local lab.
//!
//! Why it exists: FleetDeck is an on-call console for the data layer of a
//! ChatGPT-like product, and its lab needs realistic, steerable traffic —
//! reads on replicas, writes on the primary, a Redis context cache, and the
//! inference/moderation metrics a real stack would expose — that survives
//! the lab killing nodes under it. This file holds the command line, wires
//! the parts together, runs the open-loop Poisson arrival loop and handles
//! graceful shutdown on SIGTERM/SIGINT.

mod app;
mod cache;
mod control;
mod db;
mod errors;
mod metrics;
mod sim;
mod slow_query;
mod turn;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Exp};
use tokio::sync::{watch, Semaphore};
use tokio::time::Instant;

use crate::app::{App, RunConfig};
use crate::control::{Control, Settings};

/// Chat workload generator for the FleetDeck lab.
///
/// DSNs are libpq key=value strings pointing at PgBouncers (transaction
/// pooling); if a DSN has no password, PGPASSWORD is used.
#[derive(Parser, Debug)]
#[command(name = "chatload", version)]
struct Args {
    /// DSN of the primary's PgBouncer, e.g. "host=127.0.0.1 port=16400 dbname=chat user=chat_app".
    #[arg(long, env = "CHATLOAD_PRIMARY")]
    primary: String,

    /// DSN of a replica's PgBouncer; repeat the flag for more replicas
    /// (in the environment, separate DSNs with ';').
    #[arg(
        long = "replica",
        env = "CHATLOAD_REPLICA",
        required = true,
        value_delimiter = ';'
    )]
    replicas: Vec<String>,

    /// Redis primary URL, e.g. redis://127.0.0.1:16379/0.
    #[arg(long, env = "CHATLOAD_REDIS")]
    redis: String,

    /// Address for /metrics, /healthz and /control.
    #[arg(long, env = "CHATLOAD_METRICS_BIND", default_value = "127.0.0.1:19100")]
    metrics_bind: SocketAddr,

    /// Chat turns per second (open-loop Poisson arrivals); 0 = paused.
    #[arg(long, env = "CHATLOAD_RATE", default_value_t = 20.0)]
    rate: f64,

    /// Client connections per PgBouncer (primary and each replica).
    #[arg(long, env = "CHATLOAD_DB_CONNECTIONS", default_value_t = 8)]
    db_connections: usize,

    /// Seed for all random draws (default: random, logged at start).
    #[arg(long, env = "CHATLOAD_SEED")]
    seed: Option<u64>,

    /// Cap on turns in flight; arrivals beyond it are dropped and counted.
    #[arg(long, env = "CHATLOAD_MAX_IN_FLIGHT", default_value_t = 1000)]
    max_in_flight: usize,

    /// Simulated inference slots (vLLM max running requests).
    #[arg(long, env = "CHATLOAD_INFERENCE_SLOTS", default_value_t = 32)]
    inference_slots: usize,

    /// Bound on one database operation; waiting for a free pooled connection
    /// is bounded by the same amount.
    #[arg(long, env = "CHATLOAD_DB_TIMEOUT_MS", default_value_t = 5000)]
    db_timeout_ms: u64,

    /// Bound on one Redis command.
    #[arg(long, env = "CHATLOAD_REDIS_TIMEOUT_MS", default_value_t = 500)]
    redis_timeout_ms: u64,

    /// Start with the slow-query injector on.
    #[arg(long, env = "CHATLOAD_SLOW_QUERY")]
    slow_query: bool,

    /// Slow queries issued per second while the injector is on.
    #[arg(long, env = "CHATLOAD_SLOW_QUERY_RPS", default_value_t = 4.0)]
    slow_query_rps: f64,

    /// statement_timeout of each slow query.
    #[arg(long, env = "CHATLOAD_SLOW_QUERY_TIMEOUT_MS", default_value_t = 5000)]
    slow_query_timeout_ms: u64,
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("start tokio runtime")?
        .block_on(run(args))
}

fn build_app(args: &Args, seed: u64) -> anyhow::Result<App> {
    if !(args.rate.is_finite() && (0.0..=control::MAX_RATE).contains(&args.rate)) {
        anyhow::bail!("--rate must be between 0 and {}", control::MAX_RATE);
    }
    if !(args.slow_query_rps.is_finite() && args.slow_query_rps > 0.0) {
        anyhow::bail!("--slow-query-rps must be positive");
    }
    let metrics = Arc::new(metrics::Metrics::new());
    let reporter = Arc::new(errors::Reporter::new(
        metrics.clone(),
        Duration::from_secs(10),
    ));
    let pgpassword = std::env::var("PGPASSWORD").ok();
    let op_timeout = Duration::from_millis(args.db_timeout_ms);
    let pool = |target: &'static str, dsn: &str| -> anyhow::Result<db::Pool> {
        let cfg = db::parse_dsn(dsn, pgpassword.as_deref())?;
        Ok(db::Pool::new(
            target,
            cfg,
            args.db_connections,
            op_timeout,
            metrics.clone(),
        ))
    };
    let primary = pool("primary", &args.primary)?;
    let replicas = args
        .replicas
        .iter()
        .filter(|d| !d.trim().is_empty())
        .map(|d| pool("replica", d))
        .collect::<anyhow::Result<Vec<_>>>()?;
    anyhow::ensure!(!replicas.is_empty(), "at least one --replica is required");
    let cache = cache::Cache::new(&args.redis, Duration::from_millis(args.redis_timeout_ms))?;
    let cfg = RunConfig {
        max_in_flight: args.max_in_flight.max(1),
        inference_slots: args.inference_slots.max(1),
        db_connections: args.db_connections.max(1),
        slow_query_rps: args.slow_query_rps,
        slow_query_timeout: Duration::from_millis(args.slow_query_timeout_ms),
        seed,
    };
    Ok(App {
        db: db::Db::new(primary, replicas, op_timeout, reporter.clone()),
        cache,
        inference: sim::Inference::new(cfg.inference_slots, metrics.clone()),
        dists: sim::Dists::new(),
        control: Control::new(
            Settings {
                rate: args.rate,
                slow_query: args.slow_query,
            },
            metrics.clone(),
        ),
        turn_permits: Arc::new(Semaphore::new(cfg.max_in_flight)),
        metrics,
        reporter,
        cfg,
    })
}

async fn run(args: Args) -> anyhow::Result<()> {
    let seed = args.seed.unwrap_or_else(|| rand::rng().random());
    let app = Arc::new(build_app(&args, seed)?);
    tracing::info!(
        seed,
        rate = args.rate,
        replicas = app.db.replicas.len(),
        primary = %app.db.primary.node,
        redis = %app.cache.node,
        "chatload starting"
    );

    let listener = tokio::net::TcpListener::bind(args.metrics_bind)
        .await
        .with_context(|| format!("bind {}", args.metrics_bind))?;
    tracing::info!(addr = %args.metrics_bind, "serving /metrics, /healthz, /control");

    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let mut http_shutdown = shutdown_rx.clone();
    let router = control::router(app.clone());
    let server = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let _ = http_shutdown.wait_for(|stop| *stop).await;
            })
            .await
    });

    let mut master = StdRng::seed_from_u64(seed);
    let slow = tokio::spawn(slow_query::run(
        app.clone(),
        master.random(),
        shutdown_rx.clone(),
    ));
    let arrivals = tokio::spawn(arrivals(app.clone(), master, shutdown_rx));

    wait_for_signal().await;
    tracing::info!("shutting down: stopping arrivals, draining turns in flight");
    let _ = shutdown_tx.send(true);
    let _ = arrivals.await;
    let _ = slow.await;
    // The lab sends SIGKILL 10 s after SIGTERM: drain for at most 5 s.
    let drained = tokio::time::timeout(
        Duration::from_secs(5),
        app.turn_permits.acquire_many(app.cfg.max_in_flight as u32),
    )
    .await;
    if drained.is_err() {
        tracing::warn!(
            in_flight = app.in_flight(),
            "gave up waiting for turns in flight"
        );
    }
    match tokio::time::timeout(Duration::from_secs(2), server).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(e))) => tracing::warn!("http server: {e}"),
        Ok(Err(e)) => tracing::warn!("http server task: {e}"),
        Err(_) => tracing::warn!("http server did not stop within 2 s"),
    }
    tracing::info!("bye");
    Ok(())
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Open-loop Poisson arrivals: exponential gaps at the current target rate,
/// each arrival its own task. A rate change takes effect at once (the
/// exponential is memoryless, so restarting the gap is exact).
async fn arrivals(app: Arc<App>, mut rng: StdRng, mut shutdown: watch::Receiver<bool>) {
    let mut settings = app.control.subscribe();
    let mut next = Instant::now();
    loop {
        if *shutdown.borrow() {
            return;
        }
        let rate = settings.borrow_and_update().rate;
        if rate <= 0.0 {
            tokio::select! {
                r = settings.changed() => if r.is_err() { return },
                _ = shutdown.changed() => return,
            }
            next = Instant::now();
            continue;
        }
        let gap = Exp::new(rate).expect("positive rate").sample(&mut rng);
        next += Duration::from_secs_f64(gap);
        let now = Instant::now();
        if next + Duration::from_secs(1) < now {
            // We fell far behind (stalled runtime): don't burst to catch up.
            next = now;
        }
        tokio::select! {
            _ = tokio::time::sleep_until(next) => {}
            r = settings.changed() => {
                if r.is_err() { return }
                next = Instant::now();
                continue;
            }
            _ = shutdown.changed() => return,
        }
        let turn_rng = StdRng::seed_from_u64(rng.random());
        match app.turn_permits.clone().try_acquire_owned() {
            Ok(permit) => {
                let app = app.clone();
                tokio::spawn(async move {
                    turn::run_turn(&app, turn_rng).await;
                    drop(permit);
                });
            }
            Err(_) => app.metrics.dropped.inc(&[]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_parses_the_documented_form() {
        let a = Args::try_parse_from([
            "chatload",
            "--primary",
            "host=127.0.0.1 port=16400 dbname=chat user=chat_app",
            "--replica",
            "host=127.0.0.1 port=16401 dbname=chat user=chat_app",
            "--replica",
            "host=127.0.0.1 port=16402 dbname=chat user=chat_app",
            "--redis",
            "redis://127.0.0.1:16379/0",
            "--metrics-bind",
            "127.0.0.1:19100",
            "--rate",
            "20",
            "--db-connections",
            "8",
            "--seed",
            "42",
        ])
        .unwrap();
        assert_eq!(a.replicas.len(), 2);
        assert_eq!(a.seed, Some(42));
        assert_eq!(a.rate, 20.0);
        let app = build_app(&a, 42).unwrap();
        assert_eq!(app.db.replicas.len(), 2);
        assert_eq!(app.db.replicas[1].node, "127.0.0.1:16402");
    }

    #[test]
    fn cli_requires_a_replica() {
        assert!(
            Args::try_parse_from(["chatload", "--primary", "host=a", "--redis", "redis://a"])
                .is_err()
        );
    }
}
