//! EXPLAIN, guarded. Plans come from `EXPLAIN (FORMAT JSON)` without ANALYZE by
//! default: it plans but never runs the statement. ANALYZE does run it, so it
//! is allowed only on a replica (nothing can be written there), inside a
//! READ ONLY transaction that is always rolled back, under a statement
//! timeout. Multi-statement SQL is refused before anything is sent, since
//! `EXPLAIN a; DROP b` would run the second statement.
//!
//! Statements from `pg_stat_statements` are normalised (`$1`, `$2`): PostgreSQL
//! 15 has no `EXPLAIN (GENERIC_PLAN)`, so they are PREPAREd and the generic plan
//! is explained with `plan_cache_mode = force_generic_plan`, where parameter
//! values (NULLs here) cannot change the plan.

use std::time::Duration;

use serde_json::Value;
use tokio_postgres::Client;

use crate::pg::error_text;

/// Why a plan could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum ExplainError {
    /// The SQL holds more than one statement.
    #[error("refused: the SQL holds more than one statement (a ';' is followed by more SQL at byte {0})")]
    MultiStatement(usize),
    /// Nothing to explain.
    #[error("refused: the SQL is empty")]
    Empty,
    /// ANALYZE asked of a primary.
    #[error("refused: EXPLAIN ANALYZE runs the statement, so it is only allowed on a replica; {0} is the primary")]
    AnalyzeOnPrimary(String),
    /// ANALYZE asked of a normalised statement.
    #[error("refused: EXPLAIN ANALYZE needs concrete values; this statement has parameters ($1..${0}); pass the SQL with values instead")]
    AnalyzeWithParameters(usize),
    /// No such statement in `pg_stat_statements`.
    #[error("no statement with queryid {0} in pg_stat_statements on {1}")]
    UnknownQueryId(String, String),
    /// The server refused or failed.
    #[error("{0}")]
    Server(String),
    /// The plan was not the JSON EXPLAIN returns.
    #[error("malformed EXPLAIN output: {0}")]
    Malformed(String),
}

fn server(e: tokio_postgres::Error) -> ExplainError {
    ExplainError::Server(error_text(&e))
}

