//! The conversation's decisions, apart from audio, recognition, the session and the clock: what
//! a recognised turn means, what the caller's speech means while an answer is being worked out
//! or spoken, how an answer ended, a key, a supervisor's command. `VoiceCall::converse` feeds
//! this machine what happened and carries out what it says; the tests below drive it alone.
//!
//! ```text
//!             turn (words)                  answer finished, listen on
//!  Listening ─────────────▶ Answering ────────────────────────────────▶ Listening
//!     │  ▲                   │  │  barge-in / more words ──────────────▶ Listening
//!     │  └───────────────────┘  │  supervisor takes over ──▶ TakingOver ─▶ Over | Listening
//!     │   take-over failed      └─ answer hands the call on / call ends ─▶ Over
//!     └── key 0, time limit, call ended, take-over done ─────────────────▶ Over
//! ```

use switchboard_speech::frame::{AudioFrame, Frame};

/// Where the conversation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// The caller has the floor (what the agent said may still be playing).
    Listening,
    /// An answer is being worked out and spoken.
    Answering,
    /// A supervisor is being connected to the caller.
    TakingOver,
    /// Handed on, hung up, or the caller left.
    Over,
}

/// What is playing to the caller when their turn arrives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Playing {
    pub(super) playing: bool,
    /// What plays may be cut short.
    pub(super) interruptible: bool,
    /// What plays asks nothing (no question): "yes" then acknowledges rather than replies.
    pub(super) statement: bool,
}

/// What a recognised turn means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum OnTurn {
    /// No words (silence, a cough, "[BLANK_AUDIO]"): nothing to answer.
    Ignore,
    /// An acknowledgement while a statement plays ("mm-hm"): it plays on.
    Acknowledge,
    /// Answer. `again`: these were no words, so the words before them (whose answer was given
    /// up when the caller went on) are answered again. `cut`: what plays is cut short.
    Answer { again: bool, cut: bool },
}

/// What the caller's audio means while an answer is worked out or spoken.
#[derive(Debug, PartialEq)]
pub(super) enum WhileAnswering {
    GoOn,
    /// Barge-in: the answer stops.
    Cut,
    /// The caller went on speaking before any of the answer was heard: the answer is given up
    /// and these words join the turn.
    MoreWords(AudioFrame),
    /// A turn that did not cut the answer (it was not interruptible, or it was heard while
    /// the answer played): recognised now, answered after unless it only acknowledges.
    RecogniseLater(AudioFrame),
}

/// How an answer ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AnswerEnded {
    /// The session answered; `listen_on` unless it hands the call on or ends it.
    Finished { listen_on: bool },
    /// Barge-in.
    Cut,
    /// The caller went on speaking.
    MoreWords,
    /// A supervisor takes the call.
    TakeOver,
    /// The caller hung up.
    CallEnded,
}

/// What the conversation does next after an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AfterAnswer {
    /// Keep listening (the answer was given, or cut, or given up for more words).
    Listen,
    /// Stop the answer and connect the supervisor.
    TakeOver,
    /// The session handed the call on or ended it: finish.
    Finish,
    /// The caller is gone.
    Gone,
}

/// How soon after the end of their turn's speech a caller who cuts into the answer is taken
/// to have gone on with what they were saying (a hesitation taken for the end), rather than to
/// have replied to the answer: a pause of up to a second, and the time barge-in takes to hear
/// them.
const WENT_ON_MS: u64 = 1_500;

#[derive(Debug, Clone)]
pub(super) struct Conversation {
    phase: Phase,
    /// The answer to the last turn was given up because the caller went on speaking.
    continued: bool,
    /// The caller has been heard going on after a pause taken for their end: their turns are
    /// waited for longer from then on.
    hesitates: bool,
    /// Where the caller's latest speech while answering began (the caller's audio time).
    spoke_at: Option<u64>,
}

impl Default for Conversation {
    fn default() -> Self {
        Conversation { phase: Phase::Listening, continued: false, hesitates: false, spoke_at: None }
    }
}

