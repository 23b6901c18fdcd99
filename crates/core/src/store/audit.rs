//! The audit log of guarded actions: every switchover, failover or index
//! build that finishes, is refused or fails leaves exactly one
//! [`AuditRecord`], so an auditor can later read who did what to which nodes,
//! what was checked and overridden, and how it ended.
//!
//! The log is append-only and tamper-evident. Record `n` carries
//! `prev_hash` = record `n-1`'s `hash` (64 zeros for record 1), and its own
//! `hash` is SHA-256 over its canonical bytes (below). A one-row `audit_head`
//! table keeps the last seq and hash, advanced in the same `BEGIN IMMEDIATE`
//! transaction as the insert, so two consoles appending at once queue on the
//! write lock and chain one after the other; the unique index on `seq` turns
//! any fork into a failed insert. Triggers refuse UPDATE and DELETE of records,
//! inserts that do not extend the head, and a head that moves other than one
//! step forward; they stop mistakes and other programs, not someone holding
//! the file, who can drop them.
//!
//! [`Store::verify_audit`] recomputes every hash from the stored columns and
//! names the first bad record:
//! - a field changed in place: that record's hash no longer matches;
//! - a record renumbered, or two swapped: the hash covers `seq`, so it no
//!   longer matches either;
//! - a record removed from the middle (or the start): the seq gap names it;
//! - a record changed and given a fresh hash: the next record's `prev_hash`
//!   no longer matches, and that next record is named;
//! - records removed from the end: the head still names the last seq and
//!   hash, so the first missing seq is named; a rewritten last record with a
//!   fresh hash no longer matches the head's hash.
//!
//! What it does not prove: someone who rewrites a suffix of the chain (or all
//! of it) with fresh hashes *and* sets the head to match leaves a log that
//! verifies: the hash is a plain digest with no secret in it. The answer is to
//! keep the head somewhere the attacker cannot write — `fleetdeck audit verify`
//! prints it; paste it into the change ticket or ship it to a log host, and a
//! later head that does not extend it exposes the rewrite. Nor does the log
//! prove an entry is true: it records what the action reported.
//!
//! Appending follows the stored head, never `max(seq)`: after the newest rows
//! were removed, the next record still points at the removed one, so the gap
//! stays visible instead of being healed. A broken log is still appended to —
//! the record of an action matters more than a clean chain — and verification
//! keeps naming the first fault.
//!
//! ## The canonical bytes
//!
//! The hash input is, in this order, with every string written as its UTF-8
//! byte length (u64, big-endian) followed by the bytes:
//! 1. the string `fleetdeck-audit-v1` (the encoding's version);
//! 2. `seq` as an i64, 8 bytes big-endian;
//! 3. `prev_hash` (lowercase hex);
//! 4. `fleet`, `action`;
//! 5. `targets`: their count (u64, big-endian), then each target;
//! 6. `os_user`, `operator`, `started_at`, `ended_at`, `outcome`;
//! 7. `body` as canonical JSON: no whitespace, object keys sorted by their
//!    UTF-8 bytes at every depth, strings escaped as `serde_json` does,
//!    numbers as `serde_json` prints them.
//!
//! `hash` is the lowercase hex SHA-256 of those bytes. The `body` column holds
//! exactly that canonical JSON text and verification hashes the column's text
//! as stored, so the result never depends on SQLite's or a JSON parser's
//! formatting of numbers.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::sqlite::SqliteRow;
use sqlx::Row;

use super::{Store, StoreError};

/// The `prev_hash` of the first record: 64 zeros.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The first item of the hash input: changes when the canonical encoding does.
const ENCODING: &str = "fleetdeck-audit-v1";

/// What an action hands the log; everything an auditor needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// The fleet's name.
    pub fleet: String,
    /// What was done: `switchover`, `failover`, `index_create`, ...
    pub action: String,
    /// The node or index names acted on.
    pub targets: Vec<String>,
    /// The operating-system user that ran the action.
    pub os_user: String,
    /// The operator name the app asked for (may equal `os_user`).
    pub operator: String,
    /// When the action started: RFC 3339 UTC with milliseconds, as
    /// [`crate::incidents::timestamp`] writes it.
    pub started_at: String,
    /// When it ended (refused, finished or failed), in the same format.
    pub ended_at: String,
    /// How it ended: `done`, `refused`, `rolled_back`, `needs_attention`, `recovered`, ...
    pub outcome: String,
    /// The plan, the checks with their evidence, overrides with their reasons,
    /// the steps with their timings, and the verification.
    pub body: serde_json::Value,
}

