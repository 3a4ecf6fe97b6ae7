//! From the caller's speech to recognised turns. The ears' frames start recognitions on the
//! shared recogniser: partial transcripts while the caller speaks (when nobody waits for a
//! final), the turn so far as soon as speech stops (so that its transcript is ready, or nearly,
//! when the turn ends, and a finished sentence can end the turn early), and the whole turn when
//! the earlier result cannot be used. With a turn model, each pause is also scored (is the
//! caller's voice finished?) and the score goes back to the ears, which weigh it with the
//! silence and the words. Results come back on one channel as `Heard` and are resolved here
//! into turns. An engine that can go on from an earlier transcript (Moonshine) is given the
//! turn's latest partial with each later recognition of the turn, and decodes only what follows.

use super::playback::Hearing;
use crate::agent::speech_usage::SpeechMeter;
use crate::live::LiveCall;
use std::sync::Arc;
use switchboard_speech::frame::{AudioFrame, Continuation, Frame, Transcript};
use switchboard_speech::stt::{Cancel, FairRecognizer};
use switchboard_speech::turn_model::TurnScorer;
use switchboard_telephony::sip::b2bua::CallId;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// A recognition result for the loop: partial or final, with the turn it belongs to.
pub(super) enum Heard {
    /// A partial transcript (`None`: given up, or it failed).
    Partial(Option<Transcript>),
    /// Recognised when speech stopped (turn `turn` of the call), before the turn was known over.
    Early {
        turn: u64,
        result: Result<Recognized, String>,
        done: Instant,
    },
    Final {
        text: Recognized,
        times: TurnTimes,
        stt_done: Instant,
    },
    Failed(String),
    /// The turn model's score of the pause that began at `speech_end_ms` (`NaN`: it could
    /// not say).
    TurnScore {
        speech_end_ms: u64,
        score: f32,
    },
}

/// When the caller stopped speaking and when the turn was known over.
#[derive(Debug, Clone, Copy)]
pub(super) struct TurnTimes {
    /// Where the caller's speech ended, at the time its audio was heard.
    pub(super) speech_end: Instant,
    /// When the voice activity detector decided it had stopped.
    pub(super) speech_stopped: Option<Instant>,
    pub(super) turn_end: Instant,
}

/// A recognised turn.
#[derive(Debug, Clone)]
pub(super) struct Recognized {
    pub(super) text: String,
    /// How sure the recogniser was, when it says.
    pub(super) confidence: Option<f32>,
    /// When it was said: ms of the caller's audio, from the start of the call's hearing.
    pub(super) said: (u64, u64),
}

/// What a recognition result means for the conversation.
pub(super) enum Resolved {
    /// The caller's turn: what they said, when, and when its transcript was ready.
    Turn(Recognized, TurnTimes, Instant),
    /// Nothing to answer yet.
    Pending,
    /// Recognition failed: the caller cannot be understood.
    Failed(String),
}

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
    turn_ended_at: Option<TurnTimes>,
    /// Gives the recognition up when the caller goes on speaking (its result would be stale).
    cancel: Cancel,
}

/// One caller's recognitions in flight.
pub(super) struct Recognition<'a> {
    recognizer: &'a FairRecognizer,
    /// This caller, for the recogniser's fair queue.
    caller: u64,
    call: CallId,
    heard: mpsc::UnboundedSender<Heard>,
    /// The partial transcript being worked out, if any.
    partial: Option<Cancel>,
    /// The engine's record of the turn's latest partial transcript, to go on from.
    earlier: Option<Continuation>,
    early: Option<Early>,
    early_turns: u64,
    /// Audio sent to a cloud recogniser is counted for the call's cost.
    meter: Arc<SpeechMeter>,
    /// Scores pauses when the agent listens for the end of turn in the caller's voice.
    turn_model: Option<Arc<dyn TurnScorer>>,
    /// The turn model's latest score in this turn (the pause that ended it, when it came in
    /// before the end).
    turn_score: Option<f32>,
}

