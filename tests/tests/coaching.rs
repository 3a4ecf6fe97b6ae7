//! Live AI coaching, end to end: a carrier caller (sipp's call, the test's RTP phone speaking
//! in the natural voice: Whisper tiny mishears espeak-ng now and then, and a CI run heard "How
//! do I return something?" as "I'm doing something") reaches the demo's sales queue and Alice answers in Chromium, her
//! microphone playing her greeting. Both sides are transcribed live; the caller names an order
//! and Alice's workspace shows that order's card; asks how to return something and gets the
//! merchant's written answer as a suggestion; asks for a manager, and the alert shows in her
//! workspace and on the supervisors' queue dashboard. Her greeting ticks the checklist. Nobody
//! else can read the coaching, and the call's timeline keeps the cards, the tick, the alert
//! and what was still open at the end.

mod ai_support;

use ai_support::*;
use serde_json::{json, Value};
use std::time::Duration;
use switchboard_tests::workspace::{alice_with_microphone, wait_line};
use switchboard_tests::{add_number, assert_no_page_errors, get_json, screenshot_dir};

/// Alice's microphone: her greeting in the natural voice (a person's voice, as browsers carry
/// it), then silence (the browser plays the file in a loop).
fn alice_mic(dir: &std::path::Path) -> std::path::PathBuf {
    let text = "Thank you for calling Acme, my name is Alice. How can I help you today?";
    let mut samples = natural_speech(dir, text, 16_000);
    samples.extend(std::iter::repeat_n(0i16, 16_000 * 10));
    let path = dir.join("alice-greeting.wav");
    std::fs::write(&path, switchboard_telephony::media::wav::encode_pcm16(&samples, 16_000, 1)).unwrap();
    path
}

