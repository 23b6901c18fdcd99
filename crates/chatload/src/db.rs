//! PostgreSQL access through PgBouncer: small self-healing pools, replica
//! round-robin with fallback, and the workload's SQL.
//!
//! Why it exists: chatload talks to one PgBouncer per PostgreSQL node, in
//! transaction pool mode (PgBouncer 1.18), so it must never use named
//! prepared statements — every statement here goes through tokio-postgres'
//! `query_typed` (unnamed Parse/Bind/Execute in one round trip) or
//! `batch_execute` (simple protocol). The lab kills nodes on purpose, so a
//! pool drops any connection that failed mid-operation, reconnects lazily
//! with backoff, and while a node is in backoff callers fail fast and reads
//! move to the next replica (then the primary) instead of stalling.

use std::future::Future;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::Type;
use tokio_postgres::{Client, Config, NoTls};

use crate::errors::{Breaker, Reporter};
use crate::metrics::Metrics;

/// Parses a libpq key=value DSN, filling in what the lab leaves out:
/// the password from `PGPASSWORD`, `application_name=chatload`, and a
/// connect timeout.
pub fn parse_dsn(dsn: &str, pgpassword: Option<&str>) -> anyhow::Result<Config> {
    let mut cfg = Config::from_str(dsn).with_context(|| format!("invalid DSN {dsn:?}"))?;
    if cfg.get_password().is_none() {
        if let Some(pw) = pgpassword {
            cfg.password(pw);
        }
    }
    if cfg.get_application_name().is_none() {
        cfg.application_name("chatload");
    }
    if cfg.get_connect_timeout().is_none() {
        cfg.connect_timeout(Duration::from_secs(2));
    }
    if cfg.get_hosts().is_empty() {
        bail!("DSN {dsn:?} has no host");
    }
    Ok(cfg)
}

fn describe(cfg: &Config) -> String {
    let host = match cfg.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        #[cfg(unix)]
        Some(tokio_postgres::config::Host::Unix(p)) => p.display().to_string(),
        None => "?".into(),
    };
    let port = cfg.get_ports().first().copied().unwrap_or(5432);
    format!("{host}:{port}")
}

/// Whether an error says the node or connection is gone (trip the breaker),
/// as opposed to a statement-level error such as a statement timeout.
fn is_node_failure(e: &tokio_postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    match e.code() {
        None => true, // I/O or protocol error: no SQLSTATE from the server
        Some(code) => {
            let c = code.code();
            c.starts_with("08") // connection exception (PgBouncer uses 08P01)
                || *code == SqlState::ADMIN_SHUTDOWN
                || *code == SqlState::CRASH_SHUTDOWN
                || *code == SqlState::CANNOT_CONNECT_NOW
                || *code == SqlState::READ_ONLY_SQL_TRANSACTION
        }
    }
}

/// A fixed-size pool of connections to one PgBouncer.
pub struct Pool {
    /// "primary" or "replica": the metric label.
    pub target: &'static str,
    /// host:port, for logs.
    pub node: String,
    cfg: Config,
    idle: Mutex<Vec<PgConn>>,
    /// One permit per connection, idle or busy (or quarantined, see `run`).
    permits: Arc<Semaphore>,
    breaker: Breaker,
    acquire_timeout: Duration,
    metrics: Arc<Metrics>,
}

/// A client and the task driving its socket (aborting it closes the socket).
struct PgConn {
    client: Arc<Client>,
    driver: tokio::task::JoinHandle<()>,
}

impl PgConn {
    fn discard(self) {
        self.driver.abort();
    }
}

/// A checked-out connection. It goes back to the pool only if the operation
/// finished (`reusable`) and the connection is still open; otherwise it is
/// closed and a fresh one is made next time.
struct Conn<'a> {
    pool: &'a Pool,
    conn: Option<PgConn>,
    reusable: bool,
    permit: Option<OwnedSemaphorePermit>,
}