/// A stored record: an entry with its place in the chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// 1, 2, 3, ... with no gaps.
    pub seq: i64,
    /// The previous record's `hash`; [`GENESIS_HASH`] for record 1.
    pub prev_hash: String,
    /// SHA-256 (lowercase hex) of this record's canonical bytes (see the module docs).
    pub hash: String,
    /// What the action reported.
    pub entry: AuditEntry,
}

/// Why verification failed: the first bad record and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditFault {
    /// The record's seq (for a removed record, the seq it had).
    pub seq: i64,
    /// What is wrong, e.g. `hash mismatch (the row was altered or renumbered)`.
    pub reason: String,
}

impl std::fmt::Display for AuditFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "audit record {}: {}", self.seq, self.reason)
    }
}

/// The outcome of [`Store::verify_audit`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditVerification {
    /// How many records were read.
    pub records: u64,
    /// The head's hash (the last record's, when intact); `None` for an empty log.
    pub head: Option<String>,
    /// The first bad record; `None` when the chain is intact.
    pub fault: Option<AuditFault>,
}

impl AuditVerification {
    /// The chain is intact.
    pub fn is_intact(&self) -> bool {
        self.fault.is_none()
    }
}

/// The columns a hash is computed from, borrowed from an entry being appended
/// or from a row being verified, so both go through one encoding.
struct Canonical<'a> {
    seq: i64,
    prev_hash: &'a str,
    fleet: &'a str,
    action: &'a str,
    targets: &'a [String],
    os_user: &'a str,
    operator: &'a str,
    started_at: &'a str,
    ended_at: &'a str,
    outcome: &'a str,
    /// Canonical JSON text, exactly as stored.
    body: &'a str,
}

impl Canonical<'_> {
    fn hash(&self) -> String {
        fn put(h: &mut Sha256, s: &str) {
            h.update((s.len() as u64).to_be_bytes());
            h.update(s.as_bytes());
        }
        let mut h = Sha256::new();
        put(&mut h, ENCODING);
        h.update(self.seq.to_be_bytes());
        put(&mut h, self.prev_hash);
        put(&mut h, self.fleet);
        put(&mut h, self.action);
        h.update((self.targets.len() as u64).to_be_bytes());
        for t in self.targets {
            put(&mut h, t);
        }
        for s in [self.os_user, self.operator, self.started_at, self.ended_at, self.outcome, self.body] {
            put(&mut h, s);
        }
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// `v` as canonical JSON: no whitespace, object keys sorted at every depth.
fn canonical_json(v: &serde_json::Value) -> String {
    fn write(v: &serde_json::Value, out: &mut String) {
        use serde_json::Value;
        match v {
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(item, out);
                }
                out.push(']');
            }
            Value::Object(map) => {
                // Sorted here rather than trusting the map's order: serde_json's
                // `preserve_order` feature, if anything in the build enables
                // it, keeps insertion order.
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                out.push('{');
                for (i, k) in keys.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::String(k.clone()).to_string());
                    out.push(':');
                    write(&map[k], out);
                }
                out.push('}');
            }
            // Scalars: serde_json's own compact form.
            scalar => out.push_str(&scalar.to_string()),
        }
    }
    let mut out = String::new();
    write(v, &mut out);
    out
}

/// A row's columns as stored, read without trusting their types.
struct RawRecord {
    seq: i64,
    prev_hash: String,
    hash: String,
    fleet: String,
    action: String,
    targets: String,
    os_user: String,
    operator: String,
    started_at: String,
    ended_at: String,
    outcome: String,
    body: String,
}

