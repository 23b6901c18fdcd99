//! Text rendering for the terminal: the replication tree, pools, caches, AI
//! rates and anomalies on one screen, plus plans, statements and scrapes.
//! Plain text with a few ANSI colours; everything from a server is printed as
//! data (control characters are escaped so a query text cannot drive the terminal).

use std::fmt::Write;

use fleetdeck_core::anomaly::bytes;
use fleetdeck_core::explain::{plan_lines, Explained};
use fleetdeck_core::snapshot::{Node, Role, Severity, Snapshot, Statement};
use fleetdeck_core::store::incidents::StoredEpisode;
use fleetdeck_exposition::Exposition;

const RED: &str = "\x1b[31m";
const YELLOW: &str = "\x1b[33m";
const GREEN: &str = "\x1b[32m";
const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";

/// Escapes control characters in server-provided text.
fn clean(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

fn opt_f(v: Option<f64>, unit: &str) -> String {
    v.map_or("-".into(), |x| format!("{x:.2}{unit}"))
}

fn node_line(n: &Node) -> String {
    if !n.reachable {
        return format!("{RED}{} UNREACHABLE{RESET} ({}) {}", n.name, n.address, clean(n.error.as_deref().unwrap_or("")));
    }
    let role = match n.role {
        Role::Primary => format!("{BOLD}primary{RESET}"),
        Role::Replica => "replica".to_string(),
        Role::Fenced => format!("{BOLD}fenced, needs rejoin{RESET}"),
        Role::Unknown => "unknown".to_string(),
    };
    let tl = n.timeline.map_or("?".into(), |t| t.to_string());
    let mut s = format!("{} {role} tl {tl} {} conns {}/{}", n.name, n.address, n.connections.total, n.connections.max);
    if n.replay_paused {
        let _ = write!(s, " {YELLOW}REPLAY PAUSED{RESET}");
    }
    s
}

/// The replication tree: primaries and their downstreams, edges annotated with lag.
pub fn topology(s: &Snapshot) -> String {
    let mut out = String::new();
    fn walk(s: &Snapshot, name: &str, prefix: &str, out: &mut String) {
        let children: Vec<_> = s.edges.iter().filter(|e| e.upstream == name).collect();
        for (i, e) in children.iter().enumerate() {
            let last = i + 1 == children.len();
            let colour = if e.healthy { GREEN } else { RED };
            let node = s.nodes.iter().find(|n| n.name == e.downstream);
            let _ = writeln!(
                out,
                "{prefix}{}{colour}{} {} lag {} / {}{RESET}  {}",
                if last { "└─ " } else { "├─ " },
                e.state,
                e.sync_state,
                e.lag_bytes.map_or("?".into(), bytes),
                opt_f(e.lag_seconds, " s"),
                node.map_or(e.downstream.clone(), node_line)
            );
            walk(s, &e.downstream, &format!("{prefix}{}", if last { "   " } else { "│  " }), out);
        }
    }
    let roots: Vec<&Node> = s.nodes.iter().filter(|n| n.role == Role::Primary).collect();
    for r in &roots {
        let _ = writeln!(out, "{}", node_line(r));
        walk(s, &r.name, "", &mut out);
    }
    let placed = |n: &Node| n.role == Role::Primary || s.edges.iter().any(|e| e.downstream == n.name);
    for n in s.nodes.iter().filter(|n| !placed(n)) {
        let _ = writeln!(out, "{} (not attached to any upstream)", node_line(n));
    }
    out
}

/// The whole fleet on one screen (snapshot and watch).
pub fn screen(s: &Snapshot) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{BOLD}FleetDeck — {}{RESET}  {}  refresh {:.1} ms  #{}", s.fleet, s.taken_at, s.refresh_ms, s.seq);
    let _ = writeln!(out, "\n{BOLD}Anomalies{RESET} ({})", s.anomalies.len());
    if s.anomalies.is_empty() {
        let _ = writeln!(out, "  {GREEN}none{RESET}");
    }
    for a in &s.anomalies {
        let c = if a.severity == Severity::Critical { RED } else { YELLOW };
        let _ = writeln!(out, "  {c}{:?}{RESET} {} {}", a.kind, clean(&a.subject.to_string()), clean(&a.message));
    }
    let _ = writeln!(out, "\n{BOLD}Replication{RESET}");
    out.push_str(&topology(s));
    let _ = writeln!(out, "\n{BOLD}Pools{RESET}  {:<8} {:<8} {:>6} {:>7} {:>6} {:>6} {:>8} {:>5}", "pooler", "db", "cl_act", "cl_wait", "sv_act", "sv_idl", "maxwait", "size");
    for p in &s.pools {
        let c = if p.saturated { RED } else { "" };
        let _ = writeln!(
            out,
            "       {c}{:<8} {:<8} {:>6} {:>7} {:>6} {:>6} {:>7.1}s {:>5}{}{RESET}",
            p.name, clean(&p.database), p.cl_active, p.cl_waiting, p.sv_active, p.sv_idle, p.maxwait_seconds, p.pool_size,
            if p.saturated { "  SATURATED" } else { "" }
        );
    }
    for p in s.poolers.iter().filter(|p| !p.reachable) {
        let _ = writeln!(out, "       {RED}{} UNREACHABLE{RESET} {}", p.name, clean(p.error.as_deref().unwrap_or("")));
    }
    let _ = writeln!(out, "\n{BOLD}Cache{RESET}  {:<8} {:<8} {:>6} {:>9} {:>10} {:>8} {:>8}", "node", "role", "hit%", "evicted", "memory", "ops/s", "lag");
    for c in &s.caches {
        if !c.reachable {
            let _ = writeln!(out, "       {RED}{} UNREACHABLE{RESET} {}", c.name, clean(c.error.as_deref().unwrap_or("")));
            continue;
        }
        let _ = writeln!(
            out,
            "       {:<8} {:<8} {:>6} {:>9} {:>10} {:>8.0} {:>8}",
            c.name,
            c.role,
            c.hit_ratio.map_or("-".into(), |h| format!("{:.1}", h * 100.0)),
            c.evicted_keys,
            bytes(c.used_memory_bytes),
            c.ops_per_second,
            c.replication_offset_lag.map_or("-".into(), |l| l.to_string())
        );
    }
    let a = &s.ai;
    let _ = writeln!(out, "\n{BOLD}Inference{RESET}  tokens/s {}  running {}  waiting {}  TTFT p50 {} p99 {}  e2e p99 {}  ok/s {}",
        opt_f(a.generation_tokens_per_second, ""), opt_f(a.requests_running, ""), opt_f(a.requests_waiting, ""),
        opt_f(a.ttft_p50_seconds, " s"), opt_f(a.ttft_p99_seconds, " s"), opt_f(a.e2e_p99_seconds, " s"), opt_f(a.success_per_second, ""));
    let moderation: Vec<String> = a.moderation_per_second.iter().map(|(d, v)| format!("{} {v:.2}/s", clean(d))).collect();
    let _ = writeln!(out, "{BOLD}Moderation{RESET} {}  p99 {}", moderation.join("  "), opt_f(a.moderation_p99_seconds, " s"));
    let firing: Vec<String> = s.alerts.iter().filter(|al| al.state == "firing").map(|al| clean(&al.name)).collect();
    let up = s.targets.iter().filter(|t| t.health == "up").count();
    let _ = writeln!(out, "{BOLD}Prometheus{RESET} targets {up}/{} up  alerts firing: {}", s.targets.len(), if firing.is_empty() { "none".into() } else { firing.join(", ") });
    out
}

