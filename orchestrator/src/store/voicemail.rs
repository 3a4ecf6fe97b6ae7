//! Voicemail messages: who left one in which box, where its recording is (relative to the data
//! directory), how long it is, its transcript, whether someone has listened to it.

use crate::clock::now_ms;
use crate::db::Db;
use crate::error::{Error, Result};
use serde::Serialize;
use sqlx::Row;

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Voicemail {
    pub id: i64,
    pub box_name: String,
    /// The call it was left on.
    pub call_id: Option<i64>,
    /// The caller's number, as they presented it.
    pub caller: String,
    pub duration_ms: i64,
    /// What the caller said (local speech recognition), when the box transcribes.
    pub transcript: Option<String>,
    pub heard: bool,
    pub created_at: i64,
}

fn from_row(row: &sqlx::any::AnyRow) -> Result<Voicemail> {
    Ok(Voicemail {
        id: row.try_get("id")?,
        box_name: row.try_get("box_name")?,
        call_id: row.try_get("call_id")?,
        caller: row.try_get("caller")?,
        duration_ms: row.try_get("duration_ms")?,
        transcript: row.try_get("transcript")?,
        heard: super::flag(row, "heard")?,
        created_at: row.try_get("created_at")?,
    })
}

const COLUMNS: &str = "id, box_name, call_id, caller, duration_ms, transcript, heard, created_at";

/// Files a new message; `path` is relative to the data directory.
pub async fn insert(
    db: &Db,
    account_id: i64,
    box_name: &str,
    call_id: Option<i64>,
    caller: &str,
    path: &str,
    duration_ms: i64,
) -> Result<i64> {
    let row = sqlx::query(
        "INSERT INTO voicemails (account_id, box_name, call_id, caller, path, duration_ms, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(account_id)
    .bind(box_name)
    .bind(call_id)
    .bind(caller)
    .bind(path)
    .bind(duration_ms)
    .bind(now_ms())
    .fetch_one(db.pool())
    .await?;
    Ok(row.try_get("id")?)
}

pub async fn set_transcript(db: &Db, account_id: i64, id: i64, text: &str) -> Result<()> {
    sqlx::query("UPDATE voicemails SET transcript = $1 WHERE id = $2 AND account_id = $3")
        .bind(text)
        .bind(id)
        .bind(account_id)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// The account's messages, newest first (one box's with `box_name`).
pub async fn list(db: &Db, account_id: i64, box_name: Option<&str>) -> Result<Vec<Voicemail>> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM voicemails WHERE account_id = $1 AND (CAST($2 AS TEXT) IS NULL OR box_name = CAST($2 AS TEXT)) \
         ORDER BY created_at DESC, id DESC LIMIT 500"
    ))
    .bind(account_id)
    .bind(box_name)
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(from_row).collect()
}

/// One message and its recording's path (relative to the data directory).
pub async fn get(db: &Db, account_id: i64, id: i64) -> Result<(Voicemail, String)> {
    let row =
        sqlx::query(&format!("SELECT {COLUMNS}, path FROM voicemails WHERE id = $1 AND account_id = $2"))
            .bind(id)
            .bind(account_id)
            .fetch_optional(db.pool())
            .await?
            .ok_or(Error::NotFound)?;
    Ok((from_row(&row)?, row.try_get("path")?))
}

pub async fn set_heard(db: &Db, account_id: i64, id: i64, heard: bool) -> Result<()> {
    let done = sqlx::query("UPDATE voicemails SET heard = $1 WHERE id = $2 AND account_id = $3")
        .bind(i64::from(heard))
        .bind(id)
        .bind(account_id)
        .execute(db.pool())
        .await?;
    if done.rows_affected() == 0 {
        return Err(Error::NotFound);
    }
    Ok(())
}

/// Deletes a message; its recording's path, for the caller to remove.
pub async fn delete(db: &Db, account_id: i64, id: i64) -> Result<String> {
    let (_, path) = get(db, account_id, id).await?;
    sqlx::query("DELETE FROM voicemails WHERE id = $1 AND account_id = $2")
        .bind(id)
        .bind(account_id)
        .execute(db.pool())
        .await?;
    Ok(path)
}
