//! Smart Turn v3.2 on ONNX Runtime: the probability that a caller who has just paused has
//! finished their turn, judged from the sound of the last 8 seconds (falling intonation, a
//! drawn-out "and", a number cut off half-way), not from words. Input: Whisper's log-mel
//! features (80 bands, 10 ms hop) of the last 8 s of 16 kHz audio, zero-padded in front and
//! normalised to zero mean and unit variance first, as the model was trained. One run costs a
//! few milliseconds; a few sessions are shared by every call.

use crate::catalog::{self, SMART_TURN};
use crate::{Error, Result};
use realfft::{RealFftPlanner, RealToComplex};
use std::path::Path;
use std::sync::{Arc, OnceLock};

/// The model's audio rate.
pub const SAMPLE_RATE: usize = 16_000;
/// How much audio the model hears: the last 8 s.
pub const WINDOW: usize = 8 * SAMPLE_RATE;
/// Probability at or above which the model means "finished".
pub const THRESHOLD: f32 = 0.5;

const N_FFT: usize = 400;
const HOP: usize = 160;
const BANDS: usize = 80;
/// Frames fed to the model (the spectrogram's last frame is dropped, as Whisper does).
pub const FRAMES: usize = WINDOW / HOP;
const BINS: usize = N_FFT / 2 + 1;

fn err(e: impl std::fmt::Display) -> Error {
    Error::Inference(format!("smart turn: {e}"))
}

/// The feature extractor: FFT plan, window and the mel filter bank, made once.
struct Extractor {
    fft: Arc<dyn RealToComplex<f32>>,
    window: Vec<f32>,
    /// `BANDS` triangular filters over the `BINS` FFT bins, area-normalised (Slaney): each
    /// band's first non-zero bin and its weights.
    filters: Vec<(usize, Vec<f32>)>,
}

impl Extractor {
    fn get() -> &'static Extractor {
        static EXTRACTOR: OnceLock<Extractor> = OnceLock::new();
        EXTRACTOR.get_or_init(|| {
            let fft = RealFftPlanner::<f32>::new().plan_fft_forward(N_FFT);
            // Periodic Hann window.
            let window = (0..N_FFT)
                .map(|n| (0.5 - 0.5 * (2.0 * std::f64::consts::PI * n as f64 / N_FFT as f64).cos()) as f32)
                .collect();
            // Whisper's own filter bank (the one written into its converted model file).
            let dense = crate::ggml::mel_filters(BANDS);
            let filters = dense
                .chunks(BINS)
                .map(|row| {
                    let first = row.iter().position(|&w| w > 0.0).unwrap_or(0);
                    let last = row.iter().rposition(|&w| w > 0.0).map_or(first, |l| l + 1);
                    (first, row[first..last].to_vec())
                })
                .collect();
            Extractor { fft, window, filters }
        })
    }

    /// log10 of the mel energies of one frame (`N_FFT` samples).
    fn frame(
        &self,
        samples: &[f32],
        out: &mut [f32],
        scratch: &mut (Vec<f32>, Vec<realfft::num_complex::Complex<f32>>),
    ) {
        let (input, spectrum) = scratch;
        for ((i, s), w) in input.iter_mut().zip(samples).zip(&self.window) {
            *i = s * w;
        }
        // The lengths match the plan, so this cannot fail.
        if self.fft.process(input, spectrum).is_err() {
            out.fill(-10.0);
            return;
        }
        for (o, (first, weights)) in out.iter_mut().zip(&self.filters) {
            let e: f32 = weights.iter().zip(&spectrum[*first..]).map(|(w, c)| w * c.norm_sqr()).sum();
            *o = e.max(1e-10).log10();
        }
    }
}

/// The model's input for a stretch of 16 kHz audio (samples in -1..1): `BANDS` rows of
/// `FRAMES` values, row-major. Only the last 8 s count; shorter audio is zero-padded in front.
pub fn features(audio: &[f32]) -> Vec<f32> {
    let ex = Extractor::get();
    let audio = &audio[audio.len().saturating_sub(WINDOW)..];
    let pad = WINDOW - audio.len();
    // Normalise the padded window to zero mean and unit variance (the padding included).
    let n = WINDOW as f64;
    let mean = audio.iter().map(|&s| s as f64).sum::<f64>() / n;
    let var = (audio.iter().map(|&s| (s as f64 - mean).powi(2)).sum::<f64>() + pad as f64 * mean * mean) / n;
    let scale = 1.0 / (var + 1e-7).sqrt();
    let floor = (-mean * scale) as f32;
    // Centred frames: the window is reflected at both ends by half a frame.
    let half = N_FFT / 2;
    let mut x = Vec::with_capacity(WINDOW + N_FFT);
    let at = |i: usize| if i < pad { floor } else { ((audio[i - pad] as f64 - mean) * scale) as f32 };
    x.extend((1..=half).rev().map(at));
    x.extend((0..WINDOW).map(at));
    x.extend((WINDOW - 1 - half..WINDOW - 1).rev().map(at));
    let mut scratch = (vec![0.0f32; N_FFT], vec![Default::default(); BINS]);
    let mut frames = vec![0.0f32; FRAMES * BANDS];
    // Frames that lie wholly in the padding are all the same: worked out once.
    let padded_frames = if pad > half + 1 { ((pad - half) / HOP).min(FRAMES) } else { 0 };
    let mut frame = vec![0.0f32; BANDS];
    for t in 0..FRAMES {
        if t == 0 || t >= padded_frames {
            ex.frame(&x[t * HOP..t * HOP + N_FFT], &mut frame, &mut scratch);
        }
        for (b, v) in frame.iter().enumerate() {
            frames[b * FRAMES + t] = *v;
        }
    }
    // Whisper's dynamic range: 8 (80 dB) below the loudest, then scaled to about -1..1.
    let top = frames.iter().fold(f32::MIN, |m, &v| m.max(v));
    for v in &mut frames {
        *v = (v.max(top - 8.0) + 4.0) / 4.0;
    }
    frames
}

