//! Live AI coaching for agents on queue calls. When an agent answers a call of a queue whose
//! coach is on, both sides of the relay are tapped and transcribed live (the local Whisper,
//! partial lines while someone speaks); the coach (`engine`) reads each finished line and the
//! agent's workspace gets cards: the order or customer the caller names (from the store), the
//! customer's open tickets when they mention a problem, the merchant's written answer for what
//! the caller asked (or the queue's LLM's suggestion), a checklist that ticks itself when the
//! agent says an item in their own words, and alerts (manager, cancelling, chargeback, upset)
//! that supervisors also see on the queue dashboard. Cards, ticks, alerts and what was still
//! open at the end go into the call's timeline. The coach only listens: nothing reaches the
//! caller. A payment's masked audio is silence here too.

pub mod engine;
mod listen;
mod suggest;

pub use listen::{run, Audio, IntoTranscript};

use crate::calls::snapshot::Snapshot;
use crate::db::Db;
use crate::store::calls::{RecordKey, RecordWriter};
use engine::Speaker;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use switchboard_telephony::media::relay::{MediaSide, Relay};
use tokio::sync::{oneshot, watch};

/// How long a finished call's coaching stays readable (the agent's wrap-up).
const KEEP_AFTER_END_MS: i64 = 15 * 60 * 1000;
/// Transcript lines kept per call for the workspace.
const KEEP_LINES: usize = 200;