impl Drop for Conn<'_> {
    fn drop(&mut self) {
        if let Some(c) = self.conn.take() {
            if self.reusable && !c.client.is_closed() {
                self.pool.idle.lock().unwrap().push(c);
            } else {
                c.discard();
            }
        }
    }
}

impl Pool {
    pub fn new(
        target: &'static str,
        cfg: Config,
        size: usize,
        acquire_timeout: Duration,
        metrics: Arc<Metrics>,
    ) -> Self {
        Pool {
            target,
            node: describe(&cfg),
            cfg,
            idle: Mutex::new(Vec::new()),
            permits: Arc::new(Semaphore::new(size.max(1))),
            breaker: Breaker::new(Duration::from_millis(250), Duration::from_secs(5)),
            acquire_timeout,
            metrics,
        }
    }

    fn in_backoff(&self) -> anyhow::Result<()> {
        self.breaker.check().map_err(|left| {
            anyhow!(
                "{} {} in reconnect backoff ({left:.1?} left)",
                self.target,
                self.node
            )
        })
    }

    async fn get(&self) -> anyhow::Result<Conn<'_>> {
        // Fail fast while the node is in backoff, before queueing for a slot.
        self.in_backoff()?;
        let permit =
            tokio::time::timeout(self.acquire_timeout, self.permits.clone().acquire_owned())
                .await
                .map_err(|_| {
                    anyhow!(
                        "no free connection to {} within {:?}",
                        self.node,
                        self.acquire_timeout
                    )
                })?
                .expect("semaphore never closed");
        let mut conn = Conn {
            pool: self,
            conn: None,
            reusable: false,
            permit: Some(permit),
        };
        loop {
            let Some(c) = self.idle.lock().unwrap().pop() else {
                break;
            };
            if !c.client.is_closed() {
                conn.conn = Some(c);
                return Ok(conn);
            }
            c.discard();
        }
        self.in_backoff()?;
        let connect = self.cfg.connect(NoTls);
        match tokio::time::timeout(Duration::from_secs(3), connect).await {
            Ok(Ok((client, connection))) => {
                let node = self.node.clone();
                let driver = tokio::spawn(async move {
                    if let Err(e) = connection.await {
                        tracing::debug!(node, "connection ended: {e}");
                    }
                });
                conn.conn = Some(PgConn {
                    client: Arc::new(client),
                    driver,
                });
                Ok(conn)
            }
            Ok(Err(e)) => {
                let wait = self.breaker.failure();
                Err(anyhow!(e).context(format!("connect to {} (retry in {wait:?})", self.node)))
            }
            Err(_) => {
                let wait = self.breaker.failure();
                bail!("connect to {} timed out (retry in {wait:?})", self.node)
            }
        }
    }

    /// Runs `f` on a pooled connection with an overall timeout.
    ///
    /// `f` gets a shared handle rather than `&Client` so its future has
    /// no higher-ranked borrow (which would keep turn tasks from being `Send`).
    pub async fn run<T, F, Fut>(&self, timeout: Duration, f: F) -> anyhow::Result<T>
    where
        F: FnOnce(Arc<Client>) -> Fut,
        Fut: Future<Output = Result<T, tokio_postgres::Error>>,
    {
        let mut conn = self.get().await?;
        self.metrics.db_queries.inc(&[self.target]);
        let started = Instant::now();
        let client = conn
            .conn
            .as_ref()
            .expect("connection present")
            .client
            .clone();
        let result = tokio::time::timeout(timeout, f(client)).await;
        self.metrics
            .db_query_duration
            .observe(&[self.target], started.elapsed().as_secs_f64());
        match result {
            Ok(Ok(v)) => {
                conn.reusable = true;
                self.breaker.success();
                Ok(v)
            }
            Ok(Err(e)) => {
                if is_node_failure(&e) {
                    self.breaker.failure();
                } else {
                    // The server answered and the protocol is in sync; the
                    // helpers below roll back their own transactions.
                    conn.reusable = true;
                }
                Err(anyhow!(e).context(format!("{} {}", self.target, self.node)))
            }
            Err(_) => {
                // Unknown protocol state: the connection is not reused. Ask the
                // server to cancel the abandoned statement, then let the
                // connection wind down in the background while it still counts
                // against the pool. Closing the socket at once would not free
                // anything: PgBouncer 1.18 ignores cancels for clients waiting
                // for a server and notices a closed client only when a server
                // frees up, so every abandoned socket would stay in its
                // cl_waiting. Quarantining keeps chatload at most
                // `--db-connections` clients per PgBouncer, as a real app pool.
                if let (Some(c), Some(permit)) = (conn.conn.take(), conn.permit.take()) {
                    tokio::spawn(quarantine(c, permit));
                }
                // A replica that stops answering is skipped for a while (reads
                // have somewhere else to go); the primary is not, so writes
                // keep queueing visibly in PgBouncer.
                if self.target == "replica" {
                    self.breaker.failure();
                }
                bail!("{} {} timed out after {timeout:?}", self.target, self.node)
            }
        }
    }
}

