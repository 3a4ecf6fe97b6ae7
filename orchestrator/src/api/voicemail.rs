//! Voicemail messages: listed per account (or box), each with its transcript; the recording is
//! downloadable as WAV. Agents see, play, mark and delete the messages of their own box and of
//! the queues they answer (the queue's shared box); supervisors and up every box's.

use super::error::{ApiError, ApiResult};
use super::extract::{Id, JsonBody, QueryParams};
use super::{Access, Api, AppState, Principal};
use crate::error::Error;
use crate::model::{Agent, Queue, Role};
use crate::store::config;
use crate::store::voicemail::{self, Voicemail};
use axum::extract::State;
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VoicemailQuery {
    /// Only this box's messages.
    #[serde(default, rename = "box")]
    pub mailbox: Option<String>,
}

/// The boxes an agent sees (their own, their queues'); `None`: every box (supervisors and up).
async fn boxes_of(st: &AppState, p: &Principal) -> Result<Option<Vec<String>>, Error> {
    let Some(extension) = p.agent_scope()? else { return Ok(None) };
    let agents = config::list::<Agent>(&st.db, p.account_id).await?;
    let Some(me) = agents.into_iter().map(|a| a.spec).find(|a| a.extension == extension) else {
        return Ok(Some(Vec::new()));
    };
    let mut boxes: Vec<String> = me.voicemail_box.clone().into_iter().collect();
    for queue in config::list::<Queue>(&st.db, p.account_id).await? {
        let queue = queue.spec;
        if me.queues.iter().any(|m| m.queue == queue.name) {
            boxes.extend(queue.voicemail_box);
        }
    }
    Ok(Some(boxes))
}

/// The message and its recording's path, if `p` may see it (else not found).
async fn visible(st: &AppState, p: &Principal, id: i64) -> Result<(Voicemail, String), Error> {
    let (message, path) = voicemail::get(&st.db, p.account_id, id).await?;
    match boxes_of(st, p).await? {
        Some(boxes) if !boxes.contains(&message.box_name) => Err(Error::NotFound),
        _ => Ok((message, path)),
    }
}

async fn list(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    QueryParams(q): QueryParams<VoicemailQuery>,
) -> ApiResult<Json<Vec<Voicemail>>> {
    let mut messages = voicemail::list(&st.db, p.account_id, q.mailbox.as_deref()).await?;
    if let Some(boxes) = boxes_of(&st, &p).await? {
        messages.retain(|m| boxes.contains(&m.box_name));
    }
    Ok(Json(messages))
}

async fn get(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Id(id): Id,
) -> ApiResult<Json<Voicemail>> {
    Ok(Json(visible(&st, &p, id).await?.0))
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VoicemailUpdate {
    pub heard: bool,
}

async fn update(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Id(id): Id,
    JsonBody(req): JsonBody<VoicemailUpdate>,
) -> ApiResult<Json<Voicemail>> {
    visible(&st, &p, id).await?;
    voicemail::set_heard(&st.db, p.account_id, id, req.heard).await?;
    Ok(Json(voicemail::get(&st.db, p.account_id, id).await?.0))
}

async fn delete(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Id(id): Id,
) -> ApiResult<StatusCode> {
    visible(&st, &p, id).await?;
    let path = voicemail::delete(&st.db, p.account_id, id).await?;
    if let Err(e) = tokio::fs::remove_file(st.data_dir.join(&path)).await {
        tracing::warn!(error = %e, %path, "voicemail recording not removed");
    }
    Ok(StatusCode::NO_CONTENT)
}

async fn audio(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Id(id): Id,
) -> ApiResult<Response> {
    let (_, path) = visible(&st, &p, id).await?;
    let bytes = tokio::fs::read(st.data_dir.join(&path))
        .await
        .map_err(|_| ApiError::new(StatusCode::NOT_FOUND, "the recording of this message is missing"))?;
    Ok(([(header::CONTENT_TYPE, "audio/wav")], bytes).into_response())
}

pub fn routes(api: &mut Api) {
    let (one, many) = (api.schema::<Voicemail>(), api.schema::<Vec<Voicemail>>());
    let update_req = api.schema::<VoicemailUpdate>();
    // Agents: their own box and their queues' boxes (checked by the handlers).
    let agent = Access::AtLeast(Role::Agent);
    api.add(
        Method::GET,
        "/api/voicemail",
        agent,
        "voicemail",
        "Voicemail messages, newest first (agents: their box and their queues' boxes)",
        None,
        many,
        list,
    )
    .query = vec!["box"];
    api.add(
        Method::GET,
        "/api/voicemail/{id}",
        agent,
        "voicemail",
        "A voicemail message",
        None,
        one.clone(),
        get,
    );
    api.add(
        Method::PUT,
        "/api/voicemail/{id}",
        agent,
        "voicemail",
        "Mark a message heard or not heard",
        update_req,
        one,
        update,
    );
    api.add(
        Method::DELETE,
        "/api/voicemail/{id}",
        agent,
        "voicemail",
        "Delete a message and its recording",
        None,
        None,
        delete,
    );
    api.add(
        Method::GET,
        "/api/voicemail/{id}/audio",
        agent,
        "voicemail",
        "The message's recording (WAV, 8 kHz)",
        None,
        None,
        audio,
    )
    .media_type = "audio/wav";
}
