//! Agents' statuses (available, away, on a break, offline) as they set them.

use crate::db::Db;
use crate::error::Result;
use sqlx::Row;

/// The extensions of the account's agents who set a status other than available (an agent
/// who never set one counts as available: their phone being registered decides).
pub async fn not_available(db: &Db, account: i64) -> Result<Vec<String>> {
    let rows =
        sqlx::query("SELECT extension FROM agent_presence WHERE account_id = $1 AND status <> 'available'")
            .bind(account)
            .fetch_all(db.pool())
            .await?;
    Ok(rows.iter().filter_map(|r| r.try_get::<String, _>("extension").ok()).collect())
}

/// Sets an agent's status.
pub async fn set(db: &Db, account: i64, extension: &str, status: &str, at: i64) -> Result<()> {
    let mut tx = db.pool().begin().await?;
    sqlx::query("DELETE FROM agent_presence WHERE account_id = $1 AND extension = $2")
        .bind(account)
        .bind(extension)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO agent_presence (account_id, extension, status, updated_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(account)
    .bind(extension)
    .bind(status)
    .bind(at)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Every status set in the account: (extension, status, set at), by extension.
pub async fn list(db: &Db, account: i64) -> Result<Vec<(String, String, i64)>> {
    let rows = sqlx::query(
        "SELECT extension, status, updated_at FROM agent_presence WHERE account_id = $1 ORDER BY extension",
    )
    .bind(account)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("extension")?, r.try_get("status")?, r.try_get("updated_at")?)))
        .collect()
}

/// Adds a change to an agent's timeline.
pub async fn record_change(db: &Db, account: i64, extension: &str, status: &str, at: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO agent_status_events (account_id, extension, status, at) VALUES ($1, $2, $3, $4)",
    )
    .bind(account)
    .bind(extension)
    .bind(status)
    .bind(at)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// An agent's latest status changes (newest first): (status, at).
pub async fn history(db: &Db, account: i64, extension: &str, limit: i64) -> Result<Vec<(String, i64)>> {
    let rows = sqlx::query(
        "SELECT status, at FROM agent_status_events WHERE account_id = $1 AND extension = $2 \
         ORDER BY at DESC, id DESC LIMIT $3",
    )
    .bind(account)
    .bind(extension)
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(|r| Ok((r.try_get("status")?, r.try_get("at")?))).collect()
}

/// The status an agent chose, if they ever did.
pub async fn chosen(db: &Db, account: i64, extension: &str) -> Result<Option<(String, i64)>> {
    let row =
        sqlx::query("SELECT status, updated_at FROM agent_presence WHERE account_id = $1 AND extension = $2")
            .bind(account)
            .bind(extension)
            .fetch_optional(db.pool())
            .await?;
    row.map(|r| Ok((r.try_get("status")?, r.try_get("updated_at")?))).transpose()
}