/// Winds down a connection whose operation timed out: cancel, drop the
/// client so the connection ends once the server answers, and hold the
/// pool slot until then (at most [`QUARANTINE`]).
async fn quarantine(c: PgConn, permit: OwnedSemaphorePermit) {
    let PgConn { client, mut driver } = c;
    let token = client.cancel_token();
    drop(client);
    let _ = tokio::time::timeout(Duration::from_secs(2), token.cancel_query(NoTls)).await;
    if tokio::time::timeout(QUARANTINE, &mut driver).await.is_err() {
        driver.abort();
    }
    drop(permit);
}

/// Longest a timed-out connection keeps its pool slot.
const QUARANTINE: Duration = Duration::from_secs(30);

/// The primary and its replicas.
pub struct Db {
    pub primary: Pool,
    pub replicas: Vec<Pool>,
    rr: AtomicUsize,
    op_timeout: Duration,
    reporter: Arc<Reporter>,
}

impl Db {
    pub fn new(
        primary: Pool,
        replicas: Vec<Pool>,
        op_timeout: Duration,
        reporter: Arc<Reporter>,
    ) -> Self {
        Db {
            primary,
            replicas,
            rr: AtomicUsize::new(0),
            op_timeout,
            reporter,
        }
    }

    /// Reads from the replicas round-robin; on error tries the next replica,
    /// then the primary. Every failed attempt is counted.
    pub async fn read<T, F, Fut>(&self, stage: &'static str, f: F) -> anyhow::Result<T>
    where
        F: Fn(Arc<Client>) -> Fut,
        Fut: Future<Output = Result<T, tokio_postgres::Error>>,
    {
        let n = self.replicas.len();
        let start = self.rr.fetch_add(1, Ordering::Relaxed);
        for i in 0..n {
            let pool = &self.replicas[(start + i) % n];
            match pool.run(self.op_timeout, &f).await {
                Ok(v) => return Ok(v),
                Err(e) => self.reporter.report(stage, pool.target, &pool.node, &e),
            }
        }
        self.write(stage, f).await
    }

    /// Runs on the primary only.
    pub async fn write<T, F, Fut>(&self, stage: &'static str, f: F) -> anyhow::Result<T>
    where
        F: FnOnce(Arc<Client>) -> Fut,
        Fut: Future<Output = Result<T, tokio_postgres::Error>>,
    {
        let pool = &self.primary;
        pool.run(self.op_timeout, f).await.inspect_err(|e| {
            self.reporter.report(stage, pool.target, &pool.node, e);
        })
    }

    /// Runs on the next replica in round-robin order, without fallback.
    pub async fn on_next_replica<T, F, Fut>(
        &self,
        stage: &'static str,
        timeout: Duration,
        f: F,
    ) -> anyhow::Result<T>
    where
        F: FnOnce(Arc<Client>) -> Fut,
        Fut: Future<Output = Result<T, tokio_postgres::Error>>,
    {
        let i = self.rr.fetch_add(1, Ordering::Relaxed) % self.replicas.len().max(1);
        let pool = self.replicas.get(i).unwrap_or(&self.primary);
        pool.run(timeout, f).await.inspect_err(|e| {
            self.reporter.report(stage, pool.target, &pool.node, e);
        })
    }
}

/// One message of conversation context, oldest first.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CtxMessage {
    pub role: String,
    pub content: String,
}

/// What one turn writes.
pub struct TurnWrite<'a> {
    pub conversation_id: i64,
    pub user_id: i64,
    pub user_content: &'a str,
    pub user_tokens: i32,
    pub user_moderation: &'a str,
    /// How long ago the user message arrived (start of the turn).
    pub user_age_secs: f64,
    pub assistant_content: &'a str,
    pub prompt_tokens: i32,
    pub completion_tokens: i32,
    pub assistant_moderation: &'a str,
}

