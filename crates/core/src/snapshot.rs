//! The snapshot: one typed, serialisable value per refresh. It is the contract
//! between the engine and every consumer (the CLI's `--json`, `serve`'s
//! Server-Sent Events, the desktop app through Tauri events), so it carries
//! everything a view draws and nothing a view would have to recompute.
//!
//! TypeScript types are generated from these with ts-rs (`cargo test -p
//! fleetdeck-core export_bindings`); 64-bit integers are declared `number`
//! because JSON carries them as numbers and byte counts stay far below 2^53.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// One refresh of the whole fleet.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Snapshot {
    /// Fleet name from the fleet file.
    pub fleet: String,
    /// When the refresh started, RFC 3339 UTC.
    pub taken_at: String,
    /// Wall time of the refresh, ms.
    pub refresh_ms: f64,
    /// Refresh sequence number since the engine started.
    #[ts(type = "number")]
    pub seq: u64,
    /// PostgreSQL nodes, in fleet-file order.
    pub nodes: Vec<Node>,
    /// Replication edges discovered from walsender and WAL-receiver rows.
    pub edges: Vec<ReplicationEdge>,
    /// PgBouncer consoles.
    pub poolers: Vec<Pooler>,
    /// One row per PgBouncer pool (database × user).
    pub pools: Vec<Pool>,
    /// Redis nodes.
    pub caches: Vec<Cache>,
    /// Inference and moderation throughput.
    pub ai: Ai,
    /// Prometheus alerts, firing and pending.
    pub alerts: Vec<Alert>,
    /// Prometheus scrape targets.
    pub targets: Vec<Target>,
    /// Directly scraped `/metrics` endpoints.
    pub scrapes: Vec<ScrapeSummary>,
    /// Top statements per node, from the latest `pg_stat_statements` read.
    pub statements: Vec<NodeStatements>,
    /// What is wrong right now.
    pub anomalies: Vec<Anomaly>,
    /// Where incident episodes are recorded, or why they are not.
    pub store: StoreStatus,
}

/// The local store as the engine sees it: recording, or the reason it is not
/// (the watch goes on without it).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct StoreStatus {
    /// The store file, when one is attached.
    pub path: Option<String>,
    /// Why incidents are not being recorded (cannot open, a write failed).
    pub error: Option<String>,
}

/// A node's role, as `pg_is_in_recovery()` says right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Role {
    /// Out of recovery: takes writes.
    Primary,
    /// In recovery: a standby.
    Replica,
    /// Out of recovery but fenced by FleetDeck (read-only, commits held): a
    /// former primary that needs rejoining, never a primary.
    Fenced,
    /// Not reachable in this refresh.
    Unknown,
}

/// A PostgreSQL node.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Node {
    /// Name from the fleet file.
    pub name: String,
    /// `host:port` probed.
    pub address: String,
    /// Discovered role.
    pub role: Role,
    /// Answered within its timeout in this refresh.
    pub reachable: bool,
    /// Why not, when unreachable or when the probe failed.
    pub error: Option<String>,
    /// Probe wall time, ms.
    pub probe_ms: f64,
    /// The node it streams from, when discovered.
    pub upstream: Option<String>,
    /// 0 for a primary, 1 for its direct replicas, 2 for cascades from those, …
    pub tier: Option<u32>,
    /// `server_version`.
    pub version: Option<String>,
    /// Current timeline.
    pub timeline: Option<u32>,
    /// Primary: `pg_current_wal_lsn()`; replica: last replayed LSN.
    pub lsn: Option<String>,
    /// Replica: `pg_last_wal_receive_lsn()`.
    pub receive_lsn: Option<String>,
    /// Replica: `pg_last_wal_replay_lsn()`.
    pub replay_lsn: Option<String>,
    /// Replica: bytes behind the primary's current WAL position (when the primary is seen),
    /// else received-but-not-replayed bytes.
    #[ts(type = "number | null")]
    pub replay_lag_bytes: Option<u64>,
    /// Replica: seconds since the last replayed transaction's commit, 0 when fully caught up.
    pub replay_lag_seconds: Option<f64>,
    /// Replica: `pg_is_wal_replay_paused()`.
    pub replay_paused: bool,
    /// Replica: `pg_last_xact_replay_timestamp()`.
    pub last_replay_at: Option<String>,
    /// Replica: `pg_stat_wal_receiver`.
    pub wal_receiver: Option<WalReceiver>,
    /// Primary or cascading replica: `pg_stat_replication` rows.
    pub senders: Vec<WalSender>,
    /// `pg_replication_slots`.
    pub slots: Vec<Slot>,
    /// Backends against `max_connections`.
    pub connections: Connections,
}