/// Waits for `text` in what `selector` shows; on failure, says what the coach heard.
async fn wait_for(alice: &mut switchboard_tests::Browser, rig: &mut Rig, selector: &str, text: &str) {
    let r =
        alice.try_run(json!({"do": "waitText", "selector": selector, "text": text, "timeout": 20000})).await;
    if r["ok"] != true {
        let log = rig.server.log_text();
        let heard: Vec<&str> = log.lines().filter(|l| l.contains("coaching")).collect();
        panic!("{text:?} never showed in {selector}: {r}\nthe coach's log:\n{}", heard.join("\n"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_coach_shows_alice_the_order_the_caller_names_a_suggested_answer_and_ticks_her_greeting() {
    let _serial = SERIAL.lock().await;
    if !ready() {
        return;
    }
    let mut rig = rig(tempfile::tempdir().unwrap()).await;
    let dir = rig._dir.path().to_path_buf();
    add_number(
        &rig.client,
        &rig.server,
        &rig.admin,
        "+15555550188",
        json!({"type": "queue", "name": "sales"}),
    )
    .await;
    let mic = alice_mic(&dir);
    let Some(mut alice) = alice_with_microphone(&rig.server, &mic).await else { return };

    let phone = RtpPhone::start().await;
    let sipp = rig.call_until_bye("+15555550188", &phone);
    wait_line(&mut alice, 0, "ringing").await;
    alice.run(json!({"do": "click", "selector": "#call-banner button.accept"})).await;
    wait_line(&mut alice, 0, "talking").await;
    alice.run(json!({"do": "visible", "selector": "#ws-coach"})).await;

    tokio::time::sleep(Duration::from_secs(2)).await;
    phone.say(&natural_speech(&dir, "Hi, I'm calling about order 1002.", 8000)).await;
    wait_for(&mut alice, &mut rig, "#coach-cards", "Order #1002").await;
    phone.say(&natural_speech(&dir, "How do I return something?", 8000)).await;
    wait_for(&mut alice, &mut rig, "#coach-cards", "Returns are free within 30 days").await;
    phone.say(&natural_speech(&dir, "This is not good enough. I want to speak to your manager.", 8000)).await;
    wait_for(&mut alice, &mut rig, ".coach-alerts", "manager").await;
    wait_for(&mut alice, &mut rig, "#coach-checklist li.done", "Greet the caller").await;

    // The caller's words and Alice's are in the live transcript.
    let transcript = alice.run(json!({"do": "text", "selector": "#coach-transcript"})).await;
    let transcript = transcript["text"].as_str().unwrap_or_default().to_lowercase();
    assert!(transcript.contains("caller") && transcript.contains("manager"), "{transcript}");
    assert!(transcript.contains("you") && transcript.contains("help you"), "Alice's own words: {transcript}");

    // Supervisors see the alert on the queue dashboard; nobody but Alice reads the coaching.
    let queues = get_json(&rig.client, &rig.server, &rig.admin, "/api/queues-live").await;
    let sales = queues.as_array().unwrap().iter().find(|q| q["name"] == "sales").cloned().unwrap();
    let alice_row =
        sales["members"].as_array().unwrap().iter().find(|m| m["extension"] == "101").cloned().unwrap();
    assert!(alice_row["alerts"].to_string().contains("asks_for_manager"), "{alice_row}");
    let call_id = alice_row["call_id"].as_i64().expect("Alice's call");
    let other = rig
        .client
        .get(rig.server.url(&format!("/api/calls/{call_id}/coaching")))
        .header("cookie", &rig.admin);
    let other = other.send().await.unwrap();
    let status = other.status().as_u16();
    let body = other.text().await.unwrap();
    assert!(status == 204 && body.is_empty(), "an admin not on the call read its coaching: {status} {body}");
    alice
        .run(json!({"do": "screenshot", "path": screenshot_dir().join("coaching.png").display().to_string()}))
        .await;

    alice.run(json!({"do": "evaluate", "expression": "window.switchboardPhone.hangup(0)"})).await;
    sipp_ok(sipp.await.unwrap());
    // After the call (her wrap-up) the checklist says what was left out.
    alice.run(json!({"do": "waitText", "selector": ".still-open", "text": "Recap what was agreed", "timeout": 10000})).await;

    // The call's timeline keeps the coaching.
    // (The coach writes its last event as the call ends: wait for it.)
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let (events, transcript): (Vec<Value>, Vec<Value>) = loop {
        let record = rig.last_call().await;
        let events = record["timeline"].as_array().cloned().unwrap_or_default();
        if events.iter().any(|e| e["kind"] == "coaching_ended") || std::time::Instant::now() > deadline {
            break (events, record["transcript"].as_array().cloned().unwrap_or_default());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // The live lines are the call's transcript: the caller's and Alice's, by name, in order.
    let said = |speaker: &str| -> String {
        let lines = transcript.iter().filter(|l| l["speaker"] == speaker);
        lines.map(|l| l["text"].as_str().unwrap_or_default().to_lowercase()).collect::<Vec<_>>().join(" ")
    };
    assert!(said("caller").contains("manager"), "{transcript:?}");
    assert!(said("agent").contains("help you"), "Alice's words: {transcript:?}");
    assert!(
        transcript.iter().filter(|l| l["speaker"] == "agent").all(|l| l["name"] == "Alice Nguyen"),
        "{transcript:?}"
    );
    let starts: Vec<i64> = transcript.iter().filter_map(|l| l["start_ms"].as_i64()).collect();
    assert!(starts.windows(2).all(|w| w[0] <= w[1]) && starts.iter().all(|&t| t >= 0), "{transcript:?}");
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["kind"].as_str()).collect();
    for kind in
        ["coaching_started", "coaching_card", "coaching_checklist", "coaching_alert", "coaching_ended"]
    {
        assert!(kinds.contains(&kind), "{kind} missing from the timeline: {kinds:?}");
    }
    let ended = events.iter().find(|e| e["kind"] == "coaching_ended").unwrap();
    assert!(ended.to_string().contains("Recap what was agreed"), "{ended}");
    assert!(
        events.iter().any(|e| e["kind"] == "coaching_card" && e.to_string().contains("Order #1002")),
        "{events:?}"
    );
    assert_no_page_errors(&mut alice).await;
    alice.close().await;
}
