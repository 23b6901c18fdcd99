//! The fleet file: which endpoints to watch, never which role each plays.
//!
//! Parse, then check. [`RawFleet`] is the file as serde reads it (unknown
//! fields refused); [`Fleet::load`] then checks it into the types the probes
//! consume: connection strings parsed, names unique, URLs well formed. A bad
//! file fails here, once, with the file, the line, the field and the reason,
//! instead of as a puzzling probe error at 3 a.m.

use std::collections::HashSet;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::conninfo::ConnInfo;

/// The fleet file as written. Every field's default is in its doc.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFleet {
    /// Display name of the fleet. Default: the file name without extension.
    pub name: Option<String>,
    /// Probe timing. Default: see [`RawProbe`].
    #[serde(default)]
    pub probe: RawProbe,
    /// Anomaly thresholds. Default: see [`RawThresholds`].
    #[serde(default)]
    pub thresholds: RawThresholds,
    /// Limits of guarded actions. Default: see [`RawActions`].
    #[serde(default)]
    pub actions: RawActions,
    /// The Prometheus server that scrapes the fleet. Default: none (AI panels empty).
    pub prometheus: Option<RawPrometheus>,
    /// PostgreSQL nodes. Default: none.
    #[serde(default)]
    pub postgres: Vec<RawPostgres>,
    /// PgBouncer admin consoles. Default: none.
    #[serde(default)]
    pub pgbouncer: Vec<RawPgBouncer>,
    /// Redis nodes. Default: none.
    #[serde(default)]
    pub redis: Vec<RawRedis>,
    /// `/metrics` endpoints read directly (inference servers, the lab's workload). Default: none.
    #[serde(default)]
    pub scrape: Vec<RawScrape>,
}

/// `[probe]`: how often and how long to wait.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawProbe {
    /// Longest wait for one endpoint in one refresh, in ms. Default: 1000.
    pub timeout_ms: u64,
    /// Refresh period for `watch`, `serve` and the desktop, in ms. Default: 1000.
    pub interval_ms: u64,
    /// Read `pg_stat_statements` every Nth refresh (it is the costly read). Default: 5.
    pub statements_every: u32,
    /// Rows of `pg_stat_statements` kept per node. Default: 20.
    pub top_statements: u32,
}

impl Default for RawProbe {
    fn default() -> Self {
        Self { timeout_ms: 1000, interval_ms: 1000, statements_every: 5, top_statements: 20 }
    }
}

/// `[thresholds]`: where an observation becomes an anomaly.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawThresholds {
    /// Replay lag in bytes above which an edge is unhealthy. Default: 16 MiB.
    pub replay_lag_bytes: u64,
    /// Replay lag in seconds above which an edge is unhealthy. Default: 30.
    pub replay_lag_seconds: f64,
    /// WAL a replication slot may retain before it is an anomaly, in bytes. Default: 1 GiB.
    pub slot_retained_bytes: u64,
    /// A pool whose oldest waiting client waited longer is saturated, in seconds. Default: 1.0.
    pub pool_maxwait_seconds: f64,
    /// A pool with sv_active/pool_size at or above this is saturated. Default: 0.8.
    pub pool_active_ratio: f64,
    /// A node whose client backends reach this share of `max_connections` is
    /// an anomaly (and drawn as a warning). Default: 0.9.
    pub connections_near_max_ratio: f64,
}

impl Default for RawThresholds {
    fn default() -> Self {
        Self {
            replay_lag_bytes: 16 << 20,
            replay_lag_seconds: 30.0,
            slot_retained_bytes: 1 << 30,
            pool_maxwait_seconds: 1.0,
            pool_active_ratio: 0.8,
            connections_near_max_ratio: 0.9,
        }
    }
}

