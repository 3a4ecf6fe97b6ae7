//! The AI agent runtime, text level: one conversation between a caller and an AI agent. The
//! agent's brain (an LLM with tools, or the offline guided agent) answers each caller turn as a
//! stream of sentences; tools run checked and timed out; call-control tools (transfer,
//! take_message, end_call) end the turn with what the call should do next; failures end it
//! with a fallback. Everything goes into the call record (transcript, tool calls, hand-off,
//! tokens and cost). The voice driver (`voice.rs`) and `switchboard agent chat` both drive it.

pub mod guided;
mod llm_turn;
pub mod replay;
pub mod speech_usage;
pub mod voice;
pub mod warm_up;

use crate::db::Db;
use crate::live::{Note, NoteKind};
use crate::llm::{ChatMessage, LlmClient, OpenAiCompatible, Role, Usage};
use crate::model::{AiAgent, BuiltinTool, Target, ToolDefinition};
use crate::prompt::{self, CallerFacts};
use crate::store::calls::{self, RecordKey, RecordWriter, TranscriptLine};
use crate::store::{accounts, config};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use switchboard_speech::text::SentenceChunker;
use switchboard_tools::commerce::{CommerceStore, CustomerKey};
use switchboard_tools::control::ControlRequest;
use switchboard_tools::{CallContext, Tool};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Tool rounds per caller turn (a model that keeps calling tools is stopped).
const MAX_ROUNDS: usize = 4;
/// How long a tool that needs approval waits for a supervisor before it is refused.
pub const APPROVAL_TIMEOUT: Duration = Duration::from_secs(60);

/// What the call does after a turn.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    /// Keep listening to the caller.
    Listen,
    /// Hand the caller to a person (or wherever `target` says) with a summary for them.
    Transfer { target: Target, summary: String, reason: String },
    /// Let the caller leave a message.
    TakeMessage { summary: String },
    /// Goodbye said; hang up.
    Hangup { reason: String },
    /// The AI failed (LLM, speech, tool outage): apologise and go to the fallback target.
    Fallback { target: Target, reason: String },
}

/// When the pieces of a turn happened (for the latency waterfall).
#[derive(Debug, Clone, Default)]
pub struct TurnTimes {
    pub started: Option<Instant>,
    pub first_token: Option<Instant>,
    pub first_sentence: Option<Instant>,
}

/// Which brain answers.
enum Brain {
    /// `limits`: how long the model may take to start, and stall once started (the agent's
    /// `first_token_timeout_ms`, default 1.2 s: apology and transfer within 2 s of the turn).
    Llm {
        client: Arc<dyn LlmClient>,
        model: String,
        temperature: f32,
        prices: (f64, f64),
        limits: (Duration, Duration),
    },
    Guided(guided::GuidedBrain),
}

/// Everything a session needs to start.
pub struct SessionSetup {
    pub db: Db,
    pub records: RecordWriter,
    pub account: i64,
    pub agent: String,
    pub caller_number: Option<String>,
    pub record: Option<RecordKey>,
}

/// One conversation with an AI agent.
pub struct Session {
    pub agent: AiAgent,
    ctx: CallContext,
    facts: CallerFacts,
    tools: Vec<Arc<dyn Tool>>,
    /// Tools whose every call a supervisor must approve first (LLM brain only).
    needs_approval: Vec<String>,
    history: Vec<ChatMessage>,
    guidance: Vec<String>,
    brain: Brain,
    records: RecordWriter,
    record: Option<RecordKey>,
    usage: Usage,
    /// When the conversation started (transcript times are relative to it).
    started: Instant,
    pub times: TurnTimes,
    /// Gets every timeline event and transcript line as it happens (chat, supervisors).
    observer: Option<mpsc::UnboundedSender<(String, Value)>>,
    /// Supervisors' notes (advice and approvals), read at each turn and while a tool waits.
    notes: Option<mpsc::UnboundedReceiver<Note>>,
    /// Advice received and not yet in a turn's context.
    unacknowledged: Vec<Note>,
    /// Approvals or refusals sent before any tool asked: used by the next tool that needs one.
    standing: std::collections::VecDeque<Note>,
    /// When the caller said the next turn (see `caller_said_at`).
    caller_span: Option<(i64, i64)>,
    /// Cloud speech used on the call (priced by a voice call; free and empty otherwise).
    pub speech: Arc<speech_usage::SpeechMeter>,
}

