//! Class-of-service overrides end to end: Alice (Chromium, the workspace) dials an
//! international number her class of service refuses; she asks a supervisor with a reason; Sam
//! the supervisor (a second Chromium) sees the request on his page and approves it once; Alice
//! calls again from the card and the carrier (sipp) answers. Dialling again is refused again,
//! and a second request is denied. The refused and the placed calls' timelines tell who asked,
//! why, and who decided.

use serde_json::json;
use switchboard_tests::workspace::{alice_in_browser, wait_line};
use switchboard_tests::{
    assert_no_page_errors, browser_tone, free_media_port, free_udp_port, get_json, login, require_program,
    screenshot_dir, set_demo_trunk, Browser, Server,
};

const PASSWORD: &str = "switchboard-demo";
const ABROAD: &str = "+442079460000";

async fn dial(b: &mut Browser, number: &str) {
    b.run(json!({"do": "fill", "selector": "#ws-dial input[name=number]", "value": number})).await;
    b.run(json!({"do": "click", "selector": "#ws-dial button[type=submit]"})).await;
}

async fn ask(b: &mut Browser, reason: &str) {
    b.run(json!({"do": "visible", "selector": "#ws-override[data-state='blocked']"})).await;
    b.run(json!({"do": "fill", "selector": "#ws-override input[name=reason]", "value": reason})).await;
    b.run(json!({"do": "click", "selector": "#ws-override button[data-action='request-override']"})).await;
    let pending = b.try_run(json!({"do": "visible", "selector": "#ws-override[data-state='pending']"})).await;
    if pending["ok"] != true {
        let card = b
            .run(json!({"do": "evaluate", "expression": "document.getElementById('ws-override').outerHTML"}))
            .await;
        let lines = b.run(json!({"do": "evaluate", "expression": "JSON.stringify(window.switchboardPhone.lines.map(l => l.lastEnded))"})).await;
        panic!("no pending request: {card}\n{lines}");
    }
}

