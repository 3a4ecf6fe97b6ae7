//! The streaming speech pipeline: VAD, end-of-turn detection, speech recognition, text to
//! speech, barge-in and resampling, as frames flowing through small processors.
//!
//! Pipeline state is driven by audio time, never the wall clock: every processor takes the
//! time of the audio it is given (milliseconds on the call's audio clock) and tests run on a
//! virtual clock. This crate never imports `telephony` or the orchestrator, and knows nothing
//! of HTTP or JSON.
//!
//! - [`frame`]: the flat frame enum that processors exchange.
//! - [`resample`]: streaming sample-rate conversion (8/48 kHz ↔ 16 kHz ↔ TTS rates).
//! - [`vad`]: voice activity per 16 ms of 16 kHz audio.
//! - [`turn`]: speech start/stop and end of turn from VAD scores and partial transcripts.
//! - [`turn_model`]: the turn model (Smart Turn) that scores pauses for the detector.
//! - [`bargein`]: when caller speech pauses, resumes or interrupts what the agent says.
//! - [`ears`]: a leg's audio in, turns out (resampler + VAD + turn detector).
//! - [`text`]: text normalisation for phone speech, and sentence chunking for streaming TTS.
//! - [`spoken`]: numbers, amounts, dates and e-mail addresses as callers say them.
//! - [`stt`]: speech recognition (local Whisper) and the fair queue calls share it through.
//! - [`tts`]: text to speech (Piper, espeak-ng).
//! - [`phonemes`]: espeak-ng's phonemiser in process, for Piper.
//! - [`prosody`]: the pitch of the voice before a pause (fell as at a statement's end, or stayed up).
//! - [`wer`]: word error rate, for tests and benchmarks.

// `&s[a..b]` on a `str` panics inside a multi-byte character; cut text with `split_once`,
// `strip_prefix`, `str::get` or `char_indices` instead (recognised speech and model output
// are someone else's text too).
#![deny(clippy::string_slice)]

pub mod bargein;
pub mod ears;
pub mod frame;
pub mod phonemes;
pub mod prosody;
pub mod resample;
pub mod spoken;
pub mod stt;
pub mod text;
pub mod tts;
pub mod turn;
pub mod turn_model;
pub mod vad;
pub mod wer;

/// Errors of the speech crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("unsupported sample rate {0} Hz")]
    Rate(u32),
    #[error("bad audio: {0}")]
    Audio(String),
    #[error("{0}")]
    Engine(String),
    /// A recognition was given up (its [`stt::Cancel`] was used) before it finished.
    #[error("cancelled")]
    Cancelled,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
