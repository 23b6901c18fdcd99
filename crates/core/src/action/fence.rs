//! Fencing a primary with SQL only (no host access needed), and proving the
//! fence holds.
//!
//! `default_transaction_read_only` alone is advice: any session can `SET
//! default_transaction_read_only = off` or `BEGIN READ WRITE`, and role or
//! database settings override `ALTER SYSTEM`. So the fence has two layers:
//! read-only by default, and `synchronous_standby_names` naming a standby that
//! does not exist ([`SENTINEL`]), so a commit that slips past the first layer
//! waits for an acknowledgement that never comes instead of being
//! acknowledged. Both are `ALTER SYSTEM` settings: they are not replicated (the
//! promoted target does not inherit them), survive a restart of the node, and
//! the sentinel is how every probe recognises a fenced node
//! (`Role::Fenced`). Sessions still open are then ended, except FleetDeck's
//! own action sessions.
//!
//! What it cannot stop: a superuser (or a role allowed to) running `SET
//! synchronous_commit = local` in its own session, or cancelling its wait for
//! the sentinel standby (PostgreSQL then reports the commit with a warning).
//! Preflight refuses role/database settings that would do the first for every
//! session of a role; the pooler no longer routes anything to the node.

use std::time::Duration;

use tokio_postgres::Client;

use super::{poll, APPLICATION_NAME};
use crate::pg::{self, PgError, Phase};

/// The standby name that does not exist: FleetDeck's fence.
pub const SENTINEL: &str = "fleetdeck_fenced";

/// The two settings as `postgresql.auto.conf` had them before the fence
/// (`None`: not set there), so rollback restores exactly that.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FenceBefore {
    /// `default_transaction_read_only` in `postgresql.auto.conf`.
    pub read_only: Option<String>,
    /// `synchronous_standby_names` in `postgresql.auto.conf`.
    pub standby_names: Option<String>,
}

fn err(address: &str, what: &str, e: &tokio_postgres::Error) -> PgError {
    PgError::from_driver(address, Phase::Query, Some(what), e)
}

/// What `ALTER SYSTEM` set for the two settings, before fencing.
pub async fn settings_before(client: &Client, address: &str) -> Result<FenceBefore, PgError> {
    let rows = client
        .query(
            "SELECT name, setting FROM pg_file_settings
             WHERE sourcefile LIKE '%postgresql.auto.conf' AND applied IS NOT NULL
               AND name IN ('default_transaction_read_only', 'synchronous_standby_names')",
            &[],
        )
        .await
        .map_err(|e| err(address, "read postgresql.auto.conf settings", &e))?;
    let mut b = FenceBefore::default();
    for r in rows {
        let (name, setting): (String, String) = (r.get(0), r.get(1));
        match name.as_str() {
            "default_transaction_read_only" => b.read_only = Some(setting),
            _ => b.standby_names = Some(setting),
        }
    }
    Ok(b)
}

async fn alter_system(client: &Client, address: &str, name: &str, value: Option<&str>) -> Result<(), PgError> {
    // ALTER SYSTEM takes no parameters: the server quotes the value.
    let sql = match value {
        Some(v) => {
            let row = client
                .query_one(&format!("SELECT format('ALTER SYSTEM SET {name} = %L', $1::text)"), &[&v])
                .await
                .map_err(|e| err(address, "quote a setting", &e))?;
            row.get::<_, String>(0)
        }
        None => format!("ALTER SYSTEM RESET {name}"),
    };
    client.batch_execute(&sql).await.map_err(|e| err(address, &sql, &e))
}

/// Sets both layers and reloads; returns once this session sees them (the
/// reload reaches every backend at its next statement).
pub async fn fence(client: &Client, address: &str, within: Duration) -> Result<(), PgError> {
    alter_system(client, address, "default_transaction_read_only", Some("on")).await?;
    alter_system(client, address, "synchronous_standby_names", Some(SENTINEL)).await?;
    reload_and_wait(client, address, within, true).await
}

/// Restores what [`settings_before`] read, and reloads.
pub async fn unfence(client: &Client, address: &str, before: &FenceBefore, within: Duration) -> Result<(), PgError> {
    alter_system(client, address, "default_transaction_read_only", before.read_only.as_deref()).await?;
    alter_system(client, address, "synchronous_standby_names", before.standby_names.as_deref()).await?;
    reload_and_wait(client, address, within, false).await
}

