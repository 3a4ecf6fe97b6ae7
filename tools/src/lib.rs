//! The tools AI agents can call: the `Tool` contract (name, description, JSON-schema
//! parameters, async invoke with a timeout), the built-in commerce tools and merchant webhooks.
//!
//! Status: the crate boundary exists; tools land with the AI agent issue. Their configuration
//! (tool definitions) is already part of the orchestrator's model.