/// Whisper's renderings of non-speech ("[BLANK_AUDIO]", "(coughs)", "...").
pub(crate) fn is_noise(text: &str) -> bool {
    let t = text.trim();
    (t.starts_with('[') && t.ends_with(']'))
        || (t.starts_with('(') && t.ends_with(')'))
        || t.chars().all(|c| !c.is_alphanumeric())
}

impl Conversation {
    pub(super) fn phase(&self) -> Phase {
        self.phase
    }

    /// A recognised turn of the caller's (`backchannel`: the words are an acknowledgement).
    pub(super) fn turn(&mut self, text: &str, backchannel: bool, playing: Playing) -> OnTurn {
        if self.phase == Phase::Over {
            return OnTurn::Ignore;
        }
        let words = !is_noise(text);
        let again = std::mem::take(&mut self.continued) && !words;
        if !words && !again {
            return OnTurn::Ignore;
        }
        if !again && backchannel && playing.playing && playing.statement {
            return OnTurn::Acknowledge;
        }
        self.phase = Phase::Answering;
        self.spoke_at = None;
        OnTurn::Answer { again, cut: playing.playing && playing.interruptible }
    }

    /// One frame of the caller's audio while answering (`was_playing`: some of the answer was
    /// playing when it was heard).
    pub(super) fn while_answering(&mut self, frame: Frame, was_playing: bool) -> WhileAnswering {
        match frame {
            Frame::Interruption { .. } => WhileAnswering::Cut,
            Frame::EndOfTurn { audio, .. } if !was_playing => WhileAnswering::MoreWords(audio),
            Frame::EndOfTurn { audio, .. } => WhileAnswering::RecogniseLater(audio),
            _ => WhileAnswering::GoOn,
        }
    }

    /// Whether `frame`, heard while the turn whose speech ended at `turn_end_ms` (the caller's
    /// audio time) is answered, shows a caller who hesitates: they went on before any of the
    /// answer was heard (`answer_heard`: some of it has played), or cut into it with speech
    /// that began within `WENT_ON_MS` of their words' end (barge-in decides later than the
    /// speech begins). True once per call: the driver then waits longer for their turns.
    pub(super) fn hesitated(&mut self, frame: &Frame, answer_heard: bool, turn_end_ms: u64) -> bool {
        if self.hesitates {
            return false;
        }
        self.hesitates = match frame {
            Frame::SpeechStarted { at_ms } => {
                self.spoke_at = Some(*at_ms);
                false
            }
            Frame::EndOfTurn { .. } => !answer_heard,
            Frame::Interruption { at_ms } => {
                self.spoke_at.unwrap_or(*at_ms).saturating_sub(turn_end_ms) <= WENT_ON_MS
            }
            _ => false,
        };
        self.hesitates
    }

    /// The answer ended (`end`).
    pub(super) fn answer_ended(&mut self, end: AnswerEnded) -> AfterAnswer {
        let (phase, next) = match end {
            AnswerEnded::Finished { listen_on: true } | AnswerEnded::Cut => {
                (Phase::Listening, AfterAnswer::Listen)
            }
            AnswerEnded::MoreWords => {
                self.continued = true;
                (Phase::Listening, AfterAnswer::Listen)
            }
            AnswerEnded::Finished { listen_on: false } => (Phase::Over, AfterAnswer::Finish),
            AnswerEnded::TakeOver => (Phase::TakingOver, AfterAnswer::TakeOver),
            AnswerEnded::CallEnded => (Phase::Over, AfterAnswer::Gone),
        };
        self.phase = phase;
        next
    }

    /// A supervisor asked to take the call over while the caller had the floor.
    pub(super) fn take_over(&mut self) {
        self.phase = Phase::TakingOver;
    }

    /// How taking over went: the supervisor has the caller, or the AI goes on.
    pub(super) fn taken_over(&mut self, connected: bool) {
        self.phase = if connected { Phase::Over } else { Phase::Listening };
    }

    /// A key the caller pressed: whether it asks for a person (0).
    pub(super) fn key(&mut self, key: char) -> bool {
        if key == '0' && self.phase != Phase::Over {
            self.phase = Phase::Over;
            return true;
        }
        false
    }

