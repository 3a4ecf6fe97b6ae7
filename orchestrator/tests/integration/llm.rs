//! The OpenAI-compatible LLM client against a scripted server that speaks the protocol (real
//! HTTP, server-sent events): streamed text, parallel tool calls arriving in fragments, token
//! usage, retries on 5xx, a stream cut off mid-answer, and errors that say what the service said.

use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use futures_util::StreamExt;
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use switchboard::llm::{
    ChatMessage, ChatRequest, LlmClient, LlmError, LlmEvent, OpenAiCompatible, Role, ToolDecl, Usage,
};

fn sse(chunks: &[serde_json::Value]) -> String {
    let mut s: String = chunks.iter().map(|c| format!("data: {c}\n\n")).collect();
    s.push_str("data: [DONE]\n\n");
    s
}

async fn scripted() -> (String, Arc<AtomicUsize>) {
    let flaky = Arc::new(AtomicUsize::new(0));
    let seen = flaky.clone();
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        axum::routing::post(move |headers: HeaderMap, axum::Json(req): axum::Json<serde_json::Value>| {
            let flaky = seen.clone();
            async move {
                if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer llm-key") {
                    return (StatusCode::UNAUTHORIZED, axum::Json(json!({"error": {"message": "invalid api key"}}))).into_response();
                }
                assert_eq!(req["stream"], true);
                let model = req["model"].as_str().unwrap_or_default().to_string();
                let delta = |d: serde_json::Value, finish: Option<&str>| json!({"choices": [{"index": 0, "delta": d, "finish_reason": finish}]});
                let body = match model.as_str() {
                    "flaky" if flaky.fetch_add(1, Ordering::SeqCst) == 0 => {
                        return (StatusCode::SERVICE_UNAVAILABLE, "overloaded").into_response()
                    }
                    "text" | "flaky" => sse(&[
                        delta(json!({"role": "assistant", "content": ""}), None),
                        delta(json!({"content": "Your order "}), None),
                        delta(json!({"content": "shipped "}), None),
                        delta(json!({"content": "yesterday."}), Some("stop")),
                        json!({"choices": [], "usage": {"prompt_tokens": 12, "completion_tokens": 5}}),
                    ]),
                    "tools" => {
                        assert_eq!(req["tools"][0]["function"]["name"], "lookup_order", "tools are declared");
                        assert_eq!(req["messages"][0]["role"], "system");
                        sse(&[
                            delta(json!({"tool_calls": [{"index": 0, "id": "call_a", "type": "function", "function": {"name": "lookup_order", "arguments": ""}}]}), None),
                            delta(json!({"tool_calls": [{"index": 1, "id": "call_b", "type": "function", "function": {"name": "open_tickets", "arguments": "{}"}}]}), None),
                            delta(json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"order_num"}}]}), None),
                            delta(json!({"tool_calls": [{"index": 0, "function": {"arguments": "ber\": \"1042\"}"}}]}), Some("tool_calls")),
                            json!({"choices": [], "usage": {"prompt_tokens": 40, "completion_tokens": 20}}),
                        ])
                    }
                    // The connection ends mid-answer: no finish reason, no [DONE].
                    "cut" => format!("data: {}\n\n", delta(json!({"content": "Your order "}), None)),
                    _ => return (StatusCode::NOT_FOUND, "no such model").into_response(),
                };
                ([("content-type", "text/event-stream")], body).into_response()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/v1"), flaky)
}

fn request(model: &str) -> ChatRequest {
    ChatRequest {
        model: model.into(),
        messages: vec![
            ChatMessage::new(Role::System, "You help callers."),
            ChatMessage::new(Role::User, "Where is my order 1042?"),
        ],
        tools: vec![
            ToolDecl {
                name: "lookup_order".into(),
                description: "Finds an order".into(),
                parameters: json!({"type": "object"}),
            },
            ToolDecl {
                name: "open_tickets".into(),
                description: "Open tickets".into(),
                parameters: json!({"type": "object"}),
            },
        ],
        temperature: Some(0.2),
        max_tokens: None,
    }
}

async fn collect(client: &OpenAiCompatible, model: &str) -> Vec<Result<LlmEvent, LlmError>> {
    client.stream(request(model)).collect().await
}

#[tokio::test]
async fn streams_text_tool_calls_and_usage_and_retries() {
    let (url, flaky) = scripted().await;
    let client = OpenAiCompatible::new(&url, Some("llm-key".into()));
    let events: Vec<LlmEvent> = collect(&client, "text").await.into_iter().map(Result::unwrap).collect();
    let text: String = events
        .iter()
        .filter_map(|e| if let LlmEvent::Text(t) = e { Some(t.as_str()) } else { None })
        .collect();
    assert_eq!(text, "Your order shipped yesterday.");
    assert_eq!(
        events.last(),
        Some(&LlmEvent::Done {
            finish_reason: "stop".into(),
            usage: Usage { prompt_tokens: 12, completion_tokens: 5 }
        })
    );

    // Two tool calls in parallel, their arguments in fragments: each comes out whole.
    let events: Vec<LlmEvent> = collect(&client, "tools").await.into_iter().map(Result::unwrap).collect();
    let calls: Vec<_> = events
        .iter()
        .filter_map(|e| if let LlmEvent::ToolCall(c) = e { Some(c.clone()) } else { None })
        .collect();
    assert_eq!(calls.len(), 2, "{events:?}");
    assert_eq!((calls[0].id.as_str(), calls[0].name.as_str()), ("call_a", "lookup_order"));
    let args: serde_json::Value = serde_json::from_str(&calls[0].arguments).unwrap();
    assert_eq!(args, json!({"order_number": "1042"}));
    assert_eq!(calls[1].name, "open_tickets");
    assert!(
        matches!(events.last(), Some(LlmEvent::Done { finish_reason, .. }) if finish_reason == "tool_calls")
    );

    // A 503 is retried once and the answer still comes.
    let events = collect(&client, "flaky").await;
    assert!(events.iter().all(|e| e.is_ok()), "{events:?}");
    assert_eq!(flaky.load(Ordering::SeqCst), 2);

    // An answer cut off mid-way ends in an error after the text that came, never in silence.
    let events = collect(&client, "cut").await;
    assert_eq!(events[0], Ok(LlmEvent::Text("Your order ".into())));
    assert!(matches!(&events[1..], [Err(LlmError::Stream(_))]), "{events:?}");

    // A wrong key is not retried; the error carries the service's words.
    let wrong = OpenAiCompatible::new(&url, Some("nope".into()));
    let events = collect(&wrong, "text").await;
    assert_eq!(events, vec![Err(LlmError::Status { status: 401, message: "invalid api key".into() })]);
    // Nobody there: a request error, after the retries.
    let gone = OpenAiCompatible::new("http://127.0.0.1:9/v1", None).with_retries(0);
    let events = collect(&gone, "text").await;
    assert!(matches!(events[..], [Err(LlmError::Request(_))]), "{events:?}");
}
