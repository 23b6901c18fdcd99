//! `fleetdeck audit`: the audit log of guarded actions from a terminal.
//! `verify` checks the hash chain (a cron job, an auditor, a suspicious
//! on-call) and prints the head to keep elsewhere; `export` prints the records
//! as JSON for tools or as a Markdown report for people. Both read the local
//! store in the data directory (`$FLEETDECK_DATA_DIR` when set); the chain and
//! what it proves are described in `fleetdeck_core::store::audit`.

use std::fmt::Write as _;
use std::io::Write;
use std::process::ExitCode;

use fleetdeck_core::store::audit::{AuditRecord, AuditVerification};
use fleetdeck_core::store::Store;
use serde_json::{Map, Value};

/// The audit log of guarded actions (switchover, failover, index builds).
#[derive(clap::Subcommand)]
pub enum AuditCommand {
    /// Check the hash chain: exit 0 when intact, 1 when any record was altered, removed or reordered.
    ///
    /// Exit 0 prints `audit log ok: N records, head <hash>` on stdout. Keep that
    /// head somewhere else (the change ticket, a log host): the chain cannot
    /// expose someone who rewrites its tail and head together, a head kept
    /// elsewhere can.
    ///
    /// Exit 1 prints `audit log BROKEN at record <seq>: <reason>` on stderr,
    /// naming the first bad record. A store that cannot be opened or read also
    /// exits 1, with `fleetdeck: error: ...` instead.
    Verify,
    /// Print the records, oldest first: a JSON array, or a Markdown report.
    ///
    /// Exits 0 even when the chain is broken (the records are printed as
    /// stored, with a warning on stderr and in the report's footer); use
    /// `verify` to gate on it. 1 when the store cannot be opened or read.
    Export {
        /// `json`: an array of records (seq, prev_hash, hash, entry); `md`: a report, one section per record.
        #[arg(long, value_enum, default_value = "json")]
        format: Format,
        /// Only this fleet's records (by the fleet's name); all fleets by default.
        #[arg(long)]
        fleet: Option<String>,
    },
}

/// How `export` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A JSON array of records.
    Json,
    /// A Markdown report.
    Md,
}

/// Runs one `fleetdeck audit` command on the store in the data directory.
pub async fn run(cmd: AuditCommand) -> anyhow::Result<ExitCode> {
    let store = Store::open_default().await?;
    match cmd {
        AuditCommand::Verify => verify_with(&store, &mut std::io::stdout(), &mut std::io::stderr()).await,
        AuditCommand::Export { format, fleet } => {
            export_with(&store, format, fleet.as_deref(), &mut std::io::stdout(), &mut std::io::stderr()).await
        }
    }
}

/// `verify` on `store`: the verdict on `out` (intact) or `err` (broken), and the exit code.
pub async fn verify_with(store: &Store, out: &mut impl Write, err: &mut impl Write) -> anyhow::Result<ExitCode> {
    let verification = store.verify_audit().await?;
    Ok(verdict(&verification, out, err)?)
}

/// Prints a verification's verdict; exit 0 when intact, 1 when broken.
pub fn verdict(v: &AuditVerification, out: &mut impl Write, err: &mut impl Write) -> std::io::Result<ExitCode> {
    match (&v.fault, &v.head) {
        (Some(fault), _) => {
            writeln!(err, "audit log BROKEN at record {}: {}", fault.seq, fault.reason)?;
            Ok(ExitCode::from(1))
        }
        (None, Some(head)) => {
            writeln!(out, "audit log ok: {}, head {head}", records(v.records))?;
            Ok(ExitCode::SUCCESS)
        }
        (None, None) => {
            writeln!(out, "audit log ok: 0 records (nothing recorded yet)")?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `export` on `store`.
pub async fn export_with(
    store: &Store,
    format: Format,
    fleet: Option<&str>,
    out: &mut impl Write,
    err: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    let chain = store.verify_audit().await?;
    let records = store.audit_records(fleet).await?;
    if let Some(fault) = &chain.fault {
        writeln!(
            err,
            "fleetdeck: warning: audit log BROKEN at record {}: {} (exporting the records as stored)",
            fault.seq, fault.reason
        )?;
    }
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, &records)?;
            writeln!(out)?;
        }
        Format::Md => out.write_all(render_markdown(&records, &chain, fleet).as_bytes())?,
    }
    Ok(ExitCode::SUCCESS)
}