/// Errors setting a session up.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("no AI agent named {0}")]
    NoAgent(String),
    #[error(transparent)]
    Store(#[from] crate::Error),
    #[error("the guided agent cannot start: {0}")]
    Guided(String),
}

impl Session {
    /// Loads the agent, its tools and what is known about the caller.
    pub async fn start(setup: SessionSetup) -> Result<Session, SetupError> {
        let started = Instant::now();
        let SessionSetup { db, records, account, agent, caller_number, record } = setup;
        let agent = config::get_by_key::<AiAgent>(&db, account, &agent)
            .await?
            .ok_or_else(|| SetupError::NoAgent(agent.clone()))?
            .spec;
        let allow_private = accounts::get(&db, account).await.map(|a| a.settings.allow_private_webhooks)?;
        let store: Arc<dyn CommerceStore> = Arc::new(crate::agenttools::DbStore(db.clone()));
        // The caller's customer, by number, before the first turn.
        let customer_id = match &caller_number {
            Some(n) => store
                .customers(account, CustomerKey::Phone(n.clone()))
                .await
                .ok()
                .and_then(|c| c.first().and_then(|c| c["id"].as_i64())),
            None => None,
        };
        let facts = prompt::caller_facts(store.as_ref(), account, caller_number.clone(), customer_id).await;
        let (mut tools, needs_approval) = agent_tools(&db, account, &agent, store, allow_private).await?;
        if agent.llm.is_none() && !needs_approval.is_empty() {
            // The guided agent cannot wait for a supervisor: it does without those tools.
            tracing::warn!(agent = %agent.name, tools = ?needs_approval, "the guided agent leaves out tools that need approval");
            tools.retain(|t| !needs_approval.contains(&t.spec().name));
        }
        let brain = match &agent.llm {
            Some(llm) => Brain::Llm {
                client: Arc::new(OpenAiCompatible::new(&llm.base_url, llm.api_key.clone())),
                model: llm.model.clone(),
                temperature: llm.temperature,
                prices: (llm.input_usd_per_million_tokens, llm.output_usd_per_million_tokens),
                limits: (
                    Duration::from_millis(llm.first_token_timeout_ms.into()),
                    Duration::from_millis(llm.stall_timeout_ms.into()),
                ),
            },
            None => Brain::Guided(
                guided::GuidedBrain::new(&agent, &tools)
                    .await
                    .map_err(|e| SetupError::Guided(e.to_string()))?,
            ),
        };
        if let Some(key) = record {
            records.details(
                key,
                calls::Details { ai_agent: Some(agent.name.clone()), customer_id, ..Default::default() },
            );
        }
        Ok(Session {
            agent,
            ctx: CallContext { account, caller_number, customer_id },
            facts,
            tools,
            needs_approval,
            history: Vec::new(),
            guidance: Vec::new(),
            brain,
            records,
            record,
            usage: Usage::default(),
            started,
            times: TurnTimes::default(),
            observer: None,
            notes: None,
            unacknowledged: Vec::new(),
            standing: Default::default(),
            caller_span: None,
            speech: Default::default(),
        })
    }

    /// Uses `client` as the brain instead of the agent's configured endpoint (tests, benchmarks).
    pub fn with_llm(mut self, client: Arc<dyn LlmClient>) -> Self {
        if let Brain::Llm { client: c, .. } = &mut self.brain {
            *c = client;
        }
        self
    }

    /// Gives the agent a tool only a live call has (`take_payment`), if it lists that tool.
    pub fn add_call_tool(&mut self, tool: Arc<dyn Tool>) {
        let name = tool.spec().name.clone();
        if self.agent.tools.contains(&name) && !self.tools.iter().any(|t| t.spec().name == name) {
            self.tools.push(tool);
        }
    }

