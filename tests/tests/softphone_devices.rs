//! The softphone's microphone and speaker choice and its ringtone in the workspace (headless
//! Chromium with fake devices): the agent picks a microphone, the choice is kept and used for
//! the next call (its track is that device's), a speaker chosen during a call takes its audio;
//! an incoming call rings in the page until it is answered. A registration the server refuses
//! is retried with fresh credentials (the agent moved to another extension meanwhile). A server
//! told to give browsers G.711 only answers Chromium with PCMU, and both ends hear each other.

use serde_json::json;
use std::time::Duration;
use switchboard_tests::workspace::{alice_in_browser, bob_calls_alice, wait_line};
use switchboard_tests::{
    add_carol, assert_no_page_errors, browser_hears, find_file, free_udp_port, get_json, http, login,
    require_program, tone_of, wait_registered, Server,
};

#[tokio::test]
async fn a_chosen_microphone_is_kept_and_used_and_a_call_rings_until_answered() {
    if !require_program("baresip") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sip = format!("127.0.0.1:{}", free_udp_port());
    let server = Server::start(&dir.path().join("data"), &["--demo", "--sip", &sip], &[]).unwrap();
    let Some(mut b) = alice_in_browser(&server, dir.path(), 1000.0).await else { return };
    // The device lists are filled once the page may see them (the fake devices).
    let options = "[...document.querySelectorAll('#ws-mic option')].map((o) => o.value).filter(Boolean)";
    b.run(json!({"do": "waitUntil", "expression": format!("{options}.length > 0"), "timeout": 10000})).await;
    // A particular microphone rather than the system's default one.
    let chosen = b.run(json!({"do": "evaluate", "expression": format!("{options}.filter((v) => v !== 'default').concat({options}).shift()")})).await;
    let chosen = chosen["value"].as_str().unwrap().to_string();
    b.run(json!({"do": "click", "selector": "details.devices summary"})).await;
    b.run(json!({"do": "select", "selector": "#ws-mic", "value": chosen})).await;
    let kept = b.run(json!({"do": "evaluate", "expression": "localStorage.getItem('phone-input')"})).await;
    assert_eq!(kept["value"], chosen.as_str());
    let asked = b
        .run(json!({"do": "evaluate", "expression": "window.switchboardPhone.mediaOptions().mediaConstraints.audio.deviceId.exact"}))
        .await;
    assert_eq!(asked["value"], chosen.as_str(), "the next call asks for the chosen microphone");

    // Bob calls: the page rings until Alice answers.
    let (bob, _) = bob_calls_alice(dir.path(), &sip, 30.0);
    wait_line(&mut b, 0, "ringing").await;
    let ringing =
        b.run(json!({"do": "evaluate", "expression": "window.switchboardPhone.ringtone !== null"})).await;
    assert_eq!(ringing["value"], true, "no ringtone while a call rings");
    b.run(json!({"do": "click", "selector": "#call-banner button.accept"})).await;
    wait_line(&mut b, 0, "talking").await;
    let ringing =
        b.run(json!({"do": "evaluate", "expression": "window.switchboardPhone.ringtone === null"})).await;
    assert_eq!(ringing["value"], true, "the ringtone goes on after the answer");
    bob.wait_for("Call established", Duration::from_secs(10)).unwrap();
    // The call's microphone track is the chosen device.
    let used = b
        .run(json!({"do": "evaluate", "expression":
            "window.switchboardPhone.lines[0].session.connection.getSenders().map((s) => s.track && s.track.getSettings().deviceId).filter(Boolean)[0]"}))
        .await;
    assert_eq!(used["value"], chosen.as_str(), "the call did not use the chosen microphone");
    // A speaker chosen during the call: the line's audio goes there at once.
    let outputs = "[...document.querySelectorAll('#ws-speaker option')].map((o) => o.value).filter((v) => v && v !== 'default')";
    let speaker = b.run(json!({"do": "evaluate", "expression": format!("{outputs}[0] || null")})).await;
    let speaker = speaker["value"].as_str().expect("Chromium's fake devices include a speaker").to_string();
    b.run(json!({"do": "select", "selector": "#ws-speaker", "value": speaker})).await;
    let sink = format!("window.switchboardPhone.lines[0].audio.sinkId === '{speaker}'");
    b.run(json!({"do": "waitUntil", "expression": sink, "timeout": 5000})).await;
    let kept = b.run(json!({"do": "evaluate", "expression": "localStorage.getItem('phone-output')"})).await;
    assert_eq!(kept["value"], speaker.as_str());
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_no_page_errors(&mut b).await;
    bob.stop();
    b.close().await;
}

