//! One network address type for every "who is attached to whom" rule. Nodes
//! report their peers as they were configured — a WAL receiver's
//! `sender_host`, PgBouncer's `[databases]` host, Redis' `master_host` — and
//! the fleet file names endpoints its own way (`localhost`, `127.0.0.1`,
//! `[::1]`, a URL). Matching them is the same question every time, answered
//! here once: same port, and the same host, counting every loopback spelling
//! as one host.

use std::fmt;

/// A `host:port` endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Address {
    /// Host name or IP literal, without IPv6 brackets.
    pub host: String,
    /// TCP port.
    pub port: u16,
}

impl Address {
    /// An address from its parts (IPv6 brackets are removed).
    pub fn new(host: &str, port: u16) -> Self {
        Self { host: host.trim_start_matches('[').trim_end_matches(']').to_string(), port }
    }

    /// Parses `host:port` or `[v6]:port`.
    pub fn parse(s: &str) -> Option<Self> {
        let (host, port) = s.rsplit_once(':')?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        (!host.is_empty()).then_some(())?;
        Some(Self::new(host, port.parse().ok()?))
    }

    /// The host and port of a URL such as `redis://user@h:6380/0` or
    /// `rediss://[::1]`; `default_port` when the URL names none.
    pub fn from_url(url: &str, default_port: u16) -> Option<Self> {
        let rest = url.split_once("://").map_or(url, |(_, r)| r);
        let authority = rest.split(['/', '?', '#']).next()?;
        let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6.split_once(']')?;
            (host, after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        let port = match port {
            Some(p) => p.parse().ok()?,
            None => default_port,
        };
        (!host.is_empty()).then(|| Self::new(host, port))
    }

    /// The same endpoint as `host:port` reported by a peer.
    pub fn is(&self, host: &str, port: u16) -> bool {
        self.port == port && same_host(&self.host, host.trim_start_matches('[').trim_end_matches(']'))
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// Two host names denote the same host: equal (ignoring case), or both
/// loopback (`localhost`, `127.x`, `::1`), since nodes report whichever their
/// config says.
pub fn same_host(a: &str, b: &str) -> bool {
    let loopback = |h: &str| h.eq_ignore_ascii_case("localhost") || h == "::1" || h.starts_with("127.");
    a.eq_ignore_ascii_case(b) || (loopback(a) && loopback(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_loopback_spelling_is_one_host() {
        let a = Address::parse("127.0.0.1:5432").unwrap();
        assert!(a.is("localhost", 5432) && a.is("::1", 5432) && a.is("[::1]", 5432) && a.is("127.0.1.1", 5432));
        assert!(!a.is("localhost", 5433), "the port must match too");
        assert!(!a.is("10.0.0.1", 5432));
        assert!(Address::parse("DB1.example:5432").unwrap().is("db1.example", 5432), "host names ignore case");
    }

    #[test]
    fn parsing_handles_ipv6_and_refuses_what_has_no_port() {
        assert_eq!(Address::parse("[::1]:6379"), Some(Address::new("::1", 6379)));
        assert_eq!(Address::new("::1", 6379).to_string(), "[::1]:6379", "brackets come back when shown");
        assert_eq!(Address::parse("host"), None);
        assert_eq!(Address::parse(":5432"), None);
        assert_eq!(Address::parse("h:notaport"), None);
    }

    #[test]
    fn urls_default_the_port_and_skip_credentials() {
        assert_eq!(Address::from_url("redis://127.0.0.1:17000", 6379), Some(Address::new("127.0.0.1", 17000)));
        assert_eq!(Address::from_url("rediss://user@cache.internal/0", 6379), Some(Address::new("cache.internal", 6379)));
        assert_eq!(Address::from_url("redis://[::1]", 6379), Some(Address::new("::1", 6379)));
        assert_eq!(Address::from_url("redis://[::1]:7000/2?x=1", 6379), Some(Address::new("::1", 7000)));
        assert_eq!(Address::from_url("redis://", 6379), None);
    }
}
