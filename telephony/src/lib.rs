//! Telephony: SIP (registrar, B2BUA, transactions, dialogs over UDP, TCP and WebSocket), RTP
//! and SRTP media, codecs, DTMF, WebRTC, mixing and recording.
//!
//! Protocol and media state machines here are sans-IO: they take bytes and the current time as
//! inputs and return packets, timers and events; a thin driver (`driver`, the only module that
//! uses tokio) owns sockets and the clock.
//! This crate never imports `speech` or the orchestrator, and knows nothing of HTTP or JSON.
//!
//! Status: SIP message parsing, URIs, headers and digest authentication; G.711 codecs and WAV
//! files. Transactions, registrar, B2BUA and RTP follow (see ARCHITECTURE.md).
//!
//! Input from the network never panics: text is never indexed by byte position (the lint below;
//! see `text`), wire numbers are checked, saturating or deliberately wrapping, and every parser
//! has a fuzz entry point in [`fuzzing`].

// `&s[a..b]` on a `str` panics inside a multi-byte character; cut text with `text` helpers,
// `split_once`, `strip_prefix` or `str::get` instead.
#![deny(clippy::string_slice)]

pub mod driver;
mod error;
pub mod fuzzing;
pub mod media;
pub mod sdp;
pub mod sip;
pub mod text;

pub use error::Error;
