//! The account's own settings and agent presence.

use super::error::ApiResult;
use super::extract::JsonBody;
use super::{Access, Api, AppState, Principal};
use crate::clock::now_ms;
use crate::error::Error;
use crate::model::{AccountSettings, Role};
use crate::store::accounts::{self, Account};
use axum::extract::State;
use axum::http::Method;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use sqlx::Row;

async fn get_account(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
) -> ApiResult<Json<Account>> {
    Ok(Json(accounts::get(&st.db, p.account_id).await?))
}

async fn put_account(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    JsonBody(settings): JsonBody<AccountSettings>,
) -> ApiResult<Json<Account>> {
    accounts::update_settings(&st.db, p.account_id, &settings).await?;
    Ok(Json(accounts::get(&st.db, p.account_id).await?))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PresenceStatus {
    Available,
    Away,
    OnBreak,
    Offline,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusRequest {
    pub status: PresenceStatus,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Presence {
    pub extension: String,
    pub status: PresenceStatus,
    pub updated_at: i64,
}

async fn set_my_status(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    JsonBody(req): JsonBody<StatusRequest>,
) -> ApiResult<Json<Presence>> {
    let extension = p
        .agent_extension
        .clone()
        .ok_or_else(|| Error::Forbidden("this user is not linked to an agent extension".into()))?;
    let status = serde_json::to_value(req.status).map_err(|e| Error::Internal(e.to_string()))?;
    let status = status.as_str().unwrap_or("offline").to_string();
    let now = now_ms();
    let mut tx = st.db.pool().begin().await.map_err(Error::from)?;
    sqlx::query("DELETE FROM agent_presence WHERE account_id = $1 AND extension = $2")
        .bind(p.account_id)
        .bind(&extension)
        .execute(&mut *tx)
        .await
        .map_err(Error::from)?;
    sqlx::query(
        "INSERT INTO agent_presence (account_id, extension, status, updated_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(p.account_id)
    .bind(&extension)
    .bind(&status)
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(Error::from)?;
    tx.commit().await.map_err(Error::from)?;
    Ok(Json(Presence { extension, status: req.status, updated_at: now }))
}

async fn list_presence(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
) -> ApiResult<Json<Vec<Presence>>> {
    let rows = sqlx::query(
        "SELECT extension, status, updated_at FROM agent_presence WHERE account_id = $1 ORDER BY extension",
    )
    .bind(p.account_id)
    .fetch_all(st.db.pool())
    .await
    .map_err(Error::from)?;
    let mut out = Vec::new();
    for r in rows {
        let status: String = r.try_get("status").map_err(Error::from)?;
        out.push(Presence {
            extension: r.try_get("extension").map_err(Error::from)?,
            status: serde_json::from_value(serde_json::Value::String(status))
                .unwrap_or(PresenceStatus::Offline),
            updated_at: r.try_get("updated_at").map_err(Error::from)?,
        });
    }
    Ok(Json(out))
}

pub fn routes(api: &mut Api) {
    let (account, settings) = (api.schema::<Account>(), api.schema::<AccountSettings>());
    let (status, presence, presences) =
        (api.schema::<StatusRequest>(), api.schema::<Presence>(), api.schema::<Vec<Presence>>());
    api.add(
        Method::GET,
        "/api/account",
        Access::AtLeast(Role::Agent),
        "account",
        "The caller's account",
        None,
        account.clone(),
        get_account,
    );
    api.add(
        Method::PUT,
        "/api/account",
        Access::AtLeast(Role::Owner),
        "account",
        "Change account settings (name, time zone, caller ID, billing)",
        settings,
        account,
        put_account,
    );
    api.add(
        Method::PUT,
        "/api/me/status",
        Access::AtLeast(Role::Agent),
        "presence",
        "Set my agent status (available, away, on break, offline)",
        status,
        presence,
        set_my_status,
    );
    api.add(
        Method::GET,
        "/api/presence",
        Access::AtLeast(Role::Supervisor),
        "presence",
        "Status of every agent",
        None,
        presences,
        list_presence,
    );
}
