//! The admin pages' hand-made views in Chromium: the schedule editor (days, hours, a lunch-less
//! week copied from Monday, a holiday; a refused save at the period; the "what happens now"
//! preview agreeing with the clock), the IVR editor (keys, spoken phrases, a sub-menu link and
//! the menu tree), the audio library (an MP3 picked in the file dialog, uploaded and playable;
//! a text-only entry heard as spoken), an AI agent's "try it" chat (the guided agent looks
//! Maria's order up with its real tool and hands her over), and, for owners only, users and
//! API tokens (a token made in the page works, and stops working once revoked).

use chrono::{Datelike, Timelike};
use serde_json::{json, Value};
use switchboard_tests::{get_json, in_ci, login, run, screenshot_dir, Browser, Server};

const PASSWORD: &str = "switchboard-demo";

async fn saved(b: &mut Browser) {
    let r = b.try_run(json!({"do": "waitText", "selector": "#admin-status", "text": "Saved"})).await;
    if r["ok"] != true {
        let shown = b.run(json!({"do": "text", "selector": "#admin-main"})).await;
        panic!("not saved: {}", shown["text"]);
    }
}

fn find<'a>(list: &'a Value, key: &str, value: &str) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|e| e[key] == value)
        .unwrap_or_else(|| panic!("no {value} in {list}"))
}

/// Whether the guided agent's sentence-embedding model is installed (needed for "try it").
fn embeddings_ready() -> bool {
    let listing = String::from_utf8_lossy(&run(&["models", "list"], &[]).stdout).into_owned();
    let ready = listing.lines().any(|l| l.to_lowercase().contains("minilm") && !l.contains("NOT USABLE"));
    assert!(ready || !in_ci(), "CI=true but the sentence-embedding model is missing (run scripts/setup)");
    ready
}

