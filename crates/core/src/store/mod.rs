//! The local store: one SQLite file in the user's data directory that keeps
//! what must outlive a console — incident episodes now; the audit log and the
//! action journal of guarded actions next (each its own module beside
//! [`incidents`], its own migration under `crates/core/migrations/`).
//!
//! One [`Store`] owns the pool. It is opened with WAL journaling (a desktop
//! app, `fleetdeck serve` and the CLI may read and write it at once),
//! `create_if_missing`, foreign keys on, a busy timeout, and the embedded
//! migrations run at open. A store that cannot be opened is an error that
//! names the path; callers keep watching without it and say so.
//!
//! Where: `$FLEETDECK_DATA_DIR/fleetdeck.sqlite3`, else the platform's data
//! directory (`$XDG_DATA_HOME/fleetdeck`, by default
//! `~/.local/share/fleetdeck`, on Linux). Removing the file forgets every
//! recorded incident and nothing else.

pub mod audit;
pub mod incidents;
pub mod journal;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

/// The store file's name inside the data directory.
pub const FILE_NAME: &str = "fleetdeck.sqlite3";
/// The variable that overrides the data directory.
pub const DATA_DIR_ENV: &str = "FLEETDECK_DATA_DIR";

/// Why the store cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No data directory: neither `$FLEETDECK_DATA_DIR` nor a platform default.
    #[error("no data directory: set {DATA_DIR_ENV}")]
    NoDataDir,
    /// The file could not be opened, created or migrated.
    #[error("cannot open the local store {}: {reason}", path.display())]
    Open {
        /// The file (or directory) that failed.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
    /// A read or write failed on an open store.
    #[error("local store {}: {what} failed: {reason}", path.display())]
    Query {
        /// The store file.
        path: PathBuf,
        /// Which operation.
        what: &'static str,
        /// What SQLite said.
        reason: String,
    },
    /// A row that does not read back as what was written (edited by hand?).
    #[error("local store {}: row {id} of {table} is malformed: {reason}", path.display())]
    Malformed {
        /// The store file.
        path: PathBuf,
        /// The table.
        table: &'static str,
        /// The row id.
        id: i64,
        /// What could not be read.
        reason: String,
    },
}

/// The data directory: `$FLEETDECK_DATA_DIR`, else the platform's data directory + `fleetdeck`.
pub fn data_dir() -> Result<PathBuf, StoreError> {
    match std::env::var_os(DATA_DIR_ENV) {
        Some(d) if !d.is_empty() => Ok(PathBuf::from(d)),
        _ => dirs::data_dir().map(|d| d.join("fleetdeck")).ok_or(StoreError::NoDataDir),
    }
}

/// The local store.
#[derive(Clone)]
pub struct Store {
    pool: SqlitePool,
    path: PathBuf,
}

impl Store {
    /// Opens (creating it and its directory if needed) the store in [`data_dir`].
    pub async fn open_default() -> Result<Store, StoreError> {
        let dir = data_dir()?;
        std::fs::create_dir_all(&dir)
            .map_err(|e| StoreError::Open { path: dir.clone(), reason: format!("cannot create the directory: {e}") })?;
        Store::open(&dir.join(FILE_NAME)).await
    }

    /// Opens (creating if missing) the store file at `path` and migrates it.
    pub async fn open(path: &Path) -> Result<Store, StoreError> {
        let fail = |reason: String| StoreError::Open { path: path.to_path_buf(), reason };
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full) // a journaled step must survive a power cut
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        Store::connect(options, path.to_path_buf()).await.map_err(|e| fail(e.to_string()))
    }

    /// A private in-memory store (tests).
    pub async fn memory() -> Result<Store, StoreError> {
        let options = SqliteConnectOptions::from_str("sqlite::memory:")
            .map_err(|e| StoreError::Open { path: ":memory:".into(), reason: e.to_string() })?
            .foreign_keys(true);
        Store::connect(options, PathBuf::from(":memory:"))
            .await
            .map_err(|e| StoreError::Open { path: ":memory:".into(), reason: e.to_string() })
    }

    async fn connect(options: SqliteConnectOptions, path: PathBuf) -> Result<Store, sqlx::Error> {
        // One connection for `:memory:` (each would be its own database).
        let max = if path.as_os_str() == ":memory:" { 1 } else { 4 };
        let pool = SqlitePoolOptions::new()
            .max_connections(max)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await?;
        // Two consoles opening a fresh file at once both see a migration as
        // not applied; the second then fails on what the first created. The
        // second look sees it applied: retry once the first has committed.
        let mut attempt = 0;
        loop {
            match sqlx::migrate!("./migrations").run(&pool).await {
                Ok(()) => break,
                Err(_) if attempt < 3 => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(100 * attempt)).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(Store { pool, path })
    }

    /// The store file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn query_error(&self, what: &'static str) -> impl Fn(sqlx::Error) -> StoreError + '_ {
        move |e| StoreError::Query { path: self.path.clone(), what, reason: e.to_string() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_file_that_is_not_a_database_is_named_in_the_error() {
        let dir = std::env::temp_dir().join(format!("fleetdeck-store-corrupt-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(FILE_NAME);
        std::fs::write(&path, vec![0x5a; 8192]).unwrap();
        let Err(err) = Store::open(&path).await else { panic!("garbage is not a store") };
        let text = err.to_string();
        assert!(text.contains(&path.display().to_string()), "the error names the file: {text}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn an_unusable_directory_is_named_in_the_error() {
        // A regular file where the directory should be: fails for root too.
        let blocker = std::env::temp_dir().join(format!("fleetdeck-store-blocker-{}", std::process::id()));
        std::fs::write(&blocker, b"not a directory").unwrap();
        let path = blocker.join(FILE_NAME);
        let Err(err) = Store::open(&path).await else { panic!("no store under a file") };
        assert!(err.to_string().contains(&path.display().to_string()), "{err}");
        std::fs::remove_file(&blocker).unwrap();
    }

    #[tokio::test]
    async fn two_consoles_opening_a_fresh_store_at_once_both_succeed() {
        let dir = std::env::temp_dir().join(format!("fleetdeck-store-race-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(FILE_NAME);
        let opens: Vec<_> = (0..4).map(|_| Store::open(&path)).collect();
        for r in futures_util::future::join_all(opens).await {
            r.expect("every console opens the store it raced to create (regression: 'table audit_log already exists')");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn reopening_a_store_keeps_its_schema() {
        let dir = std::env::temp_dir().join(format!("fleetdeck-store-reopen-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(FILE_NAME);
        drop(Store::open(&path).await.expect("created"));
        Store::open(&path).await.expect("migrations are idempotent");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