    /// The customer the caller was matched to.
    pub fn customer(&self) -> Option<&Value> {
        self.facts.customer.as_ref()
    }

    pub fn brain_name(&self) -> &'static str {
        match self.brain {
            Brain::Llm { .. } => "llm",
            Brain::Guided(_) => "guided",
        }
    }

    /// Every event and transcript line from now on, as (kind, data).
    pub fn observe(&mut self) -> mpsc::UnboundedReceiver<(String, Value)> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.observer = Some(tx);
        rx
    }

    /// Tells whoever watches (not the call record).
    fn notify(&self, kind: &str, data: Value) {
        if let Some(o) = &self.observer {
            let _ = o.send((kind.to_string(), data));
        }
    }

    fn event(&self, kind: &str, data: Value) {
        if let Some(o) = &self.observer {
            let _ = o.send((kind.to_string(), data.clone()));
        }
        if let Some(key) = self.record {
            self.records.event(key, kind, data);
        }
    }

    /// Milliseconds since the conversation started.
    pub fn since_start_ms(&self) -> i64 {
        self.started.elapsed().as_millis() as i64
    }

    /// When the caller said what the next `respond` is given (ms since the start), for its
    /// transcript line; without it the line gets the time it was written.
    pub fn caller_said_at(&mut self, start_ms: i64, end_ms: i64) {
        self.caller_span = Some((start_ms, end_ms.max(start_ms)));
    }

    /// Adds a line to the call's transcript: said from `span.0` to `span.1` (ms since the start),
    /// or, without a span, at the time it is written.
    pub fn transcript(&self, speaker: &str, text: &str, span: Option<(i64, i64)>) {
        if let Some(o) = &self.observer {
            let _ = o.send((
                "transcript".into(),
                json!({ "speaker": speaker, "text": prompt::redact_cards(text) }),
            ));
        }
        if let (Some(key), false) = (self.record, text.trim().is_empty()) {
            let now = self.since_start_ms();
            let (start_ms, end_ms) = span.unwrap_or((now, now));
            self.records.transcript(
                key,
                TranscriptLine {
                    speaker: speaker.into(),
                    name: None,
                    start_ms,
                    end_ms,
                    text: prompt::redact_cards(text),
                },
            );
        }
    }

    /// The greeting, spoken first (and kept in the conversation).
    pub fn greeting(&mut self) -> String {
        let mut text = self.agent.greeting.clone();
        if let (Some(name), Brain::Guided(_)) =
            (self.facts.customer.as_ref().and_then(|c| c["name"].as_str()), &self.brain)
        {
            // The guided agent greets known callers by name; an LLM is told the name instead.
            let first = name.split_whitespace().next().unwrap_or(name);
            text = greet_by_name(&text, first);
        }
        self.history.push(ChatMessage::new(Role::Assistant, text.clone()));
        self.transcript("ai", &text, None);
        text
    }

    /// Private guidance from a supervisor: enters the context at the next turn.
    pub fn add_guidance(&mut self, text: &str) {
        self.guidance.push(text.to_string());
        self.event("guidance", json!({ "text": prompt::redact_cards(text) }));
    }

    /// Where supervisors' notes arrive (the live view's inbox for this call).
    pub fn take_notes_from(&mut self, notes: mpsc::UnboundedReceiver<Note>) {
        self.notes = Some(notes);
    }

    /// Reads the notes that arrived: advice waits for the next turn, approvals stand.
    fn read_notes(&mut self) {
        let Some(rx) = self.notes.as_mut() else { return };
        let mut arrived = Vec::new();
        while let Ok(note) = rx.try_recv() {
            arrived.push(note);
        }
        for note in arrived {
            self.file_note(note);
        }
    }

    fn file_note(&mut self, note: Note) {
        match note.kind {
            NoteKind::Advice => {
                self.guidance.push(note.text.clone());
                self.unacknowledged.push(note);
            }
            NoteKind::Approve | NoteKind::Deny => self.standing.push_back(note),
        }
    }

    /// The advice now in the AI's context is acknowledged, each note in the timeline.
    fn acknowledge_notes(&mut self) {
        let used = matches!(self.brain, Brain::Llm { .. });
        for note in std::mem::take(&mut self.unacknowledged) {
            self.event(
                "guidance_acknowledged",
                json!({
                    "note_id": note.id,
                    "by": note.by,
                    "text": prompt::redact_cards(&note.text),
                    // The guided agent answers from templates: it keeps the note but cannot act on it.
                    "in_context": used,
                }),
            );
        }
    }

    /// Waits for a supervisor to approve `call` (a standing note, or one that arrives within
    /// `APPROVAL_TIMEOUT`). Err carries why it may not run.
    async fn approval(&mut self, tool: &str, arguments: &str) -> Result<(), String> {
        let args: Value = serde_json::from_str(arguments).unwrap_or(Value::String(arguments.to_string()));
        let decide = |s: &mut Self, note: Note| {
            let data = json!({ "tool": tool, "note_id": note.id, "by": note.by, "text": prompt::redact_cards(&note.text) });
            match note.kind {
                NoteKind::Approve => {
                    s.event("approval_given", data);
                    Ok(())
                }
                _ => {
                    s.event("approval_refused", data);
                    Err(format!(
                        "a supervisor did not approve {tool}{}",
                        if note.text.trim().is_empty() {
                            String::new()
                        } else {
                            format!(": {}", note.text.trim())
                        }
                    ))
                }
            }
        };
        self.read_notes();
        if let Some(note) = self.standing.pop_front() {
            return decide(self, note);
        }
        self.event("approval_needed", json!({ "tool": tool, "arguments": args }));
        let until = Instant::now() + APPROVAL_TIMEOUT;
        while let Some(rx) = self.notes.as_mut() {
            match tokio::time::timeout_at(until, rx.recv()).await {
                Ok(Some(note)) if note.kind == NoteKind::Advice => self.file_note(note),
                Ok(Some(note)) => return decide(self, note),
                Ok(None) | Err(_) => break,
            }
        }
        self.event("approval_timed_out", json!({ "tool": tool }));
        Err(format!("no supervisor approved {tool} in time; tell the caller someone will follow up"))
    }

    /// The caller interrupted the agent: only `heard` of the last reply was played, and the
    /// conversation keeps that, not what was planned.
    ///
    /// The answer may have been cut before it was complete: tool calls it made whose results
    /// never came get a result saying so (a model's API refuses a call without one), and when
    /// its text never reached the history it is added as far as it was heard. An earlier
    /// turn's answer is never touched.
    pub fn interrupted(&mut self, heard: &str) {
        let this_turn = self.history.iter().rposition(|m| m.role == Role::User).map_or(0, |u| u + 1);
        let answered: std::collections::HashSet<String> =
            self.history[this_turn..].iter().filter_map(|m| m.tool_call_id.clone()).collect();
        let unanswered: Vec<String> = self.history[this_turn..]
            .iter()
            .flat_map(|m| &m.tool_calls)
            .filter(|c| !answered.contains(&c.id))
            .map(|c| c.id.clone())
            .collect();
        for id in unanswered {
            let mut result =
                ChatMessage::new(Role::Tool, json!({ "error": "interrupted by the caller" }).to_string());
            result.tool_call_id = Some(id);
            self.history.push(result);
        }
        let note = format!("{} [interrupted by the caller]", heard.trim()).trim_start().to_string();
        let this_answer = self.history.len() > this_turn;
        match self.history.last_mut() {
            Some(last) if this_answer && last.role == Role::Assistant && last.tool_calls.is_empty() => {
                last.content = note
            }
            _ => self.history.push(ChatMessage::new(Role::Assistant, note)),
        }
        self.event("interrupted", json!({ "heard": heard }));
    }

    /// Where failures go.
    pub fn fallback_target(&self) -> Target {
        self.agent.fallback_target.clone().unwrap_or_else(|| self.agent.escalation_target.clone())
    }

    /// The AI failed: recorded with its reason, and the caller goes to the fallback target.
    pub fn fail(&self, reason: &str) -> Next {
        tracing::warn!(agent = %self.agent.name, %reason, "AI agent failed; caller goes to the fallback");
        self.event("ai_fallback", json!({ "reason": reason, "target": self.fallback_target() }));
        Next::Fallback { target: self.fallback_target(), reason: reason.to_string() }
    }

    /// The caller pressed 0 or asked for a person by keypad.
    pub fn escalate(&self, reason: &str) -> Next {
        let summary = self.summary();
        self.event(
            "handoff",
            json!({ "target": self.agent.escalation_target, "summary": summary, "reason": reason }),
        );
        if let Some(key) = self.record {
            self.records
                .details(key, calls::Details { summary: Some(summary.clone()), ..Default::default() });
        }
        Next::Transfer { target: self.agent.escalation_target.clone(), summary, reason: reason.into() }
    }

    /// A short summary for the person who takes over: who calls, what they said last.
    pub fn summary(&self) -> String {
        let who = self
            .facts
            .customer
            .as_ref()
            .and_then(|c| c["name"].as_str().map(str::to_string))
            .or_else(|| self.ctx.caller_number.clone())
            .unwrap_or_else(|| "An unknown caller".into());
        let asked: Vec<&str> =
            self.history.iter().filter(|m| m.role == Role::User).map(|m| m.content.as_str()).collect();
        let last = asked.iter().rev().take(2).rev().cloned().collect::<Vec<_>>().join(" / ");
        prompt::redact_cards(&if last.is_empty() {
            format!("{who}; nothing said yet.")
        } else {
            format!("{who} said: \"{last}\"")
        })
    }

    /// One caller turn: `text` is what they said; each sentence of the answer goes to `say` as
    /// soon as it is complete. Returns what the call does next. Dropping the future (barge-in)
    /// stops the answer; call `interrupted` with what was heard.
    pub async fn respond(&mut self, text: &str, say: &mpsc::UnboundedSender<String>) -> Next {
        let text = text.trim();
        let span = self.caller_span.take();
        self.transcript("caller", text, span);
        self.history.push(ChatMessage::new(Role::User, text));
        self.answer(text, say).await
    }

    /// The caller acknowledged what the agent is saying ("yeah", "mm-hm"): kept in the
    /// transcript, not a turn to answer.
    pub fn acknowledged(&mut self, text: &str) {
        let span = self.caller_span.take();
        self.transcript("caller", text.trim(), span);
    }

    /// Answers the caller's last words again: the answer to them was cut because the caller
    /// went on speaking, and what followed turned out to be no words (a cough, a noise).
    pub async fn answer_again(&mut self, say: &mpsc::UnboundedSender<String>) -> Next {
        let text = self
            .history
            .iter()
            .rev()
            .find(|m| m.role == Role::User)
            .map(|m| m.content.clone())
            .unwrap_or_default();
        self.answer(&text, say).await
    }

    /// The caller went on speaking before the answer to their last words was heard: the answer
    /// is given up (the next turn's words follow the last ones, and the model answers both).
    /// What the answer already did stays in the conversation, marked as interrupted; an answer
    /// that neither spoke nor called a tool leaves no trace but the timeline's.
    pub fn continued(&mut self, heard: &str) {
        let this_turn = self.history.iter().rposition(|m| m.role == Role::User).map_or(0, |u| u + 1);
        if self.history.len() > this_turn || !heard.trim().is_empty() {
            self.interrupted(heard);
        }
        self.event("caller_continued", json!({ "heard": heard }));
    }

    async fn answer(&mut self, text: &str, say: &mpsc::UnboundedSender<String>) -> Next {
        self.times = TurnTimes { started: Some(Instant::now()), ..Default::default() };
        self.read_notes();
        self.acknowledge_notes();
        let next = match &self.brain {
            Brain::Llm { .. } => self.respond_llm(say).await,
            Brain::Guided(_) => self.respond_guided(text, say).await,
        };
        let reply: String = self
            .history
            .iter()
            .rev()
            .take_while(|m| m.role != Role::User)
            .filter(|m| m.role == Role::Assistant && !m.content.is_empty())
            .map(|m| m.content.clone())
            .collect::<Vec<_>>()
            .join(" ");
        let latency = |t: Option<Instant>| {
            t.zip(self.times.started).map(|(t, s)| t.saturating_duration_since(s).as_millis() as u64)
        };
        self.event(
            "ai_turn",
            json!({
                "caller": prompt::redact_cards(text),
                "reply": reply,
                "first_token_ms": latency(self.times.first_token),
                "first_sentence_ms": latency(self.times.first_sentence),
            }),
        );
        next
    }

    fn say(&mut self, say: &mpsc::UnboundedSender<String>, sentence: String) {
        if self.times.first_sentence.is_none() {
            self.times.first_sentence = Some(Instant::now());
        }
        let _ = say.send(sentence);
    }

    async fn respond_guided(&mut self, text: &str, say: &mpsc::UnboundedSender<String>) -> Next {
        let Brain::Guided(brain) = &mut self.brain else { unreachable!("checked by the caller") };
        let answer = brain.answer(text, &mut self.ctx, &self.tools).await;
        self.times.first_token = Some(Instant::now());
        for call in &answer.tool_calls {
            self.record_tool_call(call);
        }
        if !answer.text.is_empty() {
            let mut chunker = SentenceChunker::default();
            let mut sentences = chunker.push(&answer.text);
            sentences.extend(chunker.finish());
            for s in sentences {
                self.say(say, s);
            }
            self.history.push(ChatMessage::new(Role::Assistant, answer.text.clone()));
            self.transcript("ai", &answer.text, None);
        }
        if let Some(outage) =
            answer.tool_calls.iter().find_map(|c| c.outcome.as_ref().err().filter(|e| e.is_outage()))
        {
            return self.fail(&format!("tool outage: {outage}"));
        }
        match answer.control {
            Some(c) => self.control(c),
            None => Next::Listen,
        }
    }

    fn record_tool_call(&self, call: &switchboard_tools::ToolCall) {
        self.event("tool_call", tool_call_data(call));
    }

    /// Turns an accepted control request into what the call does next.
    fn control(&self, request: ControlRequest) -> Next {
        match request {
            ControlRequest::Transfer { summary, reason, extension, number } => {
                let summary = if summary.trim().is_empty() { self.summary() } else { summary };
                let target = match (extension, number) {
                    (Some(extension), _) => Target::Agent { extension },
                    // Outside numbers only where the merchant sends callers anyway: a caller
                    // must not talk the model into dialling a number of their choosing.
                    (None, Some(number)) => {
                        let allowed =
                            [Some(&self.agent.escalation_target), self.agent.fallback_target.as_ref()]
                                .into_iter()
                                .flatten()
                                .any(|t| matches!(t, Target::External { number: n } if *n == number));
                        if allowed {
                            Target::External { number }
                        } else {
                            self.event("transfer_number_refused", json!({ "number": number }));
                            self.agent.escalation_target.clone()
                        }
                    }
                    (None, None) => self.agent.escalation_target.clone(),
                };
                let summary = prompt::redact_cards(&summary);
                let reason = reason.unwrap_or_else(|| "the AI agent transferred the call".into());
                self.event("handoff", json!({ "target": target, "summary": summary, "reason": reason }));
                if let Some(key) = self.record {
                    self.records.details(
                        key,
                        calls::Details { summary: Some(summary.clone()), ..Default::default() },
                    );
                }
                Next::Transfer { target, summary, reason }
            }
            ControlRequest::TakeMessage { summary } => {
                let summary = if summary.trim().is_empty() { self.summary() } else { summary };
                let summary = prompt::redact_cards(&summary);
                self.event("take_message", json!({ "summary": summary }));
                Next::TakeMessage { summary }
            }
            ControlRequest::EndCall { reason } => {
                let reason = reason.unwrap_or_else(|| "conversation finished".into());
                self.event("end_call", json!({ "reason": reason }));
                Next::Hangup { reason }
            }
        }
    }

    /// Token usage so far and what it cost (micro-dollars).
    pub fn usage(&self) -> (Usage, i64) {
        let cost = match &self.brain {
            Brain::Llm { prices: (input, output), .. } => {
                // USD per million tokens = micro-dollars per token.
                (self.usage.prompt_tokens as f64 * input + self.usage.completion_tokens as f64 * output)
                    .round() as i64
            }
            Brain::Guided(_) => 0,
        };
        (self.usage, cost)
    }

    /// Writes the conversation's usage and cost into the call record (at the end of the call).
    pub fn finish(&self) {
        let (usage, cost) = self.usage();
        self.event(
            "ai_usage",
            json!({
                "brain": self.brain_name(),
                "prompt_tokens": usage.prompt_tokens,
                "completion_tokens": usage.completion_tokens,
                "cost_micros": cost,
            }),
        );
        if let Some(key) = self.record {
            self.records.details(key, calls::Details { cost_micros: cost, ..Default::default() });
        }
        if let (Some(u), Some(key)) = (self.speech.unbilled(), self.record) {
            u.bill(&self.records, key, "ai_agent");
        }
    }
}

