//! The agent workspace in a browser, for end-to-end tests: Alice signed in with her softphone
//! registered, and her phone's lines.

use crate::{browser_tone, demo_account, mic_and_recorder, Baresip, Browser, PhoneOptions, Server};
use serde_json::json;
use std::path::{Path, PathBuf};

const PASSWORD: &str = "switchboard-demo";

/// Alice (extension 101) signed in to the workspace in a browser whose microphone plays `hz`,
/// her softphone registered.
pub async fn alice_in_browser(server: &Server, dir: &Path, hz: f32) -> Option<Browser> {
    let mic = dir.join("browser-mic.wav");
    browser_tone(&mic, hz, 30.0);
    alice_with_microphone(server, &mic).await
}

/// The same, her microphone playing (and looping) the WAV file `mic`.
pub async fn alice_with_microphone(server: &Server, mic: &Path) -> Option<Browser> {
    let mut b = Browser::start_with(&server.url(""), Some(mic)).await?;
    b.run(json!({"do": "login", "email": "alice@demo.example", "password": PASSWORD})).await;
    b.run(json!({"do": "visible", "selector": "#workspace-page"})).await;
    b.run(json!({"do": "waitUntil", "expression": "window.switchboardPhone.status === 'registered'", "timeout": 15000}))
        .await;
    Some(b)
}

pub async fn line_state(b: &mut Browser, line: usize) -> String {
    let r = b
        .run(json!({"do": "evaluate", "expression": format!("window.switchboardPhone.lines[{line}].state")}))
        .await;
    r["value"].as_str().unwrap_or_default().to_string()
}

pub async fn wait_line(b: &mut Browser, line: usize, state: &str) {
    let expression = format!("window.switchboardPhone.lines[{line}].state === '{state}'");
    let r = b.try_run(json!({"do": "waitUntil", "expression": expression, "timeout": 15000})).await;
    if r["ok"] != true {
        let last = b.run(json!({"do": "evaluate", "expression": format!("window.switchboardPhone.lines[{line}].lastEnded")})).await;
        panic!(
            "line {line} never became {state} (it is {}; last call {})",
            line_state(b, line).await,
            last["value"]
        );
    }
}

/// Bob's desk phone (extension 102, playing 440 Hz for `seconds`) calls Alice at `sip`: the
/// phone and the folder where it records what it hears.
pub fn bob_calls_alice(dir: &Path, sip: &str, seconds: f32) -> (Baresip, PathBuf) {
    let (tone, rec) = mic_and_recorder(dir, "bob", 440.0, seconds);
    let options = PhoneOptions {
        microphone: Some(tone),
        record_dir: Some(rec.clone()),
        commands: vec![format!("/dial sip:101@{sip}")],
    };
    (Baresip::start_with(&demo_account(sip, "102", ""), options).unwrap(), rec)
}