pub const SQL_LATEST_CONVERSATION: &str =
    "SELECT id FROM conversations WHERE user_id = $1 ORDER BY updated_at DESC LIMIT 1";
pub const SQL_CREATE_CONVERSATION: &str =
    "INSERT INTO conversations (user_id, title, model) VALUES ($1, $2, $3) RETURNING id";
pub const SQL_CONTEXT: &str = "SELECT role, content FROM messages WHERE conversation_id = $1 \
     ORDER BY created_at DESC LIMIT 20";
pub const SQL_INSERT_USER_MESSAGE: &str = "INSERT INTO messages \
     (conversation_id, user_id, role, content, prompt_tokens, completion_tokens, moderation, created_at) \
     VALUES ($1, $2, 'user', $3, $4, 0, $5, now() - make_interval(secs => $6))";
pub const SQL_INSERT_ASSISTANT_MESSAGE: &str = "INSERT INTO messages \
     (conversation_id, user_id, role, content, prompt_tokens, completion_tokens, moderation) \
     VALUES ($1, $2, 'assistant', $3, $4, $5, $6)";
pub const SQL_TOUCH_CONVERSATION: &str =
    "UPDATE conversations SET updated_at = now() WHERE id = $1";
/// The "user's recent messages" query: seq-scans `messages` because there is
/// deliberately no index on `messages(user_id)`.
pub const SQL_USER_RECENT_MESSAGES: &str = "SELECT id, conversation_id, created_at FROM messages \
     WHERE user_id = $1 ORDER BY created_at DESC LIMIT 20";

pub async fn latest_conversation(
    c: &Client,
    user_id: i64,
) -> Result<Option<i64>, tokio_postgres::Error> {
    let rows = c
        .query_typed(SQL_LATEST_CONVERSATION, &[(&user_id, Type::INT8)])
        .await?;
    rows.first().map(|r| r.try_get::<_, i64>(0)).transpose()
}

pub async fn create_conversation(
    c: &Client,
    user_id: i64,
    title: &str,
    model: &str,
) -> Result<i64, tokio_postgres::Error> {
    let rows = c
        .query_typed(
            SQL_CREATE_CONVERSATION,
            &[
                (&user_id, Type::INT8),
                (&title, Type::TEXT),
                (&model, Type::TEXT),
            ],
        )
        .await?;
    // RETURNING always yields exactly one row here.
    rows[0].try_get(0)
}

pub async fn context(
    c: &Client,
    conversation_id: i64,
) -> Result<Vec<CtxMessage>, tokio_postgres::Error> {
    let rows = c
        .query_typed(SQL_CONTEXT, &[(&conversation_id, Type::INT8)])
        .await?;
    let mut msgs = rows
        .iter()
        .map(|r| {
            Ok(CtxMessage {
                role: r.try_get(0)?,
                content: r.try_get(1)?,
            })
        })
        .collect::<Result<Vec<_>, tokio_postgres::Error>>()?;
    msgs.reverse();
    Ok(msgs)
}

