//! Users, login sessions and API tokens. Passwords are argon2 hashes; session and API tokens
//! are random and stored only as SHA-256 digests.

use crate::clock::now_ms;
use crate::db::Db;
use crate::error::{Error, Result};
use crate::model::{validate::is_email, validate::is_extension, Problems, Role};
use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::Row;

/// How long a login session lasts.
pub const SESSION_TTL_MS: i64 = 12 * 60 * 60 * 1000;

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct User {
    pub id: i64,
    pub account_id: i64,
    pub email: String,
    pub name: String,
    pub role: Role,
    /// The agent extension this user works as (agents' own calls and status).
    pub agent_extension: Option<String>,
    pub disabled: bool,
    pub created_at: i64,
}

/// Fields to create a user, or to replace one (a missing password keeps the old one).
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserInput {
    pub email: String,
    pub name: String,
    pub role: Role,
    /// At least 10 characters. Required when creating.
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub agent_extension: Option<String>,
    #[serde(default)]
    pub disabled: bool,
}

impl UserInput {
    pub(crate) fn validate(&self, creating: bool) -> Result<()> {
        let mut p = Problems::new();
        if !is_email(&self.email) {
            p.push("email", "must be an e-mail address");
        }
        p.text("name", &self.name, true, 100);
        match &self.password {
            None if creating => p.push("password", "is required"),
            Some(pw) if pw.chars().count() < 10 || pw.len() > 256 => {
                p.push("password", "must be 10 to 256 characters")
            }
            _ => {}
        }
        if let Some(x) = &self.agent_extension {
            if !is_extension(x) {
                p.push("agent_extension", "must be 2 to 6 digits, not starting with 0");
            }
        }
        if p.is_empty() {
            Ok(())
        } else {
            Err(Error::Invalid(p.into_vec()))
        }
    }
}

const USER_COLS: &str = "id, account_id, email, name, role, agent_extension, disabled, created_at";

fn user_from_row(row: &sqlx::any::AnyRow) -> Result<User> {
    let role: String = row.try_get("role")?;
    Ok(User {
        id: row.try_get("id")?,
        account_id: row.try_get("account_id")?,
        email: row.try_get("email")?,
        name: row.try_get("name")?,
        role: role.parse().map_err(Error::Corrupt)?,
        agent_extension: row.try_get("agent_extension")?,
        disabled: super::flag(row, "disabled")?,
        created_at: row.try_get("created_at")?,
    })
}

/// Hashes off the async runtime: argon2 is deliberately slow.
pub async fn hash_password(password: &str) -> Result<String> {
    let password = password.to_string();
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| Error::Internal(format!("password hashing failed: {e}")))
    })
    .await
    .map_err(|e| Error::Internal(e.to_string()))?
}

async fn verify_password(password: &str, hash: &str) -> bool {
    let (password, hash) = (password.to_string(), hash.to_string());
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash)
            .map(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
}

