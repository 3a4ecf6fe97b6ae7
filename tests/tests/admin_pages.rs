//! The admin pages in Chromium: an admin builds a number → IVR menu → queue flow entirely in
//! the browser (a refused save shows each problem at its field; a sub-form for the menu's
//! option and its target in the hand-made menu editor), then a carrier call (sipp, RFC 4733 keys) follows it: the menu,
//! key 4, the new queue, its overflow. Deleting asks twice and a queue a menu still uses is
//! refused with the reason; agents get no admin pages.

use serde_json::{json, Value};
use std::time::Duration;
use switchboard_tests::{
    free_media_port, free_udp_port, get_json, login, require_program, screenshot_dir, set_demo_trunk,
    Browser, Server,
};

const PASSWORD: &str = "switchboard-demo";

async fn saved(b: &mut Browser) {
    let r = b.try_run(json!({"do": "waitText", "selector": "#admin-status", "text": "Saved"})).await;
    if r["ok"] != true {
        let shown = b.run(json!({"do": "text", "selector": "#admin-main"})).await;
        panic!("not saved: {}", shown["text"]);
    }
}

#[tokio::test]
async fn an_admin_builds_a_number_ivr_queue_flow_in_the_browser_and_a_call_follows_it() {
    if !require_program("sipp") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sip = format!("127.0.0.1:{}", free_udp_port());
    let server = Server::start(&dir.path().join("data"), &["--demo", "--sip", &sip], &[]).unwrap();
    let client = switchboard_tests::http();
    let admin = login(&client, &server, "admin@demo.example", PASSWORD).await.unwrap();
    let carrier_port = free_udp_port();
    set_demo_trunk(&client, &server, &admin, None, Some(carrier_port)).await;
    let Some(mut b) = Browser::start(&server.url("")).await else { return };
    b.run(json!({"do": "login", "email": "admin@demo.example", "password": PASSWORD})).await;
    b.run(json!({"do": "click", "selector": "#nav-admin"})).await;
    b.run(json!({"do": "click", "selector": "#admin-kinds a[data-kind='queues']"})).await;
    b.run(json!({"do": "waitText", "selector": ".admin-list", "text": "sales"})).await;

    // A queue whose callers, with nobody to take them, are hung up on.
    b.run(json!({"do": "click", "selector": "#admin-new"})).await;
    b.run(json!({"do": "fill", "selector": "#admin-form > .form-object > [data-field='name'] input", "value": "returns"}))
        .await;
    b.run(json!({"do": "select", "selector": "#admin-form > .form-object > [data-field='overflow_target'] select", "value": "hangup"}))
        .await;
    b.run(json!({"do": "select", "selector": "#admin-form > .form-object > [data-field='greeting'] select", "value": "text"}))
        .await;
    b.run(json!({"do": "fill", "selector": "#admin-form > .form-object > [data-field='greeting'] textarea",
        "value": "One moment, connecting you to our returns team."}))
        .await;
    b.run(json!({"do": "click", "selector": "#admin-save"})).await;
    saved(&mut b).await;

    // An IVR menu: first refused, with the problems at their fields.
    b.run(json!({"do": "goto", "hash": "#/admin/ivr_menus/new"})).await;
    b.run(json!({"do": "visible", "selector": "#admin-form[data-kind='ivr_menus']"})).await;
    let top = "#admin-form > .form-object";
    b.run(
        json!({"do": "fill", "selector": format!("{top} > [data-field='name'] input"), "value": "Shop Menu"}),
    )
    .await;
    b.run(
        json!({"do": "select", "selector": format!("{top} > [data-field='prompt'] select"), "value": "text"}),
    )
    .await;
    b.run(json!({"do": "click", "selector": "#admin-save"})).await;
    b.run(json!({"do": "waitText", "selector": format!("{top} > [data-field='name'] > .field-error"), "text": "lowercase"}))
        .await;
    b.run(json!({"do": "waitText", "selector": format!("{top} > [data-field='prompt'] .field-error"), "text": "must not be empty"}))
        .await;
    b.run(json!({"do": "waitText", "selector": "#admin-error", "text": "Not saved"})).await;
    b.run(json!({"do": "fill", "selector": format!("{top} > [data-field='name'] input"), "value": "shop"}))
        .await;
    b.run(json!({"do": "fill", "selector": format!("{top} > [data-field='prompt'] textarea"), "value": "For returns, press 4."}))
        .await;
    b.run(json!({"do": "click", "selector": "#ivr-add-key"})).await;
    let option = ".ivr-option:nth-child(1)";
    b.run(json!({"do": "select", "selector": format!("{option} select[data-part='digit']"), "value": "4"}))
        .await;
    b.run(json!({"do": "select", "selector": format!("{option} .form-tagged > select"), "value": "queue"}))
        .await;
    b.run(
        json!({"do": "fill", "selector": format!("{option} [data-field='name'] input"), "value": "returns"}),
    )
    .await;
    b.run(json!({"do": "click", "selector": "#admin-save"})).await;
    saved(&mut b).await;
    b.run(json!({"do": "screenshot", "path": screenshot_dir().join("admin-ivr.png").display().to_string()}))
        .await;

    // The number, to the menu.
    b.run(json!({"do": "goto", "hash": "#/admin/phone_numbers/new"})).await;
    b.run(json!({"do": "visible", "selector": "#admin-form[data-kind='phone_numbers']"})).await;
    b.run(json!({"do": "fill", "selector": format!("{top} > [data-field='number'] input"), "value": "+15555550199"})).await;
    b.run(json!({"do": "select", "selector": format!("{top} > [data-field='target'] select"), "value": "ivr_menu"})).await;
    b.run(json!({"do": "fill", "selector": format!("{top} > [data-field='target'] [data-field='name'] input"), "value": "shop"}))
        .await;
    b.run(json!({"do": "click", "selector": "#admin-save"})).await;
    saved(&mut b).await;
    b.run(json!({"do": "goto", "hash": "#/admin/phone_numbers"})).await;
    b.run(json!({"do": "waitText", "selector": ".admin-list", "text": "ivr menu shop"})).await;
    b.run(
        json!({"do": "screenshot", "path": screenshot_dir().join("admin-numbers.png").display().to_string()}),
    )
    .await;

    // A carrier call follows the flow: the menu, key 4, the queue, its overflow (hang-up).
    std::os::unix::fs::symlink("/usr/share/sip-tester", dir.path().join("pcap")).unwrap();
    let scenario = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/carrier_dtmf.xml");
    let sipp = tokio::process::Command::new("sipp")
        .current_dir(dir.path())
        .args(["-sf", scenario, &sip, "-i", "127.0.0.1", "-p", &carrier_port.to_string(), "-mi", "127.0.0.1"])
        .args([
            "-mp",
            &free_media_port().to_string(),
            "-s",
            "15555550199",
            "-m",
            "1",
            "-nostdin",
            "-timeout",
            "40s",
        ])
        .output()
        .await
        .unwrap();
    assert!(
        sipp.status.success(),
        "sipp: {}\n{}",
        String::from_utf8_lossy(&sipp.stdout),
        String::from_utf8_lossy(&sipp.stderr)
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let kinds = loop {
        let calls = get_json(&client, &server, &admin, "/api/calls").await;
        let id = calls[0]["id"].clone();
        let record = get_json(&client, &server, &admin, &format!("/api/calls/{id}")).await;
        let events: Vec<Value> = record["timeline"].as_array().cloned().unwrap_or_default();
        let kinds: Vec<String> =
            events.iter().map(|e| format!("{} {}", e["kind"].as_str().unwrap_or(""), e["data"])).collect();
        if kinds.iter().any(|k| k.starts_with("queue_overflow")) || std::time::Instant::now() > deadline {
            break kinds;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let has = |prefix: &str, part: &str| kinds.iter().any(|k| k.starts_with(prefix) && k.contains(part));
    assert!(has("ivr_menu", "shop"), "{kinds:#?}");
    assert!(has("ivr_key", "\"4\""), "{kinds:#?}");
    assert!(has("queue_joined", "returns"), "{kinds:#?}");
    assert!(has("queue_overflow", "hangup"), "{kinds:#?}");

    // Deleting: the queue the menu uses is refused with the reason; the number goes (twice).
    let queues = get_json(&client, &server, &admin, "/api/queues").await;
    let returns = queues.as_array().unwrap().iter().find(|q| q["name"] == "returns").unwrap()["id"].clone();
    b.run(json!({"do": "goto", "hash": format!("#/admin/queues/{returns}")})).await;
    b.run(json!({"do": "visible", "selector": "#admin-form[data-kind='queues']"})).await;
    b.run(json!({"do": "click", "selector": "#admin-delete"})).await;
    b.run(json!({"do": "waitText", "selector": "#admin-delete", "text": "Really delete?"})).await;
    b.run(json!({"do": "click", "selector": "#admin-delete"})).await;
    b.run(json!({"do": "waitText", "selector": "#admin-error", "text": "shop"})).await;
    let numbers = get_json(&client, &server, &admin, "/api/phone_numbers").await;
    let number =
        numbers.as_array().unwrap().iter().find(|n| n["number"] == "+15555550199").unwrap()["id"].clone();
    b.run(json!({"do": "goto", "hash": format!("#/admin/phone_numbers/{number}")})).await;
    b.run(json!({"do": "visible", "selector": "#admin-form[data-kind='phone_numbers']"})).await;
    b.run(json!({"do": "click", "selector": "#admin-delete"})).await;
    b.run(json!({"do": "click", "selector": "#admin-delete"})).await;
    b.run(json!({"do": "waitUntil", "expression": "location.hash === '#/admin/phone_numbers'"})).await;
    let numbers = get_json(&client, &server, &admin, "/api/phone_numbers").await;
    assert!(!numbers.to_string().contains("+15555550199"), "{numbers}");
    // The refusals this test provoked (422, 409) are the only errors the page saw.
    let errors = b.run(json!({"do": "errors"})).await;
    let unexpected: Vec<&str> = errors["errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e.as_str())
        .filter(|e| {
            !["401", "409", "422"]
                .iter()
                .any(|code| e.contains(&format!("HTTP {code}")) || e.contains(&format!("status of {code}")))
        })
        .collect();
    assert!(unexpected.is_empty(), "{unexpected:?}");
    b.close().await;

    // Agents have no admin pages.
    let Some(mut agent) = Browser::start(&server.url("")).await else { return };
    agent.run(json!({"do": "login", "email": "alice@demo.example", "password": PASSWORD})).await;
    let nav = agent
        .run(json!({"do": "evaluate", "expression": "document.getElementById('nav-admin').hidden"}))
        .await;
    assert_eq!(nav["value"], true);
    agent.run(json!({"do": "goto", "hash": "#/admin/queues"})).await;
    agent.run(json!({"do": "visible", "selector": "#forbidden"})).await;
    agent.close().await;
}
