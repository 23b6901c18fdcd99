//! Redis probe for the cache fleet: the hot conversation context lives in Redis,
//! and a miss storm there is the first link of the "vicious cycle under load".
//!
//! One `INFO` per read gives everything the Cache view draws: role and
//! replication link, offsets, keyspace hits and misses, evictions, memory and
//! clients. Plain `INFO` (the default sections) is used rather than a list of
//! sections because only Redis 7 accepts several section names in one call.
//! [`parse_info`] is pure; [`caches`] turns one refresh's readings into the
//! snapshot's [`Cache`] rows, matching each replica to its master by address.

use std::collections::HashMap;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::IntoConnectionInfo;

use super::{Backoff, ProbeError};
use crate::fleet::RedisEndpoint;
use crate::address::Address;

/// One Redis node, with its multiplexed connection kept between refreshes.
pub struct RedisProbe {
    endpoint: RedisEndpoint,
    connection: Option<MultiplexedConnection>,
    backoff: Backoff,
    address: String,
}

/// One `INFO` of a Redis node.
#[derive(Debug, Clone, PartialEq)]
pub struct RedisReading {
    /// `host:port` probed (empty when straight out of [`parse_info`]).
    pub address: String,
    /// `role` as reported: `master` or `slave`.
    pub role: String,
    /// `keyspace_hits` since start (or `CONFIG RESETSTAT`).
    pub keyspace_hits: u64,
    /// `keyspace_misses`.
    pub keyspace_misses: u64,
    /// `evicted_keys`.
    pub evicted_keys: u64,
    /// `used_memory`, bytes.
    pub used_memory: u64,
    /// `maxmemory`, bytes (0 = unlimited).
    pub maxmemory: u64,
    /// `mem_fragmentation_ratio`.
    pub fragmentation_ratio: Option<f64>,
    /// `instantaneous_ops_per_sec`.
    pub ops_per_sec: f64,
    /// `connected_clients`.
    pub connected_clients: u32,
    /// `blocked_clients`.
    pub blocked_clients: u32,
    /// Replica: `master_host`.
    pub master_host: Option<String>,
    /// Replica: `master_port`.
    pub master_port: Option<u16>,
    /// Replica: `master_link_status` (`up`/`down`).
    pub master_link_status: Option<String>,
    /// `master_repl_offset` on a master, `slave_repl_offset` on a replica.
    pub repl_offset: Option<i64>,
}

impl RedisProbe {
    /// A probe for `endpoint`; it connects on its first [`read`](Self::read). The
    /// password, if any, is read from the variable `endpoint.password_env` names
    /// at each connect.
    pub fn new(endpoint: RedisEndpoint) -> Self {
        let address = endpoint_address(&endpoint);
        Self { endpoint, connection: None, backoff: Backoff::default(), address }
    }

    /// The name from the fleet file.
    pub fn name(&self) -> &str {
        &self.endpoint.name
    }

    /// `host:port` from the URL.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// One `INFO` within `timeout` (connecting first if needed). Any failure
    /// drops the connection — after a timeout a reply may still be in flight —
    /// and starts the backoff.
    pub async fn read(&mut self, timeout: Duration) -> Result<RedisReading, ProbeError> {
        if self.connection.is_none() {
            self.backoff.check()?;
        }
        let result = match tokio::time::timeout(timeout, self.read_within(timeout)).await {
            Ok(r) => r,
            Err(_) => Err(ProbeError::Timeout(timeout)),
        };
        match &result {
            Ok(_) => self.backoff.succeeded(),
            Err(e) => {
                self.connection = None;
                self.backoff.failed(e);
            }
        }
        result
    }

    async fn read_within(&mut self, timeout: Duration) -> Result<RedisReading, ProbeError> {
        let mut connection = match &self.connection {
            Some(c) => c.clone(),
            None => {
                let c = self.connect(timeout).await?;
                self.connection = Some(c.clone());
                c
            }
        };
        let text: String = redis::cmd("INFO").query_async(&mut connection).await.map_err(|e| {
            if e.is_timeout() {
                ProbeError::Timeout(timeout)
            } else {
                ProbeError::Query { what: "INFO".into(), reason: e.to_string() }
            }
        })?;
        let mut reading = parse_info(&text).map_err(|reason| ProbeError::Malformed { what: "INFO".into(), reason })?;
        reading.address = self.address.clone();
        Ok(reading)
    }

