//! The account's own settings and agent presence.

use super::error::ApiResult;
use super::extract::JsonBody;
use super::{Access, Api, AppState, Principal};
use crate::calls::activity::Doing;
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
    /// The status the agent chose (an agent who never chose one is available).
    pub status: PresenceStatus,
    pub updated_at: i64,
    /// What their calls make them do now: `on_call` or `wrap_up` (queues offer them no call
    /// meanwhile); absent when neither.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub activity: Option<String>,
    /// Since when (unix ms), and for wrap-up until when.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub activity_since: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wrap_up_until: Option<i64>,
    /// Why a queue set them unavailable (calls rang unanswered), until they choose a status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Presence {
    fn new(extension: String, status: PresenceStatus, updated_at: i64, doing: Option<Doing>) -> Presence {
        let (activity, activity_since, wrap_up_until) = match &doing {
            Some(Doing::OnCall { since, .. }) => (Some("on_call".to_string()), Some(*since), None),
            Some(Doing::WrapUp { since, until, .. }) => {
                (Some("wrap_up".to_string()), Some(*since), Some(*until))
            }
            None => (None, None, None),
        };
        Presence { extension, status, updated_at, activity, activity_since, wrap_up_until, note: None }
    }
}

fn status_of(text: &str) -> PresenceStatus {
    serde_json::from_value(serde_json::Value::String(text.to_string())).unwrap_or(PresenceStatus::Offline)
}

async fn get_my_status(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
) -> ApiResult<Json<Presence>> {
    let extension = p.own_extension()?;
    let (status, at) = crate::store::presence::chosen(&st.db, p.account_id, &extension)
        .await?
        .map(|(s, at)| (status_of(&s), at))
        .unwrap_or((PresenceStatus::Available, 0));
    let doing = st.live.agents().doing(p.account_id, &extension);
    let note = crate::calls::waiting::set_away_because(p.account_id, &extension);
    Ok(Json(Presence { note, ..Presence::new(extension, status, at, doing) }))
}

/// Ends my wrap-up now (queues offer me calls again if my status is available).
async fn ready(State(st): State<AppState>, Extension(p): Extension<Principal>) -> ApiResult<Json<Presence>> {
    let extension = p.own_extension()?;
    if !st.live.agents().ready(p.account_id, &extension) {
        return Err(Error::Conflict("you are not wrapping up a call".into()).into());
    }
    get_my_status(State(st), Extension(p)).await
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct StatusChange {
    pub status: String,
    pub at: i64,
}

#[derive(Debug, Deserialize)]
struct ExtensionPath {
    extension: String,
}

/// An agent's latest status changes, newest first: those they chose and those their calls made.
async fn status_history(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    axum::extract::Path(path): axum::extract::Path<ExtensionPath>,
) -> ApiResult<Json<Vec<StatusChange>>> {
    let rows = crate::store::presence::history(&st.db, p.account_id, &path.extension, 200).await?;
    Ok(Json(rows.into_iter().map(|(status, at)| StatusChange { status, at }).collect()))
}

async fn set_my_status(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    JsonBody(req): JsonBody<StatusRequest>,
) -> ApiResult<Json<Presence>> {
    let extension = p.own_extension()?;
    let now = set_status(&st, p.account_id, &extension, req.status).await?;
    let doing = st.live.agents().doing(p.account_id, &extension);
    Ok(Json(Presence::new(extension, req.status, now, doing)))
}

/// Sets an agent's chosen status (by themselves or a supervisor): stored, in their timeline,
/// missed-offer counts forgotten, and routing's copy of the configuration reloaded (queues
/// offer calls by it). When it was set.
pub(super) async fn set_status(
    st: &AppState,
    account: i64,
    extension: &str,
    status: PresenceStatus,
) -> crate::error::Result<i64> {
    let status = serde_json::to_value(status).map_err(|e| Error::Internal(e.to_string()))?;
    let status = status.as_str().unwrap_or("offline");
    let now = now_ms();
    crate::store::presence::set(&st.db, account, extension, status, now).await?;
    crate::store::presence::record_change(&st.db, account, extension, status, now).await?;
    crate::calls::waiting::status_chosen(account, extension);
    st.config_changed.changed().await;
    Ok(now)
}

async fn list_presence(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
) -> ApiResult<Json<Vec<Presence>>> {
    let agents = st.live.agents();
    let mut out: Vec<Presence> = crate::store::presence::list(&st.db, p.account_id)
        .await?
        .into_iter()
        .map(|(extension, status, updated_at)| {
            let doing = agents.doing(p.account_id, &extension);
            let note = crate::calls::waiting::set_away_because(p.account_id, &extension);
            Presence { note, ..Presence::new(extension, status_of(&status), updated_at, doing) }
        })
        .collect();
    // Agents busy on calls who never chose a status (available by default).
    for (extension, doing) in agents.of_account(p.account_id) {
        if !out.iter().any(|x| x.extension == extension) {
            out.push(Presence::new(extension, PresenceStatus::Available, 0, Some(doing)));
        }
    }
    out.sort_by(|a, b| a.extension.cmp(&b.extension));
    Ok(Json(out))
}

/// What a browser softphone needs to register: SIP credentials valid for some hours, issued
/// to the signed-in user (no SIP password is typed into the page).
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Softphone {
    /// The agent's extension, or a supervisor's personal line (`user-<id>`: it rings for their
    /// listen-ins and takeovers and calls only extensions).
    pub extension: String,
    pub display_name: String,
    /// The SIP user name and password to register with (digest authentication).
    pub username: String,
    pub password: String,
    /// Path of SIP over WebSocket on this server (`ws://` or `wss://` as the page was loaded).
    pub websocket_path: String,
    /// Where to connect instead, when set (a cluster's SIP entry, `serve --sip-websocket-url`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub websocket_url: Option<String>,
    pub expires_at: i64,
}

async fn my_softphone(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
) -> ApiResult<(axum::http::StatusCode, Json<Softphone>)> {
    let extension = p.phone_line()?;
    let user = p.user_id.ok_or_else(|| Error::Forbidden("a softphone is for signed-in users".into()))?;
    let c = crate::store::softphone::issue(&st.db, p.account_id, user, &extension, now_ms()).await?;
    // The SIP directory is reloaded before the page registers.
    st.config_changed.changed().await;
    Ok((
        axum::http::StatusCode::CREATED,
        Json(Softphone {
            extension,
            display_name: p.name.clone(),
            username: c.username,
            password: c.password,
            websocket_path: "/sip".into(),
            websocket_url: st.sip_websocket_url.clone(),
            expires_at: c.expires_at,
        }),
    ))
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
        presence.clone(),
        set_my_status,
    );
    let history = api.schema::<Vec<StatusChange>>();
    api.add(
        Method::GET,
        "/api/me/status",
        Access::AtLeast(Role::Agent),
        "presence",
        "My agent status, and what my calls make me do now (on a call, wrap-up)",
        None,
        presence.clone(),
        get_my_status,
    );
    api.add(
        Method::POST,
        "/api/me/ready",
        Access::AtLeast(Role::Agent),
        "presence",
        "End my wrap-up now",
        None,
        presence,
        ready,
    );
    api.add(
        Method::GET,
        "/api/presence/{extension}/history",
        Access::AtLeast(Role::Supervisor),
        "presence",
        "An agent's latest status changes, newest first",
        None,
        history,
        status_history,
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
