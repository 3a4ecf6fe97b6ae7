//! The warm-up request an LLM agent's model server gets before any call (`agent::warm_up`)
//! starts with exactly the bytes every call's requests start with: the same instructions and
//! the same tools in the same order, whoever calls and whatever the supervisor says. The
//! caller's details come after, in a second system message.

use crate::agent::{llm_agent, session, text_reply};
use crate::common::on_each_db;
use axum::response::IntoResponse;
use serde_json::Value;
use std::sync::{Arc, Mutex};
use switchboard::agent::warm_up;
use switchboard::llm::OpenAiCompatible;
use switchboard::model::AiAgent;
use switchboard::store::{accounts, calls, config};

async fn capturing_llm() -> (String, Arc<Mutex<Vec<Value>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let keep = seen.clone();
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        axum::routing::post(move |axum::Json(req): axum::Json<Value>| {
            let keep = keep.clone();
            async move {
                keep.lock().unwrap().push(req);
                ([("content-type", "text/event-stream")], text_reply("Hello there.")).into_response()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/v1"), seen)
}

#[tokio::test]
async fn the_warm_up_request_starts_as_every_calls_request_does() {
    let (url, seen) = capturing_llm().await;
    on_each_db(|db| {
        let (url, seen) = (url.clone(), seen.clone());
        async move {
            seen.lock().unwrap().clear();
            switchboard::demo::ensure(&db).await.unwrap();
            let account = accounts::by_slug(&db, "demo").await.unwrap().unwrap().id;
            llm_agent(&db, account, &url).await;
            let agent =
                config::get_by_key::<AiAgent>(&db, account, "llm-assistant").await.unwrap().unwrap().spec;

            let request =
                warm_up::request(&db, account, &agent).await.unwrap().expect("an LLM agent warms up");
            assert_eq!(request.max_tokens, Some(1), "one token is enough to read the prompt");
            let client = OpenAiCompatible::new(&url, None);
            warm_up::send(&client, request).await.expect("the warm-up is answered");

            // Two calls from different callers, one with supervisor guidance.
            let records = calls::RecordWriter::start(db.clone());
            let (mut first, _) = session(&db, &records, account, "llm-assistant").await;
            let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
            first.respond("Hello, where is my parcel?", &tx).await;
            first.respond("And when will it come?", &tx).await;
            let setup = switchboard::agent::SessionSetup {
                db: db.clone(),
                records: records.clone(),
                account,
                agent: "llm-assistant".into(),
                caller_number: Some("+19995550000".into()),
                record: None,
            };
            let mut second = switchboard::agent::Session::start(setup).await.unwrap();
            second.add_guidance("Offer express shipping");
            second.respond("Hi there", &tx).await;

            let seen = seen.lock().unwrap().clone();
            assert_eq!(seen.len(), 4, "the warm-up and three turns");
            let warm = &seen[0];
            assert_eq!(warm["max_completion_tokens"], 1, "{warm}");
            for turn in &seen[1..] {
                assert_eq!(turn["messages"][0], warm["messages"][0], "the instructions are byte-identical");
                assert_eq!(turn["tools"], warm["tools"], "the tools are declared identically");
                assert_eq!(turn["model"], warm["model"]);
                assert_eq!(turn["messages"][1]["role"], "system", "the call's context comes second");
            }
            assert!(seen[1]["messages"][1]["content"].as_str().unwrap().contains("Maria Garcia"));
            let strangers = seen[3]["messages"][1]["content"].as_str().unwrap();
            assert!(strangers.contains("not a known customer") && strangers.contains("express shipping"));
            assert_ne!(seen[1]["messages"][1], seen[3]["messages"][1]);
        }
    })
    .await;
}
