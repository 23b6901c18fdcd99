//! `~/.pgpass` lookup with libpq's rules, because FleetDeck never keeps secrets
//! in the fleet file: a password comes from a passfile, `PGPASSWORD`, or nowhere.
//!
//! Format: `hostname:port:database:username:password`, one entry a line, `*`
//! matches anything, `\:` and `\\` escape, `#` starts a comment; the first
//! matching line wins. Like libpq, a file readable by group or others is ignored.

use std::path::{Path, PathBuf};

/// What a password is looked up for.
#[derive(Debug, Clone, Copy)]
pub struct PassKey<'a> {
    /// Host name or address as written in the connection string (`localhost` for sockets).
    pub host: &'a str,
    /// Port number.
    pub port: u16,
    /// Database name.
    pub dbname: &'a str,
    /// Login name.
    pub user: &'a str,
}

/// Why a passfile could not be used.
#[derive(Debug, thiserror::Error)]
pub enum PassfileError {
    /// The file exists but could not be read.
    #[error("cannot read passfile {path}: {source}")]
    Read {
        /// The passfile.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// libpq refuses passfiles that others can read, and so do we.
    #[error("passfile {path} has group or world access (mode {mode:o}); chmod 0600 it")]
    Permissions {
        /// The passfile.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
}

/// The default passfile: `$PGPASSFILE`, else `~/.pgpass`.
pub fn default_passfile() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("PGPASSFILE") {
        return Some(PathBuf::from(p));
    }
    std::env::var_os("HOME").map(|h| Path::new(&h).join(".pgpass"))
}

/// Looks `key` up in the passfile at `path`. A missing file is `Ok(None)`.
pub fn lookup(path: &Path, key: PassKey<'_>) -> Result<Option<String>, PassfileError> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(PassfileError::Read { path: path.into(), source }),
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(PassfileError::Permissions { path: path.into(), mode });
        }
    }
    let text = std::fs::read_to_string(path)
        .map_err(|source| PassfileError::Read { path: path.into(), source })?;
    Ok(find(&text, key))
}

/// Finds the first entry of passfile `text` matching `key`.
pub fn find(text: &str, key: PassKey<'_>) -> Option<String> {
    let port = key.port.to_string();
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
        .filter_map(split_fields)
        .find(|f| {
            matches(&f[0], key.host) && matches(&f[1], &port) && matches(&f[2], key.dbname) && matches(&f[3], key.user)
        })
        .map(|f| f[4].clone())
}

fn matches(pattern: &str, value: &str) -> bool {
    pattern == "*" || pattern == value
}

/// Splits a line into its five fields, honouring `\:` and `\\`; `None` if malformed.
fn split_fields(line: &str) -> Option<[String; 5]> {
    let mut fields: Vec<String> = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => fields.last_mut()?.push(chars.next().unwrap_or('\\')),
            ':' if fields.len() < 5 => fields.push(String::new()),
            c => fields.last_mut()?.push(c),
        }
    }
    fields.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: PassKey<'static> = PassKey { host: "127.0.0.1", port: 16000, dbname: "chat", user: "mon" };

    #[test]
    fn first_matching_line_wins_and_wildcards_match() {
        let text = "# comment\nother:*:*:mon:nope\n127.0.0.1:*:*:mon:first\n*:*:*:*:second\n";
        assert_eq!(find(text, KEY).as_deref(), Some("first"), "wildcard port/db, exact host and user");
    }

    #[test]
    fn escaped_colons_and_backslashes_are_literal() {
        let text = "127.0.0.1:16000:chat:mon:pa\\:ss\\\\word\n";
        assert_eq!(find(text, KEY).as_deref(), Some("pa:ss\\word"));
    }

    #[test]
    fn a_password_may_contain_unescaped_colons_after_the_fourth_field() {
        assert_eq!(find("*:*:*:mon:a:b", KEY).as_deref(), Some("a:b"));
    }

    #[test]
    fn short_lines_are_skipped() {
        assert_eq!(find("127.0.0.1:16000:chat\n", KEY), None);
    }
}
