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
    st.config_changed.changed().await;
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
    crate::store::presence::set(&st.db, p.account_id, &extension, &status, now).await?;
    // Queues offer calls by it: routing's copy of the configuration is reloaded.
    st.config_changed.changed().await;
    Ok(Json(Presence { extension, status: req.status, updated_at: now }))
}

async fn list_presence(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
) -> ApiResult<Json<Vec<Presence>>> {
    let out = crate::store::presence::list(&st.db, p.account_id)
        .await?
        .into_iter()
        .map(|(extension, status, updated_at)| Presence {
            extension,
            status: serde_json::from_value(serde_json::Value::String(status))
                .unwrap_or(PresenceStatus::Offline),
            updated_at,
        })
        .collect();
    Ok(Json(out))
}

/// What a browser softphone needs to register: SIP credentials valid for some hours, issued
/// to the signed-in agent (no SIP password is typed into the page).
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Softphone {
    pub extension: String,
    pub display_name: String,
    /// The SIP user name and password to register with (digest authentication).
    pub username: String,
    pub password: String,
    /// Path of SIP over WebSocket on this server (`ws://` or `wss://` as the page was loaded).
    pub websocket_path: String,
    pub expires_at: i64,
}

async fn my_softphone(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
) -> ApiResult<Json<Softphone>> {
    let extension = p
        .agent_extension
        .clone()
        .ok_or_else(|| Error::Forbidden("this user is not linked to an agent extension".into()))?;
    let user = p.user_id.ok_or_else(|| Error::Forbidden("a softphone is for signed-in users".into()))?;
    let c = crate::store::softphone::issue(&st.db, p.account_id, user, &extension, now_ms()).await?;
    // The SIP directory is reloaded before the page registers.
    st.config_changed.changed().await;
    Ok(Json(Softphone {
        extension,
        display_name: p.name.clone(),
        username: c.username,
        password: c.password,
        websocket_path: "/sip".into(),
        expires_at: c.expires_at,
    }))
}

pub fn routes(api: &mut Api) {
    let (account, settings) = (api.schema::<Account>(), api.schema::<AccountSettings>());
    let (status, presence, presences) =
        (api.schema::<StatusRequest>(), api.schema::<Presence>(), api.schema::<Vec<Presence>>());
    let softphone = api.schema::<Softphone>();
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
        Method::POST,
        "/api/me/softphone",
        Access::AtLeast(Role::Agent),
        "presence",
        "SIP credentials for my browser softphone (valid for 12 hours)",
        None,
        softphone,
        my_softphone,
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
