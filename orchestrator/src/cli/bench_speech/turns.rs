//! `switchboard bench turns`: does the end of turn wait for callers who hesitate, and answer
//! those who have finished? A labelled set of turns with pauses in them, heard over an 8 kHz
//! μ-law line: mid-turn hesitations ("I'm calling about my order, … number one zero four two",
//! digits read slowly, lists) of 450–1000 ms, and real ends. Each turn runs through the ears as
//! a call's audio does, with the recogniser and the turn model answering each pause after the
//! time they really take; scored like eot-bench: how many hesitations were taken for the end
//! (false cut-offs) against how long the caller waits after a real end, for each way of
//! deciding (silence alone, silence and words, and with the turn model) at a range of delays.
//! While the caller speaks, partial transcripts are made as on a call (every 640 ms, one at a
//! time, given up when speech stops), and a pause's recognition goes on from the latest of them
//! where the engine can (Moonshine; `--no-continuing` recognises each pause whole).
//!
//! The pauses are put in where the speaker's voice already paused for a comma (the longest
//! quiet stretches, one per comma), so the speech before them sounds as it does mid-sentence:
//! Piper reading hesitant callers' lines, and people reading (the Asterisk prompts, those with
//! commas).

use super::{default_human_speech, line_audio, over_the_phone, people_reading};
use crate::cli::options::ModelOptions;
use clap::Args;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;
use switchboard_speech::bargein::BargeInConfig;
use switchboard_speech::ears::Ears;
use switchboard_speech::frame::{AudioFrame, Continuation, Frame};
use switchboard_speech::stt::{Cancel, SpeechToText};
use switchboard_speech::tts::{Piper, TextToSpeech};
use switchboard_speech::turn::{TurnConfig, TurnModel};
use switchboard_speech::turn_model::{LocalSmartTurn, TurnScorer};

#[derive(Debug, Clone, Args)]
pub struct BenchTurnsOptions {
    #[command(flatten)]
    pub models: ModelOptions,
    /// Recordings of people reading (see `bench speech --human-speech`); those whose text has
    /// commas get pauses put in. Default: the Asterisk set `scripts/setup bench` installs.
    #[arg(long)]
    pub human_speech: Option<PathBuf>,
    /// At most this many of those recordings.
    #[arg(long, default_value_t = 40)]
    pub human_limit: usize,
    /// The turn model's threshold (probability of "finished").
    #[arg(long)]
    pub threshold: Option<f32>,
    /// Silence after which the turn model hears a pause, ms.
    #[arg(long)]
    pub score_after_ms: Option<u64>,
    /// Silence that ends a turn the model hears as unfinished, ms.
    #[arg(long)]
    pub hesitant_ms: Option<u64>,
    /// Print what was heard at each cut-off and each slow end of the development set (the
    /// held-out callers and the people reading are never shown: keep them out of tuning).
    #[arg(long)]
    pub explain: bool,
    /// Only the development sets, without the turn model (quicker, for tuning).
    #[arg(long)]
    pub development: bool,
    /// Only print the pitch contour (`speech::prosody`) before each hesitation and real end of
    /// the development sets: where it ended in the speaker's range and how it moved, and how
    /// well one threshold on each figure tells hesitations from ends.
    #[arg(long)]
    pub prosody: bool,
    /// Recognise each pause whole, not going on from the turn's latest partial transcript.
    #[arg(long)]
    pub no_continuing: bool,
}

/// Callers who hesitate and callers who don't, written for this benchmark by someone who had
/// not seen the rules or the set above, one turn a line with a comma at each pause; measured,
/// never looked at while tuning the words' rules.
const HELD_OUT: &str = include_str!("turns_held_out.txt");

/// More callers for tuning, written the same way by another hand (these may be looked at).
pub(super) const MORE_CALLERS: &str = include_str!("turns_dev.txt");

/// The sets whose turns may be shown (`--explain`) and tuned on.
const DEVELOPMENT: [&str; 2] = ["Piper callers", "more Piper callers"];

