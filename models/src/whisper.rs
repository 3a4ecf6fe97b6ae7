//! Whisper speech recognition on whisper.cpp (through `whisper-rs`): the registry package's
//! CTranslate2 weights are converted once into a whisper.cpp file in the cache directory, then
//! loaded once per process. Every recognition gets its own decoder state; the weights are shared.

use crate::catalog::{self, ModelSpec, WHISPER_BASE, WHISPER_TINY_EN};
use crate::{ct2, ggml, Error, Result};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use whisper_rs::{FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters};

/// Bumped when the converter's output changes, so old cached files are rebuilt.
const CONVERTER_VERSION: u32 = 2;

/// A recognised segment: start and end in ms of the input, and its text.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub start_ms: u64,
    pub end_ms: u64,
    pub text: String,
    /// Mean probability of the segment's text tokens (0..1): how sure the model was.
    pub confidence: f32,
}

/// Encoder frames (20 ms each) beyond the audio in short mode. `bench speech` section 1a (18
/// callers' questions over a phone line, each at the four alignments a turn can have in the VAD
/// grid, one thread) measured word error rates with the Piper / espeak-ng caller and the time
/// per turn: 128 frames 4.1 % / 16.1 %, 200 ms; 96 frames 5.7 % / 16.7 %; 64 frames 4.6 % /
/// 17.0 %, 168 ms; 32 frames 8.0 % / 17.2 %, 148 ms. At 64 frames "Yes, please." came back as
/// "Yes, please. Please." at every alignment, and clean Piper "order 4572" as "4,500 72": the
/// 30 ms are not worth a caller's words, so the margin stays at 128.
const AUDIO_CTX_MARGIN: usize = 128;

pub struct Whisper {
    ctx: WhisperContext,
    threads: i32,
    path: PathBuf,
    /// Decoder states not in use (one per concurrent recognition at most).
    states: std::sync::Mutex<Vec<whisper_rs::WhisperState>>,
}

/// How the converted model stores its large matrices: 8-bit blocks (faster on a CPU, same
/// accuracy in our tests) unless `SWITCHBOARD_WHISPER_WEIGHTS=f16`.
pub fn default_weights() -> ggml::Weights {
    match std::env::var("SWITCHBOARD_WHISPER_WEIGHTS").as_deref() {
        Ok("f16") => ggml::Weights::F16,
        _ => ggml::Weights::Q8_0,
    }
}

/// Which Whisper: tiny.en (English only, 39 M parameters) or base (multilingual, 74 M; told
/// the speech is English).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Size {
    #[default]
    TinyEn,
    Base,
}

impl Size {
    pub fn spec(self) -> &'static ModelSpec {
        match self {
            Size::TinyEn => &WHISPER_TINY_EN,
            Size::Base => &WHISPER_BASE,
        }
    }
}

/// Where the converted model lives.
pub fn converted_path(cache_dir: &Path) -> PathBuf {
    converted_path_as(cache_dir, Size::TinyEn, default_weights())
}

fn converted_path_as(cache_dir: &Path, size: Size, weights: ggml::Weights) -> PathBuf {
    let kind = match weights {
        ggml::Weights::F16 => "f16",
        ggml::Weights::Q8_0 => "q8_0",
    };
    cache_dir.join(format!("{}.v{CONVERTER_VERSION}.{kind}.ggml", size.spec().name))
}

/// Converts the installed package's weights for whisper.cpp unless that was done already.
pub fn ensure_converted(models_dir: &Path, cache_dir: &Path) -> Result<PathBuf> {
    ensure_converted_as(models_dir, cache_dir, Size::TinyEn, default_weights())
}

