//! FleetDeck's engine, kept free of any UI or Tauri dependency so that it can be
//! tested headless against the lab and shared by the CLI, `serve` and the desktop.
//!
//! Data flows one way: a [`fleet::Fleet`] (the checked fleet file) names endpoints;
//! probes read each endpoint concurrently, each under its own timeout; topology is
//! discovered from what the nodes report; one snapshot comes out per refresh.
#![deny(missing_docs)]

pub mod action;
pub mod address;
pub mod anomaly;
pub mod assemble;
pub mod conninfo;
pub mod contract;
pub mod explain;
pub mod fleet;
pub mod incidents;
pub mod on_demand;
pub mod pg;
pub mod pgpass;
pub mod probe;
pub mod refresh;
pub mod slow;
pub mod snapshot;
pub mod store;
pub mod topology;
pub mod watch;
