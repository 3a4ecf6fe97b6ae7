//! Which recogniser hears callers: the server's default (`serve --recogniser`) and an AI agent's
//! own choice (`recogniser` in its configuration), each on a real call: a Piper caller heard by
//! Moonshine through the guided agent, an espeak-ng caller heard by Whisper through the LLM
//! agent (which also listens for the end of turn with the turn model); both callers' order
//! numbers come through and the order's status is given.

mod ai_support;

use ai_support::*;
use serde_json::{json, Value};
use std::time::Duration;
use switchboard_tests::get_json;

fn latency(call: &Value) -> Value {
    let latency = call["timeline"].as_array().unwrap().iter().find(|e| e["kind"] == "latency");
    latency.map(|l| l["data"].clone()).unwrap_or_default()
}

fn latency_recogniser(call: &Value) -> String {
    latency(call)["recogniser"].as_str().unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_servers_recogniser_and_an_agents_own_each_hear_the_callers_order_number() {
    let _serial = SERIAL.lock().await;
    if !ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let question = "Where is my order number one zero zero two?";
    let natural = natural_speech(dir.path(), question, 8000);
    let robotic = speech(dir.path(), question);
    let mut rig = rig_with(dir, &["--recogniser", "moonshine"]).await;

    // The demo's guided agent names no recogniser: the server's, Moonshine, hears a Piper caller.
    let phone = RtpPhone::start().await;
    let sipp = rig.call("+15555550101", &phone, 30_000);
    if phone.try_wait_for_speech_then_quiet(0, 800, Duration::from_secs(30)).await.is_none() {
        panic!("no greeting; server log:\n{}", rig.server.log_text());
    }
    phone.say(&natural).await;
    let asked = phone.heard_len();
    if phone.try_wait_for_speech_then_quiet(asked, 1200, Duration::from_secs(30)).await.is_none() {
        panic!("no answer; server log:\n{}", rig.server.log_text());
    }
    sipp_ok(sipp.await.unwrap());
    let call = rig.last_call().await;
    let ai_said = |call: &Value| -> Vec<String> {
        call["transcript"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|l| l["speaker"] == "ai")
            .filter_map(|l| l["text"].as_str().map(str::to_string))
            .collect()
    };
    assert!(ai_said(&call).iter().any(|l| l.contains("Order 1002 is shipped")), "{}", call["transcript"]);
    assert!(latency_recogniser(&call).starts_with("moonshine"), "{}", call["timeline"]);
    assert_eq!(latency(&call)["turn_score"], Value::Null, "the turn model is off by default");

    // The LLM agent asks for Whisper: an espeak-ng caller, heard by Whisper tiny.en.
    let agents = get_json(&rig.client, &rig.server, &rig.admin, "/api/ai_agents").await;
    let mut agent = agents
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "llm-assistant")
        .cloned()
        .expect("llm-assistant");
    assert_eq!(agent["recogniser"], "default", "{agent}");
    let id = agent["id"].clone();
    agent["recogniser"] = json!("whisper");
    // ...and listens for the end of turn in the caller's voice too.
    assert_eq!(agent["end_of_turn_model"], false, "{agent}");
    agent["end_of_turn_model"] = json!(true);
    for key in ["id", "created_at", "updated_at"] {
        agent.as_object_mut().unwrap().remove(key);
    }
    let r = rig
        .client
        .put(rig.server.url(&format!("/api/ai_agents/{id}")))
        .header("cookie", &rig.admin)
        .json(&agent)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap_or_default());
    let phone = RtpPhone::start().await;
    let sipp = rig.call("+15555550177", &phone, 30_000);
    phone.wait_for_speech_then_quiet(0, 800, Duration::from_secs(30)).await;
    phone.say(&robotic).await;
    let asked = phone.heard_len();
    phone.wait_for_speech_then_quiet(asked, 1200, Duration::from_secs(30)).await;
    sipp_ok(sipp.await.unwrap());
    let call = rig.last_call().await;
    let tool = call["timeline"].as_array().unwrap().iter().find(|e| e["kind"] == "tool_call").cloned();
    assert_eq!(
        tool.as_ref().map(|t| t["data"]["arguments"]["order_number"].clone()),
        Some(json!("1002")),
        "{call}"
    );
    assert!(ai_said(&call).iter().any(|l| l.contains("shipped")), "{}", call["transcript"]);
    assert!(latency_recogniser(&call).starts_with("whisper.cpp (whisper-tiny.en"), "{}", call["timeline"]);
    // The pause that ended the turn was scored by the turn model.
    let score = latency(&call)["turn_score"].as_f64();
    assert!(score.is_some_and(|p| (0.0..=1.0).contains(&p)), "{}", call["timeline"]);
}