impl<'a> Recognition<'a> {
    pub(super) fn new(
        recognizer: &'a FairRecognizer,
        caller: u64,
        call: CallId,
        meter: Arc<SpeechMeter>,
        turn_model: Option<Arc<dyn TurnScorer>>,
    ) -> (Self, mpsc::UnboundedReceiver<Heard>) {
        let (heard, rx) = mpsc::unbounded_channel();
        let r = Recognition {
            recognizer,
            caller,
            call,
            heard,
            partial: None,
            earlier: None,
            early: None,
            early_turns: 0,
            meter,
            turn_model,
            turn_score: None,
        };
        (r, rx)
    }

    /// Acts on one of the ears' frames while the caller has the floor.
    pub(super) fn on_frame(&mut self, frame: Frame, hearing: &mut Hearing) {
        match frame {
            // Partials are a nicety: skipped while callers wait for finals, and never paid for
            // (a cloud recogniser hears whole turns only).
            Frame::PartialRequest { audio, .. }
                if self.partial.is_none() && self.recognizer.waiting() == 0 && !self.meter.stt_is_cloud() =>
            {
                let pending = self.recognizer.submit_partial_after(audio, self.earlier.clone());
                self.partial = Some(pending.cancel);
                let rx = pending.result;
                let tx = self.heard.clone();
                tokio::task::spawn_blocking(move || {
                    let _ = tx.send(Heard::Partial(rx.recv().ok().and_then(|r| r.ok())));
                });
            }
            // More speech: the recognition of the pause before it is stale.
            Frame::SpeechStarted { .. } => {
                if let Some(e) = self.early.take() {
                    e.cancel.cancel();
                }
            }
            Frame::SpeechStopped { at_ms } => {
                let call = self.call;
                tracing::debug!(%call, speech_end_ms = at_ms, heard_ms = hearing.audio_ms, "speech stopped");
                // The whole turn so far is recognised now: a partial of part of it only takes a
                // core from it.
                if let Some(p) = &self.partial {
                    p.cancel();
                }
                if let Some(audio) = hearing.ears.turn_audio(at_ms) {
                    self.recognise_pause(audio, at_ms);
                }
            }
            // Scored off the async runtime; a model that fails leaves the pause to the silence
            // and the words.
            Frame::TurnScoreRequest { speech_end_ms, audio } => {
                let Some(model) = self.turn_model.clone() else { return };
                let (tx, call) = (self.heard.clone(), self.call);
                tokio::task::spawn_blocking(move || {
                    let score = model.score(&audio).unwrap_or_else(|e| {
                        tracing::warn!(%call, error = %e, "the turn model could not score a pause");
                        f32::NAN
                    });
                    let _ = tx.send(Heard::TurnScore { speech_end_ms, score });
                });
            }
            Frame::EndOfTurn { audio, .. } => {
                // The next turn starts afresh.
                let earlier = self.earlier.take();
                let times = hearing.turn_times(&audio);
                if let Some(e) = self.early.as_mut() {
                    match e.result.take() {
                        Some(Ok(text)) => {
                            let _ = self.heard.send(Heard::Final { text, times, stt_done: times.turn_end });
                            self.early = None;
                            return;
                        }
                        None => {
                            e.turn_ended_at = Some(times);
                            return;
                        }
                        Some(Err(_)) => self.early = None, // recognise again below
                    }
                }
                self.recognise(audio, times, earlier);
            }
            _ => {}
        }
    }

    /// The turn model's score of the pause that ended the turn just resolved, if it scored one.
    pub(super) fn take_turn_score(&mut self) -> Option<f32> {
        self.turn_score.take()
    }

    /// Recognises the turn so far when the caller's speech stops at `at_ms`.
    fn recognise_pause(&mut self, audio: AudioFrame, at_ms: u64) {
        self.early_turns += 1;
        let turn = self.early_turns;
        let span = span_of(&audio);
        self.meter.recognised(audio.duration_ms());
        let pending = self.recognizer.submit_after(self.caller, audio, true, self.earlier.clone());
        let rx = pending.result;
        let early =
            Early { turn, speech_end_ms: at_ms, result: None, turn_ended_at: None, cancel: pending.cancel };
        if let Some(stale) = self.early.replace(early) {
            stale.cancel.cancel();
        }
        let tx = self.heard.clone();
        tokio::task::spawn_blocking(move || {
            let result = match rx.recv() {
                Ok(Ok(t)) => Ok(Recognized { text: t.text, confidence: t.confidence, said: span }),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err("the recogniser stopped".into()),
            };
            let _ = tx.send(Heard::Early { turn, result, done: Instant::now() });
        });
    }

