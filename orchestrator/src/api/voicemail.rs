//! Voicemail messages: listed per account (or box), each with its transcript; the recording is
//! downloadable as WAV; supervisors mark messages heard, admins delete them.

use super::error::{ApiError, ApiResult};
use super::extract::{Id, JsonBody, QueryParams};
use super::{Access, Api, AppState, Principal};
use crate::model::Role;
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

async fn list(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    QueryParams(q): QueryParams<VoicemailQuery>,
) -> ApiResult<Json<Vec<Voicemail>>> {
    Ok(Json(voicemail::list(&st.db, p.account_id, q.mailbox.as_deref()).await?))
}

async fn get(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Id(id): Id,
) -> ApiResult<Json<Voicemail>> {
    Ok(Json(voicemail::get(&st.db, p.account_id, id).await?.0))
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
    voicemail::set_heard(&st.db, p.account_id, id, req.heard).await?;
    Ok(Json(voicemail::get(&st.db, p.account_id, id).await?.0))
}

async fn delete(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Id(id): Id,
) -> ApiResult<StatusCode> {
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
    let (_, path) = voicemail::get(&st.db, p.account_id, id).await?;
    let bytes = tokio::fs::read(st.data_dir.join(&path))
        .await
        .map_err(|_| ApiError::new(StatusCode::NOT_FOUND, "the recording of this message is missing"))?;
    Ok(([(header::CONTENT_TYPE, "audio/wav")], bytes).into_response())
}

pub fn routes(api: &mut Api) {
    let (one, many) = (api.schema::<Voicemail>(), api.schema::<Vec<Voicemail>>());
    let update_req = api.schema::<VoicemailUpdate>();
    let supervisor = Access::AtLeast(Role::Supervisor);
    api.add(
        Method::GET,
        "/api/voicemail",
        supervisor,
        "voicemail",
        "Voicemail messages, newest first",
        None,
        many,
        list,
    )
    .query = vec!["box"];
    api.add(
        Method::GET,
        "/api/voicemail/{id}",
        supervisor,
        "voicemail",
        "A voicemail message",
        None,
        one.clone(),
        get,
    );
    api.add(
        Method::PUT,
        "/api/voicemail/{id}",
        supervisor,
        "voicemail",
        "Mark a message heard or not heard",
        update_req,
        one,
        update,
    );
    api.add(
        Method::DELETE,
        "/api/voicemail/{id}",
        Access::AtLeast(Role::Admin),
        "voicemail",
        "Delete a message and its recording",
        None,
        None,
        delete,
    );
    api.add(
        Method::GET,
        "/api/voicemail/{id}/audio",
        supervisor,
        "voicemail",
        "The message's recording (WAV, 8 kHz)",
        None,
        None,
        audio,
    )
    .media_type = "audio/wav";
}
