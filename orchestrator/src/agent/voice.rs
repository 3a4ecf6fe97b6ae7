//! An AI agent on a live call: the caller's leg (decoded 20 ms frames from the relay) goes
//! through the ears (VAD, end of turn, barge-in); each turn is recognised (local Whisper, shared
//! and queued fairly across calls) and answered by the session; each sentence of the answer is
//! synthesised and queued for playback while the next is still being written. Barge-in pauses,
//! resumes or stops playback and cancels the answer; 0 on the keypad reaches a person; failures
//! play an apology (synthesised at the start of the call) and go to the fallback target at once.

use super::{Next, Session, SessionSetup};
use crate::live::{AiState, Command, LiveCall};
use crate::model::{Agent, Target};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use serde_json::json;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use switchboard_speech::bargein::BargeInConfig;
use switchboard_speech::ears::Ears;
use switchboard_speech::frame::{AudioFrame, Frame};
use switchboard_speech::stt::{FairRecognizer, LocalWhisper};
use switchboard_speech::tts::{Espeak, TextToSpeech};
use switchboard_speech::turn::TurnConfig;
use switchboard_telephony::driver::SipHandle;
use switchboard_telephony::media::player::{resample, Source, Tone};
use switchboard_telephony::media::relay::{MediaSide, Relay};
use switchboard_telephony::sip::b2bua::{CallId, MediaPorts, RouteDecision};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// The leg's rate (G.711).
const RATE: u32 = 8000;
const FRAME: usize = 160;
/// Short, so the fallback is reached within 2 s of the failure (it plays first).
const APOLOGY: &str = "Sorry, let me get you to a person.";
const NOBODY: &str = "I'm sorry, nobody can take your call right now. Please call again later. Goodbye.";
const TAKEOVER: &str = "One moment please, I'm bringing in a colleague.";
/// A supervisor already on a call can still listen in or take one over.
const SUPERVISOR_LINES: usize = 8;
const HANDING_OVER: &str = "I'm passing you to my colleague now.";
const TAKEOVER_FAILED: &str = "Sorry, my colleague can't pick up right now. I'm still here; how can I help?";

/// What happens to the leg the caller is handed to (from the call router).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegEvent {
    /// The person answered (the caller's playback is ours to end).
    Answered,
    /// Nobody took the call (SIP status).
    Unreached(u16),
    /// The person listening in hung up; the caller is still here.
    Left,
}

/// Where a supervisor's listen-in stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ListenPhase {
    Ringing,
    Connected,
    Over,
}

/// A listen-in: its phase, and the task that follows its leg (it holds the leg events).
struct Listening {
    extension: String,
    phase: tokio::sync::watch::Receiver<ListenPhase>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StageLabel {
    pub stage: String,
}

/// Per-turn latency by stage (seconds), exported at /metrics.
pub fn turn_latency() -> &'static Family<StageLabel, Histogram> {
    static FAMILY: std::sync::OnceLock<Family<StageLabel, Histogram>> = std::sync::OnceLock::new();
    FAMILY.get_or_init(|| {
        Family::new_with_constructor(
            (|| Histogram::new(exponential_buckets(0.01, 1.6, 14))) as fn() -> Histogram,
        )
    })
}

/// Speech engines shared by every AI call of the process.
pub struct Engines {
    pub recognizer: Result<FairRecognizer, String>,
    pub voice: Arc<dyn TextToSpeech>,
    callers: std::sync::atomic::AtomicU64,
}

impl Engines {
    /// Loads the engines once (on first use, off the async runtime).
    pub async fn shared() -> Arc<Engines> {
        static ENGINES: tokio::sync::OnceCell<Arc<Engines>> = tokio::sync::OnceCell::const_new();
        ENGINES
            .get_or_init(|| async {
                let loaded = tokio::task::spawn_blocking(|| {
                    let dir = switchboard_models::catalog::default_dir();
                    // Two workers of one thread each: two callers' turns are recognised at
                    // once, which beats one turn on two threads when several calls talk.
                    let workers = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).clamp(1, 4);
                    let recognizer = LocalWhisper::load(&dir, 1)
                        .map(|w| FairRecognizer::new(Arc::new(w), workers))
                        .map_err(|e| e.to_string());
                    if let Err(e) = &recognizer {
                        tracing::error!(error = %e, "speech recognition is unavailable: AI calls go to their fallback");
                    }
                    let voice = switchboard_speech::tts::default_voice(&dir);
                    Engines { recognizer, voice, callers: Default::default() }
                })
                .await;
                Arc::new(loaded.unwrap_or_else(|e| Engines {
                    recognizer: Err(e.to_string()),
                    voice: Arc::new(Espeak::default()),
                    callers: Default::default(),
                }))
            })
            .await
            .clone()
    }

    /// Synthesises `text` for the phone at 8 kHz; espeak-ng when the voice fails.
    fn speak(&self, text: &str) -> Option<Vec<i16>> {
        let text = switchboard_speech::text::for_phone(text);
        let audio = self.voice.synthesize(&text).or_else(|e| {
            tracing::warn!(error = %e, "voice failed; using espeak-ng");
            Espeak::default().synthesize(&text)
        });
        match audio {
            Ok(mut a) => {
                // The answer's first packet should carry sound, not the voice's lead-in.
                switchboard_speech::tts::trim_leading_silence(&mut a, 10);
                Some(resample(&a.samples, a.rate, RATE))
            }
            Err(e) => {
                tracing::error!(error = %e, "speech synthesis failed");
                None
            }
        }
    }
}

/// A queued sentence: its text, how many of its samples are still to play, of how many.
struct Segment {
    text: String,
    left: usize,
    total: usize,
    interruptible: bool,
}

