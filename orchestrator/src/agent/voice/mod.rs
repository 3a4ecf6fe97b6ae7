//! An AI agent on a live call: the caller's leg (decoded 20 ms frames from the relay) goes
//! through the ears (VAD, end of turn, barge-in); each turn is recognised (local Whisper, shared
//! and queued fairly across calls) and answered by the session; each sentence of the answer is
//! synthesised and queued for playback while the next is still being written. Barge-in pauses,
//! resumes or stops playback and cancels the answer; 0 on the keypad reaches a person; failures
//! play an apology (synthesised at the start of the call) and go to the fallback target at once.

use super::{Next, Session, SessionSetup};
use crate::calls::answered::{AnsweredCall, Next as Onward};
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
use switchboard_speech::turn::{TurnConfig, TurnModel};
use switchboard_speech::turn_model::{LocalSmartTurn, TurnScorer};
use switchboard_telephony::driver::SipHandle;
use switchboard_telephony::media::player::{resample, Source, Tone};
use switchboard_telephony::media::relay::{MediaSide, Relay};
use switchboard_telephony::sip::b2bua::{CallId, MediaPorts, RouteDecision};
use tokio::sync::mpsc;
use tokio::time::Instant;

mod control;
mod conversation;
mod playback;
mod recognition;
use control::*;
pub(crate) use conversation::is_noise;
use conversation::{AfterAnswer, AnswerEnded, Conversation, OnTurn, Playing, WhileAnswering};
use playback::*;
use recognition::{Recognition, Recognized, Resolved, TurnTimes};

/// The leg's rate (G.711).
const RATE: u32 = 8000;
const FRAME: usize = 160;
/// Short, so the fallback is reached within 2 s of the failure (it plays first).
const APOLOGY: &str = "Sorry, let me get you to a person.";
use crate::calls::answered::NOBODY;
const TAKEOVER: &str = "One moment please, I'm bringing in a colleague.";
/// A supervisor already on a call can still listen in or take one over.
const SUPERVISOR_LINES: usize = 8;
const HANDING_OVER: &str = "I'm passing you to my colleague now.";
const TAKEOVER_FAILED: &str = "Sorry, my colleague can't pick up right now. I'm still here; how can I help?";

pub use crate::calls::answered::LegEvent;

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
    /// The default recogniser (a cloud service's, or the local one `--recogniser` names).
    pub recognizer: Result<FairRecognizer, String>,
    /// Which local recogniser `recognizer` is (None: a cloud service).
    local: Option<crate::model::Recogniser>,
    /// The other local recognisers, each loaded when an AI agent first asks for it.
    others: std::collections::HashMap<
        crate::model::Recogniser,
        tokio::sync::OnceCell<Result<FairRecognizer, String>>,
    >,
    pub voice: Arc<dyn TextToSpeech>,
    /// Scores callers' pauses (Smart Turn) for agents that listen for the end of turn in the
    /// caller's voice; None when it could not be loaded (silence and words decide).
    pub turn_model: Option<Arc<dyn TurnScorer>>,
    callers: std::sync::atomic::AtomicU64,
    /// Prices of cloud engines in use (micro-dollars per minute of recognised audio, per
    /// million synthesised characters); None for a local engine.
    pub stt_price: Option<i64>,
    pub tts_price: Option<i64>,
}

static ENGINES: tokio::sync::OnceCell<Arc<Engines>> = tokio::sync::OnceCell::const_new();

/// One worker per core, one thread each: two callers' turns are recognised at once, which
/// beats one turn on two threads when several calls talk.
fn recognition_workers() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).clamp(1, 4)
}

fn other_recognisers(
) -> std::collections::HashMap<crate::model::Recogniser, tokio::sync::OnceCell<Result<FairRecognizer, String>>>
{
    use crate::model::Recogniser::*;
    [Whisper, WhisperBase, Moonshine].into_iter().map(|r| (r, tokio::sync::OnceCell::new())).collect()
}