/// Both messages and the conversation's `updated_at`, in one transaction.
pub async fn write_turn(c: &Client, w: &TurnWrite<'_>) -> Result<(), tokio_postgres::Error> {
    in_transaction(c, async {
        c.query_typed(
            SQL_INSERT_USER_MESSAGE,
            &[
                (&w.conversation_id, Type::INT8),
                (&w.user_id, Type::INT8),
                (&w.user_content, Type::TEXT),
                (&w.user_tokens, Type::INT4),
                (&w.user_moderation, Type::TEXT),
                (&w.user_age_secs, Type::FLOAT8),
            ],
        )
        .await?;
        c.query_typed(
            SQL_INSERT_ASSISTANT_MESSAGE,
            &[
                (&w.conversation_id, Type::INT8),
                (&w.user_id, Type::INT8),
                (&w.assistant_content, Type::TEXT),
                (&w.prompt_tokens, Type::INT4),
                (&w.completion_tokens, Type::INT4),
                (&w.assistant_moderation, Type::TEXT),
            ],
        )
        .await?;
        c.query_typed(SQL_TOUCH_CONVERSATION, &[(&w.conversation_id, Type::INT8)])
            .await?;
        Ok(())
    })
    .await
}

/// The slow query, bounded by its own `SET LOCAL statement_timeout`.
pub async fn user_recent_messages(
    c: &Client,
    user_id: i64,
    statement_timeout: Duration,
) -> Result<usize, tokio_postgres::Error> {
    in_transaction(c, async {
        c.batch_execute(&format!(
            "SET LOCAL statement_timeout = {}",
            statement_timeout.as_millis()
        ))
        .await?;
        let rows = c
            .query_typed(SQL_USER_RECENT_MESSAGES, &[(&user_id, Type::INT8)])
            .await?;
        Ok(rows.len())
    })
    .await
}

/// BEGIN; body; COMMIT — or ROLLBACK if the body fails, so the connection
/// goes back to the pool (and PgBouncer's server connection is released)
/// in a clean state. Simple-protocol BEGIN/COMMIT are fine in PgBouncer
/// transaction mode: the server connection is pinned from BEGIN to COMMIT.
async fn in_transaction<T>(
    c: &Client,
    body: impl Future<Output = Result<T, tokio_postgres::Error>>,
) -> Result<T, tokio_postgres::Error> {
    c.batch_execute("BEGIN").await?;
    match body.await {
        Ok(v) => {
            c.batch_execute("COMMIT").await?;
            Ok(v)
        }
        Err(e) => {
            let _ = c.batch_execute("ROLLBACK").await;
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dsn_takes_password_from_env_only_when_missing() {
        let c = parse_dsn(
            "host=127.0.0.1 port=16400 dbname=chat user=chat_app",
            Some("s3cret"),
        )
        .unwrap();
        assert_eq!(c.get_password(), Some(&b"s3cret"[..]));
        assert_eq!(c.get_application_name(), Some("chatload"));
        assert_eq!(describe(&c), "127.0.0.1:16400");
        let c = parse_dsn("host=h password=own dbname=chat user=u", Some("env")).unwrap();
        assert_eq!(c.get_password(), Some(&b"own"[..]));
        assert!(parse_dsn("host=h port=notaport", None).is_err());
    }

    #[test]
    fn sql_uses_only_positional_parameters() {
        // Unnamed statements with typed parameters: no client-side prepare.
        for sql in [
            SQL_LATEST_CONVERSATION,
            SQL_CREATE_CONVERSATION,
            SQL_CONTEXT,
            SQL_INSERT_USER_MESSAGE,
            SQL_INSERT_ASSISTANT_MESSAGE,
            SQL_TOUCH_CONVERSATION,
            SQL_USER_RECENT_MESSAGES,
        ] {
            assert!(sql.contains("$1"), "{sql}");
            assert!(!sql.contains("PREPARE"), "{sql}");
        }
    }
}
