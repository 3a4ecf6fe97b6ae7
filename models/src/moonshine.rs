//! Moonshine base-en speech recognition on ONNX Runtime: an encoder whose cost grows with the
//! utterance (no 30 s window as in Whisper) and a decoder with a key/value cache, decoded
//! greedily. The registry package ships ORT-format files whose 8-bit weights are widened to
//! floats by Cast/Mul nodes on every run (about 150 ms per token on this machine); they are
//! converted once into ONNX files in the cache directory, and loaded with constant folding,
//! which widens them once at load (about 12 ms per token), with ONNX Runtime's other graph
//! optimisations. Memory: about 300 MB of floats per loaded session pair.

use crate::catalog::{self, MOONSHINE_BASE_EN};
use crate::{onnx_names, Error, Result};
use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;
use ort::value::{DynValue, Tensor};
use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// Bumped when the conversion's output changes, so old cached files are rebuilt.
const CONVERTER_VERSION: u32 = 1;
const SAMPLE_RATE: usize = 16_000;
const START: i64 = 1;
const END: i64 = 2;
/// Tokens per second of audio, at most (Moonshine's own bound is 6.5), plus a few.
const TOKENS_PER_SECOND: f32 = 6.5;
/// The encoder needs a little audio; shorter input is padded with silence.
const MIN_SAMPLES: usize = SAMPLE_RATE / 4;

fn err(e: impl std::fmt::Display) -> Error {
    Error::Inference(format!("moonshine: {e}"))
}

/// The token texts (`▁` for a space; ids 3..=258 are the bytes 0..=255).
struct Tokenizer(Vec<Vec<u8>>);

impl Tokenizer {
    /// `tokenizer.bin`: one `[u8 length][bytes]` entry per token id.
    fn parse(bytes: &[u8]) -> Result<Self> {
        let mut tokens = Vec::new();
        let mut at = 0;
        while at < bytes.len() {
            let n = bytes[at] as usize;
            let text = bytes
                .get(at + 1..at + 1 + n)
                .ok_or_else(|| Error::Format("tokenizer.bin is truncated".into()))?;
            tokens.push(text.to_vec());
            at += 1 + n;
        }
        if tokens.len() < 259 {
            return Err(Error::Format(format!("tokenizer.bin has {} tokens", tokens.len())));
        }
        Ok(Tokenizer(tokens))
    }

    fn decode(&self, ids: &[i64]) -> String {
        let mut bytes = Vec::new();
        for &id in ids {
            match id {
                3..=258 => bytes.push((id - 3) as u8),
                _ if id > END => {
                    if let Some(t) = self.0.get(id as usize) {
                        bytes.extend_from_slice(t);
                    }
                }
                _ => {}
            }
        }
        String::from_utf8_lossy(&bytes).replace('\u{2581}', " ").trim().to_string()
    }
}

/// An encoder and a decoder session, used by one recognition at a time.
struct Pair {
    encoder: Session,
    decoder: Session,
}

pub struct Moonshine {
    pairs: Vec<Mutex<Pair>>,
    next: std::sync::atomic::AtomicUsize,
    tokenizer: Tokenizer,
    /// The decoder's cache inputs in order (`past_key_values.{layer}.{decoder|encoder}.
    /// {key|value}`), each with the output that feeds it next step (`present.…`), and whether
    /// it grows each step (the decoder's own; the encoder's is computed on the first).
    cache: Vec<(String, String, bool)>,
    /// Heads and head size (from the decoder's inputs).
    heads: usize,
    head_dim: usize,
    dir: PathBuf,
}

/// What one recognition gives: the text and the mean probability of its tokens, and the tokens
/// themselves with their probabilities (to continue from them when more of the same audio comes,
/// see [`Moonshine::transcribe_after`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Recognised {
    pub text: String,
    pub confidence: f32,
    pub tokens: Vec<i64>,
    pub probs: Vec<f32>,
}

/// Where the converted files live.
pub fn converted_dir(cache_dir: &Path) -> PathBuf {
    cache_dir.join(format!("moonshine-base-en-v{CONVERTER_VERSION}"))
}

/// Converts the package's ORT-format files into ONNX files in `cache_dir` (once).
pub fn ensure_converted(models_dir: &Path, cache_dir: &Path) -> Result<PathBuf> {
    let files = catalog::locate(models_dir, &MOONSHINE_BASE_EN)?;
    let out = converted_dir(cache_dir);
    let env = crate::piper::environment(models_dir)?;
    for (source, name) in [(&files[0], "encoder.onnx"), (&files[1], "decoder.onnx")] {
        let target = out.join(name);
        if target.exists() {
            continue;
        }
        std::fs::create_dir_all(&out)?;
        // ONNX Runtime writes the graph it loaded as ONNX; its If branches come out unnamed.
        let raw = out.join(format!("{name}.raw"));
        Session::builder(env)
            .map_err(err)?
            .with_optimization_level(GraphOptimizationLevel::Disable)
            .map_err(err)?
            .with_optimized_model_path(&raw)
            .map_err(err)?
            .commit_from_file(source)
            .map_err(err)?;
        let fixed = onnx_names::name_subgraphs(&std::fs::read(&raw)?)?;
        let partial = out.join(format!("{name}.partial"));
        std::fs::write(&partial, fixed)?;
        std::fs::rename(&partial, &target)?;
        let _ = std::fs::remove_file(&raw);
    }
    Ok(out)
}

