//! "Try it": a text conversation with an AI agent from its admin page, the same session a call
//! and `switchboard agent chat` run (brain, tools against the account's real store, caller
//! matching by the number given), with lines instead of audio. Not a call: nothing is written
//! to the call history. Chats live in memory, per account, and end after
//! [`IDLE_LIMIT`] without a turn (or when the page closes them).

use super::error::{ApiError, ApiResult};
use super::extract::{Id, JsonBody};
use super::{Access, Api, AppState, Principal};
use crate::agent::{Next, Session, SessionSetup};
use crate::model::Role;
use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A chat nobody has typed into for this long is ended.
pub const IDLE_LIMIT: Duration = Duration::from_secs(15 * 60);
/// Chats open at once, per account (each holds an agent's tools and perhaps an LLM client).
pub const PER_ACCOUNT: usize = 20;

struct Chat {
    account: i64,
    session: tokio::sync::Mutex<Session>,
    events: tokio::sync::Mutex<tokio::sync::mpsc::UnboundedReceiver<(String, Value)>>,
    last_used: Mutex<Instant>,
}

/// The open chats, by id.
#[derive(Default)]
pub struct Chats {
    next: AtomicI64,
    open: Mutex<HashMap<i64, Arc<Chat>>>,
}

impl Chats {
    fn sweep(&self) {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        open.retain(|_, c| c.last_used.lock().unwrap_or_else(|e| e.into_inner()).elapsed() < IDLE_LIMIT);
    }

