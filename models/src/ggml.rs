//! Writes a whisper.cpp model file (the legacy `ggml` layout) from Whisper weights in a
//! CTranslate2 model and the BPE vocabulary in `tokenizer.json`: hyper-parameters, the mel
//! filterbank (computed here), the vocabulary as raw bytes, then every tensor under the names
//! whisper.cpp expects. Vectors and positional tables are stored as f32, the convolutions as
//! f16, and the other matrices (attention, MLP, token embedding) as f16 or, with
//! [`Weights::Q8_0`], as 8-bit blocks (32 values and an f16 scale), which whisper.cpp multiplies
//! faster on a CPU at the same accuracy.

use crate::ct2::{f32_to_f16, Model, Tensor};
use crate::{Error, Result};
use std::io::Write;

const MAGIC: u32 = 0x6767_6d6c;
const N_FFT: usize = 201; // 400-point FFT bins
const SAMPLE_RATE: f64 = 16_000.0;

/// How the large matrices are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Weights {
    F16,
    Q8_0,
}

impl Weights {
    /// The file's `ftype` (ggml's GGML_FTYPE_MOSTLY_F16 / _Q8_0).
    fn ftype(self) -> usize {
        match self {
            Weights::F16 => 1,
            Weights::Q8_0 => 7,
        }
    }
}

/// How one tensor is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Store {
    F32,
    F16,
    Q8_0,
}

impl Store {
    /// ggml's type number.
    fn ggml_type(self) -> usize {
        match self {
            Store::F32 => 0,
            Store::F16 => 1,
            Store::Q8_0 => 8,
        }
    }
}

/// A tensor ready for the file: OpenAI name, shape (outermost first), f32 values, storage.
struct Out {
    name: String,
    shape: Vec<usize>,
    values: Vec<f32>,
    store: Store,
}

/// Values per Q8_0 block.
pub const Q8_BLOCK: usize = 32;

