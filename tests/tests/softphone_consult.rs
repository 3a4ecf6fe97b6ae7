//! Warm transfer and conference from the browser workspace: Alice (headless Chromium) takes
//! Bob's call, consults Carol and cancels (back with Bob, off hold by itself), consults her
//! again and merges her in, mutes her from the conference card, and leaves: Bob and Carol go on.

use serde_json::json;
use std::time::Duration;
use switchboard_tests::workspace::{alice_in_browser, bob_calls_alice, wait_line};
use switchboard_tests::{
    add_carol, assert_no_page_errors, free_udp_port, get_json as json_of, login, mic_and_recorder,
    require_program, screenshot_dir, seconds_heard, Baresip, PhoneOptions, Server,
};

/// Alice picks Carol in the transfer picker and consults her first (a call on line 2).
async fn consult_carol(b: &mut switchboard_tests::Browser) {
    let open = "#ws-transfer button[data-action='open']";
    b.run(json!({"do": "visible", "selector": open, "timeout": 10000})).await;
    b.run(json!({"do": "click", "selector": open})).await;
    b.run(json!({"do": "visible", "selector": "#ws-transfer select"})).await;
    b.run(json!({"do": "select", "selector": "#ws-transfer select", "value": r#"{"type":"agent","extension":"103"}"#}))
        .await;
    b.run(json!({"do": "click", "selector": "#ws-transfer button[data-action='consult']"})).await;
}

#[tokio::test]
async fn an_agent_consults_cancels_merges_a_conference_and_leaves_it_from_the_workspace() {
    if !require_program("baresip") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sip = format!("127.0.0.1:{}", free_udp_port());
    let mut server = Server::start(&dir.path().join("data"), &["--demo", "--sip", &sip], &[]).unwrap();
    let client = switchboard_tests::http();
    let admin = login(&client, &server, "admin@demo.example", "switchboard-demo").await.unwrap();
    // Carol answers by hand (so that a consult can be cancelled while it rings).
    let carol_account = add_carol(&client, &server, &admin, &sip).await.replace(";answermode=auto", "");
    let (tone_c, rec_c) = mic_and_recorder(dir.path(), "carol", 700.0, 60.0);
    let carol = Baresip::start_with(
        &carol_account,
        PhoneOptions { microphone: Some(tone_c), record_dir: Some(rec_c), ..Default::default() },
    )
    .unwrap();
    carol.wait_for("200 OK", Duration::from_secs(15)).unwrap();
    let Some(mut browser) = alice_in_browser(&server, dir.path(), 1000.0).await else { return };
    let (bob, rec_b) = bob_calls_alice(dir.path(), &sip, 60.0);
    wait_line(&mut browser, 0, "ringing").await;
    browser.run(json!({"do": "click", "selector": "#call-banner button.accept"})).await;
    wait_line(&mut browser, 0, "talking").await;
    bob.wait_for("Call established", Duration::from_secs(10)).unwrap();

    // Consult Carol from the transfer picker, then cancel while she rings.
    consult_carol(&mut browser).await;
    carol.wait_for("Incoming call", Duration::from_secs(10)).unwrap();
    browser.run(json!({"do": "waitText", "selector": "#ws-consult", "text": "Calling Carol Diaz"})).await;
    browser.run(json!({"do": "click", "selector": "#ws-consult button[data-action='cancel']"})).await;
    wait_line(&mut browser, 1, "idle").await;
    // Back with Bob by itself: off hold, and told so.
    wait_line(&mut browser, 0, "talking").await;
    browser.run(json!({"do": "waitText", "selector": "#ws-consult", "text": "Consult cancelled"})).await;

    // Consult again; Carol answers; merge her into a conference.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    consult_carol(&mut browser).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while carol.log().matches("Incoming call").count() < 2 {
        assert!(std::time::Instant::now() < deadline, "Carol was not called again:\n{}", carol.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    carol.command("accept", "").unwrap();
    browser.run(json!({"do": "waitText", "selector": "#ws-consult", "text": "Consulting Carol Diaz"})).await;
    let merge = "#ws-consult button[data-action='merge']:not([disabled])";
    browser.run(json!({"do": "visible", "selector": merge, "timeout": 10000})).await;
    browser
        .run(json!({"do": "screenshot", "path": screenshot_dir().join("workspace-consult.png").display().to_string()}))
        .await;
    browser.run(json!({"do": "click", "selector": merge})).await;
    browser.run(json!({"do": "waitText", "selector": "#ws-consult", "text": "Conference · 3 people"})).await;
    wait_line(&mut browser, 1, "idle").await;
    wait_line(&mut browser, 0, "talking").await;
    let card = browser.run(json!({"do": "text", "selector": "#ws-consult"})).await;
    let card = card["text"].as_str().unwrap_or_default().to_string();
    assert!(
        card.contains("Alice Nguyen (you)") && card.contains("Carol Diaz") && card.contains("Bob Martinez"),
        "{card}"
    );
    // Mute Carol from the card.
    browser.run(json!({"do": "click", "selector": "#ws-consult li[data-party='Carol Diaz'] button[data-action='mute']"})).await;
    browser
        .run(
            json!({"do": "waitText", "selector": "#ws-consult li[data-party='Carol Diaz']", "text": "muted"}),
        )
        .await;
    browser
        .run(json!({"do": "screenshot", "path": screenshot_dir().join("workspace-conference.png").display().to_string()}))
        .await;
    browser.run(json!({"do": "click", "selector": "#ws-consult li[data-party='Carol Diaz'] button[data-action='mute']"})).await;
    browser.run(json!({"do": "waitText", "selector": "#ws-consult li[data-party='Carol Diaz']", "text": "talking"})).await;
    // Alice leaves: Bob and Carol go on.
    browser.run(json!({"do": "click", "selector": "#ws-consult button[data-action='leave']"})).await;
    wait_line(&mut browser, 0, "idle").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        !bob.log().contains("terminated") && !bob.log().contains("session closed"),
        "{}",
        server.log_text()
    );
    assert_no_page_errors(&mut browser).await;
    bob.stop();
    let heard = seconds_heard(&rec_b, 700.0);
    assert!(heard > 2.0, "Bob heard Carol for {heard:.1} s");
    let calls = json_of(&client, &server, &admin, "/api/calls").await;
    let first =
        calls.as_array().unwrap().iter().find(|c| c["to_number"].as_str().is_some_and(|t| t.contains("101")));
    let call = json_of(&client, &server, &admin, &format!("/api/calls/{}", first.unwrap()["id"])).await;
    let kinds: Vec<&str> =
        call["timeline"].as_array().unwrap().iter().filter_map(|e| e["kind"].as_str()).collect();
    for kind in ["hold", "conference_joined", "party_muted", "party_unmuted", "party_left"] {
        assert!(kinds.contains(&kind), "no {kind} in {kinds:?}");
    }
}

/// Alice calls Bob from the browser and sends him to Carol from the workspace's transfer picker:
/// the call turns around (Bob becomes its caller), Alice's line ends, Carol's phone rings and
/// answers, and Bob hears Carol.
#[tokio::test]
async fn an_agent_sends_the_person_she_called_to_a_colleague_from_the_workspace() {
    if !require_program("baresip") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sip = format!("127.0.0.1:{}", free_udp_port());
    let mut server = Server::start(&dir.path().join("data"), &["--demo", "--sip", &sip], &[]).unwrap();
    let client = switchboard_tests::http();
    let admin = login(&client, &server, "admin@demo.example", "switchboard-demo").await.unwrap();
    let carol_account = add_carol(&client, &server, &admin, &sip).await;
    let (tone_c, rec_c) = mic_and_recorder(dir.path(), "carol", 700.0, 30.0);
    let carol = Baresip::start_with(
        &carol_account,
        PhoneOptions { microphone: Some(tone_c), record_dir: Some(rec_c.clone()), ..Default::default() },
    )
    .unwrap();
    let (tone_b, rec_b) = mic_and_recorder(dir.path(), "bob", 1000.0, 30.0);
    let bob = Baresip::start_with(
        &switchboard_tests::demo_account(&sip, "102", ";answermode=auto"),
        PhoneOptions { microphone: Some(tone_b), record_dir: Some(rec_b.clone()), ..Default::default() },
    )
    .unwrap();
    switchboard_tests::wait_registered(&client, &server, &admin, &["102", "103"]).await;
    let Some(mut b) = alice_in_browser(&server, dir.path(), 440.0).await else { return };
    b.run(json!({"do": "fill", "selector": "#ws-dial input[name=number]", "value": "102"})).await;
    b.run(json!({"do": "click", "selector": "#ws-dial button[type=submit]"})).await;
    wait_line(&mut b, 0, "talking").await;
    bob.wait_for("Call established", Duration::from_secs(10)).unwrap();

    let open = "#ws-transfer button[data-action='open']";
    b.run(json!({"do": "visible", "selector": open, "timeout": 10000})).await;
    b.run(json!({"do": "click", "selector": open})).await;
    b.run(json!({"do": "visible", "selector": "#ws-transfer select"})).await;
    b.run(json!({"do": "select", "selector": "#ws-transfer select", "value": r#"{"type":"agent","extension":"103"}"#}))
        .await;
    b.run(json!({"do": "click", "selector": "#ws-transfer button[data-action='transfer']"})).await;
    if let Err(e) = carol.wait_for("Call established", Duration::from_secs(10)) {
        panic!("{e}\nServer:\n{}", server.log_text());
    }
    wait_line(&mut b, 0, "idle").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_no_page_errors(&mut b).await;
    bob.stop();
    carol.wait_for("terminated", Duration::from_secs(5)).unwrap();
    let (b_carol, c_bob) = (seconds_heard(&rec_b, 700.0), seconds_heard(&rec_c, 1000.0));
    assert!(b_carol > 1.5, "Bob heard Carol for {b_carol:.1} s");
    assert!(c_bob > 1.5, "Carol heard Bob for {c_bob:.1} s");
    assert!(seconds_heard(&rec_c, 440.0) < 0.5, "Carol never heard Alice");
    let calls = json_of(&client, &server, &admin, "/api/calls").await;
    let call = json_of(&client, &server, &admin, &format!("/api/calls/{}", calls[0]["id"])).await;
    let transferred = call["timeline"].as_array().unwrap().iter().find(|e| e["kind"] == "transferred");
    let transferred = transferred.unwrap_or_else(|| panic!("no transfer in {call}"));
    assert_eq!(transferred["data"]["by"], "Alice Nguyen", "{call}");
}