/// `[actions]`: the limits guarded actions (switchover, failover) hold to.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawActions {
    /// A switchover target may lag the primary by at most this many bytes. Default: 1 MiB (Patroni's default).
    pub max_lag_bytes: u64,
    /// Longest wait for PgBouncer's `PAUSE`, in ms; on expiry the pooler is resumed and the switchover stops. Default: 2000.
    pub pause_timeout_ms: u64,
    /// Longest wait for the target to flush the old primary's final LSN, in ms. Default: 5000.
    pub catchup_timeout_ms: u64,
    /// Longest wait for the promotion to finish, in ms. Default: 10000.
    pub promote_timeout_ms: u64,
    /// Longest wait for re-pointed replicas to stream from the new primary, in ms. Default: 30000.
    pub verify_timeout_ms: u64,
    /// A write-path transaction older than this (seconds) refuses a switchover: it would hold `PAUSE` open. Default: 5.
    pub max_transaction_seconds: f64,
    /// A failover whose possible loss exceeds this many bytes is refused without a typed reason. Default: 16 MiB.
    pub max_failover_loss_bytes: u64,
}

impl Default for RawActions {
    fn default() -> Self {
        Self {
            max_lag_bytes: 1 << 20,
            pause_timeout_ms: 2000,
            catchup_timeout_ms: 5000,
            promote_timeout_ms: 10_000,
            verify_timeout_ms: 30_000,
            max_transaction_seconds: 5.0,
            max_failover_loss_bytes: 16 << 20,
        }
    }
}

/// `[prometheus]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPrometheus {
    /// Base URL, e.g. `http://127.0.0.1:9090`. Required.
    pub url: Spanned<String>,
    /// Request timeout in ms. Default: 2000.
    pub timeout_ms: Option<u64>,
    /// PromQL for each AI panel. Default: the vLLM and moderation names, see [`AiQueries`].
    #[serde(default)]
    pub queries: RawAiQueries,
}

/// `[prometheus.queries]`: every AI panel's PromQL, editable. Unset = the default.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAiQueries {
    /// Generated tokens per second.
    pub generation_tokens_per_second: Option<String>,
    /// Prompt tokens per second.
    pub prompt_tokens_per_second: Option<String>,
    /// Requests running on the inference servers.
    pub requests_running: Option<String>,
    /// Requests waiting for a slot.
    pub requests_waiting: Option<String>,
    /// Time to first token, p50 seconds.
    pub ttft_p50_seconds: Option<String>,
    /// Time to first token, p99 seconds.
    pub ttft_p99_seconds: Option<String>,
    /// End-to-end latency, p99 seconds.
    pub e2e_p99_seconds: Option<String>,
    /// Successful requests per second.
    pub success_per_second: Option<String>,
    /// KV-cache usage, 0..1.
    pub kv_cache_usage: Option<String>,
    /// Moderation requests per second by decision (a vector with a `decision` label).
    pub moderation_per_second: Option<String>,
    /// Moderation latency, p99 seconds.
    pub moderation_p99_seconds: Option<String>,
}

/// `[[postgres]]`: one PostgreSQL node.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPostgres {
    /// Unique name of the node. Required.
    pub name: Spanned<String>,
    /// Monitoring login (a `pg_monitor` member), libpq string or URI. Required.
    pub monitor: Spanned<String>,
    /// Action login; without it the node is read-only in FleetDeck. Default: none.
    pub action: Option<Spanned<String>>,
    /// Promote this node with a command instead of `pg_promote()` over the
    /// action login (a managed service's CLI), as argv; `{node}` is replaced by
    /// the node's name, and the command also gets `FLEETDECK_NODE`. It must
    /// exit 0 once promotion is requested. Default: none (`pg_promote()`).
    pub promote_command: Option<Vec<String>>,
}

/// `[[pgbouncer]]`: one PgBouncer admin console.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPgBouncer {
    /// Unique name. Required.
    pub name: Spanned<String>,
    /// Login to the `pgbouncer` admin database (a `stats_users` member). Required.
    pub admin: Spanned<String>,
    /// Login allowed PAUSE/RESUME/RELOAD (an `admin_users` member). Default: none.
    pub action: Option<Spanned<String>>,
    /// The file holding this PgBouncer's `[databases]` section (its ini, or a
    /// file it `%include`s): a switchover re-points the pooler by rewriting the
    /// database's `host=`/`port=` there, then `RELOAD`. Default: none.
    pub config_file: Option<Spanned<String>>,
    /// Re-point with a command instead (config management, a cloud API), as
    /// argv, run with `FLEETDECK_POOLER`, `FLEETDECK_DATABASE`, `FLEETDECK_HOST`
    /// and `FLEETDECK_PORT` set; FleetDeck sends `RELOAD` after it exits 0.
    /// Default: none. Without either, the pooler cannot be re-pointed and a
    /// switchover through it is refused.
    pub repoint_command: Option<Vec<String>>,
}