/// Callers who hesitate: a pause goes in at each comma.
const HESITANT: &[&str] = &[
    "I'm calling about my order, number one zero four two.",
    "Could you tell me, what my balance is?",
    "My order number is, one zero four two.",
    "Let me see, it's order ten forty two.",
    "I ordered a blue jacket, a pair of shoes, and a scarf.",
    "The number is one, zero, four, two.",
    "My email is maria, at example dot com.",
    "I was wondering, um, if you could help me with a return.",
    "So the package arrived, but the box was damaged.",
    "I'd like to change the address, to twelve Main Street.",
    "It's for order, uh, ten forty two.",
    "Hi, yes, I have a question about shipping.",
    "Well, I bought it last week, and it still hasn't shipped.",
    "Can you check, my most recent purchase?",
    "The card ends in, four two four two.",
    "I want to return the shoes, because they are too small.",
    "My name is, Maria Lopez.",
    "It was delivered to, the wrong house.",
    "I paid, forty nine dollars and ninety nine cents.",
    "The tracking page says, it was delivered yesterday.",
    "And also, I need a new invoice.",
    "My phone number is, five five five, one two three four.",
    "I think the order number was, one zero zero seven.",
    "Could you, um, transfer me to someone?",
    "I placed the order on, March the third.",
];

/// Callers who say it in one go.
const FINISHED: &[&str] = &[
    "Where is my order?",
    "I want a refund.",
    "Can I talk to a person?",
    "What is my account balance?",
    "I never received my package.",
    "Do you ship to Canada?",
    "The tracking number does not work.",
    "I would like to cancel my order.",
    "Thank you so much.",
    "No that's all.",
];

/// Lengths of the pauses put in, in turn.
const PAUSES_MS: [u64; 5] = [450, 600, 750, 900, 1000];
const LINE_RATE: usize = 8_000;
/// Quiet before each turn, and after its end.
const LEAD_MS: u64 = 400;
const TAIL_MS: u64 = 3_000;

/// A turn of the set: line audio (8 kHz), its hesitations and when its speech really ends.
struct TestTurn {
    text: String,
    audio: Vec<i16>,
    /// (start, end) of each pause put in, ms.
    hesitations: Vec<(u64, u64)>,
    end_ms: u64,
}

/// The voiced stretches of line audio, in 10 ms windows: (first window, past the last).
fn voiced_runs(audio: &[i16]) -> Vec<(usize, usize)> {
    let w = LINE_RATE / 100;
    let rms: Vec<f64> = audio
        .chunks(w)
        .map(|c| (c.iter().map(|&s| (s as f64).powi(2)).sum::<f64>() / c.len() as f64).sqrt())
        .collect();
    let peak = rms.iter().copied().fold(0.0, f64::max);
    let quiet = (peak * 0.04).max(60.0);
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for (i, &r) in rms.iter().enumerate() {
        if r > quiet {
            match runs.last_mut() {
                Some(last) if last.1 == i => last.1 = i + 1,
                _ => runs.push((i, i + 1)),
            }
        }
    }
    runs
}

/// Puts a pause at each comma of `text` into `audio` (line audio of someone saying it): the
/// longest quiet stretches inside the speech, one per comma, are widened to the set's pause
/// lengths. `None` when the speech has fewer clear pauses (≥ 60 ms) than commas.
fn with_pauses(text: &str, audio: &[i16], index: usize) -> Option<TestTurn> {
    let w = LINE_RATE / 100;
    let runs = voiced_runs(audio);
    let (first, last) = (runs.first()?.0, runs.last()?.1);
    let commas = text.matches(',').count();
    let mut gaps: Vec<(usize, usize)> = runs.windows(2).map(|p| (p[0].1, p[1].0)).collect();
    gaps.sort_by_key(|g| std::cmp::Reverse(g.1 - g.0));
    gaps.truncate(commas);
    if gaps.len() < commas || gaps.iter().any(|g| g.1 - g.0 < 6) {
        return None;
    }
    gaps.sort();
    let lead = LEAD_MS as usize * LINE_RATE / 1000;
    let mut out = vec![0i16; lead];
    let mut hesitations = Vec::new();
    let mut from = first * w;
    for (k, (start, end)) in gaps.into_iter().enumerate() {
        let mid = (start + end) / 2 * w;
        out.extend(&audio[from..mid]);
        let want = (PAUSES_MS[(index + k) % PAUSES_MS.len()] as usize / 10).max(end - start);
        let pause_start = ((out.len() - (mid - start * w)) * 1000 / LINE_RATE) as u64;
        out.extend(std::iter::repeat_n(0, (want - (end - start)) * w));
        hesitations.push((pause_start, pause_start + want as u64 * 10));
        from = mid;
    }
    out.extend(&audio[from..(last * w).min(audio.len())]);
    let end_ms = (out.len() * 1000 / LINE_RATE) as u64;
    out.extend(std::iter::repeat_n(0, TAIL_MS as usize * LINE_RATE / 1000));
    Some(TestTurn { text: text.to_string(), audio: out, hesitations, end_ms })
}