#[tokio::test]
async fn admins_edit_schedules_menus_audio_and_try_agents_and_owners_manage_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), &["--demo"], &[]).unwrap();
    let client = switchboard_tests::http();
    let admin = login(&client, &server, "admin@demo.example", PASSWORD).await.unwrap();
    let Some(mut b) = Browser::start(&server.url("")).await else { return };
    b.run(json!({"do": "login", "email": "admin@demo.example", "password": PASSWORD})).await;
    b.run(json!({"do": "click", "selector": "#nav-admin"})).await;
    // Users and tokens are the owner's.
    let links = b.run(json!({"do": "text", "selector": "#admin-kinds"})).await;
    assert!(!links["text"].as_str().unwrap().contains("API tokens"), "{links}");

    // --- A schedule, by days and hours. ---
    b.run(json!({"do": "goto", "hash": "#/admin/schedules/new"})).await;
    b.run(json!({"do": "visible", "selector": "#schedule-preview"})).await;
    let top = "#admin-form > .form-object";
    b.run(json!({"do": "fill", "selector": format!("{top} > [data-field='name'] input"), "value": "support-hours"})).await;
    b.run(json!({"do": "select", "selector": format!("{top} > [data-field='time_zone'] select"), "value": "UTC"})).await;
    for (field, kind) in [("open_target", "queue"), ("closed_target", "voicemail_box")] {
        b.run(json!({"do": "select", "selector": format!("{top} > [data-field='{field}'] select"), "value": kind})).await;
        b.run(json!({"do": "fill", "selector": format!("{top} > [data-field='{field}'] [data-field='name'] input"), "value": "support"}))
            .await;
    }
    // Closed all week: the preview says so, and that it never changes.
    b.run(json!({"do": "waitText", "selector": "#schedule-preview", "text": "never changes"})).await;
    b.run(json!({"do": "click", "selector": ".day[data-day='mon'] .day-name input"})).await;
    b.run(
        json!({"do": "fill", "selector": ".day[data-day='mon'] input[data-part='close']", "value": "08:00"}),
    )
    .await;
    b.run(json!({"do": "click", "selector": "#admin-save"})).await;
    b.run(json!({"do": "waitText", "selector": ".day[data-day='mon'] .period .field-error", "text": "must be after open"}))
        .await;
    b.run(json!({"do": "waitText", "selector": "#schedule-preview", "text": "No preview until"})).await;
    b.run(
        json!({"do": "fill", "selector": ".day[data-day='mon'] input[data-part='close']", "value": "17:00"}),
    )
    .await;
    b.run(json!({"do": "click", "selector": "#copy-monday"})).await;
    b.run(json!({"do": "click", "selector": "[data-field='holidays'] button.add"})).await;
    b.run(json!({"do": "fill", "selector": ".holiday input[type='date']", "value": "2026-12-25"})).await;
    b.run(json!({"do": "fill", "selector": ".holiday input[data-part='name']", "value": "Christmas"})).await;
    b.run(json!({"do": "waitText", "selector": "#schedule-preview", "any": ["Opens", "Closes", "Holiday from"]})).await;
    // The preview agrees with the clock (UTC, weekdays 09:00-17:00, closed on Christmas Day).
    let now = chrono::Utc::now();
    let weekday = now.weekday().num_days_from_monday() < 5;
    let christmas = now.format("%Y-%m-%d").to_string() == "2026-12-25";
    let expected = if christmas {
        "holiday"
    } else if weekday && (9..17).contains(&now.hour()) {
        "open"
    } else {
        "closed"
    };
    let shown = b
        .run(json!({"do": "waitUntil", "expression": "document.querySelector('#schedule-preview [data-hours]')?.dataset.hours"}))
        .await;
    // (Unless the test ran across an opening or closing minute.)
    if now.minute() != 59 && now.minute() != 0 {
        assert_eq!(shown["value"], expected, "at {now}");
    }
    b.run(json!({"do": "screenshot", "path": screenshot_dir().join("admin-schedule.png").display().to_string()})).await;
    b.run(json!({"do": "click", "selector": "#admin-save"})).await;
    saved(&mut b).await;
    let schedules = get_json(&client, &server, &admin, "/api/schedules").await;
    let s = find(&schedules, "name", "support-hours");
    assert_eq!(s["time_zone"], "UTC");
    assert_eq!(
        s["weekly"],
        json!([{"days": ["mon", "tue", "wed", "thu", "fri"], "open": "09:00", "close": "17:00"}]),
        "Monday's hours copied to the week, one period"
    );
    assert_eq!(s["holidays"], json!([{"date": "2026-12-25", "name": "Christmas"}]));
    assert_eq!(s["closed_target"], json!({"type": "voicemail_box", "name": "support"}));

    // --- An IVR menu: keys, words, a sub-menu. ---
    b.run(json!({"do": "goto", "hash": "#/admin/ivr_menus/new"})).await;
    b.run(json!({"do": "visible", "selector": "#ivr-add-key"})).await;
    b.run(json!({"do": "fill", "selector": format!("{top} > [data-field='name'] input"), "value": "returns-menu"})).await;
    b.run(
        json!({"do": "select", "selector": format!("{top} > [data-field='prompt'] select"), "value": "text"}),
    )
    .await;
    b.run(json!({"do": "fill", "selector": format!("{top} > [data-field='prompt'] textarea"),
        "value": "For returns, press 2 or say returns. For the main menu, press 9."}))
        .await;
    for (i, (key, kind, name, phrases)) in
        [("2", "queue", "support", "returns, send something back"), ("9", "ivr_menu", "main", "")]
            .iter()
            .enumerate()
    {
        b.run(json!({"do": "click", "selector": "#ivr-add-key"})).await;
        let row = format!(".ivr-option:nth-child({})", i + 1);
        b.run(json!({"do": "select", "selector": format!("{row} select[data-part='digit']"), "value": key}))
            .await;
        b.run(json!({"do": "select", "selector": format!("{row} .form-tagged > select"), "value": kind}))
            .await;
        b.run(json!({"do": "fill", "selector": format!("{row} [data-field='name'] input"), "value": name}))
            .await;
        b.run(
            json!({"do": "fill", "selector": format!("{row} input[data-part='phrases']"), "value": phrases}),
        )
        .await;
    }
    // The sub-menu is linked, and the tree shows what it opens.
    b.run(json!({"do": "visible", "selector": ".ivr-option:nth-child(2) .submenu-link"})).await;
    b.run(json!({"do": "waitText", "selector": "#ivr-tree", "text": "ivr menu main"})).await;
    b.run(json!({"do": "waitText", "selector": "#ivr-tree", "text": "queue sales"})).await;
    b.run(json!({"do": "click", "selector": "#admin-save"})).await;
    saved(&mut b).await;
    b.run(json!({"do": "screenshot", "path": screenshot_dir().join("admin-ivr-editor.png").display().to_string()})).await;
    let menus = get_json(&client, &server, &admin, "/api/ivr_menus").await;
    let m = find(&menus, "name", "returns-menu");
    assert_eq!(
        m["options"][0],
        json!({"digit": "2", "phrases": ["returns", "send something back"],
        "target": {"type": "queue", "name": "support"}})
    );
    assert_eq!(m["options"][1], json!({"digit": "9", "target": {"type": "ivr_menu", "name": "main"}}));

    // --- The audio library: an MP3 picked and uploaded, then playable. ---
    b.run(json!({"do": "goto", "hash": "#/admin/audio/new"})).await;
    b.run(json!({"do": "visible", "selector": "#admin-form[data-kind='audio']"})).await;
    b.run(json!({"do": "fill", "selector": format!("{top} > [data-field='name'] input"), "value": "thanks"}))
        .await;
    b.run(json!({"do": "click", "selector": "#admin-save"})).await;
    saved(&mut b).await;
    let mp3 = concat!(env!("CARGO_MANIFEST_DIR"), "/../telephony/tests/fuzz/seeds/mp3/spoken.mp3");
    b.run(json!({"do": "upload", "selector": "#audio-upload", "path": mp3})).await;
    b.run(json!({"do": "click", "selector": "#audio-upload-button"})).await;
    b.run(json!({"do": "waitText", "selector": "#audio-status", "text": "Uploaded: 3"})).await;
    b.run(json!({"do": "waitText", "selector": "#audio-what", "text": "thanks.wav"})).await;
    let fetched = b
        .run(json!({"do": "evaluate", "expression":
            "fetch(document.querySelector('#audio-player').src).then(async r => [r.status, r.headers.get('content-type'), (await r.arrayBuffer()).byteLength])"}))
        .await;
    let (status, kind, bytes) =
        (&fetched["value"][0], &fetched["value"][1], fetched["value"][2].as_u64().unwrap());
    assert_eq!((status, kind.as_str()), (&json!(200), Some("audio/wav")), "{fetched}");
    assert!(bytes > 40_000, "about 3 s at 8 kHz: {bytes} bytes");
    // A file that is not audio is refused, with the reason.
    let junk = dir.path().join("notes.mp3");
    std::fs::write(&junk, [0xFF, 0xFB, 0x90, 0x00, 1, 2, 3, 4]).unwrap();
    b.run(json!({"do": "upload", "selector": "#audio-upload", "path": junk.display().to_string()})).await;
    b.run(json!({"do": "click", "selector": "#audio-upload-button"})).await;
    b.run(json!({"do": "waitText", "selector": "#audio-status", "text": "Not uploaded"})).await;
    b.run(
        json!({"do": "screenshot", "path": screenshot_dir().join("admin-audio.png").display().to_string()}),
    )
    .await;

    // --- "Try it": the demo's guided agent, as Maria. ---
    if embeddings_ready() {
        let agents = get_json(&client, &server, &admin, "/api/ai_agents").await;
        let id = find(&agents, "name", "order-assistant")["id"].clone();
        b.run(json!({"do": "goto", "hash": format!("#/admin/ai_agents/{id}")})).await;
        b.run(
            json!({"do": "fill", "selector": "#try-caller", "value": switchboard::demo::customer_phone(0)}),
        )
        .await;
        b.run(json!({"do": "click", "selector": "#try-start"})).await;
        b.run(json!({"do": "waitText", "selector": "#try-status", "text": "Maria Garcia", "timeout": 60000}))
            .await;
        b.run(json!({"do": "waitText", "selector": "#try-log", "text": "How can I help you today?"})).await;
        b.run(json!({"do": "fill", "selector": "#try-line", "value": "What's the status of order 1002?"}))
            .await;
        b.run(json!({"do": "click", "selector": "#try-send"})).await;
        b.run(json!({"do": "waitText", "selector": "#try-log .chat-event[data-kind='tool_call']", "text": "lookup_order", "timeout": 30000}))
            .await;
        b.run(json!({"do": "waitText", "selector": "#try-log", "text": "shipped", "timeout": 30000})).await;
        b.run(json!({"do": "screenshot", "path": screenshot_dir().join("admin-try-it.png").display().to_string()})).await;
        b.run(json!({"do": "fill", "selector": "#try-line", "value": "Can I talk to a person please?"}))
            .await;
        b.run(json!({"do": "click", "selector": "#try-send"})).await;
        b.run(
            json!({"do": "waitText", "selector": "#try-ended", "text": "Transferred to", "timeout": 30000}),
        )
        .await;
        // Not a call: the history has none, and the replay panel finds no call to replay.
        let calls = get_json(&client, &server, &admin, "/api/calls").await;
        assert_eq!(calls, json!([]), "a chat is not a call");
        b.run(json!({"do": "click", "selector": "#replay-load"})).await;
        b.run(json!({"do": "waitText", "selector": "#replay-calls", "text": "No recorded calls"})).await;
    }
    let errors = b.run(json!({"do": "errors"})).await;
    let unexpected: Vec<&str> = errors["errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e.as_str())
        .filter(|e| {
            !["401", "422"]
                .iter()
                .any(|c| e.contains(&format!("HTTP {c}")) || e.contains(&format!("status of {c}")))
        })
        .collect();
    assert!(unexpected.is_empty(), "{unexpected:?}");
    b.close().await;

    // --- The owner: users and API tokens. ---
    let Some(mut o) = Browser::start(&server.url("")).await else { return };
    o.run(json!({"do": "login", "email": "owner@demo.example", "password": PASSWORD})).await;
    o.run(json!({"do": "goto", "hash": "#/admin/users"})).await;
    o.run(json!({"do": "waitText", "selector": ".admin-list", "text": "alice@demo.example"})).await;
    o.run(json!({"do": "click", "selector": "#admin-kinds a[data-kind='tokens']"})).await;
    o.run(json!({"do": "fill", "selector": "#token-name", "value": "Order system"})).await;
    o.run(json!({"do": "select", "selector": "#token-role", "value": "supervisor"})).await;
    o.run(json!({"do": "click", "selector": "#token-create"})).await;
    o.run(json!({"do": "visible", "selector": "#token-secret"})).await;
    let secret =
        o.run(json!({"do": "text", "selector": "#token-secret"})).await["text"].as_str().unwrap().to_string();
    o.run(
        json!({"do": "screenshot", "path": screenshot_dir().join("admin-tokens.png").display().to_string()}),
    )
    .await;
    let with_token = |path: &str| client.get(server.url(path)).bearer_auth(&secret).send();
    assert_eq!(with_token("/api/queues").await.unwrap().status(), 200, "the new token works");
    assert_eq!(with_token("/api/users").await.unwrap().status(), 403, "as a supervisor");
    o.run(json!({"do": "click", "selector": "button[data-revoke='Order system']"})).await;
    o.run(
        json!({"do": "waitText", "selector": "button[data-revoke='Order system']", "text": "Really revoke?"}),
    )
    .await;
    o.run(json!({"do": "click", "selector": "button[data-revoke='Order system']"})).await;
    o.run(json!({"do": "waitUntil", "expression": "!document.querySelector(\"button[data-revoke='Order system']\")"}))
        .await;
    assert_eq!(with_token("/api/queues").await.unwrap().status(), 401, "revoked");
    switchboard_tests::assert_no_page_errors(&mut o).await;
    o.close().await;
}