/// `[[redis]]`: one Redis node.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRedis {
    /// Unique name. Required.
    pub name: Spanned<String>,
    /// `redis://host:port[/db]` or `rediss://...`, without a password. Required.
    pub url: Spanned<String>,
    /// Environment variable holding the password, if the node needs one. Default: none.
    pub password_env: Option<String>,
    /// PEM file with the CA certificate(s) a `rediss://` server's certificate
    /// must chain to. Default: the bundled Mozilla roots and the system's.
    pub tls_ca_file: Option<Spanned<String>>,
}

/// `[[scrape]]`: one `/metrics` endpoint read directly.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScrape {
    /// Unique name. Required.
    pub name: Spanned<String>,
    /// Full URL of the exposition endpoint. Required.
    pub url: Spanned<String>,
}

/// A bad fleet file: where, which field, and why.
#[derive(Debug, thiserror::Error)]
#[error("{}{}: {field}: {reason}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct FleetError {
    /// The fleet file.
    pub path: PathBuf,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// The field, e.g. `postgres[1].monitor`.
    pub field: String,
    /// What is wrong.
    pub reason: String,
}

/// The most `pg_stat_statements` rows kept per node: each is carried in every
/// statements push, so thousands would bloat every snapshot for no reader.
pub const MAX_TOP_STATEMENTS: u32 = 1000;

/// Probe timing, checked.
#[derive(Debug, Clone)]
pub struct ProbeSettings {
    /// Per-endpoint timeout for one refresh.
    pub timeout: Duration,
    /// Refresh period.
    pub interval: Duration,
    /// Read `pg_stat_statements` every Nth refresh.
    pub statements_every: u32,
    /// Rows kept per node.
    pub top_statements: u32,
}

/// Thresholds, checked (same fields as [`RawThresholds`]).
#[derive(Debug, Clone)]
pub struct Thresholds {
    /// See [`RawThresholds::replay_lag_bytes`].
    pub replay_lag_bytes: u64,
    /// See [`RawThresholds::replay_lag_seconds`].
    pub replay_lag_seconds: f64,
    /// See [`RawThresholds::slot_retained_bytes`].
    pub slot_retained_bytes: u64,
    /// See [`RawThresholds::pool_maxwait_seconds`].
    pub pool_maxwait_seconds: f64,
    /// See [`RawThresholds::pool_active_ratio`].
    pub pool_active_ratio: f64,
    /// See [`RawThresholds::connections_near_max_ratio`].
    pub connections_near_max_ratio: f64,
}

impl Default for Thresholds {
    /// The documented defaults of [`RawThresholds`].
    fn default() -> Self {
        Self::from_checked(&RawThresholds::default())
    }
}

impl Thresholds {
    /// `t` after [`Checker::check`] accepted it (or the defaults).
    fn from_checked(t: &RawThresholds) -> Self {
        Self {
            replay_lag_bytes: t.replay_lag_bytes,
            replay_lag_seconds: t.replay_lag_seconds,
            slot_retained_bytes: t.slot_retained_bytes,
            pool_maxwait_seconds: t.pool_maxwait_seconds,
            pool_active_ratio: t.pool_active_ratio,
            connections_near_max_ratio: t.connections_near_max_ratio,
        }
    }
}

/// Every AI panel's PromQL with defaults filled in.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AiQueries {
    /// See [`RawAiQueries::generation_tokens_per_second`].
    pub generation_tokens_per_second: String,
    /// See [`RawAiQueries::prompt_tokens_per_second`].
    pub prompt_tokens_per_second: String,
    /// See [`RawAiQueries::requests_running`].
    pub requests_running: String,
    /// See [`RawAiQueries::requests_waiting`].
    pub requests_waiting: String,
    /// See [`RawAiQueries::ttft_p50_seconds`].
    pub ttft_p50_seconds: String,
    /// See [`RawAiQueries::ttft_p99_seconds`].
    pub ttft_p99_seconds: String,
    /// See [`RawAiQueries::e2e_p99_seconds`].
    pub e2e_p99_seconds: String,
    /// See [`RawAiQueries::success_per_second`].
    pub success_per_second: String,
    /// See [`RawAiQueries::kv_cache_usage`].
    pub kv_cache_usage: String,
    /// See [`RawAiQueries::moderation_per_second`].
    pub moderation_per_second: String,
    /// See [`RawAiQueries::moderation_p99_seconds`].
    pub moderation_p99_seconds: String,
}

