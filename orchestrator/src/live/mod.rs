//! Live AI engagements, for the people who supervise them: one entry per AI call with its
//! tile (who calls, which agent, state, health signals, severity), its live transcript and
//! events, and the way in for supervisors (guidance notes and approvals to the AI, takeover
//! to the driver). Updates go out on a broadcast channel, each tagged with its account, so a
//! feed carries only its own account's calls.

use crate::store::calls::{RecordKey, RecordWriter};
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{broadcast, mpsc};
pub use words::{
    asks_for_human, asks_for_manager, asks_to_be_put_through, mentions_cancelling, mentions_chargeback,
    mentions_problem, says_any, sounds_negative,
};
pub(crate) use words::{spaced, words_of};

mod remote;
mod words;
pub use remote::RemoteEngagement;

/// A quiet line longer than this while the AI listens is a warning; twice as long, a problem.
pub const LONG_SILENCE_MS: i64 = 10_000;
/// A turn slower than this (end of the caller's speech to the AI's first audio) is a warning.
pub const SLOW_TURN_MS: u64 = 1_500;
/// Recognition confidence (mean token probability) below this is "low".
pub const LOW_CONFIDENCE: f32 = 0.5;
/// Transcript lines and events kept per engagement for supervisors who open it late.
const KEEP: usize = 500;

/// What the AI is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AiState {
    Listening,
    Thinking,
    Speaking,
    RunningTool,
    WaitingForApproval,
    Transferring,
    /// A supervisor took the call over; the AI has left.
    TakenOver,
}

/// How bad a signal is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Warning,
    Problem,
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Alert {
    /// Machine-readable: slow_turn, long_silence, interruptions, tool_errors, asked_for_human,
    /// negative_sentiment, low_confidence, approval_needed, ai_failed.
    pub kind: &'static str,
    pub level: Level,
    pub text: String,
}

/// The health signals of one engagement.
#[derive(Debug, Clone, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Health {
    pub turns: u32,
    /// End of the caller's turn to the AI's first audio, last turn.
    pub last_latency_ms: Option<u64>,
    pub p95_latency_ms: Option<u64>,
    #[serde(skip)]
    latencies: Vec<u64>,
    pub interruptions: u32,
    pub tool_errors: u32,
    pub asked_for_human: bool,
    /// Caller turns that sounded unhappy.
    pub negative_turns: u32,
    /// Mean token probability of the last recognised caller turn.
    pub last_confidence: Option<f32>,
    pub low_confidence_turns: u32,
    /// Since when nobody has spoken while the AI listens (epoch ms).
    pub quiet_since: Option<i64>,
    pub ai_failed: bool,
}

impl Health {
    fn add_latency(&mut self, ms: u64) {
        self.last_latency_ms = Some(ms);
        self.latencies.push(ms);
        let mut sorted = self.latencies.clone();
        sorted.sort_unstable();
        let rank = ((sorted.len() as f64) * 0.95).ceil() as usize;
        self.p95_latency_ms = sorted.get(rank.saturating_sub(1)).copied();
    }