async fn reload_and_wait(client: &Client, address: &str, within: Duration, fenced: bool) -> Result<(), PgError> {
    client.batch_execute("SELECT pg_reload_conf()").await.map_err(|e| err(address, "pg_reload_conf()", &e))?;
    let seen = poll(within, Duration::from_millis(5), || async {
        let r = client.query_one("SELECT current_setting('synchronous_standby_names') = $1", &[&SENTINEL]).await.ok()?;
        (r.get::<_, bool>(0) == fenced).then_some(())
    })
    .await;
    seen.ok_or_else(|| PgError::timeout(address, Phase::Query, within))
}

/// Ends every client session but FleetDeck's action sessions; returns how many.
pub async fn terminate_sessions(client: &Client, address: &str) -> Result<i64, PgError> {
    let row = client
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
             WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND application_name <> $1",
            &[&APPLICATION_NAME],
        )
        .await
        .map_err(|e| err(address, "terminate sessions", &e))?;
    Ok(row.get(0))
}

/// Role or database settings that would let every session of a role (or
/// database) past the fence: `default_transaction_read_only` off, or
/// `synchronous_commit` that does not wait for a standby.
pub async fn overrides(client: &Client, address: &str) -> Result<Vec<String>, PgError> {
    let rows = client
        .query(
            "SELECT coalesce(r.rolname, '(every role)'), coalesce(d.datname, '(every database)'), c
             FROM pg_db_role_setting s
             LEFT JOIN pg_roles r ON r.oid = s.setrole
             LEFT JOIN pg_database d ON d.oid = s.setdatabase,
             unnest(s.setconfig) AS c
             WHERE c ~* '^default_transaction_read_only=(off|false|no|0)$'
                OR c ~* '^synchronous_commit=(off|local|false|no|0)$'",
            &[],
        )
        .await
        .map_err(|e| err(address, "read role and database settings", &e))?;
    Ok(rows.iter().map(|r| format!("{} in {}: {}", r.get::<_, String>(0), r.get::<_, String>(1), r.get::<_, String>(2))).collect())
}

/// Proves the fence: a new transaction of each application role is refused a
/// write with SQLSTATE 25006. Returns the evidence, one line per role.
pub async fn prove(client: &Client, roles: &[String]) -> Result<Vec<String>, String> {
    let mut evidence = Vec::new();
    for role in roles {
        // SET ROLE takes an identifier: the server quotes it.
        let set_role: String = client
            .query_one("SELECT format('SET LOCAL ROLE %I', $1::text)", &[role])
            .await
            .map_err(|e| pg::error_text(&e))?
            .get(0);
        let attempt = client
            .batch_execute(&format!("BEGIN; {set_role}; CREATE TEMP TABLE fleetdeck_fence_probe (x int); ROLLBACK"))
            .await;
        let _ = client.batch_execute("ROLLBACK").await;
        match attempt {
            Err(e) if e.as_db_error().is_some_and(|d| d.code().code() == pg::READ_ONLY_SQL_TRANSACTION) => {
                evidence.push(format!("{role}: write refused with 25006"));
            }
            Err(e) => return Err(format!("{role}: the probe write failed otherwise: {}", pg::error_text(&e))),
            Ok(()) => return Err(format!("{role}: a write was accepted on the fenced node")),
        }
    }
    Ok(evidence)
}

/// Whether `client`'s node carries the fence (its sentinel is in force).
pub async fn is_fenced(client: &Client) -> Option<bool> {
    client
        .query_one("SELECT current_setting('synchronous_standby_names') = $1", &[&SENTINEL])
        .await
        .ok()
        .map(|r| r.get(0))
}

/// A write probe for the new primary: a new transaction of `role` may write
/// (a temporary table, rolled back). `Ok` with the evidence, or why not.
pub async fn accepts_write(client: &Client, role: &str) -> Result<String, String> {
    let set_role: String = client
        .query_one("SELECT format('SET LOCAL ROLE %I', $1::text)", &[&role])
        .await
        .map_err(|e| pg::error_text(&e))?
        .get(0);
    let attempt = client.batch_execute(&format!("BEGIN; {set_role}; CREATE TEMP TABLE fleetdeck_write_probe (x int); ROLLBACK")).await;
    let _ = client.batch_execute("ROLLBACK").await;
    attempt.map(|_| format!("{role}: a write is accepted")).map_err(|e| format!("{role}: {}", pg::error_text(&e)))
}
