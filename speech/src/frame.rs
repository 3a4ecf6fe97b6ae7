//! What flows through the pipeline: one flat enum (in the spirit of pipecat), so a processor is
//! a function from frames to frames and a test sends frames in and looks at what comes out.

/// Mono 16-bit PCM with its rate and where it starts on the call's audio clock.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioFrame {
    pub rate: u32,
    pub samples: Vec<i16>,
    /// Audio time of the first sample, in ms.
    pub at_ms: u64,
}

impl AudioFrame {
    pub fn duration_ms(&self) -> u64 {
        self.samples.len() as u64 * 1000 / self.rate.max(1) as u64
    }
}

/// A recognised piece of speech.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Transcript {
    pub text: String,
    /// Audio time of the start and end of the speech, in ms.
    pub start_ms: u64,
    pub end_ms: u64,
    /// Segment (or word) timings inside it, when the engine gives them: (start ms, end ms, text).
    pub segments: Vec<(u64, u64, String)>,
    /// How sure the engine was (0..1), where it says.
    pub confidence: Option<f32>,
    /// What an engine that can go on from this transcript needs to, when more of the same
    /// audio comes (a turn's partial transcript, then the whole turn).
    pub continuation: Option<Continuation>,
}

/// An engine's own record of a transcript, to recognise a longer piece of the same audio from
/// it: the audio it covered (its length and fingerprint, to check the longer audio starts with
/// it) and the engine's tokens with their probabilities.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Continuation {
    pub samples: usize,
    pub fingerprint: u64,
    pub tokens: Vec<i64>,
    pub probs: Vec<f32>,
}

/// Frames exchanged by the processors.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// Caller audio, as the leg delivers it.
    Audio(AudioFrame),
    /// The caller started speaking (VAD, after the minimum speech time).
    SpeechStarted {
        at_ms: u64,
    },
    /// The caller stopped speaking (maybe only a pause).
    SpeechStopped {
        at_ms: u64,
    },
    /// The caller's turn is over; `audio` is the whole utterance at 16 kHz for recognition.
    EndOfTurn {
        at_ms: u64,
        audio: AudioFrame,
    },
    /// Time to recognise the turn so far (the driver runs the recogniser and feeds the text back
    /// with `Ears::set_partial`); `audio` is the turn from its start at 16 kHz.
    PartialRequest {
        at_ms: u64,
        audio: AudioFrame,
    },
    /// Time for the turn model to score the pause that began at `speech_end_ms` (the driver
    /// runs it and feeds the score back with `Ears::handle_turn_score`); `audio` is the turn up
    /// to now at 16 kHz, with the pre-roll before the speech began.
    TurnScoreRequest {
        speech_end_ms: u64,
        audio: AudioFrame,
    },
    /// Recognition results.
    PartialTranscript(Transcript),
    FinalTranscript(Transcript),
    /// Agent speech to play, at its synthesis rate; `interruptible: false` for segments that must
    /// be heard whole (legal disclaimers).
    TtsAudio {
        audio: AudioFrame,
        interruptible: bool,
    },
    /// Playback control from barge-in: stop for now, carry on, or drop what was queued.
    PausePlayback {
        at_ms: u64,
    },
    ResumePlayback {
        at_ms: u64,
    },
    Interruption {
        at_ms: u64,
    },
}
