//! Transfers from the web app: the agent on a call (or a supervisor) sends the caller to
//! someone else and leaves (see `calls::transfer`).

use super::extract::{Id, JsonBody};
use super::{error::ApiResult, Access, Api, AppState, Principal};
use crate::error::Error;
use crate::model::{Role, Target};
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
    let snapshot = crate::calls::snapshot::Snapshot::load(&st.db).await?;
    let target =
        crate::calls::transfer::check(&snapshot, p.account_id, p.agent_extension.as_deref(), req.target)
            .map_err(|why| Error::invalid("/target", why))?;
    let transfers = st.live.transfers();
    transfers
        .transfer(key, target.clone(), &p.name, p.agent_extension.as_deref())
        .await
        .map_err(Error::Conflict)?;
    Ok(Json(Transferred { target }))
}

pub fn routes(api: &mut Api) {
    let (body, out) = (api.schema::<TransferRequest>(), api.schema::<Transferred>());
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
