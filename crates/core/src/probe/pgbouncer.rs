//! PgBouncer admin console probe: the Pools view and the first visible sign of
//! trouble in the reference stack (clients queueing for a server connection).
//!
//! The admin console speaks only the simple-query protocol, so every read is a
//! `simple_query` of `SHOW POOLS`, `SHOW STATS` and `SHOW DATABASES`. Their
//! columns change between PgBouncer versions (1.18 in the lab adds
//! `cl_active_cancel_req`, later ones add more), so columns are looked up by
//! name, never by position; a column we need that is missing is reported as
//! [`ProbeError::Malformed`] naming it rather than read as zero.
//!
//! Saturation is decided here, by [`pools`], because it needs two of the three
//! answers at once: the pool's counters from `SHOW POOLS` and its `pool_size`
//! from `SHOW DATABASES`.

use std::time::Duration;

use tokio_postgres::{Client, SimpleQueryMessage};

use super::{Backoff, ProbeError};
use crate::fleet::PgBouncerEndpoint;
use crate::snapshot::PoolerStats;

/// PgBouncer's own admin console database: it fronts no server and is not a
/// pool anyone waits on.
pub const ADMIN_DATABASE: &str = "pgbouncer";

/// One PgBouncer console, with its connection kept between refreshes.
pub struct PgBouncerProbe {
    endpoint: PgBouncerEndpoint,
    client: Option<Client>,
    backoff: Backoff,
    address: String,
}

/// One read of a PgBouncer console.
#[derive(Debug, Clone)]
pub struct PgBouncerReading {
    /// `host:port` of the console.
    pub address: String,
    /// `SHOW POOLS`, including the admin database's own pool.
    pub pools: Vec<PoolRow>,
    /// `SHOW STATS`, per database.
    pub stats: Vec<PoolerStats>,
    /// `SHOW DATABASES`.
    pub databases: Vec<DatabaseRow>,
}

/// One `SHOW POOLS` row (database × user).
#[derive(Debug, Clone, PartialEq)]
pub struct PoolRow {
    /// `database`.
    pub database: String,
    /// `user`.
    pub user: String,
    /// `cl_active`: clients linked to a server connection or idle.
    pub cl_active: u32,
    /// `cl_waiting`: clients queued for a server connection.
    pub cl_waiting: u32,
    /// `sv_active`: server connections linked to a client.
    pub sv_active: u32,
    /// `sv_idle`: server connections ready for use.
    pub sv_idle: u32,
    /// `sv_used`: server connections idle long enough to need `server_check_query`.
    pub sv_used: u32,
    /// `maxwait + maxwait_us / 1e6`: how long the oldest waiting client has waited.
    pub maxwait_seconds: f64,
    /// `pool_mode` in effect for this pool.
    pub pool_mode: String,
}

/// One `SHOW DATABASES` row.
#[derive(Debug, Clone, PartialEq)]
pub struct DatabaseRow {
    /// `name`: the database name clients connect to.
    pub name: String,
    /// `host` of the PostgreSQL server behind it (`None` for the admin database or a Unix socket default).
    pub host: Option<String>,
    /// `port` of that server.
    pub port: Option<u16>,
    /// `database`: the actual database name on the server.
    pub database: String,
    /// `pool_size`: maximum server connections per user for this database.
    pub pool_size: u32,
    /// `pool_mode` when set for this database; `None` means the global default applies.
    pub pool_mode: Option<String>,
    /// `paused`: `PAUSE` is in force (or pending) for this database.
    pub paused: bool,
}

impl PgBouncerProbe {
    /// A probe for `endpoint`; it connects on its first [`read`](Self::read).
    pub fn new(endpoint: PgBouncerEndpoint) -> Self {
        // The address is shown even when the console never answers, so resolve it now
        // (environment defaults included), falling back to the name if the string cannot resolve.
        let address = endpoint
            .admin
            .resolve(&|k| std::env::var(k).ok())
            .map(|r| r.address())
            .unwrap_or_else(|_| endpoint.name.clone());
        Self { endpoint, client: None, backoff: Backoff::default(), address }
    }

