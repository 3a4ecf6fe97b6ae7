//! The brain of LLM agents: an `LlmClient` contract with streaming text and tool calls, and its
//! implementation for any OpenAI-compatible chat-completions endpoint (OpenAI, vLLM, Ollama,
//! llama.cpp server) on the `async-openai` crate. The crate sends the typed request, retries it
//! with back-off (429, 5xx, connection errors; `Retry-After` is honoured) and parses the
//! server-sent events. Chunks are read as plain JSON, so that servers which leave out fields
//! OpenAI always sends still work. Tool calls, which arrive as fragments (several in parallel),
//! are assembled and emitted whole; token usage is reported at the end.

use async_openai::error::OpenAIError;
use async_openai::types::chat::{
    ChatCompletionMessageToolCall, ChatCompletionMessageToolCalls, ChatCompletionRequestAssistantMessage,
    ChatCompletionRequestMessage, ChatCompletionRequestToolMessage, ChatCompletionStreamOptions,
    ChatCompletionTool, ChatCompletionTools, CreateChatCompletionRequest, FunctionCall, FunctionObject,
};
use futures_util::StreamExt;
use serde_json::Value;
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
    /// At most this many tokens in the answer (the warm-up request asks for one).
    pub max_tokens: Option<u32>,
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
    endpoint: Endpoint,
    client: async_openai::Client<Endpoint>,
}

/// Where requests go and how they are signed: the agent's own URL and key, nothing else. (The
/// crate's `OpenAIConfig` also reads `OPENAI_*` environment variables, which must never reach a
/// merchant's endpoint.)
#[derive(Clone)]
struct Endpoint {
    base_url: String,
    api_key: secrecy::SecretString,
}

impl async_openai::config::Config for Endpoint {
    fn headers(&self) -> reqwest::header::HeaderMap {
        use secrecy::ExposeSecret;
        let mut headers = reqwest::header::HeaderMap::new();
        let key = self.api_key.expose_secret();
        if !key.is_empty() {
            match reqwest::header::HeaderValue::from_str(&format!("Bearer {key}")) {
                Ok(mut v) => {
                    v.set_sensitive(true);
                    headers.insert(reqwest::header::AUTHORIZATION, v);
                }
                // Sent without it, the request gets the service's 401, which names the problem.
                Err(_) => tracing::warn!("the LLM API key holds characters a header cannot carry"),
            }
        }
        headers
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    fn query(&self) -> Vec<(&str, &str)> {
        Vec::new()
    }

    fn api_base(&self) -> &str {
        &self.base_url
    }

    fn api_key(&self) -> &secrecy::SecretString {
        &self.api_key
    }
}

impl OpenAiCompatible {
    /// A client for `base_url` (up to and including `/v1`) that retries a failed request twice.
    pub fn new(base_url: &str, api_key: Option<String>) -> Self {
        let endpoint = Endpoint {
            base_url: base_url.trim_end_matches('/').to_string(),
            api_key: api_key.unwrap_or_default().into(),
        };
        Self::build(endpoint, 2)
    }

    /// The same endpoint with another number of retries.
    pub fn with_retries(self, retries: usize) -> Self {
        Self::build(self.endpoint, retries)
    }