    fn get(&self, account: i64, id: i64) -> Result<Arc<Chat>, ApiError> {
        self.sweep();
        let open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        match open.get(&id) {
            // Another account's chat is as absent as one that never was.
            Some(c) if c.account == account => {
                *c.last_used.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
                Ok(c.clone())
            }
            _ => Err(ApiError::new(StatusCode::NOT_FOUND, "no such chat (chats end after 15 minutes idle)")),
        }
    }
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChatStart {
    /// The AI agent's name (its saved configuration is what answers).
    pub agent: String,
    /// Pretend to call from this number (E.164): the caller is matched to a customer by it.
    #[serde(default)]
    pub caller: Option<String>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ChatStarted {
    pub id: i64,
    /// `llm` or `guided`.
    pub brain: String,
    pub greeting: String,
    /// The customer the caller's number matched, if any.
    pub customer: Option<Value>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChatTurn {
    /// What the caller says.
    pub text: String,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ChatEvent {
    pub kind: String,
    pub data: Value,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ChatReply {
    /// The agent's answer, sentence by sentence, as it would be spoken.
    pub said: Vec<String>,
    /// What happened meanwhile: tool calls (with arguments, result and time), hand-offs.
    pub events: Vec<ChatEvent>,
    /// Set when the turn ended the conversation: what the call would do now.
    pub ended: Option<String>,
}

async fn start(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    JsonBody(req): JsonBody<ChatStart>,
) -> ApiResult<(StatusCode, Json<ChatStarted>)> {
    let caller =
        match req.caller.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
            Some(c) => Some(crate::calls::planner::as_e164(c).ok_or_else(|| {
                crate::Error::invalid("caller", "must be a phone number such as +15551234567")
            })?),
            None => None,
        };
    st.chats.sweep();
    let open = st
        .chats
        .open
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .values()
        .filter(|c| c.account == p.account_id)
        .count();
    if open >= PER_ACCOUNT {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!("{PER_ACCOUNT} chats are open already; close one or wait 15 minutes"),
        ));
    }
    let records =
        st.records.clone().unwrap_or_else(|| crate::store::calls::RecordWriter::start(st.db.clone()));
    let setup = SessionSetup {
        db: st.db.clone(),
        records,
        account: p.account_id,
        agent: req.agent.clone(),
        caller_number: caller,
        record: None,
    };
    let mut session = Session::start(setup).await.map_err(|e| match e {
        crate::agent::SetupError::NoAgent(_) => crate::Error::invalid("agent", e.to_string()).into(),
        crate::agent::SetupError::Store(e) => ApiError::from(e),
        e => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    })?;
    let events = session.observe();
    let started = ChatStarted {
        id: 0,
        brain: session.brain_name().to_string(),
        greeting: session.greeting(),
        customer: session.customer().cloned(),
    };
    let id = st.chats.next.fetch_add(1, Ordering::Relaxed) + 1;
    let chat = Chat {
        account: p.account_id,
        session: tokio::sync::Mutex::new(session),
        events: tokio::sync::Mutex::new(events),
        last_used: Mutex::new(Instant::now()),
    };
    st.chats.open.lock().unwrap_or_else(|e| e.into_inner()).insert(id, Arc::new(chat));
    tracing::info!(agent = %req.agent, by = %p.name, chat = id, "AI agent chat started");
    Ok((StatusCode::CREATED, Json(ChatStarted { id, ..started })))
}

fn ending(next: &Next) -> Option<String> {
    let target = |t| serde_json::to_string(t).unwrap_or_default();
    match next {
        Next::Listen => None,
        Next::Transfer { target: t, summary, .. } => {
            Some(format!("Transferred to {} ({summary})", target(t)))
        }
        Next::TakeMessage { summary } => Some(format!("Sent to leave a message ({summary})")),
        Next::Hangup { reason } => Some(format!("The agent ended the call ({reason})")),
        Next::Fallback { target: t, reason } => Some(format!("Fallback to {} ({reason})", target(t))),
    }
}

async fn turn(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Id(id): Id,
    JsonBody(req): JsonBody<ChatTurn>,
) -> ApiResult<Json<ChatReply>> {
    let text = req.text.trim().to_string();
    if text.is_empty() {
        return Err(crate::Error::invalid("text", "must not be empty").into());
    }
    let chat = st.chats.get(p.account_id, id)?;
    // One turn at a time per chat (a second waits, as a caller's next turn would).
    let mut session = chat.session.lock().await;
    let (say_tx, mut say_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let next = session.respond(&text, &say_tx).await;
    drop(say_tx);
    let mut said = Vec::new();
    while let Ok(sentence) = say_rx.try_recv() {
        said.push(sentence);
    }
    if let Next::Fallback { .. } = next {
        said.push("I'm sorry, I'm having trouble right now. Let me get you to someone who can help.".into());
    }
    let mut events = Vec::new();
    let mut observed = chat.events.lock().await;
    while let Ok((kind, data)) = observed.try_recv() {
        if kind != "transcript" && kind != "ai_turn" {
            events.push(ChatEvent { kind, data });
        }
    }
    let ended = ending(&next);
    if ended.is_some() {
        session.finish();
        st.chats.open.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
    }
    Ok(Json(ChatReply { said, events, ended }))
}

async fn close(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Id(id): Id,
) -> ApiResult<StatusCode> {
    let chat = st.chats.get(p.account_id, id)?;
    chat.session.lock().await.finish();
    st.chats.open.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
    Ok(StatusCode::NO_CONTENT)
}

pub fn routes(api: &mut Api) {
    let admin = Access::AtLeast(Role::Admin);
    let (begin, started) = (api.schema::<ChatStart>(), api.schema::<ChatStarted>());
    let (said, reply) = (api.schema::<ChatTurn>(), api.schema::<ChatReply>());
    api.add(
        Method::POST,
        "/api/agent-chats",
        admin,
        "ai_agents",
        "Starts a text chat with an AI agent (its saved configuration, real tools; not a call)",
        begin,
        started,
        start,
    );
    api.add(
        Method::POST,
        "/api/agent-chats/{id}",
        admin,
        "ai_agents",
        "Says a caller's line in a chat: the agent's answer, its tool calls, and whether the call \
         would end",
        said,
        reply,
        turn,
    );
    api.add(Method::DELETE, "/api/agent-chats/{id}", admin, "ai_agents", "Ends a chat", None, None, close);
}