/// `pg_stat_wal_receiver` on a standby.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct WalReceiver {
    /// `streaming`, `catchup`, … (absent row = not receiving).
    pub status: StreamState,
    /// Upstream host as configured in `primary_conninfo`.
    pub sender_host: Option<String>,
    /// Upstream port.
    pub sender_port: Option<i32>,
    /// Slot used on the upstream.
    pub slot_name: Option<String>,
    /// Timeline being received.
    pub received_tli: Option<i32>,
    /// Last message from the upstream, RFC 3339.
    pub last_msg_receipt_time: Option<String>,
}

/// A `pg_stat_replication` row: one downstream streaming from this node.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct WalSender {
    /// `application_name` of the downstream.
    pub application_name: String,
    /// Its address.
    pub client_addr: Option<String>,
    /// `startup`, `catchup`, `streaming`, …
    pub state: StreamState,
    /// `async`, `sync`, `potential`, `quorum`.
    pub sync_state: String,
    /// Sent LSN.
    pub sent_lsn: Option<String>,
    /// Written LSN.
    pub write_lsn: Option<String>,
    /// Flushed LSN.
    pub flush_lsn: Option<String>,
    /// Replayed LSN.
    pub replay_lsn: Option<String>,
    /// `write_lag`, seconds.
    pub write_lag_seconds: Option<f64>,
    /// `flush_lag`, seconds.
    pub flush_lag_seconds: Option<f64>,
    /// `replay_lag`, seconds.
    pub replay_lag_seconds: Option<f64>,
    /// This node's WAL position minus the downstream's replay LSN, bytes.
    #[ts(type = "number | null")]
    pub replay_lag_bytes: Option<u64>,
}

/// A replication slot.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Slot {
    /// Slot name.
    pub name: String,
    /// `physical` or `logical`.
    pub slot_type: String,
    /// A consumer is attached.
    pub active: bool,
    /// WAL kept for it, bytes.
    #[ts(type = "number | null")]
    pub retained_bytes: Option<u64>,
    /// `reserved`, `extended`, `unreserved`, `lost`.
    pub wal_status: Option<String>,
}

/// Backends by state against `max_connections`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Connections {
    /// Client backends.
    pub total: u32,
    /// `max_connections`.
    pub max: u32,
    /// Client backends by `pg_stat_activity.state`.
    pub by_state: BTreeMap<String, u32>,
}

/// An edge of the replication graph.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ReplicationEdge {
    /// The node sending WAL.
    pub upstream: String,
    /// The node receiving it.
    pub downstream: String,
    /// Walsender state (`streaming`, …), or the WAL receiver's when only that side is seen,
    /// `disconnected` when neither side reports the stream.
    pub state: StreamState,
    /// `async`, `sync`, … (`unknown` when the upstream is not seen).
    pub sync_state: String,
    /// Upstream's WAL position minus the downstream's replay LSN.
    #[ts(type = "number | null")]
    pub lag_bytes: Option<u64>,
    /// `replay_lag` from the walsender row.
    pub lag_seconds: Option<f64>,
    /// Within thresholds and streaming.
    pub healthy: bool,
}

/// A PgBouncer console.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Pooler {
    /// Name from the fleet file.
    pub name: String,
    /// `host:port`.
    pub address: String,
    /// Answered within its timeout.
    pub reachable: bool,
    /// Why not.
    pub error: Option<String>,
    /// The PostgreSQL node its databases point at (matched by host:port from `SHOW DATABASES`).
    pub node: Option<String>,
    /// Databases that are paused (`SHOW DATABASES` `paused = 1`): clients queue.
    pub paused: Vec<String>,
    /// `SHOW STATS` per database: queries per second over the last stats period.
    pub stats: Vec<PoolerStats>,
}

/// One `SHOW STATS` row, reduced to what the Pools view draws.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct PoolerStats {
    /// Database.
    pub database: String,
    /// `avg_xact_count`: transactions per second.
    pub xacts_per_second: f64,
    /// `avg_query_count`: queries per second.
    pub queries_per_second: f64,
    /// `avg_wait_time`: average client wait, seconds.
    pub avg_wait_seconds: f64,
}

