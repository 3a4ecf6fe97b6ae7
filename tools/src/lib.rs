//! The tools AI agents can call: the [`Tool`] contract (name, description, JSON-schema
//! parameters, async invoke with a timeout, whether an interruption cancels it), argument
//! checking before any tool runs ([`schema`]), and [`call`], which runs a tool the way the agent
//! runtime must: checked, timed out, and recorded for the call's timeline. Built-in commerce
//! tools and merchant webhooks implement the contract (with the AI agent issue); the commerce
//! data comes through a store trait the orchestrator implements, so this crate never knows the
//! database.

pub mod commerce;
pub mod control;
pub mod schema;
pub mod webhook;

use serde_json::{json, Value};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// What a tool is, as the model sees it, and how it runs.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    /// JSON Schema of the arguments (an object schema).
    pub parameters: Value,
    /// The longest a call may take.
    pub timeout: Duration,
    /// A caller interrupting the agent cancels a running call.
    pub cancel_on_interruption: bool,
}

/// Who the tool works for: the call it runs in.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CallContext {
    pub account: i64,
    /// The caller's number (E.164) when known.
    pub caller_number: Option<String>,
    /// The customer the call was matched to, if any.
    pub customer_id: Option<i64>,
}

/// Errors of a tool call. Each has a structured form for the model ([`ToolError::for_model`]).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ToolError {
    #[error("no tool named {0}")]
    Unknown(String),
    #[error("bad arguments: {}", .0.iter().map(|p| format!("{} {}", p.path, p.message)).collect::<Vec<_>>().join("; "))]
    BadArguments(Vec<schema::Problem>),
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("{0}")]
    Failed(String),
    /// What the tool depends on is down (a store that cannot be read, a webhook that keeps
    /// failing): an outage, not an answer.
    #[error("unavailable: {0}")]
    Unavailable(String),
}

impl ToolError {
    /// The error as the model gets it back, so it can correct itself or tell the caller.
    pub fn for_model(&self) -> Value {
        match self {
            ToolError::Unknown(name) => json!({"error": "unknown_tool", "tool": name}),
            ToolError::BadArguments(problems) => json!({
                "error": "invalid_arguments",
                "problems": problems.iter().map(|p| json!({"path": p.path, "message": p.message})).collect::<Vec<_>>(),
            }),
            ToolError::Timeout(d) => json!({"error": "timeout", "after_ms": d.as_millis() as u64}),
            ToolError::Failed(message) => json!({"error": "failed", "message": message}),
            ToolError::Unavailable(message) => json!({"error": "unavailable", "message": message}),
        }
    }

    /// The tool could not run because something it needs is down (timeouts included), as
    /// opposed to a refusal or a bad request the model can fix.
    pub fn is_outage(&self) -> bool {
        matches!(self, ToolError::Timeout(_) | ToolError::Unavailable(_))
    }
}

pub type ToolFuture<'a> = Pin<Box<dyn Future<Output = Result<Value, ToolError>> + Send + 'a>>;

/// A tool an AI agent can call.
pub trait Tool: Send + Sync {
    fn spec(&self) -> &ToolSpec;
    /// Runs with arguments already checked against the schema.
    fn invoke<'a>(&'a self, args: Value, ctx: &'a CallContext) -> ToolFuture<'a>;
}

/// One tool call, as the call's timeline keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    pub tool: String,
    pub arguments: Value,
    pub outcome: Result<Value, ToolError>,
    pub duration_ms: u64,
}

impl ToolCall {
    /// What goes back to the model: the result, or the structured error.
    pub fn for_model(&self) -> Value {
        match &self.outcome {
            Ok(v) => v.clone(),
            Err(e) => e.for_model(),
        }
    }
}

/// Runs `tool`: arguments are checked first (a bad call never reaches the tool), the call is
/// bounded by the tool's timeout, and the whole of it is returned for the timeline.
pub async fn call(tool: &dyn Tool, args: Value, ctx: &CallContext) -> ToolCall {
    let spec = tool.spec();
    let started = tokio::time::Instant::now();
    let problems = schema::check(&args, &spec.parameters);
    let outcome = if !problems.is_empty() {
        Err(ToolError::BadArguments(problems))
    } else {
        match tokio::time::timeout(spec.timeout, tool.invoke(args.clone(), ctx)).await {
            Ok(result) => result,
            Err(_) => Err(ToolError::Timeout(spec.timeout)),
        }
    };
    ToolCall {
        tool: spec.name.clone(),
        arguments: args,
        outcome,
        duration_ms: started.elapsed().as_millis() as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Looks an order up in a fixed table after `delay`; counts its runs.
    struct Orders {
        spec: ToolSpec,
        delay: Duration,
        runs: AtomicUsize,
    }

    impl Orders {
        fn new(delay_ms: u64) -> Self {
            Orders {
                spec: ToolSpec {
                    name: "lookup_order".into(),
                    description: "Finds an order by its number".into(),
                    parameters: json!({"type": "object", "required": ["order_number"],
                        "properties": {"order_number": {"type": "string", "minLength": 3}}}),
                    timeout: Duration::from_millis(200),
                    cancel_on_interruption: true,
                },
                delay: Duration::from_millis(delay_ms),
                runs: AtomicUsize::new(0),
            }
        }
    }

    impl Tool for Orders {
        fn spec(&self) -> &ToolSpec {
            &self.spec
        }

        fn invoke<'a>(&'a self, args: Value, ctx: &'a CallContext) -> ToolFuture<'a> {
            Box::pin(async move {
                self.runs.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(self.delay).await;
                match args["order_number"].as_str() {
                    Some("1042") => Ok(json!({"status": "shipped", "account": ctx.account})),
                    Some(n) => Err(ToolError::Failed(format!("no order {n}"))),
                    None => unreachable!("checked against the schema"),
                }
            })
        }
    }

    #[tokio::test(start_paused = true)]
    async fn checked_timed_and_recorded() {
        let ctx = CallContext { account: 7, ..Default::default() };
        let tool = Orders::new(10);
        let ok = call(&tool, json!({"order_number": "1042"}), &ctx).await;
        assert_eq!(ok.outcome, Ok(json!({"status": "shipped", "account": 7})));
        assert_eq!(ok.duration_ms, 10);
        // A bad call is answered with the problems and never reaches the tool.
        let bad = call(&tool, json!({"order": 1042}), &ctx).await;
        assert_eq!(bad.for_model()["error"], "invalid_arguments");
        assert_eq!(bad.for_model()["problems"][0]["path"], "/order_number");
        assert_eq!(tool.runs.load(Ordering::SeqCst), 1);
        // A tool's own failure and a timeout come back structured, too.
        let missing = call(&tool, json!({"order_number": "9999"}), &ctx).await;
        assert_eq!(missing.for_model(), json!({"error": "failed", "message": "no order 9999"}));
        let slow = call(&Orders::new(5_000), json!({"order_number": "1042"}), &ctx).await;
        assert_eq!(slow.outcome, Err(ToolError::Timeout(Duration::from_millis(200))));
        assert_eq!(slow.for_model()["error"], "timeout");
    }
}