/// Alice's browser phone is registered as 101 when the owner moves her to extension 103: the
/// server drops the registration as 101 at once, and the phone registers again with fresh
/// credentials, as 103, without the page being reloaded.
#[tokio::test]
async fn a_moved_agents_phone_registers_again_as_the_new_extension() {
    let dir = tempfile::tempdir().unwrap();
    let sip = format!("127.0.0.1:{}", free_udp_port());
    let server = Server::start(&dir.path().join("data"), &["--demo", "--sip", &sip], &[]).unwrap();
    let Some(mut b) = alice_in_browser(&server, dir.path(), 1000.0).await else { return };
    let client = http();
    let owner = login(&client, &server, "owner@demo.example", "switchboard-demo").await.unwrap();
    add_carol(&client, &server, &owner, &sip).await;
    let users = get_json(&client, &server, &owner, "/api/users").await;
    let alice = users.as_array().unwrap().iter().find(|u| u["email"] == "alice@demo.example").unwrap();
    let move_alice = |extension: &str| {
        let to = json!({"email": "alice@demo.example", "name": "Alice Nguyen", "role": "agent", "agent_extension": extension});
        let put =
            client.put(server.url(&format!("/api/users/{}", alice["id"]))).header("cookie", &owner).json(&to);
        async move {
            let r = put.send().await.unwrap();
            assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
        }
    };
    move_alice("103").await;
    // Her browser's registration as 101 ends at once (101's callers no longer ring her), not
    // when it would have expired.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let regs = get_json(&client, &server, &owner, "/api/registrations").await;
        if !regs.as_array().unwrap().iter().any(|r| r["extension"] == "101") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "101 is still registered: {regs}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Her workspace hears of the move (its status refresh names her extension) and her phone
    // registers again as 103 by itself, well before JsSIP's refresh would be refused.
    let renewed =
        "window.switchboardPhone.status === 'registered' && window.switchboardPhone.extension === '103'";
    b.run(json!({"do": "waitUntil", "expression": renewed, "timeout": 20000})).await;
    wait_registered(&client, &server, &owner, &["103"]).await;
    let shown = "document.getElementById('ws-ext').textContent === 'extension 103'";
    b.run(json!({"do": "waitUntil", "expression": shown, "timeout": 5000})).await;
    // Moved back to 101, the workspace's notice held back (as on a page that has not heard
    // yet): the phone's next refresh is refused, and it registers again with fresh credentials.
    b.run(json!({"do": "evaluate", "expression": "(window.switchboardPhone.movingTo = '101', true)"})).await;
    move_alice("101").await;
    // The refresh JsSIP would send within minutes, now.
    b.run(json!({"do": "evaluate", "expression": "(window.switchboardPhone.ua.register(), true)"})).await;
    b.run(json!({"do": "waitUntil", "expression": "window.switchboardPhone.failures > 0", "timeout": 10000}))
        .await;
    let renewed =
        "window.switchboardPhone.status === 'registered' && window.switchboardPhone.extension === '101'";
    b.run(json!({"do": "waitUntil", "expression": renewed, "timeout": 20000})).await;
    wait_registered(&client, &server, &owner, &["101"]).await;
    assert_no_page_errors(&mut b).await;
}