/// The turn model, loaded once and shared by every call.
pub struct SmartTurn {
    sessions: crate::piper::SessionPool,
}

impl SmartTurn {
    /// Loads the model from the models directory: `sessions` sessions of `threads` threads.
    pub fn load(models_dir: &Path, threads: usize, sessions: usize) -> Result<Self> {
        let files = catalog::locate(models_dir, &SMART_TURN)?;
        let env = crate::piper::environment(models_dir)?;
        let sessions = crate::piper::SessionPool::load(env, &files[0], threads, sessions, "smart turn")?;
        Ok(SmartTurn { sessions })
    }

    /// The probability that the turn is over, for the audio up to the pause (16 kHz).
    pub fn probability(&self, audio: &[f32]) -> Result<f32> {
        self.probability_of_features(features(audio))
    }

    /// The same from features made by [`features`].
    pub fn probability_of_features(&self, features: Vec<f32>) -> Result<f32> {
        if features.len() != BANDS * FRAMES {
            return Err(err(format!("{} features, expected {}", features.len(), BANDS * FRAMES)));
        }
        let input = ort::value::Tensor::from_array(([1usize, BANDS, FRAMES], features)).map_err(err)?;
        let mut session = self.sessions.get();
        let outputs = session.run(ort::inputs!["input_features" => input]).map_err(err)?;
        let (_, p) = outputs[0].try_extract_tensor::<f32>().map_err(err)?;
        p.first().copied().filter(|p| p.is_finite()).ok_or_else(|| err("no probability"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2.5 s of two tones, loud and quiet by turns every 125 ms (deterministic).
    fn test_signal() -> Vec<f32> {
        (0..40_000)
            .map(|n| {
                let t = n as f64 / 16_000.0;
                let env = if (n / 2000) % 2 == 0 { 1.0 } else { 0.2 };
                let s = 0.3 * (2.0 * std::f64::consts::PI * 220.0 * t).sin()
                    + 0.1 * (2.0 * std::f64::consts::PI * 1800.0 * t + 0.5).sin();
                (env * s) as f32
            })
            .collect()
    }

    /// Reference values computed once with the model's own (numpy) feature extractor from
    /// the pipecat package on `test_signal()`: (band, frame, value).
    const REFERENCE: &[(usize, usize, f32)] = &[
        (0, 0, 0.440082),
        (0, 799, 0.6009),
        (5, 650, 1.72455),
        (10, 700, 1.13804),
        (20, 799, 0.0366135),
        (40, 600, 1.314),
        (60, 640, -0.175584),
        (79, 700, -0.175584),
        (3, 400, -0.175584),
        (45, 750, 0.904724),
        (12, 561, 0.385818),
        (30, 562, 0.768561),
    ];

    /// Mean over the last 250 frames of every tenth band, from the same reference.
    const BAND_MEANS: &[f32] =
        &[0.64613, 0.54674, -0.0083541, -0.042703, 1.1642, -0.056524, -0.10869, -0.13743];

    #[test]
    fn features_match_the_reference_extractor() {
        let f = features(&test_signal());
        assert_eq!(f.len(), BANDS * FRAMES);
        for &(b, t, want) in REFERENCE {
            let got = f[b * FRAMES + t];
            assert!((got - want).abs() < 2e-3, "band {b} frame {t}: {got} vs {want}");
        }
        for (i, want) in BAND_MEANS.iter().enumerate() {
            let b = i * 10;
            let got = f[b * FRAMES + 550..(b + 1) * FRAMES].iter().sum::<f32>() / 250.0;
            assert!((got - want).abs() < 2e-3, "band {b}: mean {got} vs {want}");
        }
    }

    #[test]
    fn only_the_last_eight_seconds_count_and_silence_is_finite() {
        let mut long = vec![0.25f32; 5 * SAMPLE_RATE];
        long.extend(test_signal());
        long.extend(std::iter::repeat_n(0.0, 6 * SAMPLE_RATE));
        let tail = long[long.len() - WINDOW..].to_vec();
        assert_eq!(features(&long), features(&tail));
        assert!(features(&[]).iter().chain(&features(&vec![0.0; 100])).all(|v| v.is_finite()));
    }

    #[test]
    fn the_model_scores_the_reference_signal_as_the_reference_runtime_did() {
        let model = match SmartTurn::load(&crate::catalog::default_dir(), 1, 1) {
            Ok(m) => m,
            Err(e) => {
                assert!(std::env::var("CI").as_deref() != Ok("true"), "CI=true but no turn model: {e}");
                eprintln!("skipping: {e}");
                return;
            }
        };
        // 0.978554 from ONNX Runtime in Python on the reference features.
        let p = model.probability(&test_signal()).unwrap();
        assert!((p - 0.978_554).abs() < 0.01, "{p}");
        assert!(model.probability_of_features(vec![0.0; 10]).is_err());
    }
}