/// Quantises values (a multiple of 32) to ggml's Q8_0 blocks: an f16 scale, then 32 signed
/// bytes, each `round(value / scale)` with `scale = max |value| / 127`.
pub fn quantize_q8_0(values: &[f32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(values.len() / Q8_BLOCK * (2 + Q8_BLOCK));
    for block in values.chunks(Q8_BLOCK) {
        let amax = block.iter().fold(0f32, |m, v| m.max(v.abs()));
        let d = amax / 127.0;
        let id = if d > 0.0 { 1.0 / d } else { 0.0 };
        out.extend_from_slice(&f32_to_f16(d).to_le_bytes());
        out.extend(block.iter().map(|v| ((v * id).round().clamp(-127.0, 127.0) as i8) as u8));
    }
    out
}

/// Whether whisper.cpp stores this tensor in the file's weight type (its `wtype`).
fn is_weight_matrix(name: &str) -> bool {
    name == "decoder.token_embedding.weight"
        || (name.contains(".blocks.")
            && name.ends_with(".weight")
            && ["attn.query", "attn.key", "attn.value", "attn.out", "mlp.0", "mlp.2"]
                .iter()
                .any(|p| name.ends_with(&format!("{p}.weight"))))
}

fn hz_to_mel(f: f64) -> f64 {
    let f_sp = 200.0 / 3.0;
    if f >= 1000.0 {
        15.0 + (f / 1000.0).ln() / (6.4f64.ln() / 27.0)
    } else {
        f / f_sp
    }
}

fn mel_to_hz(m: f64) -> f64 {
    if m >= 15.0 {
        1000.0 * ((6.4f64.ln() / 27.0) * (m - 15.0)).exp()
    } else {
        200.0 / 3.0 * m
    }
}

/// The Slaney-style mel filterbank Whisper uses (librosa's default): `n_mels` × 201 weights.
pub fn mel_filters(n_mels: usize) -> Vec<f32> {
    let fft_freqs: Vec<f64> = (0..N_FFT).map(|i| i as f64 * SAMPLE_RATE / 2.0 / (N_FFT - 1) as f64).collect();
    let (lo, hi) = (hz_to_mel(0.0), hz_to_mel(SAMPLE_RATE / 2.0));
    let points: Vec<f64> =
        (0..n_mels + 2).map(|i| mel_to_hz(lo + (hi - lo) * i as f64 / (n_mels + 1) as f64)).collect();
    let mut out = vec![0f32; n_mels * N_FFT];
    for m in 0..n_mels {
        let (f0, f1, f2) = (points[m], points[m + 1], points[m + 2]);
        let norm = 2.0 / (f2 - f0);
        for (k, &f) in fft_freqs.iter().enumerate() {
            let lower = (f - f0) / (f1 - f0);
            let upper = (f2 - f) / (f2 - f1);
            out[m * N_FFT + k] = (lower.min(upper).max(0.0) * norm) as f32;
        }
    }
    out
}

/// GPT-2's byte-level BPE maps bytes to printable characters; this undoes it.
fn unicode_to_byte() -> std::collections::HashMap<char, u8> {
    let mut printable: Vec<u32> = (b'!' as u32..=b'~' as u32).collect();
    printable.extend(0xA1..=0xAC);
    printable.extend(0xAE..=0xFF);
    let mut map = std::collections::HashMap::new();
    let mut extra = 0;
    for b in 0u32..256 {
        let c = if printable.contains(&b) {
            b
        } else {
            extra += 1;
            255 + extra
        };
        if let Some(c) = char::from_u32(c) {
            map.insert(c, b as u8);
        }
    }
    map
}

/// The base vocabulary (ids below the first special token) as raw bytes, by id.
pub fn vocabulary(tokenizer_json: &[u8]) -> Result<Vec<Vec<u8>>> {
    let v: serde_json::Value =
        serde_json::from_slice(tokenizer_json).map_err(|e| Error::Format(format!("tokenizer.json: {e}")))?;
    let vocab =
        v["model"]["vocab"].as_object().ok_or_else(|| Error::Format("tokenizer.json has no vocab".into()))?;
    let special: std::collections::HashSet<u64> =
        v["added_tokens"].as_array().into_iter().flatten().filter_map(|t| t["id"].as_u64()).collect();
    let map = unicode_to_byte();
    let mut tokens: Vec<(u64, Vec<u8>)> = vocab
        .iter()
        .filter_map(|(text, id)| Some((id.as_u64()?, text)))
        .filter(|(id, _)| !special.contains(id))
        .map(|(id, text)| (id, text.chars().map(|c| map.get(&c).copied().unwrap_or(b'?')).collect()))
        .collect();
    tokens.sort_by_key(|(id, _)| *id);
    if tokens.iter().enumerate().any(|(i, (id, _))| *id != i as u64) {
        return Err(Error::Format("tokenizer.json vocabulary ids are not contiguous".into()));
    }
    Ok(tokens.into_iter().map(|(_, b)| b).collect())
}

fn tensor<'a>(m: &'a Model, name: &str) -> Result<&'a Tensor> {
    m.get(name).ok_or_else(|| Error::Format(format!("model.bin has no {name}")))
}

fn rows(t: &Tensor, from: usize, to: usize) -> Result<(Vec<usize>, Vec<f32>)> {
    let v = t.to_f32()?;
    let cols: usize = t.shape.iter().skip(1).product::<usize>().max(1);
    if t.shape.first().is_none_or(|&r| r < to) {
        return Err(Error::Format(format!("{}: shape {:?} has fewer than {to} rows", t.name, t.shape)));
    }
    let mut shape = t.shape.clone();
    shape[0] = to - from;
    Ok((shape, v[from * cols..to * cols].to_vec()))
}

/// Whisper's dimensions (OpenAI's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dims {
    pub n_vocab: usize,
    pub n_audio_ctx: usize,
    pub n_audio_state: usize,
    pub n_head: usize,
    pub n_audio_layer: usize,
    pub n_text_ctx: usize,
    pub n_text_state: usize,
    pub n_text_layer: usize,
    pub n_mels: usize,
}

/// A Whisper tensor under OpenAI's name: shape (outermost first) and values.
pub struct Named {
    pub name: String,
    pub shape: Vec<usize>,
    pub values: Vec<f32>,
}

