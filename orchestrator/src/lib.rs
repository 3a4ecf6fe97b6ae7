//! Switchboard's application layer: configuration model, persistence, HTTP API, and the
//! `switchboard` command line. See ARCHITECTURE.md for how it fits with the other crates.

// `&s[a..b]` on a `str` panics inside a multi-byte character; cut text with `split_once`,
// `strip_prefix`, `str::get` or `char_indices` instead (recognised speech and model output
// are someone else's text too).
#![deny(clippy::string_slice)]

pub mod agent;
pub mod agenttools;
pub mod api;
pub mod calls;
pub mod clock;
pub mod cluster;
pub mod db;
pub mod error;
pub mod live;
pub mod llm;
pub mod model;
pub mod prompt;
pub mod secrets;
pub mod store;
pub mod supervise;
pub mod tls;

pub use error::{Error, Result};
pub mod cli;
pub mod configfile;
pub mod demo;
pub mod fuzzing;
pub mod speechcloud;
