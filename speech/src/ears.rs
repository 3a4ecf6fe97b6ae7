//! A call leg's ears: the leg's audio in (any rate, 20 ms at a time), turns out. Resamples to
//! 16 kHz, scores voice, detects speech and end of turn, keeps the utterance audio for the
//! recogniser, and runs barge-in while the agent speaks. Sans-IO: the audio's own timestamps are
//! the clock.

use crate::bargein::{BargeIn, BargeInConfig, BargeInEvent};
use crate::frame::{AudioFrame, Frame};
use crate::resample::Resampler;
use crate::turn::{TurnConfig, TurnDetector, TurnEvent};
use crate::vad::Vad;
use crate::Result;
use std::collections::VecDeque;

/// Rate the recogniser and the VAD work at.
pub const RATE: u32 = 16_000;
/// Audio kept before the detected start of speech (VAD needs a moment to be sure).
const PRE_ROLL_MS: u64 = 240;
/// Least audio after the end of speech a turn is recognised with (silence makes up the rest).
const MIN_TAIL_MS: u64 = 64;
/// Most audio kept (a turn longer than the longest turn cannot need more).
const KEEP_MS: u64 = 40_000;

pub struct Ears {
    input_rate: u32,
    resampler: Option<Resampler>,
    vad: Vad,
    turn: TurnDetector,
    barge: BargeIn,
    /// Recent 16 kHz audio and the audio time of its first sample.
    audio: VecDeque<i16>,
    audio_start_ms: u64,
    /// Audio time of the next 16 kHz sample (follows the input clock).
    next_ms: Option<u64>,
    /// How often to ask for a partial transcript while the caller speaks (None: never).
    partial_every_ms: Option<u64>,
    /// Start of the current turn, and when the last partial was asked for.
    turn_start_ms: Option<u64>,
    last_partial_ms: u64,
    /// The pause (by the time speech stopped) the turn model was last asked to score.
    scored_pause: Option<u64>,
}

impl Ears {
    pub fn new(input_rate: u32, turn: TurnConfig, barge: BargeInConfig) -> Result<Self> {
        let resampler = if input_rate == RATE { None } else { Some(Resampler::new(input_rate, RATE)?) };
        Ok(Ears {
            input_rate,
            resampler,
            vad: Vad::default(),
            turn: TurnDetector::new(turn),
            barge: BargeIn::new(barge),
            audio: VecDeque::new(),
            audio_start_ms: 0,
            next_ms: None,
            partial_every_ms: Some(640),
            turn_start_ms: None,
            last_partial_ms: 0,
            scored_pause: None,
        })
    }

    /// Sets how often partial transcripts are asked for while the caller speaks.
    pub fn with_partials_every(mut self, ms: Option<u64>) -> Self {
        self.partial_every_ms = ms;
        self
    }

    /// The caller went on after a pause that was taken for their end: wait longer for them
    /// from now on ([`crate::turn::TurnConfig::patient`]).
    pub fn be_patient(&mut self) {
        self.turn.be_patient();
    }

    /// The silence that ends a turn when nothing shortens or lengthens it.
    pub fn end_of_turn_ms(&self) -> u64 {
        self.turn.config().end_ms
    }

    pub fn input_rate(&self) -> u32 {
        self.input_rate
    }

    /// The agent started or stopped speaking (barge-in only acts during playback).
    pub fn playback_started(&mut self, interruptible: bool) {
        self.barge.playback_started(interruptible);
    }

    pub fn playback_ended(&mut self) {
        self.barge.playback_ended();
    }

    /// Whether a transcript is only acknowledgement ("yeah", "mm-hm"): said while the agent
    /// speaks, it is not a turn to answer.
    pub fn is_backchannel(&self, text: &str) -> bool {
        self.barge.config().is_backchannel(text)
    }

    /// What the recogniser made of the current turn so far (lengthens the wait for the end of
    /// an unfinished sentence; tells backchannels from interruptions).
    pub fn set_partial(&mut self, text: &str) {
        self.turn.set_partial(text);
        self.barge.handle_transcript(text);
    }

    /// The current turn's audio up to `speech_end_ms` (with the same pre- and post-roll as the
    /// end of the turn would carry; speech counts as stopped after that much silence): for
    /// recognising speculatively when speech stops, so that the transcript is ready when the
    /// turn turns out to be over.
    pub fn turn_audio(&self, speech_end_ms: u64) -> Option<AudioFrame> {
        let start = self.turn_start_ms?;
        Some(self.turn_slice(start, speech_end_ms))
    }

    /// A turn's audio: pre-roll, speech, and the silence heard until speech counted as stopped,
    /// padded with silence to [`Ears::post_roll_ms`] (Whisper misses final sounds of a clip
    /// that ends right after the words).
    fn turn_slice(&self, start_ms: u64, speech_end_ms: u64) -> AudioFrame {
        let heard = self.turn.config().stop_ms;
        let mut audio = self.slice(start_ms.saturating_sub(PRE_ROLL_MS), speech_end_ms + heard);
        let end_ms = speech_end_ms + self.post_roll_ms();
        let len = (end_ms.saturating_sub(audio.at_ms) * RATE as u64 / 1000) as usize;
        audio.samples.resize(len.max(audio.samples.len()), 0);
        audio
    }

    /// Audio after the end of speech in a turn's audio: the silence after which speech counts
    /// as stopped (so the audio recognised at that moment is the audio the end of the turn
    /// carries), made up with digital silence to `MIN_TAIL_MS`.
    pub fn post_roll_ms(&self) -> u64 {
        self.turn.config().stop_ms.max(MIN_TAIL_MS)
    }

