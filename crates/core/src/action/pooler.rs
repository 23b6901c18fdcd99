//! PgBouncer during an action: a bounded `PAUSE`, `RESUME`, re-pointing a
//! database at a new primary, `RELOAD`, and proving where it now points.
//!
//! `PAUSE db` waits for every server connection of the database to be
//! released (in transaction pooling: for open transactions to end) and has no
//! timeout of its own, so [`Console::pause`] bounds it. On expiry the console
//! that sent it is closed first (its task aborted, so nothing waits for an
//! answer that will never come: a `RESUME` answered while a `PAUSE` is pending
//! leaves that `PAUSE` hanging for good, pgbouncer#715), then `RESUME` goes
//! over a new console.
//!
//! PgBouncer's console cannot change where a database points: the
//! `[databases]` entry lives in a file. [`Repoint`] is the small seam: rewrite
//! the entry in the file the fleet names ([`rewrite_database`]), or run the
//! operator's command; then `RELOAD` and read `SHOW DATABASES` until it names
//! the new host (old server connections close when released, new ones go to
//! the new host; no `RECONNECT` needed).

use std::path::Path;
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;
use tokio_postgres::Client;

use super::{poll, APPLICATION_NAME};
use crate::fleet::{PgBouncerEndpoint, Repoint};
use crate::pg::{self, PgError, Phase};
use crate::probe::pgbouncer::{show_databases, DatabaseRow};

/// An open admin console with its connection task (aborting it closes the socket).
pub struct Console {
    /// The pooler's fleet name.
    pub name: String,
    /// `host:port`.
    pub address: String,
    client: Client,
    task: JoinHandle<()>,
}

impl Drop for Console {
    fn drop(&mut self) {
        self.task.abort();
    }
}

const CONNECT: Duration = Duration::from_secs(3);

impl Console {
    /// Opens the pooler's console with its action login.
    pub async fn open(endpoint: &PgBouncerEndpoint) -> Result<Console, String> {
        let login = endpoint
            .action
            .clone()
            .ok_or_else(|| format!("{} has no action login in the fleet file (pgbouncer.action)", endpoint.name))?;
        let (client, resolved, task) =
            pg::connect_owned(&login, APPLICATION_NAME, CONNECT).await.map_err(|e| format!("{}: {e}", endpoint.name))?;
        Ok(Console { name: endpoint.name.clone(), address: resolved.address(), client, task })
    }

    async fn command(&self, command: &str) -> Result<(), PgError> {
        self.client
            .simple_query(command)
            .await
            .map(|_| ())
            .map_err(|e| PgError::from_driver(&self.address, Phase::Query, Some(command), &e))
    }

    /// `SHOW DATABASES`.
    pub async fn databases(&self) -> Result<Vec<DatabaseRow>, String> {
        show_databases(&self.client).await.map_err(|e| format!("{}: {e}", self.name))
    }

    /// `PAUSE db`, bounded by `within`. On expiry the error says so
    /// ([`PAUSE_EXPIRED`]): the caller must then drop this console (which
    /// closes its socket, abandoning the `PAUSE`) before anything sends
    /// `RESUME` ([`resume_fresh`]).
    pub async fn pause(&self, db: &str, within: Duration) -> Result<String, String> {
        let t0 = Instant::now();
        match tokio::time::timeout(within, self.command(&format!("PAUSE {}", quote_console_ident(db)))).await {
            Ok(Ok(())) => Ok(format!("paused in {:.1} ms", t0.elapsed().as_secs_f64() * 1000.0)),
            Ok(Err(e)) => Err(format!("PAUSE {db} on {} failed: {e}", self.name)),
            Err(_) => Err(format!("PAUSE {db} on {} {PAUSE_EXPIRED} {within:?} (a transaction held it open)", self.name)),
        }
    }

    /// `RESUME db`.
    pub async fn resume(&self, db: &str) -> Result<(), String> {
        self.command(&format!("RESUME {}", quote_console_ident(db))).await.map_err(|e| e.to_string())
    }

    /// `RELOAD`.
    pub async fn reload(&self) -> Result<(), String> {
        self.command("RELOAD").await.map_err(|e| e.to_string())
    }

