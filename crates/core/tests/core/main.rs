//! The core against the running lab (`lab/lab up`): every probe, the discovered
//! topology and the snapshot, proven on real servers.
//!
//! Run with `--test-threads=1`: some tests stage lab incidents.

mod common;
mod pg;
mod pgbouncer;
mod prometheus;
mod redis;
mod refresh;
mod scrape;
mod slow;
mod tls;
