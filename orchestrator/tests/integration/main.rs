//! Integration tests of the orchestrator library: the HTTP API through `app().oneshot()` (no
//! port bound) and config as code, each run against SQLite and, when configured, PostgreSQL.

mod admin_tools;
mod agent;
mod api_behaviour;
mod call_cost;
mod coaching;
mod common;
mod config_as_code;
mod conversations;
mod guided_paraphrases;
mod health;
mod hostile_input;
mod ivr_speech;
mod live;
mod llm;
mod llm_warm_up;
mod payments;
mod provision;
mod queue_stats;
mod recordings;
mod replay;
mod role_matrix;
mod webhooks;
mod workspace;
