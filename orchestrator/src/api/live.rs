//! The live view of AI calls for supervisors: tiles and details over REST, one WebSocket feed
//! per browser session for live updates, notes to the AI (advice, approvals) and takeover.
//! Supervisors and up only; every feed carries only its own account's calls.

use super::error::ApiResult;
use super::extract::{Id, JsonBody};
use super::{Access, Api, AppState, Principal};
use crate::live::{Detail, Live, NoteKind, Tile};
use crate::model::{Agent, Role};
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use futures_util::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

/// How often a feed checks that its login is still valid.
const RECHECK: Duration = Duration::from_secs(30);

/// The account's tiles on every node of a cluster (`Tile`s; another node's carry its `node`).
async fn tiles(State(st): State<AppState>, Extension(p): Extension<Principal>) -> Json<Vec<Value>> {
    Json(st.live.all_tiles(p.account_id))
}

async fn detail(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Id(id): Id,
) -> ApiResult<Json<Value>> {
    let id = u64::try_from(id).map_err(|_| crate::Error::NotFound)?;
    Ok(Json(st.live.any_detail(p.account_id, id).ok_or(crate::Error::NotFound)?))
}

/// An action on an AI call another node of a cluster carries goes to that node (which carries
/// it out within moments); the node, when it was forwarded.
async fn forwarded(
    st: &AppState,
    p: &Principal,
    id: u64,
    kind: &str,
    body: &str,
) -> Result<Option<i64>, crate::Error> {
    let Some(node) = st.live.remote_node(p.account_id, id) else { return Ok(None) };
    let f = crate::store::shared_live::Forwarded {
        account: p.account_id,
        engagement: id,
        kind: kind.to_string(),
        by: who(p),
        body: body.to_string(),
    };
    crate::store::shared_live::forward(&st.db, node, &f).await?;
    Ok(Some(node))
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteRequest {
    /// advice (enters the AI's context at its next turn), approve or deny (a tool that needs
    /// approval: the one waiting, or the next one).
    pub kind: NoteKind,
    #[serde(default)]
    pub text: String,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct NoteAccepted {
    /// 0 when the note went to another node of the cluster.
    pub note_id: u64,
    /// The node of the cluster that carries the call, when it is not this one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forwarded_to_node: Option<i64>,
}

fn who(p: &Principal) -> String {
    p.name.clone()
}

async fn note(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Id(id): Id,
    JsonBody(req): JsonBody<NoteRequest>,
) -> ApiResult<Response> {
    let text = req.text.trim();
    if req.kind == NoteKind::Advice && text.is_empty() {
        return Err(crate::Error::invalid("text", "must not be empty").into());
    }
    if text.chars().count() > 1000 {
        return Err(crate::Error::invalid("text", "must be at most 1000 characters").into());
    }
    let id = u64::try_from(id).map_err(|_| crate::Error::NotFound)?;
    let kind = match req.kind {
        NoteKind::Advice => "advice",
        NoteKind::Approve => "approve",
        NoteKind::Deny => "deny",
    };
    if let Some(node) = forwarded(&st, &p, id, kind, text).await? {
        let accepted = NoteAccepted { note_id: 0, forwarded_to_node: Some(node) };
        return Ok((StatusCode::ACCEPTED, Json(accepted)).into_response());
    }
    let note_id = st.live.note(p.account_id, id, &who(&p), req.kind, text).ok_or(crate::Error::NotFound)?;
    Ok((StatusCode::ACCEPTED, Json(NoteAccepted { note_id, forwarded_to_node: None })).into_response())
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TakeoverRequest {
    /// The supervisor's phone (an agent extension); default: the extension linked to the user,
    /// or without one their browser phone.
    #[serde(default)]
    pub extension: Option<String>,
}

async fn takeover(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Id(id): Id,
    JsonBody(req): JsonBody<TakeoverRequest>,
) -> ApiResult<Response> {
    phone_action(&st, &p, id, req, "takeover", Live::take_over).await
}

async fn listen(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Id(id): Id,
    JsonBody(req): JsonBody<TakeoverRequest>,
) -> ApiResult<Response> {
    phone_action(&st, &p, id, req, "listen", Live::listen).await
}

/// Asks the call to ring the supervisor's phone (to take over, or to listen in).
async fn phone_action(
    st: &AppState,
    p: &Principal,
    id: i64,
    req: TakeoverRequest,
    kind: &str,
    action: fn(&Live, i64, u64, &str, &str) -> Option<()>,
) -> ApiResult<Response> {
    let (id, extension) = phone_for(st, p, id, req).await?;
    if let Some(node) = forwarded(st, p, id, kind, &extension).await? {
        let body = json!({ "extension": extension, "forwarded_to_node": node });
        return Ok((StatusCode::ACCEPTED, Json(body)).into_response());
    }
    action(&st.live, p.account_id, id, &who(p), &extension).ok_or(crate::Error::NotFound)?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "extension": extension }))).into_response())
}

