//! Accounts: one per merchant.

use crate::clock::now_ms;
use crate::db::Db;
use crate::error::{Error, Result};
use crate::model::{validate::check_name, AccountSettings, Problems};
use serde::Serialize;
use sqlx::Row;

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Account {
    pub id: i64,
    pub slug: String,
    pub settings: AccountSettings,
    pub created_at: i64,
}

fn from_row(row: &sqlx::any::AnyRow) -> Result<Account> {
    let id: i64 = row.try_get("id")?;
    let settings: String = row.try_get("settings")?;
    Ok(Account {
        id,
        slug: row.try_get("slug")?,
        settings: serde_json::from_str(&settings)
            .map_err(|e| Error::Corrupt(format!("account #{id} settings: {e}")))?,
        created_at: row.try_get("created_at")?,
    })
}

fn check(settings: &AccountSettings) -> Result<()> {
    let mut p = Problems::new();
    settings.validate(&mut p);
    if p.is_empty() {
        Ok(())
    } else {
        Err(Error::Invalid(p.into_vec()))
    }
}

pub async fn create(db: &Db, slug: &str, settings: &AccountSettings) -> Result<Account> {
    check_name(slug).map_err(|why| Error::invalid("account", why))?;
    check(settings)?;
    let now = now_ms();
    let json = serde_json::to_string(settings).map_err(|e| Error::Internal(e.to_string()))?;
    let row = sqlx::query(
        "INSERT INTO accounts (slug, name, settings, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(slug)
    .bind(&settings.name)
    .bind(&json)
    .bind(now)
    .fetch_one(db.pool())
    .await
    .map_err(|e| Error::from_db(e, &format!("account '{slug}'")))?;
    Ok(Account {
        id: row.try_get("id")?,
        slug: slug.to_string(),
        settings: settings.clone(),
        created_at: now,
    })
}

pub async fn get(db: &Db, id: i64) -> Result<Account> {
    let row = sqlx::query("SELECT id, slug, settings, created_at FROM accounts WHERE id = $1")
        .bind(id)
        .fetch_optional(db.pool())
        .await?
        .ok_or(Error::NotFound)?;
    from_row(&row)
}

pub async fn by_slug(db: &Db, slug: &str) -> Result<Option<Account>> {
    let row = sqlx::query("SELECT id, slug, settings, created_at FROM accounts WHERE slug = $1")
        .bind(slug)
        .fetch_optional(db.pool())
        .await?;
    row.as_ref().map(from_row).transpose()
}

pub async fn list(db: &Db) -> Result<Vec<Account>> {
    let rows = sqlx::query("SELECT id, slug, settings, created_at FROM accounts ORDER BY slug")
        .fetch_all(db.pool())
        .await?;
    rows.iter().map(from_row).collect()
}

pub async fn update_settings(db: &Db, id: i64, settings: &AccountSettings) -> Result<()> {
    check(settings)?;
    let json = serde_json::to_string(settings).map_err(|e| Error::Internal(e.to_string()))?;
    let done = sqlx::query("UPDATE accounts SET name = $1, settings = $2 WHERE id = $3")
        .bind(&settings.name)
        .bind(&json)
        .bind(id)
        .execute(db.pool())
        .await?;
    if done.rows_affected() == 0 {
        return Err(Error::NotFound);
    }
    Ok(())
}
