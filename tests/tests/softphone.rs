//! The browser softphone: headless Chromium (JsSIP over WebSocket, WebRTC with a fake
//! microphone playing a tone) on the agent workspace, talking with real SIP phones (baresip)
//! through Switchboard's relay. Who hears whom is checked by frequency: in the browser with a
//! WebAudio analyser, on the phone from its recording.

use serde_json::json;
use std::path::Path;
use std::time::{Duration, Instant};
const PASSWORD: &str = "switchboard-demo";

use switchboard_tests::{
    demo_account, find_file, free_udp_port, get_json as json_of, login, mic_and_recorder, require_program,
    screenshot_dir, tone_of, Baresip, Browser, PhoneOptions, Server,
};

/// A 48 kHz mono tone for the browser's fake microphone.
fn browser_tone(path: &Path, hz: f32, seconds: f32) {
    let n = (48_000.0 * seconds) as usize;
    let samples: Vec<i16> =
        (0..n).map(|i| ((i as f32 * hz * std::f32::consts::TAU / 48_000.0).sin() * 12000.0) as i16).collect();
    std::fs::write(path, switchboard_telephony::media::wav::encode_pcm16(&samples, 48_000, 1)).unwrap();
}

/// Alice (extension 101) signed in to the workspace in a browser whose microphone plays `hz`,
/// her softphone registered.
async fn alice_in_browser(server: &Server, dir: &Path, hz: f32) -> Option<Browser> {
    let mic = dir.join("browser-mic.wav");
    browser_tone(&mic, hz, 30.0);
    let mut b = Browser::start_with(&server.url(""), Some(&mic)).await?;
    b.run(json!({"do": "login", "email": "alice@demo.example", "password": PASSWORD})).await;
    b.run(json!({"do": "visible", "selector": "#workspace-page"})).await;
    b.run(json!({"do": "waitUntil", "expression": "window.switchboardPhone.status === 'registered'", "timeout": 15000}))
        .await;
    Some(b)
}

async fn line_state(b: &mut Browser, line: usize) -> String {
    let r = b
        .run(json!({"do": "evaluate", "expression": format!("window.switchboardPhone.lines[{line}].state")}))
        .await;
    r["value"].as_str().unwrap_or_default().to_string()
}

async fn wait_line(b: &mut Browser, line: usize, state: &str) {
    let expression = format!("window.switchboardPhone.lines[{line}].state === '{state}'");
    let r = b.try_run(json!({"do": "waitUntil", "expression": expression, "timeout": 15000})).await;
    assert_eq!(r["ok"], true, "line {line} never became {state} (it is {})", line_state(b, line).await);
}