/// Converts Whisper in CTranslate2 form to a whisper.cpp model file written to `out`.
pub fn write_whisper(
    model: &Model,
    tokenizer_json: &[u8],
    weights: Weights,
    out: &mut impl Write,
) -> Result<()> {
    let (dims, named) = whisper_tensors(model)?;
    let outs: Vec<Out> = named
        .into_iter()
        .map(|Named { name, shape, values }| {
            let matrix =
                shape.len() >= 2 && !name.contains("positional_embedding") && !name.ends_with(".bias");
            let rows_fit = shape.last().is_some_and(|n| n % Q8_BLOCK == 0);
            let store = match (matrix, weights) {
                (false, _) => Store::F32,
                (true, Weights::Q8_0) if is_weight_matrix(&name) && rows_fit => Store::Q8_0,
                (true, _) => Store::F16,
            };
            Out { name, shape, values, store }
        })
        .collect();
    write_file(&outs, dims_list(&dims, weights), dims.n_mels, tokenizer_json, out)
}

fn dims_list(d: &Dims, weights: Weights) -> [usize; 11] {
    [
        d.n_vocab,
        d.n_audio_ctx,
        d.n_audio_state,
        d.n_head,
        d.n_audio_layer,
        d.n_text_ctx,
        d.n_text_state,
        d.n_head,
        d.n_text_layer,
        d.n_mels,
        weights.ftype(),
    ]
}

