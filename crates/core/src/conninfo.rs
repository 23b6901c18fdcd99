//! libpq connection strings, parsed the way `psql` would read them, so that an
//! engineer can paste the string they already use.
//!
//! Both forms are accepted: `key=value` pairs (values may be single-quoted with
//! `\'` and `\\` escapes) and `postgresql://user@host:port/db?key=value` URIs.
//! Unset fields fall back to the PG* environment variables and then to libpq's
//! defaults. A password written into the string is refused: the fleet file is
//! shared and committed, so secrets come from a passfile or `PGPASSWORD`.

use std::path::PathBuf;
use std::time::Duration;

/// TLS policy, libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// Plain TCP only.
    Disable,
    /// TLS if the server offers it, else plain (libpq's `allow` is treated alike).
    Prefer,
    /// TLS required, certificate not verified.
    Require,
    /// TLS required, certificate chain verified against the root certificate.
    VerifyCa,
    /// TLS required, chain and host name verified.
    VerifyFull,
}

impl SslMode {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "disable" => Self::Disable,
            "allow" | "prefer" => Self::Prefer,
            "require" => Self::Require,
            "verify-ca" => Self::VerifyCa,
            "verify-full" => Self::VerifyFull,
            _ => return None,
        })
    }
}

/// A parsed connection string, before environment defaults are applied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnInfo {
    /// `host`: a name, an address or a socket directory (starts with `/`).
    pub host: Option<String>,
    /// `port`.
    pub port: Option<u16>,
    /// `dbname`.
    pub dbname: Option<String>,
    /// `user`.
    pub user: Option<String>,
    /// `passfile`.
    pub passfile: Option<PathBuf>,
    /// `sslmode`.
    pub sslmode: Option<SslModeSetting>,
    /// `sslrootcert`.
    pub sslrootcert: Option<PathBuf>,
    /// `connect_timeout`, in seconds.
    pub connect_timeout: Option<u64>,
    /// `application_name`.
    pub application_name: Option<String>,
}

/// A `sslmode` as written (kept as the parsed enum, wrapped for `Default`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SslModeSetting(pub SslMode);

/// What is wrong with a connection string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnInfoError {
    /// A `key=value` string was not well formed.
    #[error("malformed connection string: {0}")]
    Syntax(String),
    /// A key that libpq does not know, or that FleetDeck does not support.
    #[error("unknown connection option '{0}'")]
    UnknownKey(String),
    /// A value that does not fit its key.
    #[error("invalid value '{value}' for '{key}': {reason}")]
    BadValue {
        /// The key.
        key: String,
        /// The value as written.
        value: String,
        /// What was expected.
        reason: &'static str,
    },
    /// Secrets never live in the fleet file.
    #[error("a password is written in the connection string; use a passfile, ~/.pgpass or PGPASSWORD instead")]
    PasswordInline,
}

impl std::str::FromStr for ConnInfo {
    type Err = ConnInfoError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.starts_with("postgresql://") || s.starts_with("postgres://") {
            parse_uri(s)
        } else {
            let mut info = ConnInfo::default();
            for (k, v) in parse_pairs(s)? {
                info.set(&k, v)?;
            }
            Ok(info)
        }
    }
}

impl ConnInfo {
    fn set(&mut self, key: &str, value: String) -> Result<(), ConnInfoError> {
        let bad = |reason| ConnInfoError::BadValue { key: key.into(), value: value.clone(), reason };
        match key {
            "host" | "hostaddr" => self.host = Some(value),
            "port" => self.port = Some(value.parse().map_err(|_| bad("a port number 1-65535"))?),
            "dbname" => self.dbname = Some(value),
            "user" => self.user = Some(value),
            "password" => return Err(ConnInfoError::PasswordInline),
            "passfile" => self.passfile = Some(value.into()),
            "sslmode" => {
                let mode = SslMode::parse(&value)
                    .ok_or_else(|| bad("one of disable, allow, prefer, require, verify-ca, verify-full"))?;
                self.sslmode = Some(SslModeSetting(mode));
            }
            "sslrootcert" => self.sslrootcert = Some(value.into()),
            "connect_timeout" => {
                self.connect_timeout = Some(value.parse().map_err(|_| bad("whole seconds"))?)
            }
            "application_name" => self.application_name = Some(value),
            other => return Err(ConnInfoError::UnknownKey(other.into())),
        }
        Ok(())
    }