/// The workspace asks for Alice's status every 2 s while it is shown, and not at all while she
/// is on another page (her phone stays registered there), then again when she comes back.
#[tokio::test]
async fn the_workspace_refreshes_the_status_only_while_it_is_shown() {
    let dir = tempfile::tempdir().unwrap();
    let sip = format!("127.0.0.1:{}", free_udp_port());
    let server = Server::start(&dir.path().join("data"), &["--demo", "--sip", &sip], &[]).unwrap();
    let Some(mut b) = alice_in_browser(&server, dir.path(), 1000.0).await else { return };
    let count = "window.statusAsks = 0; const f = window.fetch; window.fetch = (u, o) => { \
        if (String(u).includes('/api/me/status')) window.statusAsks++; return f(u, o); }; true";
    b.run(json!({"do": "evaluate", "expression": count})).await;
    b.run(json!({"do": "waitUntil", "expression": "window.statusAsks >= 2", "timeout": 6000})).await;
    b.run(json!({"do": "evaluate", "expression": "(location.hash = '#/calls', true)"})).await;
    b.run(json!({"do": "visible", "selector": "#calls-page"})).await;
    b.run(json!({"do": "evaluate", "expression": "(window.statusAsks = 0, true)"})).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let away = b.run(json!({"do": "evaluate", "expression": "window.statusAsks"})).await;
    assert_eq!(away["value"], 0, "the status was asked for on the call history page");
    let phone = b.run(json!({"do": "evaluate", "expression": "window.switchboardPhone.status"})).await;
    assert_eq!(phone["value"], "registered");
    b.run(json!({"do": "evaluate", "expression": "(location.hash = '#/workspace', true)"})).await;
    b.run(json!({"do": "visible", "selector": "#workspace-page"})).await;
    b.run(json!({"do": "waitUntil", "expression": "window.statusAsks >= 2", "timeout": 6000})).await;
    assert_no_page_errors(&mut b).await;
    b.close().await;
}

/// `--browser-codecs g711`: Chromium's offer is answered with PCMU only (nothing transcoded
/// toward Bob's G.711 phone), and each end hears the other's tone.
#[tokio::test]
async fn a_server_told_to_use_g711_for_browsers_answers_chromium_with_pcmu() {
    if !require_program("baresip") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sip = format!("127.0.0.1:{}", free_udp_port());
    let env = [("SWITCHBOARD_BROWSER_CODECS", "g711")];
    let server = Server::start(&dir.path().join("data"), &["--demo", "--sip", &sip], &env).unwrap();
    let Some(mut b) = alice_in_browser(&server, dir.path(), 1000.0).await else { return };
    let (bob, rec_b) = bob_calls_alice(dir.path(), &sip, 30.0);
    wait_line(&mut b, 0, "ringing").await;
    b.run(json!({"do": "click", "selector": "#call-banner button.accept"})).await;
    wait_line(&mut b, 0, "talking").await;
    bob.wait_for("Call established", Duration::from_secs(10)).unwrap();
    let sdp = b
        .run(json!({"do": "evaluate", "expression": "window.switchboardPhone.lines[0].session.connection.remoteDescription.sdp"}))
        .await;
    let sdp = sdp["value"].as_str().unwrap().to_ascii_lowercase();
    assert!(sdp.contains("pcmu/8000") && !sdp.contains("opus"), "{sdp}");
    let heard = browser_hears(&mut b, 440.0).await;
    eprintln!("the browser hears Bob over PCMU: {heard}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    b.run(json!({"do": "click", "selector": ".line[data-line='0'] button.danger"})).await;
    wait_line(&mut b, 0, "idle").await;
    bob.wait_for("terminated", Duration::from_secs(10)).unwrap();
    let (rms, hz) = tone_of(&find_file(&rec_b, "-dec.wav").unwrap()).unwrap();
    assert!((hz - 1000.0).abs() < 60.0 && rms > 0.02, "Bob heard {hz:.0} Hz at {rms:.3}");
    assert_no_page_errors(&mut b).await;
    b.close().await;
}