    /// Recognises a whole turn; the result comes back as `Heard::Final` (or `Heard::Failed`).
    pub(super) fn recognise_turn(&self, audio: AudioFrame, times: TurnTimes) {
        self.recognise(audio, times, None);
    }

    /// The same, going on from `earlier` (the turn's latest partial) where the engine can.
    fn recognise(&self, audio: AudioFrame, times: TurnTimes, earlier: Option<Continuation>) {
        let span = span_of(&audio);
        self.meter.recognised(audio.duration_ms());
        let rx = self.recognizer.submit_after(self.caller, audio, true, earlier).result;
        let tx = self.heard.clone();
        tokio::task::spawn_blocking(move || {
            let _ = tx.send(match rx.recv() {
                Ok(Ok(t)) => Heard::Final {
                    text: Recognized { text: t.text, confidence: t.confidence, said: span },
                    times,
                    stt_done: Instant::now(),
                },
                Ok(Err(e)) => Heard::Failed(e.to_string()),
                Err(_) => Heard::Failed("the recogniser stopped".into()),
            });
        });
    }

    /// What a recognition result means: a turn to answer, nothing yet, or a failure.
    pub(super) fn resolve(&mut self, heard: Heard, hearing: &mut Hearing, live: &LiveCall) -> Resolved {
        match heard {
            Heard::Early { turn, result, done } => {
                let Some(e) = self.early.as_mut().filter(|e| e.turn == turn) else {
                    return Resolved::Pending; // the caller went on speaking: stale
                };
                match (e.turn_ended_at, result) {
                    (Some(times), Ok(text)) => {
                        self.early = None;
                        Resolved::Turn(text, times, done.max(times.turn_end))
                    }
                    (Some(_), Err(err)) => {
                        self.early = None;
                        Resolved::Failed(err)
                    }
                    (None, Ok(text)) => {
                        let call = self.call;
                        tracing::debug!(%call, text = %text.text, heard_ms = hearing.audio_ms, "pause recognised");
                        // A finished sentence while the pause goes on ends the turn now.
                        let frames = hearing.ears.handle_transcript(e.speech_end_ms, &text.text);
                        if frames.iter().any(|f| matches!(f, Frame::EndOfTurn { .. })) {
                            let times = TurnTimes {
                                speech_end: hearing.instant_of(e.speech_end_ms),
                                speech_stopped: hearing.stopped_at,
                                turn_end: Instant::now(),
                            };
                            self.early = None;
                            // The transcript ended the turn: it counts as ready then (its own
                            // moment came a little before `turn_end` was read).
                            Resolved::Turn(text, times, done.max(times.turn_end))
                        } else {
                            e.result = Some(Ok(text));
                            Resolved::Pending
                        }
                    }
                    (None, result) => {
                        e.result = Some(result);
                        Resolved::Pending
                    }
                }
            }
            Heard::Partial(transcript) => {
                self.partial = None;
                if let Some(t) = transcript {
                    hearing.ears.set_partial(&t.text);
                    live.partial(&t.text);
                    // Kept even when the engine gives none: an older one would not match.
                    self.earlier = t.continuation;
                }
                Resolved::Pending
            }
            Heard::Failed(e) => Resolved::Failed(e),
            Heard::Final { text, times, stt_done } => Resolved::Turn(text, times, stt_done),
            Heard::TurnScore { speech_end_ms, score } => {
                let call = self.call;
                tracing::debug!(%call, speech_end_ms, score, heard_ms = hearing.audio_ms, "pause scored");
                self.turn_score = score.is_finite().then_some(score);
                // If the score ends the turn, it ends as a turn ended by silence does (with
                // the pause's transcript when it is in, else once it is).
                for frame in hearing.ears.handle_turn_score(speech_end_ms, score) {
                    self.on_frame(frame, hearing);
                }
                Resolved::Pending
            }
        }
    }
}
