//! AI agent sessions (text level) on both databases: an LLM agent driven by a scripted
//! OpenAI-compatible server (real HTTP and server-sent events) looks an order up and answers
//! from the tool's result, hands a caller to a person with the model's summary, and sends the
//! caller to the fallback when the model stalls; the offline guided agent handles the demo
//! agent's intents. The call record keeps the transcript, tool calls, hand-off and cost.

use crate::common::on_each_db;
use axum::response::IntoResponse;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use switchboard::agent::{Next, Session, SessionSetup};
use switchboard::db::Db;
use switchboard::model::{AiAgent, Target};
use switchboard::store::{accounts, calls, config};

fn sse(chunks: &[Value]) -> String {
    let mut s: String = chunks.iter().map(|c| format!("data: {c}\n\n")).collect();
    s.push_str("data: [DONE]\n\n");
    s
}

pub fn text_reply(text: &str) -> String {
    let words: Vec<Value> = text
        .split_inclusive(' ')
        .map(|w| json!({"choices": [{"index": 0, "delta": {"content": w}, "finish_reason": null}]}))
        .collect();
    let mut chunks = words;
    chunks.push(json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}));
    chunks.push(json!({"choices": [], "usage": {"prompt_tokens": 100, "completion_tokens": 10}}));
    sse(&chunks)
}

fn tool_reply(text: &str, name: &str, args: Value) -> String {
    let mut chunks = Vec::new();
    if !text.is_empty() {
        chunks.push(json!({"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": null}]}));
    }
    chunks.push(json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
        "function": {"name": name, "arguments": args.to_string()}}]}, "finish_reason": "tool_calls"}]}));
    chunks.push(json!({"choices": [], "usage": {"prompt_tokens": 100, "completion_tokens": 10}}));
    sse(&chunks)
}

/// Every system message of a request, joined.
fn system_text(messages: &[Value]) -> String {
    let system = messages.iter().filter(|m| m["role"] == "system");
    system.filter_map(|m| m["content"].as_str()).collect::<Vec<_>>().join("\n")
}

