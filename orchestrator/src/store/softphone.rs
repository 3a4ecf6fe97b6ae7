//! Browser softphones' SIP credentials: issued to a signed-in user, valid for hours. An agent's
//! browser registers as their extension; a supervisor without one gets a personal line.
//! Passwords are sealed at rest like configuration secrets (SIP digest needs them back).

use crate::db::Db;
use crate::error::Result;
use crate::model::Role;
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
    .bind(db.seal(&password))
    .bind(expires_at)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Credential { account_id: account, extension: extension.to_string(), username, password, expires_at })
}

/// The browser phone of a supervisor (or above) who works without an agent extension: it
/// registers under this name, rings for their listen-ins and takeovers, and is not dialable
/// (extensions are digits).
pub fn personal_line(user_id: i64) -> String {
    format!("user-{user_id}")
}

/// Credentials still valid at `now`, of users not disabled and still linked to that extension
/// (or, for a personal line, still supervisors or above).
pub async fn valid(db: &Db, now: i64) -> Result<Vec<Credential>> {
    let rows = sqlx::query(
        "SELECT c.account_id, c.user_id, c.extension, c.username, c.password, c.expires_at, \
         u.agent_extension, u.role \
         FROM softphone_credentials c JOIN users u ON u.id = c.user_id \
         WHERE c.expires_at > $1 AND u.disabled = 0",
    )
    .bind(now)
    .fetch_all(db.pool())
    .await?;
    let mut out = Vec::new();
    for r in &rows {
        let extension: String = r.try_get("extension")?;
        let linked: Option<String> = r.try_get("agent_extension")?;
        let role = r.try_get::<String, _>("role")?.parse::<Role>().ok();
        let personal = extension == personal_line(r.try_get("user_id")?)
            && linked.is_none()
            && role.is_some_and(|r| r >= Role::Supervisor);
        if linked.as_deref() != Some(extension.as_str()) && !personal {
            continue;
        }
        // Sealed at rest; one that cannot be opened (another secret key) is left out.
        let Ok(password) = db.unseal(&r.try_get::<String, _>("password")?) else { continue };
        out.push(Credential {
            account_id: r.try_get("account_id")?,
            extension,
            username: r.try_get("username")?,
            password,
            expires_at: r.try_get("expires_at")?,
        });
    }
    Ok(out)
}