/// A local recogniser of `kind` (`Default` is Whisper tiny.en): `threads` per recognition,
/// `sessions` recognitions at once where the engine keeps a session each (Moonshine).
pub fn local_recogniser(
    kind: crate::model::Recogniser,
    dir: &std::path::Path,
    threads: usize,
    sessions: usize,
) -> Result<Arc<dyn switchboard_speech::stt::SpeechToText>, switchboard_speech::Error> {
    Ok(match kind {
        crate::model::Recogniser::Moonshine => {
            Arc::new(switchboard_speech::stt::LocalMoonshine::load(dir, threads, sessions)?)
        }
        crate::model::Recogniser::WhisperBase => {
            Arc::new(LocalWhisper::load_size(dir, threads, switchboard_models::whisper::Size::Base)?)
        }
        _ => Arc::new(LocalWhisper::load(dir, threads)?),
    })
}

/// A local recogniser behind the fair queue, with `workers` recognitions at once.
fn load_local(
    kind: crate::model::Recogniser,
    dir: &std::path::Path,
    workers: usize,
) -> Result<FairRecognizer, String> {
    let loaded = local_recogniser(kind, dir, 1, workers);
    let recognizer = loaded.map(|e| FairRecognizer::new(e, workers)).map_err(|e| e.to_string());
    if let Err(e) = &recognizer {
        tracing::error!(error = %e, recogniser = ?kind, "a speech recogniser could not be loaded");
    }
    recognizer
}

impl Engines {
    /// For `/healthz`: starting while the engines load (or before anything asked for them),
    /// down when recognition could not be loaded (AI calls then go to their fallback).
    pub fn health() -> crate::supervise::PartState {
        use crate::supervise::PartState;
        match ENGINES.get() {
            None => PartState::Starting,
            Some(e) => match &e.recognizer {
                Ok(_) => PartState::Up,
                Err(why) => PartState::Down(format!("speech recognition is unavailable: {why}")),
            },
        }
    }

    /// The engines if they have loaded (without waiting or starting the load).
    pub fn ready() -> Option<Arc<Engines>> {
        ENGINES.get().cloned()
    }

    /// Loads the engines once (on first use, off the async runtime).
    pub async fn shared() -> Arc<Engines> {
        ENGINES
            .get_or_init(|| async {
                let loaded = tokio::task::spawn_blocking(|| {
                    let dir = switchboard_models::catalog::default_dir();
                    let cloud = crate::speechcloud::for_calls().unwrap_or_else(|e| {
                        tracing::error!(error = %e, "cloud speech cannot be used: the local engines are");
                        crate::speechcloud::CloudSpeech { stt: None, tts: None }
                    });
                    // A turn that finds the recogniser idle gets every core. A cloud service
                    // waits on the network, not on our cores: more at once.
                    let workers = recognition_workers();
                    let (recognizer, stt_price, local) = match cloud.stt {
                        Some((stt, price)) => (Ok(FairRecognizer::new(Arc::new(stt), 8)), Some(price), None),
                        None => {
                            let kind = crate::speechcloud::local_recogniser();
                            (load_local(kind, &dir, workers), None, Some(kind))
                        }
                    };
                    if let Err(e) = &recognizer {
                        tracing::error!(error = %e, "speech recognition is unavailable: AI calls go to their fallback");
                    }
                    let (voice, tts_price): (Arc<dyn TextToSpeech>, _) = match cloud.tts {
                        Some((tts, price)) => (Arc::new(tts), Some(price)),
                        None => (switchboard_speech::tts::default_voice(&dir), None),
                    };
                    let turn_model = match LocalSmartTurn::load(&dir, workers) {
                        Ok(m) => Some(Arc::new(m) as Arc<dyn TurnScorer>),
                        Err(e) => {
                            tracing::warn!(error = %e, "no turn model: silence and words decide when callers have finished");
                            None
                        }
                    };
                    Engines {
                        recognizer,
                        local,
                        others: other_recognisers(),
                        voice,
                        turn_model,
                        callers: Default::default(),
                        stt_price,
                        tts_price,
                    }
                })
                .await;
                Arc::new(loaded.unwrap_or_else(|e| Engines {
                    recognizer: Err(e.to_string()),
                    local: None,
                    others: other_recognisers(),
                    voice: Arc::new(Espeak::default()),
                    turn_model: None,
                    callers: Default::default(),
                    stt_price: None,
                    tts_price: None,
                }))
            })
            .await
            .clone()
    }

