//! Agent-assisted keypad payments end to end: Alice (Chromium, the workspace) takes a payment
//! while Bob (a customer calling through the carrier on a baresip phone, RFC 4733 keys) keys a canary card number; a scripted
//! payment processor speaking the Stripe-compatible token and charge API gets the card. Then
//! the canary is searched for everywhere else it must not be: the database files, the server's
//! debug log, the call's record and timeline, the payment API, the page; and the recording is
//! silent on the customer's side while the card was keyed.

use serde_json::json;
use std::time::Duration;
use switchboard_tests::payments::{add_gateway, holds_canary, processor, CANARY};
use switchboard_tests::workspace::{alice_in_browser, wait_line};
use switchboard_tests::{
    add_number, assert_no_page_errors, free_udp_port, fresh_postgres, get_json, last_call, login,
    mic_and_recorder, require_program, screenshot_dir, set_demo_trunk, Baresip, PhoneOptions, Server,
};

const PASSWORD: &str = "switchboard-demo";
/// Energy of the left channel (the customer) over a window of a stereo 8 kHz recording.
fn left_rms(samples: &[i16], from_s: f64, to_s: f64) -> f64 {
    let (a, b) = ((from_s * 8000.0) as usize * 2, (to_s * 8000.0) as usize * 2);
    let left: Vec<f64> =
        samples.get(a..b.min(samples.len())).unwrap_or(&[]).iter().step_by(2).map(|s| *s as f64).collect();
    (left.iter().map(|s| s * s).sum::<f64>() / left.len().max(1) as f64).sqrt()
}

/// Waits (20 s) for the payment panel to show `selector`; says what it shows instead.
async fn step_done(
    browser: &mut switchboard_tests::Browser,
    bob: &switchboard_tests::Baresip,
    selector: &str,
    what: &str,
) {
    let shown = browser.try_run(json!({"do": "visible", "selector": selector, "timeout": 20000})).await;
    if shown["ok"] != true {
        let panel = browser
            .run(json!({"do": "evaluate", "expression": "document.getElementById('ws-payment').innerText"}))
            .await;
        panic!("{what}: not shown ({selector}); the panel: {panel}\n{}", bob.log());
    }
}

async fn keys(bob: &switchboard_tests::Baresip, keys: &str) {
    for k in keys.chars() {
        bob.command("sndcode", &k.to_string()).unwrap();
        tokio::time::sleep(Duration::from_millis(350)).await;
    }
}

/// On SQLite, then on PostgreSQL (a fresh database; `CI=true` insists on it).
#[tokio::test]
async fn a_caller_pays_by_keypad_and_the_card_number_is_nowhere_but_at_the_processor() {
    if !require_program("baresip") {
        return;
    }
    pay_and_search(None).await;
    if let Some(url) = fresh_postgres().await {
        pay_and_search(Some(url)).await;
    }
}