/// What the agent says, queued for the relay, which pulls 20 ms at a time.
#[derive(Default)]
struct Playback {
    samples: VecDeque<i16>,
    /// Sentences queued, in order.
    segments: VecDeque<Segment>,
    /// What has been played of this turn's answer.
    heard: Vec<String>,
    paused: bool,
    /// When the first frame of this turn's answer went out (latency waterfall).
    first_frame_at: Option<Instant>,
    /// Audio of anything queued before (tones) when nothing else plays.
    filler: Option<Box<dyn Source + Send>>,
}

impl Playback {
    fn playing(&self) -> bool {
        !self.samples.is_empty()
    }

    fn interruptible(&self) -> bool {
        self.segments.front().is_none_or(|s| s.interruptible)
    }

    fn push(&mut self, text: &str, samples: Vec<i16>, interruptible: bool) {
        let total = samples.len();
        self.segments.push_back(Segment { text: text.to_string(), left: total, total, interruptible });
        self.samples.extend(samples);
        self.filler = None;
    }

    /// Drops what is queued; returns what the caller heard of this turn's answer.
    fn stop(&mut self) -> String {
        if let Some(seg) = self.segments.front() {
            // The sentence being played: the share of its words already played.
            let words: Vec<&str> = seg.text.split_whitespace().collect();
            let played = words.len() * (seg.total - seg.left) / seg.total.max(1);
            if played > 0 {
                self.heard.push(format!("{}...", words[..played].join(" ")));
            }
        }
        self.samples.clear();
        self.segments.clear();
        self.paused = false;
        std::mem::take(&mut self.heard).join(" ")
    }
}

fn lock_listening(l: &Mutex<Option<Listening>>) -> std::sync::MutexGuard<'_, Option<Listening>> {
    l.lock().unwrap_or_else(|e| e.into_inner())
}

/// The playback queue, even if a panicking holder poisoned the lock (its state stays usable).
fn lock(playback: &Mutex<Playback>) -> std::sync::MutexGuard<'_, Playback> {
    playback.lock().unwrap_or_else(|e| e.into_inner())
}

/// Feeds the caller's audio to the ears and keeps them told whether the agent is speaking;
/// applies barge-in's pause and resume to playback. Returns the other frames.
struct Listener {
    ears: Ears,
    playback: Arc<Mutex<Playback>>,
    audio_ms: u64,
    was_playing: bool,
    /// The supervisors' view of the call: what the AI does, whether the caller speaks.
    live: Arc<LiveCall>,
    /// An answer is being worked out.
    thinking: bool,
    shown: Option<AiState>,
}

impl Listener {
    fn hear(&mut self, samples: Vec<i16>) -> Vec<Frame> {
        let frames = self.ears.handle_audio(&AudioFrame { rate: RATE, samples, at_ms: self.audio_ms });
        self.audio_ms += 20;
        let (playing, interruptible) = {
            let p = lock(&self.playback);
            (p.playing(), p.interruptible())
        };
        if playing != self.was_playing {
            if playing {
                self.ears.playback_started(interruptible)
            } else {
                self.ears.playback_ended()
            }
            self.was_playing = playing;
        }
        self.show();
        for f in &frames {
            match f {
                Frame::SpeechStarted { .. } => self.live.caller_speaking(true),
                Frame::SpeechStopped { .. } => self.live.caller_speaking(false),
                _ => {}
            }
        }
        frames
            .into_iter()
            .filter(|f| match f {
                Frame::PausePlayback { .. } => {
                    lock(&self.playback).paused = true;
                    false
                }
                Frame::ResumePlayback { .. } => {
                    lock(&self.playback).paused = false;
                    false
                }
                _ => true,
            })
            .collect()
    }

    /// Speaking while audio plays, thinking while an answer is worked out, else listening.
    fn show(&mut self) {
        let state = if self.was_playing {
            AiState::Speaking
        } else if self.thinking {
            AiState::Thinking
        } else {
            AiState::Listening
        };
        if self.shown != Some(state) {
            self.shown = Some(state);
            self.live.state(state);
        }
    }

    fn set_thinking(&mut self, thinking: bool) {
        self.thinking = thinking;
        self.show();
    }
}

/// A clip of 8 kHz audio as a playable source.
struct Clip(VecDeque<i16>);

impl Source for Clip {
    fn next_frame(&mut self) -> Option<Vec<i16>> {
        if self.0.is_empty() {
            return None;
        }
        let n = FRAME.min(self.0.len());
        let mut frame: Vec<i16> = self.0.drain(..n).collect();
        frame.resize(FRAME, 0);
        Some(frame)
    }
}

struct Player(Arc<Mutex<Playback>>);

impl Source for Player {
    fn next_frame(&mut self) -> Option<Vec<i16>> {
        let mut p = lock(&self.0);
        if p.paused || p.samples.is_empty() {
            if let Some(filler) = p.filler.as_mut() {
                if let Some(f) = filler.next_frame() {
                    return Some(f);
                }
                p.filler = None;
            }
            return Some(vec![0; FRAME]);
        }
        if p.first_frame_at.is_none() {
            p.first_frame_at = Some(Instant::now());
        }
        let n = FRAME.min(p.samples.len());
        let mut frame: Vec<i16> = p.samples.drain(..n).collect();
        frame.resize(FRAME, 0);
        let mut n = n;
        while n > 0 {
            let Some(seg) = p.segments.front_mut() else { break };
            let take = n.min(seg.left);
            seg.left -= take;
            n -= take;
            if seg.left == 0 {
                let done = p.segments.pop_front().expect("checked");
                p.heard.push(done.text);
            }
        }
        Some(frame)
    }
}

