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
