//! Text to speech behind one contract: text in (already normalised for the phone), 16-bit PCM
//! out at the engine's rate, sentence by sentence. espeak-ng is the always-available voice.

use crate::frame::AudioFrame;
use crate::{Error, Result};
use std::process::Command;

pub trait TextToSpeech: Send + Sync {
    fn name(&self) -> String;
    /// Synthesises one sentence (or a short text).
    fn synthesize(&self, text: &str) -> Result<AudioFrame>;
}

/// espeak-ng (robotic but always there, very fast).
pub struct Espeak {
    pub voice: String,
    /// Words per minute.
    pub speed: u32,
}

impl Default for Espeak {
    fn default() -> Self {
        Espeak { voice: "en-us".into(), speed: 165 }
    }
}

impl TextToSpeech for Espeak {
    fn name(&self) -> String {
        format!("espeak-ng ({})", self.voice)
    }

    fn synthesize(&self, text: &str) -> Result<AudioFrame> {
        let out = Command::new("espeak-ng")
            .args(["--stdout", "-v", &self.voice, "-s", &self.speed.to_string(), "--", text])
            .output()
            .map_err(|e| Error::Engine(format!("cannot run espeak-ng (Debian package espeak-ng): {e}")))?;
        if !out.status.success() {
            return Err(Error::Engine(format!(
                "espeak-ng failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        parse_stream_wav(&out.stdout)
    }
}

/// espeak-ng writes a WAV header with unknown sizes when streaming: take the rate from the
/// header and every sample after the `data` tag.
fn parse_stream_wav(wav: &[u8]) -> Result<AudioFrame> {
    if wav.len() < 44 || &wav[..4] != b"RIFF" {
        return Err(Error::Audio("espeak-ng did not produce WAV".into()));
    }
    let rate = u32::from_le_bytes([wav[24], wav[25], wav[26], wav[27]]);
    let data =
        wav.windows(4).position(|w| w == b"data").ok_or_else(|| Error::Audio("no data chunk".into()))? + 8;
    let samples = wav
        .get(data..)
        .unwrap_or_default()
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    Ok(AudioFrame { rate, samples, at_ms: 0 })
}