/// Waits until the browser's active line hears `hz` as its loudest frequency.
async fn browser_hears(b: &mut Browser, hz: f64) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = b
            .run(json!({"do": "evaluate", "expression": format!("window.switchboardPhone.listen({hz})")}))
            .await;
        let v = r["value"].clone();
        let peak = v["peak_hz"].as_f64().unwrap_or(0.0);
        if v["peak_level"].as_f64().unwrap_or(0.0) > 100.0 && (peak - hz).abs() < hz * 0.06 {
            return v;
        }
        assert!(Instant::now() < deadline, "the browser never heard {hz} Hz: {v}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Nothing went wrong in the page but the expected 401 of `/api/me` before signing in.
async fn assert_no_page_errors(b: &mut Browser) {
    let errors = b.run(json!({"do": "errors"})).await;
    let unexpected: Vec<&str> = errors["errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e.as_str())
        .filter(|e| *e != "HTTP 401 /api/me" && !e.contains("status of 401"))
        .collect();
    assert!(unexpected.is_empty(), "{unexpected:?}");
}

async fn last_call(client: &reqwest::Client, server: &Server, cookie: &str) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let calls = json_of(client, server, cookie, "/api/calls").await;
        if let Some(c) = calls.as_array().and_then(|c| c.first()) {
            if !c["ended_at"].is_null() {
                return json_of(client, server, cookie, &format!("/api/calls/{}", c["id"])).await;
            }
        }
        assert!(Instant::now() < deadline, "no ended call: {calls}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_browser_answers_a_phone_and_both_hear_each_other() {
    if !require_program("baresip") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sip = format!("127.0.0.1:{}", free_udp_port());
    let server = Server::start(&dir.path().join("data"), &["--demo", "--sip", &sip], &[]).unwrap();
    let client = switchboard_tests::http();
    let cookie = login(&client, &server, "supervisor@demo.example", PASSWORD).await.unwrap();
    let Some(mut browser) = alice_in_browser(&server, dir.path(), 1000.0).await else { return };

    // Bob's desk phone plays 440 Hz and records what it hears.
    let (tone_b, rec_b) = mic_and_recorder(dir.path(), "bob", 440.0, 30.0);
    let bob = Baresip::start_with(
        &demo_account(&sip, "102", ""),
        PhoneOptions {
            microphone: Some(tone_b),
            record_dir: Some(rec_b.clone()),
            commands: vec![format!("/dial sip:101@{sip}")],
        },
    )
    .unwrap();
    wait_line(&mut browser, 0, "ringing").await;
    // One registration per browser, however many pages asked for the phone: one line rings.
    assert_eq!(line_state(&mut browser, 1).await, "idle");
    browser.run(json!({"do": "visible", "selector": "#call-banner"})).await;
    let banner = browser.run(json!({"do": "text", "selector": "#call-banner"})).await;
    assert!(banner["text"].as_str().unwrap().contains("102"), "{banner}");
    browser
        .run(json!({"do": "screenshot", "path": screenshot_dir().join("softphone-incoming.png").display().to_string()}))
        .await;
    browser.run(json!({"do": "click", "selector": "#call-banner button.accept"})).await;
    wait_line(&mut browser, 0, "talking").await;
    bob.wait_for("Call established", Duration::from_secs(10)).unwrap();
    let heard = browser_hears(&mut browser, 440.0).await;
    eprintln!("the browser hears Bob: {heard}");
    browser
        .run(json!({"do": "screenshot", "path": screenshot_dir().join("softphone-on-call.png").display().to_string()}))
        .await;

    // Hold and resume (re-INVITEs answered from the same WebRTC session), then Bob again.
    browser.run(json!({"do": "click", "selector": ".line[data-line='0'] button:text('Hold')"})).await;
    wait_line(&mut browser, 0, "held").await;
    browser.run(json!({"do": "click", "selector": ".line[data-line='0'] button:text('Resume')"})).await;
    wait_line(&mut browser, 0, "talking").await;
    browser_hears(&mut browser, 440.0).await;

    // A key from the workspace keypad travels by SIP INFO into the call's timeline.
    browser.run(json!({"do": "click", "selector": "#ws-keypad button[data-key='5']"})).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    browser.run(json!({"do": "click", "selector": ".line[data-line='0'] button.danger"})).await;
    wait_line(&mut browser, 0, "idle").await;
    bob.wait_for("terminated", Duration::from_secs(10)).unwrap();

    let call = last_call(&client, &server, &cookie).await;
    assert_eq!(call["agent_extension"], "101", "{call}");
    assert!(!call["answered_at"].is_null(), "{call}");
    let events: Vec<&str> =
        call["timeline"].as_array().unwrap().iter().filter_map(|e| e["kind"].as_str()).collect();
    assert!(
        call["timeline"].as_array().unwrap().iter().any(|e| e["kind"] == "dtmf" && e["data"]["digit"] == "5"),
        "no key 5 in {events:?}"
    );
    // Bob heard the browser's microphone (1000 Hz) through Opus, the relay and PCMU (quieter than
    // it was played: the browser's noise suppression takes a steady tone for noise).
    let (rms, hz) = tone_of(&find_file(&rec_b, "-dec.wav").unwrap()).unwrap();
    assert!((hz - 1000.0).abs() < 60.0 && rms > 0.02, "Bob heard {hz:.0} Hz at {rms:.3}");
    assert_no_page_errors(&mut browser).await;
    browser.close().await;
}
