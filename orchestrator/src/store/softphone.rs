//! Browser softphones' SIP credentials: issued to a signed-in agent, valid for hours.

use crate::db::Db;
use crate::error::Result;
use sqlx::Row;

/// How long a softphone credential registers.
pub const VALID_MS: i64 = 12 * 3600 * 1000;

/// A credential as the SIP directory needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    pub account_id: i64,
    pub extension: String,
    pub username: String,
    pub password: String,
    pub expires_at: i64,
}

/// Issues a credential for a user's extension (and forgets expired ones).
pub async fn issue(db: &Db, account: i64, user: i64, extension: &str, now: i64) -> Result<Credential> {
    use rand::RngCore;
    let mut bytes = [0u8; 20];
    rand::thread_rng().fill_bytes(&mut bytes);
    let secret = hex::encode(bytes);
    let username = format!("web{extension}-{}", secret.get(..10).unwrap_or("0"));
    let password = secret.get(10..).unwrap_or_default().to_string();
    let expires_at = now + VALID_MS;
    let mut tx = db.pool().begin().await?;
    sqlx::query("DELETE FROM softphone_credentials WHERE expires_at < $1")
        .bind(now)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO softphone_credentials (account_id, user_id, extension, username, password, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(account)
    .bind(user)
    .bind(extension)
    .bind(&username)
    .bind(&password)
    .bind(expires_at)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Credential { account_id: account, extension: extension.to_string(), username, password, expires_at })
}

/// Credentials still valid at `now`, of users still linked to that extension and not disabled.
pub async fn valid(db: &Db, now: i64) -> Result<Vec<Credential>> {
    let rows = sqlx::query(
        "SELECT c.account_id, c.extension, c.username, c.password, c.expires_at \
         FROM softphone_credentials c JOIN users u ON u.id = c.user_id \
         WHERE c.expires_at > $1 AND u.disabled = 0 AND u.agent_extension = c.extension",
    )
    .bind(now)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Credential {
                account_id: r.try_get("account_id")?,
                extension: r.try_get("extension")?,
                username: r.try_get("username")?,
                password: r.try_get("password")?,
                expires_at: r.try_get("expires_at")?,
            })
        })
        .collect()
}
