//! The desktop's one local store (`fleetdeck_core::store::Store`: incident
//! episodes, the action journal, fences and the audit log), opened once and
//! shared by every watch and by the actions. Two opens of a new store file
//! at the same moment race in its migrations (the second fails with "table
//! … already exists"): the watch's first refresh and the UI's first
//! `actions_state` did exactly that on a fresh data directory.

use std::path::PathBuf;
use std::sync::Arc;

use fleetdeck_core::store::{Store, StoreError};
use tokio::sync::OnceCell;

/// The store, opened on first use; a failed open is tried again on the next use.
#[derive(Clone, Default)]
pub struct LocalStore {
    /// The file; `None`: the one in the data directory (`$FLEETDECK_DATA_DIR`, else the user's).
    file: Option<Arc<PathBuf>>,
    open: Arc<OnceCell<Store>>,
}

impl LocalStore {
    /// The store file at `file` instead of the data directory's (tests).
    pub fn at(file: PathBuf) -> Self {
        Self { file: Some(Arc::new(file)), open: Arc::default() }
    }

    /// The open store: one pool for the whole app, opened (and migrated) once.
    pub async fn get(&self) -> Result<Store, StoreError> {
        self.open
            .get_or_try_init(|| async {
                match &self.file {
                    Some(file) => Store::open(file).await,
                    None => Store::open_default().await,
                }
            })
            .await
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: the watch and `actions_state` opened a fresh store file
    /// each on their own at once, and one failed in the migrations.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn everyone_asking_at_once_gets_the_one_store_opened_once() {
        let dir = std::env::temp_dir().join(format!("fleetdeck-local-store-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let store = LocalStore::at(dir.join("fleetdeck.sqlite3"));
        let asks: Vec<_> = (0..8).map(|_| tokio::spawn({
            let store = store.clone();
            async move { store.get().await.map(|s| s.path().to_path_buf()) }
        })).collect();
        for ask in asks {
            let path = ask.await.unwrap().expect("every caller gets the store, none races the migrations");
            assert_eq!(path, dir.join("fleetdeck.sqlite3"));
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}
