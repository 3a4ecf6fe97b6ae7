//! Transfers with real phones: a desk phone's blind REFER (baresip), the web app's transfer
//! through the API, and a desk phone's attended transfer (linphone, REFER with Replaces), each
//! proven by who hears whom.

use std::time::{Duration, Instant};
use switchboard_tests::linphone::Linphone;
use switchboard_tests::pbx::{demo_pbx, DemoPbx};
use switchboard_tests::{
    add_carol, demo_account, get_json as json, mic_and_recorder, require_program, seconds_heard,
    wait_registered, Baresip, PhoneOptions, Server,
};

/// The admin's transfer of call `id` to agent `extension` through the API: status and body.
async fn transfer(
    client: &reqwest::Client,
    server: &Server,
    admin: &str,
    id: i64,
    extension: &str,
) -> (u16, String) {
    let r = client
        .post(server.url(&format!("/api/calls/{id}/transfer")))
        .header("cookie", admin)
        .json(&serde_json::json!({"target": {"type": "agent", "extension": extension}}))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap_or_default())
}

/// Alice calls Bob; Bob's phone transfers her to Carol (REFER): Bob's phone is hung up, Alice
/// hears Carol and Carol hears Alice. Then an admin transfers Alice back to Bob from the web
/// app. The record shows both transfers, with who and where.
#[tokio::test]
async fn a_desk_phone_and_the_web_app_transfer_a_caller_blind() {
    if !require_program("baresip") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let DemoPbx { mut server, client, admin, sip } = demo_pbx(dir.path(), &[]).await;
    let carol_account = add_carol(&client, &server, &admin, &sip).await;

    let (tone_a, rec_a) = mic_and_recorder(dir.path(), "a", 440.0, 14.0);
    let (tone_b, rec_b) = mic_and_recorder(dir.path(), "b", 1000.0, 30.0);
    let (tone_c, rec_c) = mic_and_recorder(dir.path(), "c", 700.0, 30.0);
    let bob = Baresip::start_with(
        &demo_account(&sip, "102", ";answermode=auto"),
        PhoneOptions { microphone: Some(tone_b), record_dir: Some(rec_b.clone()), ..Default::default() },
    )
    .unwrap();
    let carol = Baresip::start_with(
        &carol_account,
        PhoneOptions { microphone: Some(tone_c), record_dir: Some(rec_c.clone()), ..Default::default() },
    )
    .unwrap();
    wait_registered(&client, &server, &admin, &["102", "103"]).await;
    let alice = Baresip::start_with(
        &demo_account(&sip, "101", ""),
        PhoneOptions {
            microphone: Some(tone_a),
            record_dir: Some(rec_a.clone()),
            commands: vec![format!("/dial sip:102@{sip}")],
        },
    )
    .unwrap();
    alice.wait_for("Call established", Duration::from_secs(10)).unwrap();
    bob.wait_for("Call established", Duration::from_secs(10)).unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;

    // Bob's phone transfers Alice to Carol.
    bob.command("transfer", &format!("sip:103@{sip}")).unwrap();
    if let Err(e) = carol.wait_for("Call established", Duration::from_secs(10)) {
        panic!("{e}\nBob:\n{}\nServer:\n{}", bob.log(), server.log_text());
    }
    bob.wait_for("terminated", Duration::from_secs(5)).unwrap();
    tokio::time::sleep(Duration::from_millis(3000)).await;

    // The admin sends her back to Bob from the web app.
    let calls = json(&client, &server, &admin, "/api/calls").await;
    let id = calls[0]["id"].as_i64().unwrap();
    let (status, text) = transfer(&client, &server, &admin, id, "102").await;
    assert_eq!(status, 200, "{text}");
    carol.wait_for("terminated", Duration::from_secs(5)).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while bob.log().matches("Call established").count() < 2 {
        assert!(Instant::now() < deadline, "Bob never got Alice back:\n{}", bob.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A transfer to nobody is refused.
    let (status, text) = transfer(&client, &server, &admin, id, "999").await;
    assert_eq!(status, 422, "{text}");
    // Bob's phone tries a transfer to nobody: refused, and the phone is told by the NOTIFY
    // that ends its REFER (baresip then hangs up by itself, which ends the call).
    tokio::time::sleep(Duration::from_secs(2)).await;
    bob.command("transfer", &format!("sip:999@{sip}")).unwrap();
    bob.wait_for("transfer failure: 403 Forbidden", Duration::from_secs(5)).unwrap();
    alice.wait_for("terminated", Duration::from_secs(20)).unwrap();
    bob.wait_for("terminated", Duration::from_secs(5)).unwrap();
    let (status, text) = transfer(&client, &server, &admin, id, "103").await;
    assert_eq!(status, 409, "the call has ended: {text}");

    let deadline = Instant::now() + Duration::from_secs(10);
    let call = loop {
        let call = json(&client, &server, &admin, &format!("/api/calls/{id}")).await;
        if !call["ended_at"].is_null() {
            break call;
        }
        assert!(Instant::now() < deadline, "the call never ended: {call}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let transfers: Vec<&serde_json::Value> =
        call["timeline"].as_array().unwrap().iter().filter(|e| e["kind"] == "transferred").collect();
    assert_eq!(transfers.len(), 2, "{call}");
    let failed = call["timeline"].as_array().unwrap().iter().find(|e| e["kind"] == "transfer_failed");
    let failed = failed.unwrap_or_else(|| panic!("no refused transfer in {call}"));
    assert_eq!(failed["data"]["target"], "999", "{call}");
    assert_eq!(transfers[0]["data"]["by"], "extension 102", "{call}");
    assert_eq!(transfers[0]["data"]["target"], serde_json::json!({"type": "agent", "extension": "103"}));
    assert_eq!(transfers[1]["data"]["target"], serde_json::json!({"type": "agent", "extension": "102"}));
    assert_eq!(call["disposition"], "answered", "{call}");

    // Who heard whom: Alice heard Bob, then Carol, then Bob; Carol heard Alice.
    drop((alice, bob, carol));
    std::thread::sleep(Duration::from_millis(300));
    let (a_bob, a_carol) = (seconds_heard(&rec_a, 1000.0), seconds_heard(&rec_a, 700.0));
    assert!(a_bob > 2.0 && a_carol > 1.5, "Alice heard Bob {a_bob:.1} s and Carol {a_carol:.1} s");
    let c_alice = seconds_heard(&rec_c, 440.0);
    assert!(c_alice > 1.5, "Carol heard Alice for {c_alice:.1} s");
    let c_bob = seconds_heard(&rec_c, 1000.0);
    assert!(c_bob < 0.5, "Carol never heard Bob ({c_bob:.1} s)");
}

/// Alice (101) has called Bob (102, auto-answer) from her desk phone; Carol (103, auto-answer)
/// is free. Each phone plays its own tone and records what it hears.
struct PlacedCall {
    server: Server,
    client: reqwest::Client,
    admin: String,
    sip: String,
    phones: [Baresip; 3],
    recordings: [std::path::PathBuf; 3],
    id: i64,
    _dir: tempfile::TempDir,
}

async fn alice_has_called_bob() -> PlacedCall {
    let dir = tempfile::tempdir().unwrap();
    let DemoPbx { server, client, admin, sip } = demo_pbx(dir.path(), &[]).await;
    let carol_account = add_carol(&client, &server, &admin, &sip).await;
    let (tone_a, rec_a) = mic_and_recorder(dir.path(), "a", 440.0, 30.0);
    let (tone_b, rec_b) = mic_and_recorder(dir.path(), "b", 1000.0, 30.0);
    let (tone_c, rec_c) = mic_and_recorder(dir.path(), "c", 700.0, 30.0);
    let options = |mic, rec: &std::path::Path| PhoneOptions {
        microphone: Some(mic),
        record_dir: Some(rec.to_path_buf()),
        ..Default::default()
    };
    let bob =
        Baresip::start_with(&demo_account(&sip, "102", ";answermode=auto"), options(tone_b, &rec_b)).unwrap();
    let carol = Baresip::start_with(&carol_account, options(tone_c, &rec_c)).unwrap();
    wait_registered(&client, &server, &admin, &["102", "103"]).await;
    let alice = Baresip::start_with(
        &demo_account(&sip, "101", ""),
        PhoneOptions { commands: vec![format!("/dial sip:102@{sip}")], ..options(tone_a, &rec_a) },
    )
    .unwrap();
    alice.wait_for("Call established", Duration::from_secs(10)).unwrap();
    bob.wait_for("Call established", Duration::from_secs(10)).unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let id = json(&client, &server, &admin, "/api/calls").await[0]["id"].as_i64().unwrap();
    PlacedCall {
        server,
        client,
        admin,
        sip,
        phones: [alice, bob, carol],
        recordings: [rec_a, rec_b, rec_c],
        id,
        _dir: dir,
    }
}

impl PlacedCall {
    /// After Alice's transfer of Bob to Carol: her phone is hung up, Carol's answers, they talk
    /// and Bob hangs up; who heard whom, and the record's transfer by `by`.
    async fn bob_and_carol_talked(self, by: &str) {
        let PlacedCall {
            mut server,
            client,
            admin,
            phones: [alice, bob, carol],
            recordings: [rec_a, rec_b, rec_c],
            id,
            ..
        } = self;
        let waited = alice
            .wait_for("terminated", Duration::from_secs(5))
            .and_then(|_| carol.wait_for("Call established", Duration::from_secs(10)));
        if let Err(e) = waited {
            panic!("{e}\nAlice:\n{}\nCarol:\n{}\nServer:\n{}", alice.log(), carol.log(), server.log_text());
        }
        tokio::time::sleep(Duration::from_millis(3000)).await;
        bob.command("hangup", "").unwrap();
        if let Err(e) = carol.wait_for("terminated", Duration::from_secs(5)) {
            panic!("{e}\nBob:\n{}\nServer:\n{}", bob.log(), server.log_text());
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        let call = loop {
            let call = json(&client, &server, &admin, &format!("/api/calls/{id}")).await;
            if !call["ended_at"].is_null() {
                break call;
            }
            assert!(Instant::now() < deadline, "the call never ended: {call}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        let transferred = call["timeline"].as_array().unwrap().iter().find(|e| e["kind"] == "transferred");
        let transferred = transferred.unwrap_or_else(|| panic!("no transfer in {call}"));
        assert_eq!(transferred["data"]["by"], by, "{call}");
        assert_eq!(transferred["data"]["target"], serde_json::json!({"type": "agent", "extension": "103"}));

        drop((alice, bob, carol));
        std::thread::sleep(Duration::from_millis(300));
        let (b_carol, c_bob) = (seconds_heard(&rec_b, 700.0), seconds_heard(&rec_c, 1000.0));
        assert!(b_carol > 1.5, "Bob heard Carol for {b_carol:.1} s");
        assert!(c_bob > 1.5, "Carol heard Bob for {c_bob:.1} s");
        let c_alice = seconds_heard(&rec_c, 440.0);
        assert!(c_alice < 0.5, "Carol never heard Alice ({c_alice:.1} s)");
        let a_carol = seconds_heard(&rec_a, 700.0);
        assert!(a_carol < 0.5, "Alice, gone, never heard Carol ({a_carol:.1} s)");
    }
}

/// An agent blind-transfers the person she called from the web app: the call turns around
/// (Bob becomes its caller) and is rung through to Carol; the record says Alice did it.
#[tokio::test]
async fn an_agent_transfers_the_person_she_called() {
    if !require_program("baresip") {
        return;
    }
    let placed = alice_has_called_bob().await;
    let alice_web =
        switchboard_tests::login(&placed.client, &placed.server, "alice@demo.example", "switchboard-demo")
            .await
            .unwrap();
    let (status, text) = transfer(&placed.client, &placed.server, &alice_web, placed.id, "103").await;
    assert_eq!(status, 200, "{text}");
    placed.bob_and_carol_talked("Alice Nguyen").await;
}

/// The same from the desk phone that placed the call: its REFER (from the caller's side) sends
/// Bob to Carol, and the phone is told it went ahead.
#[tokio::test]
async fn the_phone_that_placed_a_call_transfers_it_by_refer() {
    if !require_program("baresip") {
        return;
    }
    let placed = alice_has_called_bob().await;
    let alice = &placed.phones[0];
    alice.command("transfer", &format!("sip:103@{}", placed.sip)).unwrap();
    placed.bob_and_carol_talked("extension 101").await;
}

/// An attended transfer from a desk phone (linphone's REFER with Replaces): Alice calls Bob,
/// Bob holds her, calls Carol, talks, then transfers Alice to Carol. Bob's phone is left with no
/// call, Alice and Carol hear each other, and the record says who transferred whom.
#[tokio::test]
async fn a_desk_phone_completes_an_attended_transfer_with_replaces() {
    if !require_program("baresip") || !require_program("linphonecsh") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let DemoPbx { server, client, admin, sip } = demo_pbx(dir.path(), &[]).await;
    let carol_account = add_carol(&client, &server, &admin, &sip).await;
    let (tone_a, rec_a) = mic_and_recorder(dir.path(), "a", 440.0, 30.0);
    let (tone_c, rec_c) = mic_and_recorder(dir.path(), "c", 700.0, 30.0);
    let carol = Baresip::start_with(
        &carol_account,
        PhoneOptions { microphone: Some(tone_c), record_dir: Some(rec_c.clone()), ..Default::default() },
    )
    .unwrap();
    let bob = Linphone::start(&sip, "102", "bob-sip-102").unwrap();
    bob.command("autoanswer enable").unwrap();
    wait_registered(&client, &server, &admin, &["102", "103"]).await;
    let alice = Baresip::start_with(
        &demo_account(&sip, "101", ""),
        PhoneOptions {
            microphone: Some(tone_a),
            record_dir: Some(rec_a.clone()),
            commands: vec![format!("/dial sip:102@{sip}")],
        },
    )
    .unwrap();
    alice.wait_for("Call established", Duration::from_secs(10)).unwrap();
    bob.wait_for("calls", "StreamsRunning", Duration::from_secs(10)).unwrap();

    // Bob holds Alice and consults Carol on his second line.
    bob.command("pause 1").unwrap();
    bob.wait_for("calls", "Paused", Duration::from_secs(10)).unwrap();
    bob.command(&format!("call sip:103@{sip}")).unwrap();
    carol.wait_for("Call established", Duration::from_secs(10)).unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let calls = json(&client, &server, &admin, "/api/calls").await;
    let (consult, first) = (calls[0]["id"].as_i64().unwrap(), calls[1]["id"].as_i64().unwrap());

    // The transfer: Bob's phone sends REFER to Alice's call naming the consult call.
    let said = bob.command("transfer 1 --to-call 2").unwrap();
    assert!(said.contains("attended transfer"), "{said}");
    bob.wait_for("calls", "No active call", Duration::from_secs(10)).unwrap();
    tokio::time::sleep(Duration::from_secs(4)).await;
    alice.command("hangup", "").unwrap();
    carol.wait_for("terminated", Duration::from_secs(10)).unwrap();

    let call = json(&client, &server, &admin, &format!("/api/calls/{first}")).await;
    let timeline = call["timeline"].as_array().unwrap();
    let transfer = timeline.iter().find(|e| e["kind"] == "transferred");
    let transfer = transfer.unwrap_or_else(|| panic!("no transfer in {call}\nBob:\n{}", bob.log()));
    assert_eq!(transfer["data"]["kind"], "warm", "{call}");
    assert_eq!(transfer["data"]["by"], "Bob Martinez", "{call}");
    assert_eq!(transfer["data"]["target"], "Carol Diaz", "{call}");
    assert!(timeline.iter().any(|e| e["kind"] == "hold"), "Bob's hold is in the record: {call}");
    let consulted = json(&client, &server, &admin, &format!("/api/calls/{consult}")).await;
    assert!(
        consulted["timeline"].as_array().unwrap().iter().any(|e| e["kind"] == "transferred"),
        "the consult call's record shows the transfer too: {consulted}"
    );

    // Alice and Carol heard each other after the transfer (Bob's phone has no microphone here).
    drop((alice, carol, bob));
    std::thread::sleep(Duration::from_millis(300));
    let a_carol = seconds_heard(&rec_a, 700.0);
    let c_alice = seconds_heard(&rec_c, 440.0);
    assert!(a_carol > 2.5, "Alice heard Carol for {a_carol:.1} s");
    assert!(c_alice > 2.5, "Carol heard Alice for {c_alice:.1} s");
}
