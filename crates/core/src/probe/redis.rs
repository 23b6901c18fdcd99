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
use crate::snapshot::{Cache, CacheRole};

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
        let address = url_address(&endpoint.url).map_or_else(|| endpoint.url.clone(), |(h, p)| format!("{h}:{p}"));
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
        let client = redis::Client::open(info).map_err(|e| fail(e.to_string()))?;
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

/// `(host, port)` of a `redis://` / `rediss://` URL; the port defaults to 6379.
fn url_address(url: &str) -> Option<(String, u16)> {
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
        None => 6379,
    };
    (!host.is_empty()).then(|| (host.to_string(), port))
}

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

fn ratio(hits: u64, misses: u64) -> Option<f64> {
    let total = hits + misses;
    (total > 0).then(|| hits as f64 / total as f64)
}

/// Builds the snapshot's caches: role "master"/"replica"/"unknown", upstream =
/// the fleet name whose url host:port matches master_host:master_port,
/// replication_offset_lag = upstream master's repl_offset - replica's (when both
/// readable), hit_ratio since the previous reading of that node (from
/// `previous`, which this function updates), lifetime ratio too; unreachable
/// nodes keep their name and carry the error text.
///
/// The offset lag is clamped at 0: the readings of one refresh are taken
/// concurrently, so a replica read a moment after its master can report an
/// offset beyond the one its master reported, which is skew, not lead. The
/// interval hit ratio is `None` when no lookups happened since the previous
/// reading; when the counters went backwards (restart, `CONFIG RESETSTAT`) the
/// lifetime ratio stands in.
pub fn caches(
    readings: &[(RedisEndpoint, Result<RedisReading, ProbeError>)],
    previous: &mut HashMap<String, (u64, u64)>,
) -> Vec<Cache> {
    let by_address = |host: &str, port: u16| {
        readings
            .iter()
            .find(|(e, _)| url_address(&e.url).is_some_and(|(h, p)| p == port && crate::topology::same_host(&h, host)))
    };
    readings
        .iter()
        .map(|(endpoint, result)| {
            let address = url_address(&endpoint.url).map_or_else(|| endpoint.url.clone(), |(h, p)| format!("{h}:{p}"));
            let r = match result {
                Ok(r) => r,
                Err(e) => {
                    return Cache {
                        name: endpoint.name.clone(),
                        address,
                        role: CacheRole::Unknown,
                        reachable: false,
                        error: Some(e.to_string()),
                        upstream: None,
                        hit_ratio: None,
                        hit_ratio_lifetime: None,
                        evicted_keys: 0,
                        used_memory_bytes: 0,
                        maxmemory_bytes: 0,
                        fragmentation_ratio: None,
                        ops_per_second: 0.0,
                        connected_clients: 0,
                        blocked_clients: 0,
                        master_link_status: None,
                        replication_offset_lag: None,
                    }
                }
            };
            let role = CacheRole::parse(&r.role);
            let master = match (&r.master_host, r.master_port) {
                (Some(h), Some(p)) if role == CacheRole::Replica => by_address(h, p),
                _ => None,
            };
            let replication_offset_lag = match (master.map(|(_, m)| m), r.repl_offset) {
                (Some(Ok(m)), Some(mine)) => m.repl_offset.map(|theirs| (theirs - mine).max(0)),
                _ => None,
            };
            let lifetime = ratio(r.keyspace_hits, r.keyspace_misses);
            let hit_ratio = match previous.insert(endpoint.name.clone(), (r.keyspace_hits, r.keyspace_misses)) {
                Some((h, m)) if r.keyspace_hits >= h && r.keyspace_misses >= m => {
                    ratio(r.keyspace_hits - h, r.keyspace_misses - m)
                }
                _ => lifetime,
            };
            Cache {
                name: endpoint.name.clone(),
                address: if r.address.is_empty() { address } else { r.address.clone() },
                role,
                reachable: true,
                error: None,
                upstream: master.map(|(e, _)| e.name.clone()),
                hit_ratio,
                hit_ratio_lifetime: lifetime,
                evicted_keys: r.evicted_keys,
                used_memory_bytes: r.used_memory,
                maxmemory_bytes: r.maxmemory,
                fragmentation_ratio: r.fragmentation_ratio,
                ops_per_second: r.ops_per_sec,
                connected_clients: r.connected_clients,
                blocked_clients: r.blocked_clients,
                master_link_status: r.master_link_status.clone(),
                replication_offset_lag,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MASTER: &str = "# Clients\r\nconnected_clients:2\r\nblocked_clients:0\r\n\r\n# Memory\r\n\
        used_memory:4795360\r\nmaxmemory:67108864\r\nmem_fragmentation_ratio:2.37\r\n\r\n# Stats\r\n\
        instantaneous_ops_per_sec:42\r\nevicted_keys:0\r\nkeyspace_hits:849\r\nkeyspace_misses:516\r\n\r\n\
        # Replication\r\nrole:master\r\nconnected_slaves:2\r\nslave0:ip=127.0.0.1,port=17001,state=online,offset=6298020,lag=0\r\n\
        master_repl_offset:6298100\r\n";

    const REPLICA: &str = "# Replication\nrole:slave\nmaster_host:127.0.0.1\nmaster_port:17000\n\
        master_link_status:up\nslave_read_repl_offset:6298020\nslave_repl_offset:6298020\nmaster_repl_offset:6298020\n\
        # Stats\ninstantaneous_ops_per_sec:3\nevicted_keys:0\nkeyspace_hits:0\nkeyspace_misses:0\n\
        # Memory\nused_memory:1000\nmaxmemory:0\n# Clients\nconnected_clients:1\nblocked_clients:0\n";

    fn endpoint(name: &str, port: u16) -> RedisEndpoint {
        RedisEndpoint { name: name.into(), url: format!("redis://127.0.0.1:{port}"), password_env: None }
    }

    fn with(text: &str, f: impl FnOnce(&mut RedisReading)) -> RedisReading {
        let mut r = parse_info(text).unwrap();
        f(&mut r);
        r
    }

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

    #[test]
    fn url_addresses_default_the_port_and_handle_ipv6() {
        assert_eq!(url_address("redis://127.0.0.1:17000/0"), Some(("127.0.0.1".into(), 17000)));
        assert_eq!(url_address("rediss://cache.internal"), Some(("cache.internal".into(), 6379)));
        assert_eq!(url_address("redis://[::1]:7000"), Some(("::1".into(), 7000)));
    }

    #[test]
    fn caches_link_replicas_to_their_master_by_address() {
        let readings = vec![
            (endpoint("redis0", 17000), Ok(parse_info(MASTER).unwrap())),
            (endpoint("redis1", 17001), Ok(parse_info(REPLICA).unwrap())),
            (endpoint("redis2", 17002), Err(ProbeError::Timeout(Duration::from_secs(1)))),
        ];
        let c = caches(&readings, &mut HashMap::new());
        assert_eq!((&c[0].role, c[0].upstream.as_deref()), (&CacheRole::Master, None));
        assert_eq!((&c[1].role, c[1].upstream.as_deref()), (&CacheRole::Replica, Some("redis0")));
        assert_eq!(c[1].replication_offset_lag, Some(80), "master 6298100 - replica 6298020");
        assert_eq!(c[1].address, "127.0.0.1:17001");
        assert!(!c[2].reachable && c[2].role == CacheRole::Unknown, "an unreachable node is kept, role unknown");
        assert_eq!(c[2].name, "redis2");
        assert!(c[2].error.as_deref().unwrap().contains("no answer"), "{:?}", c[2].error);
    }

    #[test]
    fn a_replica_read_after_its_master_never_shows_negative_lag() {
        let ahead = with(REPLICA, |r| r.repl_offset = Some(6298200));
        let readings =
            vec![(endpoint("redis0", 17000), Ok(parse_info(MASTER).unwrap())), (endpoint("redis1", 17001), Ok(ahead))];
        assert_eq!(caches(&readings, &mut HashMap::new())[1].replication_offset_lag, Some(0));
    }

    #[test]
    fn a_replica_whose_master_is_not_in_the_fleet_has_no_upstream() {
        let orphan = with(REPLICA, |r| r.master_port = Some(6379));
        let c = caches(&[(endpoint("redis1", 17001), Ok(orphan))], &mut HashMap::new());
        assert_eq!((c[0].upstream.as_deref(), c[0].replication_offset_lag), (None, None));
    }

    #[test]
    fn hit_ratio_is_measured_since_the_previous_reading() {
        let mut previous = HashMap::new();
        let first =
            [(endpoint("redis0", 17000), Ok(with(MASTER, |r| (r.keyspace_hits, r.keyspace_misses) = (90, 10))))];
        let c = caches(&first, &mut previous);
        assert_eq!(c[0].hit_ratio, Some(0.9), "the first reading falls back to the lifetime ratio");
        assert_eq!(previous["redis0"], (90, 10), "caches() records this reading for the next refresh");

        // A miss storm: 10 hits and 90 misses since the previous refresh.
        let second =
            [(endpoint("redis0", 17000), Ok(with(MASTER, |r| (r.keyspace_hits, r.keyspace_misses) = (100, 100))))];
        let c = caches(&second, &mut previous);
        assert_eq!(c[0].hit_ratio, Some(0.1), "the interval ratio shows the storm");
        assert_eq!(c[0].hit_ratio_lifetime, Some(0.5), "while the lifetime ratio hides it");

        let idle = caches(&second, &mut previous);
        assert_eq!(idle[0].hit_ratio, None, "no lookups since the previous reading: no ratio");

        let restarted =
            [(endpoint("redis0", 17000), Ok(with(MASTER, |r| (r.keyspace_hits, r.keyspace_misses) = (3, 1))))];
        assert_eq!(caches(&restarted, &mut previous)[0].hit_ratio, Some(0.75), "counters going backwards = restart");
    }
}