fn kinds(call: &serde_json::Value) -> Vec<String> {
    call["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["kind"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn a_supervisor_lets_one_refused_call_through_and_denies_the_next() {
    if !require_program("sipp") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sip = format!("127.0.0.1:{}", free_udp_port());
    let server = Server::start(&dir.path().join("data"), &["--demo", "--sip", &sip], &[]).unwrap();
    let client = switchboard_tests::http();
    let admin = login(&client, &server, "admin@demo.example", PASSWORD).await.unwrap();
    let carrier_port = free_udp_port();
    set_demo_trunk(&client, &server, &admin, Some(carrier_port), None).await;
    let Some(mut alice) = alice_in_browser(&server, dir.path(), 1000.0).await else { return };
    let mic = dir.path().join("sam-mic.wav");
    browser_tone(&mic, 700.0, 30.0);
    let Some(mut sam) = Browser::start_with(&server.url(""), Some(&mic)).await else { return };
    sam.run(json!({"do": "login", "email": "supervisor@demo.example", "password": PASSWORD})).await;
    sam.run(json!({"do": "evaluate", "expression": "location.hash = '#/calls'"})).await;

    // Refused by her class of service: the card says why and offers to ask.
    dial(&mut alice, ABROAD).await;
    alice.run(json!({"do": "waitText", "selector": "#ws-override", "text": "international calls are not allowed"})).await;
    ask(&mut alice, "Customer travelling in London asked for a call back").await;
    alice
        .run(json!({"do": "screenshot", "path": screenshot_dir().join("override-requested.png").display().to_string()}))
        .await;

    // Sam sees it wherever he is, with who, where and why, and approves it once.
    sam.run(json!({"do": "waitText", "selector": "#override-requests", "text": "London"})).await;
    let panel = sam.run(json!({"do": "text", "selector": "#override-requests"})).await;
    let text = panel["text"].as_str().unwrap();
    assert!(
        text.contains("Alice")
            && text.contains(ABROAD)
            && text.contains("international calls are not allowed"),
        "{text}"
    );
    sam.run(json!({"do": "screenshot", "path": screenshot_dir().join("override-supervisor.png").display().to_string()}))
        .await;
    sam.run(json!({"do": "click", "selector": "#override-requests button[data-action='approve']"})).await;
    sam.run(json!({"do": "waitUntil", "expression": "document.getElementById('override-requests').hidden"}))
        .await;

    // Alice's card says approved; "Call now" places the call, which the carrier answers.
    alice
        .run(json!({"do": "visible", "selector": "#ws-override[data-state='approved']", "timeout": 10000}))
        .await;
    alice.run(json!({"do": "waitText", "selector": "#ws-override", "text": "Approved by"})).await;
    let scenario = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/carrier_uas_abroad.xml");
    let carrier = tokio::process::Command::new("sipp")
        .args(["-sf", scenario, "-i", "127.0.0.1", "-p", &carrier_port.to_string(), "-mi", "127.0.0.1"])
        .args(["-mp", &free_media_port().to_string(), "-rtp_echo", "-m", "1", "-nostdin", "-timeout", "40s"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    alice.run(json!({"do": "click", "selector": "#ws-override button[data-action='call-now']"})).await;
    wait_line(&mut alice, 0, "talking").await;
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    alice.run(json!({"do": "click", "selector": ".line[data-line='0'] button.danger"})).await;
    wait_line(&mut alice, 0, "idle").await;
    let out = carrier.wait_with_output().await.unwrap();
    assert!(out.status.success(), "carrier: {}", String::from_utf8_lossy(&out.stdout));

    // Once: the next try is refused again; this time Sam denies it.
    dial(&mut alice, ABROAD).await;
    ask(&mut alice, "One more call please").await;
    sam.run(json!({"do": "waitText", "selector": "#override-requests", "text": "One more call"})).await;
    sam.run(json!({"do": "click", "selector": "#override-requests button[data-action='deny']"})).await;
    let denied = alice
        .try_run(json!({"do": "visible", "selector": "#ws-override[data-state='denied']", "timeout": 10000}))
        .await;
    if denied["ok"] != true {
        let card = alice
            .run(json!({"do": "evaluate", "expression": "document.getElementById('ws-override').outerHTML"}))
            .await;
        let all = get_json(&client, &server, &admin, "/api/overrides").await;
        panic!("not denied: {card}\n{all}");
    }
    alice.run(json!({"do": "waitText", "selector": "#ws-override", "text": "Denied by"})).await;

    // The record: the refused calls say who asked, why and who decided; the placed call says
    // which approval let it through.
    let calls = get_json(&client, &server, &admin, "/api/calls").await;
    let calls: Vec<serde_json::Value> =
        calls.as_array().unwrap().iter().filter(|c| c["to_number"] == ABROAD).cloned().collect();
    assert_eq!(calls.len(), 3, "refused, placed, refused: {calls:?}");
    let mut details = Vec::new();
    for c in &calls {
        details.push(get_json(&client, &server, &admin, &format!("/api/calls/{}", c["id"])).await);
    }
    // Newest first: refused (then denied), placed, refused (then approved).
    let (denied, placed, approved) = (&details[0], &details[1], &details[2]);
    assert!(kinds(denied).contains(&"override_denied".to_string()), "{:?}", kinds(denied));
    let note =
        placed["timeline"].as_array().unwrap().iter().find(|e| e["kind"] == "class_of_service_override");
    let note = note.unwrap_or_else(|| panic!("{:?}", kinds(placed)));
    assert_eq!(note["data"]["approved_by"], "Sam Supervisor", "{note}");
    assert!(note["data"]["reason"].as_str().unwrap().contains("London"), "{note}");
    assert_eq!(placed["disposition"], "answered", "{placed}");
    let asked = kinds(approved);
    assert!(
        asked.contains(&"override_requested".to_string()) && asked.contains(&"override_approved".to_string()),
        "{asked:?}"
    );
    assert_no_page_errors(&mut alice).await;
    assert_no_page_errors(&mut sam).await;
    alice.close().await;
    sam.close().await;
}