    /// Fills unset fields from the PG* environment variables, then from libpq's
    /// defaults (`localhost`, 5432, user = database = the OS user, `prefer`).
    pub fn resolve(&self, env: &dyn Fn(&str) -> Option<String>) -> Result<ResolvedConnInfo, ConnInfoError> {
        let mut info = self.clone();
        let pairs = [
            ("PGHOST", "host"),
            ("PGPORT", "port"),
            ("PGDATABASE", "dbname"),
            ("PGUSER", "user"),
            ("PGPASSFILE", "passfile"),
            ("PGSSLMODE", "sslmode"),
            ("PGSSLROOTCERT", "sslrootcert"),
            ("PGCONNECT_TIMEOUT", "connect_timeout"),
            ("PGAPPNAME", "application_name"),
        ];
        for (var, key) in pairs {
            let unset = match key {
                "host" => info.host.is_none(),
                "port" => info.port.is_none(),
                "dbname" => info.dbname.is_none(),
                "user" => info.user.is_none(),
                "passfile" => info.passfile.is_none(),
                "sslmode" => info.sslmode.is_none(),
                "sslrootcert" => info.sslrootcert.is_none(),
                "connect_timeout" => info.connect_timeout.is_none(),
                _ => info.application_name.is_none(),
            };
            if let (true, Some(v)) = (unset, env(var)) {
                info.set(key, v)?;
            }
        }
        let os_user = env("USER").unwrap_or_else(|| "postgres".into());
        let user = info.user.unwrap_or(os_user);
        Ok(ResolvedConnInfo {
            host: info.host.unwrap_or_else(|| "localhost".into()),
            port: info.port.unwrap_or(5432),
            dbname: info.dbname.unwrap_or_else(|| user.clone()),
            user,
            passfile: info.passfile.or_else(crate::pgpass::default_passfile),
            sslmode: info.sslmode.map_or(SslMode::Prefer, |s| s.0),
            sslrootcert: info.sslrootcert,
            connect_timeout: info.connect_timeout.map(Duration::from_secs),
            application_name: info.application_name.unwrap_or_else(|| "fleetdeck".into()),
        })
    }
}

/// A connection string with every default applied: what a probe connects with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedConnInfo {
    /// Host name, address, or socket directory.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Database.
    pub dbname: String,
    /// Login.
    pub user: String,
    /// Where the password is looked up, if anywhere.
    pub passfile: Option<PathBuf>,
    /// TLS policy.
    pub sslmode: SslMode,
    /// Root certificate for `verify-ca`/`verify-full`.
    pub sslrootcert: Option<PathBuf>,
    /// libpq's connect timeout, when set.
    pub connect_timeout: Option<Duration>,
    /// Shown in `pg_stat_activity`.
    pub application_name: String,
}

impl ResolvedConnInfo {
    /// `host:port`, for messages.
    pub fn address(&self) -> String {
        self.endpoint().to_string()
    }

    /// The endpoint, for matching against what other nodes report.
    pub fn endpoint(&self) -> crate::address::Address {
        crate::address::Address::new(&self.host, self.port)
    }

    /// The password: `PGPASSWORD` first (as libpq), then the passfile.
    pub fn password(&self, env: &dyn Fn(&str) -> Option<String>) -> Result<Option<String>, crate::pgpass::PassfileError> {
        if let Some(p) = env("PGPASSWORD") {
            return Ok(Some(p));
        }
        let Some(path) = &self.passfile else { return Ok(None) };
        // libpq matches socket connections as "localhost".
        let host = if self.host.starts_with('/') { "localhost" } else { &self.host };
        crate::pgpass::lookup(
            path,
            crate::pgpass::PassKey { host, port: self.port, dbname: &self.dbname, user: &self.user },
        )
    }
}

fn parse_pairs(s: &str) -> Result<Vec<(String, String)>, ConnInfoError> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            return Ok(out);
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c.is_whitespace() {
                break;
            }
            key.push(c);
            chars.next();
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.next() != Some('=') {
            return Err(ConnInfoError::Syntax(format!("missing '=' after '{key}'")));
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'\'') {
            chars.next();
            loop {
                match chars.next() {
                    Some('\\') => value.push(chars.next().ok_or_else(|| {
                        ConnInfoError::Syntax(format!("unterminated quoted value for '{key}'"))
                    })?),
                    Some('\'') => break,
                    Some(c) => value.push(c),
                    None => return Err(ConnInfoError::Syntax(format!("unterminated quoted value for '{key}'"))),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                if c == '\\' {
                    chars.next();
                    if let Some(n) = chars.next() {
                        value.push(n);
                    }
                    continue;
                }
                value.push(c);
                chars.next();
            }
        }
        if key.is_empty() {
            return Err(ConnInfoError::Syntax("a value with no key".into()));
        }
        out.push((key, value));
    }
}