/// The engagement and the supervisor's phone (see `supervisor_phone`).
async fn phone_for(
    st: &AppState,
    p: &Principal,
    id: i64,
    req: TakeoverRequest,
) -> Result<(u64, String), crate::Error> {
    let extension = supervisor_phone(st, p, req.extension).await?;
    let id = u64::try_from(id).map_err(|_| crate::Error::NotFound)?;
    Ok((id, extension))
}

/// The phone to ring for a supervisor: the extension asked for (an agent's), or the user's own
/// (their agent extension, or their browser's personal line, which must be registered).
pub(super) async fn supervisor_phone(
    st: &AppState,
    p: &Principal,
    asked: Option<String>,
) -> Result<String, crate::Error> {
    let asked = asked.map(|e| e.trim().to_string()).filter(|e| !e.is_empty());
    let extension = match asked {
        Some(x) => x,
        None => p.phone_line().map_err(|_| {
            crate::Error::invalid("extension", "say which extension to ring (no phone is linked to you)")
        })?,
    };
    let personal = p.user_id.map(crate::store::softphone::personal_line);
    if personal.as_deref() == Some(extension.as_str()) {
        let registered = match &st.sip {
            Some(sip) => sip
                .registrations()
                .await
                .iter()
                .any(|r| r.account == p.account_id && r.extension == extension),
            None => false,
        };
        if !registered {
            return Err(crate::Error::invalid(
                "extension",
                "your browser phone is not connected: allow the microphone and wait for \"Phone ready\", or give an extension",
            ));
        }
    } else if crate::store::config::get_by_key::<Agent>(&st.db, p.account_id, &extension).await?.is_none() {
        return Err(crate::Error::invalid("extension", format!("no agent extension {extension}")));
    }
    Ok(extension)
}

async fn feed(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    ws.max_message_size(4096).on_upgrade(move |socket| serve_feed(socket, st, p, headers))
}

/// What a feed client may ask.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum ClientMessage {
    /// Send this engagement's transcript and events (and their updates from now on).
    Open { id: u64 },
    /// Stop sending details.
    Close,
}

/// A command from the browser (also the `live_command` fuzz entry point): a known one, or
/// the error the feed answers with.
pub(crate) fn parse_command(text: &str) -> Result<ClientMessage, String> {
    serde_json::from_str(text).map_err(|e| format!("unknown message: {e}"))
}