/// How a pause is decided.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Deciding {
    /// A fixed silence.
    Silence,
    /// Silence and the words: a finished sentence ends the turn as soon as it is recognised,
    /// an unfinished one waits longer (the detector without a turn model).
    Words,
    /// Silence and the turn model's score.
    Model,
    /// All three.
    WordsAndModel,
}

impl Deciding {
    fn name(self) -> &'static str {
        match self {
            Deciding::Silence => "silence",
            Deciding::Words => "silence + words",
            Deciding::Model => "silence + Smart Turn",
            Deciding::WordsAndModel => "silence + words + Smart Turn",
        }
    }

    fn words(self) -> bool {
        matches!(self, Deciding::Words | Deciding::WordsAndModel)
    }

    /// The detector for this way of deciding at base delay `delay_ms`.
    fn config(self, delay_ms: u64, model: &TurnModel) -> TurnConfig {
        let base = TurnConfig { end_ms: delay_ms, ..TurnConfig::default() };
        let model = TurnModel { finished_end_ms: delay_ms, ..model.clone() };
        match self {
            Deciding::Silence => TurnConfig { complete_end_ms: None, unfinished_end_ms: delay_ms, ..base },
            Deciding::Words => TurnConfig { unfinished_end_ms: (delay_ms * 2).max(1_600), ..base },
            Deciding::Model => TurnConfig {
                complete_end_ms: None,
                end_ms: model.hesitant_end_ms,
                model: Some(model),
                ..base
            },
            Deciding::WordsAndModel => TurnConfig {
                unfinished_end_ms: (delay_ms * 2).max(1_600),
                end_ms: model.hesitant_end_ms,
                model: Some(model),
                ..base
            },
        }
    }
}

/// The engines a pause is decided with, and what they said of each piece of audio (with the
/// time they took): the same audio comes up again under every way of deciding.
struct Judges {
    stt: Arc<dyn SpeechToText>,
    /// Recognitions go on from the turn's latest partial transcript.
    continuing: bool,
    scorer: Option<LocalSmartTurn>,
    heard: HashMap<(usize, u64, usize, usize), Heard>,
    scored: HashMap<(usize, u64, usize), (f32, u64)>,
    /// Compute time of each recognition and score, ms.
    stt_ms: Vec<u64>,
    score_ms: Vec<u64>,
}

/// A recognition: its words, what to go on from, and the time it took (ms).
type Heard = (String, Option<Continuation>, u64);

impl Judges {
    fn transcript(
        &mut self,
        turn: usize,
        audio: &AudioFrame,
        earlier: Option<&Continuation>,
    ) -> anyhow::Result<Heard> {
        let earlier = earlier.filter(|_| self.continuing);
        let key = (turn, audio.at_ms, audio.samples.len(), earlier.map_or(0, |e| e.samples));
        if let Some(r) = self.heard.get(&key) {
            return Ok(r.clone());
        }
        let t = Instant::now();
        let heard = match earlier {
            Some(e) => self.stt.transcribe_after(audio, true, e, &Cancel::default())?,
            None => self.stt.transcribe(audio, true)?,
        };
        let ms = t.elapsed().as_millis() as u64;
        self.stt_ms.push(ms);
        let r = (heard.text, heard.continuation, ms);
        self.heard.insert(key, r.clone());
        Ok(r)
    }

