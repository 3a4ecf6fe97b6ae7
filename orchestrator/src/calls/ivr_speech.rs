//! Spoken choices in IVR menus. When a menu's options have `phrases`, the caller may say one
//! instead of pressing its key: a `Listener` hears the caller's side (VAD, end of utterance, the
//! shared local Whisper) and `pick` names the option an utterance chooses: a phrase said in so
//! many words ("support, please"), the option's key said ("two", "press two"), or the option
//! whose phrases are closest in meaning (the sentence embeddings the guided agent uses), when
//! clearly closer than any other.

use crate::agent::voice::Engines;
use crate::live::says_any;
use crate::model::IvrOption;
use std::sync::Arc;
use switchboard_models::embed::{similarity, MiniLm};
use switchboard_speech::bargein::BargeInConfig;
use switchboard_speech::ears::Ears;
use switchboard_speech::frame::{AudioFrame, Frame};
use switchboard_speech::turn::TurnConfig;
use switchboard_telephony::media::relay::{MediaSide, Relay};
use tokio::sync::mpsc;

/// An utterance chooses an option by meaning when this close to one of its phrases (MiniLM
/// cosine; see `orchestrator/tests/integration/coaching.rs` for the scale on real phrases)…
pub const CHOOSE_AT: f32 = 0.45;
/// … and at least this much closer than to any other option's.
pub const MARGIN: f32 = 0.08;
/// A pause this long ends what the caller says.
const UTTERANCE_END_MS: u64 = 700;

/// How an utterance chose an option (the option's index in the menu).
#[derive(Debug, Clone, PartialEq)]
pub enum Picked {
    /// One of its phrases was said.
    Phrase(usize),
    /// Its key was said ("two", "press 2").
    Key(usize),
    /// Its phrases were closest in meaning (with the similarity).
    Meaning(usize, f32),
}

impl Picked {
    pub fn option(&self) -> usize {
        match self {
            Picked::Phrase(i) | Picked::Key(i) | Picked::Meaning(i, _) => *i,
        }
    }

    pub fn how(&self) -> &'static str {
        match self {
            Picked::Phrase(_) => "phrase",
            Picked::Key(_) => "key",
            Picked::Meaning(..) => "meaning",
        }
    }
}

const DIGITS: [&str; 10] = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"];

/// The key an utterance says: a short one that is a digit ("two", "2", "number two") or one
/// that asks for it ("press two", "option 2"). Longer talk with numbers in it ("order one zero
/// zero two") says no key.
fn key_said(text: &str) -> Option<char> {
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric() && c != '#' && c != '*')
        .filter(|w| !w.is_empty())
        .map(|w| w.to_lowercase())
        .collect();
    let digit_at = |i: usize| -> Option<char> {
        let w = words.get(i)?;
        if let Some(d) = DIGITS.iter().position(|d| d == w) {
            return Some(char::from(b'0' + d as u8));
        }
        match w.as_str() {
            "star" => Some('*'),
            "hash" | "pound" => Some('#'),
            w if w.len() == 1 => w.chars().next().filter(|c| c.is_ascii_digit() || *c == '*' || *c == '#'),
            _ => None,
        }
    };
    let digits: Vec<usize> = (0..words.len()).filter(|&i| digit_at(i).is_some()).collect();
    if digits.len() != 1 {
        return None;
    }
    let i = digits[0];
    let asked = i > 0 && matches!(words[i - 1].as_str(), "press" | "option" | "number" | "pressing" | "dial");
    (words.len() <= 3 || asked).then(|| digit_at(i)).flatten()
}

/// Meaning vectors: the utterance's sentences, and per option its phrases.
pub type Vectors<'a> = (&'a [Vec<f32>], &'a [Vec<Vec<f32>>]);

