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

pub mod driver;
mod error;
pub mod media;
pub mod sdp;
pub mod sip;

pub use error::Error;