fn records(n: u64) -> String {
    if n == 1 {
        "1 record".into()
    } else {
        format!("{n} records")
    }
}

/// The Markdown report: a title, one section per record, and a footer with
/// the head and the chain's verdict (`chain` is the whole log's verification,
/// `fleet` the filter the records were read with).
pub fn render_markdown(records: &[AuditRecord], chain: &AuditVerification, fleet: Option<&str>) -> String {
    let mut md = String::from("# FleetDeck audit log\n\n");
    let scope = match fleet {
        Some(f) => format!("of fleet {}", code(f)),
        None => "of every fleet".into(),
    };
    let _ = writeln!(md, "{} {scope}, oldest first.", self::records(records.len() as u64));
    for r in records {
        md.push('\n');
        md.push_str(&record_section(r));
    }
    md.push_str("\n---\n\n");
    match (&chain.fault, &chain.head) {
        (Some(f), head) => {
            let _ = writeln!(
                md,
                "**The chain is BROKEN at record {}: {}.** The records above are printed as stored.",
                f.seq, f.reason
            );
            if let Some(h) = head {
                let _ = writeln!(md, "\nThe head on record: {}.", code(h));
            }
        }
        (None, Some(h)) => {
            let _ = writeln!(
                md,
                "Head of the log: {} ({} in the log; the chain verified intact at export).",
                code(h),
                self::records(chain.records)
            );
        }
        (None, None) => md.push_str("The log is empty.\n"),
    }
    md
}

/// One record's section.
fn record_section(r: &AuditRecord) -> String {
    let e = &r.entry;
    let mut md = format!("## #{} {}", r.seq, e.action);
    if !e.targets.is_empty() {
        let _ = write!(md, " on {}", e.targets.join(", "));
    }
    let _ = writeln!(md, " — {}\n", e.outcome);
    let _ = writeln!(md, "- **Fleet:** {}", e.fleet);
    if e.operator == e.os_user {
        let _ = writeln!(md, "- **Operator:** {} (also the OS user)", e.operator);
    } else {
        let _ = writeln!(md, "- **Operator:** {} (OS user {})", e.operator, e.os_user);
    }
    let _ = write!(md, "- **Started:** {}, **ended:** {}", e.started_at, e.ended_at);
    match took(&e.started_at, &e.ended_at) {
        Some(t) => {
            let _ = writeln!(md, " ({t})");
        }
        None => md.push('\n'),
    }
    let _ = writeln!(md, "- **Hash:** {} (previous {})", code(&r.hash), code(&r.prev_hash));
    md.push_str(&body(&e.body));
    md
}

/// `ended - started`, when both are RFC 3339 and in order.
fn took(started: &str, ended: &str) -> Option<String> {
    let s = chrono::DateTime::parse_from_rfc3339(started).ok()?;
    let e = chrono::DateTime::parse_from_rfc3339(ended).ok()?;
    let ms = (e - s).num_milliseconds();
    if ms < 0 {
        None
    } else if ms < 1_000 {
        Some(format!("{ms} ms"))
    } else if ms < 120_000 {
        Some(format!("{}.{:03} s", ms / 1000, ms % 1000))
    } else {
        Some(format!("{} min {} s", ms / 60_000, ms % 60_000 / 1000))
    }
}

/// The body: the sections an action writes, each where its shape is the
/// expected one; everything else (and any section of another shape) as JSON,
/// so nothing an action recorded is left out of the report.
fn body(body: &Value) -> String {
    let Value::Object(map) = body else {
        return if body.is_null() { String::new() } else { format!("\n### Body\n\n{}", json_block(body)) };
    };
    type Section = fn(&Value) -> Option<String>;
    let sections: [(&str, &str, Section); 5] = [
        ("plan", "Plan", plan),
        ("checks", "Checks", |v| table(v, &[("name", "Check"), ("status", "Status"), ("evidence", "Evidence")])),
        ("overrides", "Overrides", overrides),
        ("steps", "Steps", |v| {
            table(v, &[("name", "Step"), ("outcome", "Outcome"), ("ms", "ms"), ("message", "Message")])
        }),
        ("verification", "Verification", verification),
    ];
    let mut md = String::new();
    let mut rest: Map<String, Value> = map.clone();
    for (key, title, render) in sections {
        let Some(value) = map.get(key) else { continue };
        if let Some(text) = render(value) {
            let _ = write!(md, "\n### {title}\n\n{text}");
            rest.remove(key);
        }
    }
    if !rest.is_empty() {
        let _ = write!(md, "\n### Other details\n\n{}", json_block(&Value::Object(rest)));
    }
    md
}