/// A pg_stat_statements table.
pub fn statements(node: &str, top: &[Statement]) -> String {
    let mut out = format!("{BOLD}Top statements on {node}{RESET}\n{:>10} {:>12} {:>10} {:>8}  query\n", "calls", "total ms", "mean ms", "hit%");
    for st in top {
        let q = clean(&st.query);
        let q: String = q.chars().take(100).collect();
        let _ = writeln!(
            out,
            "{:>10} {:>12.1} {:>10.2} {:>8}  {q}  [{}]",
            st.calls,
            st.total_ms,
            st.mean_ms,
            st.hit_ratio.map_or("-".into(), |h| format!("{:.1}", h * 100.0)),
            st.query_id
        );
    }
    out
}

/// A plan as an indented tree with the costliest nodes marked.
pub fn plan(p: &Explained) -> String {
    let mut out = format!(
        "{BOLD}{} plan on {}{}{RESET}\n{}\n\n",
        if p.analyzed { "EXPLAIN ANALYZE" } else { "EXPLAIN" },
        p.node,
        if p.generic { " (generic plan: parameters unbound)" } else { "" },
        clean(&p.query)
    );
    for l in plan_lines(&p.plan) {
        let mark = if l.costliest { format!("  {RED}◀ costly{RESET}") } else { String::new() };
        let actual = l.actual_ms.map_or(String::new(), |ms| format!(" actual {ms:.1} ms"));
        let _ = writeln!(
            out,
            "{}{} (cost {:.1}, own {:.1}, rows {:.0}{actual}){mark}",
            "  ".repeat(l.depth),
            clean(&l.label),
            l.total_cost,
            l.exclusive_cost,
            l.rows
        );
    }
    out
}

