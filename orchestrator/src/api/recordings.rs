//! Call recordings: start, stop, pause and resume on a live call (the people on it, and
//! supervisors and up), the recordings of a call, and their audio (with byte ranges, so that a
//! browser's player can seek). Agents reach only the calls they handle (see
//! `workspace::handled`).

use super::error::{ApiError, ApiResult};
use super::extract::{Id, JsonBody};
use super::{Access, Api, AppState, Principal};
use crate::calls::recording::{Action, RecordingState};
use crate::error::Error;
use crate::model::Role;
use crate::store::calls::RecordKey;
use crate::store::recordings::{self, Recording};
use axum::extract::State;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use std::io::{Read, Seek, SeekFrom};

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordingRequest {
    pub action: Action,
}

/// A call's recordings, and the state of recording now if the call is live.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct CallRecordings {
    /// Unset once the call has ended.
    pub live: Option<RecordingState>,
    pub recordings: Vec<Recording>,
}

/// The live call whose record is `id`, if it is live in this process.
pub(super) async fn live_key(st: &AppState, account: i64, id: i64) -> Option<RecordKey> {
    let records = st.records.as_ref()?;
    for key in st.live.recordings().live_calls(account) {
        if records.id_of(key).await == Some(id) {
            return Some(key);
        }
    }
    None
}

async fn get(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Id(id): Id,
) -> ApiResult<Json<CallRecordings>> {
    super::workspace::handled(&st, &p, id).await?;
    let live = match live_key(&st, p.account_id, id).await {
        Some(key) => st.live.recordings().state(key),
        None => None,
    };
    Ok(Json(CallRecordings { live, recordings: recordings::of_call(&st.db, id).await? }))
}

/// Starts, stops, pauses or resumes recording a live call.
async fn act(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Id(id): Id,
    JsonBody(req): JsonBody<RecordingRequest>,
) -> ApiResult<Json<RecordingState>> {
    super::workspace::handled(&st, &p, id).await?;
    let key =
        live_key(&st, p.account_id, id).await.ok_or_else(|| Error::Conflict("the call has ended".into()))?;
    let state = st.live.recordings().act(key, req.action, &p.name).map_err(Error::Conflict)?;
    Ok(Json(state))
}

/// A byte range a client asked for: `bytes=a-b`, `bytes=a-` or `bytes=-n` (one range).
pub(crate) fn byte_range(headers: &HeaderMap, len: u64) -> Option<Result<(u64, u64), ()>> {
    let value = headers.get(header::RANGE)?.to_str().ok()?;
    let spec = value.strip_prefix("bytes=")?;
    if spec.contains(',') || len == 0 {
        return Some(Err(()));
    }
    let (a, b) = spec.split_once('-')?;
    let range = match (a.trim(), b.trim()) {
        ("", n) => {
            let n: u64 = n.parse().ok()?;
            (len.saturating_sub(n), len - 1)
        }
        (a, "") => (a.parse().ok()?, len - 1),
        (a, b) => (a.parse().ok()?, b.parse::<u64>().ok()?.min(len - 1)),
    };
    Some(if range.0 > range.1 || range.0 >= len { Err(()) } else { Ok(range) })
}

/// What was read of a file: its length, the range sent (none: all of it), the bytes.
type FilePart = (u64, Option<(u64, u64)>, Vec<u8>);

/// The most one ranged response carries (a player asks again for the rest).
const CHUNK: u64 = 4 * 1024 * 1024;

async fn audio(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Id(id): Id,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let (rec, path) = recordings::get(&st.db, p.account_id, id).await?;
    super::workspace::handled(&st, &p, rec.call_id).await?;
    let missing = || ApiError::new(StatusCode::NOT_FOUND, "the recording's audio is missing");
    let path = st.data_dir.join(path);
    let read = tokio::task::spawn_blocking(move || -> std::io::Result<FilePart> {
        let mut file = std::fs::File::open(&path)?;
        let len = file.metadata()?.len();
        match byte_range(&headers, len) {
            None => {
                let mut all = Vec::with_capacity(len as usize);
                file.read_to_end(&mut all)?;
                Ok((len, None, all))
            }
            Some(Err(())) => Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "range")),
            Some(Ok((from, to))) => {
                let to = to.min(from + CHUNK - 1);
                file.seek(SeekFrom::Start(from))?;
                let mut part = vec![0; (to - from + 1) as usize];
                file.read_exact(&mut part)?;
                Ok((len, Some((from, to)), part))
            }
        }
    })
    .await
    .map_err(|_| missing())?;
    match read {
        Ok((_, None, bytes)) => Ok((
            [(header::CONTENT_TYPE, "audio/wav".to_string()), (header::ACCEPT_RANGES, "bytes".to_string())],
            bytes,
        )
            .into_response()),
        Ok((len, Some((from, to)), bytes)) => Ok((
            StatusCode::PARTIAL_CONTENT,
            [
                (header::CONTENT_TYPE, "audio/wav".to_string()),
                (header::ACCEPT_RANGES, "bytes".to_string()),
                (header::CONTENT_RANGE, format!("bytes {from}-{to}/{len}")),
            ],
            bytes,
        )
            .into_response()),
        Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => Err(ApiError::new(
            StatusCode::RANGE_NOT_SATISFIABLE,
            "the range asked for is not in the recording",
        )),
        Err(_) => Err(missing()),
    }
}

pub fn routes(api: &mut Api) {
    let (list, body, state) =
        (api.schema::<CallRecordings>(), api.schema::<RecordingRequest>(), api.schema::<RecordingState>());
    let any = Access::AtLeast(Role::Agent);
    api.add(
        Method::GET,
        "/api/calls/{id}/recording",
        any,
        "calls",
        "The call's recordings, and whether it is being recorded now (agents: calls they handle)",
        None,
        list,
        get,
    );
    api.add(
        Method::POST,
        "/api/calls/{id}/recording",
        any,
        "calls",
        "Start, stop, pause or resume recording a live call (agents: calls they are on)",
        body,
        state,
        act,
    );
    api.add(
        Method::GET,
        "/api/recordings/{id}/audio",
        any,
        "calls",
        "A recording's audio (WAV, 8 kHz, the customer left, what they heard right); byte ranges \
         for seeking",
        None,
        None,
        audio,
    )
    .media_type = "audio/wav";
}