impl Moonshine {
    /// Loads the model (converting it first if needed) with `sessions` encoder/decoder pairs
    /// of `threads` threads each: that many recognitions run at once.
    pub fn load(models_dir: &Path, cache_dir: &Path, threads: usize, sessions: usize) -> Result<Self> {
        let files = catalog::locate(models_dir, &MOONSHINE_BASE_EN)?;
        let tokenizer = Tokenizer::parse(&std::fs::read(&files[2])?)?;
        let dir = ensure_converted(models_dir, cache_dir)?;
        let env = crate::piper::environment(models_dir)?;
        let session = |name: &str| -> Result<Session> {
            Session::builder(env)
                .map_err(err)?
                // Every graph optimisation (ONNX Runtime's node fusions beside the folding): the
                // same words about 4 % sooner than with the folding alone (three turns of 1.5 to
                // 6 s, alternated five times on one thread: 3.95 s against 4.12 s).
                .with_optimization_level(GraphOptimizationLevel::Level3)
                .map_err(err)?
                .with_intra_threads(threads.max(1))
                .map_err(err)?
                .commit_from_file(dir.join(name))
                .map_err(err)
        };
        let pairs = (0..sessions.max(1))
            .map(|_| {
                Ok(Mutex::new(Pair { encoder: session("encoder.onnx")?, decoder: session("decoder.onnx")? }))
            })
            .collect::<Result<Vec<_>>>()?;
        let (layers, heads, head_dim) = {
            let decoder = &pairs[0].lock().unwrap_or_else(|e| e.into_inner()).decoder;
            let layers = decoder.inputs().iter().filter(|i| i.name().ends_with(".decoder.key")).count();
            let shape = decoder
                .inputs()
                .iter()
                .find(|i| i.name() == "past_key_values.0.decoder.key")
                .and_then(|i| match i.dtype() {
                    ort::value::ValueType::Tensor { shape, .. } => Some(shape.to_vec()),
                    _ => None,
                })
                .ok_or_else(|| Error::Format("the decoder has no key/value cache inputs".into()))?;
            match shape[..] {
                [_, h, _, d] if h > 0 && d > 0 && layers > 0 => (layers, h as usize, d as usize),
                _ => return Err(Error::Format(format!("unexpected cache shape {shape:?}"))),
            }
        };
        let cache = (0..layers)
            .flat_map(|l| {
                ["decoder.key", "decoder.value", "encoder.key", "encoder.value"].map(move |k| (l, k))
            })
            .map(|(l, k)| {
                (format!("past_key_values.{l}.{k}"), format!("present.{l}.{k}"), k.starts_with("decoder"))
            })
            .collect();
        Ok(Moonshine { pairs, next: Default::default(), tokenizer, cache, heads, head_dim, dir })
    }

    /// Where the converted model was loaded from.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Recognises 16 kHz audio (floats in -1..1); gives up at the next token once `cancel` is
    /// set.
    pub fn transcribe(&self, samples: &[f32], cancel: &AtomicBool) -> Result<Recognised> {
        self.transcribe_after(samples, &[], &[], cancel)
    }