    /// The call is over for the agent (time limit, recognition failed, the caller left).
    pub(super) fn over(&mut self) {
        self.phase = Phase::Over;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUIET: Playing = Playing { playing: false, interruptible: true, statement: true };
    const STATEMENT: Playing = Playing { playing: true, interruptible: true, statement: true };
    const QUESTION: Playing = Playing { playing: true, interruptible: true, statement: false };
    const GREETING: Playing = Playing { playing: true, interruptible: false, statement: true };

    fn audio() -> AudioFrame {
        AudioFrame { rate: 8000, samples: vec![0; 160], at_ms: 0 }
    }

    #[test]
    fn words_are_answered_and_noise_is_not() {
        let mut c = Conversation::default();
        for noise in ["", "  ", "[BLANK_AUDIO]", "(coughs)", "..."] {
            assert_eq!(c.turn(noise, false, QUIET), OnTurn::Ignore, "{noise:?}");
            assert_eq!(c.phase(), Phase::Listening);
        }
        assert_eq!(c.turn("Where is my order?", false, QUIET), OnTurn::Answer { again: false, cut: false });
        assert_eq!(c.phase(), Phase::Answering);
    }

    #[test]
    fn barge_in_cuts_what_may_be_cut_and_the_caller_keeps_the_floor() {
        let mut c = Conversation::default();
        assert_eq!(c.turn("Stop, wait", false, STATEMENT), OnTurn::Answer { again: false, cut: true });
        // A greeting that may not be interrupted plays to its end; the answer follows it.
        let mut c = Conversation::default();
        assert_eq!(c.turn("Hello?", false, GREETING), OnTurn::Answer { again: false, cut: false });
        // While answering, the caller's interruption stops the answer.
        let frame = Frame::Interruption { at_ms: 100 };
        assert_eq!(c.while_answering(frame, true), WhileAnswering::Cut);
        assert_eq!(c.answer_ended(AnswerEnded::Cut), AfterAnswer::Listen);
        assert_eq!(c.phase(), Phase::Listening);
    }

    #[test]
    fn an_acknowledgement_lets_a_statement_play_on_but_answers_a_question() {
        let mut c = Conversation::default();
        assert_eq!(c.turn("mm-hm", true, STATEMENT), OnTurn::Acknowledge);
        assert_eq!(c.phase(), Phase::Listening);
        assert_eq!(c.turn("yes", true, QUESTION), OnTurn::Answer { again: false, cut: true });
        let mut c = Conversation::default();
        assert_eq!(c.turn("yes", true, QUIET), OnTurn::Answer { again: false, cut: false });
    }

    #[test]
    fn speaking_on_while_the_agent_thinks_gives_the_answer_up_and_joins_the_words() {
        let mut c = Conversation::default();
        assert!(matches!(c.turn("I'm calling about my order", false, QUIET), OnTurn::Answer { .. }));
        // Nothing of the answer plays yet: the caller's next turn is more of the same.
        let more = Frame::EndOfTurn { at_ms: 900, audio: audio() };
        assert!(matches!(c.while_answering(more, false), WhileAnswering::MoreWords(_)));
        assert_eq!(c.answer_ended(AnswerEnded::MoreWords), AfterAnswer::Listen);
        // Those words were real: answered as usual (with the earlier ones, by the session).
        assert_eq!(c.turn("number 1042", false, QUIET), OnTurn::Answer { again: false, cut: false });
        // Were they noise, the earlier words would be answered again.
        let mut c = Conversation::default();
        c.turn("I'm calling about my order", false, QUIET);
        c.answer_ended(AnswerEnded::MoreWords);
        assert_eq!(c.turn("[BLANK_AUDIO]", false, QUIET), OnTurn::Answer { again: true, cut: false });
        // Only once.
        c.answer_ended(AnswerEnded::Finished { listen_on: true });
        assert_eq!(c.turn("[BLANK_AUDIO]", false, QUIET), OnTurn::Ignore);
    }

    #[test]
    fn a_caller_who_goes_on_after_a_pause_is_one_who_hesitates_once_per_call() {
        // Spoke again 0.8 s after their words ended and cut into the answer (barge-in decided
        // 1.7 s later): they were going on.
        let mut c = Conversation::default();
        c.turn("I'm calling about my order.", false, QUIET);
        assert!(!c.hesitated(&Frame::SpeechStarted { at_ms: 2_900 }, true, 2_100));
        assert!(c.hesitated(&Frame::Interruption { at_ms: 4_600 }, true, 2_100));
        assert!(!c.hesitated(&Frame::Interruption { at_ms: 9_000 }, true, 8_500), "said once");
        // Going on before any of the answer was heard is the same.
        let mut c = Conversation::default();
        assert!(c.hesitated(&Frame::EndOfTurn { at_ms: 900, audio: audio() }, false, 0));
        // Speaking up 3 s after their words ended is replying to the answer (the speech that
        // cut in counts, not an earlier "mm" that did not); a turn once some of the answer was
        // heard says nothing about hesitating.
        let mut c = Conversation::default();
        c.turn("What's my balance?", false, QUIET);
        c.hesitated(&Frame::SpeechStarted { at_ms: 2_400 }, true, 2_100);
        c.hesitated(&Frame::SpeechStarted { at_ms: 5_100 }, true, 2_100);
        assert!(!c.hesitated(&Frame::Interruption { at_ms: 5_500 }, true, 2_100));
        assert!(!c.hesitated(&Frame::EndOfTurn { at_ms: 5_100, audio: audio() }, true, 2_100));
        // Each answer starts afresh.
        c.turn("And my last order?", false, QUIET);
        assert!(!c.hesitated(&Frame::Interruption { at_ms: 9_000 }, true, 6_000));
    }

    #[test]
    fn a_turn_heard_while_the_answer_plays_is_recognised_for_later() {
        let mut c = Conversation::default();
        c.turn("What's my balance?", false, QUIET);
        let turn = Frame::EndOfTurn { at_ms: 2_000, audio: audio() };
        assert!(matches!(c.while_answering(turn, true), WhileAnswering::RecogniseLater(_)));
        let other = Frame::SpeechStarted { at_ms: 2_100 };
        assert_eq!(c.while_answering(other, true), WhileAnswering::GoOn);
        assert_eq!(c.phase(), Phase::Answering);
    }

    #[test]
    fn an_answer_that_hands_the_call_on_ends_the_conversation() {
        let mut c = Conversation::default();
        c.turn("Let me talk to a person", false, QUIET);
        assert_eq!(c.answer_ended(AnswerEnded::Finished { listen_on: false }), AfterAnswer::Finish);
        assert_eq!(c.phase(), Phase::Over);
        assert_eq!(c.turn("hello?", false, QUIET), OnTurn::Ignore, "nothing is answered once over");
    }

    #[test]
    fn a_supervisor_takes_over_during_an_answer_or_between_turns() {
        let mut c = Conversation::default();
        c.turn("I want a refund", false, QUIET);
        assert_eq!(c.answer_ended(AnswerEnded::TakeOver), AfterAnswer::TakeOver);
        assert_eq!(c.phase(), Phase::TakingOver);
        // The supervisor did not pick up: the AI goes on.
        c.taken_over(false);
        assert_eq!(c.phase(), Phase::Listening);
        c.take_over();
        assert_eq!(c.phase(), Phase::TakingOver);
        c.taken_over(true);
        assert_eq!(c.phase(), Phase::Over);
    }

    #[test]
    fn zero_asks_for_a_person_and_other_keys_do_nothing() {
        let mut c = Conversation::default();
        assert!(!c.key('5'));
        assert_eq!(c.phase(), Phase::Listening);
        assert!(c.key('0'));
        assert_eq!(c.phase(), Phase::Over);
        assert!(!c.key('0'), "once");
    }

    #[test]
    fn a_caller_who_hangs_up_mid_answer_is_gone() {
        let mut c = Conversation::default();
        c.turn("Hi", false, QUIET);
        assert_eq!(c.answer_ended(AnswerEnded::CallEnded), AfterAnswer::Gone);
        assert_eq!(c.phase(), Phase::Over);
    }
}