/// What a coaching task needs, given once by the router.
#[derive(Clone)]
pub struct Env {
    pub db: Db,
    pub records: RecordWriter,
    pub snapshot: watch::Receiver<Arc<Snapshot>>,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct CoachLine {
    pub speaker: Speaker,
    pub text: String,
    /// When it was said (epoch ms; the end of the speech for finished lines).
    pub at_ms: i64,
}

/// A card in the agent's workspace.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Card {
    pub id: u32,
    pub at_ms: i64,
    /// order, customer, tickets, suggestion or alert.
    pub kind: String,
    pub title: String,
    pub lines: Vec<String>,
    /// Where the agent can see more (a page of the web app).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// For suggestions: `written answer` or `LLM`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// What the caller said that brought the card up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heard: Option<String>,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ChecklistView {
    pub label: String,
    pub done: bool,
    /// When the agent said it (epoch ms).
    pub at_ms: Option<i64>,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct CoachAlert {
    pub kind: String,
    pub text: String,
    pub at_ms: i64,
}

/// A call's coaching as the agent's workspace shows it.
#[derive(Debug, Clone, Default, Serialize, schemars::JsonSchema)]
pub struct CoachView {
    /// Grows with every change (ask for changes after it).
    pub version: u64,
    pub call_id: i64,
    pub queue: String,
    pub agent: String,
    pub live: bool,
    pub transcript: Vec<CoachLine>,
    /// What each side is saying now (not yet finished).
    pub partial: Vec<CoachLine>,
    pub cards: Vec<Card>,
    pub checklist: Vec<ChecklistView>,
    pub alerts: Vec<CoachAlert>,
    /// Why coaching is limited (live transcription or meaning matching unavailable).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notice: Option<String>,
    #[serde(skip)]
    ended_ms: Option<i64>,
}

/// One call's coaching: its view, and a version that wakes whoever waits for changes.
pub struct Session {
    pub account: i64,
    pub key: Option<RecordKey>,
    /// The call's record id (0 without one).
    pub call_id: i64,
    view: Mutex<CoachView>,
    changed: watch::Sender<u64>,
}

impl Card {
    /// A card brought up now by what the caller said (`heard`).
    pub fn new(kind: &str, title: String, lines: Vec<String>, heard: &str) -> Card {
        Card {
            id: 0,
            at_ms: crate::clock::now_ms(),
            kind: kind.into(),
            title,
            lines,
            link: None,
            source: None,
            heard: Some(heard.to_string()),
        }
    }
}

impl Session {
    pub fn new(account: i64, key: Option<RecordKey>, call_id: i64, queue: &str, agent: &str) -> Arc<Session> {
        let view = CoachView {
            call_id,
            queue: queue.to_string(),
            agent: agent.to_string(),
            live: true,
            ..Default::default()
        };
        Arc::new(Session { account, key, call_id, view: Mutex::new(view), changed: watch::channel(0).0 })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CoachView> {
        self.view.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Changes the view and wakes the waiters.
    pub fn update(&self, f: impl FnOnce(&mut CoachView)) {
        let version = {
            let mut v = self.lock();
            f(&mut v);
            if v.transcript.len() > KEEP_LINES {
                let excess = v.transcript.len() - KEEP_LINES;
                v.transcript.drain(..excess);
            }
            v.version += 1;
            v.version
        };
        self.changed.send_replace(version);
    }

    pub fn view(&self) -> CoachView {
        self.lock().clone()
    }

    /// Wakes on every change.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    pub fn add_card(&self, mut card: Card) -> Card {
        self.update(|v| {
            card.id = v.cards.len() as u32 + 1;
            v.cards.push(card.clone());
        });
        card
    }

    fn end(&self, at_ms: i64) {
        self.update(|v| {
            v.live = false;
            v.partial.clear();
            v.ended_ms = Some(at_ms);
        });
    }
}

struct CallMedia {
    account: i64,
    relay: Weak<Relay>,
    customer: MediaSide,
    /// Ends the coaching task when the call ends.
    stop: Option<oneshot::Sender<()>>,
}

/// The calls that can be coached now, and the coaching of calls live or recently ended.
#[derive(Clone, Default)]
pub struct Coaching {
    calls: Arc<Mutex<HashMap<RecordKey, CallMedia>>>,
    /// By call record id.
    sessions: Arc<Mutex<HashMap<i64, Arc<Session>>>>,
    env: Arc<OnceLock<Env>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Coaching {
    pub fn attach(&self, env: Env) {
        let _ = self.env.set(env);
    }

    /// A call with media, `customer` being the customer's side.
    pub fn register(&self, key: RecordKey, account: i64, relay: &Arc<Relay>, customer: MediaSide) {
        let media = CallMedia { account, relay: Arc::downgrade(relay), customer, stop: None };
        lock(&self.calls).insert(key, media);
    }

    /// Agent `extension` answered the call through `queue`: coached if the queue's coach is on.
    pub fn answered(&self, key: RecordKey, queue: &str, extension: &str) {
        let Some(env) = self.env.get().cloned() else { return };
        let (stop_tx, stop_rx) = oneshot::channel();
        let (account, relay, customer) = {
            let mut calls = lock(&self.calls);
            let Some(m) = calls.get_mut(&key) else { return };
            let Some(relay) = m.relay.upgrade() else { return };
            if let Some(old) = m.stop.replace(stop_tx) {
                let _ = old.send(()); // a second answer (a transfer): coach the new agent
            }
            (m.account, relay, m.customer)
        };
        let snap = env.snapshot.borrow().clone();
        let Some(settings) = snap.queue(account, queue).and_then(|q| q.coach.clone()).filter(|c| c.enabled)
        else {
            return;
        };
        let agent_name =
            snap.agent(account, extension).map_or_else(|| extension.to_string(), |a| a.display_name.clone());
        let (queue, extension) = (queue.to_string(), extension.to_string());
        let sessions = self.sessions.clone();
        tokio::spawn(async move {
            let Some(call_id) = env.records.id_of(key).await else { return };
            // The live lines are the call's transcript (timed from the call's start).
            let started = sqlx::query_scalar::<_, i64>("SELECT started_at FROM call_records WHERE id = $1")
                .bind(call_id)
                .fetch_one(env.db.pool())
                .await;
            let transcript = match started {
                Ok(call_started_ms) => Some(IntoTranscript { call_started_ms, agent_name }),
                Err(e) => {
                    tracing::warn!(error = %e, call_id, "coached call's start unknown: its live lines are not kept");
                    None
                }
            };
            let session = Session::new(account, Some(key), call_id, &queue, &extension);
            {
                let now = crate::clock::now_ms();
                let mut all = lock(&sessions);
                all.retain(|_, s| s.lock().ended_ms.is_none_or(|t| now - t < KEEP_AFTER_END_MS));
                all.insert(call_id, session.clone());
            }
            let audio = Audio { caller: relay.tap(customer), agent: relay.tap(customer.other()) };
            drop(relay);
            env.records.event(
                key,
                "coaching_started",
                serde_json::json!({"queue": queue, "agent": extension}),
            );
            let records = Some(env.records.clone());
            run(session.clone(), &settings, audio, env.db.clone(), records, transcript, stop_rx).await;
            session.end(crate::clock::now_ms());
        });
    }

    pub fn call_ended(&self, key: RecordKey) {
        if let Some(mut m) = lock(&self.calls).remove(&key) {
            if let Some(stop) = m.stop.take() {
                let _ = stop.send(());
            }
        }
    }

    /// The coaching of call `id` for agent `extension` (only theirs: coaching is the agent's).
    pub fn session(&self, account: i64, id: i64, extension: &str) -> Option<Arc<Session>> {
        lock(&self.sessions).get(&id).filter(|s| s.account == account && s.lock().agent == extension).cloned()
    }

    /// The alerts of the account's live coached calls, by agent extension (the dashboard).
    pub fn alerts(&self, account: i64) -> HashMap<String, Vec<CoachAlert>> {
        let mut out: HashMap<String, Vec<CoachAlert>> = HashMap::new();
        for s in lock(&self.sessions).values().filter(|s| s.account == account) {
            let v = s.lock();
            if v.live && !v.alerts.is_empty() {
                out.entry(v.agent.clone()).or_default().extend(v.alerts.iter().cloned());
            }
        }
        out
    }
}
