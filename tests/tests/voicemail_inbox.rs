//! The voicemail inbox in the browser (headless Chromium): an agent sees the messages of their
//! own box and of their queues' boxes (not a colleague's), with the count of new ones in the
//! navigation; playing one marks it heard; deleting asks twice.

use serde_json::json;
use switchboard_tests::{
    assert_no_page_errors, get_json, login, screenshot_dir, write_tone, Browser, Server,
};

#[tokio::test]
async fn an_agent_plays_marks_and_deletes_the_messages_of_their_boxes() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data, &["--demo"], &[]).unwrap();
    // Three messages, as the voicemail service files them: Alice's own box, her support
    // queue's box, and Bob's own box (not hers to see).
    let url = format!("sqlite://{}?mode=rwc", data.join("switchboard.db").display());
    let db = switchboard::db::Db::open(&url).await.unwrap();
    let account =
        switchboard::store::accounts::by_slug(&db, switchboard::demo::ACCOUNT).await.unwrap().unwrap().id;
    let mut ids = Vec::new();
    for (i, (mailbox, caller)) in
        [("ext-102", "+12025550177"), ("support", "+12025550100"), ("ext-101", "+12025550142")]
            .into_iter()
            .enumerate()
    {
        let path = format!("voicemail/{account}/{mailbox}/{i}.wav");
        std::fs::create_dir_all(data.join(&path).parent().unwrap()).unwrap();
        write_tone(&data.join(&path), 440.0, 2.0).unwrap();
        let id = switchboard::store::voicemail::insert(&db, account, mailbox, None, caller, &path, 2000)
            .await
            .unwrap();
        ids.push(id);
    }
    switchboard::store::voicemail::set_transcript(&db, account, ids[2], "Hi, this is Dana about order 1042.")
        .await
        .unwrap();
    // Bob's message is not Alice's to read, by the API either.
    let client = switchboard_tests::http();
    let alice = login(&client, &server, "alice@demo.example", "switchboard-demo").await.unwrap();
    let r = client
        .get(server.url(&format!("/api/voicemail/{}", ids[0])))
        .header("cookie", &alice)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    // (A microphone lets the page play audio without a click.)
    let mic = dir.path().join("mic.wav");
    write_tone(&mic, 300.0, 5.0).unwrap();
    let Some(mut b) = Browser::start_with(&server.url(""), Some(&mic)).await else { return };
    b.run(json!({"do": "login", "email": "alice@demo.example", "password": "switchboard-demo"})).await;
    b.run(json!({"do": "waitText", "selector": "#nav-voicemail-count", "text": "2"})).await;
    b.run(json!({"do": "click", "selector": "#nav-voicemail"})).await;
    b.run(json!({"do": "visible", "selector": "#vm-list .vm"})).await;
    let listed = b.run(json!({"do": "text", "selector": "#vm-list"})).await;
    let listed = listed["text"].as_str().unwrap().to_string();
    assert!(listed.contains("+12025550142") && listed.contains("+12025550100"), "{listed}");
    assert!(!listed.contains("+12025550177"), "Bob's message is not listed: {listed}");
    assert!(listed.contains("order 1042"), "the transcript is shown: {listed}");
    let players = b.run(json!({"do": "evaluate", "expression": "[...document.querySelectorAll('#vm-list audio')].filter(a => a.controls).length"})).await;
    assert_eq!(players["value"], 2, "a player per message");
    b.run(json!({"do": "screenshot", "path": screenshot_dir().join("voicemail-inbox.png").display().to_string()}))
        .await;
    // Playing the newest message marks it heard: one new left.
    let newest = format!("#vm-list [data-id='{}']", ids[2]);
    b.run(json!({"do": "evaluate", "expression": format!("document.querySelector(\"{newest} audio\").play().then(() => true)")}))
        .await;
    b.run(json!({"do": "waitText", "selector": "#nav-voicemail-count", "text": "1"})).await;
    b.run(json!({"do": "visible", "selector": format!("{newest} button[data-action='mark-new']")})).await;
    let heard = get_json(&client, &server, &alice, &format!("/api/voicemail/{}", ids[2])).await;
    assert_eq!(heard["heard"], true, "{heard}");
    // Deleting asks again in place; the second click deletes.
    let queue_message = format!("#vm-list [data-id='{}']", ids[1]);
    b.run(json!({"do": "click", "selector": format!("{queue_message} button[data-action='delete']")})).await;
    b.run(
        json!({"do": "click", "selector": format!("{queue_message} button[data-action='confirm-delete']")}),
    )
    .await;
    b.run(json!({"do": "waitUntil", "expression": format!("!document.querySelector(\"{queue_message}\")")}))
        .await;
    let left = get_json(&client, &server, &alice, "/api/voicemail").await;
    let left: Vec<i64> = left.as_array().unwrap().iter().map(|m| m["id"].as_i64().unwrap()).collect();
    assert_eq!(left, vec![ids[2]], "only Alice's own (heard) message is left");
    b.run(json!({"do": "waitUntil", "expression": "document.getElementById('nav-voicemail-count').hidden"}))
        .await;
    assert_no_page_errors(&mut b).await;
}