/// Everything the voice driver needs about its call.
pub struct VoiceCall {
    pub setup: SessionSetup,
    pub sip: SipHandle,
    pub call: CallId,
    pub relay: Arc<Relay>,
    pub digits: mpsc::UnboundedReceiver<char>,
    pub data_dir: std::path::PathBuf,
    /// Use this LLM client instead of the agent's endpoint (benchmarks).
    pub llm: Option<Arc<dyn crate::llm::LlmClient>>,
    /// Completes (with an error) when the call ends.
    pub ended: tokio::sync::oneshot::Receiver<()>,
    /// What happens to the person the caller is handed to. On an answer the router leaves the
    /// caller's playback to us (the sentence playing ends before the caller is connected); if
    /// nobody answers, we decide (a failed takeover goes back to the AI).
    pub legs: mpsc::UnboundedReceiver<LegEvent>,
    /// Supervisors watch the call here.
    pub live: crate::live::Live,
}

/// A recognition result for the loop: partial or final, with the turn it belongs to.
enum Heard {
    Partial(String),
    /// Recognised when speech stopped (turn `turn` of the call), before the turn was known over.
    Early {
        turn: u64,
        result: Result<Recognized, String>,
        done: Instant,
    },
    Final {
        text: Recognized,
        eot_at: Instant,
        stt_done: Instant,
    },
    Failed(String),
}

/// Silence that ends a turn recognised as a finished sentence. Not less: callers pause between
/// a finished-sounding phrase and the rest ("Where is my order … 1002?"); at 0 the e2e tests
/// caught the AI answering "Where is my order?" alone.
const FINISHED_SENTENCE_SILENCE_MS: u64 = 250;

/// A recognised turn: its text, how sure the recogniser was, and when it was said (ms of the
/// caller's audio, from the start of listening).
type Recognized = (String, Option<f32>, (u64, u64));

/// When an utterance was said, in the caller's audio time.
fn span_of(audio: &AudioFrame) -> (u64, u64) {
    (audio.at_ms, audio.at_ms + audio.duration_ms())
}

/// Recognition started when the caller's speech stopped: if the turn then ends with no more
/// speech, its transcript is (nearly) ready at the end of the turn; if it reads as a finished
/// sentence, it can end the turn there and then.
struct Early {
    turn: u64,
    /// Where the caller's speech stopped (audio time): the pause the transcript is for.
    speech_end_ms: u64,
    result: Option<Result<Recognized, String>>,
    /// The end of the turn came first: deliver the result as final when it arrives.
    turn_ended_at: Option<Instant>,
}

