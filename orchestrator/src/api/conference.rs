//! Warm transfers and conferences from the web app (see `calls::conference`): the agent joins
//! their two calls (completing a transfer, or merging them into a conference) and manages the
//! conference's parties.

use super::extract::{Id, JsonBody};
use super::{error::ApiResult, Access, Api, AppState, Principal};
use crate::calls::conference::{Ask, PartyAction, View};
use crate::error::Error;
use crate::model::Role;
use crate::store::calls::RecordKey;
use axum::extract::State;
use axum::http::Method;
use axum::{Extension, Json};
use serde::Deserialize;

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteRequest {
    /// The call to the person consulted (the agent's other line).
    pub consult: i64,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeRequest {
    /// The call whose other person joins this call's conference (the agent's other line).
    pub add: i64,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PartyChange {
    /// Heard by nobody, still hears everyone.
    pub muted: Option<bool>,
    /// Hears hold music, heard by nobody.
    pub held: Option<bool>,
}

/// A live call of mine (or, for supervisors, of the account) by its record id.
pub(super) async fn live(st: &AppState, p: &Principal, id: i64) -> Result<RecordKey, Error> {
    super::workspace::handled(st, p, id).await?;
    super::recordings::live_key(st, p.account_id, id)
        .await
        .ok_or_else(|| Error::Conflict("the call has ended".into()))
}

async fn ask(st: &AppState, p: &Principal, call: RecordKey, ask: Ask) -> Result<View, Error> {
    st.live.conferences().ask(call, ask, &p.name, p.agent_extension.as_deref()).await.map_err(Error::Conflict)
}

async fn complete(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Id(id): Id,
    JsonBody(req): JsonBody<CompleteRequest>,
) -> ApiResult<Json<View>> {
    let call = live(&st, &p, id).await?;
    let consult = live(&st, &p, req.consult).await.map_err(|e| match e {
        Error::NotFound => Error::invalid("/consult", "no such call of yours"),
        e => e,
    })?;
    Ok(Json(ask(&st, &p, call, Ask::Complete { consult }).await?))
}

async fn merge(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Id(id): Id,
    JsonBody(req): JsonBody<MergeRequest>,
) -> ApiResult<Json<View>> {
    let call = live(&st, &p, id).await?;
    let consult = live(&st, &p, req.add).await.map_err(|e| match e {
        Error::NotFound => Error::invalid("/add", "no such call of yours"),
        e => e,
    })?;
    Ok(Json(ask(&st, &p, call, Ask::Merge { consult }).await?))
}

async fn show(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Id(id): Id,
) -> ApiResult<Json<View>> {
    let call = live(&st, &p, id).await?;
    Ok(Json(st.live.conferences().view(call).ok_or(Error::NotFound)?))
}

/// `{id}` and `{party}` from the path; anything not numeric is simply not found.
fn ids(raw: &(String, String)) -> Result<(i64, u32), Error> {
    match (raw.0.parse(), raw.1.parse()) {
        (Ok(id), Ok(party)) => Ok((id, party)),
        _ => Err(Error::NotFound),
    }
}

async fn change(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    axum::extract::Path(raw): axum::extract::Path<(String, String)>,
    JsonBody(req): JsonBody<PartyChange>,
) -> ApiResult<Json<View>> {
    let (id, party) = ids(&raw)?;
    let call = live(&st, &p, id).await?;
    let mut view = st.live.conferences().view(call).ok_or(Error::NotFound)?;
    if let Some(muted) = req.muted {
        view = ask(&st, &p, call, Ask::Party { party, action: PartyAction::Mute(muted) }).await?;
    }
    if let Some(held) = req.held {
        view = ask(&st, &p, call, Ask::Party { party, action: PartyAction::Hold(held) }).await?;
    }
    Ok(Json(view))
}

async fn remove(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    axum::extract::Path(raw): axum::extract::Path<(String, String)>,
) -> ApiResult<Json<View>> {
    let (id, party) = ids(&raw)?;
    let call = live(&st, &p, id).await?;
    Ok(Json(ask(&st, &p, call, Ask::Party { party, action: PartyAction::Remove }).await?))
}

pub fn routes(api: &mut Api) {
    let view = api.schema::<View>();
    let (complete_body, merge_body, party_body) =
        (api.schema::<CompleteRequest>(), api.schema::<MergeRequest>(), api.schema::<PartyChange>());
    let agent = Access::AtLeast(Role::Agent);
    api.add(
        Method::POST,
        "/api/calls/{id}/transfer/complete",
        agent,
        "calls",
        "Warm transfer: after consulting someone on the other line, join this call's caller and \
         the person consulted; the agent leaves both calls",
        complete_body,
        view.clone(),
        complete,
    );
    api.add(
        Method::POST,
        "/api/calls/{id}/conference",
        agent,
        "calls",
        "Conference: the person on the agent's other line joins this call (everyone hears \
         everyone else); the agent stays",
        merge_body,
        view.clone(),
        merge,
    );
    api.add(
        Method::GET,
        "/api/calls/{id}/conference",
        agent,
        "calls",
        "The conference this live call is in: its parties, muted or held",
        None,
        view.clone(),
        show,
    );
    api.add(
        Method::PATCH,
        "/api/calls/{id}/conference/parties/{party}",
        agent,
        "calls",
        "Mutes (heard by nobody, still hears) or holds (hears hold music, heard by nobody) a party",
        party_body,
        view.clone(),
        change,
    );
    api.add(
        Method::DELETE,
        "/api/calls/{id}/conference/parties/{party}",
        agent,
        "calls",
        "Removes a party from the conference (their call ends; the others go on)",
        None,
        view,
        remove,
    );
}
