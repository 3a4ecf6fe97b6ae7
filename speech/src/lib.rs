//! The streaming speech pipeline: VAD, end-of-turn detection, speech recognition, text to
//! speech, barge-in and resampling, as frames flowing through small processors.
//!
//! Pipeline state is driven by audio time, never the wall clock. This crate never imports
//! `telephony` or the orchestrator, and knows nothing of HTTP or JSON.
//!
//! Status: the crate boundary exists; the pipeline lands with the speech issue.