pub async fn create(db: &Db, account_id: i64, input: &UserInput) -> Result<User> {
    input.validate(true)?;
    let hash = match &input.password {
        Some(pw) => Some(hash_password(pw).await?),
        None => None,
    };
    let now = now_ms();
    let row = sqlx::query(
        "INSERT INTO users (account_id, email, name, role, password_hash, agent_extension, disabled, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(account_id)
    .bind(input.email.to_lowercase())
    .bind(&input.name)
    .bind(input.role.as_str())
    .bind(hash)
    .bind(&input.agent_extension)
    .bind(input.disabled as i64)
    .bind(now)
    .fetch_one(db.pool())
    .await
    .map_err(|e| Error::from_db(e, &format!("a user with e-mail '{}'", input.email)))?;
    get(db, account_id, row.try_get("id")?).await
}

pub async fn list(db: &Db, account_id: i64) -> Result<Vec<User>> {
    let rows = sqlx::query(&format!("SELECT {USER_COLS} FROM users WHERE account_id = $1 ORDER BY email"))
        .bind(account_id)
        .fetch_all(db.pool())
        .await?;
    rows.iter().map(user_from_row).collect()
}

pub async fn get(db: &Db, account_id: i64, id: i64) -> Result<User> {
    let row = sqlx::query(&format!("SELECT {USER_COLS} FROM users WHERE account_id = $1 AND id = $2"))
        .bind(account_id)
        .bind(id)
        .fetch_optional(db.pool())
        .await?
        .ok_or(Error::NotFound)?;
    user_from_row(&row)
}

pub async fn update(db: &Db, account_id: i64, id: i64, input: &UserInput) -> Result<User> {
    input.validate(false)?;
    get(db, account_id, id).await?;
    sqlx::query(
        "UPDATE users SET email = $1, name = $2, role = $3, agent_extension = $4, disabled = $5 \
         WHERE id = $6 AND account_id = $7",
    )
    .bind(input.email.to_lowercase())
    .bind(&input.name)
    .bind(input.role.as_str())
    .bind(&input.agent_extension)
    .bind(input.disabled as i64)
    .bind(id)
    .bind(account_id)
    .execute(db.pool())
    .await
    .map_err(|e| Error::from_db(e, &format!("a user with e-mail '{}'", input.email)))?;
    if let Some(pw) = &input.password {
        let hash = hash_password(pw).await?;
        sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(hash)
            .bind(id)
            .execute(db.pool())
            .await?;
        // A new password ends every existing session of the user.
        sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(id).execute(db.pool()).await?;
    }
    if input.disabled {
        sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(id).execute(db.pool()).await?;
    }
    get(db, account_id, id).await
}

pub async fn delete(db: &Db, account_id: i64, id: i64) -> Result<()> {
    super::delete_owned(db, super::Owned::Users, account_id, id).await
}

/// The user with this e-mail and password, if both match and the user is enabled.
pub async fn check_login(db: &Db, email: &str, password: &str) -> Result<Option<User>> {
    let row = sqlx::query(&format!("SELECT {USER_COLS}, password_hash FROM users WHERE email = $1"))
        .bind(email.to_lowercase())
        .fetch_optional(db.pool())
        .await?;
    // Verify against a dummy hash when the user is unknown so timing does not reveal e-mails.
    const DUMMY: &str =
        "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0aDGJw5eGDWmQwRbBo5S4lEZCNZ1UYk5mX5kTQzKf1A";
    let Some(row) = row else {
        verify_password(password, DUMMY).await;
        return Ok(None);
    };
    let hash: Option<String> = row.try_get("password_hash")?;
    let user = user_from_row(&row)?;
    let ok = verify_password(password, hash.as_deref().unwrap_or(DUMMY)).await;
    Ok((ok && hash.is_some() && !user.disabled).then_some(user))
}

fn random_token(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("{prefix}{}", hex::encode(bytes))
}

fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Starts a login session; returns the token for the cookie.
pub async fn create_session(db: &Db, user_id: i64) -> Result<String> {
    let token = random_token("");
    let now = now_ms();
    sqlx::query("INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
        .bind(digest(&token))
        .bind(user_id)
        .bind(now)
        .bind(now + SESSION_TTL_MS)
        .execute(db.pool())
        .await?;
    Ok(token)
}

pub async fn session_user(db: &Db, token: &str) -> Result<Option<User>> {
    let row = sqlx::query(&format!(
        "SELECT {} FROM sessions s JOIN users u ON u.id = s.user_id \
         WHERE s.token_hash = $1 AND s.expires_at > $2 AND u.disabled = 0",
        USER_COLS.split(", ").map(|c| format!("u.{c}")).collect::<Vec<_>>().join(", ")
    ))
    .bind(digest(token))
    .bind(now_ms())
    .fetch_optional(db.pool())
    .await?;
    row.as_ref().map(user_from_row).transpose()
}

pub async fn end_session(db: &Db, token: &str) -> Result<()> {
    sqlx::query("DELETE FROM sessions WHERE token_hash = $1").bind(digest(token)).execute(db.pool()).await?;
    Ok(())
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ApiToken {
    pub id: i64,
    pub name: String,
    pub role: Role,
    pub created_by: Option<i64>,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenInput {
    pub name: String,
    pub role: Role,
}

/// A token as created: the secret is shown this once.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct NewToken {
    #[serde(flatten)]
    pub info: ApiToken,
    pub token: String,
}

fn token_from_row(row: &sqlx::any::AnyRow) -> Result<ApiToken> {
    let role: String = row.try_get("role")?;
    Ok(ApiToken {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        role: role.parse().map_err(Error::Corrupt)?,
        created_by: row.try_get("created_by")?,
        created_at: row.try_get("created_at")?,
        last_used_at: row.try_get("last_used_at")?,
    })
}

pub async fn create_token(
    db: &Db,
    account_id: i64,
    input: &TokenInput,
    created_by: Option<i64>,
) -> Result<NewToken> {
    let mut p = Problems::new();
    p.text("name", &input.name, true, 100);
    if !p.is_empty() {
        return Err(Error::Invalid(p.into_vec()));
    }
    let token = random_token("sbt_");
    let now = now_ms();
    let row = sqlx::query(
        "INSERT INTO api_tokens (account_id, name, role, token_hash, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(account_id)
    .bind(&input.name)
    .bind(input.role.as_str())
    .bind(digest(&token))
    .bind(created_by)
    .bind(now)
    .fetch_one(db.pool())
    .await?;
    Ok(NewToken {
        info: ApiToken {
            id: row.try_get("id")?,
            name: input.name.clone(),
            role: input.role,
            created_by,
            created_at: now,
            last_used_at: None,
        },
        token,
    })
}

pub async fn list_tokens(db: &Db, account_id: i64) -> Result<Vec<ApiToken>> {
    let rows = sqlx::query(
        "SELECT id, name, role, created_by, created_at, last_used_at FROM api_tokens \
         WHERE account_id = $1 AND revoked = 0 ORDER BY id",
    )
    .bind(account_id)
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(token_from_row).collect()
}

pub async fn revoke_token(db: &Db, account_id: i64, id: i64) -> Result<()> {
    let done =
        sqlx::query("UPDATE api_tokens SET revoked = 1 WHERE id = $1 AND account_id = $2 AND revoked = 0")
            .bind(id)
            .bind(account_id)
            .execute(db.pool())
            .await?;
    if done.rows_affected() == 0 {
        return Err(Error::NotFound);
    }
    Ok(())
}

/// The account and role of a live API token.
pub async fn token_principal(db: &Db, token: &str) -> Result<Option<(i64, i64, Role, String)>> {
    let row = sqlx::query(
        "SELECT id, account_id, role, name FROM api_tokens WHERE token_hash = $1 AND revoked = 0",
    )
    .bind(digest(token))
    .fetch_optional(db.pool())
    .await?;
    let Some(row) = row else { return Ok(None) };
    let id: i64 = row.try_get("id")?;
    let role: String = row.try_get("role")?;
    sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
        .bind(now_ms())
        .bind(id)
        .execute(db.pool())
        .await?;
    Ok(Some((id, row.try_get("account_id")?, role.parse().map_err(Error::Corrupt)?, row.try_get("name")?)))
}