/// `plan`: steps with `title` and `detail`, numbered.
fn plan(v: &Value) -> Option<String> {
    let mut md = String::new();
    for (i, step) in v.as_array()?.iter().enumerate() {
        let line = match step {
            Value::String(s) => one_line(s),
            Value::Object(o) => {
                let mut line = match o.get("title") {
                    Some(t) => format!("**{}**", text(t)),
                    None => String::new(),
                };
                if let Some(d) = o.get("detail") {
                    let _ = write!(line, "{}{}", if line.is_empty() { "" } else { " — " }, text(d));
                }
                line + &extras(o, &["title", "detail"])
            }
            _ => return None,
        };
        let _ = writeln!(md, "{}. {line}", i + 1);
    }
    Some(md)
}

/// `overrides`: each check overridden and the reason given.
fn overrides(v: &Value) -> Option<String> {
    let mut md = String::new();
    for o in v.as_array()? {
        let o = o.as_object()?;
        let check = o.get("check").map(text).unwrap_or_else(|| "(no check named)".into());
        let reason = o.get("reason").map(text).unwrap_or_else(|| "(no reason given)".into());
        let _ = writeln!(md, "- **{check}** overridden: {reason}{}", extras(o, &["check", "reason"]));
    }
    Some(md)
}

/// `verification`: a table of results, a list of facts, or a sentence.
fn verification(v: &Value) -> Option<String> {
    match v {
        Value::Array(items) if items.iter().all(Value::is_object) => {
            table(v, &[("name", "Check"), ("status", "Status"), ("evidence", "Evidence")])
        }
        Value::Array(items) => Some(items.iter().map(|i| format!("- {}\n", text(i))).collect()),
        Value::Object(o) => Some(o.iter().map(|(k, v)| format!("- **{k}:** {}\n", text(v))).collect()),
        scalar => Some(format!("{}\n", text(scalar))),
    }
}

/// An array of objects as a table: the `preferred` columns first (those that
/// any row has), then every other key in the order first seen.
fn table(v: &Value, preferred: &[(&str, &str)]) -> Option<String> {
    let rows: Vec<&Map<String, Value>> = v.as_array()?.iter().map(Value::as_object).collect::<Option<_>>()?;
    let mut columns: Vec<(String, String)> = preferred
        .iter()
        .filter(|(k, _)| rows.iter().any(|r| r.contains_key(*k)))
        .map(|(k, h)| (k.to_string(), h.to_string()))
        .collect();
    for row in &rows {
        for k in row.keys() {
            if !columns.iter().any(|(c, _)| c == k) {
                columns.push((k.clone(), k.clone()));
            }
        }
    }
    if columns.is_empty() {
        return Some("(none)\n".into());
    }
    let mut md = String::new();
    let _ = writeln!(md, "| {} |", columns.iter().map(|(_, h)| cell(h)).collect::<Vec<_>>().join(" | "));
    let _ = writeln!(md, "|{}", " --- |".repeat(columns.len()));
    for row in rows {
        let cells: Vec<String> =
            columns.iter().map(|(k, _)| row.get(k).map(|v| cell(&text(v))).unwrap_or_default()).collect();
        let _ = writeln!(md, "| {} |", cells.join(" | "));
    }
    Some(md)
}

/// Keys of `o` beyond `known`, appended as `(key: value, ...)`.
fn extras(o: &Map<String, Value>, known: &[&str]) -> String {
    let more: Vec<String> =
        o.iter().filter(|(k, _)| !known.contains(&k.as_str())).map(|(k, v)| format!("{k}: {}", text(v))).collect();
    if more.is_empty() {
        String::new()
    } else {
        format!(" ({})", more.join(", "))
    }
}

