//! The pitch of the voice before a pause, sans-IO: a plain autocorrelation pitch tracker and
//! what the pitch did at the end of the speech (fell to the bottom of the speaker's range, as
//! at the end of a statement, or stayed up, as before a comma). Works on telephone audio
//! (8 kHz and up; the fundamental of most voices is above the line's 300 Hz cut-off only in its
//! harmonics, which autocorrelation still finds).

/// Lowest and highest fundamental tracked, Hz.
const MIN_F0: f32 = 70.0;
const MAX_F0: f32 = 400.0;
/// Normalised autocorrelation at the period needed to call a window voiced.
const VOICED: f32 = 0.6;

/// The fundamental frequency every 10 ms (`None` where the window is not clearly voiced), over
/// 40 ms windows.
pub fn pitch_track(samples: &[i16], rate: u32) -> Vec<Option<f32>> {
    let rate_f = rate as f32;
    let hop = (rate / 100).max(1) as usize;
    let win = (rate as usize * 40 / 1000).max(1);
    let min_lag = (rate_f / MAX_F0).floor().max(1.0) as usize;
    let max_lag = (rate_f / MIN_F0).ceil() as usize;
    let x: Vec<f32> = samples.iter().map(|&s| f32::from(s)).collect();
    let mut track = Vec::new();
    let mut start = 0;
    while start + win + max_lag <= x.len() {
        track.push(period(&x[start..start + win + max_lag], win, min_lag, max_lag).map(|lag| rate_f / lag));
        start += hop;
    }
    track
}

/// The period in samples (fractional) of `x[..win]` against lags up to `max_lag`, if voiced.
fn period(x: &[f32], win: usize, min_lag: usize, max_lag: usize) -> Option<f32> {
    let head = &x[..win];
    let e0: f32 = head.iter().map(|v| v * v).sum();
    // Quieter than a faint voice on the line (RMS about 100 of 32,768).
    if e0 < 100.0 * 100.0 * win as f32 {
        return None;
    }
    let r: Vec<f32> = (min_lag..=max_lag)
        .map(|lag| {
            let other = &x[lag..lag + win];
            let el: f32 = other.iter().map(|v| v * v).sum();
            let dot: f32 = head.iter().zip(other).map(|(a, b)| a * b).sum();
            if el > 0.0 {
                dot / (e0 * el).sqrt()
            } else {
                0.0
            }
        })
        .collect();
    let best = r.iter().copied().fold(f32::MIN, f32::max);
    if best < VOICED {
        return None;
    }
    // The shortest lag that is a local peak nearly as strong as the best: a period, not two.
    let i = (1..r.len().saturating_sub(1))
        .find(|&i| r[i] >= 0.9 * best && r[i] >= r[i - 1] && r[i] >= r[i + 1])
        .unwrap_or_else(|| r.iter().position(|&v| v == best).unwrap_or(0));
    // A parabola through the peak and its neighbours places it between samples.
    let shift = if i > 0 && i + 1 < r.len() {
        let (a, b, c) = (r[i - 1], r[i], r[i + 1]);
        let d = a - 2.0 * b + c;
        if d.abs() > f32::EPSILON {
            (0.5 * (a - c) / d).clamp(-0.5, 0.5)
        } else {
            0.0
        }
    } else {
        0.0
    };
    Some((min_lag + i) as f32 + shift)
}

/// What the pitch did at the end of some speech, in semitones against the speaker's median
/// over that speech.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Contour {
    /// The last voiced stretch's pitch (median of its last 5 voiced windows).
    pub end: f32,
    /// Where the voice was in its range over the speech: 0 at its 10th percentile, 1 at its 90th.
    pub end_in_range: f32,
    /// The change over the last 200 ms of voicing, semitones per second (a least-squares line).
    pub slope: f32,
}

fn semitones(f: f32) -> f32 {
    12.0 * (f / 100.0).log2()
}

