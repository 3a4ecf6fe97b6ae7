//! Audio sources for a leg, sans-IO: call-progress tones and WAV recordings (any rate, mono or
//! stereo, resampled to the leg's rate), pulled 20 ms at a time.

use super::wav;
use crate::Error;

/// Samples per 20 ms frame at `rate`.
pub fn frame_len(rate: u32) -> usize {
    (rate / 50) as usize
}

/// Something that yields 20 ms frames until it ends.
pub trait Source {
    /// The next frame, or `None` when finished.
    fn next_frame(&mut self) -> Option<Vec<i16>>;
}

/// A call-progress tone: two frequencies, on/off cadence (ms), repeating.
#[derive(Debug, Clone)]
pub struct Tone {
    rate: u32,
    freqs: (f32, f32),
    on_ms: u32,
    off_ms: u32,
    position: u64,
    remaining_ms: Option<u64>,
}

impl Tone {
    /// North American ringback: 440 + 480 Hz, 2 s on, 4 s off.
    pub fn ringback(rate: u32) -> Self {
        Tone { rate, freqs: (440.0, 480.0), on_ms: 2000, off_ms: 4000, position: 0, remaining_ms: None }
    }

    /// A soft hold chime (a major third, 440 + 554 Hz), 0.8 s on, 0.6 s off: the caller knows
    /// the line is alive and never hears more than 0.6 s of silence.
    pub fn hold(rate: u32) -> Self {
        Tone { rate, freqs: (440.0, 554.37), on_ms: 800, off_ms: 600, position: 0, remaining_ms: None }
    }

    /// Busy: 480 + 620 Hz, 0.5 s on, 0.5 s off.
    pub fn busy(rate: u32) -> Self {
        Tone { rate, freqs: (480.0, 620.0), on_ms: 500, off_ms: 500, position: 0, remaining_ms: None }
    }

    /// A single beep (e.g. before a voicemail recording): 1 kHz for `ms`.
    pub fn beep(rate: u32, ms: u32) -> Self {
        Tone {
            rate,
            freqs: (1000.0, 1000.0),
            on_ms: ms,
            off_ms: 0,
            position: 0,
            remaining_ms: Some(ms as u64),
        }
    }

    /// An in-band DTMF digit (for a leg without telephone-events): its two frequencies for
    /// `ms`, then as long again of silence. `None` for a character that is not a digit.
    pub fn dtmf(rate: u32, digit: char, ms: u32) -> Option<Self> {
        const ROWS: [f32; 4] = [697.0, 770.0, 852.0, 941.0];
        const COLS: [f32; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
        const KEYS: [&str; 4] = ["123A", "456B", "789C", "*0#D"];
        let d = digit.to_ascii_uppercase();
        let (r, c) = KEYS.iter().enumerate().find_map(|(r, row)| row.find(d).map(|c| (r, c)))?;
        Some(Tone {
            rate,
            freqs: (ROWS[r], COLS[c]),
            on_ms: ms,
            off_ms: ms,
            position: 0,
            remaining_ms: Some(2 * ms as u64),
        })
    }

    /// Stops after `ms`.
    pub fn for_ms(mut self, ms: u64) -> Self {
        self.remaining_ms = Some(ms);
        self
    }
}

impl Source for Tone {
    fn next_frame(&mut self) -> Option<Vec<i16>> {
        if let Some(r) = &mut self.remaining_ms {
            if *r == 0 {
                return None;
            }
            *r = r.saturating_sub(20);
        }
        let n = frame_len(self.rate);
        let period = (self.on_ms + self.off_ms) as u64 * self.rate as u64 / 1000;
        let on = self.on_ms as u64 * self.rate as u64 / 1000;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let t = self.position;
            self.position += 1;
            let in_cycle = if period == 0 { t } else { t % period };
            if in_cycle >= on {
                out.push(0);
                continue;
            }
            let secs = t as f32 / self.rate as f32;
            let v = (std::f32::consts::TAU * self.freqs.0 * secs).sin()
                + (std::f32::consts::TAU * self.freqs.1 * secs).sin();
            out.push((v * 0.25 * 32767.0 * 0.5) as i16);
        }
        Some(out)
    }
}

/// Converts mono samples between rates: a windowed-sinc low-pass when going down (no aliasing of
/// e.g. 16 kHz content into an 8 kHz call), linear interpolation otherwise.
pub fn resample(input: &[i16], from: u32, to: u32) -> Vec<i16> {
    if from == to || input.is_empty() {
        return input.to_vec();
    }
    let ratio = from as f64 / to as f64;
    let out_len = ((input.len() as f64) / ratio).floor() as usize;
    let mut out = Vec::with_capacity(out_len);
    if to < from {
        // Band-limit to the new Nyquist with a 32-tap Hann-windowed sinc, evaluated at each output point.
        let cutoff = 0.5 / ratio * 0.95;
        let half = 16i64;
        for i in 0..out_len {
            let center = i as f64 * ratio;
            let c = center.floor() as i64;
            let mut acc = 0.0;
            let mut norm = 0.0;
            for k in (c - half + 1)..=(c + half) {
                if k < 0 || k as usize >= input.len() {
                    continue;
                }
                let x = k as f64 - center;
                let sinc = if x.abs() < 1e-9 {
                    2.0 * cutoff
                } else {
                    (std::f64::consts::TAU * cutoff * x).sin() / (std::f64::consts::PI * x)
                };
                let w = 0.5 + 0.5 * (std::f64::consts::PI * x / half as f64).cos();
                acc += input[k as usize] as f64 * sinc * w;
                norm += sinc * w;
            }
            out.push((acc / if norm.abs() > 1e-9 { norm } else { 1.0 }).clamp(-32768.0, 32767.0) as i16);
        }
    } else {
        for i in 0..out_len {
            let pos = i as f64 * ratio;
            let a = pos.floor() as usize;
            let frac = pos - a as f64;
            let x0 = input[a] as f64;
            let x1 = *input.get(a + 1).unwrap_or(&input[a]) as f64;
            out.push((x0 + (x1 - x0) * frac) as i16);
        }
    }
    out
}

