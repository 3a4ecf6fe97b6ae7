//! Telephony: SIP (registrar, B2BUA, transactions, dialogs over UDP, TCP and WebSocket), RTP
//! and SRTP media, codecs, DTMF, WebRTC, mixing and recording.
//!
//! Protocol and media state machines here are sans-IO: they take bytes and the current time as
//! inputs and return packets, timers and events; a thin driver owns sockets and the clock.
//! This crate never imports `speech` or the orchestrator, and knows nothing of HTTP or JSON.
//!
//! Status: the crate boundary exists; the SIP and media engine lands with the telephony core
//! issue (see ARCHITECTURE.md).