impl VoiceCall {
    /// Runs the conversation until the call ends or leaves the agent. (Boxed: IVR menus can
    /// lead to agents and agents to IVR menus.)
    pub fn run(self) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
        Box::pin(self.converse())
    }

    async fn converse(self) {
        let VoiceCall { setup, sip, call, relay, mut digits, data_dir, llm, mut ended, legs, live } = self;
        let db = setup.db.clone();
        let (records, record, account) = (setup.records.clone(), setup.record, setup.account);
        let engines = Engines::shared().await;
        let playback = Arc::new(Mutex::new(Playback::default()));
        // From now on the caller hears whatever the agent queues (silence in between).
        drop(relay.play(MediaSide::A, Box::new(Player(playback.clone()))));
        let ctx = Ctl {
            sip: sip.clone(),
            call,
            relay: relay.clone(),
            playback: playback.clone(),
            db,
            account,
            data_dir,
            legs: Arc::new(tokio::sync::Mutex::new(legs)),
            live: live.clone(),
            listening: Mutex::new(None),
        };
        let mut session = match Session::start(setup).await {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(%call, error = %e, "AI agent cannot start");
                if let Some(key) = record {
                    records.event(key, "ai_fallback", json!({ "reason": e.to_string() }));
                }
                ctx.say_and_wait(&engines, NOBODY).await;
                return sip.hangup(call).await;
            }
        };
        if let Some(client) = llm {
            session = session.with_llm(client);
        }
        // Supervisors see the call from here on, and can send notes and take it over.
        let (live_call, inbox) = live.start(crate::live::Start {
            account,
            call_id: None,
            caller: session.ctx.caller_number.clone(),
            customer: session.customer().and_then(|c| c["name"].as_str()).map(str::to_string),
            agent: session.agent.name.clone(),
            brain: session.brain_name().into(),
            record: record.map(|k| (records.clone(), k)),
        });
        let live_call = Arc::new(live_call);
        if let Some(key) = record {
            // The record's row id, once written: the tile links to the call's history.
            let (records, live_call) = (records.clone(), live_call.clone());
            tokio::spawn(async move {
                if let Some(id) = records.id_of(key).await {
                    live_call.set_call_id(id);
                }
            });
        }
        session.take_notes_from(inbox.notes);
        let mut commands = inbox.commands;
        {
            let mut observed = session.observe();
            let live_call = live_call.clone();
            tokio::spawn(async move {
                while let Some((kind, data)) = observed.recv().await {
                    live_call.observed(&kind, data);
                }
            });
        }
        // The apology is ready before anything can fail.
        let apology = {
            let engines = engines.clone();
            tokio::task::spawn_blocking(move || engines.speak(APOLOGY))
        };
        let recognizer = match &engines.recognizer {
            Ok(r) => r,
            Err(e) => {
                let next = session.fail(&format!("speech recognition unavailable: {e}"));
                let apology = apology.await.ok().flatten();
                return ctx.finish(&engines, &mut session, next, apology, digits, ended).await;
            }
        };
        let caller_id = engines.callers.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let turn = TurnConfig {
            end_ms: session.agent.end_of_turn_silence_ms as u64,
            unfinished_end_ms: (session.agent.end_of_turn_silence_ms as u64 * 2).max(1_600),
            complete_end_ms: session
                .agent
                .end_turn_on_finished_sentence
                .then_some(FINISHED_SENTENCE_SILENCE_MS.min(session.agent.end_of_turn_silence_ms as u64)),
            ..Default::default()
        };
        let ears = match Ears::new(RATE, turn, BargeInConfig::default()) {
            Ok(e) => e,
            Err(e) => {
                let next = session.fail(&format!("speech pipeline: {e}"));
                let apology = apology.await.ok().flatten();
                return ctx.finish(&engines, &mut session, next, apology, digits, ended).await;
            }
        };
        let mut tap = relay.tap(MediaSide::A);
        // The caller's audio time 0, in the session's (call's) time.
        let listening_from = session.since_start_ms();
        let (heard_tx, mut heard_rx) = mpsc::unbounded_channel::<Heard>();
        let greeting = session.greeting();
        let interruptible = session.agent.greeting_interruptible;
        ctx.queue(&engines, &greeting, interruptible).await;
        let mut apology = Some(apology);
        let mut listener = Listener {
            ears,
            playback: playback.clone(),
            audio_ms: 0,
            was_playing: false,
            live: live_call.clone(),
            thinking: false,
            shown: None,
        };
        let mut partial_busy = false;
        let mut early: Option<Early> = None;
        let mut early_turns: u64 = 0;
        let deadline = tokio::time::sleep(Duration::from_secs(session.agent.max_call_minutes as u64 * 60));
        tokio::pin!(deadline);
        loop {
            let heard = tokio::select! {
                frame = tap.recv() => {
                    let Some(samples) = frame else { break };
                    for f in listener.hear(samples) {
                        match f {
                            // Partials are a nicety: skipped while callers wait for finals.
                            Frame::PartialRequest { audio, .. } if !partial_busy && recognizer.waiting() == 0 => {
                                partial_busy = true;
                                let rx = recognizer.submit_partial(audio);
                                let tx = heard_tx.clone();
                                tokio::task::spawn_blocking(move || {
                                    let text = rx.recv().ok().and_then(|r| r.ok()).map(|t| t.text).unwrap_or_default();
                                    let _ = tx.send(Heard::Partial(text));
                                });
                            }
                            Frame::SpeechStarted { .. } => early = None, // more speech: stale
                            Frame::SpeechStopped { at_ms } => {
                                tracing::debug!(%call, speech_end_ms = at_ms, heard_ms = listener.audio_ms, "speech stopped");
                                if let Some(audio) = listener.ears.turn_audio(at_ms) {
                                    early_turns += 1;
                                    let turn = early_turns;
                                    early = Some(Early { turn, speech_end_ms: at_ms, result: None, turn_ended_at: None });
                                    let span = span_of(&audio);
                                    let rx = recognizer.submit(caller_id, audio, true);
                                    let tx = heard_tx.clone();
                                    tokio::task::spawn_blocking(move || {
                                        let result = match rx.recv() {
                                            Ok(Ok(t)) => Ok((t.text, t.confidence, span)),
                                            Ok(Err(e)) => Err(e.to_string()),
                                            Err(_) => Err("the recogniser stopped".into()),
                                        };
                                        let _ = tx.send(Heard::Early { turn, result, done: Instant::now() });
                                    });
                                }
                            }
                            Frame::EndOfTurn { audio, .. } => {
                                let eot_at = Instant::now();
                                if let Some(e) = early.as_mut() {
                                    match e.result.take() {
                                        Some(Ok(text)) => {
                                            let _ = heard_tx.send(Heard::Final { text, eot_at, stt_done: eot_at });
                                            early = None;
                                            continue;
                                        }
                                        None => {
                                            e.turn_ended_at = Some(eot_at);
                                            continue;
                                        }
                                        Some(Err(_)) => early = None, // recognise again below
                                    }
                                }
                                let span = span_of(&audio);
                                let rx = recognizer.submit(caller_id, audio, true);
                                let tx = heard_tx.clone();
                                tokio::task::spawn_blocking(move || {
                                    let _ = tx.send(match rx.recv() {
                                        Ok(Ok(t)) => Heard::Final {
                                            text: (t.text, t.confidence, span),
                                            eot_at,
                                            stt_done: Instant::now(),
                                        },
                                        Ok(Err(e)) => Heard::Failed(e.to_string()),
                                        Err(_) => Heard::Failed("the recogniser stopped".into()),
                                    });
                                });
                            }
                            Frame::Interruption { .. } => {
                                let heard = lock(&playback).stop();
                                session.interrupted(&heard);
                            }
                            _ => {}
                        }
                    }
                    continue;
                }
                h = heard_rx.recv() => match h { Some(h) => h, None => break },
                _ = &mut ended => break,
                Some(command) = commands.recv() => {
                    match command {
                        Command::Listen { extension, by } => ctx.listen(&extension, &by, &live_call).await,
                        Command::TakeOver { extension, by } => {
                            if ctx.take_over(&engines, &session, &extension, &by, &live_call, &mut ended).await {
                                session.finish();
                                return;
                            }
                            listener.shown = None; // the AI is back: show what it does
                        }
                    }
                    continue;
                }
                d = digits.recv() => {
                    match d {
                        Some('0') => {
                            let next = session.escalate("the caller pressed 0");
                            return ctx.finish(&engines, &mut session, next, None, digits, ended).await;
                        }
                        Some(_) => continue,
                        None => break,
                    }
                }
                _ = &mut deadline => {
                    let next = Next::Hangup { reason: "the AI call reached its time limit".into() };
                    ctx.queue(&engines, "We have reached the time limit for this call. Goodbye!", false).await;
                    return ctx.finish(&engines, &mut session, next, None, digits, ended).await;
                }
            };
            let (text, eot_at, stt_done) = match heard {
                Heard::Early { turn, result, done } => {
                    match early.as_mut().filter(|e| e.turn == turn) {
                        Some(e) => match (e.turn_ended_at, result) {
                            (Some(eot_at), Ok(text)) => {
                                early = None;
                                (text, eot_at, done.max(eot_at))
                            }
                            (Some(_), Err(err)) => {
                                early = None;
                                let _ = heard_tx.send(Heard::Failed(err));
                                continue;
                            }
                            (None, Ok(text)) => {
                                tracing::debug!(%call, text = %text.0, heard_ms = listener.audio_ms, "pause recognised");
                                // A finished sentence while the pause goes on ends the turn now.
                                let frames = listener.ears.handle_transcript(e.speech_end_ms, &text.0);
                                if frames.iter().any(|f| matches!(f, Frame::EndOfTurn { .. })) {
                                    early = None;
                                    (text, Instant::now(), done)
                                } else {
                                    e.result = Some(Ok(text));
                                    continue;
                                }
                            }
                            (None, result) => {
                                e.result = Some(result);
                                continue;
                            }
                        },
                        None => continue, // the caller went on speaking: stale
                    }
                }
                Heard::Partial(text) => {
                    partial_busy = false;
                    listener.ears.set_partial(&text);
                    live_call.partial(&text);
                    continue;
                }
                Heard::Failed(e) => {
                    let next = session.fail(&format!("speech recognition failed: {e}"));
                    let apology = match apology.take() {
                        Some(a) => a.await.ok().flatten(),
                        None => None,
                    };
                    return ctx.finish(&engines, &mut session, next, apology, digits, ended).await;
                }
                Heard::Final { text, eot_at, stt_done } => (text, eot_at, stt_done),
            };
            let (text, confidence, (said_from, said_to)) = text;
            let text = text.trim().to_string();
            tracing::debug!(%call, %text, "caller's turn recognised");
            if text.is_empty() || is_noise(&text) {
                continue;
            }
            live_call.confidence(confidence);
            // The transcript line gets the times the caller spoke, in call time.
            session.caller_said_at(listening_from + said_from as i64, listening_from + said_to as i64);
            // Whatever was still playing is over: the caller has the floor.
            let heard_before = lock(&playback).stop();
            if !heard_before.is_empty() {
                tracing::debug!(%call, heard = %heard_before, "previous answer cut by the caller's turn");
            }
            lock(&playback).first_frame_at = None;
            // The answer streams sentence by sentence into synthesis and playback.
            let (say_tx, mut say_rx) = mpsc::unbounded_channel::<String>();
            let speaker = {
                let (engines, playback) = (engines.clone(), playback.clone());
                tokio::spawn(async move {
                    let mut first_audio: Option<Instant> = None;
                    while let Some(sentence) = say_rx.recv().await {
                        let e = engines.clone();
                        let s = sentence.clone();
                        let Ok(Some(audio)) = tokio::task::spawn_blocking(move || e.speak(&s)).await else {
                            continue;
                        };
                        first_audio.get_or_insert_with(Instant::now);
                        lock(&playback).push(&sentence, audio, true);
                    }
                    first_audio
                })
            };
            // The answer runs while the caller's audio keeps being heard: a barge-in cancels it.
            listener.set_thinking(true);
            let mut command = None;
            let outcome = {
                let respond = session.respond(&text, &say_tx);
                tokio::pin!(respond);
                loop {
                    tokio::select! {
                        next = &mut respond => break Some(next),
                        _ = &mut ended => break None,
                        Some(c) = commands.recv() => match c {
                            // Listening in does not disturb the answer.
                            Command::Listen { extension, by } => ctx.listen(&extension, &by, &live_call).await,
                            takeover => {
                                command = Some(takeover);
                                break None;
                            }
                        },
                        frame = tap.recv() => {
                            let Some(samples) = frame else { break None };
                            if listener.hear(samples).iter().any(|f| matches!(f, Frame::Interruption { .. })) {
                                break None;
                            }
                        }
                    }
                }
            };
            listener.set_thinking(false);
            drop(say_tx);
            if let Some(Command::TakeOver { extension, by }) = command {
                // A supervisor takes the call: the answer in progress stops.
                speaker.abort();
                let heard = lock(&playback).stop();
                session.interrupted(&heard);
                if ctx.take_over(&engines, &session, &extension, &by, &live_call, &mut ended).await {
                    session.finish();
                    return;
                }
                listener.shown = None;
                continue;
            }
            let Some(next) = outcome else {
                // Barge-in (or the call ended): stop speaking, keep what was heard.
                speaker.abort();
                let heard = lock(&playback).stop();
                session.interrupted(&heard);
                if call_over(&mut ended) {
                    break;
                }
                continue;
            };
            let first_audio = speaker.await.ok().flatten();
            let first_frame = lock(&playback).first_frame_at;
            record_latency(&session, eot_at, stt_done, first_audio, first_frame);
            if next != Next::Listen {
                let apology = match (&next, apology.take()) {
                    (Next::Fallback { .. }, Some(a)) => a.await.ok().flatten(),
                    _ => None,
                };
                return ctx.finish(&engines, &mut session, next, apology, digits, ended).await;
            }
        }
        // The caller hung up.
        session.finish();
    }
}

