//! Whisper tiny.en on candle (pure Rust, CPU): the second local engine, measured against
//! whisper.cpp by `switchboard bench speech`. The same registry package's weights (read from
//! CTranslate2 and renamed for candle's model by our converter), the same greedy decoding
//! without timestamps, and the same short-utterance window (the audio plus 128 encoder frames).

use crate::catalog::{self, WHISPER_TINY_EN};
use crate::{ct2, ggml, Error, Result};
use candle_core::{DType, Device, IndexOp, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::whisper::{self as w, audio, model};
use std::collections::HashMap;
use std::path::Path;

pub struct CandleWhisper {
    model: model::Whisper,
    tokenizer: tokenizers::Tokenizer,
    filters: Vec<f32>,
    sot: u32,
    eot: u32,
    no_timestamps: u32,
}

fn inference(e: impl std::fmt::Display) -> Error {
    Error::Inference(format!("candle whisper: {e}"))
}

/// candle's (Hugging Face's) name for a tensor with OpenAI's name; `None` for tensors candle
/// computes itself (the encoder's sinusoidal positions).
fn candle_name(openai: &str) -> Option<String> {
    if openai == "encoder.positional_embedding" {
        return None;
    }
    let fixed = [
        ("encoder.ln_post.", "model.encoder.layer_norm."),
        ("decoder.ln.", "model.decoder.layer_norm."),
        ("decoder.token_embedding.", "model.decoder.embed_tokens."),
        ("decoder.positional_embedding", "model.decoder.embed_positions.weight"),
    ];
    for (from, to) in fixed {
        if let Some(rest) = openai.strip_prefix(from) {
            return Some(format!("{to}{rest}"));
        }
    }
    let mut name = format!("model.{openai}").replace(".blocks.", ".layers.");
    for (from, to) in [
        (".cross_attn_ln.", ".encoder_attn_layer_norm."),
        (".cross_attn.query.", ".encoder_attn.q_proj."),
        (".cross_attn.key.", ".encoder_attn.k_proj."),
        (".cross_attn.value.", ".encoder_attn.v_proj."),
        (".cross_attn.out.", ".encoder_attn.out_proj."),
        (".attn_ln.", ".self_attn_layer_norm."),
        (".attn.query.", ".self_attn.q_proj."),
        (".attn.key.", ".self_attn.k_proj."),
        (".attn.value.", ".self_attn.v_proj."),
        (".attn.out.", ".self_attn.out_proj."),
        (".mlp_ln.", ".final_layer_norm."),
        (".mlp.0.", ".fc1."),
        (".mlp.2.", ".fc2."),
    ] {
        name = name.replace(from, to);
    }
    Some(name)
}

impl CandleWhisper {
    /// Loads Whisper tiny.en from the models directory (converted in memory, nothing cached).
    pub fn load(models_dir: &Path) -> Result<CandleWhisper> {
        let files = catalog::locate(models_dir, &WHISPER_TINY_EN)?;
        let ct2_model = ct2::parse(&std::fs::read(&files[0])?)?;
        let (dims, named) = ggml::whisper_tensors(&ct2_model)?;
        let device = Device::Cpu;
        let mut tensors = HashMap::new();
        for t in named {
            let Some(name) = candle_name(&t.name) else { continue };
            // whisper.cpp keeps convolution biases as columns; candle wants vectors.
            let shape = if name.ends_with("conv1.bias") || name.ends_with("conv2.bias") {
                vec![t.shape[0]]
            } else {
                t.shape
            };
            tensors.insert(name, Tensor::from_vec(t.values, shape, &device).map_err(inference)?);
        }
        let config = w::Config {
            num_mel_bins: dims.n_mels,
            max_source_positions: dims.n_audio_ctx,
            d_model: dims.n_audio_state,
            encoder_attention_heads: dims.n_head,
            encoder_layers: dims.n_audio_layer,
            vocab_size: dims.n_vocab,
            max_target_positions: dims.n_text_ctx,
            decoder_attention_heads: dims.n_head,
            decoder_layers: dims.n_text_layer,
            suppress_tokens: Vec::new(),
        };
        let vb = VarBuilder::from_tensors(tensors, DType::F32, &device);
        let model = model::Whisper::load(&vb, config).map_err(inference)?;
        let tokenizer = tokenizers::Tokenizer::from_file(&files[1]).map_err(inference)?;
        let id = |t: &str| {
            tokenizer.token_to_id(t).ok_or_else(|| Error::Format(format!("the tokenizer has no {t}")))
        };
        Ok(CandleWhisper {
            sot: id(w::SOT_TOKEN)?,
            eot: id(w::EOT_TOKEN)?,
            no_timestamps: id(w::NO_TIMESTAMPS_TOKEN)?,
            filters: ggml::mel_filters(dims.n_mels),
            model,
            tokenizer,
        })
    }

    /// Transcribes 16 kHz mono audio (-1..1) of one utterance (up to 30 s).
    pub fn transcribe(&self, samples: &[f32]) -> Result<String> {
        if samples.len() < 1_600 {
            return Ok(String::new());
        }
        let samples = &samples[..samples.len().min(w::N_SAMPLES)];
        // A copy shares the weights; each recognition has its own caches.
        let mut model = self.model.clone();
        let n_mels = model.config.num_mel_bins;
        let mel = audio::pcm_to_mel(&model.config, samples, &self.filters);
        let mel_len = mel.len() / n_mels;
        let mel = Tensor::from_vec(mel, (1, n_mels, mel_len), &Device::Cpu).map_err(inference)?;
        // The utterance plus 128 encoder frames (two mel frames each), as with whisper.cpp.
        let encoder_frames = samples.len().div_ceil(320) + 128;
        let frames = (2 * encoder_frames).min(w::N_FRAMES).min(mel_len);
        let mel = mel.narrow(2, 0, frames).map_err(inference)?;
        let features = model.encoder.forward(&mel, true).map_err(inference)?;
        let mut tokens = vec![self.sot, self.no_timestamps];
        let max_tokens = 16 + samples.len() / 16_000 * 8;
        for i in 0..max_tokens {
            let input = Tensor::new(tokens.as_slice(), &Device::Cpu)
                .and_then(|t| t.unsqueeze(0))
                .map_err(inference)?;
            let out = model.decoder.forward(&input, &features, i == 0).map_err(inference)?;
            let last = out.dim(1).map_err(inference)? - 1;
            let logits = model
                .decoder
                .final_linear(&out.i((..1, last..)).map_err(inference)?)
                .and_then(|l| l.i(0)?.i(0)?.to_vec1::<f32>())
                .map_err(inference)?;
            // Text tokens only: no special or timestamp tokens; at the start, no end or blank.
            let best = logits
                .iter()
                .enumerate()
                .filter(|&(id, _)| {
                    let id = id as u32;
                    (id < self.eot || (id == self.eot && i > 0)) && !(i == 0 && id == 220)
                })
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map(|(id, _)| id as u32)
                .unwrap_or(self.eot);
            if best == self.eot {
                break;
            }
            tokens.push(best);
        }
        let text = self.tokenizer.decode(&tokens[2..], true).map_err(inference)?;
        Ok(crate::whisper::without_repeats(text.trim()))
    }
}

#[cfg(test)]
mod tests {
    use super::candle_name;

    #[test]
    fn openai_names_map_to_candles() {
        let cases = [
            ("encoder.conv1.weight", "model.encoder.conv1.weight"),
            ("encoder.blocks.2.attn.query.weight", "model.encoder.layers.2.self_attn.q_proj.weight"),
            ("encoder.blocks.0.attn_ln.bias", "model.encoder.layers.0.self_attn_layer_norm.bias"),
            ("decoder.blocks.1.cross_attn.value.bias", "model.decoder.layers.1.encoder_attn.v_proj.bias"),
            (
                "decoder.blocks.1.cross_attn_ln.weight",
                "model.decoder.layers.1.encoder_attn_layer_norm.weight",
            ),
            ("decoder.blocks.3.mlp.2.weight", "model.decoder.layers.3.fc2.weight"),
            ("decoder.blocks.3.mlp_ln.weight", "model.decoder.layers.3.final_layer_norm.weight"),
            ("encoder.ln_post.weight", "model.encoder.layer_norm.weight"),
            ("decoder.ln.bias", "model.decoder.layer_norm.bias"),
            ("decoder.token_embedding.weight", "model.decoder.embed_tokens.weight"),
            ("decoder.positional_embedding", "model.decoder.embed_positions.weight"),
        ];
        for (from, to) in cases {
            assert_eq!(candle_name(from).as_deref(), Some(to), "{from}");
        }
        assert_eq!(candle_name("encoder.positional_embedding"), None);
    }
}