/// Checks that `sql` is exactly one statement (a trailing `;` is fine), honouring
/// quotes, quoted identifiers, dollar quoting and both comment styles.
pub fn single_statement(sql: &str) -> Result<&str, ExplainError> {
    let b = sql.as_bytes();
    let mut i = 0;
    let mut end = None;
    while i < b.len() {
        match b[i] {
            b'\'' | b'"' => {
                let q = b[i];
                i += 1;
                while i < b.len() {
                    if b[i] == q {
                        if b.get(i + 1) == Some(&q) {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
                i += 1;
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let mut depth = 0;
                while i < b.len() {
                    if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                        depth += 1;
                        i += 2;
                    } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
            }
            b'$' => {
                // $tag$ … $tag$ (tag may be empty); a bare $1 is a parameter.
                let tag_end = sql[i + 1..].find('$').map(|j| i + 1 + j);
                match tag_end {
                    Some(j) if sql[i + 1..j].chars().all(|c| c.is_alphanumeric() || c == '_')
                        && !sql[i + 1..j].starts_with(|c: char| c.is_ascii_digit()) =>
                    {
                        let tag = &sql[i..=j];
                        match sql[j + 1..].find(tag) {
                            Some(k) => i = j + 1 + k + tag.len(),
                            None => i = b.len(),
                        }
                    }
                    _ => i += 1,
                }
            }
            b';' => {
                if end.is_none() {
                    end = Some(i);
                }
                i += 1;
            }
            c if !c.is_ascii_whitespace() => {
                if let Some(e) = end {
                    return Err(ExplainError::MultiStatement(e));
                }
                i += 1;
            }
            _ => i += 1,
        }
    }
    let stmt = sql[..end.unwrap_or(sql.len())].trim();
    if stmt.is_empty() {
        return Err(ExplainError::Empty);
    }
    Ok(stmt)
}

/// The highest `$n` parameter in a normalised statement (0 if none).
pub fn parameter_count(sql: &str) -> usize {
    let b = sql.as_bytes();
    let mut max = 0;
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'$' {
            let digits: String = sql[i + 1..].chars().take_while(|c| c.is_ascii_digit()).collect();
            if let Ok(n) = digits.parse::<usize>() {
                max = max.max(n);
            }
            i += 1 + digits.len();
        } else {
            i += 1;
        }
    }
    max
}

/// What to explain.
#[derive(Debug, Clone)]
pub enum Target {
    /// A `pg_stat_statements` queryid.
    QueryId(String),
    /// SQL text.
    Sql(String),
}

/// A plan and how it was obtained.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Explained {
    /// Node explained on.
    pub node: String,
    /// The statement.
    pub query: String,
    /// ANALYZE was used.
    pub analyzed: bool,
    /// A generic plan of a parameterised statement.
    pub generic: bool,
    /// The `EXPLAIN (FORMAT JSON)` document: an array with one `{"Plan": …}`.
    pub plan: Value,
}

/// Explains `target` on `node` over `client` (the node's monitoring login).
pub async fn explain(
    client: &mut Client,
    node: &str,
    target: Target,
    analyze: bool,
    statement_timeout: Duration,
) -> Result<Explained, ExplainError> {
    let query = match target {
        Target::Sql(sql) => single_statement(&sql)?.to_string(),
        Target::QueryId(id) => {
            let row = client
                .query_opt("SELECT query FROM pg_stat_statements WHERE queryid::text = $1 LIMIT 1", &[&id])
                .await
                .map_err(server)?
                .ok_or_else(|| ExplainError::UnknownQueryId(id.clone(), node.to_string()))?;
            single_statement(row.get::<_, &str>(0))?.to_string()
        }
    };
    let params = parameter_count(&query);
    if analyze {
        if params > 0 {
            return Err(ExplainError::AnalyzeWithParameters(params));
        }
        let in_recovery: bool = client.query_one("SELECT pg_is_in_recovery()", &[]).await.map_err(server)?.get(0);
        if !in_recovery {
            return Err(ExplainError::AnalyzeOnPrimary(node.to_string()));
        }
    }
    let timeout_ms = statement_timeout.as_millis().max(1);
    // Everything in a READ ONLY transaction that is rolled back whatever happens.
    let tx = client.build_transaction().read_only(true).start().await.map_err(server)?;
    tx.batch_execute(&format!("SET LOCAL statement_timeout = {timeout_ms}")).await.map_err(server)?;
    let options = if analyze { "ANALYZE, BUFFERS, FORMAT JSON" } else { "FORMAT JSON" };
    let text = if params > 0 {
        tx.batch_execute("SET LOCAL plan_cache_mode = force_generic_plan").await.map_err(server)?;
        tx.batch_execute(&format!("PREPARE fleetdeck_explain AS {query}")).await.map_err(server)?;
        let nulls = vec!["NULL"; params].join(", ");
        let rows = tx
            .simple_query(&format!("EXPLAIN ({options}) EXECUTE fleetdeck_explain({nulls})"))
            .await
            .map_err(server)?;
        first_cell(rows)?
    } else {
        first_cell(tx.simple_query(&format!("EXPLAIN ({options}) {query}")).await.map_err(server)?)?
    };
    tx.rollback().await.map_err(server)?;
    let plan: Value = serde_json::from_str(&text).map_err(|e| ExplainError::Malformed(e.to_string()))?;
    if plan.get(0).and_then(|p| p.get("Plan")).is_none() {
        return Err(ExplainError::Malformed("no Plan in the EXPLAIN output".into()));
    }
    Ok(Explained { node: node.to_string(), query, analyzed: analyze, generic: params > 0, plan })
}

fn first_cell(msgs: Vec<tokio_postgres::SimpleQueryMessage>) -> Result<String, ExplainError> {
    msgs.into_iter()
        .find_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
            _ => None,
        })
        .ok_or_else(|| ExplainError::Malformed("EXPLAIN returned no row".into()))
}

/// One plan node with its exclusive cost (its total minus its children's),
/// flattened depth-first for drawing; `costliest` marks the top three.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PlanLine {
    /// Depth in the tree.
    pub depth: usize,
    /// `Node Type` plus relation/index when present.
    pub label: String,
    /// `Total Cost`.
    pub total_cost: f64,
    /// Total cost minus the children's total costs.
    pub exclusive_cost: f64,
    /// `Plan Rows`.
    pub rows: f64,
    /// `Actual Total Time` × loops, when analyzed (ms).
    pub actual_ms: Option<f64>,
    /// Among the three highest exclusive costs.
    pub costliest: bool,
}