    /// The name from the fleet file.
    pub fn name(&self) -> &str {
        &self.endpoint.name
    }

    /// `host:port` of the console.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Reads `SHOW POOLS`, `SHOW STATS` and `SHOW DATABASES` within `timeout`
    /// (connecting first if needed). Any failure drops the connection — after a
    /// timeout its protocol state is unknown — and starts the backoff.
    pub async fn read(&mut self, timeout: Duration) -> Result<PgBouncerReading, ProbeError> {
        // A connection the server already closed (PgBouncer restarted, client_idle_timeout)
        // is known dead before we use it: replace it now instead of failing this refresh.
        if self.client.as_ref().is_some_and(Client::is_closed) {
            self.client = None;
        }
        if self.client.is_none() {
            self.backoff.check()?;
        }
        let result = match tokio::time::timeout(timeout, self.read_within(timeout)).await {
            Ok(r) => r,
            Err(_) => Err(ProbeError::Timeout(timeout)),
        };
        match &result {
            Ok(_) => self.backoff.succeeded(),
            Err(e) => {
                self.client = None;
                self.backoff.failed(e);
            }
        }
        result
    }

    async fn read_within(&mut self, timeout: Duration) -> Result<PgBouncerReading, ProbeError> {
        if self.client.is_none() {
            let (client, resolved) = crate::pg::connect(&self.endpoint.admin, "fleetdeck", timeout).await?;
            self.address = resolved.address();
            self.client = Some(client);
        }
        let client = self.client.as_ref().expect("connected above");
        // Pipelined on the one connection: one round trip instead of three.
        let (pools, stats, databases) =
            tokio::try_join!(show(client, "SHOW POOLS"), show(client, "SHOW STATS"), show(client, "SHOW DATABASES"))?;
        Ok(PgBouncerReading {
            address: self.address.clone(),
            pools: pool_rows(&pools)?,
            stats: stats_rows(&stats)?,
            databases: database_rows(&databases)?,
        })
    }
}

/// The answer to one `SHOW`: column names and text values, as the simple-query
/// protocol carries them. Kept separate from tokio-postgres' row type so the
/// column lookups can be tested with hand-written tables.
#[derive(Debug, Clone, Default)]
pub(crate) struct ShowTable {
    /// Which command produced it, for error messages.
    command: String,
    /// Column names, in order.
    columns: Vec<String>,
    /// Rows of text values (`None` = SQL NULL).
    rows: Vec<Vec<Option<String>>>,
}

pub(crate) async fn show(client: &Client, command: &str) -> Result<ShowTable, ProbeError> {
    let messages = client
        .simple_query(command)
        .await
        .map_err(|e| crate::pg::PgError::from_driver("pgbouncer", crate::pg::Phase::Query, Some(command), &e))?;
    let mut table = ShowTable { command: command.to_string(), ..ShowTable::default() };
    for message in messages {
        match message {
            SimpleQueryMessage::RowDescription(columns) => {
                table.columns = columns.iter().map(|c| c.name().to_string()).collect();
            }
            SimpleQueryMessage::Row(row) => {
                if table.columns.is_empty() {
                    table.columns = row.columns().iter().map(|c| c.name().to_string()).collect();
                }
                table.rows.push((0..row.len()).map(|i| row.get(i).map(str::to_string)).collect());
            }
            _ => {}
        }
    }
    Ok(table)
}

/// Reads one row of a [`ShowTable`] by column name.
struct Cells<'a> {
    table: &'a ShowTable,
    row: &'a [Option<String>],
}

impl<'a> Cells<'a> {
    fn malformed(&self, reason: String) -> ProbeError {
        ProbeError::Malformed { what: self.table.command.clone(), reason }
    }

