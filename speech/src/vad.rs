//! Voice activity: a small neural detector (earshot, pure Rust) scores every 16 ms of 16 kHz
//! audio from 0 (no voice) to 1 (voice). Audio far below speech level is scored 0 without asking
//! the network, so line hiss never counts. Smoothing and decisions live in [`crate::turn`].

/// Samples per VAD frame (16 ms at 16 kHz).
pub const FRAME: usize = 256;
/// Duration of one VAD frame.
pub const FRAME_MS: u64 = 16;

/// RMS below which a frame is silence whatever it sounds like (about -54 dBFS).
const SILENCE_RMS: f64 = 65.0;

pub struct Vad {
    detector: earshot::Detector,
    pending: Vec<i16>,
    /// Audio time of the first pending sample.
    at_ms: u64,
}

impl Default for Vad {
    fn default() -> Self {
        Vad { detector: earshot::Detector::default(), pending: Vec::with_capacity(FRAME * 2), at_ms: 0 }
    }
}

impl Vad {
    /// Feeds 16 kHz audio starting at `at_ms`; returns (frame start ms, score) per whole frame.
    /// Audio is expected to be contiguous; a gap restarts the frame clock.
    pub fn handle(&mut self, at_ms: u64, samples: &[i16]) -> Vec<(u64, f32)> {
        let expected = self.at_ms + self.pending.len() as u64 * 1000 / 16_000;
        if self.pending.is_empty() || at_ms.abs_diff(expected) > FRAME_MS {
            self.pending.clear();
            self.at_ms = at_ms;
        }
        self.pending.extend_from_slice(samples);
        let mut out = Vec::new();
        while self.pending.len() >= FRAME {
            let frame: Vec<i16> = self.pending.drain(..FRAME).collect();
            let rms = (frame.iter().map(|&s| (s as f64).powi(2)).sum::<f64>() / FRAME as f64).sqrt();
            let score = if rms < SILENCE_RMS { 0.0 } else { self.detector.predict_i16(&frame) };
            out.push((self.at_ms, score));
            self.at_ms += FRAME_MS;
        }
        out
    }

    pub fn reset(&mut self) {
        self.detector.reset();
        self.pending.clear();
    }
}
