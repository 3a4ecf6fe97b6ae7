//! Replaying recorded AI calls through an agent's current configuration, before a change is
//! trusted: the caller's turns of a call (its transcript) are said again, one by one, to a
//! fresh session of the agent as it is configured now, and each turn shows what the agent said
//! and did then and what it says and does now (tool calls with their arguments, and where the
//! call would go). Nothing is written to any call record. Tools that only read the store run
//! for real; a merchant's webhook is not called (it may change something): it answers with what
//! it answered on the recorded call for the same arguments, or says it was not run.

use super::{Next, Session, SessionSetup};
use crate::db::Db;
use crate::store::calls::{self, CallDetail};
use serde::Serialize;
use serde_json::{json, Value};
use std::sync::Arc;
use switchboard_tools::{CallContext, Tool, ToolError, ToolFuture, ToolSpec};

/// A tool call as a turn shows it.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ToolUse {
    pub tool: String,
    pub arguments: Value,
}

/// What the agent said and did in one turn.
#[derive(Debug, Clone, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Did {
    pub said: String,
    pub tools: Vec<ToolUse>,
    /// Where the call went after the turn (`transfer`, `take_message`, `hang_up`, `fallback`),
    /// with its target or reason; absent when the agent kept listening.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ReplayTurn {
    /// What the caller said.
    pub caller: String,
    pub then: Did,
    /// None when the replayed call ended before this turn.
    pub now: Option<Did>,
    /// The tools called (with their arguments) or where the call went differ.
    pub acts_differently: bool,
    /// The words differ (beyond case and punctuation).
    pub says_differently: bool,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Replay {
    pub call_id: i64,
    pub agent: String,
    pub greeting_then: String,
    pub greeting_now: String,
    pub turns: Vec<ReplayTurn>,
    /// One line a merchant can read: how many turns would go differently.
    pub summary: String,
}

/// Why a call cannot be replayed.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error(transparent)]
    Store(#[from] crate::Error),
    #[error("call {0} was not taken by an AI agent (name one to replay it with)")]
    NoAgent(i64),
    #[error("call {0} has no caller turns in its transcript")]
    NothingSaid(i64),
    #[error("the agent cannot start: {0}")]
    Setup(String),
}

/// The recorded turns of a call, from its timeline: each answered turn (`ai_turn`: what the
/// caller said and the reply) with the tool calls and the outcome recorded since the turn
/// before; and the greeting (the AI's transcript lines before the caller first spoke). A turn
/// whose answer the caller cut short by going on speaking is replayed as the words finally
/// answered (its tool calls count toward that turn).
pub fn recorded_turns(detail: &CallDetail) -> (String, Vec<(String, Did)>) {
    let greeting: Vec<&str> = detail
        .transcript
        .iter()
        .take_while(|l| l.speaker != "caller")
        .filter(|l| l.speaker == "ai")
        .map(|l| l.text.as_str())
        .collect();
    let mut turns = Vec::new();
    let mut pending = Did::default();
    for e in &detail.timeline {
        match e.kind.as_str() {
            "tool_call" => pending.tools.push(ToolUse {
                tool: e.data["tool"].as_str().unwrap_or_default().to_string(),
                arguments: e.data["arguments"].clone(),
            }),
            "handoff" => pending.outcome = Some(format!("transfer to {}", e.data["target"])),
            "take_message" => pending.outcome = Some("take a message".into()),
            "end_call" => pending.outcome = Some("hang up".into()),
            "ai_fallback" => {
                pending.outcome = Some(format!("fallback ({})", e.data["reason"].as_str().unwrap_or("?")))
            }
            "ai_turn" => {
                let mut did = std::mem::take(&mut pending);
                did.said = e.data["reply"].as_str().unwrap_or_default().to_string();
                turns.push((e.data["caller"].as_str().unwrap_or_default().to_string(), did));
            }
            _ => {}
        }
    }
    // What happened after the last answered turn (a fallback when the model failed) is its.
    if let Some((_, last)) = turns.last_mut() {
        last.tools.append(&mut pending.tools);
        if pending.outcome.is_some() {
            last.outcome = pending.outcome;
        }
    }
    (greeting.join(" "), turns)
}

fn outcome(next: &Next) -> Option<String> {
    match next {
        Next::Listen => None,
        Next::Transfer { target, .. } => Some(format!("transfer to {}", json!(target))),
        Next::TakeMessage { .. } => Some("take a message".into()),
        Next::Hangup { .. } => Some("hang up".into()),
        Next::Fallback { reason, .. } => Some(format!("fallback ({reason})")),
    }
}

