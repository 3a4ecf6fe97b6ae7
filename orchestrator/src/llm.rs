//! The brain of LLM agents: an `LlmClient` contract with streaming text and tool calls, and its
//! implementation for any OpenAI-compatible chat-completions endpoint (OpenAI, vLLM, Ollama,
//! llama.cpp server). Server-sent events are parsed as they arrive; tool calls, which arrive as
//! fragments (several in parallel), are assembled and emitted whole; token usage is reported at
//! the end; a request that fails before any output is retried with back-off.

use futures_util::StreamExt;
use serde_json::{json, Value};
use std::pin::Pin;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    System,
    User,
    Assistant,
    Tool,
}

/// A tool call the model asked for: its id, the tool, and the arguments as JSON text.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ToolCallRequest {
    pub id: String,
    pub name: String,
    pub arguments: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChatMessage {
    pub role: Role,
    pub content: String,
    /// For assistant messages that called tools.
    pub tool_calls: Vec<ToolCallRequest>,
    /// For tool results: which call this answers.
    pub tool_call_id: Option<String>,
}

impl ChatMessage {
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        ChatMessage { role, content: content.into(), tool_calls: Vec::new(), tool_call_id: None }
    }
}

/// A tool as the model is told about it.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolDecl {
    pub name: String,
    pub description: String,
    pub parameters: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChatRequest {
    pub model: String,
    pub messages: Vec<ChatMessage>,
    pub tools: Vec<ToolDecl>,
    pub temperature: Option<f32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum LlmEvent {
    /// More of the answer's text.
    Text(String),
    /// A complete tool call.
    ToolCall(ToolCallRequest),
    /// The answer is over.
    Done { finish_reason: String, usage: Usage },
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LlmError {
    #[error("LLM request failed: {0}")]
    Request(String),
    #[error("LLM answered HTTP {status}: {message}")]
    Status { status: u16, message: String },
    #[error("LLM stream broken: {0}")]
    Stream(String),
}

pub type LlmStream = Pin<Box<dyn futures_util::Stream<Item = Result<LlmEvent, LlmError>> + Send>>;

pub trait LlmClient: Send + Sync {
    fn stream(&self, request: ChatRequest) -> LlmStream;
}

/// Any OpenAI-compatible `/chat/completions` endpoint.
#[derive(Clone)]
pub struct OpenAiCompatible {
    pub base_url: String,
    pub api_key: Option<String>,
    pub retries: u32,
    pub http: reqwest::Client,
}

impl OpenAiCompatible {
    pub fn new(base_url: &str, api_key: Option<String>) -> Self {
        OpenAiCompatible {
            base_url: base_url.trim_end_matches('/').to_string(),
            api_key,
            retries: 2,
            http: reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(5))
                .build()
                .unwrap_or_default(),
        }
    }
}

fn body(r: &ChatRequest) -> Value {
    let messages: Vec<Value> = r
        .messages
        .iter()
        .map(|m| {
            let role = match m.role {
                Role::System => "system",
                Role::User => "user",
                Role::Assistant => "assistant",
                Role::Tool => "tool",
            };
            let mut v = json!({"role": role, "content": m.content});
            if !m.tool_calls.is_empty() {
                v["tool_calls"] = m
                    .tool_calls
                    .iter()
                    .map(|c| json!({"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}))
                    .collect();
            }
            if let Some(id) = &m.tool_call_id {
                v["tool_call_id"] = json!(id);
            }
            v
        })
        .collect();
    let mut b = json!({"model": r.model, "messages": messages, "stream": true, "stream_options": {"include_usage": true}});
    if !r.tools.is_empty() {
        b["tools"] = r
            .tools
            .iter()
            .map(|t| json!({"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.parameters}}))
            .collect();
    }
    if let Some(t) = r.temperature {
        b["temperature"] = json!(t);
    }
    b
}

/// Assembles streamed chat-completion chunks into events.
#[derive(Default)]
pub struct ChunkParser {
    /// Raw bytes up to the next line end (a chunk may end inside a UTF-8 character).
    buffer: Vec<u8>,
    calls: Vec<ToolCallRequest>,
    finish_reason: Option<String>,
    usage: Usage,
}

impl ChunkParser {
    /// Feeds bytes of the event stream; returns the events they completed.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<Vec<LlmEvent>, LlmError> {
        self.buffer.extend_from_slice(bytes);
        let mut out = Vec::new();
        while let Some(end) = self.buffer.iter().position(|&b| b == b'\n') {
            let raw: Vec<u8> = self.buffer.drain(..=end).collect();
            let line = String::from_utf8_lossy(&raw);
            let line = line.trim();
            let Some(data) = line.strip_prefix("data:") else { continue };
            let data = data.trim();
            if data == "[DONE]" {
                out.extend(self.finish());
                continue;
            }
            let chunk: Value =
                serde_json::from_str(data).map_err(|e| LlmError::Stream(format!("bad chunk: {e}")))?;
            if let Some(u) = chunk.get("usage").filter(|u| u.is_object()) {
                self.usage = Usage {
                    prompt_tokens: u["prompt_tokens"].as_u64().unwrap_or(0),
                    completion_tokens: u["completion_tokens"].as_u64().unwrap_or(0),
                };
            }
            for choice in chunk["choices"].as_array().into_iter().flatten() {
                let delta = &choice["delta"];
                if let Some(text) = delta["content"].as_str().filter(|t| !t.is_empty()) {
                    out.push(LlmEvent::Text(text.to_string()));
                }
                for call in delta["tool_calls"].as_array().into_iter().flatten() {
                    let i = call["index"].as_u64().unwrap_or(0) as usize;
                    if self.calls.len() <= i {
                        self.calls.resize(i + 1, ToolCallRequest::default());
                    }
                    let c = &mut self.calls[i];
                    if let Some(id) = call["id"].as_str() {
                        c.id = id.to_string();
                    }
                    if let Some(name) = call["function"]["name"].as_str() {
                        c.name.push_str(name);
                    }
                    if let Some(args) = call["function"]["arguments"].as_str() {
                        c.arguments.push_str(args);
                    }
                }
                if let Some(reason) = choice["finish_reason"].as_str() {
                    self.finish_reason = Some(reason.to_string());
                }
            }
        }
        Ok(out)
    }

    fn finish(&mut self) -> Vec<LlmEvent> {
        let mut out: Vec<LlmEvent> =
            self.calls.drain(..).filter(|c| !c.name.is_empty()).map(LlmEvent::ToolCall).collect();
        out.push(LlmEvent::Done {
            finish_reason: self.finish_reason.take().unwrap_or_else(|| "stop".into()),
            usage: self.usage,
        });
        out
    }
}

impl LlmClient for OpenAiCompatible {
    fn stream(&self, request: ChatRequest) -> LlmStream {
        let this = self.clone();
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<LlmEvent, LlmError>>(64);
        tokio::spawn(async move {
            let url = format!("{}/chat/completions", this.base_url);
            let body = body(&request);
            let mut attempt = 0;
            let response = loop {
                let mut r = this.http.post(&url).json(&body);
                if let Some(k) = &this.api_key {
                    r = r.bearer_auth(k);
                }
                let outcome = match r.send().await {
                    Ok(resp) if resp.status().is_success() => Ok(resp),
                    Ok(resp) => {
                        let status = resp.status().as_u16();
                        let text = resp.text().await.unwrap_or_default();
                        let message = serde_json::from_str::<Value>(&text)
                            .ok()
                            .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
                            .unwrap_or_else(|| text.chars().take(200).collect());
                        Err((status == 429 || status >= 500, LlmError::Status { status, message }))
                    }
                    Err(e) => Err((true, LlmError::Request(e.without_url().to_string()))),
                };
                match outcome {
                    Ok(resp) => break resp,
                    Err((retry, e)) if retry && attempt < this.retries => {
                        attempt += 1;
                        tracing::warn!(error = %e, attempt, "LLM request failed; retrying");
                        tokio::time::sleep(Duration::from_millis(250 * (1 << attempt))).await;
                    }
                    Err((_, e)) => {
                        let _ = tx.send(Err(e)).await;
                        return;
                    }
                }
            };
            let mut parser = ChunkParser::default();
            let mut bytes = response.bytes_stream();
            let mut done = false;
            while let Some(chunk) = bytes.next().await {
                let events = match chunk {
                    Ok(b) => parser.feed(&b),
                    Err(e) => Err(LlmError::Stream(e.to_string())),
                };
                match events {
                    Ok(events) => {
                        for e in events {
                            done |= matches!(e, LlmEvent::Done { .. });
                            if tx.send(Ok(e)).await.is_err() {
                                return; // the listener went away (barge-in): stop reading
                            }
                        }
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e)).await;
                        return;
                    }
                }
            }
            if !done {
                let _ = tx.send(Err(LlmError::Stream("the stream ended before [DONE]".into()))).await;
            }
        });
        Box::pin(tokio_stream_from(rx))
    }
}

/// A receiver as a stream.
fn tokio_stream_from(
    mut rx: tokio::sync::mpsc::Receiver<Result<LlmEvent, LlmError>>,
) -> impl futures_util::Stream<Item = Result<LlmEvent, LlmError>> + Send {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_survive_any_split_of_the_byte_stream() {
        let body = concat!(
            "data: {\"choices\":[{\"delta\":{\"content\":\"Café \"}}]}\n\n",
            ": keep-alive comment\n\n",
            "data: {\"choices\":[{\"delta\":{\"content\":\"lo\"},\"finish_reason\":\"stop\"}]}\n\n",
            "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2}}\n\n",
            "data: [DONE]\n\n"
        );
        for size in [1, 7, 13, body.len()] {
            let mut p = ChunkParser::default();
            let events: Vec<LlmEvent> =
                body.as_bytes().chunks(size).flat_map(|c| p.feed(c).unwrap()).collect();
            assert_eq!(
                events,
                vec![
                    LlmEvent::Text("Café ".into()),
                    LlmEvent::Text("lo".into()),
                    LlmEvent::Done {
                        finish_reason: "stop".into(),
                        usage: Usage { prompt_tokens: 3, completion_tokens: 2 }
                    },
                ],
                "split every {size} bytes"
            );
        }
        assert!(ChunkParser::default().feed(b"data: {not json\n").is_err());
    }
}