/// The same for a size, with the large matrices stored as `weights`.
pub fn ensure_converted_as(
    models_dir: &Path,
    cache_dir: &Path,
    size: Size,
    weights: ggml::Weights,
) -> Result<PathBuf> {
    let out = converted_path_as(cache_dir, size, weights);
    if out.metadata().is_ok_and(|m| m.len() > 0) {
        return Ok(out);
    }
    let files = catalog::locate(models_dir, size.spec())?;
    // The model file, whole or in parts (a package holds at most so many bytes): the spec
    // lists the tokenizer second and the model's parts around it.
    let mut bytes = std::fs::read(&files[0])?;
    for part in files.iter().skip(2) {
        bytes.extend(std::fs::read(part)?);
    }
    let model = ct2::parse(&bytes)?;
    drop(bytes);
    let tokenizer = std::fs::read(&files[1])?;
    std::fs::create_dir_all(cache_dir)?;
    // Written beside, then renamed: a crash never leaves a half file under the real name.
    let tmp = out.with_extension(format!("tmp{}", std::process::id()));
    {
        let mut f = std::fs::File::create(&tmp)?;
        ggml::write_whisper(&model, &tokenizer, weights, &mut f)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, &out)?;
    Ok(out)
}

/// Whisper sometimes loops, repeating the last sentence until it runs out of tokens ("Can I
/// talk to a person? Can I talk to a person? Can I talk to"). Drops a sentence equal to the one
/// before it, and a trailing fragment that only restarts the previous sentence.
pub fn without_repeats(text: &str) -> String {
    let ends = ['.', '?', '!'];
    let mut sentences: Vec<&str> = Vec::new();
    let mut tail = "";
    for piece in text.split_inclusive(ends) {
        if piece.ends_with(ends) {
            sentences.push(piece.trim());
        } else {
            tail = piece.trim();
        }
    }
    let norm = |s: &str| s.trim_end_matches(['.', '?', '!']).trim().to_lowercase();
    let mut kept: Vec<&str> = Vec::new();
    for s in sentences {
        if s.is_empty() || kept.last().is_some_and(|p| norm(p) == norm(s)) {
            continue;
        }
        kept.push(s);
    }
    if !tail.is_empty() && !kept.last().is_some_and(|p| norm(p).starts_with(&norm(tail))) {
        kept.push(tail);
    }
    without_word_loops(&kept.join(" "))
}

/// More words than one recognition can hold.
const MAX_LOOP_WORDS: usize = 1_000;

/// A loop inside a sentence ("where is my order one, zero, where is my order one, zero, where
/// is"): from the first point where the words repeat with a period of three or more words at
/// least twice to the end, only the first period is kept.
fn without_word_loops(text: &str) -> String {
    let words: Vec<&str> = text.split_whitespace().collect();
    // The search below is quadratic; one recognition holds at most a few hundred words
    // (Whisper's text context is 448 tokens), so longer text did not come from one loop.
    if words.len() > MAX_LOOP_WORDS {
        return text.to_string();
    }
    let norm: Vec<String> =
        words.iter().map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()).to_lowercase()).collect();
    let n = words.len();
    // A restart of four or more words that then drifts ("order 1, 0, 0, 2, where in my order
    // 1, 0, 0, 0, 2"): cut where the words start over.
    for start in 0..n {
        for period in 4..n.saturating_sub(start + 3) {
            let again = start + period;
            if again + 4 <= n && (0..4).all(|k| norm[start + k] == norm[again + k]) {
                return words[..again].join(" ").trim_end_matches([',', ';', ' ']).to_string();
            }
        }
    }
    for start in 0..n {
        // The repeat may be cut short by the token limit, but must be at least three words.
        for period in 3..=(n - start).saturating_sub(3) {
            if (start + period..n).all(|i| norm[i] == norm[i - period]) {
                let kept = words[..start + period].join(" ");
                return kept.trim_end_matches([',', ';', ' ']).to_string();
            }
        }
    }
    text.to_string()
}

impl Whisper {
    /// Loads Whisper tiny.en from the models directory (converting it on first use).
    pub fn load(models_dir: &Path, cache_dir: &Path, threads: usize) -> Result<Self> {
        Self::load_size(models_dir, cache_dir, threads, Size::TinyEn)
    }