/// The option an utterance chooses, if it clearly chooses one. `meaning` holds the utterance's
/// sentence vectors and, per option, its phrases' vectors (None: by words only).
pub fn pick(text: &str, options: &[IvrOption], meaning: Option<Vectors<'_>>) -> Option<Picked> {
    // A phrase said in so many words. A phrase inside a longer one that was said too ("order"
    // in "order status") does not count; phrases of two options said at once choose neither.
    let mut said: Vec<(usize, String)> = Vec::new();
    for (i, o) in options.iter().enumerate() {
        for p in &o.phrases {
            let p = p.trim().to_lowercase();
            if !p.is_empty() && says_any(text, &[p.as_str()]) {
                said.push((i, p));
            }
        }
    }
    let kept: Vec<usize> = said
        .iter()
        .filter(|(_, p)| !said.iter().any(|(_, q)| q.len() > p.len() && q.contains(p.as_str())))
        .map(|(i, _)| *i)
        .collect();
    if let Some(&first) = kept.first() {
        return kept.iter().all(|&i| i == first).then_some(Picked::Phrase(first));
    }
    if let Some(k) = key_said(text) {
        if let Some(i) = options.iter().position(|o| o.digit == k.to_string()) {
            return Some(Picked::Key(i));
        }
    }
    let (utterance, phrases) = meaning?;
    let mut scores: Vec<(usize, f32)> = phrases
        .iter()
        .enumerate()
        .filter(|(_, p)| !p.is_empty())
        .map(|(i, p)| {
            let best = utterance
                .iter()
                .flat_map(|u| p.iter().map(move |v| similarity(u, v)))
                .fold(f32::MIN, f32::max);
            (i, best)
        })
        .collect();
    scores.sort_by(|a, b| b.1.total_cmp(&a.1));
    match scores.as_slice() {
        [(i, s)] if *s >= CHOOSE_AT => Some(Picked::Meaning(*i, *s)),
        [(i, s), (_, t), ..] if *s >= CHOOSE_AT && s - t >= MARGIN => Some(Picked::Meaning(*i, *s)),
        _ => None,
    }
}

/// A menu's phrases embedded, and the embedder for what callers say.
pub struct Meaning {
    embedder: Arc<MiniLm>,
    phrases: Vec<Vec<Vec<f32>>>,
}

impl Meaning {
    /// None when the embedding model is not usable (choices are then heard by words only).
    pub async fn new(options: Vec<IvrOption>) -> Option<Meaning> {
        tokio::task::spawn_blocking(move || {
            let embedder = MiniLm::shared(&switchboard_models::catalog::default_dir()).ok()?;
            let phrases = options
                .iter()
                .map(|o| {
                    let texts: Vec<&str> = o.phrases.iter().map(String::as_str).collect();
                    crate::agent::guided::embed_cached(&embedder, &texts).ok()
                })
                .collect::<Option<Vec<_>>>()?;
            Some(Meaning { embedder, phrases })
        })
        .await
        .ok()
        .flatten()
    }

    /// The option `text` chooses, by words or by meaning.
    pub async fn pick(&self, text: &str, options: &[IvrOption]) -> Option<Picked> {
        if let Some(p) = pick(text, options, None) {
            return Some(p);
        }
        let parts = crate::calls::coach::engine::sentences(text);
        let embedder = self.embedder.clone();
        let vectors = tokio::task::spawn_blocking(move || {
            let texts: Vec<&str> = parts.iter().map(String::as_str).collect();
            embedder.embed(&texts).ok()
        })
        .await
        .ok()
        .flatten()?;
        pick(text, options, Some((&vectors, &self.phrases)))
    }
}

/// What the caller says, utterance by utterance, while a menu waits for them.
pub struct Listener {
    said: mpsc::UnboundedReceiver<String>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Listener {
    /// Starts hearing the caller's side of `relay` (the recogniser loads in the background if
    /// it is not ready yet; without one, nothing is ever said).
    pub fn start(relay: &Relay) -> Listener {
        Self::hear(relay, None)
    }

    /// Starts hearing the caller only if the recogniser is loaded already (a caller who waits
    /// in a queue is not kept waiting for it; tests without speech engines stay without them).
    pub fn start_if_ready(relay: &Relay) -> Option<Listener> {
        Engines::ready().filter(|e| e.recognizer.is_ok()).map(|e| Self::hear(relay, Some(e)))
    }

    fn hear(relay: &Relay, engines: Option<Arc<Engines>>) -> Listener {
        let mut tap = relay.tap(MediaSide::A);
        let (tx, said) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            let engines = match engines {
                Some(e) => e,
                None => Engines::shared().await,
            };
            let Ok(recognizer) = &engines.recognizer else { return };
            let turn = TurnConfig {
                end_ms: UTTERANCE_END_MS,
                unfinished_end_ms: UTTERANCE_END_MS,
                complete_end_ms: None,
                ..Default::default()
            };
            let Ok(ears) = Ears::new(8_000, turn, BargeInConfig::default()) else { return };
            let mut ears = ears.with_partials_every(None);
            let id = engines.next_caller();
            let mut heard_ms = 0u64;
            while let Some(samples) = tap.recv().await {
                let frame = AudioFrame { rate: 8_000, at_ms: heard_ms, samples };
                heard_ms += frame.duration_ms();
                for f in ears.handle_audio(&frame) {
                    let Frame::EndOfTurn { audio, .. } = f else { continue };
                    let rx = recognizer.submit(id, audio, true).result;
                    let tx = tx.clone();
                    tokio::task::spawn_blocking(move || {
                        if let Ok(Ok(t)) = rx.recv() {
                            let text = t.text.trim().to_string();
                            if !text.is_empty() && !crate::agent::voice::is_noise(&text) {
                                let _ = tx.send(text);
                            }
                        }
                    });
                }
            }
        });
        Listener { said, task }
    }

    /// What the caller said since the last look, if anything.
    pub fn try_next(&mut self) -> Option<String> {
        self.said.try_recv().ok()
    }

    /// The next thing the caller says (never, if nothing is heard).
    pub async fn next(&mut self) -> String {
        match self.said.recv().await {
            Some(t) => t,
            None => std::future::pending().await,
        }
    }
}