/// The contour at the end of `samples` (speech up to a pause); `None` with under 200 ms voiced.
pub fn contour(samples: &[i16], rate: u32) -> Option<Contour> {
    let track = pitch_track(samples, rate);
    let voiced: Vec<(usize, f32)> =
        track.iter().enumerate().filter_map(|(i, f)| f.map(|f| (i, semitones(f)))).collect();
    if voiced.len() < 20 {
        return None;
    }
    let mut all: Vec<f32> = voiced.iter().map(|v| v.1).collect();
    all.sort_by(f32::total_cmp);
    let at = |p: f32| all[((all.len() - 1) as f32 * p).round() as usize];
    let (median, low, high) = (at(0.5), at(0.1), at(0.9));
    let mut last: Vec<f32> = voiced[voiced.len() - 5..].iter().map(|v| v.1).collect();
    last.sort_by(f32::total_cmp);
    let end = last[2];
    // The line through the voiced windows of the last 200 ms of voicing (10 ms apart).
    let last_i = voiced[voiced.len() - 1].0;
    let tail: Vec<(f32, f32)> =
        voiced.iter().filter(|v| v.0 + 20 > last_i).map(|&(i, st)| (i as f32 / 100.0, st)).collect();
    let n = tail.len() as f32;
    let (mx, my) = (tail.iter().map(|t| t.0).sum::<f32>() / n, tail.iter().map(|t| t.1).sum::<f32>() / n);
    let sxx: f32 = tail.iter().map(|t| (t.0 - mx).powi(2)).sum();
    let sxy: f32 = tail.iter().map(|t| (t.0 - mx) * (t.1 - my)).sum();
    let slope = if sxx > 0.0 { sxy / sxx } else { 0.0 };
    Some(Contour {
        end: end - median,
        end_in_range: if high > low { (end - low) / (high - low) } else { 0.5 },
        slope,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A buzz (harmonics of `f0`, above the phone line's low cut) gliding from `from` to `to` Hz.
    fn glide(from: f32, to: f32, ms: usize, rate: u32) -> Vec<i16> {
        let n = rate as usize * ms / 1000;
        let mut phase = 0.0f32;
        (0..n)
            .map(|i| {
                let f = from + (to - from) * i as f32 / n as f32;
                phase += std::f32::consts::TAU * f / rate as f32;
                let v: f32 = (2..6).map(|h| (phase * h as f32).sin() / h as f32).sum();
                (v * 6_000.0) as i16
            })
            .collect()
    }

    #[test]
    fn tracks_a_voice_by_its_harmonics_alone() {
        let track = pitch_track(&glide(150.0, 150.0, 500, 8_000), 8_000);
        let voiced: Vec<f32> = track.iter().flatten().copied().collect();
        assert!(voiced.len() >= track.len() - 2, "{track:?}");
        for f in voiced {
            assert!((f - 150.0).abs() < 3.0, "{f}");
        }
    }

    #[test]
    fn silence_and_noise_are_not_voiced() {
        assert!(pitch_track(&vec![0; 4_000], 8_000).iter().all(Option::is_none));
        let mut x: u32 = 7;
        let noise: Vec<i16> = (0..4_000)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                ((x >> 16) as i16) / 4
            })
            .collect();
        let track = pitch_track(&noise, 8_000);
        assert!(track.iter().filter(|f| f.is_some()).count() * 10 < track.len(), "{track:?}");
    }

    #[test]
    fn a_fall_at_the_end_reads_low_and_falling_a_rise_high_and_rising() {
        let mut falling = glide(140.0, 140.0, 800, 8_000);
        falling.extend(glide(140.0, 95.0, 300, 8_000));
        let c = contour(&falling, 8_000).unwrap();
        assert!(c.end < -3.0 && c.slope < -10.0 && c.end_in_range < 0.2, "{c:?}");
        let mut rising = glide(140.0, 140.0, 800, 8_000);
        rising.extend(glide(140.0, 180.0, 300, 8_000));
        let c = contour(&rising, 8_000).unwrap();
        assert!(c.end > 2.0 && c.slope > 10.0 && c.end_in_range > 0.8, "{c:?}");
    }

    #[test]
    fn too_little_voice_has_no_contour() {
        assert_eq!(contour(&glide(150.0, 150.0, 100, 8_000), 8_000), None);
        assert_eq!(contour(&[], 8_000), None);
    }
}
