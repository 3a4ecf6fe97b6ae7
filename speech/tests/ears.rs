//! The ears on real speech (made with espeak-ng at test time) as it arrives over a phone line
//! (8 kHz, μ-law), and on line noise and hold music, on a virtual clock.

use std::process::Command;
use switchboard_speech::bargein::BargeInConfig;
use switchboard_speech::ears::Ears;
use switchboard_speech::frame::{AudioFrame, Frame};
use switchboard_speech::resample::resample;
use switchboard_speech::tts::{Espeak, TextToSpeech};
use switchboard_speech::turn::TurnConfig;

fn have_espeak() -> bool {
    let ok = Command::new("espeak-ng").arg("--version").output().is_ok_and(|o| o.status.success());
    if !ok && std::env::var("CI").as_deref() == Ok("true") {
        panic!("CI=true but espeak-ng is not installed");
    }
    ok
}

/// Speech from espeak-ng as 16-bit mono samples and their rate.
fn speak(text: &str) -> (Vec<i16>, u32) {
    let voice = Espeak { speed: 160, ..Default::default() };
    let audio = voice.synthesize(text).unwrap();
    (audio.samples, audio.rate)
}

/// G.711 μ-law there and back, as a phone line does.
fn ulaw_round_trip(x: i16) -> i16 {
    const BIAS: i32 = 0x84;
    let mut s = x as i32;
    let sign = if s < 0 {
        s = -s;
        0x80
    } else {
        0
    };
    s = (s + BIAS).min(32635 + BIAS);
    let exp = (7 - ((s as u32) << 17).leading_zeros().min(7)) as i32;
    let exp = (0..8).rev().find(|e| s >= (0x84 << e)).unwrap_or(exp);
    let mant = (s >> (exp + 3)) & 0x0F;
    let byte = !(sign | (exp << 4) | mant) as u8;
    let b = !byte;
    let (sign, exp, mant) = (b & 0x80, ((b >> 4) & 7) as i32, (b & 0x0F) as i32);
    let v = (((mant << 3) + BIAS) << exp) - BIAS;
    if sign != 0 {
        -v as i16
    } else {
        v as i16
    }
}

/// Phone-line audio: 8 kHz μ-law.
fn phone_line(samples: &[i16], rate: u32) -> Vec<i16> {
    resample(samples, rate, 8000).unwrap().into_iter().map(ulaw_round_trip).collect()
}

/// Feeds 8 kHz audio in 20 ms frames; returns the frames the ears produced.
fn listen(ears: &mut Ears, audio: &[i16], t: &mut u64) -> Vec<Frame> {
    let mut out = Vec::new();
    for chunk in audio.chunks(160) {
        out.extend(ears.handle_audio(&AudioFrame { rate: 8000, samples: chunk.to_vec(), at_ms: *t }));
        *t += 20;
    }
    out
}

fn pink_noise(n: usize, level: f64) -> Vec<i16> {
    // Voss-McCartney pink noise from a fixed-seed generator.
    let mut x: u32 = 12345;
    let mut rows = [0.0f64; 8];
    (0..n)
        .map(|i| {
            for (k, row) in rows.iter_mut().enumerate() {
                if i % (1 << k) == 0 {
                    x = x.wrapping_mul(1664525).wrapping_add(1013904223);
                    *row = (x >> 8) as f64 / (1u32 << 24) as f64 - 0.5;
                }
            }
            (rows.iter().sum::<f64>() * level) as i16
        })
        .collect()
}

/// Hold music: a chord progression of plucked notes with harmonics.
fn hold_music(secs: usize) -> Vec<i16> {
    let chords = [[261.6, 329.6, 392.0], [220.0, 261.6, 329.6], [174.6, 220.0, 261.6], [196.0, 246.9, 293.7]];
    (0..secs * 8000)
        .map(|i| {
            let t = i as f64 / 8000.0;
            let chord = chords[(t / 1.0) as usize % 4];
            let note_t = t % 0.25;
            let env = (-note_t * 6.0).exp();
            let f = chord[(t / 0.25) as usize % 3];
            let v: f64 =
                (1..=4).map(|h| (2.0 * std::f64::consts::PI * f * h as f64 * t).sin() / h as f64).sum();
            (v * env * 5000.0) as i16
        })
        .collect()
}

