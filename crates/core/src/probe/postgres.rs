//! The PostgreSQL probe: everything the topology, the Pools view's backend
//! counts and the anomaly rules need from one node, in ONE statement per
//! refresh (a single catalogue SELECT whose nested rows come back as JSON),
//! plus `pg_stat_statements` every Nth refresh because it is the costly read.
//! At most two statements per node per refresh; the benchmark counts them.
//!
//! The connection is kept between refreshes and both statements are prepared
//! once per connection (the monitor login talks to PostgreSQL directly, not
//! through PgBouncer, so named prepared statements are safe).

use std::time::Duration;

use serde::Deserialize;
use tokio_postgres::{Client, Statement as Prepared};

use super::{Backoff, ProbeError};
use crate::pg::{self, PgError, Phase};
use crate::fleet::PostgresEndpoint;
use crate::snapshot::{Connections, Slot, Statement, StreamState, WalReceiver, WalSender};

/// The one statement read every refresh. Functions that fail during recovery
/// (`pg_current_wal_lsn`, `pg_walfile_name`) sit behind CASE, which PostgreSQL
/// evaluates lazily for volatile functions. Replay lag in seconds is measured
/// against `clock_timestamp()`, not `now()`: `now()` is the statement's start,
/// and a commit replayed a moment after it read as a negative lag.
const STATUS_SQL: &str = r#"
SELECT
  current_setting('server_version') AS version,
  current_setting('cluster_name') AS cluster_name,
  pg_is_in_recovery() AS in_recovery,
  CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_lsn()::text END AS current_lsn,
  pg_last_wal_receive_lsn()::text AS receive_lsn,
  pg_last_wal_replay_lsn()::text AS replay_lsn,
  CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() ELSE false END AS replay_paused,
  to_char(pg_last_xact_replay_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS last_replay_at,
  (CASE WHEN NOT pg_is_in_recovery() THEN NULL
        WHEN pg_last_wal_receive_lsn() IS NOT NULL AND pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
        ELSE greatest(0, extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp())) END)::float8 AS replay_lag_seconds,
  (CASE WHEN pg_is_in_recovery() THEN (SELECT timeline_id FROM pg_control_checkpoint())
        ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int END)::int AS timeline,
  current_setting('max_connections')::int AS max_connections,
  current_setting('synchronous_standby_names') = 'fleetdeck_fenced' AS fenced,
  (SELECT coalesce(json_object_agg(s, n), '{}') FROM
     (SELECT coalesce(state, 'unknown') AS s, count(*) AS n FROM pg_stat_activity
      WHERE backend_type = 'client backend' GROUP BY 1) a)::text AS backends,
  (SELECT coalesce(json_agg(json_build_object(
      'application_name', application_name, 'client_addr', host(client_addr), 'state', state,
      'sync_state', sync_state, 'sent_lsn', sent_lsn::text, 'write_lsn', write_lsn::text,
      'flush_lsn', flush_lsn::text, 'replay_lsn', replay_lsn::text,
      'write_lag_seconds', extract(epoch FROM write_lag), 'flush_lag_seconds', extract(epoch FROM flush_lag),
      'replay_lag_seconds', extract(epoch FROM replay_lag),
      'replay_lag_bytes', pg_wal_lsn_diff(
          CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn() ELSE pg_current_wal_lsn() END, replay_lsn)
   ) ORDER BY application_name), '[]') FROM pg_stat_replication)::text AS senders,
  (SELECT coalesce(json_agg(json_build_object(
      'name', slot_name, 'slot_type', slot_type, 'active', active, 'wal_status', wal_status,
      'retained_bytes', pg_wal_lsn_diff(
          CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END, restart_lsn)
   ) ORDER BY slot_name), '[]') FROM pg_replication_slots)::text AS slots,
  (SELECT json_build_object(
      'status', status, 'sender_host', sender_host, 'sender_port', sender_port, 'slot_name', slot_name,
      'received_tli', received_tli,
      'last_msg_receipt_time', to_char(last_msg_receipt_time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
   FROM pg_stat_wal_receiver)::text AS wal_receiver
"#;

/// Top statements by total time and by mean time (the union: a rare but slow
/// query matters as much as a cheap one called a million times).
const STATEMENTS_SQL: &str = r#"
WITH s AS (
  SELECT queryid, query, userid, calls, total_exec_time, mean_exec_time, rows, shared_blks_hit, shared_blks_read
  FROM pg_stat_statements WHERE queryid IS NOT NULL
), top AS (
  (SELECT * FROM s ORDER BY total_exec_time DESC LIMIT $1)
  UNION
  (SELECT * FROM s ORDER BY mean_exec_time DESC LIMIT $1)
)
SELECT queryid::text, query, r.rolname::text, calls, total_exec_time, mean_exec_time, rows,
       CASE WHEN shared_blks_hit + shared_blks_read > 0
            THEN shared_blks_hit::float8 / (shared_blks_hit + shared_blks_read) END
FROM top LEFT JOIN pg_roles r ON r.oid = top.userid
ORDER BY total_exec_time DESC
"#;

/// What one node said in one refresh.
#[derive(Debug, Clone)]
pub struct PgReading {
    /// `host:port`.
    pub address: String,
    /// `server_version`.
    pub version: String,
    /// `cluster_name`: the default `application_name` of its WAL receiver.
    pub cluster_name: String,
    /// `pg_is_in_recovery()`.
    pub in_recovery: bool,
    /// FleetDeck's fence is on (`synchronous_standby_names` is its sentinel):
    /// a former primary that must not take writes and needs rejoining.
    pub fenced: bool,
    /// Primary only: `pg_current_wal_lsn()`.
    pub current_lsn: Option<String>,
    /// Replica: `pg_last_wal_receive_lsn()`.
    pub receive_lsn: Option<String>,
    /// Replica: `pg_last_wal_replay_lsn()`.
    pub replay_lsn: Option<String>,
    /// Replica: `pg_is_wal_replay_paused()`.
    pub replay_paused: bool,
    /// Replica: `pg_last_xact_replay_timestamp()`, RFC 3339.
    pub last_replay_at: Option<String>,
    /// Replica: 0 when everything received is replayed, else now − last replayed commit.
    pub replay_lag_seconds: Option<f64>,
    /// Timeline: the current WAL file's on a primary, the last checkpoint's on a standby.
    pub timeline: Option<u32>,
    /// `pg_stat_wal_receiver`, when a receiver runs.
    pub wal_receiver: Option<WalReceiver>,
    /// `pg_stat_replication`.
    pub senders: Vec<WalSender>,
    /// `pg_replication_slots`.
    pub slots: Vec<Slot>,
    /// Client backends by state vs `max_connections`.
    pub connections: Connections,
    /// `pg_stat_statements` top rows, when read in this refresh.
    pub statements: Option<Result<Vec<Statement>, String>>,
}

/// A kept connection to one PostgreSQL node with its prepared statements.
pub struct PostgresProbe {
    endpoint: PostgresEndpoint,
    conn: Option<(Client, Prepared, Option<Prepared>)>,
    address: String,
    backoff: Backoff,
}

impl PostgresProbe {
    /// A probe for `endpoint`; connects on the first read.
    pub fn new(endpoint: PostgresEndpoint) -> Self {
        let address = pg::address(&endpoint.monitor);
        Self { endpoint, conn: None, address, backoff: Backoff::default() }
    }

    /// The node's fleet name.
    pub fn name(&self) -> &str {
        &self.endpoint.name
    }

    /// `host:port` probed.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Reads the node within `timeout`; `statements_limit` = Some(n) also reads
    /// the top-n of `pg_stat_statements` in this refresh.
    pub async fn read(&mut self, timeout: Duration, statements_limit: Option<u32>) -> Result<PgReading, ProbeError> {
        match tokio::time::timeout(timeout, self.read_inner(timeout, statements_limit)).await {
            Ok(Ok(r)) => {
                self.backoff.succeeded();
                Ok(r)
            }
            Ok(Err(e)) => Err(self.fail(e)),
            Err(_) => Err(self.fail(ProbeError::Timeout(timeout))),
        }
    }

    fn fail(&mut self, e: ProbeError) -> ProbeError {
        // After a timeout or error the connection's state is unknown: drop it.
        self.conn = None;
        if !matches!(e, ProbeError::Backoff { .. }) {
            self.backoff.failed(&e);
        }
        e
    }

    async fn read_inner(&mut self, timeout: Duration, statements_limit: Option<u32>) -> Result<PgReading, ProbeError> {
        if self.conn.as_ref().is_some_and(|(c, _, _)| c.is_closed()) {
            self.conn = None;
        }
        if self.conn.is_none() {
            self.backoff.check()?;
            let (client, resolved) = pg::connect(&self.endpoint.monitor, "fleetdeck", timeout).await?;
            self.address = resolved.address();
            let address = self.address.clone();
            let q = move |what: &str, e: tokio_postgres::Error| ProbeError::from(PgError::from_driver(&address, Phase::Query, Some(what), &e));
            let status = client.prepare(STATUS_SQL).await.map_err(|e| q("preparing the status query", e))?;
            // pg_stat_statements may be missing: that only loses the Queries view.
            let statements = client.prepare(STATEMENTS_SQL).await.ok();
            self.conn = Some((client, status, statements));
        }
        let (client, status, statements) = self.conn.as_ref().expect("connected above");
        let row = client
            .query_one(status, &[])
            .await
            .map_err(|e| PgError::from_driver(&self.address, Phase::Query, Some("status query"), &e))?;
        let mut reading = parse_status(&self.address, &row)?;
        if let Some(limit) = statements_limit {
            reading.statements = Some(match statements {
                None => Err("pg_stat_statements is not installed in this database".to_string()),
                Some(stmt) => client
                    .query(stmt, &[&i64::from(limit)])
                    .await
                    .map(|rows| rows.iter().map(statement_row).collect())
                    .map_err(|e| pg::error_text(&e)),
            });
        }
        Ok(reading)
    }
}

fn json_col<T: for<'de> Deserialize<'de>>(row: &tokio_postgres::Row, col: &str) -> Result<Option<T>, ProbeError> {
    let text: Option<String> = row.get(col);
    text.map(|t| {
        serde_json::from_str(&t).map_err(|e| ProbeError::Malformed { what: format!("status query column {col}"), reason: e.to_string() })
    })
    .transpose()
}

/// f64 seconds/bytes from JSON numbers that PostgreSQL may print as 1e+21 or null.
#[derive(Deserialize)]
struct SenderJson {
    application_name: String,
    client_addr: Option<String>,
    state: Option<String>,
    sync_state: Option<String>,
    sent_lsn: Option<String>,
    write_lsn: Option<String>,
    flush_lsn: Option<String>,
    replay_lsn: Option<String>,
    write_lag_seconds: Option<f64>,
    flush_lag_seconds: Option<f64>,
    replay_lag_seconds: Option<f64>,
    replay_lag_bytes: Option<f64>,
}

#[derive(Deserialize)]
struct SlotJson {
    name: String,
    slot_type: String,
    active: bool,
    wal_status: Option<String>,
    retained_bytes: Option<f64>,
}

#[derive(Deserialize)]
struct ReceiverJson {
    status: String,
    sender_host: Option<String>,
    sender_port: Option<i32>,
    slot_name: Option<String>,
    received_tli: Option<i32>,
    last_msg_receipt_time: Option<String>,
}

fn non_negative(v: Option<f64>) -> Option<u64> {
    v.map(|b| b.max(0.0) as u64)
}

fn parse_status(address: &str, row: &tokio_postgres::Row) -> Result<PgReading, ProbeError> {
    let backends: std::collections::BTreeMap<String, u32> = json_col(row, "backends")?.unwrap_or_default();
    let senders: Vec<SenderJson> = json_col(row, "senders")?.unwrap_or_default();
    let slots: Vec<SlotJson> = json_col(row, "slots")?.unwrap_or_default();
    let receiver: Option<ReceiverJson> = json_col(row, "wal_receiver")?;
    Ok(PgReading {
        address: address.to_string(),
        version: row.get("version"),
        cluster_name: row.get("cluster_name"),
        in_recovery: row.get("in_recovery"),
        fenced: row.get("fenced"),
        current_lsn: row.get("current_lsn"),
        receive_lsn: row.get("receive_lsn"),
        replay_lsn: row.get("replay_lsn"),
        replay_paused: row.get("replay_paused"),
        last_replay_at: row.get("last_replay_at"),
        replay_lag_seconds: row.get("replay_lag_seconds"),
        timeline: row.get::<_, Option<i32>>("timeline").map(|t| t as u32),
        wal_receiver: receiver.map(|r| WalReceiver {
            status: StreamState::parse(&r.status),
            sender_host: r.sender_host,
            sender_port: r.sender_port,
            slot_name: r.slot_name,
            received_tli: r.received_tli,
            last_msg_receipt_time: r.last_msg_receipt_time,
        }),
        senders: senders
            .into_iter()
            .map(|s| WalSender {
                application_name: s.application_name,
                client_addr: s.client_addr,
                state: StreamState::parse(s.state.as_deref().unwrap_or("unknown")),
                sync_state: s.sync_state.unwrap_or_else(|| "unknown".into()),
                sent_lsn: s.sent_lsn,
                write_lsn: s.write_lsn,
                flush_lsn: s.flush_lsn,
                replay_lsn: s.replay_lsn,
                write_lag_seconds: s.write_lag_seconds,
                flush_lag_seconds: s.flush_lag_seconds,
                replay_lag_seconds: s.replay_lag_seconds,
                replay_lag_bytes: non_negative(s.replay_lag_bytes),
            })
            .collect(),
        slots: slots
            .into_iter()
            .map(|s| Slot {
                name: s.name,
                slot_type: s.slot_type,
                active: s.active,
                retained_bytes: non_negative(s.retained_bytes),
                wal_status: s.wal_status,
            })
            .collect(),
        connections: Connections {
            total: backends.values().sum(),
            max: row.get::<_, i32>("max_connections") as u32,
            by_state: backends,
        },
        statements: None,
    })
}

fn statement_row(r: &tokio_postgres::Row) -> Statement {
    Statement {
        query_id: r.get(0),
        query: r.get(1),
        user: r.get(2),
        calls: r.get(3),
        total_ms: r.get(4),
        mean_ms: r.get(5),
        rows: r.get(6),
        hit_ratio: r.get(7),
    }
}

/// Parses a PostgreSQL LSN (`16/B374D848`) into a byte position.
pub fn parse_lsn(lsn: &str) -> Option<u64> {
    let (hi, lo) = lsn.split_once('/')?;
    Some((u64::from_str_radix(hi, 16).ok()? << 32) | u64::from_str_radix(lo, 16).ok()?)
}

#[cfg(test)]
mod tests {
    use super::parse_lsn;

    #[test]
    fn lsns_parse_as_64_bit_positions() {
        assert_eq!(parse_lsn("0/0"), Some(0));
        assert_eq!(parse_lsn("16/B374D848"), Some((0x16 << 32) | 0xB374_D848));
        assert_eq!(parse_lsn("garbage"), None, "a malformed LSN is not a position");
    }
}