impl RawRecord {
    /// The row, or its seq (when that much reads) and what does not read.
    fn read(r: &SqliteRow) -> Result<RawRecord, (Option<i64>, String)> {
        let seq: Option<i64> = r.try_get("seq").ok();
        let text = |col: &str| r.try_get::<String, _>(col).map_err(|e| (seq, format!("{col}: {e}")));
        Ok(RawRecord {
            seq: seq.ok_or_else(|| (None, "seq is not an integer".to_string()))?,
            prev_hash: text("prev_hash")?,
            hash: text("hash")?,
            fleet: text("fleet")?,
            action: text("action")?,
            targets: text("targets")?,
            os_user: text("os_user")?,
            operator: text("operator")?,
            started_at: text("started_at")?,
            ended_at: text("ended_at")?,
            outcome: text("outcome")?,
            body: text("body")?,
        })
    }

    fn targets(&self) -> Result<Vec<String>, String> {
        serde_json::from_str(&self.targets).map_err(|e| format!("targets: {e}"))
    }

    /// The hash its columns give now.
    fn recomputed_hash(&self, targets: &[String]) -> String {
        Canonical {
            seq: self.seq,
            prev_hash: &self.prev_hash,
            fleet: &self.fleet,
            action: &self.action,
            targets,
            os_user: &self.os_user,
            operator: &self.operator,
            started_at: &self.started_at,
            ended_at: &self.ended_at,
            outcome: &self.outcome,
            body: &self.body,
        }
        .hash()
    }

    fn into_record(self) -> Result<AuditRecord, String> {
        let targets = self.targets()?;
        let body = serde_json::from_str(&self.body).map_err(|e| format!("body: {e}"))?;
        Ok(AuditRecord {
            seq: self.seq,
            prev_hash: self.prev_hash,
            hash: self.hash,
            entry: AuditEntry {
                fleet: self.fleet,
                action: self.action,
                targets,
                os_user: self.os_user,
                operator: self.operator,
                started_at: self.started_at,
                ended_at: self.ended_at,
                outcome: self.outcome,
                body,
            },
        })
    }
}

/// The first fault in `rows` (as [`RawRecord::read`] gave them, in seq order)
/// against the head (`None`: the head row is gone).
fn first_fault(rows: &[Result<RawRecord, (Option<i64>, String)>], head: Option<(i64, &str)>) -> Option<AuditFault> {
    let fault = |seq: i64, reason: String| Some(AuditFault { seq, reason });
    let mut expected = 1;
    let mut prev_hash = GENESIS_HASH;
    for row in rows {
        // A seq that does not even read as an integer is judged where it stands.
        let seq = match row {
            Ok(r) => r.seq,
            Err((seq, _)) => seq.unwrap_or(expected),
        };
        if seq > expected {
            let reason = if expected == 1 {
                format!("missing (the log starts at record {seq}: records were removed)")
            } else {
                format!("missing (the log skips from record {} to record {seq}: records were removed)", expected - 1)
            };
            return fault(expected, reason);
        }
        if seq < expected {
            return fault(seq, "out of sequence (seqs start at 1 and rise by one)".into());
        }
        let row = match row {
            Ok(r) => r,
            Err((_, e)) => return fault(seq, format!("malformed {e} (the row was altered)")),
        };
        let targets = match row.targets() {
            Ok(t) => t,
            Err(e) => return fault(row.seq, format!("malformed {e} (the row was altered)")),
        };
        if row.recomputed_hash(&targets) != row.hash {
            return fault(row.seq, "hash mismatch (the row was altered or renumbered)".into());
        }
        if row.prev_hash != prev_hash {
            let reason = if row.seq == 1 {
                "prev_hash is not the genesis hash (the row was replaced)".to_string()
            } else {
                format!(
                    "prev_hash does not match record {}'s hash (record {} was rewritten with a fresh hash, or replaced)",
                    row.seq - 1,
                    row.seq - 1
                )
            };
            return fault(row.seq, reason);
        }
        expected += 1;
        prev_hash = &row.hash;
    }
    let last = expected - 1;
    let Some((head_seq, head_hash)) = head else {
        return fault(last.max(1), "the head is missing (the audit_head row was removed)".into());
    };
    if head_seq > last {
        let reason = if last == 0 {
            format!("missing (the head says the log ends at record {head_seq}, but it is empty: records were removed)")
        } else {
            format!(
                "missing (the head says the log ends at record {head_seq}, the last row is record {last}: \
                 records were removed from the end)"
            )
        };
        return fault(last + 1, reason);
    }
    if head_seq < last {
        return fault(
            head_seq + 1,
            format!("beyond the head (the head ends at record {head_seq}: written without advancing it)"),
        );
    }
    if head_hash != prev_hash {
        return fault(last, "does not match the head's hash (the last record was replaced)".into());
    }
    None
}

