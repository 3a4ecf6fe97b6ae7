//! The live queue dashboard in Chromium: Alice (the workspace) and Bob (baresip) are on a call
//! with each other, so a carrier caller to the support queue waits for them (busy members are
//! there: the caller is not sent to overflow). Sam the supervisor sees the caller (matched to
//! their customer), the agents on their call and today's figures; he sets Bob's status from
//! the page, then answers the waiting caller himself: his browser phone rings for them.

use serde_json::json;
use std::time::Duration;
use switchboard_tests::workspace::{alice_in_browser, bob_calls_alice, wait_line};
use switchboard_tests::{
    add_number, assert_no_page_errors, browser_tone, free_media_port, free_udp_port, get_json, login,
    require_program, screenshot_dir, set_demo_trunk, Browser, Server,
};

const PASSWORD: &str = "switchboard-demo";

#[tokio::test]
async fn a_supervisor_watches_the_queues_sets_a_status_and_answers_a_waiting_caller() {
    if !require_program("baresip") || !require_program("sipp") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sip = format!("127.0.0.1:{}", free_udp_port());
    let server = Server::start(&dir.path().join("data"), &["--demo", "--sip", &sip], &[]).unwrap();
    let client = switchboard_tests::http();
    let admin = login(&client, &server, "admin@demo.example", PASSWORD).await.unwrap();
    let supervisor = login(&client, &server, "supervisor@demo.example", PASSWORD).await.unwrap();
    add_number(&client, &server, &admin, "+15555550188", json!({"type": "queue", "name": "support"})).await;
    let Some(mut alice) = alice_in_browser(&server, dir.path(), 1000.0).await else { return };
    let (bob, _heard) = bob_calls_alice(dir.path(), &sip, 60.0);
    wait_line(&mut alice, 0, "ringing").await;
    alice.run(json!({"do": "click", "selector": "#call-banner button.accept"})).await;
    wait_line(&mut alice, 0, "talking").await;
    bob.wait_for("Call established", Duration::from_secs(10)).unwrap();

    // Sam's page, with his browser phone (a personal line) connected.
    let mic = dir.path().join("sam-mic.wav");
    browser_tone(&mic, 700.0, 30.0);
    let Some(mut sam) = Browser::start_with(&server.url(""), Some(&mic)).await else { return };
    sam.run(json!({"do": "login", "email": "supervisor@demo.example", "password": PASSWORD})).await;
    sam.run(json!({"do": "waitUntil", "expression": "window.switchboardPhone.status === 'registered'", "timeout": 15000}))
        .await;
    sam.run(json!({"do": "evaluate", "expression": "location.hash = '#/queues'"})).await;
    sam.run(json!({"do": "visible", "selector": ".dash-queue[data-queue='support']"})).await;

    // A customer calls the support queue through the carrier and waits.
    let carrier_port = free_udp_port();
    set_demo_trunk(&client, &server, &admin, None, Some(carrier_port)).await;
    let scenario = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/ai_caller_until_bye.xml");
    let caller = tokio::process::Command::new("sipp")
        .args(["-sf", scenario, &sip, "-i", "127.0.0.1", "-p", &carrier_port.to_string(), "-mi", "127.0.0.1"])
        .args(["-mp", &free_media_port().to_string(), "-s", "+15555550188", "-key", "rtp_port"])
        .args([&free_udp_port().to_string(), "-m", "1", "-nostdin", "-timeout", "60s"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let support = ".dash-queue[data-queue='support']";
    sam.run(json!({"do": "waitText", "selector": format!("{support} .dash-waiting"), "text": "Maria Garcia", "timeout": 15000}))
        .await;
    sam.run(json!({"do": "waitText", "selector": format!("{support} .member[data-member='101']"), "text": "On call with 102"}))
        .await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let card = sam.run(json!({"do": "text", "selector": support})).await;
    let text = card["text"].as_str().unwrap();
    assert!(text.contains("+12025550100"), "the caller's number: {text}");
    sam.run(json!({"do": "screenshot", "path": screenshot_dir().join("queue-dashboard.png").display().to_string()}))
        .await;

    // Sam sets Bob unavailable from the page.
    sam.run(json!({"do": "select", "selector": format!("{support} select[data-extension='102']"), "value": "away"})).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let presence = get_json(&client, &server, &supervisor, "/api/presence").await;
        let bob_status = presence
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["extension"] == "102")
            .map(|p| p["status"].clone());
        if bob_status == Some(json!("away")) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "Bob's status was not set: {presence}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Sam answers the waiting caller: his phone rings for them, he takes the call.
    sam.run(json!({"do": "click", "selector": format!("{support} button[data-action='answer']")})).await;
    wait_line(&mut sam, 0, "ringing").await;
    sam.run(json!({"do": "click", "selector": "#call-banner button.accept"})).await;
    wait_line(&mut sam, 0, "talking").await;
    sam.run(json!({"do": "waitText", "selector": format!("{support} .dash-waiting, {support} .empty-line"), "text": "Nobody waiting"}))
        .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    sam.run(json!({"do": "evaluate", "expression": "window.switchboardPhone.hangup(0)"})).await;
    wait_line(&mut sam, 0, "idle").await;
    let out = caller.wait_with_output().await.unwrap();
    assert!(out.status.success(), "caller: {}", String::from_utf8_lossy(&out.stdout));

    // Today's figures count the caller as offered and answered, with a wait and a handle time.
    // (The call's end reaches its record a moment after the caller has gone.)
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let q = loop {
        let queues = get_json(&client, &server, &supervisor, "/api/queues-live").await;
        let q = queues.as_array().unwrap().iter().find(|q| q["name"] == "support").cloned().unwrap();
        if !q["today"]["average_handle_s"].is_null() || std::time::Instant::now() > deadline {
            break q;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!((&q["today"]["offered"], &q["today"]["answered"]), (&json!(1), &json!(1)), "{q}");
    assert!(q["today"]["average_wait_s"].as_f64().unwrap() >= 3.0, "{q}");
    assert!(q["today"]["average_handle_s"].as_f64().is_some(), "{q}");
    assert!(q["hold_time_ms"].as_u64().is_some(), "{q}");
    sam.run(json!({"do": "waitText", "selector": format!("{support} .tiles"), "text": "Answered"})).await;
    assert_no_page_errors(&mut sam).await;
    assert_no_page_errors(&mut alice).await;
    sam.close().await;
    alice.close().await;
}