    fn score(&mut self, turn: usize, audio: &AudioFrame) -> anyhow::Result<Option<(f32, u64)>> {
        let Some(scorer) = &self.scorer else { return Ok(None) };
        let key = (turn, audio.at_ms, audio.samples.len());
        if let Some(r) = self.scored.get(&key) {
            return Ok(Some(*r));
        }
        let t = Instant::now();
        let p = scorer.score(audio)?;
        let ms = t.elapsed().as_millis() as u64;
        self.score_ms.push(ms);
        self.scored.insert(key, (p, ms));
        Ok(Some((p, ms)))
    }
}

/// What became of one turn: hesitations taken for the end, and how long after the real end
/// the turn was known over (`None`: never).
struct Outcome {
    cut_offs: usize,
    end_delay: Option<u64>,
    /// What was heard when the turn was taken for over: (speech end, ms after it, words).
    heard_at_ends: Vec<(u64, u64, String)>,
}

enum Answer {
    Transcript(u64, String),
    Score(u64, f32),
}

/// Plays a turn to the ears as a call's audio, 20 ms at a time; the recogniser's and the turn
/// model's answers come back after the time they took.
fn run(
    turn_no: usize,
    turn: &TestTurn,
    deciding: Deciding,
    config: TurnConfig,
    judges: &mut Judges,
) -> anyhow::Result<Outcome> {
    let partials = deciding.words().then_some(640);
    let mut ears =
        Ears::new(LINE_RATE as u32, config, BargeInConfig::default())?.with_partials_every(partials);
    let mut pending: Vec<(u64, Answer)> = Vec::new();
    // The partial transcript being made (when it is ready, and it), and the latest one.
    let mut partial: Option<(u64, Heard)> = None;
    let mut earlier: Option<Continuation> = None;
    let mut ends: Vec<(u64, u64)> = Vec::new(); // (known at, speech end)
    let mut heard: HashMap<u64, String> = HashMap::new();
    let mut heard_at_ends = Vec::new();
    let frame = LINE_RATE / 50;
    for (i, chunk) in turn.audio.chunks(frame).enumerate() {
        let now = i as u64 * 20;
        let mut frames = Vec::new();
        if let Some((_, (text, continuation, _))) = partial.take_if(|p| p.0 <= now) {
            ears.set_partial(&text);
            earlier = continuation;
        }
        pending.sort_by_key(|p| p.0);
        while pending.first().is_some_and(|p| p.0 <= now) {
            match pending.remove(0).1 {
                Answer::Transcript(at, text) => {
                    heard.insert(at, text.clone());
                    frames.extend(ears.handle_transcript(at, &text))
                }
                Answer::Score(at, p) => frames.extend(ears.handle_turn_score(at, p)),
            }
        }
        // Frames the answers caused come first: an end they cause is known now.
        let answered = frames.len();
        frames.extend(ears.handle_audio(&AudioFrame {
            rate: LINE_RATE as u32,
            samples: chunk.to_vec(),
            at_ms: now,
        }));
        let done = now + 20;
        for (k, f) in frames.into_iter().enumerate() {
            match f {
                Frame::PartialRequest { audio, .. } if partial.is_none() => {
                    let heard = judges.transcript(turn_no, &audio, earlier.as_ref())?;
                    partial = Some((done + heard.2, heard));
                }
                // A call gives up the partial being made, and the recognition of a pause the
                // caller went on from.
                Frame::SpeechStarted { .. } => pending.retain(|p| !matches!(p.1, Answer::Transcript(..))),
                Frame::SpeechStopped { at_ms } if deciding.words() => {
                    partial = None;
                    if let Some(audio) = ears.turn_audio(at_ms) {
                        let (text, _, ms) = judges.transcript(turn_no, &audio, earlier.as_ref())?;
                        pending.push((done + ms, Answer::Transcript(at_ms, text)));
                    }
                }
                Frame::TurnScoreRequest { speech_end_ms, audio } => {
                    if let Some((p, ms)) = judges.score(turn_no, &audio)? {
                        pending.push((done + ms, Answer::Score(speech_end_ms, p)));
                    }
                }
                Frame::EndOfTurn { at_ms, audio } => {
                    let speech_end = audio.at_ms + audio.duration_ms() - ears.post_roll_ms();
                    let known = if k < answered { now } else { at_ms };
                    ends.push((known, speech_end));
                    let words = heard.iter().max_by_key(|h| *h.0).map(|h| h.1.clone()).unwrap_or_default();
                    heard_at_ends.push((speech_end, known.saturating_sub(speech_end), words));
                    pending.clear();
                    (partial, earlier) = (None, None);
                }
                _ => {}
            }
        }
    }
    let is_end = |speech_end: u64| speech_end + 150 >= turn.end_ms;
    Ok(Outcome {
        cut_offs: ends.iter().filter(|e| !is_end(e.1)).count(),
        end_delay: ends.iter().find(|e| is_end(e.1)).map(|e| e.0.saturating_sub(turn.end_ms)),
        heard_at_ends,
    })
}