    /// The alerts at `now_ms` (silence depends on the time), worst first.
    pub fn alerts(&self, now_ms: i64, approval_pending: bool) -> Vec<Alert> {
        let mut out = Vec::new();
        let mut add = |kind, level, text: String| out.push(Alert { kind, level, text });
        if approval_pending {
            add("approval_needed", Level::Problem, "waiting for a supervisor's approval".into());
        }
        if self.ai_failed {
            add("ai_failed", Level::Problem, "the AI failed and handed the caller on".into());
        }
        if self.asked_for_human {
            add("asked_for_human", Level::Problem, "the caller asked for a person".into());
        }
        if self.negative_turns > 0 {
            let level = if self.negative_turns >= 2 { Level::Problem } else { Level::Warning };
            add("negative_sentiment", level, format!("caller unhappy ({} turns)", self.negative_turns));
        }
        if let Some(since) = self.quiet_since {
            let quiet = now_ms - since;
            if quiet >= LONG_SILENCE_MS {
                let level = if quiet >= 2 * LONG_SILENCE_MS { Level::Problem } else { Level::Warning };
                add("long_silence", level, format!("silent for {} s", quiet / 1000));
            }
        }
        if self.tool_errors > 0 {
            add("tool_errors", Level::Warning, format!("{} tool error(s)", self.tool_errors));
        }
        if self.interruptions >= 3 {
            add("interruptions", Level::Warning, format!("interrupted {} times", self.interruptions));
        }
        match (self.last_latency_ms, self.p95_latency_ms) {
            (Some(last), _) if last > SLOW_TURN_MS => {
                add("slow_turn", Level::Warning, format!("last answer took {last} ms"))
            }
            (_, Some(p95)) if p95 > SLOW_TURN_MS => {
                add("slow_turn", Level::Warning, format!("p95 answer time {p95} ms"))
            }
            _ => {}
        }
        if self.last_confidence.is_some_and(|c| c < LOW_CONFIDENCE) {
            add("low_confidence", Level::Warning, "the AI may have misheard the caller".into());
        }
        out.sort_by_key(|a| std::cmp::Reverse(a.level));
        out
    }
}

/// Severity for sorting: problems weigh more than warnings.
pub fn severity(alerts: &[Alert]) -> u32 {
    alerts.iter().map(|a| if a.level == Level::Problem { 10 } else { 1 }).sum()
}

/// The summary of an engagement that the grid shows.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Tile {
    pub id: u64,
    /// The call record (for the timeline and history).
    pub call_id: Option<i64>,
    pub caller: Option<String>,
    pub customer: Option<String>,
    pub agent: String,
    /// "llm" or "guided".
    pub brain: String,
    pub started_at: i64,
    pub state: AiState,
    pub state_since: i64,
    pub health: Health,
    pub alerts: Vec<Alert>,
    pub severity: u32,
    /// A tool call waiting for a supervisor: {tool, arguments, requested_at}.
    pub approval: Option<Value>,
    /// The supervisor taking the call over, and their extension.
    pub supervisor: Option<String>,
}

/// A transcript line (partial lines are replaced by the next partial or the final line).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Line {
    pub speaker: String,
    pub text: String,
    pub at: i64,
    pub partial: bool,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Event {
    pub kind: String,
    pub data: Value,
    pub at: i64,
}

/// An opened tile: transcript and events so far.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Detail {
    pub tile: Tile,
    pub transcript: Vec<Line>,
    pub events: Vec<Event>,
}

/// A supervisor's note to the AI.
#[derive(Debug, Clone, PartialEq)]
pub struct Note {
    pub id: u64,
    pub by: String,
    pub text: String,
    pub kind: NoteKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NoteKind {
    /// Enters the AI's context at its next turn.
    Advice,
    /// Lets a tool that needs approval run (the pending one, or the next one).
    Approve,
    /// Refuses the pending (or next) tool that needs approval.
    Deny,
}

/// What a supervisor asks of the call itself.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Ring `extension`; when it answers, brief the supervisor and connect them to the caller.
    TakeOver { extension: String, by: String },
    /// Ring `extension`; when it answers it hears the caller and the AI, and is not heard.
    Listen { extension: String, by: String },
}

/// One update for the feeds.
#[derive(Debug, Clone)]
pub struct Update {
    pub account: i64,
    pub id: u64,
    /// Tile updates go to every feed of the account; the rest only to feeds that opened `id`.
    pub tile: bool,
    pub message: Value,
}

struct Entry {
    account: i64,
    tile: Tile,
    transcript: Vec<Line>,
    events: Vec<Event>,
    notes: mpsc::UnboundedSender<Note>,
    commands: mpsc::UnboundedSender<Command>,
    record: Option<(RecordWriter, RecordKey)>,
}

/// Every live AI engagement of the process.
#[derive(Clone)]
pub struct Live {
    inner: Arc<Inner>,
}

