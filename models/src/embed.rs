//! Sentence embeddings with all-MiniLM-L6-v2 on candle (CPU): a text in, a unit vector of 384
//! numbers out, so that cosine similarity is a dot product. Loaded once per process and shared;
//! the guided agent compares what a caller said with its intents' example phrases.

use crate::catalog::{self, MINILM};
use crate::{Error, Result};
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use std::path::Path;
use std::sync::{Arc, OnceLock};
use tokenizers::{PaddingParams, Tokenizer, TruncationParams};

/// Longest input, in tokens (callers' turns are short; the model allows 512).
const MAX_TOKENS: usize = 128;

pub struct MiniLm {
    model: BertModel,
    tokenizer: Tokenizer,
}

fn inference(e: impl std::fmt::Display) -> Error {
    Error::Inference(e.to_string())
}

impl MiniLm {
    /// Loads the model from the models directory (files checked against the catalog).
    pub fn load(dir: &Path) -> Result<MiniLm> {
        let paths = catalog::locate(dir, &MINILM)?;
        let file = |suffix: &str| {
            paths
                .iter()
                .find(|p| p.to_string_lossy().ends_with(suffix))
                .cloned()
                .ok_or_else(|| Error::Format(format!("{suffix} is not part of {}", MINILM.name)))
        };
        let config: Config = serde_json::from_slice(&std::fs::read(file("config.json")?)?)
            .map_err(|e| Error::Format(format!("config.json: {e}")))?;
        let weights = std::fs::read(file("model.safetensors")?)?;
        let vb =
            VarBuilder::from_buffered_safetensors(weights, DType::F32, &Device::Cpu).map_err(inference)?;
        let model = BertModel::load(vb, &config).map_err(inference)?;
        let mut tokenizer = Tokenizer::from_file(file("tokenizer.json")?).map_err(inference)?;
        tokenizer.with_padding(Some(PaddingParams::default()));
        tokenizer
            .with_truncation(Some(TruncationParams { max_length: MAX_TOKENS, ..Default::default() }))
            .map_err(inference)?;
        Ok(MiniLm { model, tokenizer })
    }

    /// The process's shared instance (loaded on first use).
    pub fn shared(dir: &Path) -> Result<Arc<MiniLm>> {
        static SHARED: OnceLock<Arc<MiniLm>> = OnceLock::new();
        if let Some(m) = SHARED.get() {
            return Ok(m.clone());
        }
        let loaded = Arc::new(MiniLm::load(dir)?);
        Ok(SHARED.get_or_init(|| loaded).clone())
    }

    /// One unit-length embedding per text (mean of the token vectors). Each text is run on its
    /// own: in a batch, padding to the longest text changes the shapes of the sums and so the
    /// last digits of the result, and a decision near a threshold then depended on what else
    /// happened to be embedded with the text (an intent that flipped when calls were busy).
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let mut out = Vec::with_capacity(texts.len());
        for text in texts {
            out.extend(self.embed_batch(&[text])?);
        }
        Ok(out)
    }

    fn embed_batch(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let encodings = self.tokenizer.encode_batch(texts.to_vec(), true).map_err(inference)?;
        let rows = |f: &dyn Fn(&tokenizers::Encoding) -> &[u32]| -> Result<Tensor> {
            let v: Vec<Tensor> = encodings
                .iter()
                .map(|e| Tensor::new(f(e), &Device::Cpu))
                .collect::<candle_core::Result<_>>()
                .map_err(inference)?;
            Tensor::stack(&v, 0).map_err(inference)
        };
        let ids = rows(&|e| e.get_ids())?;
        let types = rows(&|e| e.get_type_ids())?;
        let mask = rows(&|e| e.get_attention_mask())?;
        let hidden = self.model.forward(&ids, &types, Some(&mask)).map_err(inference)?;
        // Mean over real tokens: (batch, tokens, dim) * mask / count.
        let mask = mask.to_dtype(DType::F32).map_err(inference)?.unsqueeze(2).map_err(inference)?;
        let summed = hidden.broadcast_mul(&mask).and_then(|h| h.sum(1)).map_err(inference)?;
        let counts = mask.sum(1).map_err(inference)?;
        let mean = summed.broadcast_div(&counts).map_err(inference)?;
        let norms = mean.sqr().and_then(|s| s.sum_keepdim(1)).and_then(|s| s.sqrt()).map_err(inference)?;
        let unit = mean.broadcast_div(&norms).map_err(inference)?;
        unit.to_vec2::<f32>().map_err(inference)
    }
}

/// Cosine similarity of two unit vectors.
pub fn similarity(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Needs the model package; skipped without it (under CI=true its absence fails).
    fn model() -> Option<MiniLm> {
        match MiniLm::load(&catalog::default_dir()) {
            Ok(m) => Some(m),
            Err(e) if std::env::var("CI").as_deref() == Ok("true") => panic!("{e}"),
            Err(e) => {
                eprintln!("skipping: {e}");
                None
            }
        }
    }

    #[test]
    fn paraphrases_are_closer_than_unrelated_sentences() {
        let Some(m) = model() else { return };
        let v = m
            .embed(&[
                "where is my order",
                "has my package shipped yet",
                "I want to talk to a real person",
                "can I speak to a human please",
            ])
            .unwrap();
        assert_eq!(v.len(), 4);
        assert_eq!(v[0].len(), 384);
        let norm: f32 = v[0].iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-3, "unit vectors: {norm}");
        let same_order = similarity(&v[0], &v[1]);
        let same_human = similarity(&v[2], &v[3]);
        let cross = similarity(&v[0], &v[3]).max(similarity(&v[1], &v[2]));
        assert!(same_order > cross + 0.15, "order paraphrases {same_order} vs unrelated {cross}");
        assert!(same_human > cross + 0.15, "person paraphrases {same_human} vs unrelated {cross}");
        // A text's vector does not depend on what it is embedded with: the same bits.
        let single = m.embed(&["where is my order"]).unwrap();
        assert_eq!(single[0], v[0]);
        let other = m
            .embed(&["a much longer sentence that pads the batch well past the first", "where is my order"])
            .unwrap();
        assert_eq!(other[1], v[0]);
    }
}
