//! Barge-in while the agent speaks, sans-IO: VAD scores (and what the recogniser makes of the
//! caller's words) in, playback decisions out. Caller voice pauses playback within
//! `pause_after_ms` of audio; if it turns out to be a cough, a click or a backchannel
//! ("mm-hm", "yeah") playback resumes where it stopped; real speech interrupts it (the agent
//! stops and listens). Segments marked uninterruptible are never paused.

use crate::vad::FRAME_MS;
use std::collections::VecDeque;

#[derive(Debug, Clone, PartialEq)]
pub struct BargeInConfig {
    pub threshold: f32,
    /// Voice that pauses playback.
    pub pause_after_ms: u64,
    /// Voice that interrupts for good, whatever the words.
    pub interrupt_after_ms: u64,
    /// Silence that ends the caller's interjection (then resume or interrupt is decided).
    pub settle_ms: u64,
    /// Words that acknowledge rather than interrupt.
    pub backchannels: Vec<String>,
}

impl Default for BargeInConfig {
    fn default() -> Self {
        BargeInConfig {
            threshold: 0.5,
            pause_after_ms: 112,
            interrupt_after_ms: 720,
            settle_ms: 240,
            backchannels: [
                "mm", "mmhmm", "mhm", "hm", "hmm", "uh", "um", "huh", "uhhuh", "yeah", "yes", "yep", "ok",
                "okay", "right", "sure", "aha", "ah", "oh", "alright",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        }
    }
}

impl BargeInConfig {
    /// Whether `text` is only acknowledgement ("yeah", "mm-hm, okay"), or has no words at all.
    pub fn is_backchannel(&self, text: &str) -> bool {
        words(text).all(|w| self.backchannels.contains(&w))
    }
}

/// Lower-case words without punctuation ("Mm-hm." is "mmhm").
fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split_whitespace()
        .map(|w| w.chars().filter(|c| c.is_alphanumeric()).collect::<String>().to_lowercase())
        .filter(|w| !w.is_empty())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BargeInEvent {
    Pause { at_ms: u64 },
    Resume { at_ms: u64 },
    Interrupt { at_ms: u64 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Quiet,
    /// Voice heard during playback, not yet enough to pause.
    Hearing {
        voiced_ms: u64,
        silent_ms: u64,
    },
    /// Playback paused; deciding.
    Paused {
        voiced_ms: u64,
        silent_ms: u64,
    },
}

pub struct BargeIn {
    config: BargeInConfig,
    /// Playback in progress, and whether it may be interrupted.
    playing: Option<bool>,
    state: State,
    transcript: String,
    events: VecDeque<BargeInEvent>,
}

impl BargeIn {
    pub fn new(config: BargeInConfig) -> Self {
        BargeIn {
            config,
            playing: None,
            state: State::Quiet,
            transcript: String::new(),
            events: VecDeque::new(),
        }
    }

    pub fn playback_started(&mut self, interruptible: bool) {
        self.playing = Some(interruptible);
        self.state = State::Quiet;
        self.transcript.clear();
    }

    pub fn playback_ended(&mut self) {
        self.playing = None;
        self.state = State::Quiet;
    }

    pub fn config(&self) -> &BargeInConfig {
        &self.config
    }

    /// Whether playback is paused waiting for a decision.
    pub fn paused(&self) -> bool {
        matches!(self.state, State::Paused { .. })
    }

    /// What the recogniser heard of the caller's interjection so far.
    pub fn handle_transcript(&mut self, text: &str) {
        self.transcript = text.to_string();
    }

    /// Whether the interjection so far is only acknowledgement (or nothing recognisable).
    fn only_backchannel(&self) -> bool {
        self.config.is_backchannel(&self.transcript)
    }

    fn substantive_words(&self) -> usize {
        words(&self.transcript).filter(|w| !self.config.backchannels.contains(w)).count()
    }

    /// The VAD score of the caller's frame starting at `at_ms`.
    pub fn handle_score(&mut self, at_ms: u64, score: f32) {
        if self.playing != Some(true) {
            return;
        }
        let voiced = score >= self.config.threshold;
        let end = at_ms + FRAME_MS;
        let c = &self.config;
        self.state = match self.state {
            State::Quiet if voiced => State::Hearing { voiced_ms: FRAME_MS, silent_ms: 0 },
            State::Quiet => State::Quiet,
            State::Hearing { voiced_ms, silent_ms } => {
                if voiced {
                    let voiced_ms = voiced_ms + FRAME_MS;
                    if voiced_ms >= c.pause_after_ms {
                        self.events.push_back(BargeInEvent::Pause { at_ms: end });
                        State::Paused { voiced_ms, silent_ms: 0 }
                    } else {
                        State::Hearing { voiced_ms, silent_ms: 0 }
                    }
                } else if silent_ms + FRAME_MS > 2 * FRAME_MS {
                    State::Quiet // a blip
                } else {
                    State::Hearing { voiced_ms, silent_ms: silent_ms + FRAME_MS }
                }
            }
            State::Paused { voiced_ms, silent_ms } => {
                if voiced {
                    let voiced_ms = voiced_ms + FRAME_MS;
                    if voiced_ms >= c.interrupt_after_ms || self.substantive_words() >= 2 {
                        return self.interrupt(end);
                    }
                    State::Paused { voiced_ms, silent_ms: 0 }
                } else if silent_ms + FRAME_MS >= c.settle_ms {
                    if self.only_backchannel() {
                        self.events.push_back(BargeInEvent::Resume { at_ms: end });
                        self.transcript.clear();
                        State::Quiet
                    } else {
                        return self.interrupt(end);
                    }
                } else {
                    State::Paused { voiced_ms, silent_ms: silent_ms + FRAME_MS }
                }
            }
        };
    }

    fn interrupt(&mut self, at_ms: u64) {
        self.events.push_back(BargeInEvent::Interrupt { at_ms });
        self.playing = None;
        self.state = State::Quiet;
    }

    pub fn poll_event(&mut self) -> Option<BargeInEvent> {
        self.events.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(b: &mut BargeIn, t: &mut u64, ms: u64, score: f32) -> Vec<BargeInEvent> {
        let mut out = Vec::new();
        for _ in 0..ms / FRAME_MS {
            b.handle_score(*t, score);
            *t += FRAME_MS;
            while let Some(e) = b.poll_event() {
                out.push(e);
            }
        }
        out
    }

    #[test]
    fn speech_stops_playback_within_200_ms_and_interrupts() {
        let mut b = BargeIn::new(BargeInConfig::default());
        b.playback_started(true);
        let mut t = 0;
        assert!(feed(&mut b, &mut t, 480, 0.0).is_empty());
        let speech_start = t;
        let events = feed(&mut b, &mut t, 1_000, 0.9);
        let BargeInEvent::Pause { at_ms } = events[0] else { panic!("{events:?}") };
        assert!(at_ms - speech_start <= 200, "paused {} ms into the speech", at_ms - speech_start);
        assert!(matches!(events[1], BargeInEvent::Interrupt { .. }), "{events:?}");
        // After an interruption nothing more until playback starts again.
        assert!(feed(&mut b, &mut t, 1_000, 0.9).is_empty());
    }

    #[test]
    fn words_interrupt_before_the_time_limit() {
        let mut b = BargeIn::new(BargeInConfig::default());
        b.playback_started(true);
        let mut t = 0;
        let mut events = feed(&mut b, &mut t, 192, 0.9);
        b.handle_transcript("wait, no");
        events.extend(feed(&mut b, &mut t, 32, 0.9));
        assert!(matches!(events.last(), Some(BargeInEvent::Interrupt { .. })), "{events:?}");
    }

    #[test]
    fn coughs_clicks_and_mm_hm_do_not_interrupt() {
        let mut b = BargeIn::new(BargeInConfig::default());
        b.playback_started(true);
        let mut t = 0;
        // A click: too short even to pause.
        assert!(feed(&mut b, &mut t, 48, 0.9).is_empty());
        assert!(feed(&mut b, &mut t, 400, 0.0).is_empty());
        // "mm-hm": pauses, then resumes once it is clear it was only that.
        let mut events = feed(&mut b, &mut t, 352, 0.9);
        b.handle_transcript("Mm-hmm.");
        events.extend(feed(&mut b, &mut t, 400, 0.0));
        assert!(
            matches!(events[..], [BargeInEvent::Pause { .. }, BargeInEvent::Resume { .. }]),
            "{events:?}"
        );
        // A cough (voice-like, no words): the same.
        let mut events = feed(&mut b, &mut t, 240, 0.8);
        b.handle_transcript("");
        events.extend(feed(&mut b, &mut t, 400, 0.0));
        assert!(
            matches!(events[..], [BargeInEvent::Pause { .. }, BargeInEvent::Resume { .. }]),
            "{events:?}"
        );
    }

    #[test]
    fn acknowledgements_are_told_from_words() {
        let c = BargeInConfig::default();
        for ack in ["Yeah.", "Mm-hmm.", "Okay, okay!", "uh huh", "Right.", ""] {
            assert!(c.is_backchannel(ack), "{ack:?}");
        }
        for words in ["Yeah, but where is it?", "No.", "Wait", "Okay, cancel it."] {
            assert!(!c.is_backchannel(words), "{words:?}");
        }
    }

    #[test]
    fn uninterruptible_segments_are_heard_whole() {
        let mut b = BargeIn::new(BargeInConfig::default());
        b.playback_started(false);
        let mut t = 0;
        assert!(feed(&mut b, &mut t, 3_000, 0.95).is_empty());
        b.playback_ended();
        assert!(feed(&mut b, &mut t, 3_000, 0.95).is_empty(), "nothing plays");
    }
}