struct Inner {
    /// What agents are doing (on a call, wrapping up), beside the AI engagements.
    agents: crate::calls::activity::Activity,
    /// Calls that can be recorded now, and their recordings.
    recordings: crate::calls::recording::Recordings,
    /// Calls a card payment can be taken on, and the payments being taken.
    payments: crate::calls::payment::Payments,
    /// Agents' requests to let a call their class of service refused through.
    overrides: crate::calls::overrides::Overrides,
    /// Where the web app's transfers go (the call router).
    transfers: crate::calls::transfer::Transfers,
    /// Warm transfers and conferences asked by the web app, and the live conferences.
    conferences: crate::calls::conference::Conferences,
    /// Coaching of agents on queue calls.
    coaching: crate::calls::coach::Coaching,
    entries: Mutex<HashMap<u64, Entry>>,
    updates: broadcast::Sender<Update>,
    next: AtomicU64,
    /// Engagements on other nodes of a cluster, by id.
    remote: Mutex<HashMap<u64, RemoteEngagement>>,
}

impl Default for Live {
    fn default() -> Self {
        Live::new()
    }
}

pub use crate::clock::now_ms;

/// What a new engagement is.
pub struct Start {
    pub account: i64,
    pub call_id: Option<i64>,
    pub caller: Option<String>,
    pub customer: Option<String>,
    pub agent: String,
    pub brain: String,
    pub record: Option<(RecordWriter, RecordKey)>,
}

/// The engagement's side: notes for the session, commands for the driver.
pub struct Inbox {
    pub notes: mpsc::UnboundedReceiver<Note>,
    pub commands: mpsc::UnboundedReceiver<Command>,
}

impl Live {
    /// What agents are doing now (on a call, wrapping up).
    pub fn agents(&self) -> &crate::calls::activity::Activity {
        &self.inner.agents
    }

    /// Calls that can be recorded now, and their recordings.
    pub fn recordings(&self) -> &crate::calls::recording::Recordings {
        &self.inner.recordings
    }

    /// Class-of-service override requests (see `calls::overrides`).
    pub fn overrides(&self) -> &crate::calls::overrides::Overrides {
        &self.inner.overrides
    }

    /// Card payments on live calls (see `calls::payment`).
    pub fn payments(&self) -> &crate::calls::payment::Payments {
        &self.inner.payments
    }

    /// Transfers of live calls (see `calls::transfer`).
    pub fn transfers(&self) -> &crate::calls::transfer::Transfers {
        &self.inner.transfers
    }

    /// Joined calls and conferences (see `calls::conference`).
    pub fn conferences(&self) -> &crate::calls::conference::Conferences {
        &self.inner.conferences
    }

    /// Live AI coaching of agents on queue calls (see `calls::coach`).
    pub fn coaching(&self) -> &crate::calls::coach::Coaching {
        &self.inner.coaching
    }

