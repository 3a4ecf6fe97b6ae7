//! When the caller starts and stops speaking and when their turn is over, sans-IO: VAD scores in
//! (with their audio time), events out. The end of a turn needs a stretch of silence, and a
//! longer one when what the caller said so far sounds unfinished ("my order number is", "and
//! um"), so callers are not cut off mid-sentence. When a transcript of the turn up to the pause
//! comes back and reads as a finished sentence ("Where is my order?"), the turn may end sooner
//! (`complete_end_ms`): the driver recognises at every pause, so a finished question is answered
//! about as soon as it is recognised instead of after the full silence.
//!
//! With a turn model ([`TurnModel`]: Smart Turn, which hears intonation and rhythm rather than
//! words) the pause's score is a third signal: a pause the model hears as unfinished waits
//! `hesitant_end_ms` even when the words read as a finished sentence ("I'm calling about my
//! order." said with a rising voice, before the number), and a finished-sounding transcript ends
//! the turn early only once the model agrees.

use crate::vad::FRAME_MS;
use std::collections::VecDeque;

mod reading;
pub use reading::{reading, sounds_complete, sounds_unfinished, Reading};

/// Per-agent tuning (all times in ms of audio).
#[derive(Debug, Clone, PartialEq)]
pub struct TurnConfig {
    /// VAD score at or above which a frame is voice.
    pub threshold: f32,
    /// Voice needed before speech counts as started (filters clicks and short noises).
    pub start_ms: u64,
    /// Silence after voice before speech counts as stopped.
    pub stop_ms: u64,
    /// Silence after speech that ends the turn.
    pub end_ms: u64,
    /// The same when the partial transcript sounds unfinished.
    pub unfinished_end_ms: u64,
    /// The same when a transcript of the turn up to this pause reads as a finished sentence
    /// (`None`: transcripts never shorten the wait). The turn cannot end before the transcript
    /// is in, so the real wait is at least `stop_ms` plus the recognition time.
    pub complete_end_ms: Option<u64>,
    /// A turn never runs longer than this (one long monologue is cut into turns).
    pub max_turn_ms: u64,
    /// The turn model's part, when one scores pauses (`None`: words and silence only).
    pub model: Option<TurnModel>,
}

/// How a turn model's score of a pause (the probability that the caller has finished) counts.
#[derive(Debug, Clone, PartialEq)]
pub struct TurnModel {
    /// Scores at or above this mean "finished".
    pub threshold: f32,
    /// Silence after which the model hears a pause (the model was trained on turns that end
    /// with a little silence).
    pub score_after_ms: u64,
    /// Silence that ends the turn when the model hears the caller as not finished.
    pub hesitant_end_ms: u64,
    /// Silence that ends the turn when the model hears the caller as finished and the words
    /// neither read as a finished sentence nor as unfinished (no transcript yet, or no
    /// punctuation): between `complete_end_ms` and `end_ms`.
    pub finished_end_ms: u64,
}

impl Default for TurnModel {
    fn default() -> Self {
        TurnModel { threshold: 0.5, score_after_ms: 64, hesitant_end_ms: 1_280, finished_end_ms: 480 }
    }
}

/// The least silence that ends a turn of a caller who hesitates: one who was heard going on
/// after a pause the agent took for their end (`bench turns`: silence alone of 1 s cut off no
/// hesitation of up to 1 s).
pub const PATIENT_END_MS: u64 = 1_000;

impl TurnConfig {
    /// The same for a caller who hesitates: nothing ends their turn before `PATIENT_END_MS` of
    /// silence, not a finished-sounding sentence nor the turn model's "finished" (longer waits
    /// stay as they are). Their answers come later; they are not cut off again.
    pub fn patient(&self) -> TurnConfig {
        let at_least = |ms: u64| ms.max(PATIENT_END_MS);
        TurnConfig {
            end_ms: at_least(self.end_ms),
            unfinished_end_ms: at_least(self.unfinished_end_ms),
            complete_end_ms: self.complete_end_ms.map(at_least),
            model: self.model.clone().map(|m| TurnModel {
                finished_end_ms: at_least(m.finished_end_ms),
                hesitant_end_ms: at_least(m.hesitant_end_ms),
                ..m
            }),
            ..self.clone()
        }
    }
}

