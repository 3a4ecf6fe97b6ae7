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

/// Level below which the start of synthesised audio counts as silence (about -40 dBFS).
const LEAD_SILENCE: i16 = 330;

/// Cuts the silence a voice puts before its first sound, keeping `keep_ms` of it, so that the
/// caller hears the answer the moment it is sent (Piper starts most sentences with 50–100 ms of
/// near silence).
pub fn trim_leading_silence(frame: &mut AudioFrame, keep_ms: u64) {
    let Some(first) = frame.samples.iter().position(|s| s.unsigned_abs() > LEAD_SILENCE as u16) else {
        return;
    };
    let keep = (keep_ms * frame.rate as u64 / 1000) as usize;
    frame.samples.drain(..first.saturating_sub(keep));
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

/// IPA phonemes for `text` the way Piper voices were trained on them: espeak-ng per clause
/// (its library in process, else its program), with the clause's punctuation kept (it shapes
/// the prosody).
pub fn phonemize(text: &str, voice: &str) -> Result<String> {
    let mut clauses: Vec<(String, Option<char>)> = Vec::new();
    let mut current = String::new();
    let chars: Vec<char> = text.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let ends = matches!(c, ',' | '.' | ';' | ':' | '!' | '?')
            && chars.get(i + 1).is_none_or(|n| n.is_whitespace());
        if ends {
            clauses.push((std::mem::take(&mut current), Some(c)));
        } else {
            current.push(c);
        }
    }
    clauses.push((current, None));
    let mut out = String::new();
    for (clause, punct) in clauses {
        let clause = clause.trim();
        if !clause.is_empty() {
            let ipa = match crate::phonemes::clause(clause, voice) {
                Some(ipa) => ipa,
                None => {
                    let o = Command::new("espeak-ng")
                        .args(["-q", "--ipa", "-v", voice, "--", clause])
                        .output()
                        .map_err(|e| {
                            Error::Engine(format!("cannot run espeak-ng (Debian package espeak-ng): {e}"))
                        })?;
                    let ipa = String::from_utf8_lossy(&o.stdout);
                    ipa.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ")
                }
            };
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(&ipa);
        }
        if let Some(p) = punct {
            out.push(p);
        }
    }
    Ok(out)
}

/// A Piper voice (natural; the default when its package is installed).
pub struct Piper {
    voice: switchboard_models::piper::Piper,
}

impl Piper {
    pub fn load(models_dir: &std::path::Path, threads: usize) -> Result<Self> {
        let voice = switchboard_models::piper::Piper::load(models_dir, threads)
            .map_err(|e| Error::Engine(e.to_string()))?;
        Ok(Piper { voice })
    }

    /// The voice with `sessions` sessions of `threads` threads each: several sentences (of
    /// several calls) are synthesised at once.
    pub fn load_sessions(models_dir: &std::path::Path, threads: usize, sessions: usize) -> Result<Self> {
        let voice = switchboard_models::piper::Piper::load_sessions(models_dir, threads, sessions)
            .map_err(|e| Error::Engine(e.to_string()))?;
        Ok(Piper { voice })
    }

    /// The same text always gives the same audio (no random variation): for tests.
    pub fn steady(self) -> Self {
        Piper { voice: self.voice.steady() }
    }
}

impl TextToSpeech for Piper {
    fn name(&self) -> String {
        "piper (en_US joe, medium)".into()
    }

    fn synthesize(&self, text: &str) -> Result<AudioFrame> {
        let phonemes = phonemize(text, "en-us")?;
        let samples = self.voice.synthesize(&phonemes).map_err(|e| Error::Engine(e.to_string()))?;
        Ok(AudioFrame { rate: self.voice.sample_rate, samples, at_ms: 0 })
    }
}

/// The best voice available: Piper when its package is installed, else espeak-ng. Loaded once
/// per process and shared.
pub fn default_voice(models_dir: &std::path::Path) -> std::sync::Arc<dyn TextToSpeech> {
    static VOICE: std::sync::OnceLock<std::sync::Arc<dyn TextToSpeech>> = std::sync::OnceLock::new();
    VOICE
        .get_or_init(|| {
            // One single-threaded session per core: under load, calls' sentences are synthesised
            // side by side (measured: 10 simultaneous AI calls instead of 6 with one session of
            // two threads, for about 20 ms more to a lone call's first audio).
            let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).clamp(1, 4);
            match Piper::load_sessions(models_dir, 1, cores) {
                Ok(p) => std::sync::Arc::new(p),
                Err(_) => std::sync::Arc::new(Espeak::default()),
            }
        })
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leading_silence_is_cut_to_what_is_kept() {
        // 80 ms of hiss, then a sound, at 8 kHz.
        let mut samples: Vec<i16> = (0..640).map(|i| if i % 2 == 0 { 40 } else { -40 }).collect();
        samples.extend((0..800).map(|i| ((i as f32 * 0.3).sin() * 8_000.0) as i16));
        let sound_at = samples.iter().position(|s| s.unsigned_abs() > 330).unwrap_or(0);
        let mut frame = AudioFrame { rate: 8_000, samples, at_ms: 0 };
        trim_leading_silence(&mut frame, 5);
        assert_eq!(frame.samples.iter().position(|s| s.unsigned_abs() > 330), Some(40));
        assert_eq!(frame.samples.len(), 1_440 - (sound_at - 40));
        // All silence: nothing is cut (there is no sound to start at).
        let mut quiet = AudioFrame { rate: 8_000, samples: vec![10; 400], at_ms: 0 };
        trim_leading_silence(&mut quiet, 5);
        assert_eq!(quiet.samples.len(), 400);
    }
}