    pub fn new() -> Live {
        let (updates, _) = broadcast::channel(4096);
        let live = Live {
            inner: Arc::new(Inner {
                agents: Default::default(),
                recordings: Default::default(),
                payments: Default::default(),
                overrides: Default::default(),
                transfers: Default::default(),
                conferences: Default::default(),
                coaching: Default::default(),
                entries: Mutex::default(),
                updates,
                next: AtomicU64::new(1),
                remote: Mutex::default(),
            }),
        };
        // Silence grows with time: re-evaluate quiet tiles every second.
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let weak = Arc::downgrade(&live.inner);
            rt.spawn(async move {
                let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
                loop {
                    tick.tick().await;
                    let Some(inner) = weak.upgrade() else { return };
                    // A fault in one re-evaluation is logged; the ticker goes on.
                    let live = Live { inner };
                    if let Err(payload) =
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| live.refresh_quiet()))
                    {
                        let message = switchboard_telephony::driver::panic_message(payload.as_ref());
                        tracing::error!(panic = %message, "the live view's ticker panicked; it goes on");
                    }
                }
            });
        }
        live
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Entry>> {
        self.inner.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers an engagement; it stays until the returned handle is dropped.
    pub fn start(&self, start: Start) -> (LiveCall, Inbox) {
        let id = self.inner.next.fetch_add(1, Ordering::Relaxed);
        let now = now_ms();
        let (notes_tx, notes) = mpsc::unbounded_channel();
        let (commands_tx, commands) = mpsc::unbounded_channel();
        let tile = Tile {
            id,
            call_id: start.call_id,
            caller: start.caller,
            customer: start.customer,
            agent: start.agent,
            brain: start.brain,
            started_at: now,
            state: AiState::Listening,
            state_since: now,
            health: Health::default(),
            alerts: Vec::new(),
            severity: 0,
            approval: None,
            supervisor: None,
        };
        let account = start.account;
        self.lock().insert(
            id,
            Entry {
                account,
                tile: tile.clone(),
                transcript: Vec::new(),
                events: Vec::new(),
                notes: notes_tx,
                commands: commands_tx,
                record: start.record,
            },
        );
        self.send(account, id, true, json!({ "type": "tile", "tile": tile }));
        (LiveCall { live: self.clone(), id, account }, Inbox { notes, commands })
    }

    fn send(&self, account: i64, id: u64, tile: bool, message: Value) {
        let _ = self.inner.updates.send(Update { account, id, tile, message });
    }

    /// Updates for feeds (filter by account).
    /// AI calls live now, in every account.
    pub fn engagements(&self) -> usize {
        self.inner.entries.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Update> {
        self.inner.updates.subscribe()
    }

    /// The account's live tiles, most severe first.
    pub fn tiles(&self, account: i64) -> Vec<Tile> {
        let mut tiles: Vec<Tile> =
            self.lock().values().filter(|e| e.account == account).map(|e| e.tile.clone()).collect();
        sort_tiles(&mut tiles);
        tiles
    }

    pub fn detail(&self, account: i64, id: u64) -> Option<Detail> {
        let entries = self.lock();
        let e = entries.get(&id).filter(|e| e.account == account)?;
        Some(Detail { tile: e.tile.clone(), transcript: e.transcript.clone(), events: e.events.clone() })
    }

    /// A supervisor's note to the AI of engagement `id` (audited in the call's timeline).
    pub fn note(&self, account: i64, id: u64, by: &str, kind: NoteKind, text: &str) -> Option<u64> {
        let note_id = self.inner.next.fetch_add(1, Ordering::Relaxed);
        let note = Note { id: note_id, by: by.to_string(), text: text.to_string(), kind };
        {
            let entries = self.lock();
            let e = entries.get(&id).filter(|e| e.account == account)?;
            e.notes.send(note).ok()?;
        }
        let data =
            json!({ "note_id": note_id, "by": by, "kind": kind, "text": crate::prompt::redact_cards(text) });
        self.with_entry(id, |e| e.event("supervisor_note", data));
        Some(note_id)
    }

    /// A supervisor takes engagement `id` over on `extension`.
    pub fn take_over(&self, account: i64, id: u64, by: &str, extension: &str) -> Option<()> {
        let command = Command::TakeOver { extension: extension.to_string(), by: by.to_string() };
        self.command(account, id, command, "supervisor_takeover", by, extension)
    }

    /// A supervisor listens in on engagement `id` from `extension`.
    pub fn listen(&self, account: i64, id: u64, by: &str, extension: &str) -> Option<()> {
        let command = Command::Listen { extension: extension.to_string(), by: by.to_string() };
        self.command(account, id, command, "supervisor_listen", by, extension)
    }

    fn command(
        &self,
        account: i64,
        id: u64,
        command: Command,
        kind: &str,
        by: &str,
        extension: &str,
    ) -> Option<()> {
        {
            let entries = self.lock();
            let e = entries.get(&id).filter(|e| e.account == account)?;
            e.commands.send(command).ok()?;
        }
        let data = json!({ "by": by, "extension": extension });
        self.with_entry(id, |e| {
            let phone = if extension.starts_with("user-") { "browser" } else { extension };
            e.tile.supervisor = Some(format!("{by} ({phone})"));
            e.event(kind, data)
        });
        Some(())
    }

    fn with_entry(&self, id: u64, f: impl FnOnce(&mut Entry) -> Vec<(bool, Value)>) {
        let (account, out) = {
            let mut entries = self.lock();
            let Some(e) = entries.get_mut(&id) else { return };
            let out = f(e);
            (e.account, out)
        };
        for (tile, message) in out {
            self.send(account, id, tile, message);
        }
    }

    fn refresh_quiet(&self) {
        let now = now_ms();
        let ids: Vec<u64> = self
            .lock()
            .iter()
            .filter(|(_, e)| e.tile.health.quiet_since.is_some())
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            self.with_entry(id, |e| e.retile(now, false));
        }
    }
}