/// One PgBouncer pool.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Pool {
    /// The PgBouncer's name.
    pub name: String,
    /// Database.
    pub database: String,
    /// User.
    pub user: String,
    /// Clients with a server connection.
    pub cl_active: u32,
    /// Clients waiting for one.
    pub cl_waiting: u32,
    /// Server connections in use.
    pub sv_active: u32,
    /// Idle server connections.
    pub sv_idle: u32,
    /// Server connections idle long enough to need a check.
    pub sv_used: u32,
    /// Oldest waiting client's wait, seconds (`maxwait + maxwait_us / 1e6`).
    pub maxwait_seconds: f64,
    /// `pool_size` from `SHOW DATABASES`.
    pub pool_size: u32,
    /// `pool_mode`.
    pub pool_mode: String,
    /// Clients waiting, or maxwait over threshold, or sv_active/pool_size at or above the ratio.
    pub saturated: bool,
    /// Which of those held.
    pub saturation_reasons: Vec<String>,
}

/// A Redis node.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Cache {
    /// Name from the fleet file.
    pub name: String,
    /// `host:port`.
    pub address: String,
    /// `master`, `replica`, or `unknown` when unreachable.
    pub role: CacheRole,
    /// Answered within its timeout.
    pub reachable: bool,
    /// Why not.
    pub error: Option<String>,
    /// The fleet's name for its master, when a replica and the master is in the fleet.
    pub upstream: Option<String>,
    /// Hits / (hits + misses) since the previous refresh (lifetime on the first).
    pub hit_ratio: Option<f64>,
    /// Hits / (hits + misses) since the server started.
    pub hit_ratio_lifetime: Option<f64>,
    /// `evicted_keys`.
    #[ts(type = "number")]
    pub evicted_keys: u64,
    /// `used_memory`.
    #[ts(type = "number")]
    pub used_memory_bytes: u64,
    /// `maxmemory` (0 = unlimited).
    #[ts(type = "number")]
    pub maxmemory_bytes: u64,
    /// `mem_fragmentation_ratio`.
    pub fragmentation_ratio: Option<f64>,
    /// `instantaneous_ops_per_sec`.
    pub ops_per_second: f64,
    /// `connected_clients`.
    pub connected_clients: u32,
    /// `blocked_clients`.
    pub blocked_clients: u32,
    /// Replica: `master_link_status` (`up`/`down`).
    pub master_link_status: Option<String>,
    /// Replica: master's offset minus this replica's (when both are seen), bytes.
    #[ts(type = "number | null")]
    pub replication_offset_lag: Option<i64>,
}

/// Inference and moderation throughput, from Prometheus.
#[derive(Debug, Clone, Default, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Ai {
    /// Prometheus answered.
    pub available: bool,
    /// Why not, or which panel's query failed.
    pub errors: Vec<String>,
    /// Generated tokens per second.
    pub generation_tokens_per_second: Option<f64>,
    /// Prompt tokens per second.
    pub prompt_tokens_per_second: Option<f64>,
    /// Requests running.
    pub requests_running: Option<f64>,
    /// Requests waiting.
    pub requests_waiting: Option<f64>,
    /// TTFT p50, s.
    pub ttft_p50_seconds: Option<f64>,
    /// TTFT p99, s.
    pub ttft_p99_seconds: Option<f64>,
    /// End-to-end p99, s.
    pub e2e_p99_seconds: Option<f64>,
    /// Successful requests per second.
    pub success_per_second: Option<f64>,
    /// KV-cache usage, 0..1.
    pub kv_cache_usage: Option<f64>,
    /// Moderation requests per second by decision.
    pub moderation_per_second: BTreeMap<String, f64>,
    /// Moderation latency p99, s.
    pub moderation_p99_seconds: Option<f64>,
    /// When these values were read from Prometheus, RFC 3339 (`None` before the
    /// first answer). Prometheus is read on its own schedule, never inline.
    pub read_at: Option<String>,
    /// Age of the reading when the snapshot was taken, seconds.
    pub age_seconds: Option<f64>,
}

/// A Prometheus alert.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Alert {
    /// `alertname`.
    pub name: String,
    /// `firing` or `pending`.
    pub state: String,
    /// `severity` label.
    pub severity: Option<String>,
    /// `summary` annotation.
    pub summary: Option<String>,
    /// Since when, RFC 3339.
    pub active_at: Option<String>,
    /// All labels.
    pub labels: BTreeMap<String, String>,
}

/// A Prometheus scrape target.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Target {
    /// `job` label.
    pub job: String,
    /// Scrape URL.
    pub url: String,
    /// `up`, `down`, `unknown`.
    pub health: String,
    /// Last scrape error.
    pub last_error: Option<String>,
}