async fn pay_and_search(postgres: Option<String>) {
    let dir = tempfile::tempdir().unwrap();
    let sip = format!("127.0.0.1:{}", free_udp_port());
    let data = dir.path().join("data");
    let mut env = vec![("RUST_LOG", "debug")];
    if let Some(url) = &postgres {
        env.push(("DATABASE_URL", url.as_str()));
    }
    let mut server = Server::start(&data, &["--demo", "--sip", &sip], &env).unwrap();
    let client = switchboard_tests::http();
    let admin = login(&client, &server, "admin@demo.example", PASSWORD).await.unwrap();
    let supervisor = login(&client, &server, "supervisor@demo.example", PASSWORD).await.unwrap();
    let (url, requests) = processor().await;
    add_gateway(&client, &server, &admin, &url).await;
    let shown = get_json(&client, &server, &admin, "/api/payment_gateways").await;
    assert!(shown[0]["secret_key"].is_null(), "the key is write-only: {shown}");

    let Some(mut browser) = alice_in_browser(&server, dir.path(), 1000.0).await else { return };
    // The customer (Bob, a demo customer's mobile) calls a number of the account that rings
    // Alice, through the carrier: a baresip phone whose SIP port the trunk trusts.
    add_number(&client, &server, &admin, "+15555550177", json!({"type": "agent", "extension": "101"})).await;
    let (tone, rec) = mic_and_recorder(dir.path(), "bob", 440.0, 90.0);
    let options = PhoneOptions { microphone: Some(tone), record_dir: Some(rec), commands: vec![] };
    let bob =
        Baresip::start_with("<sip:+12025550100@127.0.0.1>;regint=0;audio_codecs=PCMU", options).unwrap();
    set_demo_trunk(&client, &server, &admin, None, Some(bob.sip_port)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    bob.command("dial", &format!("sip:+15555550177@{sip}")).unwrap();
    wait_line(&mut browser, 0, "ringing").await;
    browser.run(json!({"do": "click", "selector": "#call-banner button.accept"})).await;
    wait_line(&mut browser, 0, "talking").await;
    bob.wait_for("Call established", Duration::from_secs(10)).unwrap();
    // Alice's calls are recorded (the demo's setting).
    browser
        .run(json!({"do": "waitUntil", "timeout": 10000,
                    "expression": "document.getElementById('ws-recording').dataset.state === 'on'"}))
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;

    // Alice asks for 25.00; Bob keys the card (the first prompt is cut short by his first key).
    browser.run(json!({"do": "click", "selector": "#ws-payment button[data-action='pay-open']"})).await;
    browser.run(json!({"do": "fill", "selector": "#ws-payment input[name=amount]", "value": "25.00"})).await;
    // The workspace refreshes itself every 2 s while she types: the form keeps her amount.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let typed = browser
        .run(json!({"do": "evaluate", "expression": "document.querySelector('#ws-payment input[name=amount]').value"}))
        .await;
    assert_eq!(typed["value"], "25.00", "the amount typed was lost: {typed}");
    browser.run(json!({"do": "click", "selector": "#ws-payment button[data-action='pay-start']"})).await;
    browser.run(json!({"do": "visible", "selector": "#ws-payment[data-state='capturing']"})).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    keys(&bob, &format!("{CANARY}#")).await;
    let entered = browser
        .try_run(json!({"do": "visible", "selector": ".pay-step[data-step='card_number'][data-status='entered']", "timeout": 10000}))
        .await;
    if entered["ok"] != true {
        let card = browser
            .run(json!({"do": "evaluate", "expression": "document.getElementById('ws-payment').innerText"}))
            .await;
        panic!("the card number was not entered: {card}\n{}", bob.log());
    }
    let card = browser.run(json!({"do": "text", "selector": ".pay-step[data-step='card_number']"})).await;
    assert!(card["text"].as_str().unwrap().contains("•••• •••• •••• 5556"), "{card}");
    browser
        .run(json!({"do": "screenshot", "path": screenshot_dir().join("payment-capturing.png").display().to_string()}))
        .await;
    keys(&bob, "1230").await;
    // Alice has Bob key the expiry again (the customer misread it, say).
    browser
        .run(json!({"do": "visible", "selector": ".pay-step[data-step='expiry'][data-status='entered']"}))
        .await;
    browser.run(json!({"do": "visible", "selector": ".pay-step[data-step='security_code'][data-status='entering']"})).await;
    browser.run(json!({"do": "click", "selector": "button[data-restart='expiry']"})).await;
    browser
        .run(json!({"do": "visible", "selector": ".pay-step[data-step='expiry'][data-status='entering']"}))
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    keys(&bob, "1230").await;
    step_done(
        &mut browser,
        &bob,
        ".pay-step[data-step='expiry'][data-status='entered']",
        "the expiry keyed again",
    )
    .await;
    keys(&bob, "737").await;
    step_done(&mut browser, &bob, "#ws-payment[data-state='succeeded']", "the payment taken").await;
    browser
        .run(json!({"do": "screenshot", "path": screenshot_dir().join("payment-taken.png").display().to_string()}))
        .await;
    let page = browser.run(json!({"do": "evaluate", "expression": "document.body.innerText"})).await;
    assert!(page["value"].as_str().unwrap().contains("VISA •••• 5556"), "{page}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    browser.run(json!({"do": "click", "selector": ".line[data-line='0'] button.danger"})).await;
    wait_line(&mut browser, 0, "idle").await;

    // The processor, and only the processor, got the card: tokenised, then charged 25.00.
    let sent = requests.lock().unwrap().clone();
    assert_eq!(
        sent.iter().map(|r| r.0.as_str()).collect::<Vec<_>>(),
        ["/v1/tokens", "/v1/charges"],
        "{sent:?}"
    );
    assert!(sent[0].1.contains("Bearer sk_test_switchboard"), "{sent:?}");
    assert!(sent[0].2.contains(&format!("card%5Bnumber%5D={CANARY}")), "the processor gets the number");
    assert!(sent[0].2.contains("card%5Bexp_month%5D=12") && sent[0].2.contains("card%5Bcvc%5D=737"));
    assert!(sent[1].2.contains("amount=2500") && sent[1].2.contains("source=tok_canary"), "{sent:?}");

    // Stored as the processor returned it, for order entry.
    let record = last_call(&client, &server, &supervisor).await;
    let payments =
        get_json(&client, &server, &supervisor, &format!("/api/payments?call_id={}", record["id"])).await;
    let p = &payments[0];
    assert_eq!(
        (&p["token"], &p["last4"], &p["brand"], &p["status"]),
        (&json!("tok_canary"), &json!("5556"), &json!("visa"), &json!("succeeded")),
        "{payments}"
    );
    assert_eq!((&p["amount_minor"], &p["taken_by"]), (&json!(2500), &json!("Alice Nguyen")), "{payments}");

    // The timeline has the payment and none of its keys.
    let timeline = record["timeline"].as_array().unwrap();
    let kinds: Vec<&str> = timeline.iter().filter_map(|e| e["kind"].as_str()).collect();
    for kind in ["payment_started", "payment_step_restarted", "payment_completed"] {
        assert!(kinds.contains(&kind), "no {kind} in {kinds:?}");
    }
    assert!(!kinds.contains(&"dtmf"), "a card's keys are not in the timeline: {kinds:?}");

    // The canary is nowhere else: database files, debug log, record, API, page.
    let call_payment =
        get_json(&client, &server, &supervisor, &format!("/api/calls/{}/payment", record["id"])).await;
    for (what, text) in [
        ("the call record", record.to_string()),
        ("the payment API", format!("{payments} {call_payment}")),
        ("the page", page.to_string()),
    ] {
        assert!(!holds_canary(&text), "the card number is in {what}");
    }
    // The call's page marks when the card was keyed in its recording.
    browser.run(json!({"do": "evaluate", "expression": format!("location.hash = '#/calls?call={}'", record["id"])})).await;
    browser.run(json!({"do": "waitText", "selector": ".recording", "text": "card keyed"})).await;
    let call_page = browser.run(json!({"do": "evaluate", "expression": "document.body.innerText"})).await;
    assert!(!holds_canary(&call_page.to_string()), "the card number is on the call's page");
    if postgres.is_none() {
        let shot = screenshot_dir().join("payment-call-page.png");
        browser.run(json!({"do": "screenshot", "path": shot.display().to_string()})).await;
    }
    let log = server.log_text();
    assert!(log.contains("\"level\":\"DEBUG\""), "the log is at debug level");
    assert!(!holds_canary(&log), "the card number is in the log");
    assert!(!log.contains("\"DTMF"), "a card's keys are not logged");
    assert_no_page_errors(&mut browser).await;
    browser.close().await;
    drop(server);
    // The database: its files (SQLite), or a dump (PostgreSQL). The processor's key is sealed.
    let mut stored = Vec::new();
    for entry in std::fs::read_dir(&data).unwrap().filter_map(|e| e.ok()) {
        let path = entry.path();
        if path.is_file() {
            stored.push((
                path.display().to_string(),
                String::from_utf8_lossy(&std::fs::read(&path).unwrap()).to_string(),
            ));
        }
    }
    if let Some(url) = &postgres {
        let dump =
            std::process::Command::new("pg_dump").arg("--data-only").arg(url).output().expect("pg_dump");
        assert!(dump.status.success(), "{}", String::from_utf8_lossy(&dump.stderr));
        let dump = String::from_utf8_lossy(&dump.stdout).to_string();
        assert!(dump.contains("tok_canary"), "the dump holds the payment");
        stored.push(("the PostgreSQL dump".into(), dump));
    } else {
        assert!(
            stored.iter().any(|(_, text)| text.contains("tok_canary")),
            "the database files hold the payment"
        );
    }
    for (what, text) in &stored {
        assert!(!holds_canary(text), "the card number is in {what}");
        assert!(!text.contains("sk_test_switchboard"), "the processor's key is in {what} unsealed");
    }

    // The recording: Bob's tone before the payment, silence on his side while he keyed.
    let recording = &record["recordings"][0];
    let at = |kind: &str| timeline.iter().find(|e| e["kind"] == kind).and_then(|e| e["at"].as_i64()).unwrap();
    let started = recording["started_at"].as_i64().unwrap();
    let (from, to) = (
        (at("payment_started") - started) as f64 / 1000.0,
        (at("payment_completed") - started) as f64 / 1000.0,
    );
    let wav = std::fs::read(recording_path(&data)).unwrap();
    let (_, samples) = switchboard_telephony::media::wav::decode(&wav).unwrap();
    // From a second after the payment started (Bob's first key comes seconds later, after the
    // first prompt): what the jitter buffer held when the mask began still plays out, and on a
    // loaded machine it holds a few hundred milliseconds.
    let (before, during) = (left_rms(&samples, 0.2, from - 0.2), left_rms(&samples, from + 1.0, to - 0.3));
    assert!(before > 300.0, "Bob's tone is recorded before the payment ({before:.0})");
    assert!(
        during < 20.0,
        "nothing of Bob is recorded while he keys the card ({during:.0}, {from:.1}–{to:.1} s)"
    );
}

/// The one recording file under the data directory.
fn recording_path(data: &std::path::Path) -> std::path::PathBuf {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().filter_map(|e| e.ok()) {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "wav") && p.to_string_lossy().contains("recordings")
            {
                out.push(p);
            }
        }
    }
    let mut found = Vec::new();
    walk(data, &mut found);
    assert_eq!(found.len(), 1, "{found:?}");
    found.remove(0)
}
