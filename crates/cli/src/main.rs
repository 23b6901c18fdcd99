//! `fleetdeck`: the engine from a terminal, for scripts and for an on-call
//! engineer on SSH when the desktop is not at hand. Every command takes the
//! same fleet file; a bad one exits 2 with the file, line, field and reason.

mod actions;
mod audit;
mod render;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand, ValueEnum};
use fleetdeck_core::explain::{self, Target};
use fleetdeck_core::fleet::Fleet;
use fleetdeck_core::probe::postgres::PostgresProbe;
use fleetdeck_core::incidents::timestamp;
use fleetdeck_core::refresh::Engine;
use fleetdeck_core::store::Store;
use fleetdeck_core::watch::{FleetWatch, IncidentStore};

#[derive(Parser)]
#[command(name = "fleetdeck", version, about = "On-call console for a PostgreSQL + PgBouncer + Redis + AI-serving fleet")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// One refresh of the whole fleet.
    Snapshot {
        /// Fleet file.
        #[arg(long)]
        fleet: PathBuf,
        /// Print the snapshot as JSON.
        #[arg(long)]
        json: bool,
        /// Exit 1 when the snapshot holds any anomaly.
        #[arg(long)]
        fail_on_anomaly: bool,
    },
    /// The replication tree, lag on each edge.
    Topology {
        /// Fleet file.
        #[arg(long)]
        fleet: PathBuf,
    },
    /// A live terminal view, refreshed every probe interval (1 s by default).
    Watch {
        /// Fleet file.
        #[arg(long)]
        fleet: PathBuf,
        /// Stop after this many refreshes (default: until Ctrl-C).
        #[arg(long)]
        count: Option<u64>,
    },
    /// pg_stat_statements top-N of one node.
    TopQueries {
        /// Fleet file.
        #[arg(long)]
        fleet: PathBuf,
        /// Node name.
        #[arg(long)]
        node: String,
        /// Sort by.
        #[arg(long, value_enum, default_value_t = SortBy::Total)]
        sort: SortBy,
        /// Rows.
        #[arg(long, default_value_t = 20)]
        limit: u32,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// EXPLAIN (FORMAT JSON) a statement on one node; ANALYZE only on a replica, rolled back.
    Explain {
        /// Fleet file.
        #[arg(long)]
        fleet: PathBuf,
        /// Node name.
        #[arg(long)]
        node: String,
        /// A pg_stat_statements queryid.
        #[arg(long, conflicts_with = "sql", required_unless_present = "sql")]
        query_id: Option<String>,
        /// SQL text (one statement).
        #[arg(long)]
        sql: Option<String>,
        /// Run it (EXPLAIN ANALYZE): replicas only, in a rolled-back read-only transaction.
        #[arg(long)]
        analyze: bool,
        /// Statement timeout for the EXPLAIN, ms.
        #[arg(long, default_value_t = 5000)]
        timeout_ms: u64,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Serve the web UI and a read-only API (Server-Sent Events) to browsers.
    Serve {
        /// Fleet file.
        #[arg(long)]
        fleet: PathBuf,
        /// Address to listen on; anything but loopback requires the printed token.
        #[arg(long, default_value = fleetdeck_serve::DEFAULT_BIND)]
        bind: std::net::SocketAddr,
        /// Serve the UI from this directory instead of the one built in (UI
        /// development: a rebuilt ui/dist is picked up on reload).
        #[arg(long)]
        ui_dir: Option<PathBuf>,
    },
    /// Recorded incident episodes of a fleet (from the local store), open ones first.
    Incidents {
        /// Fleet file.
        #[arg(long)]
        fleet: PathBuf,
        /// Only episodes open now or last seen within this long (e.g. 90s, 30m, 2h, 7d).
        #[arg(long, value_parser = parse_duration)]
        since: Option<Duration>,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Guarded planned switchover of the primary to one of its direct
    /// replicas, through the poolers. Exit 0 done and verified, 3 refused
    /// (nothing changed), 4 failed and rolled back, 5 needs attention.
    Switchover {
        /// Fleet file.
        #[arg(long)]
        fleet: PathBuf,
        /// The replica to promote.
        #[arg(long)]
        to: String,
        #[command(flatten)]
        args: actions::ActionArgs,
    },
    /// Guarded failover when the primary is gone: the most advanced replica
    /// (or --to) is promoted and the poolers and siblings follow it. Exit codes as switchover.
    Failover {
        /// Fleet file.
        #[arg(long)]
        fleet: PathBuf,
        /// Promote this replica instead of the most advanced one.
        #[arg(long)]
        to: Option<String>,
        /// Go ahead although the possible loss is over `actions.max_failover_loss_bytes` (audited).
        #[arg(long, value_name = "REASON")]
        allow_data_loss: Option<String>,
        #[command(flatten)]
        args: actions::ActionArgs,
    },
    /// Interrupted (and running) actions, what they left behind, and their recovery.
    /// Also the nodes FleetDeck fenced, until they stream as replicas again.
    /// Exit 0 when nothing needs anyone, 5 when an action or a fenced node needs a human.
    Actions {
        /// Fleet file.
        #[arg(long)]
        fleet: PathBuf,
        /// Recover interrupted action ID (finish it, or roll it back, from what the fleet shows).
        #[arg(long, value_name = "ID")]
        recover: Option<i64>,
        #[command(flatten)]
        args: actions::ActionArgs,
    },
    /// The tamper-evident audit log of guarded actions.
    Audit {
        #[command(subcommand)]
        cmd: audit::AuditCommand,
    },
    /// Parse one Prometheus exposition endpoint.
    Scrape {
        /// URL of the /metrics endpoint.
        url: String,
        /// JSON output.
        #[arg(long)]
        json: bool,
        /// Timeout, ms.
        #[arg(long, default_value_t = 5000)]
        timeout_ms: u64,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum SortBy {
    Total,
    Mean,
    Calls,
}

fn load(path: &std::path::Path) -> Result<Fleet, ExitCode> {
    Fleet::load(path).map_err(|e| {
        eprintln!("fleetdeck: bad fleet file: {e}");
        ExitCode::from(2)
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("fleetdeck: error: {e:#}");
            ExitCode::from(1)
        }
    }
}

async fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Snapshot { fleet, json, fail_on_anomaly } => {
            let fleet = match load(&fleet) {
                Ok(f) => f,
                Err(code) => return Ok(code),
            };
            let mut engine = Engine::new(fleet);
            // One look: wait for Prometheus and the scrapes (a watch never does), and say who was late.
            let wait = engine.slow_source_timeout();
            for late in engine.settle_slow_sources(wait).await {
                eprintln!("fleetdeck: {late} did not answer within {wait:?}: its part of the snapshot is empty");
            }
            let snap = engine.refresh().await;
            if json {
                println!("{}", serde_json::to_string_pretty(&snap)?);
            } else {
                print!("{}", render::screen(&snap));
            }
            Ok(if fail_on_anomaly && !snap.anomalies.is_empty() { ExitCode::from(1) } else { ExitCode::SUCCESS })
        }
        Command::Topology { fleet } => {
            let fleet = match load(&fleet) {
                Ok(f) => f,
                Err(code) => return Ok(code),
            };
            let snap = Engine::new(fleet).refresh().await;
            print!("{}", render::topology(&snap));
            Ok(ExitCode::SUCCESS)
        }
        Command::Watch { fleet, count } => {
            let fleet = match load(&fleet) {
                Ok(f) => f,
                Err(code) => return Ok(code),
            };
            let watch = FleetWatch::spawn(fleet, IncidentStore::Default);
            let mut snapshots = watch.subscribe();
            let mut n = 0;
            loop {
                tokio::select! {
                    changed = snapshots.changed() => changed.context("the watch stopped")?,
                    _ = tokio::signal::ctrl_c() => break,
                }
                let Some(snap) = snapshots.borrow_and_update().clone() else { continue };
                if n == 0 {
                    if let Some(e) = &snap.store.error {
                        eprintln!("fleetdeck: incidents are not being recorded: {e}");
                    }
                }
                // Home + clear: redraw in place.
                print!("\x1b[H\x1b[2J{}", render::screen(&snap));
                n += 1;
                if count.is_some_and(|c| n >= c) {
                    break;
                }
            }
            watch.stop().await;
            Ok(ExitCode::SUCCESS)
        }
        Command::TopQueries { fleet, node, sort, limit, json } => {
            let fleet = match load(&fleet) {
                Ok(f) => f,
                Err(code) => return Ok(code),
            };
            let endpoint = find_node(&fleet, &node)?;
            let mut probe = PostgresProbe::new(endpoint.clone());
            let reading = probe.read(Duration::from_secs(10), Some(limit)).await.with_context(|| format!("reading {node}"))?;
            let mut top = match reading.statements {
                Some(Ok(top)) => top,
                Some(Err(e)) => bail!("pg_stat_statements on {node}: {e}"),
                None => bail!("pg_stat_statements was not read on {node}"),
            };
            match sort {
                SortBy::Total => top.sort_by(|a, b| b.total_ms.total_cmp(&a.total_ms)),
                SortBy::Mean => top.sort_by(|a, b| b.mean_ms.total_cmp(&a.mean_ms)),
                SortBy::Calls => top.sort_by_key(|s| std::cmp::Reverse(s.calls)),
            }
            top.truncate(limit as usize);
            if json {
                println!("{}", serde_json::to_string_pretty(&top)?);
            } else {
                print!("{}", render::statements(&node, &top));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Explain { fleet, node, query_id, sql, analyze, timeout_ms, json } => {
            let fleet = match load(&fleet) {
                Ok(f) => f,
                Err(code) => return Ok(code),
            };
            let endpoint = find_node(&fleet, &node)?;
            let target = match (query_id, sql) {
                (Some(id), _) => Target::QueryId(id),
                (None, Some(sql)) => Target::Sql(sql),
                (None, None) => bail!("give --query-id or --sql"),
            };
            // Refuse multi-statement SQL before connecting anywhere.
            if let Target::Sql(sql) = &target {
                explain::single_statement(sql)?;
            }
            let (mut client, _) = fleetdeck_core::pg::connect(&endpoint.monitor, "fleetdeck-explain", Duration::from_secs(10))
                .await
                .with_context(|| format!("connecting to {node}"))?;
            let timeout = Duration::from_millis(timeout_ms);
            let plan = explain::explain(&mut client, &node, target, analyze, timeout).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&plan)?);
            } else {
                print!("{}", render::plan(&plan));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve { fleet, bind, ui_dir } => {
            let fleet = match load(&fleet) {
                Ok(f) => f,
                Err(code) => return Ok(code),
            };
            fleetdeck_serve::run(fleet, fleetdeck_serve::Options { bind, ui_dir }).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Switchover { fleet, to, args } => {
            let fleet = match load(&fleet) {
                Ok(f) => f,
                Err(code) => return Ok(code),
            };
            actions::drive(fleet, fleetdeck_core::action::switchover::Switchover::new(&to), &args, Vec::new()).await
        }
        Command::Failover { fleet, to, allow_data_loss, args } => {
            let fleet = match load(&fleet) {
                Ok(f) => f,
                Err(code) => return Ok(code),
            };
            let extra = allow_data_loss
                .map(|reason| fleetdeck_core::action::Override { check: "data_loss".into(), reason })
                .into_iter()
                .collect();
            actions::drive(fleet, fleetdeck_core::action::failover::Failover::new(to.as_deref()), &args, extra).await
        }
        Command::Actions { fleet, recover, args } => {
            let fleet = match load(&fleet) {
                Ok(f) => f,
                Err(code) => return Ok(code),
            };
            actions::list_or_recover(fleet, recover, &args).await
        }
        Command::Audit { cmd } => audit::run(cmd).await,
        Command::Incidents { fleet, since, json } => {
            let fleet = match load(&fleet) {
                Ok(f) => f,
                Err(code) => return Ok(code),
            };
            let store = Store::open_default().await?;
            // A --since reaching before the calendar's start means no cut-off.
            let cutoff = since
                .and_then(|d| chrono::TimeDelta::from_std(d).ok())
                .and_then(|d| chrono::Utc::now().checked_sub_signed(d))
                .map(timestamp);
            let episodes = store.episodes(&fleet.name, cutoff.as_deref()).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&episodes)?);
            } else {
                print!("{}", render::incidents(&fleet.name, store.path(), &episodes));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Scrape { url, json, timeout_ms } => {
            let http = reqwest::Client::new();
            let parsed = fleetdeck_core::probe::scrape::scrape(&http, &url, Duration::from_millis(timeout_ms))
                .await
                .with_context(|| format!("scraping {url}"))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&render::scrape_json(&parsed))?);
            } else {
                print!("{}", render::scrape_text(&parsed));
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `90s`, `30m`, `2h`, `7d` (a bare number is seconds).
fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: u64 = n.parse().map_err(|_| format!("'{s}': expected a number and a unit (s, m, h, d), e.g. 2h"))?;
    let secs = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        other => return Err(format!("'{s}': unknown unit '{other}' (use s, m, h or d)")),
    };
    n.checked_mul(secs).map(Duration::from_secs).ok_or_else(|| format!("'{s}' is too long"))
}

fn find_node<'a>(fleet: &'a Fleet, name: &str) -> anyhow::Result<&'a fleetdeck_core::fleet::PostgresEndpoint> {
    fleet.postgres.iter().find(|p| p.name == name).with_context(|| {
        let names: Vec<&str> = fleet.postgres.iter().map(|p| p.name.as_str()).collect();
        format!("no PostgreSQL node '{name}' in {} (nodes: {})", fleet.path.display(), names.join(", "))
    })
}