impl AiQueries {
    fn from_raw(raw: RawAiQueries) -> Self {
        let or = |v: Option<String>, d: &str| v.unwrap_or_else(|| d.to_string());
        Self {
            generation_tokens_per_second: or(raw.generation_tokens_per_second, "sum(rate(vllm:generation_tokens_total[1m]))"),
            prompt_tokens_per_second: or(raw.prompt_tokens_per_second, "sum(rate(vllm:prompt_tokens_total[1m]))"),
            requests_running: or(raw.requests_running, "sum(vllm:num_requests_running)"),
            requests_waiting: or(raw.requests_waiting, "sum(vllm:num_requests_waiting)"),
            ttft_p50_seconds: or(
                raw.ttft_p50_seconds,
                "histogram_quantile(0.5, sum by (le) (rate(vllm:time_to_first_token_seconds_bucket[1m])))",
            ),
            ttft_p99_seconds: or(
                raw.ttft_p99_seconds,
                "histogram_quantile(0.99, sum by (le) (rate(vllm:time_to_first_token_seconds_bucket[1m])))",
            ),
            e2e_p99_seconds: or(
                raw.e2e_p99_seconds,
                "histogram_quantile(0.99, sum by (le) (rate(vllm:e2e_request_latency_seconds_bucket[1m])))",
            ),
            success_per_second: or(raw.success_per_second, "sum(rate(vllm:request_success_total[1m]))"),
            kv_cache_usage: or(raw.kv_cache_usage, "avg(vllm:kv_cache_usage_perc)"),
            moderation_per_second: or(
                raw.moderation_per_second,
                "sum by (decision) (rate(moderation_requests_total[1m]))",
            ),
            moderation_p99_seconds: or(
                raw.moderation_p99_seconds,
                "histogram_quantile(0.99, sum by (le) (rate(moderation_request_latency_seconds_bucket[1m])))",
            ),
        }
    }
}

/// A Prometheus server, checked.
#[derive(Debug, Clone)]
pub struct PrometheusEndpoint {
    /// Base URL without a trailing slash.
    pub url: String,
    /// Request timeout.
    pub timeout: Duration,
    /// PromQL per AI panel.
    pub queries: AiQueries,
}

/// A PostgreSQL node, checked.
#[derive(Debug, Clone)]
pub struct PostgresEndpoint {
    /// Unique name.
    pub name: String,
    /// Monitoring login.
    pub monitor: ConnInfo,
    /// Action login, if actions are allowed on this node.
    pub action: Option<ConnInfo>,
    /// Promotion command (argv), when not `pg_promote()`.
    pub promote_command: Option<Vec<String>>,
}

/// A PgBouncer admin console, checked.
#[derive(Debug, Clone)]
pub struct PgBouncerEndpoint {
    /// Unique name.
    pub name: String,
    /// Admin-console login (SHOW commands).
    pub admin: ConnInfo,
    /// Login for PAUSE/RESUME/RELOAD, if allowed.
    pub action: Option<ConnInfo>,
    /// How a switchover re-points it, if it can.
    pub repoint: Option<Repoint>,
}

/// How a pooler is re-pointed at a new primary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Repoint {
    /// Rewrite the database's `host=`/`port=` in this file.
    ConfigFile(PathBuf),
    /// Run this argv.
    Command(Vec<String>),
}