    fn build(endpoint: Endpoint, retries: usize) -> Self {
        use async_openai::middleware::{retry::OpenAIRetryLayer, ReqwestService};
        let http =
            crate::tls::http_client().connect_timeout(Duration::from_secs(5)).build().unwrap_or_default();
        let service = tower::ServiceBuilder::new()
            .layer(OpenAIRetryLayer::new(retries))
            .service(ReqwestService::new(http.clone()));
        let client = async_openai::Client::build(http, endpoint.clone()).with_http_service(service);
        OpenAiCompatible { endpoint, client }
    }
}

/// The typed chat-completions request for `r`, streamed, with usage at the end.
fn typed_request(r: &ChatRequest) -> CreateChatCompletionRequest {
    let messages = r
        .messages
        .iter()
        .map(|m| match m.role {
            Role::System => ChatCompletionRequestMessage::System(m.content.as_str().into()),
            Role::User => ChatCompletionRequestMessage::User(m.content.as_str().into()),
            Role::Assistant => {
                ChatCompletionRequestMessage::Assistant(ChatCompletionRequestAssistantMessage {
                    content: (!m.content.is_empty() || m.tool_calls.is_empty())
                        .then(|| m.content.as_str().into()),
                    tool_calls: (!m.tool_calls.is_empty()).then(|| {
                        m.tool_calls
                            .iter()
                            .map(|c| {
                                ChatCompletionMessageToolCalls::Function(ChatCompletionMessageToolCall {
                                    id: c.id.clone(),
                                    function: FunctionCall {
                                        name: c.name.clone(),
                                        arguments: c.arguments.clone(),
                                    },
                                })
                            })
                            .collect()
                    }),
                    ..Default::default()
                })
            }
            Role::Tool => ChatCompletionRequestMessage::Tool(ChatCompletionRequestToolMessage {
                content: m.content.as_str().into(),
                tool_call_id: m.tool_call_id.clone().unwrap_or_default(),
            }),
        })
        .collect();
    let tools: Vec<ChatCompletionTools> = r
        .tools
        .iter()
        .map(|t| {
            ChatCompletionTools::Function(ChatCompletionTool {
                function: FunctionObject {
                    name: t.name.clone(),
                    description: Some(t.description.clone()),
                    parameters: Some(t.parameters.clone()),
                    strict: None,
                },
            })
        })
        .collect();
    // Servers read one or the other (OpenAI the new name, older local servers the old one).
    #[allow(deprecated)]
    CreateChatCompletionRequest {
        model: r.model.clone(),
        messages,
        stream: Some(true),
        stream_options: Some(ChatCompletionStreamOptions { include_usage: Some(true), ..Default::default() }),
        tools: (!tools.is_empty()).then_some(tools),
        temperature: r.temperature,
        max_completion_tokens: r.max_tokens,
        max_tokens: r.max_tokens,
        ..Default::default()
    }
}

/// What the crate's error means to the caller of `stream`.
fn llm_error(e: OpenAIError) -> LlmError {
    match e {
        OpenAIError::ApiError(r) => {
            LlmError::Status { status: r.status_code.as_u16(), message: r.api_error.message }
        }
        OpenAIError::Reqwest(e) => LlmError::Request(e.without_url().to_string()),
        OpenAIError::JSONDeserialize(e, content) => {
            let content: String = content.chars().take(200).collect();
            LlmError::Stream(format!("unreadable answer ({e}): {content}"))
        }
        OpenAIError::StreamError(e) => LlmError::Stream(e.to_string()),
        other => LlmError::Request(other.to_string()),
    }
}

/// Assembles streamed chat-completion chunks into events.
#[derive(Default)]
pub struct ChunkParser {
    calls: Vec<ToolCallRequest>,
    finish_reason: Option<String>,
    usage: Usage,
    /// The usage chunk, which comes last, came.
    usage_seen: bool,
}

/// How far past the tool calls so far a chunk's index may point: further is a broken stream,
/// not a reason to allocate.
const MAX_TOOL_CALL_GAP: usize = 16;

impl ChunkParser {
    /// Takes one chunk; returns the events it completed.
    pub fn chunk(&mut self, chunk: &Value) -> Result<Vec<LlmEvent>, LlmError> {
        if let Some(error) = chunk.get("error").filter(|e| !e.is_null()) {
            let message = error["message"].as_str().map(str::to_string).unwrap_or_else(|| error.to_string());
            return Err(LlmError::Stream(message));
        }
        if let Some(u) = chunk.get("usage").filter(|u| u.is_object()) {
            self.usage_seen = true;
            self.usage = Usage {
                prompt_tokens: u["prompt_tokens"].as_u64().unwrap_or(0),
                completion_tokens: u["completion_tokens"].as_u64().unwrap_or(0),
            };
        }
        let mut out = Vec::new();
        for choice in chunk["choices"].as_array().into_iter().flatten() {
            let delta = &choice["delta"];
            if let Some(text) = delta["content"].as_str().filter(|t| !t.is_empty()) {
                out.push(LlmEvent::Text(text.to_string()));
            }
            for call in delta["tool_calls"].as_array().into_iter().flatten() {
                let i = call["index"].as_u64().unwrap_or(0);
                let i = usize::try_from(i).unwrap_or(usize::MAX);
                if i > self.calls.len() + MAX_TOOL_CALL_GAP {
                    return Err(LlmError::Stream(format!("tool call index {i} out of order")));
                }
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
        Ok(out)
    }

    /// The stream ended: the assembled tool calls, then the end. An answer that never said why
    /// it finished, nor sent the usage that comes last, was cut off. (Some servers leave out the
    /// finish reason; the crate hides the `[DONE]` line, so the usage is the sign of a whole answer.)
    pub fn finish(&mut self) -> Result<Vec<LlmEvent>, LlmError> {
        let reason = self.finish_reason.take().or_else(|| self.usage_seen.then(|| "stop".to_string()));
        let Some(finish_reason) = reason else {
            return Err(LlmError::Stream("the stream ended before the answer finished".into()));
        };
        let mut out: Vec<LlmEvent> =
            self.calls.drain(..).filter(|c| !c.name.is_empty()).map(LlmEvent::ToolCall).collect();
        out.push(LlmEvent::Done { finish_reason, usage: self.usage });
        Ok(out)
    }
}

impl LlmClient for OpenAiCompatible {
    fn stream(&self, request: ChatRequest) -> LlmStream {
        let client = self.client.clone();
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<LlmEvent, LlmError>>(64);
        tokio::spawn(async move {
            let request = typed_request(&request);
            let chat = client.chat();
            let opened = tokio::select! {
                // The listener went away (barge-in) before the answer began.
                _ = tx.closed() => return,
                r = chat.create_stream_byot::<_, Value>(request) => r,
            };
            let mut chunks = match opened {
                Ok(s) => s,
                Err(e) => {
                    let _ = tx.send(Err(llm_error(e))).await;
                    return;
                }
            };
            let mut parser = ChunkParser::default();
            loop {
                let (events, over) = match chunks.next().await {
                    Some(Ok(chunk)) => (parser.chunk(&chunk), false),
                    Some(Err(e)) => (Err(llm_error(e)), true),
                    None => (parser.finish(), true),
                };
                let over = over || events.is_err();
                let events = match events {
                    Ok(events) => events.into_iter().map(Ok).collect(),
                    Err(e) => vec![Err(e)],
                };
                for e in events {
                    if tx.send(e).await.is_err() {
                        return; // the listener went away (barge-in): dropping the stream stops reading
                    }
                }
                if over {
                    return;
                }
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
    use serde_json::json;

    fn delta(d: Value, finish: Option<&str>) -> Value {
        json!({"choices": [{"index": 0, "delta": d, "finish_reason": finish}]})
    }

    #[test]
    fn chunks_become_text_whole_tool_calls_and_usage() {
        let mut p = ChunkParser::default();
        let mut events = Vec::new();
        for chunk in [
            delta(json!({"role": "assistant", "content": "Café "}), None),
            delta(
                json!({"tool_calls": [{"index": 1, "id": "b", "function": {"name": "open_", "arguments": "{"}}]}),
                None,
            ),
            delta(
                json!({"tool_calls": [{"index": 0, "id": "a", "function": {"name": "lookup_order", "arguments": ""}}]}),
                None,
            ),
            delta(
                json!({"tool_calls": [{"index": 1, "function": {"name": "tickets", "arguments": "}"}}]}),
                None,
            ),
            delta(
                json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"n\":1}"}}]}),
                Some("tool_calls"),
            ),
            json!({"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2}}),
        ] {
            events.extend(p.chunk(&chunk).unwrap());
        }
        events.extend(p.finish().unwrap());
        let call = |id: &str, name: &str, arguments: &str| {
            LlmEvent::ToolCall(ToolCallRequest {
                id: id.into(),
                name: name.into(),
                arguments: arguments.into(),
            })
        };
        assert_eq!(
            events,
            vec![
                LlmEvent::Text("Café ".into()),
                call("a", "lookup_order", "{\"n\":1}"),
                call("b", "open_tickets", "{}"),
                LlmEvent::Done {
                    finish_reason: "tool_calls".into(),
                    usage: Usage { prompt_tokens: 3, completion_tokens: 2 }
                },
            ]
        );
    }

    #[test]
    fn a_cut_off_stream_an_error_chunk_and_a_wild_index_are_errors_and_usage_marks_a_whole_answer() {
        let mut p = ChunkParser::default();
        p.chunk(&delta(json!({"content": "Your order"}), None)).unwrap();
        assert!(matches!(p.finish(), Err(LlmError::Stream(m)) if m.contains("before the answer finished")));
        // No finish reason, but the usage that comes last: whole.
        let mut p = ChunkParser::default();
        p.chunk(&delta(json!({"content": "Hi."}), None)).unwrap();
        p.chunk(&json!({"choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 1}})).unwrap();
        assert!(
            matches!(&p.finish().unwrap()[..], [LlmEvent::Done { finish_reason, .. }] if finish_reason == "stop")
        );
        let overloaded = json!({"error": {"message": "overloaded", "type": "server_error"}});
        assert_eq!(ChunkParser::default().chunk(&overloaded), Err(LlmError::Stream("overloaded".into())));
        let wild =
            delta(json!({"tool_calls": [{"index": 4_000_000_000u64, "function": {"name": "x"}}]}), None);
        assert!(ChunkParser::default().chunk(&wild).is_err());
    }

    #[test]
    fn the_request_carries_tools_tool_results_and_usage_and_no_key_no_header() {
        let mut asked = ChatMessage::new(Role::Assistant, "");
        asked.tool_calls =
            vec![ToolCallRequest { id: "a".into(), name: "lookup_order".into(), arguments: "{}".into() }];
        let mut result = ChatMessage::new(Role::Tool, "{\"status\":\"shipped\"}");
        result.tool_call_id = Some("a".into());
        let request = ChatRequest {
            model: "m".into(),
            messages: vec![
                ChatMessage::new(Role::System, "Be brief."),
                ChatMessage::new(Role::User, "Where?"),
                asked,
                result,
            ],
            tools: vec![ToolDecl {
                name: "lookup_order".into(),
                description: "Finds".into(),
                parameters: json!({"type": "object"}),
            }],
            temperature: None,
            max_tokens: None,
        };
        let body = serde_json::to_value(typed_request(&request)).unwrap();
        assert_eq!(body["stream"], true);
        assert_eq!(body["stream_options"]["include_usage"], true);
        assert_eq!(body["messages"][1], json!({"role": "user", "content": "Where?"}));
        assert_eq!(body["messages"][2]["tool_calls"][0]["function"]["name"], "lookup_order");
        assert!(
            body["messages"][2].get("content").is_none(),
            "a tool-calling turn has no empty text: {body}"
        );
        assert_eq!(
            body["messages"][3],
            json!({"role": "tool", "content": "{\"status\":\"shipped\"}", "tool_call_id": "a"})
        );
        assert_eq!(body["tools"][0]["function"]["parameters"], json!({"type": "object"}));
        assert!(body.get("temperature").is_none());

        use async_openai::config::Config;
        let keyless = Endpoint { base_url: "http://llm/v1".into(), api_key: String::new().into() };
        assert!(keyless.headers().is_empty(), "no key, no Authorization header");
        assert_eq!(keyless.url("/chat/completions"), "http://llm/v1/chat/completions");
    }
}