/// A WAV recording played once (or looped, for hold music), at the leg's rate.
#[derive(Debug, Clone)]
pub struct WavPlayer {
    samples: Vec<i16>,
    position: usize,
    rate: u32,
    looping: bool,
}

impl WavPlayer {
    /// Decodes and converts a WAV file's bytes for a leg running at `rate` Hz.
    pub fn new(bytes: &[u8], rate: u32, looping: bool) -> Result<Self, Error> {
        let (info, samples) = wav::decode(bytes)?;
        let mono: Vec<i16> = if info.channels == 2 {
            samples.chunks_exact(2).map(|c| ((c[0] as i32 + c[1] as i32) / 2) as i16).collect()
        } else {
            samples
        };
        Ok(WavPlayer { samples: resample(&mono, info.sample_rate, rate), position: 0, rate, looping })
    }

    pub fn duration_ms(&self) -> u64 {
        self.samples.len() as u64 * 1000 / self.rate as u64
    }
}

impl Source for WavPlayer {
    fn next_frame(&mut self) -> Option<Vec<i16>> {
        let n = frame_len(self.rate);
        if self.position >= self.samples.len() {
            if !self.looping || self.samples.is_empty() {
                return None;
            }
            self.position = 0;
        }
        let end = (self.position + n).min(self.samples.len());
        let mut frame = self.samples[self.position..end].to_vec();
        self.position = end;
        frame.resize(n, 0); // the last frame is padded with silence
        Some(frame)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dominant_hz(samples: &[i16], rate: u32) -> f64 {
        let crossings = samples.windows(2).filter(|w| (w[0] < 0) != (w[1] < 0)).count();
        crossings as f64 / 2.0 / (samples.len() as f64 / rate as f64)
    }

    fn rms(samples: &[i16]) -> f64 {
        (samples.iter().map(|&s| (s as f64).powi(2)).sum::<f64>() / samples.len().max(1) as f64).sqrt()
    }

    #[test]
    fn wav_at_any_rate_plays_at_the_leg_rate() {
        let tone: Vec<i16> = (0..48000)
            .map(|i| ((i as f32 * 500.0 * std::f32::consts::TAU / 48000.0).sin() * 10000.0) as i16)
            .collect();
        let stereo: Vec<i16> = tone.iter().flat_map(|&s| [s, s]).collect();
        let bytes = wav::encode_pcm16(&stereo, 48000, 2);
        let mut p = WavPlayer::new(&bytes, 8000, false).unwrap();
        assert_eq!(p.duration_ms(), 1000);
        let mut all = Vec::new();
        while let Some(f) = p.next_frame() {
            assert_eq!(f.len(), 160);
            all.extend(f);
        }
        assert_eq!(all.len(), 8000);
        assert!((dominant_hz(&all, 8000) - 500.0).abs() < 10.0);
        assert!(rms(&all[400..7600]) > 6000.0);
    }

    #[test]
    fn downsampling_removes_what_the_phone_cannot_carry() {
        // A 6 kHz tone at 16 kHz would alias to 2 kHz at 8 kHz without filtering.
        let high: Vec<i16> = (0..16000)
            .map(|i| ((i as f32 * 6000.0 * std::f32::consts::TAU / 16000.0).sin() * 10000.0) as i16)
            .collect();
        let out = resample(&high, 16000, 8000);
        assert!(rms(&out[100..7900]) < 500.0, "aliased energy {}", rms(&out[100..7900]));
        // Upsampling keeps a tone's pitch.
        let low: Vec<i16> = (0..8000)
            .map(|i| ((i as f32 * 300.0 * std::f32::consts::TAU / 8000.0).sin() * 10000.0) as i16)
            .collect();
        assert!((dominant_hz(&resample(&low, 8000, 16000), 16000) - 300.0).abs() < 5.0);
    }

    #[test]
    fn tones_follow_their_cadence() {
        let mut busy = Tone::busy(8000).for_ms(2000);
        let frames: Vec<Vec<i16>> = std::iter::from_fn(|| busy.next_frame()).collect();
        assert_eq!(frames.len(), 100);
        let loud: Vec<bool> = frames.iter().map(|f| rms(f) > 1000.0).collect();
        assert!(loud[..25].iter().all(|l| *l) && loud[25..50].iter().all(|l| !*l));
        let mut beep = Tone::beep(8000, 200);
        assert_eq!(std::iter::from_fn(|| beep.next_frame()).count(), 10);
        let mut ring = Tone::ringback(8000);
        assert!(ring.next_frame().is_some());
    }

    #[test]
    fn bad_files_are_errors_not_panics() {
        assert!(WavPlayer::new(b"not audio", 8000, false).is_err());
        assert!(resample(&[], 16000, 8000).is_empty());
    }
}
