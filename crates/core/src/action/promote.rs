//! Promotion is one step behind a trait, because how a standby is promoted
//! depends on who runs it: `pg_promote()` over the action login
//! ([`PgPromote`]), or an operator-configured command ([`CommandPromote`]: a
//! managed service's CLI). Patroni's REST API (`POST /switchover`) is the next
//! implementation, for Patroni-managed clusters; the flow around it — pooler
//! pause, fence, final LSN, re-point — stays the same.
//!
//! Either way the step ends only when the node itself says it left recovery.

use std::future::Future;
use std::time::Duration;

use tokio_postgres::Client;

use super::poll;
use crate::fleet::PostgresEndpoint;
use crate::pg;

/// Promotes a standby.
pub trait Promotion: Send + Sync {
    /// How, in words (for the plan).
    fn describe(&self) -> String;
    /// Requests the promotion and returns once it is requested (or done).
    fn promote<'a>(&'a self, client: &'a Client, within: Duration) -> impl Future<Output = Result<String, String>> + Send + 'a;
}

/// `SELECT pg_promote(true, seconds)` over the action login.
pub struct PgPromote;

impl Promotion for PgPromote {
    fn describe(&self) -> String {
        "SELECT pg_promote(wait => false) over the action login, then pg_is_in_recovery() polled every 2 ms".into()
    }

    // pg_promote(wait => true) checks for the end of recovery every 100 ms:
    // a tenth of a second of write unavailability for nothing. Ask, then poll.
    async fn promote(&self, client: &Client, _within: Duration) -> Result<String, String> {
        let asked: bool = client
            .query_one("SELECT pg_promote(false)", &[])
            .await
            .map_err(|e| format!("pg_promote() failed: {}", pg::error_text(&e)))?
            .get(0);
        if asked { Ok("pg_promote() signalled".into()) } else { Err("pg_promote() failed: the promotion signal was not sent".into()) }
    }
}

/// The fleet file's `promote_command` for the node.
pub struct CommandPromote {
    /// Node name (replaces `{node}` in the argv, and is `FLEETDECK_NODE`).
    pub node: String,
    /// The argv.
    pub argv: Vec<String>,
}

impl Promotion for CommandPromote {
    fn describe(&self) -> String {
        format!("run {}", self.argv.join(" ").replace("{node}", &self.node))
    }

    async fn promote(&self, _client: &Client, within: Duration) -> Result<String, String> {
        let argv: Vec<String> = self.argv.iter().map(|a| a.replace("{node}", &self.node)).collect();
        let run = tokio::process::Command::new(&argv[0]).args(&argv[1..]).env("FLEETDECK_NODE", &self.node).kill_on_drop(true).output();
        let out = tokio::time::timeout(within, run)
            .await
            .map_err(|_| format!("{} did not exit within {within:?}", argv[0]))?
            .map_err(|e| format!("cannot run {}: {e}", argv[0]))?;
        if out.status.success() {
            Ok(format!("{} exited 0", argv[0]))
        } else {
            Err(format!("{} exited {}: {}", argv[0], out.status, String::from_utf8_lossy(&out.stderr).trim()))
        }
    }
}

/// The promotion the fleet file configures for `endpoint`.
pub enum Configured {
    /// `pg_promote()`.
    Sql(PgPromote),
    /// A command.
    Command(CommandPromote),
}

impl Configured {
    /// From the node's fleet entry.
    pub fn for_node(endpoint: &PostgresEndpoint) -> Self {
        match &endpoint.promote_command {
            Some(argv) => Configured::Command(CommandPromote { node: endpoint.name.clone(), argv: argv.clone() }),
            None => Configured::Sql(PgPromote),
        }
    }

    /// See [`Promotion::describe`].
    pub fn describe(&self) -> String {
        match self {
            Configured::Sql(p) => p.describe(),
            Configured::Command(c) => c.describe(),
        }
    }

    /// Promotes, then waits until the node is out of recovery (polling every 2 ms).
    pub async fn promote_and_wait(&self, client: &Client, within: Duration) -> Result<String, String> {
        let said = match self {
            Configured::Sql(p) => p.promote(client, within).await?,
            Configured::Command(c) => c.promote(client, within).await?,
        };
        let out = poll(within, Duration::from_millis(2), || async {
            let r = client.query_one("SELECT pg_is_in_recovery()", &[]).await.ok()?;
            (!r.get::<_, bool>(0)).then_some(())
        })
        .await;
        match out {
            Some(()) => Ok(format!("{said}; out of recovery")),
            None => Err(format!("{said}, but the node is still in recovery after {within:?}")),
        }
    }
}