/// `scrape --json`: samples with full names and unescaped labels, and errors with line numbers.
/// Non-finite values (NaN, ±Inf) are not JSON numbers and are written as null.
pub fn scrape_json(e: &Exposition) -> serde_json::Value {
    let samples: Vec<serde_json::Value> = e
        .samples
        .iter()
        .map(|s| {
            let labels: serde_json::Map<String, serde_json::Value> =
                s.labels.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))).collect();
            serde_json::json!({ "name": s.name, "labels": labels, "value": s.value, "timestamp_ms": s.timestamp_ms })
        })
        .collect();
    let errors: Vec<serde_json::Value> = e
        .errors
        .iter()
        .map(|er| serde_json::json!({ "line": er.line, "message": er.message, "text": er.text }))
        .collect();
    serde_json::json!({ "samples": samples, "errors": errors })
}

/// `scrape` without `--json`: one sample a line, then the malformed lines.
pub fn scrape_text(e: &Exposition) -> String {
    let mut out = String::new();
    for s in &e.samples {
        let labels: Vec<String> = s.labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
        let _ = writeln!(out, "{}{{{}}} {}", s.name, clean(&labels.join(",")), s.value);
    }
    let _ = writeln!(out, "# {} samples, {} malformed lines", e.samples.len(), e.errors.len());
    for er in &e.errors {
        let _ = writeln!(out, "# {}", clean(&er.to_string()));
    }
    out
}

/// Recorded incident episodes, open ones first.
pub fn incidents(fleet: &str, store: &std::path::Path, episodes: &[StoredEpisode]) -> String {
    let mut out = format!("{BOLD}Incidents of {fleet}{RESET} ({} episodes, {})\n", episodes.len(), store.display());
    if episodes.is_empty() {
        let _ = writeln!(out, "  {GREEN}none recorded{RESET}");
    }
    for s in episodes {
        let e = &s.episode;
        let c = if e.severity == Severity::Critical { RED } else { YELLOW };
        let state = match &e.cleared_at {
            None => format!("{RED}OPEN{RESET} since {}", e.first_seen),
            Some(at) => format!("{} → {at}", e.first_seen),
        };
        let peak: Vec<String> = e.peak.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let _ = writeln!(out, "  {c}{:?}{RESET} {} {state}", e.kind, clean(&e.subject.to_string()));
        let _ = writeln!(out, "      {}{}", clean(&e.last_message), if peak.is_empty() { String::new() } else { format!("  (peak {})", peak.join(", ")) });
    }
    out
}
