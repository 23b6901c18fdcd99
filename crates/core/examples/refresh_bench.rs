//! Refresh benchmark: FleetDeck's refresh cycle against scraping
//! postgres_exporter for the same nodes, side by side in one run.
//!
//! `cargo run --release -p fleetdeck-core --example refresh_bench -- FLEET [ROUNDS]`
//!
//! Statements are counted from `pg_stat_statements`, per login: the benchmark
//! creates `fleetdeck_bench` (used by FleetDeck here) and
//! `fleetdeck_bench_exporter` (used by a private postgres_exporter it starts for
//! the primary), both `pg_monitor` members, so nothing else (Prometheus' own
//! scrapes of the lab's exporters) is counted. Wall time of the exporter side
//! is a concurrent scrape of every lab exporter (ports from `lab/lab ports --json`).
//!
//! The whole-fleet refresh no longer waits for Prometheus or the scrapes (they
//! are read on their own schedule); the "inline" figures time what a refresh
//! waited for before that change — the same refresh joined with one read of
//! every slow source — side by side in the same rounds.

use std::io::Write;
use std::time::{Duration, Instant};

use fleetdeck_core::fleet::Fleet;
use fleetdeck_core::pg;
use fleetdeck_core::refresh::Engine;

/// The running lab's ports (`lab/lab ports --json`).
fn lab_ports() -> serde_json::Value {
    let lab = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../lab/lab");
    let out = std::process::Command::new(lab).args(["ports", "--json"]).output().expect("run lab/lab ports");
    assert!(out.status.success(), "lab/lab ports: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("lab/lab ports --json is JSON")
}

fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap().split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

async fn calls_by(fleet: &Fleet, role: &str) -> f64 {
    let mut total = 0.0;
    for node in &fleet.postgres {
        let admin = node.action.as_ref().expect("bench needs the action login");
        let (c, _) = pg::connect(admin, "fleetdeck-bench-count", Duration::from_secs(10)).await.unwrap();
        let row = c
            .query_one(
                "SELECT coalesce(sum(calls), 0)::float8 FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid WHERE r.rolname = $1",
                &[&role],
            )
            .await
            .unwrap();
        total += row.get::<_, f64>(0);
    }
    total
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let fleet_path = args.get(1).expect("usage: refresh_bench FLEET [ROUNDS]");
    let rounds: usize = args.get(2).map_or(100, |r| r.parse().unwrap());
    let lab = Fleet::load(std::path::Path::new(fleet_path)).unwrap();
    let nodes = lab.postgres.len();

    // Dedicated logins on the primary (they replicate to every node).
    let password = format!("bench{}", std::process::id());
    let primary = &lab.postgres[0];
    let (admin, _) = pg::connect(primary.action.as_ref().unwrap(), "fleetdeck-bench", Duration::from_secs(10)).await.unwrap();
    for role in ["fleetdeck_bench", "fleetdeck_bench_exporter"] {
        admin
            .batch_execute(&format!(
                "DO $$BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN CREATE ROLE {role} LOGIN IN ROLE pg_monitor; END IF; END$$;
                 ALTER ROLE {role} PASSWORD '{password}'"
            ))
            .await
            .unwrap();
    }
    let dir = std::env::temp_dir().join(format!("fleetdeck-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let passfile = dir.join("pgpass");
    {
        let mut f = std::fs::File::create(&passfile).unwrap();
        writeln!(f, "*:*:*:fleetdeck_bench:{password}").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&passfile, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    tokio::time::sleep(Duration::from_secs(2)).await; // let the roles replicate

    // FleetDeck over PostgreSQL only (the exporter side reads PostgreSQL only too).
    let mut pg_only = lab.clone();
    pg_only.pgbouncer.clear();
    pg_only.redis.clear();
    pg_only.scrape.clear();
    pg_only.prometheus = None;
    for n in &mut pg_only.postgres {
        n.monitor.user = Some("fleetdeck_bench".into());
        n.monitor.passfile = Some(passfile.clone());
    }
    let mut engine = Engine::new(pg_only);
    // Warm-up: first connects (SCRAM, backend fork, prepare) can miss the
    // timeout on a loaded machine; measure only once every connection is kept.
    let mut answered = 0;
    for _ in 0..30 {
        let s = engine.refresh().await;
        answered = if s.nodes.iter().all(|n| n.reachable) { answered + 1 } else { 0 };
        if answered == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(answered, 3, "warm-up: every node must answer three refreshes in a row");
    let before = calls_by(&lab, "fleetdeck_bench").await;
    let cpu0 = cpu_seconds();
    let mut walls = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        let s = engine.refresh().await;
        walls.push(t.elapsed().as_secs_f64() * 1000.0);
        assert!(s.nodes.iter().all(|n| n.reachable));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let cpu_ms = (cpu_seconds() - cpu0) * 1000.0 / rounds as f64;
    let after = calls_by(&lab, "fleetdeck_bench").await;
    let per_node = (after - before) / rounds as f64 / nodes as f64;

    // The whole fleet (PgBouncer, Redis, Prometheus, scrape too), as the app runs it.
    let mut full = Engine::new(lab.clone());
    for _ in 0..3 {
        full.refresh().await;
    }
    let prometheus = lab.prometheus.clone().map(fleetdeck_core::probe::prometheus::PrometheusClient::new);
    let scrape_http = reqwest::Client::new();
    let mut full_walls = Vec::new();
    let mut inline_walls = Vec::new();
    for _ in 0..rounds.min(50) {
        let t = Instant::now();
        full.refresh().await;
        full_walls.push(t.elapsed().as_secs_f64() * 1000.0);
        tokio::time::sleep(Duration::from_millis(100)).await;
        // What the refresh used to wait for: itself and every slow source.
        let t = Instant::now();
        let slow = async {
            if let Some(p) = &prometheus {
                let _ = tokio::join!(p.ai(), p.alerts(), p.targets());
            }
            for e in &lab.scrape {
                let _ = fleetdeck_core::probe::scrape::scrape(&scrape_http, &e.url, lab.probe.timeout).await;
            }
        };
        tokio::join!(full.refresh(), slow);
        inline_walls.push(t.elapsed().as_secs_f64() * 1000.0);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // postgres_exporter: every lab exporter scraped concurrently.
    let http = reqwest::Client::new();
    let ports = lab_ports();
    let exporter_port = |name: &str| ports["postgres_exporter"][name].as_u64().expect("an exporter per node") as u16;
    let urls: Vec<String> =
        lab.postgres.iter().map(|n| format!("http://127.0.0.1:{}/metrics", exporter_port(&n.name))).collect();
    let exporter_rounds = (rounds / 5).max(10);
    let mut ex_walls = Vec::new();
    for _ in 0..exporter_rounds {
        let t = Instant::now();
        let bodies = futures_util::future::join_all(urls.iter().map(|u| http.get(u).send())).await;
        for b in bodies {
            let r = b.expect("exporter answers");
            assert!(r.status().is_success());
            let _ = r.bytes().await.unwrap();
        }
        ex_walls.push(t.elapsed().as_secs_f64() * 1000.0);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Statements per scrape from a private exporter on the primary.
    let port = exporter_port(&lab.postgres[0].name) - 1;
    let mut exporter = std::process::Command::new("/usr/bin/prometheus-postgres-exporter")
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .env("DATA_SOURCE_NAME", format!(
            "host=127.0.0.1 port={} user=fleetdeck_bench_exporter password={password} dbname=chat sslmode=disable",
            primary.monitor.port.unwrap()
        ))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start postgres_exporter");
    let url = format!("http://127.0.0.1:{port}/metrics");
    let mut ready = false;
    for _ in 0..50 {
        if http.get(&url).send().await.is_ok_and(|r| r.status().is_success()) {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(ready, "private postgres_exporter did not come up");
    let ex_before = calls_by(&lab, "fleetdeck_bench_exporter").await;
    let scrapes = 10;
    for _ in 0..scrapes {
        let _ = http.get(&url).send().await.unwrap().bytes().await.unwrap();
    }
    let ex_per_scrape = (calls_by(&lab, "fleetdeck_bench_exporter").await - ex_before) / scrapes as f64;
    let _ = exporter.kill();
    let _ = exporter.wait();
    let _ = std::fs::remove_dir_all(&dir);

    let (p50, p99) = (pct(&mut walls, 0.5), pct(&mut walls, 0.99));
    let (f50, f99) = (pct(&mut full_walls, 0.5), pct(&mut full_walls, 0.99));
    let (i50, i99) = (pct(&mut inline_walls, 0.5), pct(&mut inline_walls, 0.99));
    let (e50, e99) = (pct(&mut ex_walls, 0.5), pct(&mut ex_walls, 0.99));
    println!("nodes: {nodes}; rounds: {rounds} FleetDeck refreshes, {exporter_rounds} exporter rounds");
    println!("FleetDeck refresh (PostgreSQL only): p50 {p50:.1} ms, p99 {p99:.1} ms, CPU {cpu_ms:.2} ms/cycle, {per_node:.2} statements/node/refresh");
    println!("FleetDeck refresh (whole fleet):     p50 {f50:.1} ms, p99 {f99:.1} ms (Prometheus and scrapes on their own schedule)");
    println!("  same rounds, slow sources inline:   p50 {i50:.1} ms, p99 {i99:.1} ms (what a refresh waited for before)");
    println!("postgres_exporter scrape, all nodes: p50 {e50:.1} ms, p99 {e99:.1} ms, {ex_per_scrape:.1} statements/node/scrape");
    println!("ratio (exporter / FleetDeck): p50 {:.1}x, p99 {:.1}x; statements {:.1}x", e50 / p50, e99 / p99, ex_per_scrape / per_node);
}