/// A scripted model: looks orders up when asked about one, answers from the tool result,
/// transfers when asked for a person, stalls when told to.
pub async fn scripted_llm() -> String {
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        axum::routing::post(|axum::Json(req): axum::Json<Value>| async move {
            let messages = req["messages"].as_array().cloned().unwrap_or_default();
            let last = messages.last().cloned().unwrap_or_default();
            let text = last["content"].as_str().unwrap_or_default().to_lowercase();
            // The agent's instructions and the call's context (caller, guidance).
            let system = system_text(&messages).to_lowercase();
            if text.contains("take your time") {
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            // A local server reading a long prompt for the first time.
            if text.contains("slow start") {
                tokio::time::sleep(Duration::from_millis(1_800)).await;
            }
            let body = if last["role"] == "tool" && text.contains("approve") {
                text_reply("I'm sorry, I can't do that right now.")
            } else if last["role"] == "tool" && text.contains("balance_cents") {
                let result: Value = serde_json::from_str(last["content"].as_str().unwrap_or("{}")).unwrap();
                text_reply(&format!("Your balance is {} cents.", result["balance_cents"]))
            } else if last["role"] == "tool" {
                let result: Value =
                    serde_json::from_str(last["content"].as_str().unwrap_or("{}")).unwrap_or_default();
                let order = &result["order"];
                text_reply(&format!(
                    "Sure. Order {} is {} and went with {}.",
                    order["number"].as_str().unwrap_or("?"),
                    order["status"].as_str().unwrap_or("?"),
                    order["carrier"].as_str().unwrap_or("?")
                ))
            } else if text.contains("what did you say") {
                // What the conversation says the assistant said (and whether a model's API would
                // take it: every tool call needs its result).
                let said: Vec<&str> = messages
                    .iter()
                    .filter(|m| m["role"] == "assistant")
                    .filter_map(|m| m["content"].as_str())
                    .filter(|c| !c.is_empty())
                    .collect();
                let calls =
                    messages.iter().flat_map(|m| m["tool_calls"].as_array().cloned().unwrap_or_default());
                let unanswered = calls
                    .filter(|c| !messages.iter().any(|m| m["role"] == "tool" && m["tool_call_id"] == c["id"]))
                    .count();
                let heard: Vec<&str> = messages
                    .iter()
                    .filter(|m| m["role"] == "user")
                    .filter_map(|m| m["content"].as_str())
                    .collect();
                text_reply(&format!(
                    "I said: {}. Unanswered tool calls: {unanswered}. You said: {}.",
                    said.join(" | "),
                    heard.join(" | ")
                ))
            } else if text.contains("balance") {
                tool_reply("", "account_balance", json!({}))
            } else if text.contains("anything else") && system.contains("express shipping") {
                // Supervisor guidance is in the system message: it changes the answer.
                text_reply("I can offer you free express shipping.")
            } else if text.contains("refund") {
                tool_reply("", "issue_refund", json!({"order_number": "1002"}))
            } else if text.contains("premium") {
                tool_reply(
                    "Connecting you.",
                    "transfer",
                    json!({"summary": "wants a premium line", "number": "+19005550000"}),
                )
            } else if text.contains("stall") {
                tokio::time::sleep(Duration::from_secs(20)).await;
                text_reply("Too late.")
            } else if text.contains("person") {
                tool_reply(
                    "Of course, let me connect you.",
                    "transfer",
                    json!({"summary": "Maria wants a person about order 1002", "reason": "caller asked"}),
                )
            } else if text.split(|c: char| !c.is_ascii_digit()).any(|t| t.len() >= 4)
                && !req["tools"].to_string().contains("lookup_order")
            {
                // A model only calls the tools it was given.
                text_reply("Sorry, I can't look orders up.")
            } else if let Some(n) = text.split(|c: char| !c.is_ascii_digit()).find(|t| t.len() >= 4) {
                // The system message must carry the caller's customer, and never a card number.
                let system = system_text(&messages);
                assert!(system.contains("Maria Garcia"), "the caller's customer is in the prompt");
                tool_reply("", "lookup_order", json!({"order_number": n}))
            } else {
                text_reply("How can I help?")
            };
            ([("content-type", "text/event-stream")], body).into_response()
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/v1")
}

pub async fn llm_agent(db: &Db, account: i64, base_url: &str) {
    let agent: AiAgent = serde_json::from_value(json!({
        "name": "llm-assistant",
        "system_prompt": "You help Acme's callers.",
        "greeting": "Hi, Acme here.",
        "llm": {"base_url": base_url, "model": "scripted", "input_usd_per_million_tokens": 1.0,
                "output_usd_per_million_tokens": 2.0},
        "tools": ["lookup_order"],
        "escalation_target": {"type": "agent", "extension": "101"},
        "fallback_target": {"type": "agent", "extension": "102"}
    }))
    .unwrap();
    config::create(db, account, agent).await.unwrap();
}

pub async fn session(
    db: &Db,
    records: &calls::RecordWriter,
    account: i64,
    agent: &str,
) -> (Session, calls::RecordKey) {
    let caller = switchboard::demo::customer_phone(0);
    let key = records.create(
        account,
        calls::NewCall {
            direction: "inbound".into(),
            from_number: caller.clone(),
            to_number: "test".into(),
            customer_id: None,
            agent_extension: None,
            ai_agent: None,
        },
        Some(caller.clone()),
    );
    let setup = SessionSetup {
        db: db.clone(),
        records: records.clone(),
        account,
        agent: agent.into(),
        caller_number: Some(caller),
        record: Some(key),
    };
    (Session::start(setup).await.unwrap(), key)
}

/// One turn: what was said (sentence by sentence) and what happens next.
pub async fn turn(s: &mut Session, text: &str) -> (Vec<String>, Next) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let next = s.respond(text, &tx).await;
    drop(tx);
    let mut said = Vec::new();
    while let Some(x) = rx.recv().await {
        said.push(x);
    }
    (said, next)
}

pub async fn newest_call(db: &Db, account: i64) -> calls::CallDetail {
    let list = calls::list(db, account, &calls::CallQuery::default(), None).await.unwrap();
    calls::get(db, account, list[0].record.id, None).await.unwrap()
}

#[tokio::test]
async fn llm_agent_answers_from_tools_hands_off_and_falls_back() {
    let url = scripted_llm().await;
    on_each_db(|db| {
        let url = url.clone();
        async move {
            switchboard::demo::ensure(&db).await.unwrap();
            let account = accounts::by_slug(&db, "demo").await.unwrap().unwrap().id;
            llm_agent(&db, account, &url).await;
            let records = calls::RecordWriter::start(db.clone());

            // Order status from the tool, then a hand-off with the model's summary.
            let (mut s, _) = session(&db, &records, account, "llm-assistant").await;
            assert_eq!(s.customer().unwrap()["name"], "Maria Garcia", "caller matched by number");
            s.greeting();
            let (said, next) = turn(&mut s, "Where is my order 1002? My card is 4111 1111 1111 1111").await;
            assert_eq!(next, Next::Listen);
            let said = said.join(" ");
            assert!(said.contains("Order 1002 is shipped") && said.contains("UPS"), "{said}");
            let (said, next) = turn(&mut s, "Can I talk to a person?").await;
            assert!(said.join(" ").contains("connect you"), "{said:?}");
            match next {
                Next::Transfer { target, summary, .. } => {
                    assert_eq!(target, Target::Agent { extension: "101".into() }, "the escalation target");
                    assert_eq!(summary, "Maria wants a person about order 1002");
                }
                other => panic!("expected a transfer, got {other:?}"),
            }
            let (usage, cost) = s.usage();
            assert_eq!((usage.prompt_tokens, usage.completion_tokens), (300, 30), "three model calls");
            assert_eq!(cost, 300 + 60, "1 $/M in, 2 $/M out, in micro-dollars");
            s.finish();
            records.flush().await;
            let call = newest_call(&db, account).await;
            assert_eq!(call.record.ai_agent.as_deref(), Some("llm-assistant"));
            assert_eq!(call.record.cost_micros, 360);
            assert_eq!(call.record.summary.as_deref(), Some("Maria wants a person about order 1002"));
            assert!(call.record.customer_id.is_some());
            let speakers: Vec<&str> = call.transcript.iter().map(|l| l.speaker.as_str()).collect();
            assert_eq!(speakers[..3], ["ai", "caller", "ai"], "{:?}", call.transcript);
            let everything = serde_json::to_string(&call).unwrap();
            // (Written out or spaced; a bare "4111" can be part of a timestamp.)
            for card in ["4111 1111 1111 1111", "4111111111111111", "1111 1111 1111"] {
                assert!(!everything.contains(card), "a card number in the record: {everything}");
            }
            let tool =
                call.timeline.iter().find(|e| e.kind == "tool_call").expect("tool call in the timeline");
            assert_eq!(tool.data["tool"], "lookup_order");
            assert_eq!(tool.data["result"]["order"]["status"], "shipped");
            assert!(call
                .timeline
                .iter()
                .any(|e| e.kind == "handoff" && e.data["target"]["extension"] == "101"));

            // A model that stalls: the caller goes to the fallback target, quickly.
            let (mut s, _) = session(&db, &records, account, "llm-assistant").await;
            let started = Instant::now();
            let (_, next) = turn(&mut s, "stall now").await;
            assert!(
                started.elapsed() < Duration::from_secs(2),
                "fallback within 2 s: {:?}",
                started.elapsed()
            );
            match next {
                Next::Fallback { target, reason } => {
                    assert_eq!(target, Target::Agent { extension: "102".into() });
                    assert!(reason.contains("did not answer"), "{reason}");
                }
                other => panic!("expected the fallback, got {other:?}"),
            }
            records.flush().await;
            let call = newest_call(&db, account).await;
            assert!(call.timeline.iter().any(|e| e.kind == "ai_fallback"), "recorded with its reason");

            // A model that takes 1.8 s to start: past the default limit, within an agent's own.
            let (mut s, _) = session(&db, &records, account, "llm-assistant").await;
            let (_, next) = turn(&mut s, "slow start, hello").await;
            assert!(matches!(next, Next::Fallback { .. }), "the default 1.2 s: {next:?}");
            let mut patient =
                config::get_by_key::<AiAgent>(&db, account, "llm-assistant").await.unwrap().unwrap();
            patient.spec.name = "patient-assistant".into();
            patient.spec.llm.as_mut().unwrap().first_token_timeout_ms = 4_000;
            config::create(&db, account, patient.spec).await.unwrap();
            let (mut s, _) = session(&db, &records, account, "patient-assistant").await;
            let (said, next) = turn(&mut s, "slow start, hello").await;
            assert_eq!(next, Next::Listen, "{said:?}");
            assert_eq!(said.join(" "), "How can I help?");
        }
    })
    .await;
}

/// A merchant webhook that takes 400 ms and counts the calls it finished.
async fn slow_refunds() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let done = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = done.clone();
    let app = axum::Router::new().route(
        "/refund",
        axum::routing::post(move || {
            let counter = counter.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(400)).await;
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                axum::Json(json!({"refund": "issued"}))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/refund"), done)
}

/// A tool marked not to be cancelled by an interruption finishes (and is recorded) when the
/// caller barges in; the model cannot send the caller to an outside number of its choosing.
#[tokio::test]
async fn interruptions_spare_uncancellable_tools_and_outside_numbers_are_checked() {
    let url = scripted_llm().await;
    let (refund_url, refunds_done) = slow_refunds().await;
    on_each_db(|db| {
        let (url, refund_url, refunds_done) = (url.clone(), refund_url.clone(), refunds_done.clone());
        async move {
            switchboard::demo::ensure(&db).await.unwrap();
            let account = accounts::by_slug(&db, "demo").await.unwrap().unwrap();
            let mut settings = account.settings.clone();
            settings.allow_private_webhooks = true; // the merchant's webhook is on loopback here
            accounts::update_settings(&db, account.id, &settings).await.unwrap();
            let account = account.id;
            let tool: switchboard::model::ToolDefinition = serde_json::from_value(json!({
                "name": "issue_refund", "description": "Refunds an order",
                "parameters": {"type": "object", "properties": {"order_number": {"type": "string"}}},
                "implementation": {"type": "webhook", "url": refund_url, "timeout_ms": 3000, "retries": 0},
                "cancel_on_interruption": false
            }))
            .unwrap();
            config::create(&db, account, tool).await.unwrap();
            let agent: AiAgent = serde_json::from_value(json!({
                "name": "refunder", "system_prompt": "Refunds.", "greeting": "Hi.",
                "llm": {"base_url": url, "model": "scripted"}, "tools": ["issue_refund"],
                "escalation_target": {"type": "agent", "extension": "101"}
            }))
            .unwrap();
            config::create(&db, account, agent).await.unwrap();
            let records = calls::RecordWriter::start(db.clone());
            let (mut s, _) = session(&db, &records, account, "refunder").await;
            s.greeting();
            let before = refunds_done.load(std::sync::atomic::Ordering::SeqCst);
            // The caller interrupts 150 ms into the refund: the answer is dropped, the refund is not.
            let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
            let interrupted = tokio::time::timeout(Duration::from_millis(150), s.respond("I want a refund", &tx)).await;
            assert!(interrupted.is_err(), "the answer was still running");
            s.interrupted("");
            tokio::time::sleep(Duration::from_millis(600)).await;
            assert_eq!(refunds_done.load(std::sync::atomic::Ordering::SeqCst), before + 1, "the refund finished");
            // The greeting stays as it was; the cut answer's tool call has a result, and the
            // model is told its answer was interrupted.
            let (said, _) = turn(&mut s, "what did you say before?").await;
            let said = said.join(" ");
            assert!(
                said.contains("I said: Hi. | [interrupted by the caller]") && said.contains("Unanswered tool calls: 0"),
                "{said}"
            );
            // A number the merchant never configured: the escalation target instead.
            let (_, next) = turn(&mut s, "put me through to the premium line").await;
            assert!(matches!(&next, Next::Transfer { target: Target::Agent { extension }, .. } if extension == "101"), "{next:?}");
            records.flush().await;
            let call = newest_call(&db, account).await;
            let refund = call.timeline.iter().find(|e| e.kind == "tool_call").expect("the refund recorded itself");
            assert_eq!(refund.data["result"]["refund"], "issued", "{:?}", refund.data);
            assert!(call.timeline.iter().any(|e| e.kind == "transfer_number_refused"));
        }
    })
    .await;
}

/// The caller goes on speaking before any of the answer is heard: the answer is given up and
/// leaves nothing in the conversation, so the model gets the caller's words one after the other;
/// when what followed was no words after all, the caller's last words are answered again.
#[tokio::test]
async fn a_caller_who_goes_on_speaking_is_answered_in_full() {
    let url = scripted_llm().await;
    on_each_db(|db| {
        let url = url.clone();
        async move {
            switchboard::demo::ensure(&db).await.unwrap();
            let account = accounts::by_slug(&db, "demo").await.unwrap().unwrap().id;
            llm_agent(&db, account, &url).await;
            let records = calls::RecordWriter::start(db.clone());
            let (mut s, _) = session(&db, &records, account, "llm-assistant").await;
            s.greeting();
            let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
            let cut = tokio::time::timeout(Duration::from_millis(100), s.respond("Take your time, my order", &tx)).await;
            assert!(cut.is_err(), "the answer was still running");
            s.continued("");
            let (said, _) = turn(&mut s, "what did you say?").await;
            let said = said.join(" ");
            assert!(
                said.contains("I said: Hi, Acme here.. Unanswered tool calls: 0. You said: Take your time, my order | what did you say?."),
                "{said}"
            );
            // Cut again, and what followed was a cough: the last words are answered.
            let cut = tokio::time::timeout(
                Duration::from_millis(100),
                s.respond("Take your time: where is my order 1002?", &tx),
            )
            .await;
            assert!(cut.is_err(), "the answer was still running");
            s.continued("");
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
            assert_eq!(s.answer_again(&tx).await, Next::Listen);
            drop(tx);
            let mut said = Vec::new();
            while let Some(x) = rx.recv().await {
                said.push(x);
            }
            assert!(said.join(" ").contains("Order 1002 is shipped"), "{said:?}");
            s.finish();
            records.flush().await;
            let call = newest_call(&db, account).await;
            let asked: Vec<&str> =
                call.transcript.iter().filter(|l| l.speaker == "caller").map(|l| l.text.as_str()).collect();
            assert_eq!(asked.iter().filter(|t| t.contains("1002")).count(), 1, "said once, answered once: {asked:?}");
            assert_eq!(call.timeline.iter().filter(|e| e.kind == "caller_continued").count(), 2);
            assert!(!call.timeline.iter().any(|e| e.kind == "interrupted"), "nothing was interrupted");
        }
    })
    .await;
}

/// The guided agent needs the sentence-embedding model; skipped without it (a failure under
/// CI=true).
pub fn embeddings_installed() -> bool {
    let ok = switchboard_models::catalog::locate(
        &switchboard_models::catalog::default_dir(),
        &switchboard_models::catalog::MINILM,
    )
    .is_ok();
    if !ok {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "the MiniLM model package is not installed");
        eprintln!("skipping: the MiniLM model package is not installed");
    }
    ok
}

#[tokio::test]
async fn guided_agent_handles_the_demo_intents_offline() {
    if !embeddings_installed() {
        return;
    }
    on_each_db(|db| async move {
        switchboard::demo::ensure(&db).await.unwrap();
        let account = accounts::by_slug(&db, "demo").await.unwrap().unwrap().id;
        let records = calls::RecordWriter::start(db.clone());
        let (mut s, _) = session(&db, &records, account, "order-assistant").await;
        assert_eq!(s.brain_name(), "guided");
        assert!(s.greeting().starts_with("Hi Maria,"), "known callers are greeted by name");
        let (said, next) = turn(&mut s, "Where is my order 1002?").await;
        assert_eq!(next, Next::Listen);
        assert!(said.join(" ").contains("Order 1002 is shipped"), "{said:?}");
        let (said, _) = turn(&mut s, "and where is my last order").await;
        assert!(said.join(" ").contains("1001") && said.join(" ").contains("delivered"), "{said:?}");
        let (said, _) = turn(&mut s, "what's my balance?").await;
        assert!(said.join(" ").contains("12.50 dollars"), "{said:?}");
        let (said, next) = turn(&mut s, "what is the weather like on mars").await;
        assert_eq!(next, Next::Listen);
        assert!(said.join(" ").contains("speak with a person"), "unknown questions offer a person: {said:?}");
        let (_, next) = turn(&mut s, "yes please").await;
        assert!(matches!(next, Next::Transfer { .. }), "{next:?}");

        // An unknown caller is asked for the number; goodbye ends the call.
        let key = records.create(
            account,
            calls::NewCall {
                direction: "inbound".into(),
                from_number: "+19995550000".into(),
                to_number: "test".into(),
                customer_id: None,
                agent_extension: None,
                ai_agent: None,
            },
            None,
        );
        let setup = SessionSetup {
            db: db.clone(),
            records: records.clone(),
            account,
            agent: "order-assistant".into(),
            caller_number: Some("+19995550000".into()),
            record: Some(key),
        };
        let mut s = Session::start(setup).await.unwrap();
        let (said, _) = turn(&mut s, "I'm calling about my order").await;
        assert!(said.join(" ").contains("order number"), "{said:?}");
        let (said, _) = turn(&mut s, "it's one zero zero three").await;
        assert!(said.join(" ").contains("Order 1003"), "{said:?}");
        let (_, next) = turn(&mut s, "I want to speak to a human").await;
        assert!(matches!(next, Next::Transfer { .. }), "{next:?}");
        let (said, next) = turn(&mut s, "no that's all, goodbye").await;
        assert!(matches!(next, Next::Hangup { .. }), "{next:?} {said:?}");
    })
    .await;
}

/// LLM keys and webhook secret headers are sealed in the database and open only with the key.
#[tokio::test]
async fn llm_keys_and_webhook_secrets_are_sealed_at_rest() {
    on_each_db(|db| async move {
        let keyed = db.clone().with_secrets(switchboard::secrets::SecretKey::from_bytes(&[42; 32]));
        let account = accounts::create(&keyed, "sealed", &switchboard::model::AccountSettings::new("Sealed"))
            .await
            .unwrap()
            .id;
        let agent: AiAgent = serde_json::from_value(json!({
            "name": "keyed", "system_prompt": "x", "greeting": "Hi.",
            "llm": {"base_url": "https://llm.example/v1", "model": "m", "api_key": "sk-very-secret"},
            "escalation_target": {"type": "hangup"}
        }))
        .unwrap();
        config::create(&keyed, account, agent).await.unwrap();
        let tool: switchboard::model::ToolDefinition = serde_json::from_value(json!({
            "name": "crm", "description": "CRM", "parameters": {"type": "object"},
            "implementation": {"type": "webhook", "url": "https://crm.example/hook",
                "secret_headers": {"Authorization": "Bearer hook-secret"}}
        }))
        .unwrap();
        config::create(&keyed, account, tool).await.unwrap();
        let raw: Vec<String> = sqlx::query_scalar("SELECT spec FROM config_entities WHERE account_id = $1")
            .bind(account)
            .fetch_all(keyed.pool())
            .await
            .unwrap();
        let raw = raw.join("\n");
        assert!(!raw.contains("sk-very-secret") && !raw.contains("hook-secret"), "{raw}");
        assert!(raw.contains("sealed:v1:"), "{raw}");
        // Browser softphones' SIP passwords too (the directory gets them back in the clear).
        let user = switchboard::store::users::create(
            &keyed,
            account,
            &switchboard::store::users::UserInput {
                email: "web@sealed.example".into(),
                name: "Web".into(),
                role: switchboard::model::Role::Supervisor,
                password: Some("a-long-password-1".into()),
                agent_extension: None,
                disabled: false,
            },
        )
        .await
        .unwrap();
        let line = switchboard::store::softphone::personal_line(user.id);
        let issued =
            switchboard::store::softphone::issue(&keyed, account, user.id, &line, 1000).await.unwrap();
        let raw: String =
            sqlx::query_scalar("SELECT password FROM softphone_credentials WHERE username = $1")
                .bind(&issued.username)
                .fetch_one(keyed.pool())
                .await
                .unwrap();
        assert!(raw.starts_with("sealed:v1:") && !raw.contains(&issued.password), "{raw}");
        let valid = switchboard::store::softphone::valid(&keyed, 2000).await.unwrap();
        assert!(valid.iter().any(|c| c.username == issued.username && c.password == issued.password));
        let stored = config::get_by_key::<AiAgent>(&keyed, account, "keyed").await.unwrap().unwrap();
        assert_eq!(stored.spec.llm.unwrap().api_key.as_deref(), Some("sk-very-secret"));
        // Without the key (or with another) the secret cannot be read.
        assert!(config::get_by_key::<AiAgent>(&db, account, "keyed").await.is_err());
        let other = db.clone().with_secrets(switchboard::secrets::SecretKey::from_bytes(&[1; 32]));
        assert!(config::get_by_key::<AiAgent>(&other, account, "keyed").await.is_err());
        // Export (with secrets) and import of the same file change nothing.
        let file = switchboard::configfile::export(&keyed, "sealed", true).await.unwrap();
        let yaml = file.to_yaml().unwrap();
        assert!(yaml.contains("sk-very-secret"), "export opens secrets when asked to");
        let again = switchboard::configfile::ConfigFile::from_yaml(&yaml).unwrap();
        let summary = switchboard::configfile::import(&keyed, again, false).await.unwrap();
        assert!(summary.updated.is_empty() && summary.created.is_empty(), "{summary:?}");
    })
    .await;
}

/// Supervisors' notes through the live view: advice enters the next turn (and is acknowledged
/// in the timeline), a tool marked as needing approval waits for an approval (and does not run
/// when refused); everything is in the call's timeline.
#[tokio::test]
async fn supervisor_notes_reach_the_llm_and_approvals_gate_tools() {
    use switchboard::live::{Live, NoteKind, Start};
    use switchboard::model::{BuiltinTool, ToolDefinition, ToolImplementation};
    let url = scripted_llm().await;
    on_each_db(|db| {
        let url = url.clone();
        async move {
            switchboard::demo::ensure(&db).await.unwrap();
            let account = accounts::by_slug(&db, "demo").await.unwrap().unwrap().id;
            llm_agent(&db, account, &url).await;
            let mut agent =
                config::get_by_key::<AiAgent>(&db, account, "llm-assistant").await.unwrap().unwrap();
            agent.spec.tools.push("account_balance".into());
            config::update(&db, account, agent.id, agent.spec).await.unwrap();
            config::create(
                &db,
                account,
                ToolDefinition {
                    name: "account_balance".into(),
                    description: "The caller's balance".into(),
                    parameters: json!({"type": "object", "properties": {}}),
                    implementation: ToolImplementation::Builtin { builtin: BuiltinTool::AccountBalance },
                    requires_approval: true,
                    cancel_on_interruption: true,
                },
            )
            .await
            .unwrap();
            let records = calls::RecordWriter::start(db.clone());
            let (mut s, key) = session(&db, &records, account, "llm-assistant").await;
            let live = Live::new();
            let (call, inbox) = live.start(Start {
                account,
                call_id: None,
                caller: None,
                customer: None,
                agent: "llm-assistant".into(),
                brain: "llm".into(),
                record: Some((records.clone(), key)),
            });
            s.take_notes_from(inbox.notes);
            let mut observed = s.observe();
            s.greeting();

            // Without guidance the model has nothing to offer.
            let (said, _) = turn(&mut s, "Is there anything else?").await;
            assert_eq!(said.join(" "), "How can I help?");
            // Advice: the next turn has it, and says so in the timeline.
            let note = live
                .note(account, call.id(), "Sam", NoteKind::Advice, "Offer free express shipping.")
                .unwrap();
            let (said, _) = turn(&mut s, "Is there anything else?").await;
            assert!(said.join(" ").contains("express shipping"), "{said:?}");

            // A tool that needs approval waits for one: approved, it runs.
            let approver = {
                let live = live.clone();
                let id = call.id();
                tokio::spawn(async move {
                    let mut decisions = vec![NoteKind::Approve, NoteKind::Deny].into_iter();
                    while let Some((kind, data)) = observed.recv().await {
                        if kind == "approval_needed" {
                            assert_eq!(data["tool"], "account_balance");
                            let Some(decision) = decisions.next() else { break };
                            live.note(account, id, "Sam", decision, "checked the account").unwrap();
                        }
                    }
                })
            };
            let (said, _) = turn(&mut s, "What is my balance?").await;
            let said = said.join(" ");
            assert!(said.contains("check that with a colleague") && said.contains("balance is"), "{said}");
            // Refused, it does not run and the model is told.
            let (said, _) = turn(&mut s, "And my balance again?").await;
            assert!(said.join(" ").contains("can't do that"), "{said:?}");
            // A standing approval (sent before the tool asks) is used by the next call.
            live.note(account, call.id(), "Sam", NoteKind::Approve, "").unwrap();
            let (said, _) = turn(&mut s, "My balance please?").await;
            assert!(said.join(" ").contains("balance is"), "{said:?}");
            s.finish();
            drop(s);
            approver.await.unwrap();
            records.flush().await;

            let call = newest_call(&db, account).await;
            let events = |kind: &str| call.timeline.iter().filter(|e| e.kind == kind).count();
            assert_eq!(events("supervisor_note"), 4, "{:?}", call.timeline);
            let ack = call.timeline.iter().find(|e| e.kind == "guidance_acknowledged").expect("acknowledged");
            assert_eq!((ack.data["note_id"].as_u64(), ack.data["by"].as_str()), (Some(note), Some("Sam")));
            assert_eq!(events("approval_needed"), 2, "the standing approval needed no request");
            assert_eq!((events("approval_given"), events("approval_refused")), (2, 1));
            let balance_calls: Vec<&calls::CallEvent> = call
                .timeline
                .iter()
                .filter(|e| e.kind == "tool_call" && e.data["tool"] == "account_balance")
                .collect();
            assert_eq!(balance_calls.len(), 3);
            assert!(
                balance_calls[1].data["error"].as_str().unwrap().contains("did not approve"),
                "{:?}",
                balance_calls[1]
            );
            assert!(balance_calls[0].data["result"]["balance_cents"].is_i64());
        }
    })
    .await;
}
