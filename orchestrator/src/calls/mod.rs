//! A call's journey, in one place. Read in this order:
//!
//! - `router`: the telephony engine's events in, each new call's plan carried out (rung,
//!   dialled, refused, or answered and handed to the dispatcher), records kept (`directory`:
//!   who may register, for the SIP engine);
//! - `planner`: where a new call goes (numbers, extensions, schedules, outside numbers and
//!   class of service), prepared beside the router so that it never waits on the database;
//! - `snapshot`: the configuration the planner and the dispatcher read, reloaded on change;
//! - `answered`: the answered call lent to one service after another, and what each returns;
//! - `dispatch`: the one `match` on a destination, running services until the caller is
//!   connected or gone;
//! - the services: `ivr`, `queue`, `voicemail` here, and the AI voice agent in
//!   `crate::agent::voice`. None of them constructs another: each returns `Next`.
//! - `prompts`: what a prompt sounds like (recordings, synthesised text, cached);
//! - `recording`: which calls are recorded, and the recordings being written now;
//!   `transcribe`: their transcripts, after the call;
//! - `keypad`: where a call's digits go; `payment`: taking a card by keypad, masked;
//! - `coach`: live AI coaching of the agent on a queue call (transcripts, cards, checklist).

pub mod activity;
pub mod answered;
pub mod coach;
pub mod conference;
pub mod directory;
pub mod dispatch;
pub mod ivr;
pub mod ivr_speech;
pub mod keypad;
pub mod overrides;
pub mod payment;
pub mod planner;
pub mod prompts;
pub mod queue;
pub mod recording;
pub mod router;
pub mod snapshot;
pub mod strategy;
#[cfg(test)]
pub mod testing;
pub mod time_limit;
pub mod transcribe;
pub mod transfer;
pub mod voicemail;
pub mod waiting;

pub use answered::{AnsweredCall, LegEvent, Next};
