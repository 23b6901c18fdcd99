//! The fleet the desktop opens when started without `--fleet`: the last one
//! that loaded, kept as a small JSON file in the app's config directory
//! (`~/.config/dev.fleetdeck.desktop/remembered.json` on Linux). Only the path
//! is kept; the fleet file itself stays where the operator keeps it, with its
//! secrets in .pgpass or the environment as ever.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The remembered state, as stored.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Stored {
    /// Path of the last fleet file that loaded.
    fleet: Option<PathBuf>,
}

/// Where the remembered fleet lives.
#[derive(Debug, Clone)]
pub struct RememberedFleet {
    file: PathBuf,
}

impl RememberedFleet {
    /// The remembered fleet kept in `config_dir`.
    pub fn in_dir(config_dir: &Path) -> Self {
        Self { file: config_dir.join("remembered.json") }
    }

    /// The remembered path, if any. A missing or unreadable file means none:
    /// the UI then shows its fleet chooser, which is the right answer either way.
    pub fn get(&self) -> Option<PathBuf> {
        let text = std::fs::read_to_string(&self.file).ok()?;
        serde_json::from_str::<Stored>(&text).ok()?.fleet
    }

    /// Remembers `fleet` (made absolute, so a later start from another
    /// directory finds it). Failing to write is reported, never fatal.
    pub fn set(&self, fleet: &Path) -> std::io::Result<()> {
        let fleet = std::path::absolute(fleet)?;
        if let Some(dir) = self.file.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let text = serde_json::to_string_pretty(&Stored { fleet: Some(fleet) })?;
        // Write then rename, so a crash mid-write never leaves half a file.
        let tmp = self.file.with_extension("json.tmp");
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, &self.file)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_remembered_fleet_is_read_back_absolute() {
        let dir = std::env::temp_dir().join(format!("fleetdeck-remembered-{}", std::process::id()));
        let remembered = RememberedFleet::in_dir(&dir);
        assert_eq!(remembered.get(), None, "nothing is remembered before the first set");
        remembered.set(Path::new("fleet.toml")).unwrap();
        let got = remembered.get().expect("remembered after set");
        assert!(got.is_absolute(), "a relative path would break when started from another directory: {got:?}");
        assert!(got.ends_with("fleet.toml"));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_corrupt_file_means_nothing_remembered() {
        let dir = std::env::temp_dir().join(format!("fleetdeck-remembered-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("remembered.json"), "{not json").unwrap();
        assert_eq!(RememberedFleet::in_dir(&dir).get(), None, "a corrupt file must not stop the app from starting");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
