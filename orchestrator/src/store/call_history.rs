//! Reading the call history: the account's calls narrowed by filters (the history page and
//! `GET /api/calls`), who may see which call, a customer's latest calls; and closing the
//! records a process that died mid-call left open.

use super::calls::{record_from_row, CallRecord, Disposition, CALL_COLS};
use crate::clock::now_ms;
use crate::db::{Backend, Db};
use crate::error::{Error, Result};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sqlx::Row;

/// Which calls to list (all of them given; each narrows the list).
#[derive(Debug, Default, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CallQuery {
    pub agent_extension: Option<String>,
    /// Calls that started at or after this time (milliseconds since the Unix epoch).
    pub from: Option<i64>,
    /// Calls that started before this time.
    pub to: Option<i64>,
    /// inbound, outbound or internal.
    pub direction: Option<String>,
    /// Part of the caller's or the called number (spaces, dashes and brackets ignored).
    pub number: Option<String>,
    pub customer_id: Option<i64>,
    /// Calls that waited in this queue.
    pub queue: Option<String>,
    pub ai_agent: Option<String>,
    pub disposition: Option<Disposition>,
    pub has_recording: Option<bool>,
    /// Calls that left a voicemail message.
    pub has_voicemail: Option<bool>,
    /// Words found (case aside) in the numbers, the customer's name, the notes, the summary or
    /// the transcript.
    pub q: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// A call in a list: its record with the customer's name and how many recordings it has.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CallListItem {
    #[serde(flatten)]
    pub record: CallRecord,
    pub customer_name: Option<String>,
    pub recordings: i64,
}

/// A `LIKE` pattern that finds `text` anywhere (its own `%`, `_` and `\` taken literally).
fn contains_pattern(text: &str) -> String {
    let mut out = String::from("%");
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// The words of a search, for full-text search: letters and digits only (whatever else the
/// user typed separates words and cannot reach the search syntax), lowercased, at most eight.
fn words(q: &str) -> Vec<String> {
    q.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).take(8).map(str::to_lowercase).collect()
}

/// The condition that the agent whose extension is bound at `p` handled call `c`: the record
/// is theirs (they answered it), they placed it (a call from their extension, to a colleague,
/// an outside number or one of the account's numbers, answered by someone else), or they
/// answered a leg of it.
fn handled_by(p: &str) -> String {
    format!(
        "(c.agent_extension = {p} OR c.from_number = {p} \
         OR EXISTS (SELECT 1 FROM call_legs l WHERE l.call_id = c.id AND l.kind IN ('agent', 'supervisor') \
         AND l.endpoint = {p} AND l.answered_at IS NOT NULL))"
    )
}

/// Checks that call `id` is the account's and, for an agent (`only_agent`), one they handled:
/// `NotFound` otherwise. One small query, for access checks that need nothing of the call.
pub async fn visible(db: &Db, account_id: i64, id: i64, only_agent: Option<&str>) -> Result<()> {
    let mut sql = "SELECT 1 AS yes FROM call_records c WHERE c.account_id = $1 AND c.id = $2".to_string();
    if only_agent.is_some() {
        sql = format!("{sql} AND {}", handled_by("$3"));
    }
    let mut q = sqlx::query(&sql).bind(account_id).bind(id);
    if let Some(agent) = only_agent {
        q = q.bind(agent.to_string());
    }
    q.fetch_optional(db.pool()).await?.map(|_| ()).ok_or(Error::NotFound)
}

/// A query's conditions and their values, numbered as they are added.
struct Conditions {
    sql: Vec<String>,
    args: Vec<Arg>,
}

enum Arg {
    Int(i64),
    Text(String),
}

impl Conditions {
    /// Adds a value; returns its placeholder.
    fn arg(&mut self, a: Arg) -> String {
        self.args.push(a);
        format!("${}", self.args.len())
    }
}

