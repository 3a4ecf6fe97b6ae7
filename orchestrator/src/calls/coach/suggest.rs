//! The queue's LLM as a coach: given the conversation so far, one or two sentences the agent
//! could say next. Sent to the queue's own endpoint only; card numbers never reach it (a
//! payment's audio is masked before transcription).

use crate::llm::{ChatMessage, ChatRequest, LlmClient, LlmEvent, OpenAiCompatible, Role};
use crate::model::LlmConfig;
use futures_util::StreamExt;
use std::time::Duration;

const SYSTEM: &str = "You coach a customer-service agent during a live phone call. Read the \
conversation and suggest, in at most two short sentences, what the agent could say or do next. \
Write only the suggestion, addressed to the agent. Never invent order details or policies you \
were not told; if the agent should look something up, say what.";

/// Gives up on a suggestion after this long (it would come too late to help).
const LIMIT: Duration = Duration::from_secs(8);

/// The LLM's suggestion for the conversation `transcript` ("Caller: …" / "Agent: …" lines);
/// `None` when it had nothing to say.
pub async fn ask(llm: &LlmConfig, transcript: &str) -> Result<Option<String>, String> {
    let client = OpenAiCompatible::new(&llm.base_url, llm.api_key.clone()).with_retries(0);
    let request = ChatRequest {
        model: llm.model.clone(),
        messages: vec![
            ChatMessage::new(Role::System, SYSTEM),
            ChatMessage::new(Role::User, format!("The conversation so far:\n{transcript}")),
        ],
        tools: Vec::new(),
        temperature: Some(llm.temperature),
        max_tokens: None,
    };
    let collect = async {
        let mut stream = client.stream(request);
        let mut text = String::new();
        while let Some(event) = stream.next().await {
            match event.map_err(|e| e.to_string())? {
                LlmEvent::Text(t) => text.push_str(&t),
                LlmEvent::Done { .. } => break,
                LlmEvent::ToolCall(_) => {}
            }
        }
        Ok::<_, String>(text)
    };
    let text =
        tokio::time::timeout(LIMIT, collect).await.map_err(|_| "the LLM took too long".to_string())??;
    let text = text.trim();
    Ok((!text.is_empty()).then(|| text.chars().take(600).collect()))
}