    async fn connect(&self, timeout: Duration) -> Result<MultiplexedConnection, ProbeError> {
        let fail = |reason: String| ProbeError::Connect { address: self.address.clone(), reason };
        let mut info = self.endpoint.url.as_str().into_connection_info().map_err(|e| fail(e.to_string()))?;
        if let Some(var) = &self.endpoint.password_env {
            let password = std::env::var(var).map_err(|_| fail(format!("password_env {var} is not set")))?;
            let settings = info.redis_settings().clone().set_password(password);
            info = info.set_redis_settings(settings);
        }
        let client = match &self.endpoint.tls_ca_file {
            // rediss:// with the fleet's own CA instead of the public roots.
            Some(ca) => {
                let pem = std::fs::read(ca).map_err(|e| fail(format!("tls_ca_file {}: {e}", ca.display())))?;
                let certs = redis::TlsCertificates { client_tls: None, root_cert: Some(pem) };
                redis::Client::build_with_tls(info, certs).map_err(|e| fail(e.to_string()))?
            }
            None => redis::Client::open(info).map_err(|e| fail(e.to_string()))?,
        };
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout));
        client.get_multiplexed_async_connection_with_config(&config).await.map_err(|e| {
            if e.is_timeout() {
                ProbeError::Timeout(timeout)
            } else {
                fail(e.to_string())
            }
        })
    }
}

/// `host:port` of an endpoint's URL (the URL itself when it has none).
pub fn endpoint_address(endpoint: &RedisEndpoint) -> String {
    Address::from_url(&endpoint.url, DEFAULT_PORT).map_or_else(|| endpoint.url.clone(), |a| a.to_string())
}

/// Redis' default port, for URLs that name none.
pub const DEFAULT_PORT: u16 = 6379;