/// Calls, newest first, narrowed by `query`. `only_agent` restricts to one agent's calls (the
/// agent role).
pub async fn list(
    db: &Db,
    account_id: i64,
    query: &CallQuery,
    only_agent: Option<&str>,
) -> Result<Vec<CallListItem>> {
    let mut w = Conditions { sql: Vec::new(), args: Vec::new() };
    let p = w.arg(Arg::Int(account_id));
    w.sql.push(format!("c.account_id = {p}"));
    if let Some(agent) = only_agent.map(str::to_string).or_else(|| query.agent_extension.clone()) {
        let p = w.arg(Arg::Text(agent));
        w.sql.push(handled_by(&p));
    }
    if let Some(from) = query.from {
        let p = w.arg(Arg::Int(from));
        w.sql.push(format!("c.started_at >= {p}"));
    }
    if let Some(to) = query.to {
        let p = w.arg(Arg::Int(to));
        w.sql.push(format!("c.started_at < {p}"));
    }
    if let Some(d) = query.direction.as_deref().filter(|d| !d.is_empty()) {
        let p = w.arg(Arg::Text(d.to_string()));
        w.sql.push(format!("c.direction = {p}"));
    }
    if let Some(n) = &query.number {
        let n: String = n.chars().filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '.')).collect();
        if !n.is_empty() {
            let p = w.arg(Arg::Text(contains_pattern(&n)));
            w.sql.push(format!("(c.from_number LIKE {p} ESCAPE '\\' OR c.to_number LIKE {p} ESCAPE '\\')"));
        }
    }
    if let Some(customer) = query.customer_id {
        let p = w.arg(Arg::Int(customer));
        w.sql.push(format!("c.customer_id = {p}"));
    }
    if let Some(queue) = query.queue.as_deref().filter(|q| !q.is_empty()) {
        let p = w.arg(Arg::Text(contains_pattern(&format!("\"queue\":{}", serde_json::json!(queue)))));
        w.sql.push(format!(
            "EXISTS (SELECT 1 FROM call_events e WHERE e.call_id = c.id AND e.kind = 'queue_joined' \
             AND LOWER(e.data) LIKE {p} ESCAPE '\\')"
        ));
    }
    if let Some(ai) = query.ai_agent.as_deref().filter(|a| !a.is_empty()) {
        let p = w.arg(Arg::Text(ai.to_string()));
        w.sql.push(format!("c.ai_agent = {p}"));
    }
    if let Some(d) = query.disposition {
        let p = w.arg(Arg::Text(d.as_str().to_string()));
        w.sql.push(format!("c.disposition = {p}"));
    }
    if let Some(has) = query.has_recording {
        let not = if has { "" } else { "NOT " };
        w.sql.push(format!("{not}EXISTS (SELECT 1 FROM call_recordings r WHERE r.call_id = c.id)"));
    }
    if let Some(has) = query.has_voicemail {
        let not = if has { "" } else { "NOT " };
        w.sql.push(format!("{not}EXISTS (SELECT 1 FROM voicemails v WHERE v.call_id = c.id)"));
    }
    if let Some(q) = query.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        // Numbers, the customer's name and the AI's summary as substrings; what was said and
        // written (the transcript, notes and outcome) by full-text search: every word of the
        // query, each as a word or the start of one.
        let p = w.arg(Arg::Text(contains_pattern(q)));
        let like = |col: &str| format!("LOWER({col}) LIKE {p} ESCAPE '\\'");
        let mut any = vec![
            like("c.from_number"),
            like("c.to_number"),
            like("c.summary"),
            format!(
                "EXISTS (SELECT 1 FROM customers cu WHERE cu.id = c.customer_id AND {})",
                like("cu.name")
            ),
        ];
        let words = words(q);
        if !words.is_empty() {
            match db.backend() {
                Backend::Sqlite => {
                    let m = w.arg(Arg::Text(
                        words.iter().map(|t| format!("\"{t}\"*")).collect::<Vec<_>>().join(" "),
                    ));
                    any.push(format!(
                        "c.id IN (SELECT t.call_id FROM transcripts t WHERE t.id IN \
                         (SELECT rowid FROM transcripts_fts WHERE transcripts_fts MATCH {m}))"
                    ));
                    any.push(format!(
                        "c.id IN (SELECT n.call_id FROM call_wrap_ups n WHERE n.id IN \
                         (SELECT rowid FROM wrap_ups_fts WHERE wrap_ups_fts MATCH {m}))"
                    ));
                }
                Backend::Postgres => {
                    let m = w.arg(Arg::Text(
                        words.iter().map(|t| format!("{t}:*")).collect::<Vec<_>>().join(" & "),
                    ));
                    let tsq = format!("to_tsquery('simple', {m})");
                    any.push(format!(
                        "EXISTS (SELECT 1 FROM transcripts t WHERE t.call_id = c.id \
                         AND to_tsvector('simple', t.text) @@ {tsq})"
                    ));
                    any.push(format!(
                        "EXISTS (SELECT 1 FROM call_wrap_ups n WHERE n.call_id = c.id \
                         AND to_tsvector('simple', COALESCE(n.outcome, '') || ' ' || n.notes) @@ {tsq})"
                    ));
                }
            }
        }
        w.sql.push(format!("({})", any.join(" OR ")));
    }
    let limit = w.arg(Arg::Int(query.limit.unwrap_or(100).clamp(1, 1000)));
    let offset = w.arg(Arg::Int(query.offset.unwrap_or(0).max(0)));
    let sql = format!(
        "SELECT {CALL_COLS}, \
           (SELECT cu.name FROM customers cu WHERE cu.id = c.customer_id) AS customer_name, \
           (SELECT COUNT(*) FROM call_recordings r WHERE r.call_id = c.id) AS recordings \
         FROM call_records c WHERE {} ORDER BY c.started_at DESC, c.id DESC LIMIT {limit} OFFSET {offset}",
        w.sql.join(" AND ")
    );
    let mut q = sqlx::query(&sql);
    for a in w.args {
        q = match a {
            Arg::Int(i) => q.bind(i),
            Arg::Text(t) => q.bind(t),
        };
    }
    let rows = q.fetch_all(db.pool()).await?;
    rows.iter()
        .map(|r| {
            Ok(CallListItem {
                record: record_from_row(r)?,
                customer_name: r.try_get("customer_name")?,
                recordings: r.try_get("recordings")?,
            })
        })
        .collect()
}