/// One directly scraped exposition endpoint.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ScrapeSummary {
    /// Name from the fleet file.
    pub name: String,
    /// URL.
    pub url: String,
    /// Answered within its timeout with a 2xx.
    pub reachable: bool,
    /// Why not.
    pub error: Option<String>,
    /// Samples parsed.
    pub samples: u32,
    /// Malformed lines, `line N: reason`.
    pub parse_errors: Vec<String>,
    /// When the values shown were read, RFC 3339 (`None` before the first answer).
    pub read_at: Option<String>,
    /// Age of that reading when the snapshot was taken, seconds.
    pub age_seconds: Option<f64>,
}

/// `pg_stat_statements` top-N of one node.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct NodeStatements {
    /// Node.
    pub node: String,
    /// When read, RFC 3339.
    pub read_at: String,
    /// Rows, by total time descending.
    pub top: Vec<Statement>,
}

/// One `pg_stat_statements` row.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Statement {
    /// `queryid` (as text: it is a signed 64-bit hash).
    pub query_id: String,
    /// Normalised query text. Shown as text, never as HTML.
    pub query: String,
    /// Role name.
    pub user: Option<String>,
    /// Calls.
    #[ts(type = "number")]
    pub calls: i64,
    /// Total execution time, ms.
    pub total_ms: f64,
    /// Mean execution time, ms.
    pub mean_ms: f64,
    /// Rows returned or affected.
    #[ts(type = "number")]
    pub rows: i64,
    /// Shared-buffer hit ratio of its reads.
    pub hit_ratio: Option<f64>,
}

/// What kind of thing is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum AnomalyKind {
    /// More than one node out of recovery.
    SplitBrain,
    /// A former primary FleetDeck fenced: it must be rejoined as a replica.
    NeedsRejoin,
    /// A PgBouncer database is paused: its clients queue until `RESUME`.
    PoolerPaused,
    /// No reachable node is out of recovery.
    NoPrimary,
    /// A node did not answer.
    NodeUnreachable,
    /// A replica has no streaming WAL receiver.
    ReplicaNotStreaming,
    /// A replica's replay is paused.
    ReplayPaused,
    /// An edge's lag is over a threshold.
    LagOverThreshold,
    /// A slot retains more WAL than the threshold, or is inactive.
    SlotRetainingWal,
    /// A pool is saturated.
    PoolSaturated,
    /// A PgBouncer did not answer.
    PoolerUnreachable,
    /// A cache node did not answer.
    CacheUnreachable,
    /// A cache replica's link to its master is down.
    CacheReplicaLinkDown,
    /// Connections near `max_connections`.
    ConnectionsNearMax,
    /// A scrape or Prometheus query failed or returned malformed data.
    MetricsUnavailable,
}

/// How loud.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Severity {
    /// Look soon.
    Warning,
    /// Look now.
    Critical,
}

/// Something wrong right now, with a human message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Anomaly {
    /// Kind.
    pub kind: AnomalyKind,
    /// Severity.
    pub severity: Severity,
    /// What it concerns, as typed fields (never a string to parse).
    pub subject: Subject,
    /// What an on-call engineer needs to read.
    pub message: String,
    /// When this episode of the anomaly was first seen, RFC 3339 UTC: kept by
    /// the engine across refreshes (and across restarts when it has a store),
    /// so an incident clock counts from the true start. `None` straight out of
    /// [`crate::anomaly::detect`], before the engine has tracked it.
    pub since: Option<String>,
    /// The numbers that made it fire (`lag_bytes`, `cl_waiting`, …); the
    /// engine keeps each episode's worst as its peak.
    pub figures: BTreeMap<String, f64>,
}

/// What an anomaly concerns. Serialised with a `kind` tag
/// (`{"kind":"edge","upstream":"pg0","downstream":"pg2"}`), so the UI reads
/// fields and the store keys episodes on a canonical value.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[ts(export)]
pub enum Subject {
    /// The whole fleet (e.g. no primary).
    Fleet,
    /// One PostgreSQL node.
    Node {
        /// Fleet name of the node.
        node: String,
    },
    /// Several PostgreSQL nodes together (split brain: every node out of recovery).
    Nodes {
        /// Fleet names, sorted.
        nodes: Vec<String>,
    },
    /// A replication edge.
    Edge {
        /// The node sending WAL.
        upstream: String,
        /// The node receiving it.
        downstream: String,
    },
    /// A replication slot on a node.
    Slot {
        /// The node holding the slot.
        node: String,
        /// Slot name.
        slot: String,
    },
    /// A PgBouncer console.
    Pooler {
        /// Fleet name of the pooler.
        pooler: String,
    },
    /// One database's pool on a PgBouncer.
    Pool {
        /// Fleet name of the pooler.
        pooler: String,
        /// Database.
        database: String,
    },
    /// One Redis node.
    Cache {
        /// Fleet name of the cache.
        cache: String,
    },
    /// A Redis replica's link to its master.
    CacheLink {
        /// Fleet name of the master.
        master: String,
        /// Fleet name of the replica.
        replica: String,
    },
    /// A metrics source: a `[[scrape]]` endpoint by name, or `prometheus`.
    Metrics {
        /// Scrape endpoint name, or `prometheus`.
        source: String,
    },
}

