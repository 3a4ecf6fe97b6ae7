//! The customer's whole conversation: a chat and an e-mail posted through the signed inbound
//! webhook (as a help desk would) appear beside the customer's calls on their page, newest
//! first, reached from the call history; in headless Chromium.

use serde_json::json;
use switchboard_tests::{assert_no_page_errors, get_json, login, screenshot_dir, Browser, Server};

/// Posts `body` to the account's inbound webhook, signed with `secret`: the status.
async fn post_signed(
    client: &reqwest::Client,
    server: &Server,
    path: &str,
    secret: &str,
    body: &serde_json::Value,
) -> u16 {
    let timestamp = chrono::Utc::now().timestamp().to_string();
    let bytes = body.to_string();
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let signature = hex::encode(ring::hmac::sign(&key, format!("{timestamp}.{bytes}").as_bytes()).as_ref());
    let r = client
        .post(server.url(path))
        .header("content-type", "application/json")
        .header("x-switchboard-timestamp", timestamp)
        .header("x-switchboard-signature", format!("v1={signature}"))
        .body(bytes)
        .send()
        .await
        .unwrap();
    r.status().as_u16()
}

#[tokio::test]
async fn a_help_desks_chat_and_email_appear_beside_the_customers_calls() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data, &["--demo"], &[]).unwrap();
    let client = switchboard_tests::http();
    let supervisor = login(&client, &server, "supervisor@demo.example", "switchboard-demo").await.unwrap();
    let admin = login(&client, &server, "admin@demo.example", "switchboard-demo").await.unwrap();
    let found = get_json(&client, &server, &admin, "/api/customers?q=Maria").await;
    let maria = found[0]["id"].as_i64().unwrap();
    let phone = found[0]["phones"][0]["number"].as_str().unwrap().to_string();
    // A call of hers, as the router records one (a call's journey is tested elsewhere).
    let url = format!("sqlite://{}?mode=rwc", data.join("switchboard.db").display());
    let db = switchboard::db::Db::open(&url).await.unwrap();
    let account =
        switchboard::store::accounts::by_slug(&db, switchboard::demo::ACCOUNT).await.unwrap().unwrap().id;
    let call = switchboard::store::calls::NewCall {
        direction: "inbound".into(),
        from_number: phone.clone(),
        to_number: "+15555550100".into(),
        customer_id: Some(maria),
        agent_extension: Some("101".into()),
        ai_agent: None,
    };
    let call_id = switchboard::store::calls::create(&db, account, &call).await.unwrap();

    // Her chat and an e-mail to her, from the help desk, signed; the chat twice (a retry).
    let hook = get_json(&client, &server, &admin, "/api/account/conversation-webhook").await;
    let (path, secret) = (hook["path"].as_str().unwrap(), hook["secret"].as_str().unwrap());
    let chat = json!({"message_id": "chat-88", "channel": "chat", "direction": "inbound",
        "time": "2026-11-30T16:20:00Z", "participants": [{"name": "Maria", "address": phone}],
        "text": "Hi! My tent pole arrived bent. Can I get a replacement?", "link": "https://help.example/chats/88"});
    let email = json!({"message_id": "mail-89", "channel": "email", "direction": "outbound",
        "time": "2026-12-01T09:05:00Z", "subject": "Your replacement pole is on its way",
        "participants": [{"name": "Acme support", "address": "support@acme-outdoor.example"}, {"address": phone}],
        "text": "We shipped a new pole today; tracking 1Z999.", "link": "https://help.example/tickets/89"});
    assert_eq!(post_signed(&client, &server, path, secret, &chat).await, 201);
    assert_eq!(post_signed(&client, &server, path, secret, &chat).await, 200);
    assert_eq!(post_signed(&client, &server, path, secret, &email).await, 201);
    assert_eq!(post_signed(&client, &server, path, "whsec_wrong", &email).await, 401);

    let Some(mut b) = Browser::start(&server.url("")).await else { return };
    b.run(json!({"do": "login", "email": "supervisor@demo.example", "password": "switchboard-demo"})).await;
    // From the call history, her name leads to her page.
    b.run(json!({"do": "evaluate", "expression": "location.hash = '#/calls'"})).await;
    b.run(json!({"do": "visible", "selector": format!("#calls-rows a[href='#/customers/{maria}']")})).await;
    b.run(json!({"do": "click", "selector": format!("#calls-rows a[href='#/customers/{maria}']")})).await;
    b.run(json!({"do": "waitText", "selector": "#cust-name", "text": "Maria"})).await;
    b.run(json!({"do": "waitText", "selector": "#cust-timeline", "text": "tent pole arrived bent"})).await;
    let kinds = b
        .run(json!({"do": "evaluate", "expression": "[...document.querySelectorAll('#cust-timeline li')].map((li) => li.dataset.type).join(',')"}))
        .await;
    // Newest first: the call (now), the e-mail (Dec 1), the chat (Nov 30); the chat once.
    assert_eq!(kinds["value"], "call,email,chat", "{kinds}");
    let text = b.run(json!({"do": "text", "selector": "#customer-page"})).await;
    let text = text["text"].as_str().unwrap().to_string();
    assert!(
        text.contains("Your replacement pole is on its way")
            && text.contains("Web chat")
            && text.contains("E-mail"),
        "{text}"
    );
    b.run(
        json!({"do": "screenshot", "path": screenshot_dir().join("customer-page.png").display().to_string()}),
    )
    .await;
    // The call leads to its own page.
    b.run(json!({"do": "click", "selector": "#cust-timeline li[data-type='call'] a"})).await;
    b.run(json!({"do": "waitUntil", "expression": format!("location.hash.includes('call={call_id}')")}))
        .await;
    b.run(json!({"do": "visible", "selector": "#call-detail"})).await;
    assert_no_page_errors(&mut b).await;
    // Supervisors read any customer's page; the API says so too.
    let timeline = get_json(&client, &server, &supervisor, &format!("/api/customers/{maria}/timeline")).await;
    assert_eq!(timeline["entries"].as_array().unwrap().len(), 3, "{timeline}");
    b.close().await;
}
