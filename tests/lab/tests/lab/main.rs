//! The lab is what `lab/lab up` claims: real topology, real pools, real caches,
//! real Prometheus targets, and incidents that do what they say and clear.
//!
//! Run with `--test-threads=1`: incidents change shared state.

mod fleet_up;
mod incidents;