/// A tool call as the timeline keeps it.
fn tool_call_data(call: &switchboard_tools::ToolCall) -> Value {
    let mut data = json!({
        "tool": call.tool,
        "arguments": call.arguments,
        "duration_ms": call.duration_ms,
    });
    match &call.outcome {
        Ok(v) => data["result"] = v.clone(),
        Err(e) => data["error"] = json!(e.to_string()),
    }
    data
}

/// "Hi, this is Acme" → "Hi Maria, this is Acme"; other greetings get "Hi Maria!" in front.
fn greet_by_name(greeting: &str, first: &str) -> String {
    for hello in ["Hi", "Hello", "Hey", "Good morning", "Good afternoon", "Good evening"] {
        if let Some(rest) = greeting.strip_prefix(hello) {
            if rest.starts_with([',', '!', '.']) || rest.is_empty() {
                return format!("{hello} {first}{rest}");
            }
        }
    }
    format!("Hi {first}! {greeting}")
}

/// The tools an agent may call: the built-ins it lists, the merchant tools it lists (webhooks),
/// and always `transfer`, so a caller can always reach a person. Also the names of those whose
/// definition says a supervisor must approve each call.
async fn agent_tools(
    db: &Db,
    account: i64,
    agent: &AiAgent,
    store: Arc<dyn CommerceStore>,
    allow_private: bool,
) -> crate::Result<(Vec<Arc<dyn Tool>>, Vec<String>)> {
    let builtins: Vec<Arc<dyn Tool>> = switchboard_tools::commerce::tools(store)
        .into_iter()
        .chain(switchboard_tools::control::tools())
        .collect();
    let builtin = |name: &str| builtins.iter().find(|t| t.spec().name == name).cloned();
    let mut out: Vec<Arc<dyn Tool>> = Vec::new();
    let mut needs_approval = Vec::new();
    for name in &agent.tools {
        // A merchant definition of the same name wins over the built-in.
        match config::get_by_key::<ToolDefinition>(db, account, name).await? {
            Some(def) if def.spec.requires_approval && name != "transfer" => {
                needs_approval.push(name.clone());
                push_defined(&mut out, &def.spec, &builtin, allow_private);
            }
            Some(def) => push_defined(&mut out, &def.spec, &builtin, allow_private),
            None if BuiltinTool::from_name(name).is_some() => out.extend(builtin(name)),
            None => {
                tracing::warn!(agent = %agent.name, tool = %name, "the agent lists a tool that does not exist")
            }
        }
    }
    if !out.iter().any(|t| t.spec().name == "transfer") {
        out.extend(builtin("transfer"));
    }
    Ok((out, needs_approval))
}

/// A merchant's tool definition: a built-in under its own settings, or a webhook.
fn push_defined(
    out: &mut Vec<Arc<dyn Tool>>,
    def: &ToolDefinition,
    builtin: &dyn Fn(&str) -> Option<Arc<dyn Tool>>,
    allow_private: bool,
) {
    match &def.implementation {
        crate::model::ToolImplementation::Builtin { builtin: b } => out.extend(builtin(b.name())),
        _ => {
            if let Some(w) = crate::agenttools::webhook_tool(def, allow_private) {
                out.push(Arc::new(w));
            }
        }
    }
}
