//! Transfers from the web app: the agent on a call (or a supervisor) sends the caller to
//! someone else and leaves (see `calls::transfer`).

use super::extract::{Id, JsonBody};
use super::{error::ApiResult, Access, Api, AppState, Principal};
use crate::calls::transfer::Refused;
use crate::error::Error;
use crate::model::{Agent, AiAgent, IvrMenu, Queue, Role, Target, VoicemailBox};
use crate::store::{config, presence};
use axum::extract::State;
use axum::http::Method;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferRequest {
    /// Where the caller goes: an agent, a queue, an IVR menu, an AI agent, a voicemail box or
    /// an outside number (the agent's class of service applies).
    pub target: Target,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Transferred {
    /// The target as it is dialled (an own number becomes where that number goes).
    pub target: Target,
}

/// An agent someone could send a caller to, and whether they can take a call now.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct AgentTarget {
    pub extension: String,
    pub name: String,
    /// `available`, `busy` (on a call or wrapping up) or `unavailable` (their own choice).
    pub status: &'static str,
}

/// Everything a caller of this account can be transferred to, by kind (names in order).
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct TransferTargets {
    pub agents: Vec<AgentTarget>,
    pub queues: Vec<String>,
    pub ivr_menus: Vec<String>,
    pub ai_agents: Vec<String>,
    pub voicemail_boxes: Vec<String>,
}

async fn targets(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
) -> ApiResult<Json<TransferTargets>> {
    let account = p.account_id;
    let away = presence::not_available(&st.db, account).await?;
    let agents = config::list::<Agent>(&st.db, account)
        .await?
        .into_iter()
        .map(|a| a.spec)
        .filter(|a| Some(&a.extension) != p.agent_extension.as_ref())
        .map(|a| {
            let status = if st.live.agents().busy(account, &a.extension) {
                "busy"
            } else if away.contains(&a.extension) {
                "unavailable"
            } else {
                "available"
            };
            AgentTarget { extension: a.extension, name: a.display_name, status }
        })
        .collect();
    Ok(Json(TransferTargets {
        agents,
        queues: config::list::<Queue>(&st.db, account).await?.into_iter().map(|q| q.spec.name).collect(),
        ivr_menus: config::list::<IvrMenu>(&st.db, account).await?.into_iter().map(|m| m.spec.name).collect(),
        ai_agents: config::list::<AiAgent>(&st.db, account).await?.into_iter().map(|a| a.spec.name).collect(),
        voicemail_boxes: config::list::<VoicemailBox>(&st.db, account)
            .await?
            .into_iter()
            .map(|b| b.spec.name)
            .collect(),
    }))
}

async fn transfer(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Id(id): Id,
    JsonBody(req): JsonBody<TransferRequest>,
) -> ApiResult<Json<Transferred>> {
    super::workspace::handled(&st, &p, id).await?;
    let key = super::recordings::live_key(&st, p.account_id, id)
        .await
        .ok_or_else(|| Error::Conflict("the call has ended".into()))?;
    // The router checks the target against the configuration it routes with.
    let transferred =
        st.live.transfers().transfer(key, req.target, &p.name, p.agent_extension.as_deref()).await;
    let target = transferred.map_err(|refused| match refused {
        Refused::Target(why) => Error::invalid("/target", why),
        Refused::Call(why) => Error::Conflict(why),
    })?;
    Ok(Json(Transferred { target }))
}

pub fn routes(api: &mut Api) {
    let (body, out) = (api.schema::<TransferRequest>(), api.schema::<Transferred>());
    let list = api.schema::<TransferTargets>();
    api.add(
        Method::GET,
        "/api/me/transfer-targets",
        Access::AtLeast(Role::Agent),
        "workspace",
        "Where I can transfer a caller: agents (with whether they are free), queues, IVR menus, AI \
         agents and voicemail boxes",
        None,
        list,
        targets,
    );
    api.add(
        Method::POST,
        "/api/calls/{id}/transfer",
        Access::AtLeast(Role::Agent),
        "calls",
        "Blind transfer: the caller of a live call goes to the target and whoever was connected \
         leaves (agents: calls they are on)",
        body,
        out,
        transfer,
    );
}