impl Subject {
    /// Every fleet name the subject concerns (a node, both ends of an edge, …),
    /// for grouping anomalies under what they touch.
    pub fn names(&self) -> Vec<&str> {
        match self {
            Subject::Fleet => Vec::new(),
            Subject::Node { node } | Subject::Slot { node, .. } => vec![node],
            Subject::Nodes { nodes } => nodes.iter().map(String::as_str).collect(),
            Subject::Edge { upstream, downstream } => vec![upstream, downstream],
            Subject::Pooler { pooler } | Subject::Pool { pooler, .. } => vec![pooler],
            Subject::Cache { cache } => vec![cache],
            Subject::CacheLink { master, replica } => vec![master, replica],
            Subject::Metrics { source } => vec![source],
        }
    }
}

impl std::fmt::Display for Subject {
    /// Short human form for terminals and logs: `pg0`, `pg0→pg2`, `pgb0/chat`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Subject::Fleet => f.write_str("fleet"),
            Subject::Node { node } => f.write_str(node),
            Subject::Nodes { nodes } => f.write_str(&nodes.join(", ")),
            Subject::Edge { upstream, downstream } => write!(f, "{upstream}→{downstream}"),
            Subject::Slot { node, slot } => write!(f, "{node}/{slot}"),
            Subject::Pooler { pooler } => f.write_str(pooler),
            Subject::Pool { pooler, database } => write!(f, "{pooler}/{database}"),
            Subject::Cache { cache } => f.write_str(cache),
            Subject::CacheLink { master, replica } => write!(f, "{master}→{replica}"),
            Subject::Metrics { source } => f.write_str(source),
        }
    }
}

/// A WAL stream's state: a walsender's `pg_stat_replication.state`, a
/// standby's `pg_stat_wal_receiver.status`, or `disconnected` when neither side
/// reports it. A value this version does not know is kept as reported.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum StreamState {
    /// Streaming WAL as it is written.
    Streaming,
    /// Catching up on a backlog.
    Catchup,
    /// Walsender starting.
    Startup,
    /// Walsender sending a base backup.
    Backup,
    /// Shutting down.
    Stopping,
    /// WAL receiver stopped.
    Stopped,
    /// WAL receiver starting.
    Starting,
    /// WAL receiver waiting for the upstream.
    Waiting,
    /// WAL receiver restarting.
    Restarting,
    /// Neither side reports the stream.
    Disconnected,
    /// Any other value, kept as reported.
    #[serde(untagged)]
    Other(String),
}

impl StreamState {
    /// Reads a state as PostgreSQL reports it.
    pub fn parse(s: &str) -> Self {
        serde_json::from_value(serde_json::Value::String(s.to_string())).unwrap_or_else(|_| Self::Other(s.to_string()))
    }
}

impl std::fmt::Display for StreamState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::String(s)) => f.write_str(&s),
            _ => f.write_str("?"),
        }
    }
}

/// A Redis node's role. `INFO`'s `slave` reads as [`CacheRole::Replica`];
/// a value this version does not know is kept as reported.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum CacheRole {
    /// Takes writes.
    Master,
    /// Follows a master.
    Replica,
    /// Not reachable in this refresh.
    Unknown,
    /// Any other value, kept as reported.
    #[serde(untagged)]
    Other(String),
}

impl CacheRole {
    /// Reads `INFO`'s `role`.
    pub fn parse(s: &str) -> Self {
        match s {
            "master" => Self::Master,
            "slave" | "replica" => Self::Replica,
            other => Self::Other(other.to_string()),
        }
    }
}

impl std::fmt::Display for CacheRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Master => "master",
            Self::Replica => "replica",
            Self::Unknown => "unknown",
            Self::Other(s) => s,
        })
    }
}
