//! `POST /api/calls/{id}/replay`: a recorded AI call said again to an agent as it is configured
//! now (see `agent::replay`), for the AI agent's admin page: what it would say and do
//! differently, turn by turn, before a change is trusted. Nothing is written to any record.

use super::error::{ApiError, ApiResult};
use super::extract::{Id, JsonBody};
use super::{Access, Api, AppState, Principal};
use crate::agent::replay::{self, Replay, ReplayError};
use crate::model::Role;
use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::{Extension, Json};
use serde::Deserialize;

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayRequest {
    /// The AI agent to replay the call with (default: the one that took it).
    #[serde(default)]
    pub agent: Option<String>,
}

async fn replay_call(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Id(id): Id,
    JsonBody(req): JsonBody<ReplayRequest>,
) -> ApiResult<Json<Replay>> {
    let agent = req.agent.as_deref().map(str::trim).filter(|a| !a.is_empty());
    let replayed = replay::replay(&st.db, p.account_id, id, agent).await.map_err(|e| match e {
        ReplayError::Store(e) => ApiError::from(e),
        e @ (ReplayError::NoAgent(_) | ReplayError::NothingSaid(_)) => {
            crate::Error::invalid("agent", e.to_string()).into()
        }
        ReplayError::Setup(why) if why.starts_with("no AI agent") => {
            crate::Error::invalid("agent", why).into()
        }
        e => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    })?;
    Ok(Json(replayed))
}

pub fn routes(api: &mut Api) {
    let (body, out) = (api.schema::<ReplayRequest>(), api.schema::<Replay>());
    api.add(
        Method::POST,
        "/api/calls/{id}/replay",
        Access::AtLeast(Role::Admin),
        "ai_agents",
        "Replays a recorded AI call with an agent's current configuration: per caller turn, what \
         it said and did then and would say and do now (merchant webhooks are not called)",
        body,
        out,
        replay_call,
    );
}
