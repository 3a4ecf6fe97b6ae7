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

pub async fn finish(db: &Db, call_id: i64, disposition: &str, cost_micros: i64) -> Result<()> {
    sqlx::query("UPDATE call_records SET ended_at = $1, disposition = $2, cost_micros = $3 WHERE id = $4")
        .bind(now_ms())
        .bind(disposition)
        .bind(cost_micros)
        .bind(call_id)
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
