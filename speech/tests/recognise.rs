//! The live path end to end without a call: phone-line audio through the ears; each end of turn
//! is recognised by the local Whisper in its short-utterance mode; the words come out right.

use switchboard_speech::bargein::BargeInConfig;
use switchboard_speech::ears::Ears;
use switchboard_speech::frame::{AudioFrame, Frame};
use switchboard_speech::resample::resample;
use switchboard_speech::stt::{LocalWhisper, SpeechToText};
use switchboard_speech::tts::{Piper, TextToSpeech};
use switchboard_speech::turn::TurnConfig;

fn ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

/// The local Whisper and a steady Piper voice; `None` (skip) without their packages, except in CI.
fn whisper_and_piper() -> Option<(LocalWhisper, Piper)> {
    let dir = switchboard_models::catalog::default_dir();
    match (LocalWhisper::load(&dir, 2), Piper::load(&dir, 2)) {
        (Ok(s), Ok(v)) => Some((s, v.steady())),
        (s, v) => {
            assert!(!ci(), "CI=true but the models are missing: {:?} {:?}", s.err(), v.err());
            eprintln!("skipping: models not installed");
            None
        }
    }
}

#[test]
fn turns_heard_over_a_phone_line_are_recognised() {
    let Some((stt, voice)) = whisper_and_piper() else { return };
    let questions =
        ["Where is my order 4572?", "Can I talk to a person?", "I want a refund for the blue jacket."];
    // A caller asks three questions with pauses, over 8 kHz μ-law.
    let mut line: Vec<i16> = vec![0; 4000];
    for q in questions {
        let a = voice.synthesize(q).unwrap();
        line.extend(resample(&a.samples, a.rate, 8000).unwrap());
        line.extend(vec![0i16; 12_000]);
    }
    let mut ears = Ears::new(8000, TurnConfig::default(), BargeInConfig::default()).unwrap();
    let (mut turns, mut partials) = (Vec::new(), Vec::new());
    for (i, chunk) in line.chunks(160).enumerate() {
        let frame = AudioFrame { rate: 8000, samples: chunk.to_vec(), at_ms: i as u64 * 20 };
        for f in ears.handle_audio(&frame) {
            match f {
                Frame::PartialRequest { audio, .. } => {
                    let partial = stt.transcribe(&audio, true).unwrap().text;
                    ears.set_partial(&partial);
                    partials.push(partial);
                }
                Frame::EndOfTurn { audio, .. } => turns.push(stt.transcribe(&audio, true).unwrap().text),
                _ => {}
            }
        }
    }
    // Partial transcripts came while the caller spoke (the longest question gets several).
    eprintln!("partials {partials:?}");
    assert!(
        partials.len() >= 3
            && partials.iter().any(|p| p.to_lowercase().contains("refund") || p.contains("want")),
        "{partials:?}"
    );
    assert_eq!(turns.len(), 3, "{turns:?}");
    let reference = questions.join(" ");
    let heard = turns.join(" ");
    let wer = switchboard_speech::wer::wer(&reference, &heard);
    eprintln!("heard {turns:?} (WER {wer:.3})");
    // Three short questions: one misheard word is 4.5 %; "refund" over a phone line is hard.
    assert!(wer <= 0.15, "word error rate {wer:.3}: {turns:?}");
    assert!(turns[0].replace(',', "").contains("4572"), "the order number comes out usable: {:?}", turns[0]);
}

/// The two local Whisper engines (whisper.cpp and candle) on the same speech, from the same
/// registry package: both get the words right. (`switchboard bench speech` compares speed.)
#[test]
fn whisper_cpp_and_candle_both_recognise_the_same_speech() {
    let dir = switchboard_models::catalog::default_dir();
    let loaded = (
        LocalWhisper::load(&dir, 2),
        switchboard_models::whisper_candle::CandleWhisper::load(&dir),
        Piper::load(&dir, 2),
    );
    let (cpp, candle, voice) = match loaded {
        (Ok(c), Ok(k), Ok(v)) => (c, k, v.steady()),
        (c, k, v) => {
            assert!(!ci(), "CI=true but the models are missing: {:?} {:?} {:?}", c.err(), k.err(), v.err());
            eprintln!("skipping: models not installed");
            return;
        }
    };
    let sentences = ["Where is my order 4572?", "I would like to return the shoes I bought last week."];
    for s in sentences {
        let a = voice.synthesize(s).unwrap();
        let pcm = resample(&a.samples, a.rate, 16_000).unwrap();
        let frame = AudioFrame { rate: 16_000, samples: pcm.clone(), at_ms: 0 };
        let by_cpp = cpp.transcribe(&frame, true).unwrap().text;
        let floats: Vec<f32> = pcm.iter().map(|&v| v as f32 / 32768.0).collect();
        let by_candle = candle.transcribe(&floats).unwrap();
        let (w_cpp, w_candle) =
            (switchboard_speech::wer::wer(s, &by_cpp), switchboard_speech::wer::wer(s, &by_candle));
        eprintln!("{s:?}: whisper.cpp {by_cpp:?} ({w_cpp:.2}), candle {by_candle:?} ({w_candle:.2})");
        assert!(w_cpp <= 0.15 && w_candle <= 0.15, "{s:?}: whisper.cpp {by_cpp:?}, candle {by_candle:?}");
    }
}

