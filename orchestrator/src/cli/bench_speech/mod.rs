//! `switchboard bench speech`: the local recognisers side by side (word error rate and time on
//! callers' turns over a phone line, spoken by Piper, by espeak-ng and by people), recognition
//! time for 2, 5 and 15 s utterances, synthesis time to first audio and real-time factor, VAD
//! cost per frame.

use super::options::ModelOptions;
use clap::Args;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use switchboard_speech::frame::AudioFrame;
use switchboard_speech::resample::resample;
use switchboard_speech::stt::SpeechToText;
use switchboard_speech::tts::{Espeak, Piper, TextToSpeech};
use switchboard_telephony::media::g711;

pub mod turns;

#[derive(Debug, Clone, Args)]
pub struct BenchSpeechOptions {
    #[command(flatten)]
    pub models: ModelOptions,
    /// Repetitions per timing (the median is printed).
    #[arg(long, default_value_t = 3)]
    pub repeat: usize,
    /// Recordings of people reading, with what they read: a directory of `NAME.wav` files
    /// (any rate) each with a `NAME.txt` transcript, or the Asterisk prompt set; heard over an
    /// 8 kHz μ-law line. Default: the Asterisk set `scripts/setup bench` installs
    /// (`bench-speech/asterisk` in the models directory).
    #[arg(long)]
    pub human_speech: Option<PathBuf>,
    /// At most this many of the recordings (spread over the set).
    #[arg(long, default_value_t = 120)]
    pub human_limit: usize,
}

/// Callers' questions, each heard at the four places it can start in the VAD's 16 ms grid.
const TURNS: [&str; 18] = [
    "Where is my order?",
    "Where is my order 4572?",
    "Can I talk to a person?",
    "I want a refund for the blue jacket.",
    "What is my account balance?",
    "Thank you, goodbye!",
    "My email is maria at example dot com.",
    "Yes, please.",
    "No, that's all.",
    "I never received my package.",
    "Can you tell me when it will arrive?",
    "The tracking number does not work.",
    "I would like to cancel my order.",
    "Do you have the red shoes in size nine?",
    "Hello, I am calling about my last order.",
    "Is there a problem with my payment?",
    "Where is my order number one zero zero two?",
    "I am calling about order one zero four two.",
];