/// The turn model's scores of the pauses in a set: at hesitations and at real ends.
fn score_spread(
    turns: &[TestTurn],
    offset: usize,
    model: &TurnModel,
    judges: &mut Judges,
) -> anyhow::Result<(Vec<f32>, Vec<f32>)> {
    let (mut mid, mut end) = (Vec::new(), Vec::new());
    // Never ends a turn by itself: every pause is heard.
    let config = TurnConfig {
        model: Some(TurnModel { hesitant_end_ms: 60_000, finished_end_ms: 60_000, ..model.clone() }),
        end_ms: 60_000,
        complete_end_ms: None,
        ..TurnConfig::default()
    };
    for (i, turn) in turns.iter().enumerate() {
        let mut ears =
            Ears::new(LINE_RATE as u32, config.clone(), BargeInConfig::default())?.with_partials_every(None);
        for (k, chunk) in turn.audio.chunks(LINE_RATE / 50).enumerate() {
            let frame = AudioFrame { rate: LINE_RATE as u32, samples: chunk.to_vec(), at_ms: k as u64 * 20 };
            for f in ears.handle_audio(&frame) {
                if let Frame::TurnScoreRequest { speech_end_ms, audio } = f {
                    let Some((p, _)) = judges.score(offset + i, &audio)? else { return Ok((mid, end)) };
                    let at_hesitation =
                        turn.hesitations.iter().any(|h| speech_end_ms + 150 >= h.0 && speech_end_ms <= h.1);
                    if speech_end_ms + 150 >= turn.end_ms {
                        end.push(p);
                    } else if at_hesitation {
                        mid.push(p);
                    }
                }
            }
        }
    }
    Ok((mid, end))
}

/// The pitch contour before the hesitations and the real ends of a set.
fn prosody_spread(name: &str, turns: &[TestTurn]) {
    use switchboard_speech::prosody::{contour, Contour};
    let at = |t: &TestTurn, ms: u64| {
        contour(&t.audio[..(ms as usize * LINE_RATE / 1000).min(t.audio.len())], LINE_RATE as u32)
    };
    let (mut mid, mut end, mut end_q) = (Vec::new(), Vec::new(), Vec::new());
    for t in turns {
        mid.extend(t.hesitations.iter().filter_map(|h| at(t, h.0)));
        let c = at(t, t.end_ms);
        if t.text.trim_end().ends_with('?') {
            end_q.extend(c)
        } else {
            end.extend(c)
        }
    }
    println!(
        "{name}: contours at {} hesitations, {} ends (not questions), {} questions' ends",
        mid.len(),
        end.len(),
        end_q.len()
    );
    type Feature = fn(&Contour) -> f32;
    let features: [(&str, Feature); 3] =
        [("end (st)", |c| c.end), ("end in range", |c| c.end_in_range), ("slope (st/s)", |c| c.slope)];
    for (f, get) in features {
        let mut m: Vec<f32> = mid.iter().map(get).collect();
        let mut e: Vec<f32> = end.iter().map(get).collect();
        let mut q: Vec<f32> = end_q.iter().map(get).collect();
        // How well one threshold tells them apart: the mean of the shares of hesitations and
        // of ends on their own side of it, at the best threshold, either way round (0.5: not at all).
        let mut best = (0.5, 0.0);
        for th in m.iter().chain(&e).copied() {
            let above = m.iter().filter(|&&v| v > th).count() as f64 / m.len().max(1) as f64;
            let below = e.iter().filter(|&&v| v <= th).count() as f64 / e.len().max(1) as f64;
            let score = (above + below) / 2.0;
            let score = score.max(1.0 - score);
            if score > best.0 {
                best = (score, th);
            }
        }
        println!(
            "  {f:>13}: hesitations {}; ends {}; questions' ends {}; one threshold ({:.2}) sorts {:.0} %",
            super::spread(&mut m),
            super::spread(&mut e),
            super::spread(&mut q),
            best.1,
            best.0 * 100.0
        );
    }
}