/// Turn taking with the recogniser in the loop, as on a call: at every pause the turn so far is
/// recognised; a finished question ends the turn at once, an unfinished sentence waits for more.
#[test]
fn a_finished_question_ends_the_turn_when_recognised_and_an_unfinished_one_waits() {
    let Some((stt, voice)) = whisper_and_piper() else { return };
    // (what the caller says, then how long they are silent) -> when the turn ended, in ms after
    // their speech stopped.
    let turn_end = |text: &str, silence_ms: usize| -> Option<(u64, String)> {
        let a = voice.synthesize(text).unwrap();
        let mut line: Vec<i16> = vec![0; 4000];
        line.extend(resample(&a.samples, a.rate, 8000).unwrap());
        line.extend(vec![0i16; silence_ms * 8]);
        let config = TurnConfig { end_ms: 700, ..TurnConfig::default() };
        let mut ears = Ears::new(8000, config, BargeInConfig::default()).unwrap().with_partials_every(None);
        let mut stopped = (0, String::new());
        for (i, chunk) in line.chunks(160).enumerate() {
            let frame = AudioFrame { rate: 8000, samples: chunk.to_vec(), at_ms: i as u64 * 20 };
            let mut frames = ears.handle_audio(&frame);
            let mut k = 0;
            while k < frames.len() {
                match &frames[k] {
                    Frame::SpeechStopped { at_ms } => {
                        let heard = ears.turn_audio(*at_ms).map(|a| stt.transcribe(&a, true).unwrap().text);
                        stopped = (*at_ms, heard.clone().unwrap_or_default());
                        let more = ears.handle_transcript(*at_ms, &stopped.1);
                        frames.extend(more);
                    }
                    Frame::EndOfTurn { at_ms, .. } => return Some((at_ms - stopped.0, stopped.1)),
                    _ => {}
                }
                k += 1;
            }
        }
        None
    };
    let (after, heard) = turn_end("Where is my order?", 1_500).expect("the turn ended");
    // Recognised when speech stopped (after `stop_ms` of silence), long before the 700 ms.
    let stop = TurnConfig::default().stop_ms;
    assert!(
        after <= stop + 32,
        "a finished question ends as soon as it is recognised: {after} ms ({heard:?})"
    );
    // Unfinished: no early end; the longer silence for unfinished sentences (1.6 s) applies.
    let (after, heard) = turn_end("My order number is", 2_500).expect("the turn ended");
    assert!(after >= 1_500, "an unfinished sentence waits: ended {after} ms after speech ({heard:?})");
}

/// A recognition given up part-way stops (whisper.cpp's abort callback) and says so, and the
/// recogniser works as before afterwards (its decoder state goes back to the pool).
#[test]
fn a_cancelled_recognition_stops_and_the_next_one_works() {
    let Some((stt, voice)) = whisper_and_piper() else { return };
    let stt = std::sync::Arc::new(stt);
    let a = voice
        .synthesize("Where is my order 4572? I would like to return the shoes I bought last week.")
        .unwrap();
    let mut long = resample(&a.samples, a.rate, 16_000).unwrap();
    while long.len() < 16_000 * 25 {
        long.extend_from_within(..);
    }
    let frame = AudioFrame { rate: 16_000, samples: long, at_ms: 0 };
    let cancel = switchboard_speech::stt::Cancel::default();
    let running = {
        let (stt, frame, cancel) = (stt.clone(), frame.clone(), cancel.clone());
        std::thread::spawn(move || stt.transcribe_unless(&frame, false, &cancel))
    };
    std::thread::sleep(std::time::Duration::from_millis(30));
    cancel.cancel();
    let result = running.join().unwrap();
    assert!(matches!(result, Err(switchboard_speech::Error::Cancelled)), "{result:?}");
    let short = AudioFrame { rate: 16_000, samples: resample(&a.samples, a.rate, 16_000).unwrap(), at_ms: 0 };
    let heard = stt.transcribe(&short, true).unwrap().text;
    assert!(heard.to_lowercase().contains("order"), "{heard:?}");
}

