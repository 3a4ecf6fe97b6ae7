//! Call-control tools: `transfer` (to a person, with a summary for them), `take_message` (to
//! voicemail) and `end_call`. The tools check and acknowledge the request; the agent runtime,
//! which owns the call, carries it out once the agent's reply has been spoken.

use crate::{CallContext, Tool, ToolError, ToolFuture, ToolSpec};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// What the runtime is asked to do with the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControlRequest {
    /// Hand the caller to a person: the agent's escalation target unless a destination is given.
    Transfer { summary: String, reason: Option<String>, extension: Option<String>, number: Option<String> },
    /// Let the caller leave a message.
    TakeMessage { summary: String },
    /// Say goodbye and hang up.
    EndCall { reason: Option<String> },
}

impl ControlRequest {
    /// The request a successful call of a control tool stands for (`None` for other tools).
    pub fn from_call(tool: &str, args: &Value) -> Option<ControlRequest> {
        let text = |k: &str| args.get(k).and_then(Value::as_str).map(str::to_string);
        match tool {
            "transfer" => Some(ControlRequest::Transfer {
                summary: text("summary").unwrap_or_default(),
                reason: text("reason"),
                extension: text("extension"),
                number: text("number"),
            }),
            "take_message" => {
                Some(ControlRequest::TakeMessage { summary: text("summary").unwrap_or_default() })
            }
            "end_call" => Some(ControlRequest::EndCall { reason: text("reason") }),
            _ => None,
        }
    }
}

struct Control {
    spec: ToolSpec,
}

impl Tool for Control {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn invoke<'a>(&'a self, args: Value, _ctx: &'a CallContext) -> ToolFuture<'a> {
        Box::pin(async move {
            if self.spec.name == "transfer" {
                let text = |k: &str| args.get(k).and_then(Value::as_str);
                if text("extension").is_some() && text("number").is_some() {
                    return Err(ToolError::Failed("give an extension or a number, not both".into()));
                }
                if text("extension").is_some_and(|e| !is_extension(e)) {
                    return Err(ToolError::Failed(
                        "an extension is 2 to 6 digits, not starting with 0".into(),
                    ));
                }
                if text("number").is_some_and(|n| !is_e164(n)) {
                    return Err(ToolError::Failed("a number must be E.164, such as +15551234567".into()));
                }
            }
            Ok(json!({"status": "accepted", "note": "finish your sentence; the call continues as requested"}))
        })
    }
}

fn is_extension(e: &str) -> bool {
    (2..=6).contains(&e.len()) && e.bytes().all(|b| b.is_ascii_digit()) && !e.starts_with('0')
}

fn is_e164(n: &str) -> bool {
    let digits = n.strip_prefix('+').unwrap_or("");
    (7..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0')
}

fn spec(name: &str, description: &str, parameters: Value) -> ToolSpec {
    ToolSpec {
        name: name.into(),
        description: description.into(),
        parameters,
        timeout: Duration::from_secs(1),
        cancel_on_interruption: false,
    }
}

/// The three call-control tools.
pub fn tools() -> Vec<Arc<dyn Tool>> {
    let summary = json!({"type": "string", "minLength": 1, "maxLength": 600,
        "description": "One or two sentences for the person who takes over: who calls and what they need."});
    let make = |spec| Arc::new(Control { spec }) as Arc<dyn Tool>;
    vec![
        make(spec(
            "transfer",
            "Hands the caller to a person. Use when the caller asks for a person or you cannot help. \
             Without a destination the call goes to the team that handles escalations.",
            json!({"type": "object", "additionalProperties": false, "required": ["summary"],
            "properties": {
                "summary": summary,
                "reason": {"type": "string", "maxLength": 200},
                "extension": {"type": "string", "minLength": 2, "maxLength": 6,
                    "description": "An agent's extension, when the caller asked for someone."},
                "number": {"type": "string", "minLength": 8, "maxLength": 16,
                    "description": "An outside number in E.164 form (+15551234567)."}
            }}),
        )),
        make(spec(
            "take_message",
            "Lets the caller leave a message for the team (voicemail) when nobody can take the call now.",
            json!({"type": "object", "additionalProperties": false, "required": ["summary"],
                "properties": {"summary": summary}}),
        )),
        make(spec(
            "end_call",
            "Ends the call after you have said goodbye, when the caller has nothing else.",
            json!({"type": "object", "additionalProperties": false,
                "properties": {"reason": {"type": "string", "maxLength": 200}}}),
        )),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn control_tools_check_their_arguments_and_name_the_request() {
        let tools = tools();
        let transfer = tools.iter().find(|t| t.spec().name == "transfer").unwrap();
        let ctx = CallContext::default();
        let ok = crate::call(
            transfer.as_ref(),
            json!({"summary": "Pat wants a refund", "extension": "101"}),
            &ctx,
        )
        .await;
        assert!(ok.outcome.is_ok());
        assert_eq!(
            ControlRequest::from_call("transfer", &ok.arguments),
            Some(ControlRequest::Transfer {
                summary: "Pat wants a refund".into(),
                reason: None,
                extension: Some("101".into()),
                number: None
            })
        );
        let missing = crate::call(transfer.as_ref(), json!({"extension": "101"}), &ctx).await;
        assert!(matches!(missing.outcome, Err(ToolError::BadArguments(_))), "summary is required");
        let bad = crate::call(transfer.as_ref(), json!({"summary": "x", "number": "0800"}), &ctx).await;
        assert!(matches!(bad.outcome, Err(ToolError::BadArguments(_))), "too short for a number");
        let local =
            crate::call(transfer.as_ref(), json!({"summary": "x", "number": "5555550100"}), &ctx).await;
        assert!(matches!(local.outcome, Err(ToolError::Failed(_))), "numbers are E.164");
        let both = crate::call(
            transfer.as_ref(),
            json!({"summary": "x", "number": "+15555550100", "extension": "101"}),
            &ctx,
        )
        .await;
        assert!(matches!(both.outcome, Err(ToolError::Failed(_))));
        assert_eq!(ControlRequest::from_call("lookup_order", &json!({})), None);
        let end = tools.iter().find(|t| t.spec().name == "end_call").unwrap();
        assert!(crate::call(end.as_ref(), json!({}), &ctx).await.outcome.is_ok());
    }
}
