//! Streaming sample-rate conversion: a windowed-sinc (Blackman) interpolator, fed any number of
//! samples at a time. Going down it low-passes at the new Nyquist frequency, so 48 kHz browser
//! audio or 22.05 kHz synthesis does not alias into an 8 kHz call; going up it interpolates.

use crate::{Error, Result};

/// Kernel table resolution: samples per input-sample step.
const PHASES: usize = 256;
/// Zero crossings on each side of the kernel at full bandwidth.
const ZERO_CROSSINGS: usize = 16;

pub struct Resampler {
    from: u32,
    to: u32,
    /// Input samples per output sample.
    step: f64,
    /// Position of the next output sample, in input samples from the start of `history`.
    pos: f64,
    /// Kernel half-width in input samples.
    half: usize,
    /// The kernel from 0 to `half`, `PHASES` points per input sample.
    table: Vec<f32>,
    history: Vec<f32>,
}

fn sinc(x: f64) -> f64 {
    if x.abs() < 1e-12 {
        1.0
    } else {
        let px = std::f64::consts::PI * x;
        px.sin() / px
    }
}

impl Resampler {
    pub fn new(from: u32, to: u32) -> Result<Self> {
        for r in [from, to] {
            if !(4_000..=192_000).contains(&r) {
                return Err(Error::Rate(r));
            }
        }
        let cutoff = (to as f64 / from as f64).min(1.0) * 0.97;
        let half = (ZERO_CROSSINGS as f64 / cutoff).ceil() as usize;
        let table = (0..=half * PHASES)
            .map(|i| {
                let x = i as f64 / PHASES as f64;
                let w = x / half as f64; // 0..1 across the half window
                let blackman = 0.42
                    + 0.5 * (std::f64::consts::PI * w).cos()
                    + 0.08 * (2.0 * std::f64::consts::PI * w).cos();
                (cutoff * sinc(cutoff * x) * blackman) as f32
            })
            .collect();
        Ok(Resampler {
            from,
            to,
            step: from as f64 / to as f64,
            pos: half as f64,
            half,
            table,
            history: vec![0.0; half],
        })
    }

    pub fn rates(&self) -> (u32, u32) {
        (self.from, self.to)
    }

    fn kernel(&self, x: f64) -> f32 {
        let x = x.abs() * PHASES as f64;
        let i = x as usize;
        if i + 1 >= self.table.len() {
            return 0.0;
        }
        let frac = (x - i as f64) as f32;
        self.table[i] * (1.0 - frac) + self.table[i + 1] * frac
    }

    /// Converts the next piece of the stream; output lags input by the kernel's half-width.
    pub fn process(&mut self, input: &[i16]) -> Vec<i16> {
        if self.from == self.to {
            return input.to_vec();
        }
        self.history.extend(input.iter().map(|&s| s as f32));
        let mut out = Vec::with_capacity((input.len() as f64 / self.step) as usize + 2);
        let half = self.half as f64;
        while self.pos + half < self.history.len() as f64 {
            let centre = self.pos.floor() as isize;
            let mut acc = 0.0f32;
            for k in (centre - self.half as isize + 1)..=(centre + self.half as isize) {
                if k < 0 {
                    continue;
                }
                acc += self.history[k as usize] * self.kernel(self.pos - k as f64);
            }
            out.push(acc.round().clamp(-32768.0, 32767.0) as i16);
            self.pos += self.step;
        }
        // Keep what the next outputs still need.
        let keep_from = (self.pos.floor() as usize).saturating_sub(self.half);
        if keep_from > 0 {
            self.history.drain(..keep_from);
            self.pos -= keep_from as f64;
        }
        out
    }

    /// The tail still held back by the kernel (call once at the end of a stream).
    pub fn flush(&mut self) -> Vec<i16> {
        let pad = vec![0i16; self.half + 1];
        self.process(&pad)
    }
}

/// Converts a whole clip.
pub fn resample(input: &[i16], from: u32, to: u32) -> Result<Vec<i16>> {
    let mut r = Resampler::new(from, to)?;
    let mut out = r.process(input);
    out.extend(r.flush());
    out.truncate((input.len() as u64 * to as u64 / from as u64) as usize);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(hz: f64, rate: u32, n: usize) -> Vec<i16> {
        (0..n)
            .map(|i| ((2.0 * std::f64::consts::PI * hz * i as f64 / rate as f64).sin() * 10_000.0) as i16)
            .collect()
    }

    fn rms(x: &[i16]) -> f64 {
        (x.iter().map(|&s| (s as f64).powi(2)).sum::<f64>() / x.len().max(1) as f64).sqrt()
    }

    /// Correlation of a signal with a sine of `hz` (amplitude estimate).
    fn level_at(x: &[i16], hz: f64, rate: u32) -> f64 {
        let (mut re, mut im) = (0.0, 0.0);
        for (i, &s) in x.iter().enumerate() {
            let ph = 2.0 * std::f64::consts::PI * hz * i as f64 / rate as f64;
            re += s as f64 * ph.cos();
            im += s as f64 * ph.sin();
        }
        2.0 * (re * re + im * im).sqrt() / x.len() as f64
    }

    #[test]
    fn keeps_tones_and_length_across_rates() {
        for (from, to) in [(8000, 16000), (16000, 8000), (48000, 16000), (22050, 8000), (16000, 48000)] {
            let input = tone(440.0, from, from as usize);
            let out = resample(&input, from, to).unwrap();
            assert_eq!(out.len(), to as usize, "{from}->{to}");
            // Skip the edges; the tone keeps its level and frequency.
            let mid = &out[out.len() / 4..out.len() * 3 / 4];
            let level = level_at(mid, 440.0, to);
            assert!((9_000.0..11_000.0).contains(&level), "{from}->{to}: level {level}");
        }
    }

    #[test]
    fn going_down_removes_what_cannot_be_represented() {
        // 6 kHz cannot exist at 8 kHz: it must not fold back as 2 kHz.
        let input = tone(6000.0, 48000, 48000);
        let out = resample(&input, 48000, 8000).unwrap();
        assert!(rms(&out[1000..7000]) < 300.0, "aliasing: rms {}", rms(&out[1000..7000]));
    }

    #[test]
    fn streaming_in_odd_pieces_matches_one_go() {
        let input = tone(1000.0, 8000, 8000);
        let whole = resample(&input, 8000, 16000).unwrap();
        let mut r = Resampler::new(8000, 16000).unwrap();
        let mut pieces = Vec::new();
        for chunk in input.chunks(37) {
            pieces.extend(r.process(chunk));
        }
        pieces.extend(r.flush());
        pieces.truncate(whole.len());
        assert_eq!(pieces, whole);
        assert!(Resampler::new(8000, 1).is_err());
    }
}