/// Whether a waiting caller asks to leave the queue for a message ("can I just leave a
/// message", "voicemail please", "call me back").
pub fn wants_to_leave(text: &str) -> bool {
    says_any(
        text,
        &[
            "leave a message",
            "leave a voicemail",
            "voicemail",
            "voice mail",
            "call me back",
            "leave my number",
            "message",
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Target;

    fn options() -> Vec<IvrOption> {
        let o = |digit: &str, phrases: &[&str]| IvrOption {
            digit: digit.into(),
            phrases: phrases.iter().map(|s| s.to_string()).collect(),
            target: Target::Hangup,
        };
        vec![
            o("1", &["sales", "buy"]),
            o("2", &["support", "help", "return"]),
            o("3", &["order", "order status"]),
        ]
    }

    #[test]
    fn a_phrase_said_in_so_many_words_chooses_its_option() {
        let o = options();
        assert_eq!(pick("Support, please.", &o, None), Some(Picked::Phrase(1)));
        assert_eq!(pick("I'd like to buy a tent", &o, None), Some(Picked::Phrase(0)));
        // The longest phrase wins; whole words only ("helpful" is not "help").
        assert_eq!(pick("What's my order status?", &o, None), Some(Picked::Phrase(2)));
        assert_eq!(pick("That was helpful", &o, None), None);
        // Two options named at once: no clear choice.
        assert_eq!(pick("Sales or support", &o, None), None);
    }

    #[test]
    fn a_key_said_chooses_its_option_but_numbers_in_talk_do_not() {
        let o = options();
        assert_eq!(pick("Two.", &o, None), Some(Picked::Key(1)));
        assert_eq!(pick("press 3", &o, None), Some(Picked::Key(2)));
        assert_eq!(pick("Um, I think I'll go with option one", &o, None), Some(Picked::Key(0)));
        assert_eq!(pick("I'm calling about something from one zero zero two", &o, None), None);
        assert_eq!(pick("nine", &o, None), None, "no option 9");
    }

    #[test]
    fn waiting_callers_asking_for_voicemail_leave() {
        assert!(wants_to_leave("Can I just leave a message?"));
        assert!(wants_to_leave("Voicemail, please."));
        assert!(wants_to_leave("Could someone call me back"));
        assert!(!wants_to_leave("How much longer will this take?"));
        assert!(!wants_to_leave("I got your messages")); // whole words only
    }

    #[test]
    fn meaning_chooses_only_a_clear_winner() {
        let o = options();
        let v = |x: f32, y: f32| vec![x, y];
        // Three options whose phrases point three ways; the utterance points near the second.
        let phrases = vec![vec![v(1.0, 0.0)], vec![v(0.0, 1.0)], vec![v(-1.0, 0.0)]];
        let near_second = [v(0.3, 0.95)];
        match pick("my tent pole snapped", &o, Some((&near_second, &phrases))) {
            Some(Picked::Meaning(1, s)) => assert!(s > 0.9),
            other => panic!("{other:?}"),
        }
        // Between the first two: too close to call.
        let between = [v(0.7, 0.7)];
        assert_eq!(pick("hmm", &o, Some((&between, &phrases))), None);
        // Far from everything.
        let far = [v(0.0, -1.0)];
        assert_eq!(pick("banana bread", &o, Some((&far, &phrases))), None);
    }
}