/// A customer's latest calls, newest first.
pub async fn list_for_customer(
    db: &Db,
    account_id: i64,
    customer_id: i64,
    limit: i64,
) -> Result<Vec<CallRecord>> {
    let rows = sqlx::query(&format!(
        "SELECT {CALL_COLS} FROM call_records WHERE account_id = $1 AND customer_id = $2 \
         ORDER BY started_at DESC, id DESC LIMIT $3"
    ))
    .bind(account_id)
    .bind(customer_id)
    .bind(limit.clamp(1, 100))
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(record_from_row).collect()
}

/// Closes the call records a previous run of the process left open (it died with calls up):
/// each ends as failed where its timeline ends, with an `interrupted` event. On a node of a
/// cluster, only its own. Returns how many.
pub async fn close_abandoned(db: &Db) -> Result<u64> {
    close_open(db, db.node(), "Switchboard stopped during the call").await
}

/// Closes the open call records of `node` (every open record when `None`) as failed, with an
/// `interrupted` event giving `reason`. Returns how many.
pub async fn close_open(db: &Db, node: Option<i64>, reason: &str) -> Result<u64> {
    let sql = match node {
        Some(_) => "SELECT id FROM call_records WHERE ended_at IS NULL AND node_id = $1",
        None => "SELECT id FROM call_records WHERE ended_at IS NULL",
    };
    let mut query = sqlx::query(sql);
    if let Some(node) = node {
        query = query.bind(node);
    }
    let open: Vec<i64> = query
        .fetch_all(db.pool())
        .await?
        .iter()
        .map(|r| r.try_get("id"))
        .collect::<std::result::Result<_, _>>()?;
    for id in &open {
        let mut tx = db.pool().begin().await?;
        let last: Option<i64> = sqlx::query("SELECT MAX(at) AS last FROM call_events WHERE call_id = $1")
            .bind(id)
            .fetch_one(&mut *tx)
            .await?
            .try_get("last")?;
        let event = serde_json::json!({ "reason": reason });
        sqlx::query(
            "UPDATE call_records SET ended_at = COALESCE($1, started_at), disposition = 'failed', \
             hung_up_by = 'system' WHERE id = $2 AND ended_at IS NULL",
        )
        .bind(last)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE call_legs SET ended_at = (SELECT ended_at FROM call_records WHERE id = $1), \
             outcome = COALESCE(outcome, 'failed') WHERE call_id = $1 AND ended_at IS NULL",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("INSERT INTO call_events (call_id, at, kind, data) VALUES ($1, $2, 'interrupted', $3)")
            .bind(id)
            .bind(last.unwrap_or_else(now_ms))
            .bind(event.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }
    Ok(open.len() as u64)
}
