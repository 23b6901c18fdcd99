//! From readings to snapshot rows: probes only read their endpoint; the
//! rows a view draws — a pool with its saturation verdict, a cache with its
//! master and replication lag — are assembled here from one refresh's
//! readings, with [`crate::topology`] deciding who is attached to whom.

use std::collections::HashMap;

use crate::address::Address;
use crate::fleet::{RedisEndpoint, Thresholds};
use crate::probe::pgbouncer::{PgBouncerReading, ADMIN_DATABASE};
use crate::probe::redis::{self, RedisReading};
use crate::probe::ProbeError;
use crate::snapshot::{Cache, CacheRole, Pool};
use crate::topology;

/// Joins pools with their pool_size from SHOW DATABASES and decides saturation:
/// saturated = cl_waiting > 0, or maxwait_seconds > t.pool_maxwait_seconds, or
/// sv_active/pool_size >= t.pool_active_ratio; saturation_reasons says which, in
/// words with the numbers. Skips the internal `pgbouncer` admin database.
///
/// A pool whose database is missing from `SHOW DATABASES` (it was just removed
/// by a RELOAD) gets pool_size 0 and no ratio check; waiting clients still count.
pub fn pools(pooler_name: &str, reading: &PgBouncerReading, t: &Thresholds) -> Vec<Pool> {
    reading
        .pools
        .iter()
        .filter(|p| p.database != ADMIN_DATABASE)
        .map(|p| {
            let pool_size = reading.databases.iter().find(|d| d.name == p.database).map_or(0, |d| d.pool_size);
            let mut reasons = Vec::new();
            if p.cl_waiting > 0 {
                let s = if p.cl_waiting == 1 { "" } else { "s" };
                reasons.push(format!("{} client{s} waiting for a server connection", p.cl_waiting));
            }
            if p.maxwait_seconds > t.pool_maxwait_seconds {
                reasons.push(format!(
                    "oldest waiting client has waited {:.2} s (threshold {:.2} s)",
                    p.maxwait_seconds, t.pool_maxwait_seconds
                ));
            }
            if pool_size > 0 {
                let ratio = f64::from(p.sv_active) / f64::from(pool_size);
                if ratio >= t.pool_active_ratio {
                    reasons.push(format!(
                        "{} of {pool_size} server connections active ({:.0}% ≥ {:.0}%)",
                        p.sv_active,
                        ratio * 100.0,
                        t.pool_active_ratio * 100.0
                    ));
                }
            }
            Pool {
                name: pooler_name.to_string(),
                database: p.database.clone(),
                user: p.user.clone(),
                cl_active: p.cl_active,
                cl_waiting: p.cl_waiting,
                sv_active: p.sv_active,
                sv_idle: p.sv_idle,
                sv_used: p.sv_used,
                maxwait_seconds: p.maxwait_seconds,
                pool_size,
                pool_mode: p.pool_mode.clone(),
                saturated: !reasons.is_empty(),
                saturation_reasons: reasons,
            }
        })
        .collect()
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
    let addresses: Vec<(String, Address)> = readings
        .iter()
        .filter_map(|(e, _)| Some((e.name.clone(), Address::from_url(&e.url, redis::DEFAULT_PORT)?)))
        .collect();
    let by_name = |name: &str| readings.iter().find(|(e, _)| e.name == name);
    readings
        .iter()
        .map(|(endpoint, result)| {
            let address = redis::endpoint_address(endpoint);
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
                (Some(h), Some(p)) if role == CacheRole::Replica => topology::cache_master(h, p, &addresses).and_then(by_name),
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

fn ratio(hits: u64, misses: u64) -> Option<f64> {
    let total = hits + misses;
    (total > 0).then(|| hits as f64 / total as f64)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::probe::pgbouncer::{DatabaseRow, PoolRow};
    use crate::probe::redis::parse_info;
    use crate::probe::redis::tests::{MASTER, REPLICA};

    fn thresholds() -> Thresholds {
        Thresholds::default()
    }

    fn pool(database: &str, cl_waiting: u32, sv_active: u32, maxwait_seconds: f64) -> PoolRow {
        PoolRow {
            database: database.into(),
            user: "chat_app".into(),
            cl_active: sv_active,
            cl_waiting,
            sv_active,
            sv_idle: 4 - sv_active.min(4),
            sv_used: 0,
            maxwait_seconds,
            pool_mode: "transaction".into(),
        }
    }

    fn database(name: &str, pool_size: u32) -> DatabaseRow {
        DatabaseRow {
            name: name.into(),
            host: Some("127.0.0.1".into()),
            port: Some(16000),
            database: name.into(),
            pool_size,
            pool_mode: None,
            paused: false,
        }
    }

    fn reading(pools: Vec<PoolRow>) -> PgBouncerReading {
        PgBouncerReading {
            address: "127.0.0.1:16400".into(),
            pools,
            stats: vec![],
            databases: vec![database("chat", 4), database("pgbouncer", 2)],
        }
    }

    fn endpoint(name: &str, port: u16) -> RedisEndpoint {
        RedisEndpoint { name: name.into(), url: format!("redis://127.0.0.1:{port}"), password_env: None, tls_ca_file: None }
    }

    fn with(text: &str, f: impl FnOnce(&mut RedisReading)) -> RedisReading {
        let mut r = parse_info(text).unwrap();
        f(&mut r);
        r
    }

    #[test]
    fn a_quiet_pool_is_not_saturated() {
        let p = pools("pgb0", &reading(vec![pool("chat", 0, 1, 0.0)]), &thresholds());
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].pool_size, 4, "pool_size comes from SHOW DATABASES");
        assert!(!p[0].saturated, "1 of 4 active, nobody waiting: {:?}", p[0].saturation_reasons);
        assert!(p[0].saturation_reasons.is_empty());
    }

    #[test]
    fn each_saturation_rule_fires_alone_and_says_why() {
        let t = thresholds();
        let waiting = &pools("pgb0", &reading(vec![pool("chat", 3, 1, 0.2)]), &t)[0];
        assert!(waiting.saturated, "waiting clients alone saturate");
        assert_eq!(waiting.saturation_reasons, ["3 clients waiting for a server connection"]);

        // maxwait over the threshold with cl_waiting 0 happens when the waiter got a connection between counters.
        let slow = &pools("pgb0", &reading(vec![pool("chat", 0, 1, 1.5)]), &t)[0];
        assert_eq!(slow.saturation_reasons, ["oldest waiting client has waited 1.50 s (threshold 1.00 s)"]);

        let busy = &pools("pgb0", &reading(vec![pool("chat", 0, 4, 0.0)]), &t)[0];
        assert_eq!(busy.saturation_reasons, ["4 of 4 server connections active (100% ≥ 80%)"]);
    }

    #[test]
    fn thresholds_are_inclusive_for_the_ratio_and_strict_for_maxwait() {
        let t = Thresholds { pool_active_ratio: 0.75, ..thresholds() };
        let at_ratio = &pools("pgb0", &reading(vec![pool("chat", 0, 3, 1.0)]), &t)[0];
        assert_eq!(
            at_ratio.saturation_reasons,
            ["3 of 4 server connections active (75% ≥ 75%)"],
            "3/4 = 0.75 meets a 0.75 ratio (≥), while a maxwait equal to the threshold does not exceed it"
        );
    }

    #[test]
    fn all_reasons_are_listed_together() {
        let p = &pools("pgb0", &reading(vec![pool("chat", 1, 4, 2.25)]), &thresholds())[0];
        assert_eq!(p.saturation_reasons.len(), 3, "{:?}", p.saturation_reasons);
        assert_eq!(p.saturation_reasons[0], "1 client waiting for a server connection");
    }

    #[test]
    fn the_admin_database_is_skipped_and_unknown_databases_get_no_ratio() {
        let r = reading(vec![pool("pgbouncer", 0, 0, 0.0), pool("gone", 0, 4, 0.0)]);
        let p = pools("pgb0", &r, &thresholds());
        assert_eq!(p.len(), 1, "the pgbouncer admin pool is not a pool clients wait on");
        assert_eq!((p[0].database.as_str(), p[0].pool_size), ("gone", 0));
        assert!(!p[0].saturated, "without a pool_size the active ratio cannot be judged");
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