/// Words only: case, punctuation and spacing do not count as a difference.
fn words(s: &str) -> String {
    s.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Stands in for a tool that is not run during a replay: the recorded result for the same
/// arguments, else a refusal the agent can talk around.
struct StandIn {
    spec: ToolSpec,
    recorded: Vec<(Value, Value)>,
}

impl Tool for StandIn {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn invoke<'a>(&'a self, args: Value, _ctx: &'a CallContext) -> ToolFuture<'a> {
        let found = self.recorded.iter().find(|(a, _)| *a == args).map(|(_, r)| r.clone());
        Box::pin(async move {
            found.ok_or_else(|| ToolError::Failed("not run during a replay (a merchant webhook)".into()))
        })
    }
}

impl Session {
    /// Replaces the merchant's webhook tools (`webhooks`, by name) by stand-ins that answer
    /// from `recorded` (tool, arguments, result).
    fn stand_in_for_webhooks(&mut self, webhooks: &[String], recorded: &[(String, Value, Value)]) {
        for tool in self.tools.iter_mut() {
            let name = tool.spec().name.clone();
            if !webhooks.contains(&name) {
                continue;
            }
            let mine = recorded.iter().filter(|(t, _, _)| *t == name).map(|(_, a, r)| (a.clone(), r.clone()));
            *tool = Arc::new(StandIn { spec: tool.spec().clone(), recorded: mine.collect() });
        }
    }
}

/// Replays call `call_id` of `account` with `agent` (default: the agent that took it).
pub async fn replay(db: &Db, account: i64, call_id: i64, agent: Option<&str>) -> Result<Replay, ReplayError> {
    let detail = calls::get(db, account, call_id, None).await?;
    let agent = match agent.map(str::to_string).or_else(|| detail.record.ai_agent.clone()) {
        Some(a) => a,
        None => return Err(ReplayError::NoAgent(call_id)),
    };
    let (greeting_then, recorded) = recorded_turns(&detail);
    if recorded.is_empty() {
        return Err(ReplayError::NothingSaid(call_id));
    }
    let results: Vec<(String, Value, Value)> = detail
        .timeline
        .iter()
        .filter(|e| e.kind == "tool_call" && !e.data["result"].is_null())
        .map(|e| {
            let tool = e.data["tool"].as_str().unwrap_or_default().to_string();
            (tool, e.data["arguments"].clone(), e.data["result"].clone())
        })
        .collect();
    let caller = crate::calls::planner::as_e164(&detail.record.from_number);
    let setup = SessionSetup {
        db: db.clone(),
        records: calls::RecordWriter::start(db.clone()),
        account,
        agent: agent.clone(),
        caller_number: caller,
        record: None,
    };
    let mut session = Session::start(setup).await.map_err(|e| ReplayError::Setup(e.to_string()))?;
    // The agent's tools that the merchant defined as webhooks (a definition may reuse a
    // built-in's name): not called during a replay.
    let mut webhooks = Vec::new();
    for name in &session.agent.tools {
        let def = crate::store::config::get_by_key::<crate::model::ToolDefinition>(db, account, name).await?;
        if def.is_some_and(|d| {
            !matches!(d.spec.implementation, crate::model::ToolImplementation::Builtin { .. })
        }) {
            webhooks.push(name.clone());
        }
    }
    session.stand_in_for_webhooks(&webhooks, &results);
    let mut events = session.observe();
    let greeting_now = session.greeting();
    let mut turns = Vec::new();
    let mut ended = false;
    for (caller, then) in recorded {
        if ended {
            turns.push(ReplayTurn {
                caller,
                then,
                now: None,
                acts_differently: true,
                says_differently: true,
            });
            continue;
        }
        let (say, mut said_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
        let next = session.respond(&caller, &say).await;
        drop(say);
        let mut said = Vec::new();
        while let Ok(s) = said_rx.try_recv() {
            said.push(s);
        }
        let mut tools = Vec::new();
        while let Ok((kind, data)) = events.try_recv() {
            if kind == "tool_call" {
                let tool = data["tool"].as_str().unwrap_or_default().to_string();
                tools.push(ToolUse { tool, arguments: data["arguments"].clone() });
            }
        }
        let now = Did { said: said.join(" "), tools, outcome: outcome(&next) };
        ended = next != Next::Listen;
        turns.push(ReplayTurn {
            acts_differently: now.tools != then.tools || now.outcome != then.outcome,
            says_differently: words(&now.said) != words(&then.said),
            caller,
            then,
            now: Some(now),
        });
    }
    let acting = turns.iter().filter(|t| t.acts_differently).count();
    let saying = turns.iter().filter(|t| t.says_differently && !t.acts_differently).count();
    let summary = match (acting, saying) {
        (0, 0) => format!("All {} turns would go as they did.", turns.len()),
        (0, s) => {
            format!("{s} of {} turns would be worded differently; the agent would do the same.", turns.len())
        }
        (a, s) => format!(
            "{a} of {} turns would go differently (other tools, arguments or destination){}.",
            turns.len(),
            if s > 0 { format!("; {s} more would be worded differently") } else { String::new() }
        ),
    };
    Ok(Replay { call_id, agent, greeting_then, greeting_now, turns, summary })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_ignore_case_and_punctuation() {
        assert_eq!(words("Sure, order #1002 has SHIPPED!"), "sure order 1002 has shipped");
        assert_eq!(words("Sure order 1002 has shipped"), words("sure, order 1002, has shipped."));
    }

    #[tokio::test]
    async fn a_webhook_stand_in_answers_only_what_was_recorded() {
        let spec = ToolSpec {
            name: "refund".into(),
            description: "Refunds an order".into(),
            parameters: json!({"type": "object"}),
            timeout: std::time::Duration::from_secs(1),
            cancel_on_interruption: false,
        };
        let recorded = vec![(json!({"order": "1002"}), json!({"refunded": true}))];
        let tool = StandIn { spec, recorded };
        let ctx = CallContext::default();
        assert_eq!(tool.invoke(json!({"order": "1002"}), &ctx).await.unwrap(), json!({"refunded": true}));
        let other = tool.invoke(json!({"order": "1003"}), &ctx).await.unwrap_err();
        assert!(other.to_string().contains("not run during a replay"), "{other}");
    }
}