    /// Loads a Whisper of `size` from the models directory (converting it on first use).
    pub fn load_size(models_dir: &Path, cache_dir: &Path, threads: usize, size: Size) -> Result<Self> {
        let path = ensure_converted_as(models_dir, cache_dir, size, default_weights())?;
        Self::load_file(&path, threads)
    }

    pub fn load_file(path: &Path, threads: usize) -> Result<Self> {
        static QUIET: std::sync::Once = std::sync::Once::new();
        QUIET.call_once(whisper_rs::install_logging_hooks);
        let p = path.to_str().ok_or_else(|| Error::Format(format!("{} is not UTF-8", path.display())))?;
        let ctx = WhisperContext::new_with_params(p, WhisperContextParameters::default())
            .map_err(|e| Error::Inference(format!("whisper.cpp cannot load {}: {e}", path.display())))?;
        Ok(Whisper {
            ctx,
            threads: threads.clamp(1, 16) as i32,
            path: path.to_path_buf(),
            states: Default::default(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Transcribes 16 kHz mono audio (-1..1). `short` suits a single utterance (under 30 s):
    /// the encoder window shrinks to the audio, which makes short turns much cheaper.
    pub fn transcribe(&self, samples: &[f32], short: bool) -> Result<Vec<Segment>> {
        self.transcribe_unless(samples, short, &Arc::new(AtomicBool::new(false)))
    }

    /// The same, given up (`Error::Cancelled`) as soon as `cancelled` turns true: whisper.cpp
    /// checks it between the steps of the encoder and of the decoder, so a recognition nobody
    /// wants any more frees its core within milliseconds.
    pub fn transcribe_unless(
        &self,
        samples: &[f32],
        short: bool,
        cancelled: &Arc<AtomicBool>,
    ) -> Result<Vec<Segment>> {
        self.transcribe_on(samples, short, self.threads as usize, cancelled)
    }

    /// The same on `threads` threads instead of the number it was loaded with.
    pub fn transcribe_on(
        &self,
        samples: &[f32],
        short: bool,
        threads: usize,
        cancelled: &Arc<AtomicBool>,
    ) -> Result<Vec<Segment>> {
        if cancelled.load(Ordering::Relaxed) {
            return Err(Error::Cancelled);
        }
        if samples.len() < 1_600 {
            return Ok(Vec::new()); // under 100 ms: nothing to recognise
        }
        // Decoder states are reused: making one allocates its buffers (10-20 ms for tiny).
        let pooled = self.states.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let mut state = match pooled {
            Some(s) => s,
            None => self.ctx.create_state().map_err(|e| Error::Inference(format!("whisper state: {e}")))?,
        };
        let mut params = FullParams::new(SamplingStrategy::Greedy { best_of: 1 });
        params.set_n_threads(threads.clamp(1, 64) as i32);
        params.set_language(Some("en"));
        params.set_translate(false);
        params.set_no_context(true);
        params.set_print_progress(false);
        params.set_print_realtime(false);
        params.set_print_special(false);
        params.set_print_timestamps(false);
        params.set_suppress_blank(true);
        // Greedy and deterministic: the same audio always gives the same words. (Loops, which
        // a hotter retry would catch, are cut by `without_repeats` instead.)
        params.set_temperature_inc(0.0);
        let duration_ms = samples.len() as u64 * 1000 / 16_000;
        // Pad short clips to a second: the encoder needs some context.
        let mut padded;
        let audio = if samples.len() < 16_000 {
            padded = samples.to_vec();
            padded.resize(16_000, 0.0);
            &padded[..]
        } else {
            samples
        };
        if short && audio.len() <= 30 * 16_000 {
            // One encoder frame is 20 ms; keep a margin (too small a window hurts accuracy).
            let ctx = (audio.len().div_ceil(320) + AUDIO_CTX_MARGIN).min(1500) as i32;
            params.set_audio_ctx(ctx);
            params.set_single_segment(true);
            params.set_no_timestamps(true);
            // Nobody says more than about six tokens a second: a longer decode is a loop.
            params.set_max_tokens((16 + audio.len() / 16_000 * 8) as i32);
        }
        // (whisper-rs's closure-taking setter reads its closure back as the wrong type, so the
        // flag goes in as plain user data.)
        unsafe extern "C" fn is_cancelled(flag: *mut std::ffi::c_void) -> bool {
            // SAFETY: the pointer is the `AtomicBool` in `cancelled`, set below; `cancelled`
            // outlives the `full` call, the only time whisper.cpp calls this.
            unsafe { (*(flag as *const AtomicBool)).load(Ordering::Relaxed) }
        }
        // SAFETY: see `is_cancelled`; the flag is only read, through an atomic.
        unsafe {
            params.set_abort_callback(Some(is_cancelled));
            params.set_abort_callback_user_data(Arc::as_ptr(cancelled) as *mut std::ffi::c_void);
        }
        let done = state.full(params, audio);
        if cancelled.load(Ordering::Relaxed) {
            // The state is fine to reuse: the next `full` starts over.
            self.states.lock().unwrap_or_else(|e| e.into_inner()).push(state);
            return Err(Error::Cancelled);
        }
        done.map_err(|e| Error::Inference(format!("whisper: {e}")))?;
        let n = state.full_n_segments();
        let mut out = Vec::new();
        for i in 0..n {
            let Some(seg) = state.get_segment(i) else { continue };
            let text = seg
                .to_str_lossy()
                .map_err(|e| Error::Inference(format!("whisper text: {e}")))?
                .trim()
                .to_string();
            if text.is_empty() {
                continue;
            }
            let start_ms = (seg.start_timestamp().max(0) as u64 * 10).min(duration_ms);
            let end_ms = (seg.end_timestamp().max(0) as u64 * 10).min(duration_ms).max(start_ms);
            let probabilities: Vec<f32> = (0..seg.n_tokens())
                .filter_map(|j| seg.get_token(j))
                .filter(|t| t.to_str_lossy().is_ok_and(|s| !s.starts_with("[_") && !s.starts_with("<|")))
                .map(|t| t.token_probability())
                .collect();
            let confidence = if probabilities.is_empty() {
                0.0
            } else {
                probabilities.iter().sum::<f32>() / probabilities.len() as f32
            };
            out.push(Segment { start_ms, end_ms, text: without_repeats(&text), confidence });
        }
        self.states.lock().unwrap_or_else(|e| e.into_inner()).push(state);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::without_repeats;

    #[test]
    fn loops_are_cut_and_real_repetition_is_kept_apart() {
        assert_eq!(
            without_repeats(
                "Can I talk to a person? Can I talk to a person? can i talk to a person? Can I talk to"
            ),
            "Can I talk to a person?"
        );
        assert_eq!(without_repeats("Hello. Where is my order?"), "Hello. Where is my order?");
        assert_eq!(without_repeats("No. No, I mean yes."), "No. No, I mean yes.");
        assert_eq!(without_repeats("my order is 4572"), "my order is 4572");
        assert_eq!(
            without_repeats(
                "Where in my order one, zero, two, where in my order one, zero, two, where in my order one"
            ),
            "Where in my order one, zero, two"
        );
        assert_eq!(without_repeats("Hi. one two three one two three"), "Hi. one two three");
        assert_eq!(
            without_repeats("Where in my order 1, 0, 0, 2, where in my order 1, 0"),
            "Where in my order 1, 0, 0, 2"
        );
        assert_eq!(without_repeats("yes yes yes"), "yes yes yes", "short repeats are words, not loops");
        assert_eq!(
            without_repeats("Where in my order 1, 0, 0, 2, where in my order 1, 0, 0, 0, 2"),
            "Where in my order 1, 0, 0, 2"
        );
        assert_eq!(
            without_repeats("I want to know, I want to go home"),
            "I want to know, I want to go home",
            "three words said again are speech"
        );
    }
}