/// Parses the text of `INFO` (any set of sections that includes replication,
/// stats, memory and clients). Missing or unreadable required fields give an
/// `Err` naming every one of them.
pub fn parse_info(text: &str) -> Result<RedisReading, String> {
    let fields: HashMap<&str, &str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once(':'))
        .collect();
    let mut missing = Vec::new();
    let mut bad = Vec::new();
    let mut required = |key: &'static str| -> Option<&str> {
        let v = fields.get(key).copied();
        if v.is_none() {
            missing.push(key);
        }
        v
    };
    let role = required("role").map(str::to_string);
    let raw = [
        "keyspace_hits",
        "keyspace_misses",
        "evicted_keys",
        "used_memory",
        "maxmemory",
        "instantaneous_ops_per_sec",
        "connected_clients",
        "blocked_clients",
    ]
    .map(|k| (k, required(k)));
    let mut numbers = [0u64; 8];
    for (slot, (key, value)) in numbers.iter_mut().zip(raw) {
        if let Some(v) = value {
            match v.parse() {
                Ok(n) => *slot = n,
                Err(_) => bad.push(format!("{key} is '{v}', not a whole number")),
            }
        }
    }
    let mut optional_number = |key: &str| -> Option<f64> {
        let v = fields.get(key)?;
        match v.parse::<f64>() {
            Ok(n) => Some(n),
            Err(_) => {
                bad.push(format!("{key} is '{v}', not a number"));
                None
            }
        }
    };
    let fragmentation_ratio = optional_number("mem_fragmentation_ratio");
    let master_port = optional_number("master_port");
    let offset_key = if role.as_deref() == Some("master") { "master_repl_offset" } else { "slave_repl_offset" };
    let repl_offset = match fields.get(offset_key) {
        Some(v) => match v.parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => {
                bad.push(format!("{offset_key} is '{v}', not a whole number"));
                None
            }
        },
        None => None,
    };
    let master_port = match master_port {
        Some(p) if p.fract() == 0.0 && (0.0..=65535.0).contains(&p) => Some(p as u16),
        Some(p) => {
            bad.push(format!("master_port is '{p}', not a port"));
            None
        }
        None => None,
    };
    if !missing.is_empty() {
        bad.insert(0, format!("missing {}", missing.join(", ")));
    }
    if !bad.is_empty() {
        return Err(bad.join("; "));
    }
    let [keyspace_hits, keyspace_misses, evicted_keys, used_memory, maxmemory, ops, connected, blocked] = numbers;
    let clients = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
    Ok(RedisReading {
        address: String::new(),
        role: role.unwrap_or_default(),
        keyspace_hits,
        keyspace_misses,
        evicted_keys,
        used_memory,
        maxmemory,
        fragmentation_ratio,
        ops_per_sec: ops as f64,
        connected_clients: clients(connected),
        blocked_clients: clients(blocked),
        master_host: fields.get("master_host").map(|s| s.to_string()),
        master_port,
        master_link_status: fields.get("master_link_status").map(|s| s.to_string()),
        repl_offset,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) const MASTER: &str = "# Clients\r\nconnected_clients:2\r\nblocked_clients:0\r\n\r\n# Memory\r\n\
        used_memory:4795360\r\nmaxmemory:67108864\r\nmem_fragmentation_ratio:2.37\r\n\r\n# Stats\r\n\
        instantaneous_ops_per_sec:42\r\nevicted_keys:0\r\nkeyspace_hits:849\r\nkeyspace_misses:516\r\n\r\n\
        # Replication\r\nrole:master\r\nconnected_slaves:2\r\nslave0:ip=127.0.0.1,port=17001,state=online,offset=6298020,lag=0\r\n\
        master_repl_offset:6298100\r\n";

    pub(crate) const REPLICA: &str = "# Replication\nrole:slave\nmaster_host:127.0.0.1\nmaster_port:17000\n\
        master_link_status:up\nslave_read_repl_offset:6298020\nslave_repl_offset:6298020\nmaster_repl_offset:6298020\n\
        # Stats\ninstantaneous_ops_per_sec:3\nevicted_keys:0\nkeyspace_hits:0\nkeyspace_misses:0\n\
        # Memory\nused_memory:1000\nmaxmemory:0\n# Clients\nconnected_clients:1\nblocked_clients:0\n";

    #[test]
    fn a_master_info_is_read_field_by_field() {
        let r = parse_info(MASTER).unwrap();
        assert_eq!(r.role, "master");
        assert_eq!((r.keyspace_hits, r.keyspace_misses, r.evicted_keys), (849, 516, 0));
        assert_eq!((r.used_memory, r.maxmemory), (4795360, 67108864));
        assert_eq!(r.fragmentation_ratio, Some(2.37));
        assert_eq!((r.ops_per_sec, r.connected_clients, r.blocked_clients), (42.0, 2, 0));
        assert_eq!(r.repl_offset, Some(6298100), "a master's offset is master_repl_offset");
        assert_eq!(r.master_host, None);
    }

    #[test]
    fn a_replica_reports_its_own_offset_and_link() {
        let r = parse_info(REPLICA).unwrap();
        assert_eq!(r.role, "slave", "the role is kept as reported");
        assert_eq!((r.master_host.as_deref(), r.master_port), (Some("127.0.0.1"), Some(17000)));
        assert_eq!(r.master_link_status.as_deref(), Some("up"));
        assert_eq!(r.repl_offset, Some(6298020), "a replica's offset is slave_repl_offset");
        assert_eq!(r.fragmentation_ratio, None, "mem_fragmentation_ratio is optional");
    }

    #[test]
    fn missing_and_unreadable_fields_are_all_named() {
        let e = parse_info("role:master\nkeyspace_hits:x\n").unwrap_err();
        assert!(e.starts_with("missing keyspace_misses, evicted_keys, used_memory"), "{e}");
        assert!(e.contains("blocked_clients"), "every missing field is named: {e}");
        assert!(e.contains("keyspace_hits is 'x'"), "an unreadable field is named with its value: {e}");
        assert!(parse_info("").unwrap_err().contains("role"), "an empty reply is not a reading");
    }
}