/// The voicemail box an agent's `take_message` goes to: its own, else a box it hands callers to.
fn message_box(agent: &crate::model::AiAgent) -> Option<String> {
    let as_box = |t: &Target| match t {
        Target::VoicemailBox { name } => Some(name.clone()),
        _ => None,
    };
    agent
        .voicemail_box
        .clone()
        .or_else(|| as_box(&agent.escalation_target))
        .or_else(|| agent.fallback_target.as_ref().and_then(as_box))
}

/// Whether the call has ended (its sender was dropped).
fn call_over(ended: &mut tokio::sync::oneshot::Receiver<()>) -> bool {
    !matches!(ended.try_recv(), Err(tokio::sync::oneshot::error::TryRecvError::Empty))
}

/// Whisper's renderings of non-speech ("[BLANK_AUDIO]", "(coughs)", "...").
fn is_noise(text: &str) -> bool {
    let t = text.trim();
    (t.starts_with('[') && t.ends_with(']'))
        || (t.starts_with('(') && t.ends_with(')'))
        || t.chars().all(|c| !c.is_alphanumeric())
}

/// Writes one turn's latency waterfall into the timeline and the metrics.
fn record_latency(
    session: &Session,
    eot_at: Instant,
    stt_done: Instant,
    first_audio: Option<Instant>,
    first_frame: Option<Instant>,
) {
    let ms = |t: Option<Instant>| t.map(|t| t.saturating_duration_since(eot_at).as_millis() as u64);
    let stages = [
        ("final_transcript", Some(stt_done)),
        ("first_token", session.times.first_token),
        ("first_sentence", session.times.first_sentence),
        ("first_audio", first_audio),
        ("first_packet", first_frame),
    ];
    let mut data = json!({ "end_of_turn_silence_ms": session.agent.end_of_turn_silence_ms });
    for (stage, at) in stages {
        data[format!("{stage}_ms")] = json!(ms(at));
        if let Some(t) = at {
            turn_latency()
                .get_or_create(&StageLabel { stage: stage.into() })
                .observe(t.saturating_duration_since(eot_at).as_secs_f64());
        }
    }
    session.event("latency", data);
}