/// Every Whisper tensor of a CTranslate2 model under OpenAI's names (fused projections split),
/// with the model's dimensions.
pub fn whisper_tensors(model: &Model) -> Result<(Dims, Vec<Named>)> {
    if model.spec != "WhisperSpec" {
        return Err(Error::Format(format!("{} is not a Whisper model", model.spec)));
    }
    let layers = |prefix: &str| {
        model
            .tensors
            .iter()
            .filter(|t| t.name.starts_with(prefix) && t.name.ends_with("/ffn/linear_0/weight"))
            .count()
    };
    let (n_audio_layer, n_text_layer) = (layers("encoder/layer_"), layers("decoder/layer_"));
    let conv1 = tensor(model, "encoder/conv1/weight")?;
    let (n_audio_state, n_mels) = (conv1.shape[0], conv1.shape[1]);
    let n_audio_ctx = tensor(model, "encoder/position_encodings/encodings")?.shape[0];
    let embed = tensor(model, "decoder/embeddings/weight")?;
    let (n_vocab, n_text_state) = (embed.shape[0], embed.shape[1]);
    let n_text_ctx = tensor(model, "decoder/position_encodings/encodings")?.shape[0];
    // Stored as a scalar by CTranslate2; 64-dimensional heads otherwise.
    let n_head = model
        .get("encoder/num_heads")
        .filter(|t| t.data.len() == 2)
        .map(|t| i16::from_le_bytes([t.data[0], t.data[1]]) as usize)
        .unwrap_or((n_audio_state / 64).max(1));

    let mut outs: Vec<Named> = Vec::new();
    let mut push =
        |name: String, shape: Vec<usize>, values: Vec<f32>| outs.push(Named { name, shape, values });
    let whole = |name: &str| -> Result<(Vec<usize>, Vec<f32>)> {
        let t = tensor(model, name)?;
        Ok((t.shape.clone(), t.to_f32()?))
    };
    for conv in ["conv1", "conv2"] {
        let (shape, w) = whole(&format!("encoder/{conv}/weight"))?;
        push(format!("encoder.{conv}.weight"), shape, w);
        let (shape, b) = whole(&format!("encoder/{conv}/bias"))?;
        push(format!("encoder.{conv}.bias"), vec![shape[0], 1], b);
    }
    let (shape, v) = whole("encoder/position_encodings/encodings")?;
    push("encoder.positional_embedding".into(), shape, v);
    let norm = |push: &mut dyn FnMut(String, Vec<usize>, Vec<f32>), from: &str, to: &str| -> Result<()> {
        let (s, g) = whole(&format!("{from}/gamma"))?;
        push(format!("{to}.weight"), s, g);
        let (s, b) = whole(&format!("{from}/beta"))?;
        push(format!("{to}.bias"), s, b);
        Ok(())
    };
    let linear = |push: &mut dyn FnMut(String, Vec<usize>, Vec<f32>), from: &str, to: &str| -> Result<()> {
        let (s, w) = whole(&format!("{from}/weight"))?;
        push(format!("{to}.weight"), s, w);
        let (s, b) = whole(&format!("{from}/bias"))?;
        push(format!("{to}.bias"), s, b);
        Ok(())
    };
    // Fused projections split by rows: (name, first row, last row, keep the bias).
    let split = |push: &mut dyn FnMut(String, Vec<usize>, Vec<f32>),
                 from: &str,
                 parts: &[(&str, usize, usize, bool)]|
     -> Result<()> {
        let w = tensor(model, &format!("{from}/weight"))?;
        let b = tensor(model, &format!("{from}/bias"))?;
        for &(to, lo, hi, bias) in parts {
            let (s, v) = rows(w, lo, hi)?;
            push(format!("{to}.weight"), s, v);
            if bias {
                let (s, v) = rows(b, lo, hi)?;
                push(format!("{to}.bias"), s, v);
            }
        }
        Ok(())
    };
    let d = n_audio_state;
    for (side, n) in [("encoder", n_audio_layer), ("decoder", n_text_layer)] {
        for l in 0..n {
            let (ct, oa) = (format!("{side}/layer_{l}"), format!("{side}.blocks.{l}"));
            split(
                &mut push,
                &format!("{ct}/self_attention/linear_0"),
                &[
                    (&format!("{oa}.attn.query"), 0, d, true),
                    (&format!("{oa}.attn.key"), d, 2 * d, false),
                    (&format!("{oa}.attn.value"), 2 * d, 3 * d, true),
                ],
            )?;
            linear(&mut push, &format!("{ct}/self_attention/linear_1"), &format!("{oa}.attn.out"))?;
            norm(&mut push, &format!("{ct}/self_attention/layer_norm"), &format!("{oa}.attn_ln"))?;
            if side == "decoder" {
                linear(&mut push, &format!("{ct}/attention/linear_0"), &format!("{oa}.cross_attn.query"))?;
                split(
                    &mut push,
                    &format!("{ct}/attention/linear_1"),
                    &[
                        (&format!("{oa}.cross_attn.key"), 0, d, false),
                        (&format!("{oa}.cross_attn.value"), d, 2 * d, true),
                    ],
                )?;
                linear(&mut push, &format!("{ct}/attention/linear_2"), &format!("{oa}.cross_attn.out"))?;
                norm(&mut push, &format!("{ct}/attention/layer_norm"), &format!("{oa}.cross_attn_ln"))?;
            }
            linear(&mut push, &format!("{ct}/ffn/linear_0"), &format!("{oa}.mlp.0"))?;
            linear(&mut push, &format!("{ct}/ffn/linear_1"), &format!("{oa}.mlp.2"))?;
            norm(&mut push, &format!("{ct}/ffn/layer_norm"), &format!("{oa}.mlp_ln"))?;
        }
    }
    norm(&mut push, "encoder/layer_norm", "encoder.ln_post")?;
    let (shape, v) = whole("decoder/embeddings/weight")?;
    push("decoder.token_embedding.weight".into(), shape, v);
    let (shape, v) = whole("decoder/position_encodings/encodings")?;
    push("decoder.positional_embedding".into(), shape, v);
    norm(&mut push, "decoder/layer_norm", "decoder.ln")?;
    let dims = Dims {
        n_vocab,
        n_audio_ctx,
        n_audio_state,
        n_head,
        n_audio_layer,
        n_text_ctx,
        n_text_state,
        n_text_layer,
        n_mels,
    };
    Ok((dims, outs))
}