async fn serve_feed(socket: WebSocket, st: AppState, p: Principal, headers: HeaderMap) {
    let (mut out, mut incoming) = socket.split();
    // Subscribe before the snapshot, so nothing falls between them.
    let mut updates = st.live.subscribe();
    let account = p.account_id;
    let snapshot = |st: &AppState| json!({ "type": "snapshot", "tiles": st.live.all_tiles(account) });
    if send(&mut out, &snapshot(&st)).await.is_err() {
        return;
    }
    let mut opened: Option<u64> = None;
    let mut recheck = tokio::time::interval(RECHECK);
    recheck.tick().await;
    loop {
        tokio::select! {
            update = updates.recv() => match update {
                Ok(u) if u.account == account && (u.tile || opened == Some(u.id)) => {
                    if send(&mut out, &u.message).await.is_err() {
                        break;
                    }
                }
                Ok(_) => {}
                Err(RecvError::Lagged(_)) => {
                    // Too slow to keep up: start again from a fresh snapshot.
                    let mut messages = vec![snapshot(&st)];
                    if let Some(d) = opened.and_then(|id| st.live.any_detail(account, id)) {
                        messages.push(json!({ "type": "detail", "detail": d }));
                    }
                    for m in messages {
                        if send(&mut out, &m).await.is_err() {
                            return;
                        }
                    }
                }
                Err(RecvError::Closed) => break,
            },
            message = incoming.next() => match message {
                Some(Ok(Message::Text(text))) => match parse_command(&text) {
                    Ok(ClientMessage::Open { id }) => {
                        opened = Some(id);
                        let reply = match st.live.any_detail(account, id) {
                            Some(d) => json!({ "type": "detail", "detail": d }),
                            None => json!({ "type": "error", "error": "no such live call" }),
                        };
                        if send(&mut out, &reply).await.is_err() {
                            break;
                        }
                    }
                    Ok(ClientMessage::Close) => opened = None,
                    Err(e) => {
                        let reply = json!({ "type": "error", "error": e });
                        if send(&mut out, &reply).await.is_err() {
                            break;
                        }
                    }
                },
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Binary(_))) => {}
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
            },
            _ = recheck.tick() => {
                // A feed ends with the login it was opened with (logout, expiry, role change).
                match super::auth::authenticate(&st, &headers).await {
                    Ok(now) if now.role >= Role::Supervisor && now.account_id == account => {}
                    _ => {
                        let _ = out.send(Message::Close(None)).await;
                        break;
                    }
                }
            }
        }
    }
}

async fn send(
    out: &mut futures_util::stream::SplitSink<WebSocket, Message>,
    message: &Value,
) -> Result<(), axum::Error> {
    out.send(Message::Text(message.to_string().into())).await
}

pub fn routes(api: &mut Api) {
    let supervisor = Access::AtLeast(Role::Supervisor);
    let (tiles_schema, detail_schema) = (api.schema::<Vec<Tile>>(), api.schema::<Detail>());
    let (note_req, note_resp) = (api.schema::<NoteRequest>(), api.schema::<NoteAccepted>());
    let takeover_req = api.schema::<TakeoverRequest>();
    api.add(
        Method::GET,
        "/api/live/calls",
        supervisor,
        "live",
        "Live AI calls of the account, most severe first",
        None,
        tiles_schema,
        tiles,
    );
    api.add(
        Method::GET,
        "/api/live/calls/{id}",
        supervisor,
        "live",
        "One live AI call: tile, transcript so far, events",
        None,
        detail_schema,
        detail,
    );
    api.add(
        Method::POST,
        "/api/live/calls/{id}/notes",
        supervisor,
        "live",
        "A private note to the AI: advice for its next turn, or approval/denial of a tool",
        note_req,
        note_resp,
        note,
    );
    api.add(
        Method::POST,
        "/api/live/calls/{id}/takeover",
        supervisor,
        "live",
        "Take the call over on an extension: it rings, hears a briefing, then the caller",
        takeover_req,
        None,
        takeover,
    );
    let listen_req = api.schema::<TakeoverRequest>();
    api.add(
        Method::POST,
        "/api/live/calls/{id}/listen",
        supervisor,
        "live",
        "Listen in from an extension: it rings, then hears the caller and the AI without being heard",
        listen_req,
        None,
        listen,
    );
    api.add(
        Method::GET,
        "/api/live/feed",
        supervisor,
        "live",
        "WebSocket: a snapshot of live AI calls, then updates; send {\"type\":\"open\",\"id\":N} for details",
        None,
        None,
        feed,
    );
}