/// Flattens an EXPLAIN JSON document into [`PlanLine`]s.
pub fn plan_lines(plan: &Value) -> Vec<PlanLine> {
    fn walk(n: &Value, depth: usize, out: &mut Vec<PlanLine>) {
        let f = |k: &str| n.get(k).and_then(Value::as_f64).unwrap_or(0.0);
        let children = n.get("Plans").and_then(Value::as_array).cloned().unwrap_or_default();
        let child_cost: f64 = children.iter().map(|c| c.get("Total Cost").and_then(Value::as_f64).unwrap_or(0.0)).sum();
        let mut label = n.get("Node Type").and_then(Value::as_str).unwrap_or("?").to_string();
        if let Some(idx) = n.get("Index Name").and_then(Value::as_str) {
            label.push_str(&format!(" using {idx}"));
        }
        if let Some(rel) = n.get("Relation Name").and_then(Value::as_str) {
            label.push_str(&format!(" on {rel}"));
        }
        let actual_ms = n.get("Actual Total Time").and_then(Value::as_f64).map(|t| t * f("Actual Loops").max(1.0));
        out.push(PlanLine {
            depth,
            label,
            total_cost: f("Total Cost"),
            exclusive_cost: (f("Total Cost") - child_cost).max(0.0),
            rows: f("Plan Rows"),
            actual_ms,
            costliest: false,
        });
        for c in &children {
            walk(c, depth + 1, out);
        }
    }
    let mut out = Vec::new();
    if let Some(root) = plan.get(0).and_then(|p| p.get("Plan")) {
        walk(root, 0, &mut out);
    }
    let mut order: Vec<usize> = (0..out.len()).collect();
    order.sort_by(|&a, &b| out[b].exclusive_cost.total_cmp(&out[a].exclusive_cost));
    for &i in order.iter().take(3) {
        if out[i].exclusive_cost > 0.0 {
            out[i].costliest = true;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_statement_with_a_trailing_semicolon_is_accepted() {
        assert_eq!(single_statement("SELECT 1;  \n").unwrap(), "SELECT 1");
    }

    #[test]
    fn a_second_statement_is_refused_wherever_it_hides() {
        assert!(matches!(single_statement("SELECT 1; DROP TABLE t"), Err(ExplainError::MultiStatement(8))));
        assert!(single_statement("SELECT 1;-- c\n;SELECT 2").is_err(), "a comment does not end the check");
    }

    #[test]
    fn semicolons_inside_quotes_comments_and_dollar_quotes_do_not_count() {
        for sql in [
            "SELECT ';' AS x",
            "SELECT 'it''s; fine'",
            "SELECT \"a;b\" FROM t",
            "SELECT 1 -- ; DROP\n",
            "SELECT 1 /* ; /* nested ; */ */",
            "SELECT $$a; b$$",
            "SELECT $tag$ ; $tag$",
            "SELECT * FROM t WHERE a = $1 AND b = $2",
        ] {
            assert!(single_statement(sql).is_ok(), "{sql} is one statement");
        }
    }

    #[test]
    fn empty_sql_is_refused() {
        assert!(matches!(single_statement(" ; "), Err(ExplainError::Empty)));
    }

    #[test]
    fn parameters_are_counted_by_their_highest_number() {
        assert_eq!(parameter_count("SELECT $1, $12, $3"), 12);
        assert_eq!(parameter_count("SELECT 1"), 0);
    }

    #[test]
    fn the_costliest_nodes_are_those_with_the_highest_exclusive_cost() {
        let plan: Value = serde_json::json!([{ "Plan": {
            "Node Type": "Limit", "Total Cost": 110.0, "Plan Rows": 20.0, "Plans": [
                { "Node Type": "Sort", "Total Cost": 105.0, "Plan Rows": 100.0, "Plans": [
                    { "Node Type": "Seq Scan", "Relation Name": "messages", "Total Cost": 100.0, "Plan Rows": 100.0 }
                ]}
            ]
        }}]);
        let lines = plan_lines(&plan);
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[2].label, "Seq Scan on messages");
        assert_eq!(lines[2].exclusive_cost, 100.0, "a leaf's exclusive cost is its total");
        assert_eq!(lines[1].exclusive_cost, 5.0, "the sort adds 5 on top of its child");
        assert!(lines.iter().all(|l| l.costliest), "with three nodes all are in the top three");
    }
}
