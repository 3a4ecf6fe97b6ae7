//! Warm-up requests for LLM agents. A model server that caches prompt prefixes (llama.cpp,
//! Ollama, the cloud APIs) reads an agent's instructions and tool declarations once, then
//! serves every request that starts with the same bytes from its cache. Every call of an agent
//! starts with exactly those bytes (`prompt::instructions`, then the tools in the order a call
//! declares them); the caller's details come after them. So when an agent with an LLM is loaded
//! (at start, and whenever the configuration changes) one request with that prefix and a
//! one-token answer is sent, and the first caller does not wait for the server to read it.

use super::agent_tools;
use crate::db::Db;
use crate::llm::{ChatMessage, ChatRequest, LlmClient, LlmEvent, OpenAiCompatible, Role, ToolDecl};
use crate::model::AiAgent;
use crate::prompt;
use futures_util::StreamExt;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use switchboard_tools::Tool;

/// How long a warm-up may take (a local server reading a long prompt on a busy machine).
const LIMIT: Duration = Duration::from_secs(120);

/// The tools as the model is told of them, in order.
pub(crate) fn declare(tools: &[Arc<dyn Tool>]) -> Vec<ToolDecl> {
    tools
        .iter()
        .map(|t| ToolDecl {
            name: t.spec().name.clone(),
            description: t.spec().description.clone(),
            parameters: t.spec().parameters.clone(),
        })
        .collect()
}

/// The warm-up request of `agent` on `account`: its instructions and the tools a call of it
/// declares (the call-only payment tool last, as a call adds it), and a one-token answer.
pub async fn request(db: &Db, account: i64, agent: &AiAgent) -> crate::Result<Option<ChatRequest>> {
    let Some(llm) = &agent.llm else { return Ok(None) };
    let allow_private =
        crate::store::accounts::get(db, account).await.map(|a| a.settings.allow_private_webhooks)?;
    let store: Arc<dyn switchboard_tools::commerce::CommerceStore> =
        Arc::new(crate::agenttools::DbStore(db.clone()));
    let (tools, _) = agent_tools(db, account, agent, store, allow_private).await?;
    let mut tools = declare(&tools);
    if agent.tools.iter().any(|t| t == "take_payment") {
        let spec = crate::calls::payment::tool::spec();
        tools.push(ToolDecl { name: spec.name, description: spec.description, parameters: spec.parameters });
    }
    Ok(Some(ChatRequest {
        model: llm.model.clone(),
        messages: vec![
            ChatMessage::new(Role::System, prompt::instructions(agent)),
            ChatMessage::new(Role::User, "Hello?"),
        ],
        tools,
        temperature: Some(llm.temperature),
        max_tokens: Some(1),
    }))
}

/// Sends one warm-up request; how long the server took, or why it failed.
pub async fn send(client: &dyn LlmClient, request: ChatRequest) -> Result<Duration, String> {
    let started = tokio::time::Instant::now();
    let mut stream = client.stream(request);
    let drained = tokio::time::timeout(LIMIT, async {
        while let Some(event) = stream.next().await {
            if let Err(e) = event {
                return Err(e.to_string());
            }
            if matches!(event, Ok(LlmEvent::Done { .. })) {
                break;
            }
        }
        Ok(())
    })
    .await;
    match drained {
        Ok(Ok(())) => Ok(started.elapsed()),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(format!("no answer within {} s", LIMIT.as_secs())),
    }
}

/// Warms every LLM agent of every account now and after each configuration change (an agent
/// is warmed again only when what it would send has changed).
pub fn spawn(db: Db, mut changed: tokio::sync::watch::Receiver<u64>) {
    tokio::spawn(async move {
        let mut warmed: HashSet<String> = HashSet::new();
        loop {
            for account in crate::store::accounts::list(&db).await.unwrap_or_default() {
                let agents = crate::store::config::list::<AiAgent>(&db, account.id).await.unwrap_or_default();
                for agent in agents.into_iter().map(|s| s.spec) {
                    let request = match request(&db, account.id, &agent).await {
                        Ok(Some(r)) => r,
                        Ok(None) => continue,
                        Err(e) => {
                            tracing::warn!(agent = %agent.name, error = %e, "cannot build the LLM warm-up");
                            continue;
                        }
                    };
                    let Some(llm) = agent.llm.clone() else { continue };
                    let signature = format!("{}|{}|{request:?}", llm.base_url, llm.api_key.is_some());
                    if !warmed.insert(signature) {
                        continue;
                    }
                    let name = agent.name.clone();
                    tokio::spawn(async move {
                        let client = OpenAiCompatible::new(&llm.base_url, llm.api_key.clone());
                        match send(&client, request).await {
                            Ok(took) => {
                                tracing::info!(agent = %name, ms = took.as_millis() as u64, "LLM warmed up")
                            }
                            Err(why) => {
                                tracing::warn!(agent = %name, %why, "LLM warm-up failed (the first call reads the prompt)")
                            }
                        }
                    });
                }
            }
            if changed.changed().await.is_err() {
                return;
            }
        }
    });
}
