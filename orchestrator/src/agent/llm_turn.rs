//! One caller turn answered by an LLM: the model's answer streams out sentence by sentence; the
//! tools it asks for (after a supervisor's approval where the agent requires one) run together
//! and their results go back to it, for up to `MAX_ROUNDS` rounds; a call-control tool ends the
//! turn with what the call does next; a model that does not answer in time ends it with the
//! fallback.

use super::{tool_call_data, Brain, Next, Session, MAX_ROUNDS};
use crate::llm::{ChatMessage, ChatRequest, LlmEvent, Role, ToolCallRequest, ToolDecl};
use crate::prompt;
use futures_util::StreamExt;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;
use switchboard_speech::text::SentenceChunker;
use switchboard_tools::control::ControlRequest;
use switchboard_tools::{CallContext, Tool, ToolCall, ToolError};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// What one request to the model gave: its text (already spoken) and the tools it asked for.
struct Reply {
    text: String,
    calls: Vec<ToolCallRequest>,
}

impl Session {
    pub(super) async fn respond_llm(&mut self, say: &mpsc::UnboundedSender<String>) -> Next {
        let decls: Vec<ToolDecl> = super::warm_up::declare(&self.tools);
        let mut spoke = false;
        for _ in 0..MAX_ROUNDS {
            let Reply { text, calls } = match self.stream_reply(&decls, say, &mut spoke).await {
                Ok(reply) => reply,
                Err(next) => return next,
            };
            if !text.trim().is_empty() {
                self.transcript("ai", &text, None);
            }
            self.history
                .push(ChatMessage { tool_calls: calls.clone(), ..ChatMessage::new(Role::Assistant, text) });
            if calls.is_empty() {
                return Next::Listen;
            }
            let refused = self.approve(&calls, say, &mut spoke).await;
            self.notify(
                "tools_started",
                json!({ "tools": calls.iter().map(|c| c.name.clone()).collect::<Vec<_>>() }),
            );
            // The model's tool calls run together; each result goes back to it.
            let runs = calls.iter().map(|c| self.run_tool(c, refused.get(&c.id).cloned()));
            let results = futures_util::future::join_all(runs).await;
            let mut control = None;
            for (request, result) in calls.iter().zip(&results) {
                self.record_tool_call(result);
                let mut message = ChatMessage::new(Role::Tool, result.for_model().to_string());
                message.tool_call_id = Some(request.id.clone());
                self.history.push(message);
                if result.outcome.is_ok() {
                    control = control.or_else(|| ControlRequest::from_call(&result.tool, &result.arguments));
                }
            }
            if let Some(outage) =
                results.iter().find_map(|r| r.outcome.as_ref().err().filter(|e| e.is_outage()))
            {
                return self.fail(&format!("tool outage: {outage}"));
            }
            if let Some(request) = control {
                if !spoke {
                    let line = match request {
                        ControlRequest::Transfer { .. } => "Let me connect you with a colleague.",
                        ControlRequest::TakeMessage { .. } => "Please leave your message after the tone.",
                        ControlRequest::EndCall { .. } => "Thank you for calling. Goodbye!",
                    };
                    self.history.push(ChatMessage::new(Role::Assistant, line));
                    self.transcript("ai", line, None);
                    self.say(say, line.to_string());
                }
                return self.control(request);
            }
        }
        self.fail("the LLM kept calling tools without answering")
    }

