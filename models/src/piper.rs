//! Piper voices on ONNX Runtime (loaded at run time from the `onnxruntime` registry package):
//! phonemes in (IPA, as espeak-ng writes them), 16-bit PCM out at the voice's rate. Every call
//! shares the voice: a few sessions (one per core by default), each running one sentence at a
//! time, so several calls' sentences are synthesised at once.

use crate::catalog::{self, PIPER_JOE};
use crate::{Error, Result};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Mutex, OnceLock};

pub struct Piper {
    sessions: SessionPool,
    ids: HashMap<char, Vec<i64>>,
    pub sample_rate: u32,
    scales: [f32; 3],
}

static ENVIRONMENT: OnceLock<std::result::Result<ort::environment::Environment, String>> = OnceLock::new();

pub(crate) fn environment(models_dir: &Path) -> Result<&'static ort::environment::Environment> {
    let env = ENVIRONMENT.get_or_init(|| {
        let lib = catalog::onnx_runtime(models_dir).map_err(|e| e.to_string())?;
        ort::init_from(&lib)
            .map_err(|e| format!("cannot load ONNX Runtime from {}: {e}", lib.display()))?
            .with_name("switchboard")
            .build()
            .map_err(|e| format!("ONNX Runtime: {e}"))
    });
    env.as_ref().map_err(|e| Error::Inference(e.clone()))
}

fn err(e: impl std::fmt::Display) -> Error {
    Error::Inference(format!("piper: {e}"))
}

/// A few sessions of one ONNX model shared by every call: each runs one request at a time.
pub(crate) struct SessionPool {
    sessions: Vec<Mutex<ort::session::Session>>,
    next: std::sync::atomic::AtomicUsize,
}

impl SessionPool {
    /// `count` sessions of `file` with `threads` threads each (the weights load once per
    /// session); errors name the model as `what`.
    pub(crate) fn load(
        env: &ort::environment::Environment,
        file: &Path,
        threads: usize,
        count: usize,
        what: &str,
    ) -> Result<Self> {
        let err = |e: &dyn std::fmt::Display| Error::Inference(format!("{what}: {e}"));
        let sessions = (0..count.max(1))
            .map(|_| {
                ort::session::Session::builder(env)
                    .map_err(|e| err(&e))?
                    .with_intra_threads(threads.max(1))
                    .map_err(|e| err(&e))?
                    .commit_from_file(file)
                    .map(Mutex::new)
                    .map_err(|e| err(&e))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(SessionPool { sessions, next: Default::default() })
    }

    /// A free session if there is one; otherwise waits for the next in turn.
    pub(crate) fn get(&self) -> std::sync::MutexGuard<'_, ort::session::Session> {
        match self.sessions.iter().find_map(|s| s.try_lock().ok()) {
            Some(s) => s,
            None => {
                let i = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % self.sessions.len();
                self.sessions[i].lock().unwrap_or_else(|e| e.into_inner())
            }
        }
    }
}

impl Piper {
    /// Loads the "joe" voice from the models directory: one session with `threads` threads.
    pub fn load(models_dir: &Path, threads: usize) -> Result<Self> {
        Self::load_sessions(models_dir, threads, 1)
    }

    /// Loads the voice with `sessions` sessions of `threads` threads each (the weights are
    /// loaded once per session: about 60 MB each).
    pub fn load_sessions(models_dir: &Path, threads: usize, sessions: usize) -> Result<Self> {
        let files = catalog::locate(models_dir, &PIPER_JOE)?;
        let env = environment(models_dir)?;
        let config: serde_json::Value = serde_json::from_slice(&std::fs::read(&files[1])?)
            .map_err(|e| Error::Format(format!("{}: {e}", files[1].display())))?;
        let ids = config["phoneme_id_map"]
            .as_object()
            .ok_or_else(|| Error::Format("the voice has no phoneme_id_map".into()))?
            .iter()
            .filter_map(|(k, v)| {
                let c = k.chars().next()?;
                let ids = v.as_array()?.iter().filter_map(|x| x.as_i64()).collect();
                Some((c, ids))
            })
            .collect();
        let inference = &config["inference"];
        let scales = [
            inference["noise_scale"].as_f64().unwrap_or(0.667) as f32,
            inference["length_scale"].as_f64().unwrap_or(1.0) as f32,
            inference["noise_w"].as_f64().unwrap_or(0.8) as f32,
        ];
        let sample_rate = config["audio"]["sample_rate"].as_u64().unwrap_or(22_050) as u32;
        let sessions = SessionPool::load(env, &files[0], threads, sessions, "piper")?;
        Ok(Piper { sessions, ids, sample_rate, scales })
    }

    /// Without the voice's random variation (the same text always gives the same audio), for
    /// reproducible tests and measurements.
    pub fn steady(mut self) -> Self {
        self.scales[0] = 0.0;
        self.scales[2] = 0.0;
        self
    }

    /// The model's input ids for a phoneme string: `^`, each phoneme followed by the pad `_`,
    /// then `$`. Phonemes the voice does not know are skipped.
    pub fn phoneme_ids(&self, phonemes: &str) -> Vec<i64> {
        let id = |c: char| self.ids.get(&c).cloned().unwrap_or_default();
        let mut out = id('^');
        out.extend(id('_'));
        for c in phonemes.chars() {
            if let Some(ids) = self.ids.get(&c) {
                out.extend(ids);
                out.extend(id('_'));
            }
        }
        out.extend(id('$'));
        out
    }

    /// Speaks a phoneme string.
    pub fn synthesize(&self, phonemes: &str) -> Result<Vec<i16>> {
        let ids = self.phoneme_ids(phonemes);
        if ids.len() <= 3 {
            return Ok(Vec::new());
        }
        let n = ids.len();
        let input = ort::value::Tensor::from_array(([1usize, n], ids)).map_err(err)?;
        let lengths = ort::value::Tensor::from_array(([1usize], vec![n as i64])).map_err(err)?;
        let scales = ort::value::Tensor::from_array(([3usize], self.scales.to_vec())).map_err(err)?;
        let mut session = self.sessions.get();
        let outputs = session
            .run(ort::inputs!["input" => input, "input_lengths" => lengths, "scales" => scales])
            .map_err(err)?;
        let (_, audio) = outputs[0].try_extract_tensor::<f32>().map_err(err)?;
        // Normalise to a steady level (Piper's raw output level varies by utterance).
        let peak = audio.iter().fold(0.0f32, |m, &s| m.max(s.abs())).max(0.01);
        let gain = (0.9 / peak).min(4.0) * 32767.0;
        Ok(audio.iter().map(|&s| (s * gain).clamp(-32768.0, 32767.0) as i16).collect())
    }
}
