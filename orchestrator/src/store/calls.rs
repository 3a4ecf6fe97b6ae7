//! Call records: one per call, with its legs and timeline. The telephony layer writes them as
//! calls happen; the API reads them.

use crate::clock::now_ms;
use crate::db::Db;
use crate::error::{Error, Result};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sqlx::Row;

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CallRecord {
    pub id: i64,
    pub direction: String,
    pub from_number: String,
    pub to_number: String,
    pub customer_id: Option<i64>,
    pub agent_extension: Option<String>,
    pub ai_agent: Option<String>,
    pub started_at: i64,
    pub answered_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub disposition: Option<String>,
    /// Cost in millionths of the account currency.
    pub cost_micros: i64,
    pub summary: Option<String>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CallLeg {
    pub id: i64,
    pub kind: String,
    pub endpoint: String,
    pub started_at: i64,
    pub answered_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub outcome: Option<String>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CallEvent {
    pub at: i64,
    pub kind: String,
    pub data: serde_json::Value,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CallDetail {
    #[serde(flatten)]
    pub record: CallRecord,
    pub legs: Vec<CallLeg>,
    pub timeline: Vec<CallEvent>,
}

/// What is known when a call starts.
#[derive(Debug, Clone, Deserialize)]
pub struct NewCall {
    pub direction: String,
    pub from_number: String,
    pub to_number: String,
    pub customer_id: Option<i64>,
    pub agent_extension: Option<String>,
    pub ai_agent: Option<String>,
}

const CALL_COLS: &str = "id, direction, from_number, to_number, customer_id, agent_extension, ai_agent, \
                         started_at, answered_at, ended_at, disposition, cost_micros, summary";

fn record_from_row(row: &sqlx::any::AnyRow) -> Result<CallRecord> {
    Ok(CallRecord {
        id: row.try_get("id")?,
        direction: row.try_get("direction")?,
        from_number: row.try_get("from_number")?,
        to_number: row.try_get("to_number")?,
        customer_id: row.try_get("customer_id")?,
        agent_extension: row.try_get("agent_extension")?,
        ai_agent: row.try_get("ai_agent")?,
        started_at: row.try_get("started_at")?,
        answered_at: row.try_get("answered_at")?,
        ended_at: row.try_get("ended_at")?,
        disposition: row.try_get("disposition")?,
        cost_micros: row.try_get("cost_micros")?,
        summary: row.try_get("summary")?,
    })
}

pub async fn create(db: &Db, account_id: i64, call: &NewCall) -> Result<i64> {
    let row = sqlx::query(
        "INSERT INTO call_records (account_id, direction, from_number, to_number, customer_id, agent_extension, \
         ai_agent, started_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(account_id)
    .bind(&call.direction)
    .bind(&call.from_number)
    .bind(&call.to_number)
    .bind(call.customer_id)
    .bind(&call.agent_extension)
    .bind(&call.ai_agent)
    .bind(now_ms())
    .fetch_one(db.pool())
    .await?;
    Ok(row.try_get("id")?)
}

pub async fn add_event(db: &Db, call_id: i64, kind: &str, data: &serde_json::Value) -> Result<()> {
    sqlx::query("INSERT INTO call_events (call_id, at, kind, data) VALUES ($1, $2, $3, $4)")
        .bind(call_id)
        .bind(now_ms())
        .bind(kind)
        .bind(data.to_string())
        .execute(db.pool())
        .await?;
    Ok(())
}

#[derive(Debug, Default, Clone, Deserialize, JsonSchema)]
pub struct CallQuery {
    pub agent_extension: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// Calls, newest first. `only_agent` restricts to one agent's calls (the agent role).
pub async fn list(
    db: &Db,
    account_id: i64,
    query: &CallQuery,
    only_agent: Option<&str>,
) -> Result<Vec<CallRecord>> {
    let agent = only_agent.map(str::to_string).or_else(|| query.agent_extension.clone());
    let rows = sqlx::query(&format!(
        "SELECT {CALL_COLS} FROM call_records WHERE account_id = $1 AND ($2 IS NULL OR agent_extension = $2) \
         ORDER BY started_at DESC, id DESC LIMIT $3 OFFSET $4"
    ))
    .bind(account_id)
    .bind(agent)
    .bind(query.limit.unwrap_or(100).clamp(1, 1000))
    .bind(query.offset.unwrap_or(0).max(0))
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(record_from_row).collect()
}

pub async fn get(db: &Db, account_id: i64, id: i64, only_agent: Option<&str>) -> Result<CallDetail> {
    let row = sqlx::query(&format!("SELECT {CALL_COLS} FROM call_records WHERE account_id = $1 AND id = $2"))
        .bind(account_id)
        .bind(id)
        .fetch_optional(db.pool())
        .await?
        .ok_or(Error::NotFound)?;
    let record = record_from_row(&row)?;
    if only_agent.is_some() && record.agent_extension.as_deref() != only_agent {
        return Err(Error::NotFound);
    }
    let legs = sqlx::query(
        "SELECT id, kind, endpoint, started_at, answered_at, ended_at, outcome FROM call_legs WHERE call_id = $1 ORDER BY id",
    )
    .bind(id)
    .fetch_all(db.pool())
    .await?
    .iter()
    .map(|r| {
        Ok(CallLeg {
            id: r.try_get("id")?,
            kind: r.try_get("kind")?,
            endpoint: r.try_get("endpoint")?,
            started_at: r.try_get("started_at")?,
            answered_at: r.try_get("answered_at")?,
            ended_at: r.try_get("ended_at")?,
            outcome: r.try_get("outcome")?,
        })
    })
    .collect::<Result<Vec<_>>>()?;
    let timeline = sqlx::query("SELECT at, kind, data FROM call_events WHERE call_id = $1 ORDER BY at, id")
        .bind(id)
        .fetch_all(db.pool())
        .await?
        .iter()
        .map(|r| {
            let data: String = r.try_get("data")?;
            Ok(CallEvent {
                at: r.try_get("at")?,
                kind: r.try_get("kind")?,
                data: serde_json::from_str(&data).unwrap_or(serde_json::Value::String(data)),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(CallDetail { record, legs, timeline })
}

/// A change to a call record, stamped when it happened.
#[derive(Debug)]
enum RecordOp {
    Event { call: i64, at: i64, kind: String, data: serde_json::Value },
    Answered { call: i64, at: i64 },
    Finish { call: i64, at: i64, disposition: String },
}

/// Writes call-record updates in order and off the call-routing path: each burst of updates is
/// one transaction (one fsync), so a busy PBX does not wait on the disk per event.
#[derive(Clone)]
pub struct RecordWriter {
    tx: tokio::sync::mpsc::UnboundedSender<RecordOp>,
}

impl RecordWriter {
    pub fn start(db: Db) -> Self {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<RecordOp>();
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut batch = vec![first];
                while batch.len() < 500 {
                    match rx.try_recv() {
                        Ok(op) => batch.push(op),
                        Err(_) => break,
                    }
                }
                if let Err(e) = write_batch(&db, &batch).await {
                    tracing::error!(error = %e, updates = batch.len(), "call records could not be written");
                }
            }
        });
        RecordWriter { tx }
    }

    pub fn event(&self, call: i64, kind: &str, data: serde_json::Value) {
        let _ = self.tx.send(RecordOp::Event { call, at: now_ms(), kind: kind.to_string(), data });
    }

    pub fn answered(&self, call: i64) {
        let _ = self.tx.send(RecordOp::Answered { call, at: now_ms() });
    }

    pub fn finish(&self, call: i64, disposition: &str) {
        let _ = self.tx.send(RecordOp::Finish { call, at: now_ms(), disposition: disposition.to_string() });
    }
}

async fn write_batch(db: &Db, batch: &[RecordOp]) -> Result<()> {
    let mut tx = db.pool().begin().await?;
    for op in batch {
        match op {
            RecordOp::Event { call, at, kind, data } => {
                sqlx::query("INSERT INTO call_events (call_id, at, kind, data) VALUES ($1, $2, $3, $4)")
                    .bind(call)
                    .bind(at)
                    .bind(kind)
                    .bind(data.to_string())
                    .execute(&mut *tx)
                    .await?;
            }
            RecordOp::Answered { call, at } => {
                sqlx::query("UPDATE call_records SET answered_at = $1 WHERE id = $2")
                    .bind(at)
                    .bind(call)
                    .execute(&mut *tx)
                    .await?;
            }
            RecordOp::Finish { call, at, disposition } => {
                sqlx::query("UPDATE call_records SET ended_at = $1, disposition = $2 WHERE id = $3")
                    .bind(at)
                    .bind(disposition)
                    .bind(call)
                    .execute(&mut *tx)
                    .await?;
            }
        }
    }
    tx.commit().await?;
    Ok(())
}