fn ears() -> Ears {
    Ears::new(8000, TurnConfig::default(), BargeInConfig::default()).unwrap()
}

#[test]
fn a_spoken_question_over_a_phone_line_is_one_turn() {
    if !have_espeak() {
        return;
    }
    let (speech, rate) =
        speak("Hello, I would like to know where my order is. It is order one zero four two.");
    let speech = phone_line(&speech, rate);
    let mut audio = vec![0i16; 8000];
    audio.extend(&speech);
    audio.extend(vec![0i16; 16000]);
    let mut e = ears();
    let mut t = 0;
    let frames = listen(&mut e, &audio, &mut t);
    let ends: Vec<&AudioFrame> = frames
        .iter()
        .filter_map(|f| if let Frame::EndOfTurn { audio, .. } = f { Some(audio) } else { None })
        .collect();
    assert_eq!(
        ends.len(),
        1,
        "one turn: {:?}",
        frames.iter().filter(|f| !matches!(f, Frame::Audio(_))).collect::<Vec<_>>()
    );
    let turn = ends[0];
    let spoken_ms = speech.len() as u64 / 8;
    assert_eq!(turn.rate, 16000);
    // The utterance audio covers the speech (the start within a quarter second of 1000 ms).
    assert!(turn.at_ms.abs_diff(1000) < 300, "turn starts at {} ms", turn.at_ms);
    assert!(turn.duration_ms() + 400 >= spoken_ms, "turn {} ms of {spoken_ms} ms speech", turn.duration_ms());
    let end_at =
        frames.iter().find_map(|f| if let Frame::EndOfTurn { at_ms, .. } = f { Some(*at_ms) } else { None });
    let speech_end = 1000 + spoken_ms;
    assert!(end_at.unwrap() < speech_end + 1500, "end of turn {end_at:?} long after {speech_end}");
}

#[test]
fn line_noise_and_hold_music_are_not_speech() {
    for (what, audio) in [
        ("pink noise", pink_noise(8000 * 20, 3000.0)),
        ("hold music", hold_music(20)),
        ("silence", vec![0; 8000 * 20]),
    ] {
        let mut e = ears();
        let mut t = 0;
        let frames = listen(&mut e, &phone_line(&audio, 8000), &mut t);
        let turns = frames.iter().filter(|f| matches!(f, Frame::EndOfTurn { .. })).count();
        // Turns opened (speech resuming within a turn after a 32 ms pause is not a new one).
        let mut in_turn = false;
        let mut starts = 0;
        for f in &frames {
            match f {
                Frame::SpeechStarted { .. } if !in_turn => (starts, in_turn) = (starts + 1, true),
                Frame::EndOfTurn { .. } => in_turn = false,
                _ => {}
            }
        }
        // 20 s of it: at most one spurious turn.
        assert!(starts <= 1 && turns <= 1, "{what}: {starts} turns started, {turns} ended");
    }
}

#[test]
fn caller_speech_pauses_playback_within_200_ms_and_interrupts() {
    if !have_espeak() {
        return;
    }
    let (speech, rate) = speak("No, wait, that is not what I asked for.");
    let speech = phone_line(&speech, rate);
    let onset = speech.iter().position(|s| s.unsigned_abs() > 1000).unwrap() as u64 / 8;
    let mut e = ears();
    e.playback_started(true);
    let mut t = 0;
    let mut audio = vec![0i16; 4000];
    audio.extend(&speech);
    let frames = listen(&mut e, &audio, &mut t);
    let paused =
        frames.iter().find_map(|f| if let Frame::PausePlayback { at_ms } = f { Some(*at_ms) } else { None });
    let paused = paused.expect("playback paused");
    assert!(paused <= 500 + onset + 200, "paused at {paused} ms, speech began at {} ms", 500 + onset);
    assert!(frames.iter().any(|f| matches!(f, Frame::Interruption { .. })), "a sentence interrupts");
}