/// `[actions]`, checked (see [`RawActions`] for each default).
#[derive(Debug, Clone, PartialEq)]
pub struct ActionLimits {
    /// See [`RawActions::max_lag_bytes`].
    pub max_lag_bytes: u64,
    /// See [`RawActions::pause_timeout_ms`].
    pub pause_timeout: Duration,
    /// See [`RawActions::catchup_timeout_ms`].
    pub catchup_timeout: Duration,
    /// See [`RawActions::promote_timeout_ms`].
    pub promote_timeout: Duration,
    /// See [`RawActions::verify_timeout_ms`].
    pub verify_timeout: Duration,
    /// See [`RawActions::max_transaction_seconds`].
    pub max_transaction_seconds: f64,
    /// See [`RawActions::max_failover_loss_bytes`].
    pub max_failover_loss_bytes: u64,
}

impl Default for ActionLimits {
    fn default() -> Self {
        ActionLimits::from_raw(&RawActions::default())
    }
}

impl ActionLimits {
    fn from_raw(a: &RawActions) -> Self {
        Self {
            max_lag_bytes: a.max_lag_bytes,
            pause_timeout: Duration::from_millis(a.pause_timeout_ms),
            catchup_timeout: Duration::from_millis(a.catchup_timeout_ms),
            promote_timeout: Duration::from_millis(a.promote_timeout_ms),
            verify_timeout: Duration::from_millis(a.verify_timeout_ms),
            max_transaction_seconds: a.max_transaction_seconds,
            max_failover_loss_bytes: a.max_failover_loss_bytes,
        }
    }
}

/// A Redis node, checked.
#[derive(Debug, Clone)]
pub struct RedisEndpoint {
    /// Unique name.
    pub name: String,
    /// Connection URL (no password).
    pub url: String,
    /// Environment variable with the password, if any.
    pub password_env: Option<String>,
    /// CA certificate(s) for `rediss://`, PEM.
    pub tls_ca_file: Option<PathBuf>,
}

/// A directly scraped exposition endpoint, checked.
#[derive(Debug, Clone)]
pub struct ScrapeEndpoint {
    /// Unique name.
    pub name: String,
    /// URL.
    pub url: String,
}

/// A checked fleet: what the probes consume.
#[derive(Debug, Clone)]
pub struct Fleet {
    /// Where it was loaded from.
    pub path: PathBuf,
    /// Display name.
    pub name: String,
    /// Probe timing.
    pub probe: ProbeSettings,
    /// Anomaly thresholds.
    pub thresholds: Thresholds,
    /// Limits of guarded actions.
    pub actions: ActionLimits,
    /// Prometheus, if configured.
    pub prometheus: Option<PrometheusEndpoint>,
    /// PostgreSQL nodes.
    pub postgres: Vec<PostgresEndpoint>,
    /// PgBouncer consoles.
    pub pgbouncer: Vec<PgBouncerEndpoint>,
    /// Redis nodes.
    pub redis: Vec<RedisEndpoint>,
    /// Direct scrapes.
    pub scrape: Vec<ScrapeEndpoint>,
}

impl Fleet {
    /// Reads and checks the fleet file at `path`.
    pub fn load(path: &Path) -> Result<Fleet, FleetError> {
        let text = std::fs::read_to_string(path).map_err(|e| FleetError {
            path: path.into(),
            line: None,
            field: "(file)".into(),
            reason: format!("cannot read: {e}"),
        })?;
        Self::parse(path, &text)
    }

    /// Checks fleet-file `text`; `path` is only used in messages and for the default name.
    pub fn parse(path: &Path, text: &str) -> Result<Fleet, FleetError> {
        let raw: RawFleet = toml::from_str(text).map_err(|e| FleetError {
            path: path.into(),
            line: e.span().map(|s| line_of(text, s.start)),
            field: "(syntax)".into(),
            reason: e.message().trim().to_string(),
        })?;
        Checker { path, text, names: HashSet::new() }.check(raw)
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].bytes().filter(|&b| b == b'\n').count() + 1
}

struct Checker<'a> {
    path: &'a Path,
    text: &'a str,
    names: HashSet<String>,
}