    fn index(&self, column: &str) -> Option<usize> {
        self.table.columns.iter().position(|c| c == column)
    }

    /// The column's value; `None` when the column exists and is NULL. A missing column is an error.
    fn nullable(&self, column: &str) -> Result<Option<&'a str>, ProbeError> {
        let i = self.index(column).ok_or_else(|| {
            self.malformed(format!("no column '{column}' (columns: {})", self.table.columns.join(", ")))
        })?;
        Ok(self.row.get(i).and_then(|v| v.as_deref()))
    }

    fn text(&self, column: &str) -> Result<&'a str, ProbeError> {
        self.nullable(column)?.ok_or_else(|| self.malformed(format!("column '{column}' is NULL")))
    }

    fn number<T: std::str::FromStr>(&self, column: &str) -> Result<T, ProbeError> {
        let v = self.text(column)?;
        v.trim().parse().map_err(|_| self.malformed(format!("column '{column}' is '{v}', not a number in range")))
    }
}

fn rows(table: &ShowTable) -> impl Iterator<Item = Cells<'_>> {
    table.rows.iter().map(move |row| Cells { table, row })
}

/// Decodes `SHOW POOLS`.
fn pool_rows(table: &ShowTable) -> Result<Vec<PoolRow>, ProbeError> {
    rows(table)
        .map(|c| {
            // maxwait_us arrived in PgBouncer 1.8; without it the wait is whole seconds.
            let maxwait_us: u64 = if c.index("maxwait_us").is_some() { c.number("maxwait_us")? } else { 0 };
            Ok(PoolRow {
                database: c.text("database")?.to_string(),
                user: c.text("user")?.to_string(),
                cl_active: c.number("cl_active")?,
                cl_waiting: c.number("cl_waiting")?,
                sv_active: c.number("sv_active")?,
                sv_idle: c.number("sv_idle")?,
                sv_used: c.number("sv_used")?,
                maxwait_seconds: c.number::<u64>("maxwait")? as f64 + maxwait_us as f64 / 1e6,
                pool_mode: c.text("pool_mode")?.to_string(),
            })
        })
        .collect()
}

/// Decodes `SHOW STATS` (`avg_wait_time` is in microseconds).
fn stats_rows(table: &ShowTable) -> Result<Vec<PoolerStats>, ProbeError> {
    rows(table)
        .map(|c| {
            Ok(PoolerStats {
                database: c.text("database")?.to_string(),
                xacts_per_second: c.number("avg_xact_count")?,
                queries_per_second: c.number("avg_query_count")?,
                avg_wait_seconds: c.number::<f64>("avg_wait_time")? / 1e6,
            })
        })
        .collect()
}

/// `SHOW DATABASES` on an open admin console (guarded actions read it too).
pub async fn show_databases(client: &Client) -> Result<Vec<DatabaseRow>, ProbeError> {
    database_rows(&show(client, "SHOW DATABASES").await?)
}