    /// The same, taking the text as begun with `prefix` (tokens of an earlier recognition of the
    /// start of this audio, with their probabilities `prefix_probs`): the decoder reads them all
    /// in its first step and goes on from there, so only the rest is decoded a token at a time.
    /// A long turn whose partial transcript is in is recognised in about 60 % of the time. The
    /// caller gives back the prefix's last tokens (a word the earlier audio cut, a full stop
    /// where the speaker went on). Tokens the vocabulary lacks are refused.
    pub fn transcribe_after(
        &self,
        samples: &[f32],
        prefix: &[i64],
        prefix_probs: &[f32],
        cancel: &AtomicBool,
    ) -> Result<Recognised> {
        if prefix.len() != prefix_probs.len() {
            return Err(err("a prefix needs one probability per token"));
        }
        if let Some(bad) = prefix.iter().find(|&&t| t <= END || t as usize >= self.tokenizer.0.len()) {
            return Err(err(format!("token {bad} cannot begin a transcript")));
        }
        let mut audio = samples.to_vec();
        if audio.len() < MIN_SAMPLES {
            audio.resize(MIN_SAMPLES, 0.0);
        }
        let max_tokens = (audio.len() as f32 / SAMPLE_RATE as f32 * TOKENS_PER_SECOND).ceil() as usize + 4;
        // A free pair if there is one; otherwise wait for the next in turn.
        let mut pair = match self.pairs.iter().find_map(|p| p.try_lock().ok()) {
            Some(p) => p,
            None => {
                let i = self.next.fetch_add(1, Ordering::Relaxed) % self.pairs.len();
                self.pairs[i].lock().unwrap_or_else(|e| e.into_inner())
            }
        };
        let Pair { encoder, decoder } = &mut *pair;
        let n = audio.len();
        let input = Tensor::from_array(([1usize, n], audio)).map_err(err)?;
        let mut encoded = encoder.run(ort::inputs!["input_values" => input]).map_err(err)?;
        let hidden = encoded.remove("last_hidden_state").ok_or_else(|| err("no encoder output"))?;
        drop(encoded);

        let empty = || -> Result<DynValue> {
            Ok(Tensor::<f32>::from_array(([1usize, self.heads, 0, self.head_dim], Vec::<f32>::new()))
                .map_err(err)?
                .into_dyn())
        };
        let mut cache: Vec<DynValue> = self.cache.iter().map(|_| empty()).collect::<Result<_>>()?;
        let mut ids = prefix.to_vec();
        let mut probs = prefix_probs.to_vec();
        // The first step reads the start token and the prefix; each later one the last token.
        let mut feed = [&[START][..], prefix].concat();
        for step in 0..max_tokens.saturating_sub(prefix.len()).max(1) {
            if cancel.load(Ordering::Relaxed) {
                return Err(Error::Cancelled);
            }
            let fed = std::mem::take(&mut feed);
            let mut inputs: Vec<(Cow<str>, ort::session::SessionInputValue)> = vec![
                ("input_ids".into(), Tensor::from_array(([1usize, fed.len()], fed)).map_err(err)?.into()),
                ("encoder_hidden_states".into(), (&hidden).into()),
                (
                    "use_cache_branch".into(),
                    Tensor::from_array(([1usize], vec![step > 0])).map_err(err)?.into(),
                ),
            ];
            for ((name, _, _), value) in self.cache.iter().zip(&cache) {
                inputs.push((name.as_str().into(), value.into()));
            }
            let mut out = decoder.run(inputs).map_err(err)?;
            let (shape, logits) = out["logits"].try_extract_tensor::<f32>().map_err(err)?;
            let vocab = *shape.last().unwrap_or(&0) as usize;
            let row = logits.get(logits.len().saturating_sub(vocab)..).unwrap_or_default();
            let (best, p) = argmax_softmax(row);
            // The decoder's own cache grows each step; the encoder's is computed on the first.
            for (i, (_, present, grows)) in self.cache.iter().enumerate() {
                if step == 0 || *grows {
                    cache[i] = out.remove(present.as_str()).ok_or_else(|| err(format!("no {present}")))?;
                }
            }
            if best == END {
                break;
            }
            probs.push(p);
            ids.push(best);
            feed = vec![best];
        }
        let confidence = if ids.is_empty() { 0.0 } else { probs.iter().sum::<f32>() / ids.len() as f32 };
        Ok(Recognised { text: self.tokenizer.decode(&ids), confidence, tokens: ids, probs })
    }
}

/// The most likely token and its probability.
fn argmax_softmax(logits: &[f32]) -> (i64, f32) {
    let (best, max) =
        logits
            .iter()
            .enumerate()
            .fold((0usize, f32::NEG_INFINITY), |(bi, bv), (i, &v)| if v > bv { (i, v) } else { (bi, bv) });
    let total: f32 = logits.iter().map(|&v| (v - max).exp()).sum();
    (best as i64, if total > 0.0 { 1.0 / total } else { 0.0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokenizer() -> Tokenizer {
        let mut bin = Vec::new();
        let mut add = |t: &[u8]| {
            bin.push(t.len() as u8);
            bin.extend_from_slice(t);
        };
        for t in [&b"<unk>"[..], b"<s>", b"</s>"] {
            add(t);
        }
        for b in 0..=255u8 {
            add(&[b]);
        }
        add("\u{2581}order".as_bytes());
        add("\u{2581}10".as_bytes());
        add(b"42");
        Tokenizer::parse(&bin).unwrap()
    }

    #[test]
    fn tokens_decode_to_text_with_spaces_and_bytes() {
        let t = tokenizer();
        assert_eq!(t.decode(&[1, 259, 260, 261, 2]), "order 1042");
        // Byte tokens make up characters no token spells ("é" is 0xC3 0xA9).
        assert_eq!(t.decode(&[259, 3 + 0xC3, 3 + 0xA9]), "order\u{e9}");
        // Ids beyond the vocabulary (the model's output has room for more) are skipped.
        assert_eq!(t.decode(&[259, 40_000]), "order");
    }

    #[test]
    fn a_truncated_tokenizer_is_an_error() {
        assert!(Tokenizer::parse(&[5, b'a']).is_err());
        assert!(Tokenizer::parse(&[1, b'a']).is_err(), "too few tokens");
    }

    #[test]
    fn softmax_of_the_best_token() {
        let (best, p) = argmax_softmax(&[0.0, 2.0, 0.0]);
        assert_eq!(best, 1);
        assert!((p - 0.787).abs() < 0.01, "{p}");
    }
}