    /// Waits until `SHOW DATABASES` has `db` at `host:port`; returns the row.
    pub async fn wait_pointing(&self, db: &str, host: &str, port: u16, within: Duration) -> Result<DatabaseRow, String> {
        let found = poll(within, Duration::from_millis(5), || async {
            let rows = self.databases().await.ok()?;
            rows.into_iter().find(|r| {
                r.name == db && r.port == Some(port) && r.host.as_deref().is_some_and(|h| crate::address::same_host(h, host))
            })
        })
        .await;
        found.ok_or_else(|| format!("{}: SHOW DATABASES does not name {host}:{port} for '{db}' within {within:?}", self.name))
    }
}

/// What a [`Console::pause`] error says when the bound expired.
pub const PAUSE_EXPIRED: &str = "did not complete within";

/// `RESUME db` over a new console (after an abandoned `PAUSE`): says what happened.
pub async fn resume_fresh(endpoint: &PgBouncerEndpoint, db: &str) -> Result<String, String> {
    let con = Console::open(endpoint).await?;
    con.resume(db).await?;
    Ok(format!("{} resumed {db} over a new console", endpoint.name))
}

/// Quotes a database name for the admin console (an identifier with double quotes doubled).
fn quote_console_ident(db: &str) -> String {
    format!("\"{}\"", db.replace('"', "\"\""))
}

/// Re-points `db` on `endpoint` at `host:port` the way the fleet file says.
pub async fn repoint(endpoint: &PgBouncerEndpoint, db: &str, host: &str, port: u16) -> Result<String, String> {
    match &endpoint.repoint {
        Some(Repoint::ConfigFile(path)) => {
            rewrite_file(path, db, host, port).map(|_| format!("{}: '{db}' now {host}:{port} in {}", endpoint.name, path.display()))
        }
        Some(Repoint::Command(argv)) => {
            let out = tokio::process::Command::new(&argv[0])
                .args(&argv[1..])
                .env("FLEETDECK_POOLER", &endpoint.name)
                .env("FLEETDECK_DATABASE", db)
                .env("FLEETDECK_HOST", host)
                .env("FLEETDECK_PORT", port.to_string())
                .output()
                .await
                .map_err(|e| format!("{}: cannot run {}: {e}", endpoint.name, argv[0]))?;
            if out.status.success() {
                Ok(format!("{}: repoint command exited 0", endpoint.name))
            } else {
                Err(format!(
                    "{}: repoint command {} exited {}: {}",
                    endpoint.name,
                    argv.join(" "),
                    out.status,
                    String::from_utf8_lossy(&out.stderr).trim()
                ))
            }
        }
        None => Err(format!("{} cannot be re-pointed: the fleet file gives it no config_file or repoint_command", endpoint.name)),
    }
}

/// Rewrites the file atomically (a new file renamed over it, with the old
/// one's owner and mode: PgBouncer may run as another user).
fn rewrite_file(path: &Path, db: &str, host: &str, port: u16) -> Result<(), String> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let new = rewrite_database(&text, db, host, port).map_err(|e| format!("{}: {e}", path.display()))?;
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let tmp = path.with_extension(format!("fleetdeck-{}.tmp", std::process::id()));
    std::fs::write(&tmp, new).map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
    let _ = std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(meta.mode() & 0o7777));
    let _ = std::os::unix::fs::chown(&tmp, Some(meta.uid()), Some(meta.gid()));
    std::fs::rename(&tmp, path).map_err(|e| format!("cannot replace {}: {e}", path.display()))
}

/// `text` (a PgBouncer ini) with `db`'s entry in `[databases]` pointing at
/// `host:port`: its `host=` and `port=` replaced (added when missing),
/// everything else on the line and in the file kept as it was.
pub fn rewrite_database(text: &str, db: &str, host: &str, port: u16) -> Result<String, String> {
    let mut section = String::new();
    let mut out = Vec::new();
    let mut found = false;
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches(['\n', '\r']);
        let ending = &line[body.len()..];
        let trimmed = body.trim();
        if trimmed.starts_with('[') && trimmed.ends_with(']') {
            section = trimmed[1..trimmed.len() - 1].trim().to_ascii_lowercase();
        } else if section == "databases" && !trimmed.starts_with(';') && !trimmed.starts_with('#') {
            if let Some((key, value)) = body.split_once('=') {
                let key_name = key.trim().trim_matches('"');
                if key_name == db {
                    if found {
                        return Err(format!("'{db}' appears twice in [databases]"));
                    }
                    found = true;
                    out.push(format!("{} = {}{ending}", key.trim_end(), repoint_value(value.trim(), host, port)));
                    continue;
                }
            }
        }
        out.push(line.to_string());
    }
    if !found {
        return Err(format!("no '{db}' entry in [databases]"));
    }
    Ok(out.concat())
}