fn sort_tiles(tiles: &mut [Tile]) {
    tiles.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.started_at.cmp(&b.started_at)));
}

impl Entry {
    fn set_state(&mut self, state: AiState) -> Vec<(bool, Value)> {
        if self.tile.state == state || self.tile.state == AiState::TakenOver {
            return Vec::new();
        }
        let now = now_ms();
        self.tile.state = state;
        self.tile.state_since = now;
        self.tile.health.quiet_since = (state == AiState::Listening).then_some(now);
        self.retile(now, true)
    }

    /// Recomputes alerts; the tile message when something changed (or `force`).
    fn retile(&mut self, now: i64, force: bool) -> Vec<(bool, Value)> {
        let alerts = self.tile.health.alerts(now, self.tile.approval.is_some());
        if !force && alerts == self.tile.alerts {
            return Vec::new();
        }
        self.tile.severity = severity(&alerts);
        self.tile.alerts = alerts;
        vec![(true, json!({ "type": "tile", "tile": self.tile }))]
    }

    /// Keeps an event, writes it into the call's timeline, and passes it on.
    fn event(&mut self, kind: &str, data: Value) -> Vec<(bool, Value)> {
        if let Some((records, key)) = &self.record {
            records.event(*key, kind, data.clone());
        }
        self.keep_event(kind, data)
    }

    fn keep_event(&mut self, kind: &str, data: Value) -> Vec<(bool, Value)> {
        let event = Event { kind: kind.to_string(), data, at: now_ms() };
        let mut out = vec![(false, json!({ "type": "event", "id": self.tile.id, "event": event }))];
        self.events.push(event);
        if self.events.len() > KEEP {
            self.events.remove(0);
        }
        out.extend(self.retile(now_ms(), true));
        out
    }
}

/// The driver's handle on its engagement; dropping it ends the engagement.
pub struct LiveCall {
    live: Live,
    id: u64,
    account: i64,
}

impl LiveCall {
    pub fn id(&self) -> u64 {
        self.id
    }

    pub fn state(&self, state: AiState) {
        self.live.with_entry(self.id, |e| e.set_state(state));
    }

    pub fn set_call_id(&self, id: i64) {
        self.live.with_entry(self.id, |e| {
            e.tile.call_id = Some(id);
            e.retile(now_ms(), true)
        });
    }

    /// The caller is speaking (while the AI listens): not a silence.
    pub fn caller_speaking(&self, speaking: bool) {
        self.live.with_entry(self.id, |e| {
            let now = now_ms();
            let quiet = (!speaking && e.tile.state == AiState::Listening).then_some(now);
            if e.tile.health.quiet_since.is_none() && quiet.is_none() {
                return Vec::new();
            }
            e.tile.health.quiet_since = quiet;
            e.retile(now, false)
        });
    }

    /// What the caller is saying so far.
    pub fn partial(&self, text: &str) {
        let text = crate::prompt::redact_cards(text.trim());
        if text.is_empty() {
            return;
        }
        self.live.with_entry(self.id, |e| {
            let line = Line { speaker: "caller".into(), text, at: now_ms(), partial: true };
            if e.transcript.last().is_some_and(|l| l.partial) {
                e.transcript.pop();
            }
            e.transcript.push(line.clone());
            vec![(false, json!({ "type": "transcript", "id": e.tile.id, "line": line }))]
        });
    }