fn percent_decode(s: &str) -> Result<String, ConnInfoError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok());
            out.push(hex.ok_or_else(|| ConnInfoError::Syntax(format!("bad percent-escape in '{s}'")))?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| ConnInfoError::Syntax(format!("'{s}' is not UTF-8 once decoded")))
}

fn parse_uri(s: &str) -> Result<ConnInfo, ConnInfoError> {
    let rest = s.split_once("://").map(|x| x.1).unwrap_or_default();
    let (main, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (authority, path) = main.split_once('/').unwrap_or((main, ""));
    let mut info = ConnInfo::default();
    let hostport = match authority.rsplit_once('@') {
        Some((userinfo, hp)) => {
            if userinfo.contains(':') {
                return Err(ConnInfoError::PasswordInline);
            }
            if !userinfo.is_empty() {
                info.user = Some(percent_decode(userinfo)?);
            }
            hp
        }
        None => authority,
    };
    if hostport.contains(',') {
        return Err(ConnInfoError::BadValue {
            key: "host".into(),
            value: hostport.into(),
            reason: "one host per endpoint: list each node as its own entry",
        });
    }
    let (host, port) = if let Some(h) = hostport.strip_prefix('[') {
        let (h, p) = h.split_once(']').ok_or_else(|| ConnInfoError::Syntax("unclosed '[' in host".into()))?;
        (h.to_string(), p.strip_prefix(':').unwrap_or(""))
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), p),
            None => (hostport.to_string(), ""),
        }
    };
    if !host.is_empty() {
        info.host = Some(percent_decode(&host)?);
    }
    if !port.is_empty() {
        info.set("port", port.to_string())?;
    }
    if !path.is_empty() {
        info.dbname = Some(percent_decode(path)?);
    }
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| ConnInfoError::Syntax(format!("URI parameter '{pair}' has no '='")))?;
        info.set(&percent_decode(k)?, percent_decode(v)?)?;
    }
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn key_value_with_quotes_and_escapes() {
        let c: ConnInfo = "host=127.0.0.1 port = 16000 dbname='my db' application_name='it\\'s'".parse().unwrap();
        assert_eq!(c.host.as_deref(), Some("127.0.0.1"));
        assert_eq!(c.port, Some(16000));
        assert_eq!(c.dbname.as_deref(), Some("my db"), "quoted values keep spaces");
        assert_eq!(c.application_name.as_deref(), Some("it's"), "\\' escapes a quote");
    }

    #[test]
    fn uri_form_matches_key_value_form() {
        let a: ConnInfo = "postgresql://mon@db.example:6543/chat?sslmode=verify-full&application_name=x%20y"
            .parse()
            .unwrap();
        let b: ConnInfo =
            "host=db.example port=6543 dbname=chat user=mon sslmode=verify-full application_name='x y'".parse().unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn inline_passwords_are_refused_in_both_forms() {
        assert_eq!("host=a password=x".parse::<ConnInfo>(), Err(ConnInfoError::PasswordInline));
        assert_eq!("postgresql://u:x@a/db".parse::<ConnInfo>(), Err(ConnInfoError::PasswordInline));
    }

    #[test]
    fn errors_name_the_key_and_value() {
        let e = "port=abc".parse::<ConnInfo>().unwrap_err().to_string();
        assert!(e.contains("'abc'") && e.contains("'port'"), "{e}");
        assert_eq!("hots=x".parse::<ConnInfo>(), Err(ConnInfoError::UnknownKey("hots".into())));
        assert!(matches!("host".parse::<ConnInfo>(), Err(ConnInfoError::Syntax(_))));
    }

    #[test]
    fn environment_fills_only_unset_fields_then_libpq_defaults() {
        let env = |k: &str| match k {
            "PGPORT" => Some("7000".to_string()),
            "PGUSER" => Some("envuser".to_string()),
            "PGSSLMODE" => Some("require".to_string()),
            _ => None,
        };
        let r = "host=h user=me".parse::<ConnInfo>().unwrap().resolve(&env).unwrap();
        assert_eq!((r.port, r.user.as_str(), r.sslmode), (7000, "me", SslMode::Require));
        assert_eq!(r.dbname, "me", "dbname defaults to the user, as in libpq");
        let d = ConnInfo::default().resolve(&no_env).unwrap();
        assert_eq!((d.host.as_str(), d.port, d.sslmode), ("localhost", 5432, SslMode::Prefer));
    }
}