    /// The recogniser an AI agent asked for: the default one, or another local one (loaded on
    /// first use). With a cloud service, a local one only when the agent names it.
    pub async fn recognizer_for(&self, wanted: crate::model::Recogniser) -> &Result<FairRecognizer, String> {
        let Some(cell) = self.others.get(&wanted).filter(|_| Some(wanted) != self.local) else {
            return &self.recognizer;
        };
        cell.get_or_init(|| async move {
            let dir = switchboard_models::catalog::default_dir();
            let workers = recognition_workers();
            tokio::task::spawn_blocking(move || load_local(wanted, &dir, workers))
                .await
                .unwrap_or_else(|e| Err(e.to_string()))
        })
        .await
    }

    /// A call's meter of cloud speech, priced as these engines are.
    pub fn meter(&self) -> Arc<crate::agent::speech_usage::SpeechMeter> {
        Arc::new(crate::agent::speech_usage::SpeechMeter::priced(self.stt_price, self.tts_price))
    }

    /// A new listener's place in the recogniser's fair queue.
    pub fn next_caller(&self) -> u64 {
        self.callers.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }

    /// Synthesises `text` for the phone at 8 kHz; espeak-ng when the voice fails. What the
    /// (cloud) voice said is counted on `meter`.
    fn speak(&self, text: &str, meter: &crate::agent::speech_usage::SpeechMeter) -> Option<Vec<i16>> {
        let text = switchboard_speech::text::for_phone(text);
        // A panic in the voice costs this sentence only (espeak-ng says it instead).
        let voiced = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.voice.synthesize(&text)))
            .unwrap_or_else(|payload| {
                let message = switchboard_telephony::driver::panic_message(payload.as_ref());
                Err(switchboard_speech::Error::Engine(format!("the voice panicked: {message}")))
            });
        if let Ok(a) = &voiced {
            meter.synthesised(&text, a.duration_ms());
        }
        let audio = voiced.or_else(|e| {
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

/// An AI agent taking an answered call.
pub struct VoiceCall {
    /// The AI agent's name.
    pub agent: String,
    /// Use this LLM client instead of the agent's endpoint (benchmarks).
    pub llm: Option<Arc<dyn crate::llm::LlmClient>>,
}

/// Silence that ends a turn recognised as a finished sentence. Not much less: callers pause
/// between a finished-sounding phrase and the rest ("Where is my order … 1002?"); at 0 the e2e
/// tests caught the AI answering "Where is my order?" alone. (250 until speech counted as
/// stopped after 32 ms; recognition then usually ends later than 200 ms anyway.)
const FINISHED_SENTENCE_SILENCE_MS: u64 = 200;

impl VoiceCall {
    pub fn new(agent: String) -> VoiceCall {
        VoiceCall { agent, llm: None }
    }

    /// Runs the conversation until the call ends or the agent hands the caller on (to a
    /// person, a queue, a menu, a voicemail box: where the conversation decided). Whatever the
    /// agent is still saying then is the next service's lead-in.
    pub fn run<'a>(
        self,
        line: &'a mut AnsweredCall,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Onward> + Send + 'a>> {
        Box::pin(self.converse(line))
    }

    async fn converse(self, line: &mut AnsweredCall) -> Onward {
        // Whatever the previous service still says ends before the agent greets.
        line.finish_lead_in(Duration::from_secs(15)).await;
        let VoiceCall { agent, llm } = self;
        let AnsweredCall {
            ref db,
            ref sip,
            call,
            account,
            ref relay,
            ref records,
            record,
            ref mut digits,
            ref caller,
            ref mut ended,
            ref legs,
            ref live,
            ref snapshot,
            ref mut lead_in,
            ..
        } = *line;
        let (db, sip, relay, records, caller, live) =
            (db.clone(), sip.clone(), relay.clone(), records.clone(), caller.clone(), live.clone());
        let setup = SessionSetup {
            db: db.clone(),
            records: records.clone(),
            account,
            agent,
            caller_number: caller,
            record,
        };
        let engines = Engines::shared().await;
        let meter = engines.meter();
        let playback = Arc::new(Mutex::new(Playback::default()));
        // From now on the caller hears whatever the agent queues (silence in between).
        drop(relay.play(MediaSide::A, Box::new(Player(playback.clone()))));
        let ctx = CallControl {
            sip: sip.clone(),
            call,
            relay: relay.clone(),
            playback: playback.clone(),
            account,
            legs: legs.clone(),
            snapshot: snapshot.clone(),
            listening: Mutex::new(None),
            meter: meter.clone(),
        };
        let mut session = match Session::start(setup).await {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(%call, error = %e, "AI agent cannot start");
                if let Some(key) = record {
                    records.event(key, "ai_fallback", json!({ "reason": e.to_string() }));
                }
                ctx.say_and_wait(&engines, NOBODY).await;
                return Onward::To(Target::Hangup);
            }
        };
        if let Some(client) = llm {
            session = session.with_llm(client);
        }
        session.speech = meter.clone();
        if let Some(key) = record {
            // A card payment's prompts take the caller's ear; the agent's voice gets it back after.
            let (relay, playback) = (relay.clone(), playback.clone());
            let restore =
                Box::new(move || drop(relay.play(MediaSide::A, Box::new(Player(playback.clone())))));
            let by = format!("AI agent {}", session.agent.name);
            let tool =
                crate::calls::payment::tool::PaymentTool::new(live.payments().clone(), key, &by, restore);
            session.add_call_tool(Arc::new(tool));
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
            let (engines, meter) = (engines.clone(), meter.clone());
            tokio::task::spawn_blocking(move || engines.speak(APOLOGY, &meter))
        };
        let recognizer = match engines.recognizer_for(session.agent.recogniser).await {
            Ok(r) => r,
            Err(e) => {
                let next = session.fail(&format!("speech recognition unavailable: {e}"));
                let apology = apology.await.ok().flatten();
                return ctx.finish(&engines, &mut session, next, apology, lead_in).await;
            }
        };
        let heard_by = recognizer.engine_name().to_string();
        let caller_id = engines.next_caller();
        let turn_model = engines.turn_model.clone().filter(|_| session.agent.end_of_turn_model);
        let turn = TurnConfig {
            model: turn_model.as_ref().map(|_| TurnModel::default()),
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
                return ctx.finish(&engines, &mut session, next, apology, lead_in).await;
            }
        };
        let mut tap = relay.tap(MediaSide::A);
        // The caller's audio time 0, in the session's (call's) time.
        let listening_from = session.since_start_ms();
        let (mut recognition, mut heard_rx) =
            Recognition::new(recognizer, caller_id, call, meter.clone(), turn_model);
        let greeting = session.greeting();
        let interruptible = session.agent.greeting_interruptible;
        ctx.queue(&engines, &greeting, interruptible).await;
        let mut apology = Some(apology);
        let mut hearing = Hearing {
            ears,
            playback: playback.clone(),
            audio_ms: 0,
            was_playing: false,
            live: live_call.clone(),
            thinking: false,
            shown: None,
            heard_at: Instant::now(),
            stopped_at: None,
        };
        let mut conversation = Conversation::default();
        let deadline = tokio::time::sleep(Duration::from_secs(session.agent.max_call_minutes as u64 * 60));
        tokio::pin!(deadline);
        loop {
            // Every way round the loop gives the caller the floor again.
            debug_assert_eq!(conversation.phase(), conversation::Phase::Listening);
            let heard = tokio::select! {
                frame = tap.recv() => {
                    let Some(samples) = frame else { break };
                    for f in hearing.hear(samples) {
                        match f {
                            Frame::Interruption { .. } => {
                                let heard = lock(&playback).stop();
                                session.interrupted(&heard);
                            }
                            f => recognition.on_frame(f, &mut hearing),
                        }
                    }
                    continue;
                }
                h = heard_rx.recv() => match h { Some(h) => h, None => break },
                _ = &mut *ended => break,
                Some(command) = commands.recv() => {
                    match command {
                        Command::Listen { extension, by } => ctx.listen(&extension, &by, &live_call).await,
                        Command::TakeOver { extension, by } => {
                            conversation.take_over();
                            let connected =
                                ctx.take_over(&engines, &session, &extension, &by, &live_call, ended).await;
                            conversation.taken_over(connected);
                            if connected {
                                session.finish();
                                return Onward::Done;
                            }
                            hearing.shown = None; // the AI is back: show what it does
                        }
                    }
                    continue;
                }
                d = digits.recv() => {
                    match d {
                        Some(key) if conversation.key(key) => {
                            let next = session.escalate("the caller pressed 0");
                            return ctx.finish(&engines, &mut session, next, None, lead_in).await;
                        }
                        Some(_) => continue,
                        None => break,
                    }
                }
                _ = &mut deadline => {
                    conversation.over();
                    let next = Next::Hangup { reason: "the AI call reached its time limit".into() };
                    ctx.queue(&engines, "We have reached the time limit for this call. Goodbye!", false).await;
                    return ctx.finish(&engines, &mut session, next, None, lead_in).await;
                }
            };
            let (text, times, stt_done) = match recognition.resolve(heard, &mut hearing, &live_call) {
                Resolved::Turn(text, times, stt_done) => (text, times, stt_done),
                Resolved::Pending => continue,
                Resolved::Failed(e) => {
                    conversation.over();
                    let next = session.fail(&format!("speech recognition failed: {e}"));
                    let apology = match apology.take() {
                        Some(a) => a.await.ok().flatten(),
                        None => None,
                    };
                    return ctx.finish(&engines, &mut session, next, apology, lead_in).await;
                }
            };
            let Recognized { text, confidence, said: (said_from, said_to) } = text;
            let turn_score = recognition.take_turn_score();
            let text = text.trim().to_string();
            tracing::debug!(%call, %text, "caller's turn recognised");
            let playing = {
                let p = lock(&playback);
                Playing {
                    playing: p.playing(),
                    interruptible: p.interruptible(),
                    statement: p.plays_on_statement(),
                }
            };
            let decision = conversation.turn(&text, hearing.ears.is_backchannel(&text), playing);
            if matches!(decision, OnTurn::Acknowledge | OnTurn::Answer { again: false, .. }) {
                live_call.confidence(confidence);
                // The transcript line gets the times the caller spoke, in call time.
                session.caller_said_at(listening_from + said_from as i64, listening_from + said_to as i64);
            }
            let again = match decision {
                OnTurn::Ignore => continue,
                // Acknowledgement while the answer plays ("yeah", "mm-hm"): the answer goes on.
                OnTurn::Acknowledge => {
                    tracing::debug!(%call, %text, "acknowledgement while the agent speaks");
                    session.acknowledged(&text);
                    continue;
                }
                // Whatever was still playing is over: the caller has the floor (what may not
                // be interrupted plays to its end, and the answer follows it).
                OnTurn::Answer { again, cut } => {
                    let heard_before = lock(&playback).new_turn();
                    if cut {
                        tracing::debug!(%call, heard = %heard_before, "previous answer cut by the caller's turn");
                        session.interrupted(&heard_before);
                    }
                    again
                }
            };
            // The answer streams sentence by sentence into synthesis and playback.
            let (say_tx, speaker) = speak_answer(&engines, &playback, &relay, &meter);
            // The answer runs while the caller's audio keeps being heard: a barge-in cancels it.
            hearing.set_thinking(true);
            let mut command = None;
            // Words the caller went on to say before any of the answer was heard.
            let mut more: Option<AudioFrame> = None;
            // The caller turned out to hesitate: the wait for their turns' end from now on.
            let mut hesitates: Option<u64> = None;
            let outcome = {
                let respond = async {
                    match again {
                        true => session.answer_again(&say_tx).await,
                        false => session.respond(&text, &say_tx).await,
                    }
                };
                tokio::pin!(respond);
                loop {
                    tokio::select! {
                        next = &mut respond => break Some(next),
                        _ = &mut *ended => break None,
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
                            let mut cut = false;
                            for f in hearing.hear(samples) {
                                let answer_heard = lock(&playback).first_frame_at.is_some();
                                if conversation.hesitated(&f, answer_heard, said_to) {
                                    // Cut off once: this caller's turns are waited for longer.
                                    hearing.ears.be_patient();
                                    hesitates = Some(hearing.ears.end_of_turn_ms());
                                }
                                match conversation.while_answering(f, hearing.was_playing) {
                                    WhileAnswering::Cut => cut = true,
                                    WhileAnswering::MoreWords(audio) => {
                                        more = Some(audio);
                                        cut = true;
                                    }
                                    WhileAnswering::RecogniseLater(audio) => {
                                        let times = hearing.turn_times(&audio);
                                        recognition.recognise_turn(audio, times);
                                    }
                                    WhileAnswering::GoOn => {}
                                }
                            }
                            if cut {
                                break None;
                            }
                        }
                    }
                }
            };
            hearing.set_thinking(false);
            drop(say_tx);
            if let Some(wait) = hesitates {
                session.event("caller_hesitates", json!({ "end_of_turn_silence_ms": wait }));
            }
            let end = match (&command, &more, &outcome) {
                (Some(_), _, _) => AnswerEnded::TakeOver,
                (None, Some(_), _) => AnswerEnded::MoreWords,
                (None, None, Some(next)) => AnswerEnded::Finished { listen_on: *next == Next::Listen },
                (None, None, None) if call_over(ended) => AnswerEnded::CallEnded,
                (None, None, None) => AnswerEnded::Cut,
            };
            match (conversation.answer_ended(end), command, more, outcome) {
                (AfterAnswer::TakeOver, Some(Command::TakeOver { extension, by }), _, _) => {
                    // A supervisor takes the call: the answer in progress stops.
                    speaker.abort();
                    let heard = lock(&playback).stop();
                    session.interrupted(&heard);
                    let connected =
                        ctx.take_over(&engines, &session, &extension, &by, &live_call, ended).await;
                    conversation.taken_over(connected);
                    if connected {
                        session.finish();
                        return Onward::Done;
                    }
                    hearing.shown = None;
                }
                (AfterAnswer::Listen, _, Some(audio), _) => {
                    // The caller's words go on: answered together once these are recognised.
                    speaker.abort();
                    let heard = lock(&playback).stop();
                    session.continued(&heard);
                    let times = hearing.turn_times(&audio);
                    recognition.recognise_turn(audio, times);
                }
                (after @ (AfterAnswer::Listen | AfterAnswer::Finish), _, None, Some(next)) => {
                    let first_audio = speaker.await.ok().flatten();
                    let first_frame = first_frame_played(&playback, first_audio.is_some()).await;
                    let heard = HeardBy { recogniser: &heard_by, turn_score };
                    record_latency(&session, heard, times, stt_done, first_audio, first_frame);
                    if after == AfterAnswer::Finish {
                        let apology = match (&next, apology.take()) {
                            (Next::Fallback { .. }, Some(a)) => a.await.ok().flatten(),
                            _ => None,
                        };
                        return ctx.finish(&engines, &mut session, next, apology, lead_in).await;
                    }
                }
                (after, ..) => {
                    // Barge-in (or the call ended): stop speaking, keep what was heard.
                    speaker.abort();
                    let heard = lock(&playback).stop();
                    session.interrupted(&heard);
                    if after == AfterAnswer::Gone {
                        break;
                    }
                }
            }
        }
        // The caller hung up.
        session.finish();
        Onward::Done
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

/// How a turn was heard: by which recogniser, and the turn model's score of the pause that
/// ended it (when the agent listens for the end of turn in the caller's voice).
struct HeardBy<'a> {
    recogniser: &'a str,
    turn_score: Option<f32>,
}