    /// The confidence of the caller's last recognised turn.
    pub fn confidence(&self, confidence: Option<f32>) {
        self.live.with_entry(self.id, |e| {
            e.tile.health.last_confidence = confidence;
            if confidence.is_some_and(|c| c < LOW_CONFIDENCE) {
                e.tile.health.low_confidence_turns += 1;
            }
            e.retile(now_ms(), false)
        });
    }

    /// An event of the session (already written to the call record by the session): transcript
    /// lines, tool calls, hand-offs, latency, guidance acknowledgements.
    pub fn observed(&self, kind: &str, data: Value) {
        self.live.with_entry(self.id, |e| {
            let h = &mut e.tile.health;
            match kind {
                "transcript" => {
                    let speaker = data["speaker"].as_str().unwrap_or("?").to_string();
                    let text = data["text"].as_str().unwrap_or_default().to_string();
                    let caller_line = speaker == "caller";
                    if caller_line {
                        h.turns += 1;
                        if sounds_negative(&text) {
                            h.negative_turns += 1;
                        }
                        if asks_for_human(&text) {
                            h.asked_for_human = true;
                        }
                    }
                    if e.transcript.last().is_some_and(|l| l.partial) && speaker == "caller" {
                        e.transcript.pop();
                    }
                    let line = Line { speaker, text, at: now_ms(), partial: false };
                    e.transcript.push(line.clone());
                    if e.transcript.len() > KEEP {
                        e.transcript.remove(0);
                    }
                    let mut out = vec![(false, json!({ "type": "transcript", "id": e.tile.id, "line": line }))];
                    // A caller's line changes the turn count (and maybe the alerts).
                    out.extend(e.retile(now_ms(), caller_line));
                    return out;
                }
                "tools_started" => {
                    // Shown, not kept: the tool calls themselves follow as events.
                    return e.set_state(AiState::RunningTool);
                }
                "tool_call" if data.get("error").is_some() => h.tool_errors += 1,
                "interrupted" => h.interruptions += 1,
                "handoff" => h.asked_for_human |= data["reason"].as_str().is_some_and(|r| r.contains("person") || r.contains("keypad")),
                "ai_fallback" => h.ai_failed = true,
                "latency" => {
                    if let Some(ms) = data["first_audio_ms"].as_u64().or(data["first_packet_ms"].as_u64()) {
                        h.add_latency(ms);
                    }
                }
                "approval_needed" => {
                    e.tile.approval = Some(json!({ "tool": data["tool"], "arguments": data["arguments"], "requested_at": now_ms() }));
                    let mut out = e.set_state(AiState::WaitingForApproval);
                    out.extend(e.keep_event(kind, data));
                    return out;
                }
                "approval_given" | "approval_refused" | "approval_timed_out" => e.tile.approval = None,
                _ => {}
            }
            e.keep_event(kind, data)
        });
    }

    /// A driver event that the session does not know of, written to the timeline too.
    pub fn event(&self, kind: &str, data: Value) {
        self.live.with_entry(self.id, |e| {
            if matches!(kind, "takeover_failed" | "listen_failed" | "listen_ended") {
                e.tile.supervisor = None;
            }
            e.event(kind, data)
        });
    }
}