/// Moonshine base-en hears the same phone-line questions (one piece each, padded as the ears'
/// turns are), and a recording longer than its window is read in pieces with times.
#[test]
fn moonshine_recognises_phone_line_questions_and_long_recordings() {
    let dir = switchboard_models::catalog::default_dir();
    let (stt, voice) = match (switchboard_speech::stt::LocalMoonshine::load(&dir, 2, 1), Piper::load(&dir, 2))
    {
        (Ok(s), Ok(v)) => (s, v.steady()),
        (s, v) => {
            assert!(!ci(), "CI=true but the models are missing: {:?} {:?}", s.err(), v.err());
            eprintln!("skipping: models not installed");
            return;
        }
    };
    assert!(stt.name().starts_with("moonshine"), "{}", stt.name());
    let questions =
        ["Where is my order 4572?", "Can I talk to a person?", "I want a refund for the blue jacket."];
    let mut heard = Vec::new();
    let mut long = Vec::new();
    for q in questions {
        let mut audio = over_the_line(&voice, q);
        audio.extend(vec![0i16; 4000]);
        heard.push(
            stt.transcribe(&AudioFrame { rate: 16_000, samples: audio.clone(), at_ms: 0 }, true)
                .unwrap()
                .text,
        );
        long.extend(audio);
    }
    let wer = switchboard_speech::wer::wer(&questions.join(" "), &heard.join(" "));
    eprintln!("moonshine heard {heard:?} (WER {wer:.3})");
    assert!(wer <= 0.15, "word error rate {wer:.3}: {heard:?}");
    // Eight times over (about 25 s): read in two pieces or more, every question still there.
    let mut recording = Vec::new();
    for _ in 0..8 {
        recording.extend(&long);
    }
    let t = stt.transcribe(&AudioFrame { rate: 16_000, samples: recording, at_ms: 1_000 }, false).unwrap();
    assert!(t.segments.len() >= 2, "{:?}", t.segments);
    assert_eq!(t.segments[0].0, 1_000);
    assert!(t.segments.windows(2).all(|w| w[0].1 == w[1].0), "pieces follow each other: {:?}", t.segments);
    assert!(t.text.to_lowercase().matches("person").count() >= 6, "{}", t.text);
}

/// Moonshine goes on from a turn's partial transcript: the turn's tokens begin with the
/// partial's (less the last few, decoded again) and the words are those of the whole turn
/// recognised afresh; audio that does not start with the partial's, or tokens the model does
/// not know, are recognised whole.
#[test]
fn moonshine_continues_a_turn_from_its_partial() {
    use switchboard_speech::frame::Continuation;
    use switchboard_speech::stt::{fingerprint, Cancel, LocalMoonshine};
    let dir = switchboard_models::catalog::default_dir();
    let (stt, voice) = match (LocalMoonshine::load(&dir, 2, 1), Piper::load(&dir, 2)) {
        (Ok(s), Ok(v)) => (s, v.steady()),
        (s, v) => {
            assert!(!ci(), "CI=true but the models are missing: {:?} {:?}", s.err(), v.err());
            eprintln!("skipping: models not installed");
            return;
        }
    };
    let said = "I would like to return the running shoes I bought last week because they are too small.";
    let turn = over_the_line(&voice, said);
    let frame = |samples: &[i16]| AudioFrame { rate: 16_000, samples: samples.to_vec(), at_ms: 0 };
    let cut = turn.len() * 2 / 3;
    let partial = stt.transcribe(&frame(&turn[..cut]), true).unwrap();
    let earlier = partial.continuation.clone().expect("Moonshine's transcripts can be continued");
    assert_eq!(earlier.samples, cut);
    assert!(earlier.tokens.len() > 5, "{partial:?}");
    let whole = stt.transcribe(&frame(&turn), true).unwrap();
    let after = stt.transcribe_after(&frame(&turn), true, &earlier, &Cancel::default()).unwrap();
    let kept = earlier.tokens.len() - 3;
    let tokens = &after.continuation.as_ref().unwrap().tokens;
    assert_eq!(tokens[..kept], earlier.tokens[..kept], "the partial's tokens begin the turn's");
    let (w_whole, w_after) =
        (switchboard_speech::wer::wer(said, &whole.text), switchboard_speech::wer::wer(said, &after.text));
    eprintln!("whole: {:?} ({w_whole:.3}); continued: {:?} ({w_after:.3})", whole.text, after.text);
    assert!(w_after <= w_whole + 0.05 && w_after <= 0.15, "{:?} against {:?}", after.text, whole.text);
    // The prefix is taken as given (a token the partial did not have begins the text).
    let mut forced = earlier.clone();
    forced.tokens[0] = earlier.tokens[1];
    let t = stt.transcribe_after(&frame(&turn), true, &forced, &Cancel::default()).unwrap();
    assert_eq!(t.continuation.unwrap().tokens[..2], [earlier.tokens[1], earlier.tokens[1]]);
    // Other audio: recognised whole, as if nothing came before.
    let other = over_the_line(&voice, "Can I talk to a person about my bill please?");
    let t = stt.transcribe_after(&frame(&other), true, &earlier, &Cancel::default()).unwrap();
    assert_eq!(t.text, stt.transcribe(&frame(&other), true).unwrap().text);
    // Tokens the model does not have: whole.
    let nonsense = Continuation {
        samples: cut,
        fingerprint: fingerprint(&turn[..cut]),
        tokens: vec![9_999_999; 6],
        probs: vec![0.5; 6],
    };
    let t = stt.transcribe_after(&frame(&turn), true, &nonsense, &Cancel::default()).unwrap();
    assert_eq!(t.text, whole.text);
}