/// Decodes `SHOW DATABASES`.
pub(crate) fn database_rows(table: &ShowTable) -> Result<Vec<DatabaseRow>, ProbeError> {
    rows(table)
        .map(|c| {
            let port = match c.nullable("port")? {
                Some(p) => Some(
                    p.trim().parse::<u16>().map_err(|_| c.malformed(format!("column 'port' is '{p}', not a port")))?,
                ),
                None => None,
            };
            Ok(DatabaseRow {
                name: c.text("name")?.to_string(),
                host: c.nullable("host")?.filter(|h| !h.is_empty()).map(str::to_string),
                port,
                database: c.text("database")?.to_string(),
                pool_size: c.number("pool_size")?,
                pool_mode: c.nullable("pool_mode")?.filter(|m| !m.is_empty()).map(str::to_string),
                // Older PgBouncers have no column: never paused as far as we can tell.
                paused: c.index("paused").is_some() && c.nullable("paused")?.is_some_and(|p| p.trim() == "1"),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(command: &str, columns: &[&str], rows: &[&[Option<&str>]]) -> ShowTable {
        ShowTable {
            command: command.into(),
            columns: columns.iter().map(|c| c.to_string()).collect(),
            rows: rows.iter().map(|r| r.iter().map(|v| v.map(str::to_string)).collect()).collect(),
        }
    }

    #[test]
    fn show_pools_columns_are_found_by_name_in_any_order() {
        let t = table(
            "SHOW POOLS",
            &[
                "pool_mode",
                "maxwait_us",
                "maxwait",
                "sv_used",
                "sv_idle",
                "sv_active",
                "cl_waiting",
                "cl_active",
                "user",
                "database",
                "sv_login",
            ],
            &[&[
                Some("transaction"),
                Some("500000"),
                Some("2"),
                Some("0"),
                Some("1"),
                Some("3"),
                Some("5"),
                Some("4"),
                Some("chat_app"),
                Some("chat"),
                Some("0"),
            ]],
        );
        let rows = pool_rows(&t).unwrap();
        assert_eq!(rows[0].maxwait_seconds, 2.5, "maxwait + maxwait_us / 1e6");
        assert_eq!((rows[0].cl_waiting, rows[0].sv_active), (5, 3));
    }

    #[test]
    fn a_missing_or_bad_column_is_malformed_and_named() {
        let t = table("SHOW POOLS", &["database", "user"], &[&[Some("chat"), Some("u")]]);
        let Err(ProbeError::Malformed { what, reason }) = pool_rows(&t) else {
            panic!("a missing column must be Malformed")
        };
        assert_eq!(what, "SHOW POOLS");
        assert!(reason.contains("no column 'cl_active'"), "the reason names the column: {reason}");

        let t = table(
            "SHOW STATS",
            &["database", "avg_xact_count", "avg_query_count", "avg_wait_time"],
            &[&[Some("chat"), Some("lots"), Some("1"), Some("1")]],
        );
        let Err(ProbeError::Malformed { reason, .. }) = stats_rows(&t) else {
            panic!("a non-number must be Malformed")
        };
        assert!(reason.contains("'avg_xact_count' is 'lots'"), "{reason}");
    }

    #[test]
    fn show_stats_wait_time_is_microseconds() {
        let t = table(
            "SHOW STATS",
            &["database", "avg_xact_count", "avg_query_count", "avg_wait_time"],
            &[&[Some("chat"), Some("21"), Some("93"), Some("597")]],
        );
        let s = &stats_rows(&t).unwrap()[0];
        assert_eq!((s.xacts_per_second, s.queries_per_second), (21.0, 93.0));
        assert!((s.avg_wait_seconds - 0.000597).abs() < 1e-12, "{}", s.avg_wait_seconds);
    }

    #[test]
    fn show_databases_nulls_become_none() {
        let cols = ["name", "host", "port", "database", "force_user", "pool_size", "pool_mode"];
        let t = table(
            "SHOW DATABASES",
            &cols,
            &[
                &[Some("chat"), Some("127.0.0.1"), Some("16000"), Some("chat"), None, Some("4"), None],
                &[
                    Some("pgbouncer"),
                    None,
                    Some("16400"),
                    Some("pgbouncer"),
                    Some("pgbouncer"),
                    Some("2"),
                    Some("statement"),
                ],
            ],
        );
        let d = database_rows(&t).unwrap();
        let chat = DatabaseRow {
            name: "chat".into(),
            host: Some("127.0.0.1".into()),
            port: Some(16000),
            database: "chat".into(),
            pool_size: 4,
            pool_mode: None,
            paused: false,
        };
        assert_eq!(d[0], chat, "a NULL pool_mode means the global default applies");
        assert_eq!((d[1].host.as_deref(), d[1].pool_mode.as_deref()), (None, Some("statement")));
    }
}