const COLUMNS: &str =
    "seq, prev_hash, hash, fleet, action, targets, os_user, operator, started_at, ended_at, outcome, body";

impl Store {
    /// Appends one record for `entry` after the head, in one `BEGIN IMMEDIATE`
    /// transaction (read the head, hash, insert, advance the head), so
    /// concurrent appenders, in this process or another, chain one after the other.
    pub async fn append_audit(&self, entry: &AuditEntry) -> Result<AuditRecord, StoreError> {
        let body = canonical_json(&entry.body);
        let targets = serde_json::to_string(&entry.targets).map_err(|e| StoreError::Query {
            path: self.path.clone(),
            what: "encoding an audit record's targets",
            reason: e.to_string(),
        })?;
        let mut tx =
            self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(self.query_error("starting an audit append"))?;
        let head: Option<(i64, String)> = sqlx::query_as("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_optional(&mut *tx)
            .await
            .map_err(self.query_error("reading the audit head"))?;
        let Some((head_seq, prev_hash)) = head else {
            return Err(StoreError::Malformed {
                path: self.path.clone(),
                table: "audit_head",
                id: 1,
                reason: "missing: the audit log's head was removed (`fleetdeck audit verify` says more)".into(),
            });
        };
        let seq = head_seq + 1;
        let hash = Canonical {
            seq,
            prev_hash: &prev_hash,
            fleet: &entry.fleet,
            action: &entry.action,
            targets: &entry.targets,
            os_user: &entry.os_user,
            operator: &entry.operator,
            started_at: &entry.started_at,
            ended_at: &entry.ended_at,
            outcome: &entry.outcome,
            body: &body,
        }
        .hash();
        sqlx::query(&format!("INSERT INTO audit_log ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"))
            .bind(seq)
            .bind(&prev_hash)
            .bind(&hash)
            .bind(&entry.fleet)
            .bind(&entry.action)
            .bind(&targets)
            .bind(&entry.os_user)
            .bind(&entry.operator)
            .bind(&entry.started_at)
            .bind(&entry.ended_at)
            .bind(&entry.outcome)
            .bind(&body)
            .execute(&mut *tx)
            .await
            .map_err(self.query_error("appending an audit record"))?;
        sqlx::query("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1")
            .bind(seq)
            .bind(&hash)
            .execute(&mut *tx)
            .await
            .map_err(self.query_error("advancing the audit head"))?;
        tx.commit().await.map_err(self.query_error("committing an audit record"))?;
        Ok(AuditRecord { seq, prev_hash, hash, entry: entry.clone() })
    }

    /// The records of `fleet` (all fleets when `None`), in seq order, as stored:
    /// this does not verify the chain (see [`Store::verify_audit`]).
    pub async fn audit_records(&self, fleet: Option<&str>) -> Result<Vec<AuditRecord>, StoreError> {
        let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM audit_log WHERE ?1 IS NULL OR fleet = ?1 ORDER BY seq"))
            .bind(fleet)
            .fetch_all(&self.pool)
            .await
            .map_err(self.query_error("reading the audit log"))?;
        rows.iter()
            .map(|r| {
                let bad = |reason: String| StoreError::Malformed {
                    path: self.path.clone(),
                    table: "audit_log",
                    id: r.try_get("seq").unwrap_or_default(),
                    reason,
                };
                RawRecord::read(r).map_err(|(_, e)| e).and_then(RawRecord::into_record).map_err(bad)
            })
            .collect()
    }

    /// Recomputes the whole chain from the stored columns and checks it against
    /// the head; the first bad record is the [`AuditVerification::fault`].
    /// Rows and head are read in one transaction, so a concurrent append is
    /// either wholly seen or not at all.
    pub async fn verify_audit(&self) -> Result<AuditVerification, StoreError> {
        let mut tx = self.pool.begin().await.map_err(self.query_error("starting an audit verification"))?;
        let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM audit_log ORDER BY seq"))
            .fetch_all(&mut *tx)
            .await
            .map_err(self.query_error("reading the audit log"))?;
        let head: Option<(i64, String)> = sqlx::query_as("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_optional(&mut *tx)
            .await
            .map_err(self.query_error("reading the audit head"))?;
        tx.rollback().await.map_err(self.query_error("ending an audit verification"))?;

        let raw: Vec<_> = rows.iter().map(RawRecord::read).collect();
        let fault = first_fault(&raw, head.as_ref().map(|(s, h)| (*s, h.as_str())));
        // The genesis head of an empty log is no head.
        let head = head.filter(|(seq, _)| *seq > 0).map(|(_, h)| h);
        Ok(AuditVerification { records: raw.len() as u64, head, fault })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn entry(n: u32) -> AuditEntry {
        AuditEntry {
            fleet: "lab".into(),
            action: "switchover".into(),
            targets: vec!["pg1".into(), format!("pg{}", n + 1)],
            os_user: "alice".into(),
            operator: "alice".into(),
            started_at: format!("2027-01-15T10:{:02}:00.000Z", n % 60),
            ended_at: format!("2027-01-15T10:{:02}:07.250Z", n % 60),
            outcome: "done".into(),
            body: json!({
                "plan": [{"title": "fence pg1", "detail": "PAUSE in PgBouncer"}],
                "checks": [{"name": "lag", "status": "pass", "evidence": {"replay_lag_bytes": 0, "ratio": 0.25}}],
                "steps": [{"name": "promote", "outcome": "done", "ms": 812 + n}],
            }),
        }
    }

    async fn log_of(n: u32) -> Store {
        let store = Store::memory().await.unwrap();
        for i in 1..=n {
            store.append_audit(&entry(i)).await.expect("appended");
        }
        store
    }

    /// What an attacker holding the file does first.
    async fn drop_triggers(store: &Store) {
        for t in ["audit_log_no_update", "audit_log_no_delete", "audit_head_advances_by_one", "audit_head_no_delete"] {
            sqlx::query(&format!("DROP TRIGGER {t}")).execute(&store.pool).await.unwrap();
        }
    }

    async fn sql(store: &Store, statement: &str) {
        sqlx::query(statement).execute(&store.pool).await.unwrap_or_else(|e| panic!("{statement}: {e}"));
    }

    async fn fault_of(store: &Store) -> AuditFault {
        let v = store.verify_audit().await.unwrap();
        let Some(fault) = v.fault else { panic!("tampering must be detected, verification said intact: {v:?}") };
        fault
    }

    #[tokio::test]
    async fn records_chain_from_the_genesis_hash() {
        let store = Store::memory().await.unwrap();
        let first = store.append_audit(&entry(1)).await.unwrap();
        let second = store.append_audit(&entry(2)).await.unwrap();
        assert_eq!((first.seq, second.seq), (1, 2), "seqs start at 1 and rise by one");
        assert_eq!(first.prev_hash, GENESIS_HASH, "the first record points at the genesis hash");
        assert_eq!(second.prev_hash, first.hash, "each record carries the previous record's hash");
        assert_eq!(first.hash.len(), 64, "hex SHA-256: {}", first.hash);
        assert_ne!(first.hash, second.hash);

        let stored = store.audit_records(None).await.unwrap();
        assert_eq!(stored, [first.clone(), second], "the log reads back exactly what was appended");
        assert_eq!(stored[0].entry, entry(1), "the body survives the round trip, numbers included");
    }

    #[tokio::test]
    async fn an_intact_log_verifies_and_reports_its_head() {
        let empty = Store::memory().await.unwrap().verify_audit().await.unwrap();
        assert_eq!(empty, AuditVerification { records: 0, head: None, fault: None }, "an empty log is intact");

        let store = log_of(5).await;
        let last = store.audit_records(None).await.unwrap().pop().unwrap();
        let v = store.verify_audit().await.unwrap();
        assert_eq!(v, AuditVerification { records: 5, head: Some(last.hash), fault: None });
    }

    #[tokio::test]
    async fn records_are_filtered_by_fleet_in_seq_order() {
        let store = Store::memory().await.unwrap();
        for (i, fleet) in ["lab", "prod", "lab"].into_iter().enumerate() {
            store.append_audit(&AuditEntry { fleet: fleet.into(), ..entry(i as u32) }).await.unwrap();
        }
        let seqs: Vec<i64> = store.audit_records(Some("lab")).await.unwrap().iter().map(|r| r.seq).collect();
        assert_eq!(seqs, [1, 3], "only lab's records, in chain order");
        assert_eq!(store.audit_records(None).await.unwrap().len(), 3);
    }

    #[test]
    fn the_hash_depends_on_body_content_not_key_order() {
        let a: serde_json::Value = serde_json::from_str(r#"{"b": 1, "a": {"y": [1, 2.5], "x": "é\n"}}"#).unwrap();
        let b: serde_json::Value = serde_json::from_str(r#"{"a": {"x": "é\n", "y": [1, 2.5]}, "b": 1}"#).unwrap();
        assert_eq!(canonical_json(&a), r#"{"a":{"x":"é\n","y":[1,2.5]},"b":1}"#, "sorted keys, no whitespace");
        assert_eq!(canonical_json(&a), canonical_json(&b), "key order is not content");
    }

    #[test]
    fn length_prefixes_keep_fields_apart() {
        let targets = |t: &[&str]| t.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let hash = |fleet: &str, action: &str, t: &[String]| {
            Canonical {
                seq: 1,
                prev_hash: GENESIS_HASH,
                fleet,
                action,
                targets: t,
                os_user: "u",
                operator: "u",
                started_at: "s",
                ended_at: "e",
                outcome: "done",
                body: "{}",
            }
            .hash()
        };
        let one = targets(&["pg1"]);
        assert_ne!(hash("lab", "x", &one), hash("la", "bx", &one), "moving bytes between fields changes the hash");
        assert_ne!(
            hash("lab", "x", &targets(&["pg1,pg2"])),
            hash("lab", "x", &targets(&["pg1", "pg2"])),
            "one target is not two"
        );
    }

    #[tokio::test]
    async fn triggers_refuse_changes_and_out_of_chain_rows() {
        let store = log_of(3).await;
        for (statement, refusal) in [
            ("UPDATE audit_log SET outcome = 'refused' WHERE seq = 2", "a record cannot be changed"),
            ("DELETE FROM audit_log WHERE seq = 3", "a record cannot be removed"),
            ("DELETE FROM audit_head", "audit_head cannot be removed"),
            (
                "UPDATE audit_head SET seq = 2, hash = (SELECT hash FROM audit_log WHERE seq = 2)",
                "audit_head only advances by one",
            ),
            (
                "INSERT INTO audit_log SELECT seq + 1, prev_hash, hash, fleet, action, targets, os_user, operator, \
                 started_at, ended_at, outcome, body FROM audit_log WHERE seq = 3",
                "a record must follow the head",
            ),
        ] {
            let err = sqlx::query(statement).execute(&store.pool).await;
            let Err(err) = err else { panic!("the log is append-only in SQL too, yet this succeeded: {statement}") };
            assert!(err.to_string().contains(refusal), "refused by the trigger, not by accident: {statement}: {err}");
        }
        assert!(store.verify_audit().await.unwrap().is_intact(), "refused statements leave the log as it was");
    }

    #[tokio::test]
    async fn an_altered_field_is_a_hash_mismatch_on_that_record() {
        let store = log_of(4).await;
        drop_triggers(&store).await;
        sql(&store, "UPDATE audit_log SET operator = 'mallory' WHERE seq = 3").await;
        let f = fault_of(&store).await;
        assert_eq!(f.seq, 3, "the altered record is named: {f}");
        assert!(f.reason.starts_with("hash mismatch"), "{f}");
        assert_eq!(f.to_string(), "audit record 3: hash mismatch (the row was altered or renumbered)");
    }

    #[tokio::test]
    async fn an_altered_body_is_detected_even_when_still_valid_json() {
        let store = log_of(2).await;
        drop_triggers(&store).await;
        sql(&store, "UPDATE audit_log SET body = replace(body, '\"pass\"', '\"overridden\"') WHERE seq = 1").await;
        assert_eq!(fault_of(&store).await.seq, 1, "a changed check status is a changed record");
    }

    #[tokio::test]
    async fn a_removed_middle_record_is_named_by_the_gap() {
        let store = log_of(5).await;
        drop_triggers(&store).await;
        sql(&store, "DELETE FROM audit_log WHERE seq = 3").await;
        let f = fault_of(&store).await;
        assert_eq!(f.seq, 3, "the removed record's seq is named: {f}");
        assert!(f.reason.starts_with("missing"), "{f}");
    }

    #[tokio::test]
    async fn a_removed_first_record_is_named() {
        let store = log_of(3).await;
        drop_triggers(&store).await;
        sql(&store, "DELETE FROM audit_log WHERE seq = 1").await;
        assert_eq!(fault_of(&store).await.seq, 1, "the chain must start at record 1");
    }

    #[tokio::test]
    async fn a_removed_gap_closed_by_renumbering_is_a_hash_mismatch() {
        let store = log_of(5).await;
        drop_triggers(&store).await;
        sql(&store, "DELETE FROM audit_log WHERE seq = 3").await;
        sql(&store, "UPDATE audit_log SET seq = seq + 999 WHERE seq > 3").await;
        sql(&store, "UPDATE audit_log SET seq = seq - 1000 WHERE seq > 1000").await;
        let f = fault_of(&store).await;
        assert_eq!(f.seq, 3, "the hash covers seq, so the renumbered record 4 (now 3) fails: {f}");
        assert!(f.reason.starts_with("hash mismatch"), "{f}");
    }

    #[tokio::test]
    async fn removed_records_at_the_end_are_named_through_the_head() {
        let store = log_of(5).await;
        drop_triggers(&store).await;
        sql(&store, "DELETE FROM audit_log WHERE seq >= 4").await;
        let f = fault_of(&store).await;
        assert_eq!(f.seq, 4, "the first removed record is named, though records 1-3 chain fine: {f}");
        assert!(f.reason.contains("removed from the end"), "{f}");

        sql(&store, "DELETE FROM audit_log").await;
        assert_eq!(fault_of(&store).await.seq, 1, "an emptied log with a head of 5 is not an empty log");
    }

    #[tokio::test]
    async fn an_append_after_removed_records_keeps_the_gap_visible() {
        let store = log_of(3).await;
        drop_triggers(&store).await;
        sql(&store, "DELETE FROM audit_log WHERE seq = 3").await;
        let next = store.append_audit(&entry(4)).await.expect("a broken log is still appended to");
        assert_eq!(next.seq, 4, "appending follows the head, not what rows are left");
        assert_eq!(fault_of(&store).await.seq, 3, "the removed record stays named");
    }

    #[tokio::test]
    async fn swapped_records_are_a_hash_mismatch_on_the_first() {
        let store = log_of(4).await;
        drop_triggers(&store).await;
        sql(&store, "UPDATE audit_log SET seq = seq + 1000 WHERE seq IN (2, 3)").await;
        sql(&store, "UPDATE audit_log SET seq = 3 WHERE seq = 1002").await;
        sql(&store, "UPDATE audit_log SET seq = 2 WHERE seq = 1003").await;
        let f = fault_of(&store).await;
        assert_eq!(f.seq, 2, "the first position holding the wrong record is named: {f}");
        assert!(f.reason.starts_with("hash mismatch"), "{f}");
    }

    /// Rewrites record `seq`'s operator and gives it a fresh, self-consistent hash.
    async fn rehash_with_operator(store: &Store, seq: i64, operator: &str) -> String {
        let mut rec = store.audit_records(None).await.unwrap().into_iter().find(|r| r.seq == seq).unwrap();
        rec.entry.operator = operator.into();
        let e = &rec.entry;
        let hash = Canonical {
            seq,
            prev_hash: &rec.prev_hash,
            fleet: &e.fleet,
            action: &e.action,
            targets: &e.targets,
            os_user: &e.os_user,
            operator: &e.operator,
            started_at: &e.started_at,
            ended_at: &e.ended_at,
            outcome: &e.outcome,
            body: &canonical_json(&e.body),
        }
        .hash();
        sqlx::query("UPDATE audit_log SET operator = ?, hash = ? WHERE seq = ?")
            .bind(operator)
            .bind(&hash)
            .bind(seq)
            .execute(&store.pool)
            .await
            .unwrap();
        hash
    }

    #[tokio::test]
    async fn a_rehashed_record_breaks_the_next_link() {
        let store = log_of(4).await;
        drop_triggers(&store).await;
        rehash_with_operator(&store, 2, "mallory").await;
        let f = fault_of(&store).await;
        assert_eq!(f.seq, 3, "record 2 is self-consistent, so record 3's prev_hash is the first bad link: {f}");
        assert!(f.reason.starts_with("prev_hash does not match record 2"), "{f}");
    }

    #[tokio::test]
    async fn a_rehashed_last_record_no_longer_matches_the_head() {
        let store = log_of(3).await;
        drop_triggers(&store).await;
        rehash_with_operator(&store, 3, "mallory").await;
        let f = fault_of(&store).await;
        assert_eq!(f.seq, 3, "the head still holds the original hash: {f}");
        assert!(f.reason.contains("head"), "{f}");
    }

    #[tokio::test]
    async fn a_removed_head_is_a_fault_and_stops_appends() {
        let store = log_of(2).await;
        drop_triggers(&store).await;
        sql(&store, "DELETE FROM audit_head").await;
        let f = fault_of(&store).await;
        assert!(f.reason.contains("head is missing"), "{f}");
        assert!(store.append_audit(&entry(3)).await.is_err(), "without the head there is nothing to chain to");
    }

    #[tokio::test]
    async fn a_column_of_the_wrong_type_is_named_not_a_panic() {
        let store = log_of(3).await;
        drop_triggers(&store).await;
        sql(&store, "UPDATE audit_log SET targets = x'00ff' WHERE seq = 2").await;
        let f = fault_of(&store).await;
        assert_eq!(f.seq, 2, "{f}");
        assert!(f.reason.starts_with("malformed"), "{f}");
        assert!(store.audit_records(None).await.is_err(), "export refuses a row it cannot read");
    }

    /// The documented limit: a consistent rewrite of the tail and the head verifies.
    #[tokio::test]
    async fn a_consistent_rewrite_of_the_tail_and_head_is_not_detected() {
        let store = log_of(3).await;
        drop_triggers(&store).await;
        let hash = rehash_with_operator(&store, 3, "mallory").await;
        sqlx::query("UPDATE audit_head SET hash = ? WHERE id = 1").bind(&hash).execute(&store.pool).await.unwrap();
        let v = store.verify_audit().await.unwrap();
        assert!(v.is_intact(), "if this is ever detected, update the module docs: {v:?}");
        assert_eq!(v.head.as_deref(), Some(hash.as_str()), "only a head kept elsewhere tells the difference");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_consoles_appending_at_once_chain_without_gaps() {
        let dir = std::env::temp_dir().join(format!("fleetdeck-audit-concurrent-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(super::super::FILE_NAME);
        // Two stores on one file, as two consoles would have, each with its own pool.
        let (a, b) = (Store::open(&path).await.unwrap(), Store::open(&path).await.unwrap());
        const EACH: u32 = 25;
        let console = |store: Store, who: &'static str| {
            tokio::spawn(async move {
                let mut seqs = Vec::new();
                for i in 0..EACH {
                    let rec = store.append_audit(&AuditEntry { operator: who.into(), ..entry(i) }).await.unwrap();
                    seqs.push(rec.seq);
                }
                seqs
            })
        };
        let (ta, tb) = (console(a.clone(), "a"), console(b.clone(), "b"));
        let (sa, sb) = (ta.await.unwrap(), tb.await.unwrap());
        assert!(sa.windows(2).all(|w| w[0] < w[1]), "one console's records keep its order: {sa:?}");
        let mut all: Vec<i64> = sa.into_iter().chain(sb).collect();
        all.sort();
        assert_eq!(all, (1..=2 * EACH as i64).collect::<Vec<_>>(), "every append got its own seq, none skipped");
        let v = a.verify_audit().await.unwrap();
        assert_eq!((v.records, v.fault), (2 * EACH as u64, None), "the interleaved appends form one chain");
        drop((a, b));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
