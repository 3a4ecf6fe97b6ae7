//! Class-of-service overrides: an agent asks for a call their class of service refused to be
//! let through once (with a reason); supervisors of the account see the requests in their
//! browser and approve or deny. Each step goes into the refused call's timeline; the call the
//! approval lets through records it too (the planner, `class_of_service_override`).

use super::error::ApiResult;
use super::extract::{Id, JsonBody};
use super::{Access, Api, AppState, Principal};
use crate::calls::overrides::{Decided, NewRequest, OverrideRequest};
use crate::clock::now_ms;
use crate::error::Error;
use crate::model::Role;
use crate::store::calls;
use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::json;

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestBody {
    /// What was dialled: a number or an extension.
    pub destination: String,
    /// Why the call is needed (for the supervisor, and the record).
    pub reason: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionBody {
    pub approve: bool,
}

async fn request(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    JsonBody(body): JsonBody<RequestBody>,
) -> ApiResult<(StatusCode, Json<OverrideRequest>)> {
    let extension = p.own_extension()?;
    let reason = body.reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(Error::invalid("reason", "say why the call is needed (1 to 500 characters)").into());
    }
    let destination = body.destination.trim();
    if destination.is_empty() || destination.len() > 32 {
        return Err(Error::invalid("destination", "must be a number or an extension").into());
    }
    let snap = crate::calls::snapshot::Snapshot::load(&st.db).await?;
    let Some(rule) =
        crate::calls::planner::refusal(&snap, p.account_id, &extension, destination, crate::clock::now())
    else {
        return Err(Error::Conflict("your class of service allows this call: just place it".into()).into());
    };
    // The destination as the planner will see it when the call is placed again.
    let home = snap.account(p.account_id).and_then(|a| a.settings.as_ref()?.caller_id.clone());
    let dialled = match snap.agent(p.account_id, destination) {
        Some(_) => destination.to_string(),
        None => crate::calls::planner::dialled_number(destination, home.as_deref().unwrap_or("+1"))
            .unwrap_or_else(|| destination.to_string()),
    };
    let refused_call_id = calls::latest_refused(&st.db, p.account_id, &extension, &dialled).await?;
    let new = NewRequest {
        account: p.account_id,
        extension,
        requested_by: p.name.clone(),
        destination: dialled,
        rule,
        reason: reason.to_string(),
        refused_call_id,
    };
    let request = st.live.overrides().request(new, now_ms());
    if let Some(call) = request.refused_call_id {
        let data = json!({ "request": request.id, "by": request.requested_by, "reason": request.reason, "rule": request.rule });
        calls::add_event(&st.db, call, "override_requested", &data).await?;
    }
    tracing::info!(account = p.account_id, request = request.id, by = %request.requested_by, "class of service override requested");
    Ok((StatusCode::CREATED, Json(request)))
}

async fn list(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
) -> ApiResult<Json<Vec<OverrideRequest>>> {
    let mine = p.agent_scope()?.map(str::to_string);
    Ok(Json(st.live.overrides().list(p.account_id, mine.as_deref(), now_ms())))
}

async fn decide(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Id(id): Id,
    JsonBody(body): JsonBody<DecisionBody>,
) -> ApiResult<Json<OverrideRequest>> {
    let decided = st.live.overrides().decide(p.account_id, id, body.approve, &p.name, now_ms());
    let request = match decided {
        Ok(r) => r,
        Err(Decided::NotFound) => return Err(Error::NotFound.into()),
        Err(Decided::Already(state)) => {
            return Err(Error::Conflict(format!("the request is already {state}")).into())
        }
    };
    if let Some(call) = request.refused_call_id {
        let kind = if body.approve { "override_approved" } else { "override_denied" };
        calls::add_event(&st.db, call, kind, &json!({ "request": request.id, "by": p.name })).await?;
    }
    tracing::info!(account = p.account_id, request = id, approve = body.approve, by = %p.name, "class of service override decided");
    Ok(Json(request))
}

pub fn routes(api: &mut Api) {
    let (body, one, many) =
        (api.schema::<RequestBody>(), api.schema::<OverrideRequest>(), api.schema::<Vec<OverrideRequest>>());
    let decision = api.schema::<DecisionBody>();
    api.add(
        Method::POST,
        "/api/overrides",
        Access::AtLeast(Role::Agent),
        "overrides",
        "Ask a supervisor to let one call your class of service refuses through, with a reason",
        body,
        one.clone(),
        request,
    );
    api.add(
        Method::GET,
        "/api/overrides",
        Access::AtLeast(Role::Agent),
        "overrides",
        "Override requests, newest first (agents: their own; supervisors: the account's)",
        None,
        many,
        list,
    );
    api.add(
        Method::POST,
        "/api/overrides/{id}/decision",
        Access::AtLeast(Role::Supervisor),
        "overrides",
        "Approve (once) or deny an override request",
        decision,
        one,
        decide,
    );
}