/// `text` said by `voice` over the phone line (8 kHz μ-law), back at 16 kHz after a quarter
/// second of silence, as the ears hand audio on.
fn over_the_line(voice: &Piper, text: &str) -> Vec<i16> {
    let a = voice.synthesize(text).unwrap();
    let line: Vec<i16> =
        resample(&a.samples, a.rate, 8000).unwrap().iter().map(|&v| ulaw_round_trip(v)).collect();
    let mut audio = vec![0i16; 4000];
    audio.extend(resample(&line, 8000, 16_000).unwrap());
    audio
}

/// μ-law there and back (the phone line's companding), without the telephony crate (speech
/// never depends on it).
fn ulaw_round_trip(v: i16) -> i16 {
    const BIAS: i32 = 0x84;
    let sign = if v < 0 { 0x80 } else { 0 };
    let mut x = (v as i32).abs().min(32_635) + BIAS;
    let mut exponent = 7;
    while exponent > 0 && x & (0x4000 >> (7 - exponent)) == 0 {
        exponent -= 1;
    }
    let mantissa = (x >> (exponent + 3)) & 0x0f;
    let byte = !(sign | (exponent << 4) | mantissa) as u8;
    // And back.
    let b = !byte;
    let (sign, exponent, mantissa) = (b & 0x80, ((b >> 4) & 7) as i32, (b & 0x0f) as i32);
    x = (((mantissa << 3) + BIAS) << exponent) - BIAS;
    (if sign != 0 { -x } else { x }) as i16
}

/// Smart Turn hears a sentence left hanging on "and" as unfinished and a question as finished,
/// over the phone line, as the ears hand it a pause (16 kHz, lead-in, a little silence after).
#[test]
fn the_turn_model_hears_a_hanging_and_as_unfinished() {
    use switchboard_speech::turn_model::{LocalSmartTurn, TurnScorer};
    let dir = switchboard_models::catalog::default_dir();
    let (model, voice) = match (LocalSmartTurn::load(&dir, 1), Piper::load(&dir, 1)) {
        (Ok(m), Ok(v)) => (m, v.steady()),
        (m, v) => {
            assert!(!ci(), "CI=true but the models are missing: {:?} {:?}", m.err(), v.err());
            eprintln!("skipping: models not installed");
            return;
        }
    };
    let score = |text: &str| {
        let mut audio = over_the_line(&voice, text);
        audio.extend(vec![0i16; 3200]);
        model.score(&AudioFrame { rate: 16_000, samples: audio, at_ms: 0 }).unwrap()
    };
    let hanging = score("I ordered a blue jacket, a pair of shoes, and");
    let question = score("Where is my order?");
    eprintln!("hanging {hanging:.3}, question {question:.3}");
    assert!(hanging < 0.2, "{hanging}");
    assert!(question > 0.6, "{question}");
    assert!(model.score(&AudioFrame { rate: 8_000, samples: vec![0; 800], at_ms: 0 }).is_err());
}