impl Drop for LiveCall {
    fn drop(&mut self) {
        if self.live.lock().remove(&self.id).is_some() {
            self.live.send(self.account, self.id, true, json!({ "type": "ended", "id": self.id }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start(live: &Live, account: i64) -> (LiveCall, Inbox) {
        live.start(Start {
            account,
            call_id: None,
            caller: Some("+15555550100".into()),
            customer: None,
            agent: "a".into(),
            brain: "llm".into(),
            record: None,
        })
    }

    #[test]
    fn signals_raise_alerts_and_sort_tiles_by_severity() {
        let live = Live::new();
        let (calm, _i1) = start(&live, 1);
        let (upset, _i2) = start(&live, 1);
        let (_other, _i3) = start(&live, 2);
        upset.observed(
            "transcript",
            json!({"speaker": "caller", "text": "This is ridiculous, I want a person"}),
        );
        upset.observed("tool_call", json!({"tool": "lookup_order", "error": "timed out"}));
        calm.observed("latency", json!({"first_audio_ms": 400}));
        let tiles = live.tiles(1);
        assert_eq!(tiles.len(), 2, "only the account's own engagements");
        assert_eq!(tiles[0].id, upset.id());
        let kinds: Vec<&str> = tiles[0].alerts.iter().map(|a| a.kind).collect();
        assert_eq!(kinds, ["asked_for_human", "negative_sentiment", "tool_errors"]);
        assert_eq!(tiles[1].health.last_latency_ms, Some(400));
        assert!(tiles[1].alerts.is_empty());
        // What the AI does shows on the tile.
        calm.observed("tools_started", json!({"tools": ["lookup_order"]}));
        assert_eq!(live.tiles(1)[1].state, AiState::RunningTool);
        calm.observed("approval_needed", json!({"tool": "refund", "arguments": {}}));
        let tile = live.tiles(1).into_iter().find(|t| t.id == calm.id()).unwrap();
        assert_eq!(tile.state, AiState::WaitingForApproval);
        assert_eq!(tile.alerts[0].kind, "approval_needed", "a pending approval is a problem");
        calm.observed("approval_given", json!({"tool": "refund"}));
        calm.state(AiState::Speaking);
        let tile = live.tiles(1).into_iter().find(|t| t.id == calm.id()).unwrap();
        assert!(tile.approval.is_none() && tile.alerts.is_empty() && tile.state == AiState::Speaking);
        drop(upset);
        assert_eq!(live.tiles(1).len(), 1, "an ended engagement leaves the grid");
    }

    #[test]
    fn silence_and_latency_thresholds() {
        let mut h = Health { quiet_since: Some(0), ..Default::default() };
        assert!(h.alerts(LONG_SILENCE_MS - 1, false).is_empty());
        assert_eq!(h.alerts(LONG_SILENCE_MS, false)[0].level, Level::Warning);
        assert_eq!(h.alerts(2 * LONG_SILENCE_MS, false)[0].level, Level::Problem);
        h.quiet_since = None;
        for ms in [300, 400, 2_000] {
            h.add_latency(ms);
        }
        assert_eq!(h.p95_latency_ms, Some(2_000));
        assert_eq!(h.alerts(0, false)[0].kind, "slow_turn");
        assert_eq!(h.alerts(0, true)[0].kind, "approval_needed");
    }

    #[test]
    fn sentiment_words_match_whole_words() {
        assert!(sounds_negative("This is RIDICULOUS."));
        assert!(sounds_negative("I'm not happy with this"));
        assert!(!sounds_negative("I hated nothing; thanks")); // "hated" is not "hate"
        assert!(!sounds_negative("Where is my order?"));
        assert!(asks_for_human("Can I talk to a person please"));
        assert!(!asks_for_human("Where is my order?"));
    }

    #[tokio::test]
    async fn notes_reach_only_their_own_accounts_engagement() {
        let live = Live::new();
        let (call, mut inbox) = start(&live, 1);
        let mut feed = live.subscribe();
        assert!(live.note(2, call.id(), "eve", NoteKind::Advice, "hi").is_none(), "another account");
        let id = live.note(1, call.id(), "sam", NoteKind::Advice, "offer express shipping").unwrap();
        let note = inbox.notes.try_recv().unwrap();
        assert_eq!((note.id, note.by.as_str(), note.kind), (id, "sam", NoteKind::Advice));
        let update = feed.recv().await.unwrap();
        assert_eq!(update.account, 1);
        assert_eq!(update.message["event"]["kind"], "supervisor_note");
        live.take_over(1, call.id(), "sam", "101").unwrap();
        assert_eq!(
            inbox.commands.try_recv().unwrap(),
            Command::TakeOver { extension: "101".into(), by: "sam".into() }
        );
    }
}