    /// Asks the model once and speaks its text as it streams in, sentence by sentence. A model
    /// that does not start in time, stalls or fails ends the turn (`Err`: the fallback).
    async fn stream_reply(
        &mut self,
        decls: &[ToolDecl],
        say: &mpsc::UnboundedSender<String>,
        spoke: &mut bool,
    ) -> Result<Reply, Next> {
        let Brain::Llm { client, model, temperature, limits: (first_token, stall), .. } = &self.brain else {
            unreachable!("checked by the caller")
        };
        let (client, first_token, stall) = (client.clone(), *first_token, *stall);
        let request = ChatRequest {
            model: model.clone(),
            messages: prompt::messages(&self.agent, &self.facts, &self.guidance, &self.history),
            tools: decls.to_vec(),
            temperature: Some(*temperature),
            max_tokens: None,
        };
        let mut stream = client.stream(request);
        let mut chunker = SentenceChunker::clause_first();
        let mut reply = Reply { text: String::new(), calls: Vec::new() };
        let mut started = false;
        loop {
            let limit = if started { stall } else { first_token };
            let event = match tokio::time::timeout(limit, stream.next()).await {
                Err(_) if started => return Err(self.fail("the LLM stopped answering mid-reply")),
                Err(_) => {
                    return Err(self.fail(&format!("the LLM did not answer within {} ms", limit.as_millis())))
                }
                Ok(None) => break,
                Ok(Some(Err(e))) => return Err(self.fail(&e.to_string())),
                Ok(Some(Ok(event))) => event,
            };
            if !started {
                started = true;
                self.times.first_token.get_or_insert_with(Instant::now);
            }
            match event {
                LlmEvent::Text(t) => {
                    reply.text.push_str(&t);
                    for s in chunker.push(&t) {
                        *spoke = true;
                        self.say(say, s);
                    }
                }
                LlmEvent::ToolCall(c) => reply.calls.push(c),
                LlmEvent::Done { usage, .. } => {
                    self.usage.prompt_tokens += usage.prompt_tokens;
                    self.usage.completion_tokens += usage.completion_tokens;
                }
            }
        }
        if let Some(rest) = chunker.finish() {
            *spoke = true;
            self.say(say, rest);
        }
        Ok(reply)
    }

    /// Tools that need a supervisor's approval wait for it (the caller is told, unless the model
    /// already said something); what comes back is the refused calls, by id, with why.
    async fn approve(
        &mut self,
        calls: &[ToolCallRequest],
        say: &mpsc::UnboundedSender<String>,
        spoke: &mut bool,
    ) -> HashMap<String, String> {
        let mut refused = HashMap::new();
        for c in calls {
            if !self.needs_approval.contains(&c.name) {
                continue;
            }
            if !*spoke {
                *spoke = true;
                let line = "One moment while I check that with a colleague.";
                self.transcript("ai", line, None);
                self.say(say, line.to_string());
            }
            if let Err(why) = self.approval(&c.name, &c.arguments).await {
                refused.insert(c.id.clone(), why);
            }
        }
        refused
    }

    /// Runs one tool call the model asked for (or says why it was not run). A tool that an
    /// interruption must not cancel runs on its own task, to its end.
    fn run_tool(
        &self,
        c: &ToolCallRequest,
        refusal: Option<String>,
    ) -> impl std::future::Future<Output = ToolCall> + 'static {
        let tool = self.tools.iter().find(|t| t.spec().name == c.name).cloned();
        let (ctx, records, record) = (self.ctx.clone(), self.records.clone(), self.record);
        let (name, arguments) = (c.name.clone(), c.arguments.clone());
        async move {
            let args: Result<Value, _> =
                serde_json::from_str(if arguments.trim().is_empty() { "{}" } else { &arguments });
            let not_run = |arguments: Value, error: ToolError| ToolCall {
                tool: name.clone(),
                arguments,
                outcome: Err(error),
                duration_ms: 0,
            };
            if let Some(why) = refusal {
                return not_run(args.unwrap_or(Value::Null), ToolError::Failed(why));
            }
            match (tool, args) {
                (Some(tool), Ok(args)) if tool.spec().cancel_on_interruption => {
                    switchboard_tools::call(tool.as_ref(), args, &ctx).await
                }
                (Some(tool), Ok(args)) => {
                    // Runs to its end even if the caller interrupts and the answer is dropped;
                    // then it records itself in the timeline.
                    let rx = run_to_end(tool, args, ctx, move |call| {
                        if let Some(key) = record {
                            records.event(key, "tool_call", tool_call_data(&call));
                        }
                    });
                    rx.await.unwrap_or_else(|_| {
                        not_run(Value::Null, ToolError::Failed("the tool stopped".into()))
                    })
                }
                (None, args) => not_run(args.unwrap_or(Value::Null), ToolError::Unknown(name.clone())),
                (Some(_), Err(e)) => not_run(
                    Value::String(arguments.clone()),
                    ToolError::Failed(format!("the arguments are not JSON: {e}")),
                ),
            }
        }
    }
}

/// Runs a tool on its own task; its result comes back on the channel, or goes to `unheard` when
/// nobody waits for it any more.
fn run_to_end(
    tool: Arc<dyn Tool>,
    args: Value,
    ctx: CallContext,
    unheard: impl FnOnce(ToolCall) + Send + 'static,
) -> tokio::sync::oneshot::Receiver<ToolCall> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let call = switchboard_tools::call(tool.as_ref(), args, &ctx).await;
        if let Err(call) = tx.send(call) {
            unheard(call);
        }
    });
    rx
}