/// A set's score for one way of deciding at one delay.
struct Row {
    cut_off_pct: f64,
    p50: Option<u64>,
    p90: Option<u64>,
    missed: usize,
    /// What was heard at each cut-off and each end known late (more than 400 ms after it).
    notes: Vec<String>,
}

fn percentile(sorted: &[u64], p: f64) -> Option<u64> {
    (!sorted.is_empty()).then(|| sorted[((sorted.len() - 1) as f64 * p).round() as usize])
}

fn score_set(
    turns: &[TestTurn],
    offset: usize,
    deciding: Deciding,
    config: &TurnConfig,
    judges: &mut Judges,
) -> anyhow::Result<Row> {
    let (mut cut, mut pauses, mut delays, mut missed, mut notes) = (0, 0, Vec::new(), 0, Vec::new());
    for (i, turn) in turns.iter().enumerate() {
        let o = run(offset + i, turn, deciding, config.clone(), judges)?;
        for (speech_end, after, words) in &o.heard_at_ends {
            if speech_end + 150 < turn.end_ms {
                notes.push(format!("cut off {after:>4} ms into a pause: {words:?}  ({:?})", turn.text));
            } else if *after > 400 {
                notes.push(format!("slow end {after:>4} ms: {words:?}"));
            }
        }
        cut += o.cut_offs.min(turn.hesitations.len());
        pauses += turn.hesitations.len();
        match o.end_delay {
            Some(d) => delays.push(d),
            None => missed += 1,
        }
    }
    delays.sort_unstable();
    Ok(Row {
        cut_off_pct: cut as f64 * 100.0 / pauses.max(1) as f64,
        p50: percentile(&delays, 0.5),
        p90: percentile(&delays, 0.9),
        missed,
        notes,
    })
}