/// "p10/p50/p90 a/b/c" of scores (sorted here; NaN where there are none).
fn spread(v: &mut [f32]) -> String {
    v.sort_by(f32::total_cmp);
    let q = |p: f64| v.get(((v.len().max(1) - 1) as f64 * p) as usize).copied().unwrap_or(f32::NAN);
    format!("p10/p50/p90 {:.2}/{:.2}/{:.2}", q(0.1), q(0.5), q(0.9))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// 16-bit audio as a caller's phone sends it: 8 kHz μ-law.
fn over_the_phone(samples: &[i16], rate: u32) -> anyhow::Result<Vec<i16>> {
    Ok(resample(samples, rate, 8_000)?
        .iter()
        .map(|&v| g711::ulaw_to_linear(g711::linear_to_ulaw(v)))
        .collect())
}

/// A test set: what was said, and the line audio (8 kHz) it was said in.
struct Set {
    name: String,
    turns: Vec<(String, Vec<i16>)>,
    /// Heard through the ears (VAD and end of turn cut it, at four grid alignments) rather
    /// than recognised whole.
    live: bool,
}

/// What an engine made of a set: word error rate (%), the time per turn, and the worst turn.
struct Score {
    wer: f64,
    per_turn: Duration,
    worst: (f64, String, String),
    /// The engine's confidence in each turn, where it says.
    sure: Vec<f32>,
}

fn score(stt: &dyn SpeechToText, set: &Set) -> anyhow::Result<Score> {
    use switchboard_speech::bargein::BargeInConfig;
    use switchboard_speech::ears::Ears;
    use switchboard_speech::frame::Frame;
    use switchboard_speech::turn::TurnConfig;
    let (mut errors, mut words, mut compute, mut count) = (0.0, 0.0, Duration::ZERO, 0u32);
    let mut worst = (0.0, String::new(), String::new());
    let mut sure = Vec::new();
    for (said, speech) in &set.turns {
        let alignments = if set.live { 25..29 } else { 0..1 };
        for lead_frames in alignments {
            let mut heard = Vec::new();
            if set.live {
                let mut line = vec![0i16; lead_frames * 160];
                line.extend(speech);
                line.resize(line.len().div_ceil(160) * 160 + 8_000, 0);
                let mut ears = Ears::new(8_000, TurnConfig::default(), BargeInConfig::default())?
                    .with_partials_every(None);
                for (i, chunk) in line.chunks(160).enumerate() {
                    let frame = AudioFrame { rate: 8_000, samples: chunk.to_vec(), at_ms: i as u64 * 20 };
                    for f in ears.handle_audio(&frame) {
                        if let Frame::EndOfTurn { audio, .. } = f {
                            let t = Instant::now();
                            let got = stt.transcribe(&audio, true)?;
                            compute += t.elapsed();
                            sure.extend(got.confidence);
                            heard.push(got.text);
                            count += 1;
                        }
                    }
                }
            } else {
                let audio = AudioFrame { rate: 16_000, samples: resample(speech, 8_000, 16_000)?, at_ms: 0 };
                let t = Instant::now();
                let got = stt.transcribe(&audio, true)?;
                compute += t.elapsed();
                sure.extend(got.confidence);
                heard.push(got.text);
                count += 1;
            }
            let heard = heard.join(" ");
            let n = switchboard_speech::wer::normalise(said).len() as f64;
            let wer = switchboard_speech::wer::wer(said, &heard);
            if wer > worst.0 {
                worst = (wer, said.clone(), heard.clone());
            }
            errors += wer * n;
            words += n;
        }
    }
    Ok(Score { wer: errors / words.max(1.0) * 100.0, per_turn: compute / count.max(1), worst, sure })
}

/// People reading, over the phone line: either a directory of `NAME.wav` + `NAME.txt` pairs, or
/// the Asterisk prompt set (`core-sounds-en.txt` of `name: text` lines beside the WAV files; a
/// person reading 500-odd prompts, which `scripts/setup bench` fetches from Debian). Only
/// sentences of three words or more (callers speak in sentences), at most `limit`, spread over
/// the set.
fn human_set(dir: &std::path::Path, limit: usize) -> anyhow::Result<Set> {
    let mut pairs = people_reading(dir)?;
    pairs.retain(|(_, text)| text.split_whitespace().count() >= 3);
    anyhow::ensure!(!pairs.is_empty(), "{}: no recordings with transcripts", dir.display());
    let step = pairs.len().div_ceil(limit.max(1));
    let mut turns = Vec::new();
    for (wav, text) in pairs.into_iter().step_by(step) {
        turns.push((text, line_audio(&wav)?));
    }
    Ok(Set { name: format!("people reading ({})", turns.len()), turns, live: false })
}

/// The recordings of people reading in `dir` with what they read (see [`human_set`]), sorted.
fn people_reading(dir: &std::path::Path) -> anyhow::Result<Vec<(PathBuf, String)>> {
    let mut pairs: Vec<(PathBuf, String)> = Vec::new();
    let prompts = dir.join("core-sounds-en.txt");
    if prompts.exists() {
        for line in std::fs::read_to_string(&prompts)?.lines() {
            let Some((name, text)) = line.split_once(": ") else { continue };
            // Comments, tones ("[beep]") and notes in brackets are not speech, nor are
            // entries that describe a sound ("(2 seconds of silence)").
            let text = text.split('[').next().unwrap_or_default().trim();
            if name.starts_with(';') || text.is_empty() || text.starts_with('(') {
                continue;
            }
            pairs.push((dir.join(format!("{}.wav", name.trim())), text.to_string()));
        }
    } else {
        for p in std::fs::read_dir(dir)?.filter_map(|e| e.ok().map(|e| e.path())) {
            if p.extension().is_some_and(|x| x == "wav") && p.with_extension("txt").exists() {
                let text = std::fs::read_to_string(p.with_extension("txt"))?.trim().to_string();
                pairs.push((p, text));
            }
        }
    }
    pairs.retain(|(wav, _)| wav.exists());
    pairs.sort();
    Ok(pairs)
}

/// A recording (WAV, any rate, first channel) as the phone line carries it.
fn line_audio(wav: &std::path::Path) -> anyhow::Result<Vec<i16>> {
    let (info, samples) = switchboard_telephony::media::wav::decode(&std::fs::read(wav)?)
        .map_err(|e| anyhow::anyhow!("{}: {e}", wav.display()))?;
    let mono: Vec<i16> = samples.iter().step_by(info.channels.max(1) as usize).copied().collect();
    over_the_phone(&mono, info.sample_rate)
}

/// Where `scripts/setup bench` puts the Asterisk prompt set.
fn default_human_speech(models: &std::path::Path) -> PathBuf {
    models.join("bench-speech/asterisk")
}

pub fn speech(opts: BenchSpeechOptions) -> anyhow::Result<()> {
    let dir = opts.models.dir();
    let threads = opts.models.threads;
    println!("Switchboard speech benchmark ({threads} threads for recognition)");
    let mut engines: Vec<(&str, std::sync::Arc<dyn SpeechToText>)> = Vec::new();
    use crate::model::Recogniser;
    let kinds = [
        ("whisper tiny.en", Recogniser::Whisper),
        ("whisper base", Recogniser::WhisperBase),
        ("moonshine base-en", Recogniser::Moonshine),
    ];
    for (name, kind) in kinds {
        let load = Instant::now();
        let engine = crate::agent::voice::local_recogniser(kind, &dir, threads, 1);
        match engine {
            Ok(e) => {
                println!("{name}: loaded in {:.2} s (conversion on first use)", load.elapsed().as_secs_f64());
                engines.push((name, e));
            }
            Err(e) => println!("{name}: not measured ({e})"),
        }
    }
    anyhow::ensure!(!engines.is_empty(), "no recogniser could be loaded");

    // The sets.
    let mut sets = Vec::new();
    let piper = Piper::load(&dir, 1).map(|p| p.steady());
    let espeak = Espeak::default();
    let mut voices: Vec<(&str, &dyn TextToSpeech)> = Vec::new();
    match &piper {
        Ok(p) => voices.push(("Piper", p)),
        Err(e) => println!("(no Piper caller: {e})"),
    }
    voices.push(("espeak-ng", &espeak));
    for &(name, voice) in &voices {
        let mut turns = Vec::new();
        for t in TURNS {
            let a = voice.synthesize(t)?;
            turns.push((t.to_string(), over_the_phone(&a.samples, a.rate)?));
        }
        sets.push(Set { name: format!("{name} callers' turns ×4"), turns, live: true });
    }
    // More callers, recognised whole: the written lines of `bench turns`' development set.
    for (name, voice) in voices {
        let mut turns = Vec::new();
        for line in turns::MORE_CALLERS.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let a = voice.synthesize(line)?;
            turns.push((line.to_string(), over_the_phone(&a.samples, a.rate)?));
        }
        sets.push(Set { name: format!("{name}, more callers (whole)"), turns, live: false });
    }
    let human = opts.human_speech.clone().unwrap_or_else(|| default_human_speech(&dir));
    match human_set(&human, opts.human_limit) {
        Ok(set) => sets.push(set),
        Err(e) => {
            println!("(no people's read speech: {e}; run `scripts/setup bench` or give --human-speech DIR)")
        }
    }

    println!("\n1. recognition over an 8 kHz μ-law phone line: word error rate, time per turn (one thread)");
    print!("{:<34}", "set");
    for (name, _) in &engines {
        print!(" {:>24}", name);
    }
    println!();
    let mut worst = Vec::new();
    let mut sureness = Vec::new();
    for set in &sets {
        print!("{:<34}", set.name);
        for (name, stt) in &engines {
            let s = score(stt.as_ref(), set)?;
            print!(" {:>15.1}% {:>6}ms", s.wer, s.per_turn.as_millis());
            let mut sure = s.sure;
            if !sure.is_empty() {
                sureness.push(format!("  {name}, {}: {}", set.name, spread(&mut sure)));
            }
            if s.worst.0 > 0.0 {
                worst.push(format!("  {name}, {}: {:?} heard as {:?}", set.name, s.worst.1, s.worst.2));
            }
        }
        println!();
    }
    if !worst.is_empty() {
        println!("worst turn per engine and set:\n{}", worst.join("\n"));
    }
    if !sureness.is_empty() {
        println!("the engines' confidence per turn:\n{}", sureness.join("\n"));
    }

    println!("\n2. recognition time by utterance length, median of {}", opts.repeat);
    let sentences = [
        "Hello, I am calling about my order.",
        "It was supposed to arrive on Monday but it has not come yet.",
        "The order number is four five seven two.",
        "Could you tell me where it is and when it will be delivered?",
        "If it is lost I would like a refund please.",
        "Thank you for your help.",
    ];
    let mut speech16: Vec<i16> = Vec::new();
    for s in sentences.iter().cycle().take(12) {
        let a = espeak.synthesize(s)?;
        speech16.extend(resample(&a.samples, a.rate, 16_000)?);
        speech16.extend(vec![0i16; 3_200]);
    }
    println!("{:<20} {:>10} {:>12} {:>12}", "engine", "utterance", "compute", "× real time");
    for (name, stt) in &engines {
        for secs in [2usize, 5, 15] {
            let audio = AudioFrame { rate: 16_000, samples: speech16[..secs * 16_000].to_vec(), at_ms: 0 };
            let times: Vec<f64> = (0..opts.repeat.max(1))
                .map(|_| {
                    let t = Instant::now();
                    let _ = stt.transcribe(&audio, true);
                    t.elapsed().as_secs_f64()
                })
                .collect();
            let m = median(times);
            println!("{:<20} {:>9}s {:>10.0}ms {:>12.1}", name, secs, m * 1000.0, secs as f64 / m);
        }
    }

    println!("\n3. text to speech, one sentence, median of {}", opts.repeat);
    let sentence = "Your order four five seven two shipped yesterday and should arrive on Friday.";
    let mut tts: Vec<&dyn TextToSpeech> = vec![&espeak];
    if let Ok(p) = &piper {
        tts.insert(0, p);
    }
    // A reply is spoken clause-first: the opening clause is synthesised on its own.
    let reply = "Sure, your order four five seven two shipped yesterday and should arrive on Friday.";
    let opening = switchboard_speech::text::SentenceChunker::clause_first().push(reply).remove(0);
    println!("{:<34} {:>14} {:>16} {:>12}", "voice", "sentence", "reply 1st audio", "× real time");
    for voice in tts {
        let time = |text: &str| {
            let runs: Vec<(f64, u64)> = (0..opts.repeat.max(1))
                .map(|_| {
                    let t = Instant::now();
                    let a = voice.synthesize(text).map(|a| a.duration_ms()).unwrap_or(0);
                    (t.elapsed().as_secs_f64(), a)
                })
                .collect();
            (median(runs.iter().map(|t| t.0).collect()), runs[0].1)
        };
        let (whole, audio_ms) = time(sentence);
        let (first, _) = time(&opening);
        println!(
            "{:<34} {:>12.0}ms {:>14.0}ms {:>12.0}",
            voice.name(),
            whole * 1000.0,
            first * 1000.0,
            audio_ms as f64 / 1000.0 / whole
        );
    }
    println!("(a reply's first audio: its opening clause {opening:?}, synthesised alone)");

    println!("\n4. voice activity detection (earshot, 16 ms frames)");
    let mut vad = switchboard_speech::vad::Vad::default();
    let t = Instant::now();
    let mut frames = 0;
    for _ in 0..5 {
        frames += vad.handle(0, &speech16).len();
        vad.reset();
    }
    let per = t.elapsed().as_secs_f64() / frames.max(1) as f64;
    println!("{:.1} µs per frame ({} frames)", per * 1e6, frames);
    Ok(())
}