/// A value as inline text: strings as they are (on one line), null as
/// nothing, anything else as compact JSON in a code span.
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => one_line(s),
        Value::Null => String::new(),
        Value::Bool(_) | Value::Number(_) => v.to_string(),
        _ => code(&v.to_string()),
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Text fit for a table cell: pipes escaped.
fn cell(s: &str) -> String {
    s.replace('|', "\\|")
}

/// An inline code span that survives backticks in `s`.
fn code(s: &str) -> String {
    let ticks = "`".repeat(longest_run(s, '`') + 1);
    let pad = if s.starts_with('`') || s.ends_with('`') { " " } else { "" };
    format!("{ticks}{pad}{s}{pad}{ticks}")
}

/// `v` as a fenced, pretty JSON block whose fence no content can close.
fn json_block(v: &Value) -> String {
    let json = serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string());
    let fence = "`".repeat((longest_run(&json, '`') + 1).max(3));
    format!("{fence}json\n{json}\n{fence}\n")
}

fn longest_run(s: &str, c: char) -> usize {
    s.split(|x| x != c).map(str::len).max().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use fleetdeck_core::store::audit::{AuditEntry, AuditFault};
    use serde_json::json;

    use super::*;

    fn switchover() -> AuditEntry {
        AuditEntry {
            fleet: "lab".into(),
            action: "switchover".into(),
            targets: vec!["pg1".into(), "pg2".into()],
            os_user: "alice".into(),
            operator: "Alice Ng".into(),
            started_at: "2027-01-15T10:00:00.000Z".into(),
            ended_at: "2027-01-15T10:00:07.250Z".into(),
            outcome: "done".into(),
            body: json!({
                "plan": [
                    {"title": "Fence pg1", "detail": "PAUSE chat on pgb0"},
                    {"title": "Promote pg2", "detail": "pg_promote(wait => true)"}
                ],
                "checks": [
                    {"name": "replica lag", "status": "pass", "evidence": {"replay_lag_bytes": 0}},
                    {"name": "sessions", "status": "overridden", "evidence": "3 idle in transaction | on pg1"}
                ],
                "overrides": [{"check": "sessions", "reason": "batch job, owner agreed"}],
                "steps": [
                    {"name": "fence", "outcome": "done", "ms": 41},
                    {"name": "promote", "outcome": "done", "ms": 812, "message": "promoted at 0/5000060"}
                ],
                "verification": {"primary": "pg2", "writes": "accepted"},
                "ticket": "CHG-1042"
            }),
        }
    }

    fn record(seq: i64, entry: AuditEntry) -> AuditRecord {
        AuditRecord { seq, prev_hash: "0".repeat(64), hash: format!("{seq:064x}"), entry }
    }

    #[test]
    fn the_report_renders_each_known_section_and_keeps_the_rest_as_json() {
        let refused = AuditEntry {
            action: "failover".into(),
            targets: vec![],
            operator: "alice".into(),
            outcome: "refused".into(),
            body: json!({"checks": "not an array", "plan": []}),
            ..switchover()
        };
        let chain = AuditVerification { records: 2, head: Some(format!("{:064x}", 2)), fault: None };
        let md = render_markdown(&[record(1, switchover()), record(2, refused)], &chain, Some("lab"));

        for expected in [
            "# FleetDeck audit log\n\n2 records of fleet `lab`, oldest first.\n",
            "## #1 switchover on pg1, pg2 — done\n",
            "- **Operator:** Alice Ng (OS user alice)\n",
            "- **Started:** 2027-01-15T10:00:00.000Z, **ended:** 2027-01-15T10:00:07.250Z (7.250 s)\n",
            "### Plan\n\n1. **Fence pg1** — PAUSE chat on pgb0\n2. **Promote pg2** — pg_promote(wait => true)\n",
            "| Check | Status | Evidence |\n| --- | --- | --- |\n| replica lag | pass | `{\"replay_lag_bytes\":0}` |\n",
            "| sessions | overridden | 3 idle in transaction \\| on pg1 |\n",
            "### Overrides\n\n- **sessions** overridden: batch job, owner agreed\n",
            "| Step | Outcome | ms | Message |\n| --- | --- | --- | --- |\n| fence | done | 41 |  |\n",
            "| promote | done | 812 | promoted at 0/5000060 |\n",
            "### Verification\n\n- **primary:** pg2\n- **writes:** accepted\n",
            "### Other details\n\n```json\n{\n  \"ticket\": \"CHG-1042\"\n}\n```\n",
            "## #2 failover — refused\n",
            "- **Operator:** alice (also the OS user)\n",
        ] {
            assert!(md.contains(expected), "the report must contain {expected:?}:\n{md}");
        }
        let second = &md[md.find("## #2").unwrap()..];
        assert!(
            second.contains("### Other details\n\n```json\n{\n  \"checks\": \"not an array\"\n}"),
            "a section of an unexpected shape is kept as JSON, not dropped:\n{second}"
        );
        assert!(
            md.ends_with(&format!(
                "Head of the log: `{:064x}` (2 records in the log; the chain verified intact at export).\n",
                2
            )),
            "{md}"
        );
    }

    #[test]
    fn a_broken_chain_is_said_in_the_report_footer() {
        let chain = AuditVerification {
            records: 3,
            head: Some("ab".repeat(32)),
            fault: Some(AuditFault { seq: 2, reason: "hash mismatch (the row was altered or renumbered)".into() }),
        };
        let md = render_markdown(&[record(1, switchover())], &chain, None);
        assert!(md.contains("1 record of every fleet"), "{md}");
        assert!(
            md.contains("**The chain is BROKEN at record 2: hash mismatch"),
            "an export never hides a broken chain:\n{md}"
        );
    }

    #[test]
    fn fences_and_code_spans_survive_backticks_in_the_data() {
        assert_eq!(code("a`b"), "``a`b``");
        let block = json_block(&json!({"note": "```"}));
        assert!(block.starts_with("````json\n") && block.ends_with("\n````\n"), "{block}");
    }

    #[test]
    fn the_verdict_names_the_first_bad_record_and_exits_1() {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let broken = AuditVerification {
            records: 9,
            head: Some("ab".repeat(32)),
            fault: Some(AuditFault { seq: 7, reason: "hash mismatch (the row was altered or renumbered)".into() }),
        };
        let code = verdict(&broken, &mut out, &mut err).unwrap();
        assert_eq!(code, ExitCode::from(1), "a broken chain fails the command");
        assert_eq!(
            String::from_utf8(err).unwrap(),
            "audit log BROKEN at record 7: hash mismatch (the row was altered or renumbered)\n"
        );
        assert!(out.is_empty(), "nothing on stdout for a script to mistake for success");
    }

    #[tokio::test]
    async fn verify_and_export_read_the_store() {
        let store = Store::memory().await.unwrap();
        let (mut out, mut err) = (Vec::new(), Vec::new());
        assert_eq!(verify_with(&store, &mut out, &mut err).await.unwrap(), ExitCode::SUCCESS, "an empty log is intact");
        let first = store.append_audit(&switchover()).await.unwrap();
        let head = store.append_audit(&AuditEntry { fleet: "prod".into(), ..switchover() }).await.unwrap().hash;

        let mut out = Vec::new();
        assert_eq!(verify_with(&store, &mut out, &mut err).await.unwrap(), ExitCode::SUCCESS);
        assert_eq!(String::from_utf8(out).unwrap(), format!("audit log ok: 2 records, head {head}\n"));
        assert!(err.is_empty(), "an intact log prints nothing on stderr");

        let mut out = Vec::new();
        export_with(&store, Format::Json, Some("lab"), &mut out, &mut err).await.unwrap();
        let exported: Vec<AuditRecord> = serde_json::from_slice(&out).unwrap();
        assert_eq!(exported, [first], "--fleet lab exports lab's record only, as stored");

        let mut out = Vec::new();
        export_with(&store, Format::Md, None, &mut out, &mut err).await.unwrap();
        let md = String::from_utf8(out).unwrap();
        assert!(md.contains("## #2 switchover on pg1, pg2 — done") && md.contains(&head), "{md}");
    }
}