pub fn turns(opts: BenchTurnsOptions) -> anyhow::Result<()> {
    let dir = opts.models.dir();
    let threads = opts.models.threads;
    let stt = crate::agent::voice::local_recogniser(opts.models.recogniser, &dir, threads, 1)?;
    let scorer = match LocalSmartTurn::load(&dir, 1) {
        Ok(s) => Some(s),
        Err(e) => {
            println!("(no turn model: {e})");
            None
        }
    };
    println!("Switchboard end-of-turn benchmark: recogniser {} ({threads} threads)", stt.name());
    let defaults = TurnModel::default();
    let model = TurnModel {
        threshold: opts.threshold.unwrap_or(defaults.threshold),
        score_after_ms: opts.score_after_ms.unwrap_or(defaults.score_after_ms),
        hesitant_end_ms: opts.hesitant_ms.unwrap_or(defaults.hesitant_end_ms),
        ..defaults
    };

    // The sets.
    let mut sets: Vec<(String, Vec<TestTurn>)> = Vec::new();
    match Piper::load(&dir, 1) {
        Ok(piper) => {
            let piper = piper.steady();
            let mut turns = Vec::new();
            for (i, text) in HESITANT.iter().chain(FINISHED).enumerate() {
                let a = piper.synthesize(text)?;
                match with_pauses(text, &over_the_phone(&a.samples, a.rate)?, i) {
                    Some(t) => turns.push(t),
                    None => println!("(left out {text:?}: fewer clear pauses than commas)"),
                }
            }
            sets.push(("Piper callers".into(), turns));
            let written = [("more Piper callers", MORE_CALLERS), ("Piper callers, held out", HELD_OUT)];
            for (name, lines) in
                written.into_iter().filter(|(name, _)| !opts.development || DEVELOPMENT.contains(name))
            {
                let mut turns = Vec::new();
                let lines: Vec<&str> = lines.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
                for (i, text) in lines.iter().enumerate() {
                    let a = piper.synthesize(text)?;
                    turns.extend(with_pauses(text, &over_the_phone(&a.samples, a.rate)?, i));
                }
                println!(
                    "({name}: {} of {} lines have a clear pause at each comma)",
                    turns.len(),
                    lines.len()
                );
                sets.push((name.into(), turns));
            }
        }
        Err(e) => println!("(no Piper callers: {e})"),
    }
    let human = opts.human_speech.clone().unwrap_or_else(|| default_human_speech(&dir));
    // The people reading are never tuned on: left out of a development run.
    match (!opts.development).then(|| people_reading(&human)) {
        None => {}
        Some(Ok(pairs)) => {
            let mut turns = Vec::new();
            let with_commas =
                pairs.into_iter().filter(|(_, t)| t.contains(',') && t.split_whitespace().count() >= 5);
            for (i, (wav, text)) in with_commas.enumerate() {
                if turns.len() >= opts.human_limit {
                    break;
                }
                if let Some(t) = with_pauses(&text, &line_audio(&wav)?, i) {
                    turns.push(t);
                }
            }
            sets.push(("people reading".into(), turns));
        }
        Some(Err(e)) => println!("(no people's read speech: {e}; run `scripts/setup bench`)"),
    }
    anyhow::ensure!(!sets.is_empty(), "no speech to test with");
    for (name, turns) in &sets {
        let pauses: usize = turns.iter().map(|t| t.hesitations.len()).sum();
        println!(
            "{name}: {} turns, {pauses} hesitations of {:?} ms, {} real ends",
            turns.len(),
            PAUSES_MS,
            turns.len()
        );
        if let Some(t) = turns.first().filter(|_| name == "Piper callers") {
            println!("  e.g. {:?}: pauses at {:?} ms, ends at {} ms", t.text, t.hesitations, t.end_ms);
        }
    }

    if opts.prosody {
        for (name, turns) in sets.iter().filter(|s| DEVELOPMENT.contains(&s.0.as_str())) {
            prosody_spread(name, turns);
        }
        return Ok(());
    }
    let mut judges = Judges {
        stt,
        continuing: !opts.no_continuing,
        scorer: scorer.filter(|_| !opts.development),
        heard: HashMap::new(),
        scored: HashMap::new(),
        stt_ms: Vec::new(),
        score_ms: Vec::new(),
    };
    let mut ways = vec![Deciding::Silence, Deciding::Words];
    if judges.scorer.is_some() {
        ways.extend([Deciding::Model, Deciding::WordsAndModel]);
        println!(
            "turn model: threshold {}, hears a pause after {} ms, unfinished-sounding pauses wait {} ms",
            model.threshold, model.score_after_ms, model.hesitant_end_ms
        );
        let mut offset = 0;
        for (name, turns) in &sets {
            let (mut mid, mut end) = score_spread(turns, offset, &model, &mut judges)?;
            offset += turns.len();
            let describe = |v: &mut Vec<f32>| {
                let finished = v.iter().filter(|&&p| p >= model.threshold).count();
                format!(
                    "{} pauses, {:.0} % heard as finished, scores {}",
                    v.len(),
                    finished as f64 * 100.0 / v.len().max(1) as f64,
                    super::spread(v)
                )
            };
            println!("  {name}: hesitations {}; real ends {}", describe(&mut mid), describe(&mut end));
        }
    }
    println!("\nfalse cut-offs (hesitations taken for the end) and the wait after a real end, p50/p90 ms");
    print!("{:<30} {:>6}", "deciding by", "delay");
    for (name, _) in &sets {
        print!(" | {:>32}", name);
    }
    println!();
    let delays = [160u64, 240, 320, 480, 640, 800, 1_000, 1_280];
    let mut best: Vec<String> = Vec::new();
    let mut explained: Vec<String> = Vec::new();
    for way in ways {
        let mut best_here: Vec<Option<(u64, u64)>> = vec![None; sets.len()];
        for delay in delays {
            let config = way.config(delay, &model);
            print!("{:<30} {:>6}", way.name(), delay);
            let mut offset = 0;
            for (k, (_, turns)) in sets.iter().enumerate() {
                let row = score_set(turns, offset, way, &config, &mut judges)?;
                offset += turns.len();
                if opts.explain
                    && DEVELOPMENT.contains(&sets[k].0.as_str())
                    && way == Deciding::Words
                    && delay == 1_000
                {
                    explained.push(format!("{}:", sets[k].0));
                    explained.extend(row.notes.iter().cloned());
                }
                let show = |v: Option<u64>| v.map_or("-".to_string(), |v| v.to_string());
                print!(
                    " | {:>7.1}% cut {:>5}/{:<5} {:>3} missed",
                    row.cut_off_pct,
                    show(row.p50),
                    show(row.p90),
                    row.missed
                );
                if let (true, Some(p50), 0) = (row.cut_off_pct <= 5.0, row.p50, row.missed) {
                    if best_here[k].is_none_or(|b| p50 < b.1) {
                        best_here[k] = Some((delay, p50));
                    }
                }
            }
            println!();
        }
        let summary: Vec<String> = sets
            .iter()
            .zip(&best_here)
            .map(|((name, _), b)| match b {
                Some((delay, p50)) => format!("{name}: p50 {p50} ms (delay {delay})"),
                None => format!("{name}: never"),
            })
            .collect();
        best.push(format!("  {:<30} {}", way.name(), summary.join("; ")));
    }
    println!("\nshortest wait at a real end (p50) with ≤ 5 % false cut-offs:\n{}", best.join("\n"));
    if opts.explain {
        println!("\nsilence + words at 1000 ms, development sets:\n  {}", explained.join("\n  "));
    }
    let mean = |v: &[u64]| v.iter().sum::<u64>() as f64 / v.len().max(1) as f64;
    println!(
        "compute per pause or partial: recognition {:.0} ms (mean of {}{}), turn model {:.1} ms (mean of {})",
        mean(&judges.stt_ms),
        judges.stt_ms.len(),
        if judges.continuing { ", going on from partials" } else { ", each whole" },
        mean(&judges.score_ms),
        judges.score_ms.len()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_written_sets_have_hesitant_turns_and_turns_said_in_one_go() {
        for (set, lines, paused) in [(MORE_CALLERS, 100, 70), (HELD_OUT, 90, 70)] {
            let turns: Vec<&str> = set.lines().filter(|l| !l.trim().is_empty()).collect();
            assert_eq!(turns.len(), lines);
            assert_eq!(turns.iter().filter(|l| l.contains(',')).count(), paused);
            // Numbers are written as said, so the voice reads them the way the line means.
            assert!(turns.iter().all(|l| !l.chars().any(|c| c.is_ascii_digit())));
        }
    }

    #[test]
    fn pauses_go_in_at_the_longest_quiet_stretches() {
        // 300 ms voiced, 40 ms gap, 300 ms voiced, 150 ms gap, 300 ms voiced (8 kHz).
        let tone =
            |ms: usize| (0..ms * 8).map(|i| if i % 16 < 8 { 8_000 } else { -8_000 }).collect::<Vec<i16>>();
        let quiet = |ms: usize| vec![0i16; ms * 8];
        let audio = [tone(300), quiet(40), tone(300), quiet(150), tone(300)].concat();
        let t = with_pauses("one two, three", &audio, 1).expect("one comma, one clear pause");
        assert_eq!(t.hesitations.len(), 1);
        let (start, end) = t.hesitations[0];
        // The 150 ms gap (after 640 ms of audio, after the lead) widened to 600 ms.
        assert_eq!(end - start, 600);
        assert!((start as i64 - (LEAD_MS + 640) as i64).abs() <= 10, "{start}");
        assert_eq!(t.end_ms, LEAD_MS + 640 + 600 + 300);
        // Two commas but one clear pause: left out.
        assert!(with_pauses(
            "one, two, three",
            &[tone(300), quiet(20), tone(300), quiet(150), tone(300)].concat(),
            0
        )
        .is_none());
    }
}