/// Writes one turn's latency waterfall into the timeline and the metrics.
fn record_latency(
    session: &Session,
    heard: HeardBy,
    times: TurnTimes,
    stt_done: Instant,
    first_audio: Option<Instant>,
    first_frame: Option<Instant>,
) {
    let from = times.speech_end;
    let ms = |t: Option<Instant>| t.map(|t| t.saturating_duration_since(from).as_millis() as u64);
    let stages = [
        ("speech_stopped", times.speech_stopped),
        ("end_of_turn", Some(times.turn_end)),
        ("final_transcript", Some(stt_done)),
        ("first_token", session.times.first_token),
        ("first_sentence", session.times.first_sentence),
        ("first_audio", first_audio),
        ("first_packet", first_frame),
    ];
    let mut data = json!({
        "end_of_turn_silence_ms": session.agent.end_of_turn_silence_ms,
        "recogniser": heard.recogniser,
        "turn_score": heard.turn_score.map(|p| (p * 1000.0).round() / 1000.0),
        // The stages are relative to this: lets a caller's own clock (the bench's RTP caller)
        // place them after its last voiced sample.
        "speech_end_unix_ms": crate::clock::unix_ms_of(from.into_std()),
    });
    for (stage, at) in stages {
        data[format!("{stage}_ms")] = json!(ms(at));
        if let Some(t) = at {
            turn_latency()
                .get_or_create(&StageLabel { stage: stage.into() })
                .observe(t.saturating_duration_since(from).as_secs_f64());
        }
    }
    session.event("latency", data);
}