    /// A transcript of the turn up to the pause that began at `speech_end_ms` (recognised from
    /// [`Ears::turn_audio`] when speech stopped). If it reads as a finished sentence and the pause
    /// is still going on, the turn may end now: the `EndOfTurn` is returned.
    pub fn handle_transcript(&mut self, speech_end_ms: u64, text: &str) -> Vec<Frame> {
        self.turn.handle_transcript(speech_end_ms, text);
        let mut out = Vec::new();
        self.turn_events(&mut out);
        out
    }

    /// The turn model's score of the pause that began at `speech_end_ms` (see
    /// [`TurnDetector::handle_turn_score`]): if it lets the pause end the turn now, the
    /// `EndOfTurn` is returned.
    pub fn handle_turn_score(&mut self, speech_end_ms: u64, score: f32) -> Vec<Frame> {
        self.turn.handle_turn_score(speech_end_ms, score);
        let mut out = Vec::new();
        self.turn_events(&mut out);
        out
    }

    /// Asks for the turn model's score of the pause going on, once per pause, when it has
    /// lasted the model's `score_after_ms`.
    fn score_request(&mut self, now: u64, out: &mut Vec<Frame>) {
        let Some(after) = self.turn.config().model.as_ref().map(|m| m.score_after_ms) else { return };
        let Some(speech_end_ms) = self.turn.silent_since() else { return };
        if self.scored_pause == Some(speech_end_ms) || now.saturating_sub(speech_end_ms) < after {
            return;
        }
        self.scored_pause = Some(speech_end_ms);
        if let Some(start) = self.turn_start_ms {
            let audio = self.slice(start.saturating_sub(PRE_ROLL_MS), now);
            out.push(Frame::TurnScoreRequest { speech_end_ms, audio });
        }
    }

    /// Whether pauses are scored by a turn model.
    pub fn wants_turn_scores(&self) -> bool {
        self.turn.config().model.is_some()
    }

    /// Turns the turn detector's events into frames.
    fn turn_events(&mut self, out: &mut Vec<Frame>) {
        while let Some(e) = self.turn.poll_event() {
            out.push(match e {
                TurnEvent::SpeechStarted { at_ms } => {
                    if self.turn_start_ms.is_none() {
                        self.turn_start_ms = Some(at_ms);
                        self.last_partial_ms = at_ms;
                    }
                    Frame::SpeechStarted { at_ms }
                }
                TurnEvent::SpeechStopped { at_ms } => Frame::SpeechStopped { at_ms },
                TurnEvent::EndOfTurn { at_ms, start_ms, speech_end_ms } => {
                    self.turn_start_ms = None;
                    Frame::EndOfTurn { at_ms, audio: self.turn_slice(start_ms, speech_end_ms) }
                }
            });
        }
    }

    /// Whether the caller is in a turn.
    pub fn in_turn(&self) -> bool {
        self.turn.in_turn()
    }

    fn slice(&self, from_ms: u64, to_ms: u64) -> AudioFrame {
        let from = from_ms.max(self.audio_start_ms);
        let start = ((from - self.audio_start_ms) * RATE as u64 / 1000) as usize;
        let end = if to_ms == u64::MAX {
            self.audio.len()
        } else {
            (((to_ms.max(from) - self.audio_start_ms) * RATE as u64 / 1000) as usize).min(self.audio.len())
        };
        AudioFrame {
            rate: RATE,
            samples: self.audio.range(start.min(end)..end).copied().collect(),
            at_ms: from,
        }
    }

    /// One piece of the leg's audio.
    pub fn handle_audio(&mut self, frame: &AudioFrame) -> Vec<Frame> {
        let samples = match &mut self.resampler {
            Some(r) => r.process(&frame.samples),
            None => frame.samples.clone(),
        };
        let at = *self.next_ms.get_or_insert(frame.at_ms);
        if self.audio.is_empty() {
            self.audio_start_ms = at;
        }
        self.audio.extend(&samples);
        let excess = self.audio.len().saturating_sub((KEEP_MS * RATE as u64 / 1000) as usize);
        if excess > 0 && !self.turn.in_turn() {
            self.audio.drain(..excess);
            self.audio_start_ms += excess as u64 * 1000 / RATE as u64;
        }
        self.next_ms = Some(at + samples.len() as u64 * 1000 / RATE as u64);
        let mut out = Vec::new();
        for (t, score) in self.vad.handle(at, &samples) {
            self.turn.handle_score(t, score);
            self.barge.handle_score(t, score);
            while let Some(e) = self.barge.poll_event() {
                out.push(match e {
                    BargeInEvent::Pause { at_ms } => Frame::PausePlayback { at_ms },
                    BargeInEvent::Resume { at_ms } => Frame::ResumePlayback { at_ms },
                    BargeInEvent::Interrupt { at_ms } => Frame::Interruption { at_ms },
                });
            }
            self.turn_events(&mut out);
            self.score_request(t + crate::vad::FRAME_MS, &mut out);
            // While the caller speaks, ask for a partial transcript now and then.
            if let (Some(every), Some(start), true) =
                (self.partial_every_ms, self.turn_start_ms, self.turn.speaking())
            {
                let now = t + crate::vad::FRAME_MS;
                if now.saturating_sub(self.last_partial_ms) >= every {
                    self.last_partial_ms = now;
                    out.push(Frame::PartialRequest {
                        at_ms: now,
                        audio: self.slice(start.saturating_sub(PRE_ROLL_MS), now),
                    });
                }
            }
        }
        out
    }
}
