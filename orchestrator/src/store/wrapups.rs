//! After-call work: what the people who handled a call wrote about it (an outcome from the
//! account's wrap-up codes, and notes). One entry per person per call; saving again replaces
//! it, and each save leaves a `wrap_up` event in the call's timeline.

use crate::clock::now_ms;
use crate::db::Db;
use crate::error::Result;
use schemars::JsonSchema;
use serde::Serialize;
use sqlx::Row;

/// One person's after-call work on a call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct WrapUp {
    /// The user's name.
    pub author: String,
    /// Their agent extension, when they have one.
    pub extension: Option<String>,
    /// One of the account's wrap-up codes.
    pub outcome: Option<String>,
    pub notes: String,
    pub updated_at: i64,
}

/// Who writes.
pub struct Author<'a> {
    pub user_id: i64,
    pub name: &'a str,
    pub extension: Option<&'a str>,
}

/// Saves `author`'s outcome and notes for call `call_id` (which the caller checked belongs to
/// the account), replacing what they saved before.
pub async fn save(
    db: &Db,
    call_id: i64,
    author: &Author<'_>,
    outcome: Option<&str>,
    notes: &str,
) -> Result<WrapUp> {
    let at = now_ms();
    let mut tx = db.pool().begin().await?;
    sqlx::query("DELETE FROM call_wrap_ups WHERE call_id = $1 AND user_id = $2")
        .bind(call_id)
        .bind(author.user_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO call_wrap_ups (call_id, user_id, author, extension, outcome, notes, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(call_id)
    .bind(author.user_id)
    .bind(author.name)
    .bind(author.extension)
    .bind(outcome)
    .bind(notes)
    .bind(at)
    .execute(&mut *tx)
    .await?;
    let event = serde_json::json!({ "by": author.name, "extension": author.extension, "outcome": outcome });
    sqlx::query("INSERT INTO call_events (call_id, at, kind, data) VALUES ($1, $2, 'wrap_up', $3)")
        .bind(call_id)
        .bind(at)
        .bind(event.to_string())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(WrapUp {
        author: author.name.to_string(),
        extension: author.extension.map(str::to_string),
        outcome: outcome.map(str::to_string),
        notes: notes.to_string(),
        updated_at: at,
    })
}

/// Everyone's after-call work on a call, oldest first.
pub async fn of_call(db: &Db, call_id: i64) -> Result<Vec<WrapUp>> {
    let rows = sqlx::query(
        "SELECT author, extension, outcome, notes, updated_at FROM call_wrap_ups \
         WHERE call_id = $1 ORDER BY updated_at, id",
    )
    .bind(call_id)
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(from_row).collect()
}

/// What `user_id` saved on a call, if anything.
pub async fn mine(db: &Db, call_id: i64, user_id: i64) -> Result<Option<WrapUp>> {
    let row = sqlx::query(
        "SELECT author, extension, outcome, notes, updated_at FROM call_wrap_ups \
         WHERE call_id = $1 AND user_id = $2",
    )
    .bind(call_id)
    .bind(user_id)
    .fetch_optional(db.pool())
    .await?;
    row.as_ref().map(from_row).transpose()
}

fn from_row(r: &sqlx::any::AnyRow) -> Result<WrapUp> {
    Ok(WrapUp {
        author: r.try_get("author")?,
        extension: r.try_get("extension")?,
        outcome: r.try_get("outcome")?,
        notes: r.try_get("notes")?,
        updated_at: r.try_get("updated_at")?,
    })
}