/// When speech stops, the turn's audio so far is what the end of the turn will carry if the
/// caller says nothing more (so recognition can start early). Speech may stop at pauses inside
/// the sentence too; the last stop before the end is the one that counts.
#[test]
fn the_turn_audio_at_speech_stop_is_the_end_of_turn_audio() {
    if !have_espeak() {
        return;
    }
    let (speech, rate) = speak("Where is my order?");
    let mut audio = vec![0i16; 4000];
    audio.extend(phone_line(&speech, rate));
    audio.extend(vec![0i16; 16000]);
    let mut e = ears();
    let mut t = 0;
    let mut early = None;
    let mut end = None;
    for chunk in audio.chunks(160) {
        let frame = AudioFrame { rate: 8000, samples: chunk.to_vec(), at_ms: t };
        t += 20;
        for f in e.handle_audio(&frame) {
            match f {
                Frame::SpeechStopped { at_ms } => early = e.turn_audio(at_ms),
                Frame::EndOfTurn { audio, .. } => end = Some(audio),
                _ => {}
            }
        }
    }
    let (early, end) = (early.expect("speech stopped"), end.expect("the turn ended"));
    // Speech counts as stopped after as much silence as the end of the turn carries: the same
    // audio, so the transcript recognised early is the one the end would get.
    assert_eq!((early.at_ms, early.samples.len()), (end.at_ms, end.samples.len()));
    assert_eq!(early.samples, end.samples);
    assert!(e.turn_audio(t).is_none(), "no turn after the end");
}

#[test]
fn each_pause_is_offered_to_the_turn_model_once_and_its_score_decides() {
    if !have_espeak() {
        return;
    }
    use switchboard_speech::turn::TurnModel;
    let model = TurnModel { score_after_ms: 96, hesitant_end_ms: 1_500, ..TurnModel::default() };
    let config = TurnConfig { model: Some(model), ..TurnConfig::default() };
    let mut e = Ears::new(8000, config, BargeInConfig::default()).unwrap();
    assert!(e.wants_turn_scores());
    let (speech, rate) = speak("My order number is");
    let mut audio = vec![0i16; 4000];
    audio.extend(phone_line(&speech, rate));
    audio.extend(vec![0i16; 8000]); // a second of silence: the model says "not finished"
    let mut t = 0;
    let mut requests = Vec::new();
    for chunk in audio.chunks(160) {
        let frame = AudioFrame { rate: 8000, samples: chunk.to_vec(), at_ms: t };
        t += 20;
        for f in e.handle_audio(&frame) {
            match f {
                Frame::TurnScoreRequest { speech_end_ms, audio } => {
                    requests.push((t, speech_end_ms, audio.clone()));
                    // The caller's voice sounds unfinished.
                    let out = e.handle_turn_score(speech_end_ms, 0.1);
                    assert!(out.is_empty(), "{out:?}");
                }
                Frame::EndOfTurn { .. } => panic!("ended after {t} ms despite the score"),
                _ => {}
            }
        }
    }
    let mut pauses: Vec<u64> = requests.iter().map(|r| r.1).collect();
    pauses.dedup();
    assert_eq!(pauses.len(), requests.len(), "once per pause");
    let (asked_at, speech_end, turn) = requests.last().expect("the pause was offered");
    assert!(asked_at - speech_end >= 96 && asked_at - speech_end <= 96 + 40, "{asked_at} {speech_end}");
    assert_eq!(turn.rate, 16000);
    // The turn from a little before the speech began (500 ms) up to the request.
    assert!(
        turn.at_ms < 500 && turn.at_ms + turn.duration_ms() + 40 >= *asked_at,
        "{} {}",
        turn.at_ms,
        turn.duration_ms()
    );
    // The hesitant wait runs out: the turn ends 1.5 s after the speech.
    let frames = listen(&mut e, &vec![0i16; 8000], &mut t);
    let end =
        frames.iter().find_map(|f| if let Frame::EndOfTurn { at_ms, .. } = f { Some(*at_ms) } else { None });
    assert!(
        end.is_some_and(|at| at >= *speech_end + 1_500 && at <= *speech_end + 1_540),
        "{end:?} {speech_end}"
    );
}