impl Default for TurnConfig {
    fn default() -> Self {
        TurnConfig {
            threshold: 0.5,
            start_ms: 96,
            stop_ms: 32,
            end_ms: 640,
            unfinished_end_ms: 1_600,
            complete_end_ms: Some(0),
            max_turn_ms: 30_000,
            model: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TurnEvent {
    /// Speech began at `at_ms` (the first voiced frame).
    SpeechStarted { at_ms: u64 },
    /// Voice stopped at `at_ms` (the end of the last voiced frame); the turn may go on.
    SpeechStopped { at_ms: u64 },
    /// The turn that began at `start_ms` is over; its speech ended at `speech_end_ms`.
    EndOfTurn { at_ms: u64, start_ms: u64, speech_end_ms: u64 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// No turn: counting voiced frames that might start one.
    Idle { voiced_since: Option<u64> },
    /// In a turn, voice now.
    Speaking { turn_start: u64, last_voice_end: u64 },
    /// In a turn, silent since `last_voice_end`.
    Pausing { turn_start: u64, last_voice_end: u64, voiced_since: Option<u64> },
}

pub struct TurnDetector {
    config: TurnConfig,
    state: State,
    partial: String,
    /// A finished-sounding transcript of the turn up to the pause that ended at this time.
    complete_at: Option<u64>,
    /// The turn model's score of the pause that began at this time.
    score: Option<(u64, f32)>,
    /// End of the last frame scored (the detector's clock).
    now_ms: u64,
    /// The pause restarted after a blip of voice: report it once it is `stop_ms` long.
    restop: bool,
    events: VecDeque<TurnEvent>,
}

impl TurnDetector {
    pub fn new(config: TurnConfig) -> Self {
        TurnDetector {
            config,
            state: State::Idle { voiced_since: None },
            partial: String::new(),
            complete_at: None,
            score: None,
            now_ms: 0,
            restop: false,
            events: VecDeque::new(),
        }
    }

    pub fn config(&self) -> &TurnConfig {
        &self.config
    }

    /// From now on, wait for this caller as for one who hesitates ([`TurnConfig::patient`]).
    pub fn be_patient(&mut self) {
        self.config = self.config.patient();
    }

    /// What the recogniser has heard of this turn so far.
    pub fn set_partial(&mut self, text: &str) {
        self.partial = text.to_string();
    }

    /// A transcript of the turn up to the pause that began at `speech_end_ms` (the driver
    /// recognises when speech stops). It counts as the partial transcript, and if it reads as a
    /// finished sentence while that pause goes on, the turn ends after `complete_end_ms` of
    /// silence, at once if that much has passed.
    pub fn handle_transcript(&mut self, speech_end_ms: u64, text: &str) {
        self.partial = text.to_string();
        if sounds_complete(text) {
            self.complete_at = Some(speech_end_ms);
        }
        self.end_if_waited(speech_end_ms);
    }

    /// The turn model's score (probability that the caller has finished) for the pause that
    /// began at `speech_end_ms`: it decides how long that pause must last to end the turn, and
    /// ends it at once if it has lasted that long. `NaN`: the model could not say (the pause is
    /// decided as without a model).
    pub fn handle_turn_score(&mut self, speech_end_ms: u64, score: f32) {
        self.score = Some((speech_end_ms, score));
        self.end_if_waited(speech_end_ms);
    }

    /// Ends the turn now if the pause that began at `speech_end_ms` is still going on and has
    /// lasted as long as what is known of it asks.
    fn end_if_waited(&mut self, speech_end_ms: u64) {
        let State::Pausing { turn_start, last_voice_end, voiced_since } = self.state else { return };
        // Not while the caller is voicing again, nor for a pause that is over.
        if last_voice_end != speech_end_ms || voiced_since.is_some() {
            return;
        }
        if self.now_ms.saturating_sub(last_voice_end) >= self.needed(last_voice_end) {
            self.state = self.end(self.now_ms, turn_start, last_voice_end);
        }
    }

    /// How much silence the pause that began at `speech_end_ms` needs to end the turn, from
    /// what is known of it: the words so far, whether they read as a finished sentence, and
    /// the turn model's score.
    fn needed(&self, speech_end_ms: u64) -> u64 {
        let c = &self.config;
        let complete = c.complete_end_ms.filter(|_| self.complete_at == Some(speech_end_ms));
        let unfinished = sounds_unfinished(&self.partial);
        let words = || match complete {
            Some(ms) => ms,
            None if unfinished => c.unfinished_end_ms,
            None => c.end_ms,
        };
        let Some(model) = &c.model else { return words() };
        match self.score.filter(|s| s.0 == speech_end_ms).map(|s| s.1) {
            _ if unfinished => c.unfinished_end_ms,
            // The model could not say: as if there were none.
            Some(p) if !p.is_finite() => words(),
            Some(p) if p < model.threshold => model.hesitant_end_ms,
            Some(_) => complete.unwrap_or(model.finished_end_ms),
            // The model has not scored this pause yet: the words alone do not end it early.
            None => c.end_ms,
        }
    }

    /// Whether the caller is in a turn (speaking or pausing).
    pub fn in_turn(&self) -> bool {
        !matches!(self.state, State::Idle { .. })
    }

    /// The pause going on now, if the caller is silent in a turn: when their voice stopped.
    pub fn silent_since(&self) -> Option<u64> {
        match self.state {
            State::Pausing { last_voice_end, voiced_since: None, .. } => Some(last_voice_end),
            _ => None,
        }
    }

    /// Whether the caller is voicing right now (after the start threshold).
    pub fn speaking(&self) -> bool {
        matches!(self.state, State::Speaking { .. })
    }

    /// The VAD score of the frame starting at `at_ms`.
    pub fn handle_score(&mut self, at_ms: u64, score: f32) {
        let c = &self.config;
        let voiced = score >= c.threshold;
        let frame_end = at_ms + FRAME_MS;
        self.now_ms = frame_end;
        self.state = match self.state {
            State::Idle { voiced_since } => match (voiced, voiced_since) {
                (false, _) => State::Idle { voiced_since: None },
                (true, None) if c.start_ms <= FRAME_MS => self.start(at_ms, frame_end),
                (true, None) => State::Idle { voiced_since: Some(at_ms) },
                (true, Some(since)) if frame_end.saturating_sub(since) >= c.start_ms => {
                    self.start(since, frame_end)
                }
                (true, Some(since)) => State::Idle { voiced_since: Some(since) },
            },
            State::Speaking { turn_start, last_voice_end } => {
                if voiced {
                    State::Speaking { turn_start, last_voice_end: frame_end }
                } else if frame_end.saturating_sub(last_voice_end) >= c.stop_ms {
                    self.events.push_back(TurnEvent::SpeechStopped { at_ms: last_voice_end });
                    State::Pausing { turn_start, last_voice_end, voiced_since: None }
                } else {
                    State::Speaking { turn_start, last_voice_end }
                }
            }
            State::Pausing { turn_start, last_voice_end, voiced_since } => match (voiced, voiced_since) {
                (true, None) if c.start_ms <= FRAME_MS => {
                    self.events.push_back(TurnEvent::SpeechStarted { at_ms });
                    State::Speaking { turn_start, last_voice_end: frame_end }
                }
                (true, None) => State::Pausing { turn_start, last_voice_end, voiced_since: Some(at_ms) },
                (true, Some(since)) if frame_end.saturating_sub(since) >= c.start_ms => {
                    self.events.push_back(TurnEvent::SpeechStarted { at_ms: since });
                    State::Speaking { turn_start, last_voice_end: frame_end }
                }
                (true, Some(since)) => {
                    State::Pausing { turn_start, last_voice_end, voiced_since: Some(since) }
                }
                // Voice too short to count as speech again ("th", "s" between voiced sounds)
                // still is not silence: the pause starts over from its end, so a caller whose
                // next words start with broken-up voicing is not taken for silent.
                // Once the new pause is `stop_ms` long it is reported as a stop of its own, so
                // that the turn is recognised again with the blip (often the tail of a word).
                (false, Some(_)) => {
                    self.restop = true;
                    State::Pausing { turn_start, last_voice_end: at_ms, voiced_since: None }
                }
                (false, None) => {
                    if self.restop && frame_end.saturating_sub(last_voice_end) >= c.stop_ms {
                        self.restop = false;
                        self.events.push_back(TurnEvent::SpeechStopped { at_ms: last_voice_end });
                    }
                    let needed = self.needed(last_voice_end);
                    if frame_end.saturating_sub(last_voice_end) >= needed {
                        self.end(frame_end, turn_start, last_voice_end)
                    } else {
                        State::Pausing { turn_start, last_voice_end, voiced_since: None }
                    }
                }
            },
        };
        if !matches!(self.state, State::Pausing { .. }) {
            self.restop = false;
        }
        // A turn that runs too long ends where it is.
        if let State::Speaking { turn_start, last_voice_end } = self.state {
            if frame_end.saturating_sub(turn_start) >= self.config.max_turn_ms {
                self.events.push_back(TurnEvent::SpeechStopped { at_ms: last_voice_end });
                self.state = self.end(frame_end, turn_start, last_voice_end);
            }
        }
    }

    fn start(&mut self, since: u64, frame_end: u64) -> State {
        self.events.push_back(TurnEvent::SpeechStarted { at_ms: since });
        State::Speaking { turn_start: since, last_voice_end: frame_end }
    }

    fn end(&mut self, at_ms: u64, start_ms: u64, speech_end_ms: u64) -> State {
        self.events.push_back(TurnEvent::EndOfTurn { at_ms, start_ms, speech_end_ms });
        self.partial.clear();
        self.complete_at = None;
        self.score = None;
        State::Idle { voiced_since: None }
    }

    pub fn poll_event(&mut self) -> Option<TurnEvent> {
        self.events.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs a script of (duration ms, score) on a virtual clock; returns the events with times.
    fn run(d: &mut TurnDetector, script: &[(u64, f32)]) -> Vec<TurnEvent> {
        let mut t = 0;
        run_from(d, &mut t, script)
    }

    fn run_from(d: &mut TurnDetector, t: &mut u64, script: &[(u64, f32)]) -> Vec<TurnEvent> {
        let mut out = Vec::new();
        for &(ms, score) in script {
            for _ in 0..ms / FRAME_MS {
                d.handle_score(*t, score);
                *t += FRAME_MS;
                while let Some(e) = d.poll_event() {
                    out.push(e);
                }
            }
        }
        out
    }

    #[test]
    fn a_sentence_with_a_short_pause_is_one_turn() {
        let mut d = TurnDetector::new(TurnConfig::default());
        let events = run(&mut d, &[(320, 0.0), (800, 0.9), (320, 0.1), (640, 0.9), (1_000, 0.0)]);
        assert_eq!(
            events,
            vec![
                TurnEvent::SpeechStarted { at_ms: 320 },
                TurnEvent::SpeechStopped { at_ms: 1120 },
                TurnEvent::SpeechStarted { at_ms: 1440 },
                TurnEvent::SpeechStopped { at_ms: 2080 },
                TurnEvent::EndOfTurn { at_ms: 2720, start_ms: 320, speech_end_ms: 2080 },
            ]
        );
    }

    #[test]
    fn a_blip_of_voice_in_a_pause_is_a_new_stop_to_recognise() {
        let config = TurnConfig { complete_end_ms: Some(150), end_ms: 640, ..TurnConfig::default() };
        let mut d = TurnDetector::new(config);
        let mut t = 0;
        // Speech, a pause, 48 ms of voice (a word's tail: too short to restart speech), silence.
        let mut events = run_from(&mut d, &mut t, &[(800, 0.9), (96, 0.0), (48, 0.9), (160, 0.0)]);
        assert_eq!(
            events,
            vec![
                TurnEvent::SpeechStarted { at_ms: 0 },
                TurnEvent::SpeechStopped { at_ms: 800 },
                TurnEvent::SpeechStopped { at_ms: 944 },
            ],
            "the pause starts over after the blip and is reported once it is long enough"
        );
        // The transcript of the first stop is stale: only the second one can end the turn.
        d.handle_transcript(800, "Where is my order?");
        events = run_from(&mut d, &mut t, &[(32, 0.0)]);
        assert!(events.is_empty(), "{events:?}");
        d.handle_transcript(944, "Where is my order?");
        assert_eq!(
            d.poll_event(),
            Some(TurnEvent::EndOfTurn { at_ms: 1136, start_ms: 0, speech_end_ms: 944 })
        );
    }

    #[test]
    fn a_patient_detector_waits_a_second_even_for_a_finished_sentence() {
        let mut d = TurnDetector::new(TurnConfig::default());
        let mut t = 0;
        // "I want to return the shoes." then a pause: a finished sentence ends the turn at once.
        let mut events = run_from(&mut d, &mut t, &[(800, 0.9), (64, 0.0)]);
        d.handle_transcript(800, "I want to return the shoes.");
        events.extend(run_from(&mut d, &mut t, &[(32, 0.0)]));
        assert!(
            events.iter().any(|e| matches!(e, TurnEvent::EndOfTurn { speech_end_ms: 800, .. })),
            "{events:?}"
        );
        // The caller went on: from now on the same words and pause wait a second of silence.
        d.be_patient();
        assert_eq!(d.config().complete_end_ms, Some(PATIENT_END_MS));
        let mut events = run_from(&mut d, &mut t, &[(1_000, 0.0), (800, 0.9), (64, 0.0)]);
        let stop = events
            .iter()
            .rev()
            .find_map(|e| match e {
                TurnEvent::SpeechStopped { at_ms } => Some(*at_ms),
                _ => None,
            })
            .expect("speech stopped");
        d.handle_transcript(stop, "I want to return the shoes.");
        events.extend(run_from(&mut d, &mut t, &[(800, 0.0)]));
        assert!(!events.iter().any(|e| matches!(e, TurnEvent::EndOfTurn { .. })), "{events:?}");
        // ... and a caller who hesitates that long goes on: still one turn.
        events.extend(run_from(&mut d, &mut t, &[(600, 0.9), (1_100, 0.0)]));
        let ends: Vec<_> = events.iter().filter(|e| matches!(e, TurnEvent::EndOfTurn { .. })).collect();
        assert_eq!(ends.len(), 1, "{events:?}");
    }

    #[test]
    fn patience_only_lengthens_waits() {
        let long = TurnConfig { end_ms: 1_500, complete_end_ms: None, ..TurnConfig::default() };
        assert_eq!(long.patient(), TurnConfig { unfinished_end_ms: 1_600, ..long.clone() });
        let model = TurnConfig { model: Some(TurnModel::default()), ..TurnConfig::default() };
        let m = model.patient().model.unwrap();
        assert_eq!((m.finished_end_ms, m.hesitant_end_ms, m.threshold), (PATIENT_END_MS, 1_280, 0.5));
    }

    #[test]
    fn clicks_do_not_start_speech() {
        let mut d = TurnDetector::new(TurnConfig::default());
        // Voiced for 48 ms at a time (a click, a knock), never the 96 ms speech needs.
        let script: Vec<(u64, f32)> = (0..20).flat_map(|_| [(48, 0.95), (160, 0.0)]).collect();
        assert!(run(&mut d, &script).is_empty());
    }

    #[test]
    fn an_unfinished_sentence_gets_more_time() {
        let mut d = TurnDetector::new(TurnConfig::default());
        let mut t = 0;
        let mut events = run_from(&mut d, &mut t, &[(800, 0.9)]);
        d.set_partial("my order number is");
        // 1 s of thinking: not the end of the turn, because the sentence is unfinished...
        events.extend(run_from(&mut d, &mut t, &[(1_000, 0.0)]));
        assert!(!events.iter().any(|e| matches!(e, TurnEvent::EndOfTurn { .. })), "{events:?}");
        // ...and the caller goes on ("four five seven two"): still the same turn.
        events.extend(run_from(&mut d, &mut t, &[(600, 0.9)]));
        d.set_partial("my order number is 4572.");
        events.extend(run_from(&mut d, &mut t, &[(700, 0.0)]));
        let ends: Vec<_> = events.iter().filter(|e| matches!(e, TurnEvent::EndOfTurn { .. })).collect();
        assert_eq!(ends.len(), 1, "{events:?}");
        assert!(sounds_unfinished("so I was wondering, um") && sounds_unfinished("I ordered the"));
        assert!(!sounds_unfinished("where is my order?") && !sounds_unfinished(""));
    }

    #[test]
    fn a_monologue_is_cut_at_the_maximum() {
        let mut d = TurnDetector::new(TurnConfig { max_turn_ms: 5_000, ..Default::default() });
        let events = run(&mut d, &[(12_000, 0.9)]);
        let ends = events.iter().filter(|e| matches!(e, TurnEvent::EndOfTurn { .. })).count();
        assert_eq!(ends, 2, "{events:?}");
    }

    fn ends(events: &[TurnEvent]) -> Vec<TurnEvent> {
        events.iter().filter(|e| matches!(e, TurnEvent::EndOfTurn { .. })).copied().collect()
    }

    #[test]
    fn a_finished_question_ends_the_turn_as_soon_as_it_is_recognised() {
        let mut d = TurnDetector::new(TurnConfig::default());
        let mut t = 0;
        let events = run_from(&mut d, &mut t, &[(800, 0.9), (160, 0.0)]);
        assert_eq!(events.last(), Some(&TurnEvent::SpeechStopped { at_ms: 800 }));
        // The pause's transcript comes back 160 ms into the silence.
        d.handle_transcript(800, "Where is my order?");
        assert_eq!(
            d.poll_event(),
            Some(TurnEvent::EndOfTurn { at_ms: 960, start_ms: 0, speech_end_ms: 800 })
        );
        assert!(!d.in_turn());
        // Without the transcript the same silence would have gone on to `end_ms`.
        let mut d = TurnDetector::new(TurnConfig::default());
        let mut t = 0;
        let events = run_from(&mut d, &mut t, &[(800, 0.9), (600, 0.0)]);
        assert!(ends(&events).is_empty(), "{events:?}");
    }

    #[test]
    fn a_finished_sentence_still_waits_for_the_configured_silence() {
        let config = TurnConfig { complete_end_ms: Some(320), ..Default::default() };
        let mut d = TurnDetector::new(config);
        let mut t = 0;
        run_from(&mut d, &mut t, &[(800, 0.9), (160, 0.0)]);
        d.handle_transcript(800, "I'd like to return it.");
        assert_eq!(d.poll_event(), None);
        let events = run_from(&mut d, &mut t, &[(320, 0.0)]);
        assert_eq!(
            ends(&events),
            vec![TurnEvent::EndOfTurn { at_ms: 1120, start_ms: 0, speech_end_ms: 800 }]
        );
        // Switched off, the transcript changes nothing: the turn ends after `end_ms` (640).
        let mut d = TurnDetector::new(TurnConfig { complete_end_ms: None, ..Default::default() });
        let mut t = 0;
        run_from(&mut d, &mut t, &[(800, 0.9), (160, 0.0)]);
        d.handle_transcript(800, "I'd like to return it.");
        let events = run_from(&mut d, &mut t, &[(480, 0.0)]);
        assert_eq!(
            ends(&events),
            vec![TurnEvent::EndOfTurn { at_ms: 1440, start_ms: 0, speech_end_ms: 800 }]
        );
    }

    #[test]
    fn an_unfinished_or_stale_transcript_does_not_end_the_turn() {
        let mut d = TurnDetector::new(TurnConfig::default());
        let mut t = 0;
        run_from(&mut d, &mut t, &[(800, 0.9), (160, 0.0)]);
        // "My order number is." ends on a word no sentence ends on: wait the long silence.
        d.handle_transcript(800, "My order number is.");
        let events = run_from(&mut d, &mut t, &[(1_200, 0.0)]);
        assert!(ends(&events).is_empty(), "{events:?}");
        // The caller goes on; the transcript of the pause before arrives late: too late.
        run_from(&mut d, &mut t, &[(480, 0.9), (160, 0.0)]);
        let resumed_end = t - 160;
        d.handle_transcript(800, "My order number is 1042.");
        assert_eq!(d.poll_event(), None);
        // The transcript of this pause does end it.
        d.handle_transcript(resumed_end, "My order number is 1042.");
        assert!(
            matches!(d.poll_event(), Some(TurnEvent::EndOfTurn { speech_end_ms, .. }) if speech_end_ms == resumed_end)
        );
        // A transcript that comes while the caller is speaking again is ignored.
        let mut d = TurnDetector::new(TurnConfig::default());
        let mut t = 0;
        run_from(&mut d, &mut t, &[(800, 0.9), (160, 0.0), (320, 0.9)]);
        d.handle_transcript(800, "Hello.");
        let events = run_from(&mut d, &mut t, &[(160, 0.0)]);
        assert!(ends(&events).is_empty(), "{events:?}");
    }

    #[test]
    fn what_reads_as_a_finished_sentence() {
        for yes in ["Where is my order?", "I'd like to cancel it.", "Thanks!", " Order 1042. ", "\"Yes.\""] {
            assert!(sounds_complete(yes), "{yes}");
        }
        for no in [
            "about three weeks ago now",
            "My order number is.",
            "I was wondering...",
            "Um.",
            "[BLANK_AUDIO]",
            "(coughs).",
            ".",
            "",
            "and the",
        ] {
            assert!(!sounds_complete(no), "{no}");
        }
    }

    #[test]
    fn broken_up_voice_in_a_pause_is_not_silence() {
        let mut d = TurnDetector::new(TurnConfig { complete_end_ms: Some(250), ..Default::default() });
        let mut t = 0;
        let events = run_from(&mut d, &mut t, &[(800, 0.9), (144, 0.0)]);
        assert_eq!(events.last(), Some(&TurnEvent::SpeechStopped { at_ms: 800 }));
        d.handle_transcript(800, "Where is my order?");
        // The caller goes on ("one thousand …") with voicing in runs shorter than speech needs.
        let script: Vec<(u64, f32)> = (0..10).flat_map(|_| [(64, 0.9), (32, 0.0)]).collect();
        let events = run_from(&mut d, &mut t, &script);
        assert!(ends(&events).is_empty(), "{events:?}");
    }

    fn with_model() -> TurnDetector {
        TurnDetector::new(TurnConfig { model: Some(TurnModel::default()), ..Default::default() })
    }

    #[test]
    fn a_finished_sentence_said_as_unfinished_waits_the_hesitant_silence() {
        // "I'm calling about my order." with the voice still up: the words read as finished,
        // the turn model hears more coming.
        let mut d = with_model();
        let mut t = 0;
        run_from(&mut d, &mut t, &[(800, 0.9), (160, 0.0)]);
        d.handle_turn_score(800, 0.2);
        d.handle_transcript(800, "I'm calling about my order.");
        assert_eq!(d.poll_event(), None);
        let events = run_from(&mut d, &mut t, &[(960, 0.0)]);
        assert!(ends(&events).is_empty(), "{events:?}");
        let events = run_from(&mut d, &mut t, &[(160, 0.0)]);
        assert_eq!(
            ends(&events),
            vec![TurnEvent::EndOfTurn { at_ms: 800 + 1_280, start_ms: 0, speech_end_ms: 800 }]
        );
    }

    #[test]
    fn a_finished_sentence_ends_the_turn_once_the_model_agrees() {
        let mut d = with_model();
        let mut t = 0;
        run_from(&mut d, &mut t, &[(800, 0.9), (96, 0.0)]);
        // The transcript alone does not end it while a model is to be heard...
        d.handle_transcript(800, "Where is my order?");
        assert_eq!(d.poll_event(), None);
        run_from(&mut d, &mut t, &[(64, 0.0)]);
        // ...its score does, at once.
        d.handle_turn_score(800, 0.93);
        assert_eq!(
            d.poll_event(),
            Some(TurnEvent::EndOfTurn { at_ms: 960, start_ms: 0, speech_end_ms: 800 })
        );
        // A stale score (of an earlier pause) counts for nothing.
        let mut d = with_model();
        let mut t = 0;
        run_from(&mut d, &mut t, &[(800, 0.9), (160, 0.0), (480, 0.9), (96, 0.0)]);
        d.handle_turn_score(800, 0.99);
        d.handle_transcript(1_440, "Where is my order?");
        assert_eq!(d.poll_event(), None);
    }

    #[test]
    fn a_finished_sounding_pause_without_punctuation_ends_sooner_than_silence_alone() {
        let mut d = with_model();
        let mut t = 0;
        run_from(&mut d, &mut t, &[(800, 0.9), (96, 0.0)]);
        d.handle_turn_score(800, 0.8);
        d.handle_transcript(800, "the blue one");
        let events = run_from(&mut d, &mut t, &[(480, 0.0)]);
        assert_eq!(
            ends(&events),
            vec![TurnEvent::EndOfTurn { at_ms: 800 + 480, start_ms: 0, speech_end_ms: 800 }]
        );
        // A model that could not say leaves it to the words.
        let mut d = with_model();
        let mut t = 0;
        run_from(&mut d, &mut t, &[(800, 0.9), (96, 0.0)]);
        d.handle_transcript(800, "Where is my order?");
        d.handle_turn_score(800, f32::NAN);
        assert!(matches!(d.poll_event(), Some(TurnEvent::EndOfTurn { speech_end_ms: 800, .. })));
        // Words that cannot end a sentence outweigh the model.
        let mut d = with_model();
        let mut t = 0;
        run_from(&mut d, &mut t, &[(800, 0.9), (96, 0.0)]);
        d.handle_turn_score(800, 0.9);
        d.handle_transcript(800, "my order number is");
        let events = run_from(&mut d, &mut t, &[(1_400, 0.0)]);
        assert!(ends(&events).is_empty(), "{events:?}");
    }
}
