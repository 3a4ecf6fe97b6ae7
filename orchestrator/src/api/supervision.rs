//! Supervising human calls (see `calls::conference`): a supervisor asks for a code to dial from
//! their phone (browser or desk phone), or asks the PBX to ring their phone, then switches
//! between listen, whisper and barge without redialling.

use super::extract::{Id, JsonBody};
use super::{error::ApiResult, Access, Api, AppState, Principal};
use crate::calls::conference::{Ask, Mode, View, SUPERVISE_PREFIX};
use crate::error::Error;
use crate::model::Role;
use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SuperviseRequest {
    /// listen (hears both, heard by nobody), whisper (heard by the agent only) or barge (heard
    /// by both).
    pub mode: Mode,
    /// Ring the supervisor's phone instead of waiting for it to dial the code: answering it
    /// joins the call. Only when starting (a POST).
    #[serde(default)]
    pub ring: bool,
    /// The phone to ring (an agent extension); default: the extension linked to the user, or
    /// without one their browser phone.
    #[serde(default)]
    pub extension: Option<String>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct SuperviseTicket {
    /// What the supervisor's phone dials (once, within two minutes), unless it is rung.
    pub dial: String,
    pub mode: Mode,
    /// The extension whose phones ring (when asked to ring).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ringing: Option<String>,
}

async fn start(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Id(id): Id,
    JsonBody(req): JsonBody<SuperviseRequest>,
) -> ApiResult<(StatusCode, Json<SuperviseTicket>)> {
    let call = super::conference::live(&st, &p, id).await?;
    let phone =
        if req.ring { Some(super::live::supervisor_phone(&st, &p, req.extension).await?) } else { None };
    let code = st.live.conferences().ticket(p.account_id, call, req.mode, &p.name);
    if let Some(extension) = &phone {
        let ring = Ask::Ring { code: code.clone() };
        st.live.conferences().ask(call, ring, &p.name, Some(extension)).await.map_err(Error::Conflict)?;
    }
    let dial = format!("{SUPERVISE_PREFIX}{code}");
    Ok((StatusCode::CREATED, Json(SuperviseTicket { dial, mode: req.mode, ringing: phone })))
}

async fn switch(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Id(id): Id,
    JsonBody(req): JsonBody<SuperviseRequest>,
) -> ApiResult<Json<View>> {
    let call = super::conference::live(&st, &p, id).await?;
    let view = st.live.conferences().ask(call, Ask::Supervise { mode: req.mode }, &p.name, None).await;
    Ok(Json(view.map_err(Error::Conflict)?))
}

pub fn routes(api: &mut Api) {
    let (body, ticket, view) =
        (api.schema::<SuperviseRequest>(), api.schema::<SuperviseTicket>(), api.schema::<View>());
    let supervisor = Access::AtLeast(Role::Supervisor);
    api.add(
        Method::POST,
        "/api/calls/{id}/supervise",
        supervisor,
        "calls",
        "Supervise a live call: a one-time code for the supervisor's phone to dial (within two \
         minutes), or with `ring` the PBX rings the supervisor's phone; answered, it listens \
         (heard by nobody), whispers (heard by the agent only) or barges in (heard by both)",
        body.clone(),
        ticket,
        start,
    );
    api.add(
        Method::PATCH,
        "/api/calls/{id}/supervise",
        supervisor,
        "calls",
        "Switch the supervisor on this call between listen, whisper and barge, without redialling",
        body,
        view,
        switch,
    );
}