impl Checker<'_> {
    fn err(&self, span: Option<Range<usize>>, field: String, reason: impl Into<String>) -> FleetError {
        FleetError {
            path: self.path.into(),
            line: span.map(|s| line_of(self.text, s.start)),
            field,
            reason: reason.into(),
        }
    }

    fn name(&mut self, name: &Spanned<String>, field: String) -> Result<String, FleetError> {
        let n = name.get_ref();
        let ok = !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        if !ok {
            return Err(self.err(Some(name.span()), field, format!("'{n}' is not a valid name (letters, digits, - _ .)")));
        }
        if !self.names.insert(n.clone()) {
            return Err(self.err(Some(name.span()), field, format!("the name '{n}' is used twice; names must be unique")));
        }
        Ok(n.clone())
    }

    fn conninfo(&self, s: &Spanned<String>, field: String) -> Result<ConnInfo, FleetError> {
        s.get_ref().parse().map_err(|e: crate::conninfo::ConnInfoError| self.err(Some(s.span()), field, e.to_string()))
    }

    fn url(&self, s: &Spanned<String>, field: String, schemes: &[&str]) -> Result<String, FleetError> {
        let u = s.get_ref().trim();
        let Some((scheme, rest)) = u.split_once("://") else {
            return Err(self.err(Some(s.span()), field, format!("'{u}' is not a URL (expected {}://...)", schemes[0])));
        };
        if !schemes.contains(&scheme) {
            return Err(self.err(Some(s.span()), field, format!("scheme '{scheme}' is not one of {}", schemes.join(", "))));
        }
        let authority = rest.split('/').next().unwrap_or_default();
        if authority.contains('@') {
            return Err(self.err(
                Some(s.span()),
                field,
                "credentials are written in the URL; secrets never live in the fleet file (use password_env)",
            ));
        }
        if authority.is_empty() {
            return Err(self.err(Some(s.span()), field, format!("'{u}' has no host")));
        }
        Ok(u.trim_end_matches('/').to_string())
    }

    fn check(mut self, raw: RawFleet) -> Result<Fleet, FleetError> {
        let p = &raw.probe;
        if p.timeout_ms == 0 || p.interval_ms == 0 || p.statements_every == 0 {
            return Err(self.err(None, "probe".into(), "timeout_ms, interval_ms and statements_every must be positive"));
        }
        if p.top_statements == 0 || p.top_statements > MAX_TOP_STATEMENTS {
            return Err(self.err(None, "probe.top_statements".into(), format!("must be 1..={MAX_TOP_STATEMENTS}, got {}", p.top_statements)));
        }
        let t = &raw.thresholds;
        // A NaN compares false with everything, so it would silently switch its
        // rule off; infinity does the same for "over the limit" rules.
        for (field, v) in [("replay_lag_seconds", t.replay_lag_seconds), ("pool_maxwait_seconds", t.pool_maxwait_seconds)] {
            if !v.is_finite() || v < 0.0 {
                return Err(self.err(None, format!("thresholds.{field}"), format!("must be a finite number of seconds ≥ 0, got {v}")));
            }
        }
        if !(t.pool_active_ratio > 0.0 && t.pool_active_ratio <= 1.0) {
            return Err(self.err(None, "thresholds.pool_active_ratio".into(), "must be in (0, 1]"));
        }
        if !(t.connections_near_max_ratio > 0.0 && t.connections_near_max_ratio <= 1.0) {
            return Err(self.err(None, "thresholds.connections_near_max_ratio".into(), "must be in (0, 1]"));
        }
        let a = &raw.actions;
        if a.pause_timeout_ms == 0 || a.catchup_timeout_ms == 0 || a.promote_timeout_ms == 0 || a.verify_timeout_ms == 0 {
            return Err(self.err(None, "actions".into(), "pause_timeout_ms, catchup_timeout_ms, promote_timeout_ms and verify_timeout_ms must be positive"));
        }
        if !(a.max_transaction_seconds.is_finite() && a.max_transaction_seconds > 0.0) {
            return Err(self.err(None, "actions.max_transaction_seconds".into(), format!("must be a finite number of seconds > 0, got {}", a.max_transaction_seconds)));
        }
        let mut postgres = Vec::new();
        for (i, r) in raw.postgres.iter().enumerate() {
            postgres.push(PostgresEndpoint {
                name: self.name(&r.name, format!("postgres[{i}].name"))?,
                monitor: self.conninfo(&r.monitor, format!("postgres[{i}].monitor"))?,
                action: r.action.as_ref().map(|a| self.conninfo(a, format!("postgres[{i}].action"))).transpose()?,
                promote_command: match &r.promote_command {
                    Some(argv) if argv.is_empty() || argv[0].trim().is_empty() => {
                        return Err(self.err(Some(r.name.span()), format!("postgres[{i}].promote_command"), "must name a program (a non-empty argv)"));
                    }
                    other => other.clone(),
                },
            });
        }
        let mut pgbouncer = Vec::new();
        for (i, r) in raw.pgbouncer.iter().enumerate() {
            pgbouncer.push(PgBouncerEndpoint {
                name: self.name(&r.name, format!("pgbouncer[{i}].name"))?,
                admin: self.conninfo(&r.admin, format!("pgbouncer[{i}].admin"))?,
                action: r.action.as_ref().map(|a| self.conninfo(a, format!("pgbouncer[{i}].action"))).transpose()?,
                repoint: match (&r.config_file, &r.repoint_command) {
                    (Some(f), Some(_)) => {
                        return Err(self.err(Some(f.span()), format!("pgbouncer[{i}].config_file"), "give config_file or repoint_command, not both"));
                    }
                    (Some(f), None) if f.get_ref().trim().is_empty() => {
                        return Err(self.err(Some(f.span()), format!("pgbouncer[{i}].config_file"), "is empty"));
                    }
                    (Some(f), None) => Some(Repoint::ConfigFile(PathBuf::from(f.get_ref()))),
                    (None, Some(argv)) if argv.is_empty() || argv[0].trim().is_empty() => {
                        return Err(self.err(Some(r.name.span()), format!("pgbouncer[{i}].repoint_command"), "must name a program (a non-empty argv)"));
                    }
                    (None, Some(argv)) => Some(Repoint::Command(argv.clone())),
                    (None, None) => None,
                },
            });
        }
        let mut redis = Vec::new();
        for (i, r) in raw.redis.iter().enumerate() {
            redis.push(RedisEndpoint {
                name: self.name(&r.name, format!("redis[{i}].name"))?,
                url: self.url(&r.url, format!("redis[{i}].url"), &["redis", "rediss"])?,
                password_env: r.password_env.clone(),
                tls_ca_file: match &r.tls_ca_file {
                    None => None,
                    Some(f) if !r.url.get_ref().starts_with("rediss://") => {
                        return Err(self.err(Some(f.span()), format!("redis[{i}].tls_ca_file"), "only a rediss:// URL uses TLS"));
                    }
                    Some(f) => Some(PathBuf::from(f.get_ref())),
                },
            });
        }
        let mut scrape = Vec::new();
        for (i, r) in raw.scrape.iter().enumerate() {
            scrape.push(ScrapeEndpoint {
                name: self.name(&r.name, format!("scrape[{i}].name"))?,
                url: self.url(&r.url, format!("scrape[{i}].url"), &["http", "https"])?,
            });
        }
        let prometheus = match raw.prometheus {
            Some(pr) => Some(PrometheusEndpoint {
                url: self.url(&pr.url, "prometheus.url".into(), &["http", "https"])?,
                timeout: Duration::from_millis(pr.timeout_ms.unwrap_or(2000)),
                queries: AiQueries::from_raw(pr.queries),
            }),
            None => None,
        };
        if postgres.is_empty() && pgbouncer.is_empty() && redis.is_empty() && prometheus.is_none() && scrape.is_empty() {
            return Err(self.err(None, "(file)".into(), "lists no endpoint: add [[postgres]], [[pgbouncer]], [[redis]], [[scrape]] or [prometheus]"));
        }
        let name = raw.name.unwrap_or_else(|| {
            self.path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "fleet".into())
        });
        Ok(Fleet {
            path: self.path.into(),
            name,
            probe: ProbeSettings {
                timeout: Duration::from_millis(raw.probe.timeout_ms),
                interval: Duration::from_millis(raw.probe.interval_ms),
                statements_every: raw.probe.statements_every,
                top_statements: raw.probe.top_statements,
            },
            thresholds: Thresholds::from_checked(t),
            actions: ActionLimits::from_raw(&raw.actions),
            prometheus,
            postgres,
            pgbouncer,
            redis,
            scrape,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Fleet, FleetError> {
        Fleet::parse(Path::new("f.toml"), text)
    }

    #[test]
    fn a_minimal_file_gets_every_default() {
        let f = parse("[[postgres]]\nname = \"a\"\nmonitor = \"host=h\"\n").unwrap();
        assert_eq!(f.name, "f", "name defaults to the file stem");
        assert_eq!(f.probe.timeout, Duration::from_millis(1000));
        assert!(f.postgres[0].action.is_none(), "no action login = read-only node");
    }

    #[test]
    fn errors_carry_file_line_field_and_reason() {
        let e = parse("[[postgres]]\nname = \"a\"\nmonitor = \"host=h password=x\"\n").unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (Some(3), "postgres[0].monitor"));
        assert!(e.to_string().starts_with("f.toml:3: postgres[0].monitor: a password"), "{e}");
    }

    #[test]
    fn duplicate_names_are_refused_across_kinds() {
        let e = parse("[[postgres]]\nname=\"x\"\nmonitor=\"host=h\"\n[[redis]]\nname=\"x\"\nurl=\"redis://h:1\"\n")
            .unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (Some(5), "redis[0].name"), "{e}");
    }

    #[test]
    fn unknown_fields_are_syntax_errors_with_a_line() {
        let e = parse("[[postgres]]\nname=\"x\"\nmonitr=\"host=h\"\n").unwrap_err();
        assert_eq!(e.field, "(syntax)");
        assert_eq!(e.line, Some(3), "{e}");
        assert!(e.reason.contains("monitr"), "{e}");
    }

    #[test]
    fn urls_with_credentials_or_wrong_scheme_are_refused() {
        let e = parse("[[redis]]\nname=\"r\"\nurl=\"redis://:pw@h:1\"\n").unwrap_err();
        assert!(e.reason.contains("credentials"), "{e}");
        let e = parse("[prometheus]\nurl=\"ftp://h\"\n").unwrap_err();
        assert!(e.reason.contains("scheme 'ftp'"), "{e}");
    }

    #[test]
    fn an_empty_fleet_is_refused() {
        assert!(parse("name = \"x\"\n").unwrap_err().reason.contains("no endpoint"));
    }

    const ONE_NODE: &str = "[[postgres]]\nname = \"pg0\"\nmonitor = \"host=h dbname=d user=u\"\n";

    #[test]
    fn non_finite_thresholds_are_refused_with_their_field() {
        // A NaN compares false with everything: it would switch its rule off silently.
        for (field, value) in [("replay_lag_seconds", "nan"), ("pool_maxwait_seconds", "inf"), ("replay_lag_seconds", "-1.0")] {
            let e = parse(&format!("[thresholds]\n{field} = {value}\n{ONE_NODE}")).unwrap_err();
            assert_eq!(e.field, format!("thresholds.{field}"), "{e}");
        }
        for (field, value) in [("pool_active_ratio", "nan"), ("connections_near_max_ratio", "nan"), ("connections_near_max_ratio", "1.5")] {
            let e = parse(&format!("[thresholds]\n{field} = {value}\n{ONE_NODE}")).unwrap_err();
            assert_eq!(e.field, format!("thresholds.{field}"), "{e}");
        }
    }

    #[test]
    fn top_statements_must_be_sensible() {
        for value in ["0", "100000"] {
            let e = parse(&format!("[probe]\ntop_statements = {value}\n{ONE_NODE}")).unwrap_err();
            assert_eq!(e.field, "probe.top_statements", "{e}");
            assert!(e.reason.contains(value), "the bad value is named: {e}");
        }
        assert_eq!(parse(&format!("[probe]\ntop_statements = 50\n{ONE_NODE}")).unwrap().probe.top_statements, 50);
    }

    #[test]
    fn the_connections_ratio_has_a_documented_default() {
        let f = parse(ONE_NODE).unwrap();
        assert_eq!(f.thresholds.connections_near_max_ratio, 0.9);
        let f = parse(&format!("[thresholds]\nconnections_near_max_ratio = 0.75\n{ONE_NODE}")).unwrap();
        assert_eq!(f.thresholds.connections_near_max_ratio, 0.75);
    }
}