/// Call control for the driver: speaking, connecting, hanging up.
struct Ctl {
    sip: SipHandle,
    call: CallId,
    relay: Arc<Relay>,
    playback: Arc<Mutex<Playback>>,
    db: crate::db::Db,
    account: i64,
    data_dir: std::path::PathBuf,
    legs: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<LegEvent>>>,
    live: crate::live::Live,
    listening: Mutex<Option<Listening>>,
}

impl Ctl {
    async fn queue(&self, engines: &Arc<Engines>, text: &str, interruptible: bool) {
        let (e, t) = (engines.clone(), text.to_string());
        if let Ok(Some(audio)) = tokio::task::spawn_blocking(move || e.speak(&t)).await {
            lock(&self.playback).push(text, audio, interruptible);
        }
    }

    /// Waits until everything queued has played (at most `limit`).
    async fn drain(&self, limit: Duration) {
        let until = Instant::now() + limit;
        while Instant::now() < until && lock(&self.playback).playing() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Says `text` (not interruptible) and waits until it has played.
    async fn say_and_wait(&self, engines: &Arc<Engines>, text: &str) {
        self.queue(engines, text, false).await;
        self.drain(Duration::from_secs(15)).await;
    }

    /// Carries out what the conversation decided, then leaves the call.
    async fn finish(
        &self,
        engines: &Arc<Engines>,
        session: &mut Session,
        next: Next,
        apology: Option<Vec<i16>>,
        digits: mpsc::UnboundedReceiver<char>,
        ended: tokio::sync::oneshot::Receiver<()>,
    ) {
        session.finish();
        match next {
            Next::Listen => {}
            Next::Hangup { .. } => {
                self.drain(Duration::from_secs(15)).await;
                self.sip.hangup(self.call).await;
            }
            Next::Fallback { target, .. } => {
                // The apology (ready since the call started) plays while the fallback rings.
                lock(&self.playback).stop();
                match apology {
                    Some(a) => lock(&self.playback).push(APOLOGY, a, false),
                    None => self.queue(engines, APOLOGY, false).await,
                }
                self.connect(engines, session, &target, digits, ended).await;
            }
            Next::Transfer { target, .. } => {
                self.drain(Duration::from_secs(10)).await;
                self.connect(engines, session, &target, digits, ended).await;
            }
            Next::TakeMessage { .. } => {
                // The agent's box (or one it hands callers to); without one, a person.
                let target = match message_box(&session.agent) {
                    Some(name) => Target::VoicemailBox { name },
                    None => session.agent.escalation_target.clone(),
                };
                self.drain(Duration::from_secs(10)).await;
                self.connect(engines, session, &target, digits, ended).await;
            }
        }
    }

    /// A supervisor listens in from `extension`: it rings, and once answered hears the caller
    /// and the AI (the relay's listen-in) without being heard. Their hanging up leaves the
    /// caller with the AI. The conversation goes on meanwhile.
    async fn listen(&self, extension: &str, by: &str, live: &Arc<LiveCall>) {
        let busy =
            lock_listening(&self.listening).as_ref().is_some_and(|l| *l.phase.borrow() != ListenPhase::Over);
        if busy {
            live.event(
                "listen_refused",
                json!({ "by": by, "extension": extension, "reason": "someone already listens" }),
            );
            return;
        }
        let ring_ms = self.ring_ms(extension).await;
        let mut legs = self.fresh_legs().await;
        self.sip.keep_caller(self.call, true).await;
        self.relay.monitor(MediaSide::B, true);
        self.ring(extension, SUPERVISOR_LINES, ring_ms).await;
        let (phase_tx, phase) = tokio::sync::watch::channel(ListenPhase::Ringing);
        let (sip, relay, call, live) = (self.sip.clone(), self.relay.clone(), self.call, live.clone());
        let (by, ext) = (by.to_string(), extension.to_string());
        let task = tokio::spawn(async move {
            let stop = |why: &str, data: serde_json::Value| {
                relay.monitor(MediaSide::B, false);
                live.event(why, data);
                let _ = phase_tx.send(ListenPhase::Over);
            };
            while let Some(event) = legs.recv().await {
                match event {
                    LegEvent::Answered if *phase_tx.borrow() == ListenPhase::Ringing => {
                        let _ = phase_tx.send(ListenPhase::Connected);
                        live.event("listen_connected", json!({ "by": by, "extension": ext }));
                    }
                    LegEvent::Answered => {}
                    LegEvent::Unreached(status) => {
                        stop("listen_failed", json!({ "by": by, "extension": ext, "status": status }));
                        break;
                    }
                    LegEvent::Left => {
                        stop("listen_ended", json!({ "by": by, "extension": ext }));
                        break;
                    }
                }
            }
            sip.keep_caller(call, false).await;
        });
        *lock_listening(&self.listening) = Some(Listening { extension: extension.to_string(), phase, task });
    }

    /// A takeover by whoever listens in: they are connected at once (no ringing, no briefing:
    /// they heard the call). `None` when nobody listens.
    async fn take_over_from_listening(
        &self,
        engines: &Arc<Engines>,
        by: &str,
        live: &LiveCall,
    ) -> Option<bool> {
        let listening = lock_listening(&self.listening).take()?;
        let mut phase = listening.phase.clone();
        let settled =
            tokio::time::timeout(Duration::from_secs(40), phase.wait_for(|p| *p != ListenPhase::Ringing))
                .await
                .map(|r| r.map(|p| *p));
        let connected = matches!(settled, Ok(Ok(ListenPhase::Connected)));
        if !connected {
            return None;
        }
        listening.task.abort();
        self.sip.keep_caller(self.call, false).await;
        lock(&self.playback).stop();
        self.say_and_wait(engines, HANDING_OVER).await;
        self.relay.monitor(MediaSide::B, false);
        self.relay.stop_playing(MediaSide::A);
        live.event(
            "takeover_connected",
            json!({ "by": by, "extension": listening.extension, "from_listening": true }),
        );
        live.state(AiState::TakenOver);
        Some(true)
    }

    /// Rings `extension` on the call's B leg (the caller's media stays with us until answered).
    async fn ring(&self, extension: &str, max_lines: usize, ring_ms: u64) {
        let media = MediaPorts { a: self.relay.a_local, b: self.relay.b_local };
        let decision = RouteDecision::Ring {
            account: self.account,
            extension: extension.to_string(),
            max_lines,
            ring_timeout_ms: ring_ms,
            media,
        };
        self.sip.route(self.call, decision).await;
    }

    /// How long an extension rings (its no-answer time, at least 10 s).
    async fn ring_ms(&self, extension: &str) -> u64 {
        crate::store::config::get_by_key::<Agent>(&self.db, self.account, extension)
            .await
            .ok()
            .flatten()
            .map(|a| a.spec.forwarding.no_answer_seconds as u64 * 1000)
            .unwrap_or(20_000)
            .max(10_000)
    }

    /// Forgets leg events from before a new ring (re-INVITEs of an earlier leg).
    async fn fresh_legs(&self) -> tokio::sync::OwnedMutexGuard<mpsc::UnboundedReceiver<LegEvent>> {
        let mut legs = self.legs.clone().lock_owned().await;
        while legs.try_recv().is_ok() {}
        legs
    }

    /// When the person answers, the sentence playing (an apology) ends first; then the caller
    /// hears the person. If nobody answers, the caller is told and the call ends.
    fn connect_on_answer(
        &self,
        engines: &Arc<Engines>,
        mut legs: tokio::sync::OwnedMutexGuard<mpsc::UnboundedReceiver<LegEvent>>,
        mut ended: tokio::sync::oneshot::Receiver<()>,
    ) {
        let (relay, playback, sip, call) =
            (self.relay.clone(), self.playback.clone(), self.sip.clone(), self.call);
        let engines = engines.clone();
        tokio::spawn(async move {
            let event = tokio::select! {
                e = legs.recv() => match e {
                    Some(e) => e,
                    None => return,
                },
                _ = &mut ended => return,
            };
            match event {
                LegEvent::Answered => {
                    let until = Instant::now() + Duration::from_secs(5);
                    while Instant::now() < until && lock(&playback).playing() {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    relay.stop_playing(MediaSide::A);
                }
                LegEvent::Left => {}
                LegEvent::Unreached(_) => {
                    let audio =
                        tokio::task::spawn_blocking(move || engines.speak(NOBODY)).await.ok().flatten();
                    {
                        let mut p = lock(&playback);
                        p.filler = None;
                        p.stop();
                        if let Some(a) = audio {
                            p.push(NOBODY, a, false);
                        }
                    }
                    let until = Instant::now() + Duration::from_secs(15);
                    while Instant::now() < until && lock(&playback).playing() {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    sip.hangup(call).await;
                }
            }
        });
    }

    /// A supervisor takes the call over on `extension`: the caller is told and hears the hold
    /// chime; when the supervisor answers they hear a one-line briefing (the caller still hears
    /// the chime), then the two are connected and the AI leaves (true). If the supervisor does
    /// not answer, the AI carries on (false).
    async fn take_over(
        &self,
        engines: &Arc<Engines>,
        session: &Session,
        extension: &str,
        by: &str,
        live: &LiveCall,
        ended: &mut tokio::sync::oneshot::Receiver<()>,
    ) -> bool {
        live.state(AiState::Transferring);
        if let Some(taken) = self.take_over_from_listening(engines, by, live).await {
            return taken;
        }
        let briefing = {
            let (e, text) = (engines.clone(), format!("Taking over from the AI. {}", session.summary()));
            tokio::task::spawn_blocking(move || e.speak(&text))
        };
        lock(&self.playback).stop();
        self.queue(engines, TAKEOVER, false).await;
        let ring_ms = self.ring_ms(extension).await;
        lock(&self.playback).filler = Some(Box::new(Tone::hold(RATE).for_ms(ring_ms + 30_000)));
        let mut legs = self.fresh_legs().await;
        self.ring(extension, SUPERVISOR_LINES, ring_ms).await;
        let event = tokio::select! {
            e = legs.recv() => e,
            _ = &mut *ended => return true, // the caller left: nothing more to do
            _ = tokio::time::sleep(Duration::from_millis(ring_ms + 5_000)) => Some(LegEvent::Unreached(408)),
        };
        match event {
            Some(LegEvent::Answered) => {
                // The supervisor hears the briefing, the caller the chime, then they talk.
                if let Ok(Some(audio)) = briefing.await {
                    let done = self.relay.play(MediaSide::B, Box::new(Clip(audio.into())));
                    let _ = tokio::time::timeout(Duration::from_secs(15), done).await;
                }
                lock(&self.playback).filler = None;
                self.relay.stop_playing(MediaSide::A);
                live.event("takeover_connected", json!({ "by": by, "extension": extension }));
                live.state(AiState::TakenOver);
                true
            }
            other => {
                let status = match other {
                    Some(LegEvent::Unreached(s)) => s,
                    _ => 0,
                };
                lock(&self.playback).filler = None;
                live.event("takeover_failed", json!({ "by": by, "extension": extension, "status": status }));
                self.queue(engines, TAKEOVER_FAILED, true).await;
                false
            }
        }
    }

    /// A call to an outside number through the account's trunk, presenting the caller.
    async fn through_trunk(&self, number: &str, session: &Session) -> Option<RouteDecision> {
        let trunks = crate::store::config::list::<crate::model::Trunk>(&self.db, self.account).await.ok()?;
        let trunk = trunks.into_iter().next()?.spec;
        let peer = tokio::net::lookup_host((trunk.host.as_str(), trunk.port)).await.ok()?.next()?;
        let caller_id = session
            .ctx
            .caller_number
            .clone()
            .or(trunk.caller_id.clone())
            .unwrap_or_else(|| "anonymous".into());
        Some(RouteDecision::Dial {
            uri: format!("sip:{number}@{}:{}", trunk.host, trunk.port),
            peer,
            caller_id,
            credentials: trunk.username.clone().zip(trunk.password.clone()),
            ring_timeout_ms: 60_000,
            media: MediaPorts { a: self.relay.a_local, b: self.relay.b_local },
        })
    }

    /// Sends the caller to `target` (the agent's part of the call ends here).
    async fn connect(
        &self,
        engines: &Arc<Engines>,
        session: &Session,
        target: &Target,
        digits: mpsc::UnboundedReceiver<char>,
        ended: tokio::sync::oneshot::Receiver<()>,
    ) {
        match target {
            Target::Agent { extension } => {
                let agent = crate::store::config::get_by_key::<Agent>(&self.db, self.account, extension)
                    .await
                    .ok()
                    .flatten();
                let (lines, ring_ms) = agent
                    .map(|a| (a.spec.lines as usize, a.spec.forwarding.no_answer_seconds as u64 * 1000))
                    .unwrap_or((2, 20_000));
                // Ringback once the agent's words have played; the relay stops it when answered.
                lock(&self.playback).filler = Some(Box::new(Tone::ringback(RATE).for_ms(ring_ms + 1000)));
                let legs = self.fresh_legs().await;
                self.ring(extension, lines, ring_ms).await;
                self.connect_on_answer(engines, legs, ended);
            }
            Target::External { number } => match self.through_trunk(number, session).await {
                Some(decision) => {
                    lock(&self.playback).filler = Some(Box::new(Tone::ringback(RATE).for_ms(61_000)));
                    let legs = self.fresh_legs().await;
                    self.sip.route(self.call, decision).await;
                    self.connect_on_answer(engines, legs, ended);
                }
                None => {
                    session.event("handoff_failed", json!({ "target": target, "reason": "no usable trunk" }));
                    self.drain(Duration::from_secs(10)).await;
                    self.say_and_wait(engines, NOBODY).await;
                    self.sip.hangup(self.call).await;
                }
            },
            Target::IvrMenu { name } => {
                self.drain(Duration::from_secs(10)).await;
                self.relay.stop_playing(MediaSide::A);
                let ivr = crate::ivr::IvrCall {
                    db: self.db.clone(),
                    sip: self.sip.clone(),
                    call: self.call,
                    account: self.account,
                    relay: self.relay.clone(),
                    data_dir: self.data_dir.clone(),
                    records: session.records.clone(),
                    record: session.record,
                    digits,
                    caller: session.ctx.caller_number.clone(),
                    ended,
                    // The menu may lead to another AI agent, which then gets the hand-off events.
                    legs: Some(std::mem::replace(&mut *self.legs.lock().await, mpsc::unbounded_channel().1)),
                    live: self.live.clone(),
                };
                tokio::spawn(ivr.run(name.clone()));
            }
            Target::Hangup => {
                self.drain(Duration::from_secs(10)).await;
                self.sip.hangup(self.call).await;
            }
            Target::Queue { name } => {
                self.drain(Duration::from_secs(10)).await;
                let waiting = crate::queue::QueueCall {
                    db: self.db.clone(),
                    sip: self.sip.clone(),
                    call: self.call,
                    account: self.account,
                    relay: self.relay.clone(),
                    data_dir: self.data_dir.clone(),
                    records: session.records.clone(),
                    record: session.record,
                    digits,
                    caller: session.ctx.caller_number.clone(),
                    ended,
                    // The queue gets the hand-off events from now on.
                    legs: std::mem::replace(&mut *self.legs.lock().await, mpsc::unbounded_channel().1),
                    queue: name.clone(),
                };
                tokio::spawn(waiting.run());
            }
            Target::VoicemailBox { name } => {
                self.drain(Duration::from_secs(10)).await;
                self.relay.stop_playing(MediaSide::A);
                let deposit = crate::voicemail::Deposit {
                    db: self.db.clone(),
                    sip: self.sip.clone(),
                    call: self.call,
                    account: self.account,
                    relay: self.relay.clone(),
                    data_dir: self.data_dir.clone(),
                    records: session.records.clone(),
                    record: session.record,
                    digits,
                    caller: session.ctx.caller_number.clone().unwrap_or_else(|| "anonymous".into()),
                    ended,
                    box_name: name.clone(),
                    // The agent has just asked for the message: a short hint, then the beep.
                    greeting: Some("Press the pound key when you are done.".into()),
                };
                tokio::spawn(deposit.run());
            }
            other => {
                // Queues, voicemail, schedules, other AI agents and outside numbers as a
                // hand-off come with their features; until then the caller is told and let go.
                tracing::warn!(call = %self.call, target = ?other, "hand-off target not available yet");
                session.event(
                    "handoff_failed",
                    json!({ "target": other, "reason": "target type not available yet" }),
                );
                self.drain(Duration::from_secs(10)).await;
                self.say_and_wait(engines, NOBODY).await;
                self.sip.hangup(self.call).await;
            }
        }
    }
}