/// The file: header, mel filters, vocabulary, tensors.
fn write_file(
    outs: &[Out],
    dims: [usize; 11],
    n_mels: usize,
    tokenizer_json: &[u8],
    out: &mut impl Write,
) -> Result<()> {
    let weights_q8 = dims[10] == Weights::Q8_0.ftype();
    // Header.
    let mut w = std::io::BufWriter::new(out);
    let i32s = |w: &mut dyn Write, vals: &[usize]| -> Result<()> {
        for &v in vals {
            w.write_all(&(v as i32).to_le_bytes())?;
        }
        Ok(())
    };
    w.write_all(&MAGIC.to_le_bytes())?;
    i32s(&mut w, &dims)?;
    i32s(&mut w, &[n_mels, N_FFT])?;
    for f in mel_filters(n_mels) {
        w.write_all(&f.to_le_bytes())?;
    }
    let vocab = vocabulary(tokenizer_json)?;
    i32s(&mut w, &[vocab.len()])?;
    for token in &vocab {
        w.write_all(&(token.len() as u32).to_le_bytes())?;
        w.write_all(token)?;
    }
    for t in outs {
        if t.values.len() != t.shape.iter().product::<usize>() {
            return Err(Error::Format(format!("{}: {} values for {:?}", t.name, t.values.len(), t.shape)));
        }
        if weights_q8 && is_weight_matrix(&t.name) && t.store != Store::Q8_0 {
            // whisper.cpp gives every such matrix the file's type: it cannot mix.
            return Err(Error::Format(format!("{} cannot be stored as Q8_0: rows of {:?}", t.name, t.shape)));
        }
        i32s(&mut w, &[t.shape.len(), t.name.len(), t.store.ggml_type()])?;
        // Dimensions innermost first.
        let dims: Vec<usize> = t.shape.iter().rev().copied().collect();
        i32s(&mut w, &dims)?;
        w.write_all(t.name.as_bytes())?;
        match t.store {
            Store::F16 => {
                for &v in &t.values {
                    w.write_all(&f32_to_f16(v).to_le_bytes())?;
                }
            }
            Store::F32 => {
                for &v in &t.values {
                    w.write_all(&v.to_le_bytes())?;
                }
            }
            Store::Q8_0 => w.write_all(&quantize_q8_0(&t.values))?,
        }
    }
    w.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mel_filters_look_like_whisper_s() {
        let f = mel_filters(80);
        assert_eq!(f.len(), 80 * 201);
        // Every filter is a non-empty triangle; the first peaks near 0-100 Hz, the last near 8 kHz.
        for m in 0..80 {
            let row = &f[m * 201..(m + 1) * 201];
            assert!(row.iter().any(|&v| v > 0.0), "filter {m} is empty");
        }
        let peak = |m: usize| (0..201).max_by(|&a, &b| f[m * 201 + a].total_cmp(&f[m * 201 + b])).unwrap();
        assert!(peak(0) <= 2 && peak(79) >= 180, "{} {}", peak(0), peak(79));
    }

    #[test]
    fn byte_level_tokens_decode_to_bytes() {
        let json = br#"{"model":{"vocab":{"!":0,"\u0120the":1,"\u010a":2,"<|endoftext|>":3}},"added_tokens":[{"id":3}]}"#;
        let v = vocabulary(json).unwrap();
        assert_eq!(v, vec![b"!".to_vec(), b" the".to_vec(), b"\n".to_vec()]);
    }

    #[test]
    fn q8_0_blocks_keep_values_within_half_a_step() {
        let values: Vec<f32> =
            (0..64).map(|i| ((i as f32) * 0.37).sin() * if i < 32 { 0.02 } else { 3.0 }).collect();
        let q = quantize_q8_0(&values);
        assert_eq!(q.len(), 2 * 34, "two blocks of an f16 scale and 32 bytes");
        for (b, block) in values.chunks(32).enumerate() {
            let raw = &q[b * 34..(b + 1) * 34];
            let d = crate::ct2::f16_to_f32(u16::from_le_bytes([raw[0], raw[1]]));
            let amax = block.iter().fold(0f32, |m, v| m.max(v.abs()));
            assert!((d - amax / 127.0).abs() <= amax / 127.0 * 1e-3, "scale {d} for max {amax}");
            for (i, v) in block.iter().enumerate() {
                let back = raw[2 + i] as i8 as f32 * d;
                assert!((back - v).abs() <= d * 0.5 + 1e-6, "{v} came back as {back}");
            }
        }
        assert!(quantize_q8_0(&[0.0; 32])[2..].iter().all(|&b| b == 0), "an all-zero block stays zero");
        assert!(is_weight_matrix("encoder.blocks.0.attn.query.weight"));
        assert!(is_weight_matrix("decoder.blocks.3.cross_attn.out.weight"));
        assert!(
            !is_weight_matrix("encoder.conv1.weight") && !is_weight_matrix("decoder.blocks.0.mlp.0.bias")
        );
    }
}
