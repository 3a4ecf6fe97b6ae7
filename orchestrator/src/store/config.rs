//! Storage of configuration entities: validated JSON documents keyed per account.

use crate::clock::now_ms;
use crate::db::Db;
use crate::error::{Error, Result};
use crate::model::{self, Catalog, ConfigKind, Problems, Reference};
use serde::Serialize;
use sqlx::Row;

/// A stored entity with its id and timestamps.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Stored<K> {
    pub id: i64,
    #[serde(flatten)]
    pub spec: K,
    pub created_at: i64,
    pub updated_at: i64,
}

fn parse<K: ConfigKind>(id: i64, spec: &str) -> Result<K> {
    serde_json::from_str(spec).map_err(|e| Error::Corrupt(format!("{} #{id}: {e}", K::KIND)))
}

fn row_to_stored<K: ConfigKind>(db: &Db, row: &sqlx::any::AnyRow) -> Result<Stored<K>> {
    let id: i64 = row.try_get("id")?;
    let spec: String = row.try_get("spec")?;
    Ok(Stored {
        id,
        spec: db.open_spec(parse(id, &spec)?)?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

pub async fn list<K: ConfigKind>(db: &Db, account_id: i64) -> Result<Vec<Stored<K>>> {
    let rows = sqlx::query(
        "SELECT id, spec, created_at, updated_at FROM config_entities \
         WHERE account_id = $1 AND kind = $2 ORDER BY key",
    )
    .bind(account_id)
    .bind(K::KIND)
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(|r| row_to_stored(db, r)).collect()
}

pub async fn get<K: ConfigKind>(db: &Db, account_id: i64, id: i64) -> Result<Stored<K>> {
    let row = sqlx::query(
        "SELECT id, spec, created_at, updated_at FROM config_entities \
         WHERE account_id = $1 AND kind = $2 AND id = $3",
    )
    .bind(account_id)
    .bind(K::KIND)
    .bind(id)
    .fetch_optional(db.pool())
    .await?
    .ok_or(Error::NotFound)?;
    row_to_stored(db, &row)
}

pub async fn get_by_key<K: ConfigKind>(db: &Db, account_id: i64, key: &str) -> Result<Option<Stored<K>>> {
    let row = sqlx::query(
        "SELECT id, spec, created_at, updated_at FROM config_entities \
         WHERE account_id = $1 AND kind = $2 AND key = $3",
    )
    .bind(account_id)
    .bind(K::KIND)
    .bind(key)
    .fetch_optional(db.pool())
    .await?;
    row.as_ref().map(|r| row_to_stored(db, r)).transpose()
}

/// Finds which account owns a DID, for inbound routing.
pub async fn account_of_number(db: &Db, number: &str) -> Result<Option<i64>> {
    let row = sqlx::query("SELECT account_id FROM config_entities WHERE kind = 'phone_numbers' AND key = $1")
        .bind(number)
        .fetch_optional(db.pool())
        .await?;
    Ok(row.map(|r| r.try_get("account_id")).transpose()?)
}

/// Every (kind, key) in an account.
pub async fn catalog(db: &Db, account_id: i64) -> Result<Catalog> {
    let rows = sqlx::query("SELECT kind, key FROM config_entities WHERE account_id = $1")
        .bind(account_id)
        .fetch_all(db.pool())
        .await?;
    let mut c = Catalog::default();
    for row in rows {
        let kind: String = row.try_get("kind")?;
        if let Some(k) = static_kind(&kind) {
            c.insert(k, row.try_get::<String, _>("key")?);
        }
    }
    Ok(c)
}

fn static_kind(kind: &str) -> Option<&'static str> {
    let mut found = None;
    macro_rules! m {
        ($t:ty) => {
            if kind == <$t as ConfigKind>::KIND {
                found = Some(<$t as ConfigKind>::KIND);
            }
        };
    }
    crate::for_each_config_kind!(m);
    found
}

/// The references held by a stored entity of any kind.
pub fn references_of(kind: &str, spec: &str) -> Vec<Reference> {
    let mut refs = Vec::new();
    macro_rules! m {
        ($t:ty) => {
            if kind == <$t as ConfigKind>::KIND {
                if let Ok(e) = serde_json::from_str::<$t>(spec) {
                    refs = e.references();
                }
            }
        };
    }
    crate::for_each_config_kind!(m);
    refs
}

/// Describes every entity in the account that refers to (`kind`, `key`).
pub async fn referrers(db: &Db, account_id: i64, kind: &str, key: &str) -> Result<Vec<String>> {
    let rows =
        sqlx::query("SELECT kind, key, spec FROM config_entities WHERE account_id = $1 ORDER BY kind, key")
            .bind(account_id)
            .fetch_all(db.pool())
            .await?;
    let mut out = Vec::new();
    for row in rows {
        let (rk, rkey, spec): (String, String, String) =
            (row.try_get("kind")?, row.try_get("key")?, row.try_get("spec")?);
        for r in references_of(&rk, &spec) {
            if r.kind == kind && r.key == key && !(rk == kind && rkey == key) {
                out.push(format!("{} '{}' ({})", model::singular(&rk), rkey, r.path));
            }
        }
    }
    Ok(out)
}

/// Local validation plus reference checks against what the account holds.
pub async fn validate<K: ConfigKind>(db: &Db, account_id: i64, spec: &K) -> Result<()> {
    let mut p = Problems::new();
    spec.validate(&mut p);
    let mut catalog = catalog(db, account_id).await?;
    // An entity may refer to itself (an IVR sub-menu option leading back to its own menu).
    catalog.insert(K::KIND, spec.key().to_string());
    catalog.check(spec, "", &mut p);
    if p.is_empty() {
        Ok(())
    } else {
        Err(Error::Invalid(p.into_vec()))
    }
}

fn conflict<K: ConfigKind>(spec: &K) -> String {
    format!("a {} with {} '{}' already exists", K::SINGULAR, K::KEY_FIELD, spec.key())
}

pub async fn create<K: ConfigKind>(db: &Db, account_id: i64, spec: K) -> Result<Stored<K>> {
    validate(db, account_id, &spec).await?;
    let now = now_ms();
    let json = db.seal_spec(&spec)?;
    let row = sqlx::query(
        "INSERT INTO config_entities (account_id, kind, key, spec, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
    )
    .bind(account_id)
    .bind(K::KIND)
    .bind(spec.key())
    .bind(&json)
    .bind(now)
    .fetch_one(db.pool())
    .await
    .map_err(|e| match Error::from_db(e, K::SINGULAR) {
        Error::Conflict(_) => Error::Conflict(conflict(&spec)),
        other => other,
    })?;
    Ok(Stored { id: row.try_get("id")?, spec, created_at: now, updated_at: now })
}

/// Replaces an entity. Secrets left out (`None`) keep their stored values.
pub async fn update<K: ConfigKind>(db: &Db, account_id: i64, id: i64, mut spec: K) -> Result<Stored<K>> {
    let old = get::<K>(db, account_id, id).await?;
    spec.keep_secrets_from(&old.spec);
    if spec.key() != old.spec.key() {
        let users = referrers(db, account_id, K::KIND, old.spec.key()).await?;
        if !users.is_empty() {
            return Err(Error::Conflict(format!(
                "cannot rename {} '{}': still used by {}",
                K::SINGULAR,
                old.spec.key(),
                users.join(", ")
            )));
        }
    }
    validate(db, account_id, &spec).await?;
    let now = now_ms();
    let json = db.seal_spec(&spec)?;
    sqlx::query(
        "UPDATE config_entities SET key = $1, spec = $2, updated_at = $3 WHERE id = $4 AND account_id = $5",
    )
    .bind(spec.key())
    .bind(&json)
    .bind(now)
    .bind(id)
    .bind(account_id)
    .execute(db.pool())
    .await
    .map_err(|e| match Error::from_db(e, K::SINGULAR) {
        Error::Conflict(_) => Error::Conflict(conflict(&spec)),
        other => other,
    })?;
    Ok(Stored { id, spec, created_at: old.created_at, updated_at: now })
}

pub async fn delete<K: ConfigKind>(db: &Db, account_id: i64, id: i64) -> Result<()> {
    let old = get::<K>(db, account_id, id).await?;
    let users = referrers(db, account_id, K::KIND, old.spec.key()).await?;
    if !users.is_empty() {
        return Err(Error::Conflict(format!(
            "{} '{}' is still used by {}",
            K::SINGULAR,
            old.spec.key(),
            users.join(", ")
        )));
    }
    sqlx::query("DELETE FROM config_entities WHERE id = $1 AND account_id = $2")
        .bind(id)
        .bind(account_id)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Every account's SIP trunks as (account slug, trunk name, host, port), read from the stored
/// specs without opening their secrets (for `switchboard doctor`).
pub async fn trunk_hosts(db: &Db) -> Result<Vec<(String, String, String, u16)>> {
    let rows = sqlx::query(
        "SELECT a.slug, e.spec FROM config_entities e JOIN accounts a ON a.id = e.account_id \
         WHERE e.kind = 'trunks' ORDER BY a.slug, e.key",
    )
    .fetch_all(db.pool())
    .await?;
    let mut out = Vec::new();
    for r in rows {
        let slug: String = r.try_get("slug")?;
        let spec: serde_json::Value =
            serde_json::from_str(&r.try_get::<String, _>("spec")?).unwrap_or_default();
        let text = |k: &str| spec[k].as_str().unwrap_or_default().to_string();
        let port = spec["port"].as_u64().and_then(|p| u16::try_from(p).ok()).unwrap_or(5060);
        out.push((slug, text("name"), text("host"), port));
    }
    Ok(out)
}

/// The account and agent a desk phone (`mac`, normalised) belongs to, and the phone, with their
/// secrets opened (for provisioning; only the matching agent's are opened).
pub async fn desk_phone_owner(db: &Db, mac: &str) -> Result<Option<(i64, model::Agent, model::DeskPhone)>> {
    use crate::model::deskphone::normalize_mac;
    let rows = sqlx::query("SELECT account_id, spec FROM config_entities WHERE kind = 'agents'")
        .fetch_all(db.pool())
        .await?;
    for r in rows {
        let spec: String = r.try_get("spec")?;
        let Ok(agent) = serde_json::from_str::<model::Agent>(&spec) else { continue };
        if !agent.desk_phones.iter().any(|d| normalize_mac(&d.mac).as_deref() == Some(mac)) {
            continue;
        }
        let agent = db.open_spec(agent)?;
        let phone = agent.desk_phones.iter().find(|d| normalize_mac(&d.mac).as_deref() == Some(mac)).cloned();
        if let Some(phone) = phone {
            return Ok(Some((r.try_get("account_id")?, agent, phone)));
        }
    }
    Ok(None)
}