/// `host=a port=1 dbname=x` with host and port replaced.
fn repoint_value(value: &str, host: &str, port: u16) -> String {
    let mut parts: Vec<String> = Vec::new();
    let (mut saw_host, mut saw_port) = (false, false);
    for token in value.split_whitespace() {
        match token.split_once('=').map(|(k, _)| k) {
            Some("host") => {
                saw_host = true;
                parts.push(format!("host={host}"));
            }
            Some("port") => {
                saw_port = true;
                parts.push(format!("port={port}"));
            }
            _ => parts.push(token.to_string()),
        }
    }
    if !saw_port {
        parts.insert(0, format!("port={port}"));
    }
    if !saw_host {
        parts.insert(0, format!("host={host}"));
    }
    parts.join(" ")
}

/// A new client through the pooler reaches `db` (pgbouncer#498: after a
/// `PAUSE` and a `RELOAD` to a new host some clients saw "cannot connect to server").
/// Uses the pooler's action login with `db` as the database.
pub async fn new_client_reaches(endpoint: &PgBouncerEndpoint, db: &str) -> Result<String, String> {
    let mut login = endpoint.action.clone().ok_or("no action login")?;
    login.dbname = Some(db.to_string());
    // A client of a pooler whose server is down queues for query_wait_timeout
    // (120 s by default): bound the whole attempt, login and query.
    let attempt = async {
        let (client, _) = pg::connect(&login, APPLICATION_NAME, CONNECT).await.map_err(|e| e.to_string())?;
        let row = client
            .query_one("SELECT inet_server_port(), pg_is_in_recovery()", &[])
            .await
            .map_err(|e| pg::error_text(&e))?;
        let (port, recovery): (Option<i32>, bool) = (row.get(0), row.get(1));
        Ok(format!("a new client through {} reached port {} (in recovery: {recovery})", endpoint.name, port.unwrap_or(0)))
    };
    tokio::time::timeout(CLIENT_THROUGH, attempt)
        .await
        .unwrap_or_else(|_| Err(format!("a new client through {} got no answer within {CLIENT_THROUGH:?}", endpoint.name)))
}

/// How long a client through a pooler may take to log in and answer.
const CLIENT_THROUGH: Duration = Duration::from_secs(3);

#[cfg(test)]
mod tests {
    use super::*;

    const INI: &str = "; lab\n[databases]\nchat = host=127.0.0.1 port=16000 dbname=chat\nother = host=10.0.0.9 port=5432\n\n[pgbouncer]\nlisten_port = 16400\n";

    #[test]
    fn only_the_named_database_moves_and_the_rest_of_the_file_is_kept() {
        let out = rewrite_database(INI, "chat", "127.0.0.1", 16001).unwrap();
        assert_eq!(
            out,
            INI.replace("port=16000", "port=16001"),
            "the host and port of 'chat' change, nothing else"
        );
    }

    #[test]
    fn a_missing_host_or_port_is_added() {
        let out = rewrite_database("[databases]\nchat = dbname=chat\n", "chat", "db2", 5433).unwrap();
        assert_eq!(out, "[databases]\nchat = host=db2 port=5433 dbname=chat\n");
    }

    #[test]
    fn a_database_of_another_section_or_a_comment_is_not_the_entry() {
        let text = "[databases]\n;chat = host=x\n[pgbouncer]\nchat = 1\n";
        let e = rewrite_database(text, "chat", "h", 1).unwrap_err();
        assert!(e.contains("no 'chat' entry"), "{e}");
    }

    #[test]
    fn a_duplicated_entry_is_refused_not_guessed() {
        let e = rewrite_database("[databases]\nchat = host=a\nchat = host=b\n", "chat", "h", 1).unwrap_err();
        assert!(e.contains("twice"), "{e}");
    }

    #[test]
    fn console_identifiers_are_quoted() {
        assert_eq!(quote_console_ident("chat"), "\"chat\"");
        assert_eq!(quote_console_ident("a\"b; RESUME"), "\"a\"\"b; RESUME\"");
    }
}
