//! Warm transfers and conferences with real phones (baresip), proven by who hears whom: each
//! phone sends its own tone, and what each heard is read by frequency, per stretch of time.

use std::time::{Duration, Instant};
use switchboard_tests::tones::{
    add_dave, alice_calls_bob, live_call, pause, rig, send, timeline, Phone, Rig, ALICE, BOB, CAROL, DAVE,
};
use switchboard_tests::{add_carol, demo_account, login, require_program, wait_registered};

/// Alice calls Bob; Bob calls Carol, then Dave, merging each into a conference. Everyone hears
/// the three others and not themselves; Carol muted is heard by nobody and still hears; Dave
/// held hears hold music and is heard by nobody; Dave removed is hung up on; Bob (who started
/// it) leaves and Alice and Carol talk on; Alice hanging up ends Carol's call too.
#[tokio::test]
async fn a_four_party_conference_mixes_minus_each_party_and_mutes_and_holds_in_the_mixer() {
    if !require_program("baresip") {
        return;
    }
    let Rig { dir, sip, mut server, client, admin, bob_web } = rig().await;
    let (carol_account, dave_account) =
        (add_carol(&client, &server, &admin, &sip).await, add_dave(&client, &server, &admin, &sip).await);
    let mut bob =
        Phone::start(dir.path(), "bob", BOB, &demo_account(&sip, "102", ";answermode=auto"), vec![]);
    let mut carol = Phone::start(dir.path(), "carol", CAROL, &carol_account, vec![]);
    let mut dave = Phone::start(dir.path(), "dave", DAVE, &dave_account, vec![]);
    wait_registered(&client, &server, &admin, &["102", "103", "104"]).await;
    let (alice, x) = alice_calls_bob(dir.path(), &sip, &mut server, &client, &admin, &mut bob).await;

    // Bob calls Carol on his other line, then merges her in; then Dave the same way.
    for (phone, extension) in [(&mut carol, "103"), (&mut dave, "104")] {
        bob.phone.command("dial", &format!("sip:{extension}@{sip}")).unwrap();
        phone.established(&mut server);
        let y = live_call(&client, &server, &admin, "102", extension).await;
        let path = format!("/api/calls/{x}/conference");
        let (status, view) =
            send(&client, &server, &bob_web, reqwest::Method::POST, &path, serde_json::json!({"add": y}))
                .await;
        assert_eq!(status, 200, "{view}\n{}", server.log_text());
    }
    let (status, view) = send(
        &client,
        &server,
        &bob_web,
        reqwest::Method::GET,
        &format!("/api/calls/{x}/conference"),
        serde_json::json!(null),
    )
    .await;
    assert_eq!(status, 200, "{view}");
    let parties = view["parties"].as_array().unwrap().clone();
    let names: Vec<&str> = parties.iter().filter_map(|p| p["name"].as_str()).collect();
    assert_eq!(names.len(), 4, "{view}");
    assert!(
        names.contains(&"Carol Diaz") && names.contains(&"Dave Evans") && names.contains(&"Bob Martinez"),
        "{view}"
    );
    let party =
        |name: &str| parties.iter().find(|p| p["name"] == name).and_then(|p| p["id"].as_u64()).unwrap();
    let (carol_id, dave_id) = (party("Carol Diaz"), party("Dave Evans"));
    // A conference is not blind-transferred (that would take the caller out of it).
    let transfer = format!("/api/calls/{x}/transfer");
    let queue = serde_json::json!({"target": {"type": "queue", "name": "support"}});
    let (status, body) = send(&client, &server, &bob_web, reqwest::Method::POST, &transfer, queue).await;
    assert_eq!(status, 409, "{body}");

    std::thread::sleep(Duration::from_millis(500));
    let all = pause(3.0);
    // Carol muted: heard by nobody, and she still hears everyone.
    let patch = |id: u64| format!("/api/calls/{x}/conference/parties/{id}");
    let (status, view) = send(
        &client,
        &server,
        &bob_web,
        reqwest::Method::PATCH,
        &patch(carol_id),
        serde_json::json!({"muted": true}),
    )
    .await;
    assert_eq!(status, 200, "{view}");
    // A second for what was already on its way (the phones' own buffers grow under load: a CI
    // run heard 0.4 s of Carol after half a second).
    std::thread::sleep(Duration::from_millis(1000));
    let muted = pause(3.0);
    // And a second after the window before unmuting: a phone that drops frames from its
    // recording under load places later audio at a given position (two CI runs heard 0.4 s of
    // Carol in the window, the same after a half and a whole second's wait before it).
    std::thread::sleep(Duration::from_millis(1000));
    send(
        &client,
        &server,
        &bob_web,
        reqwest::Method::PATCH,
        &patch(carol_id),
        serde_json::json!({"muted": false}),
    )
    .await;
    // Dave held: hears hold music, heard by nobody.
    let (status, view) = send(
        &client,
        &server,
        &bob_web,
        reqwest::Method::PATCH,
        &patch(dave_id),
        serde_json::json!({"held": true}),
    )
    .await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(
        view["parties"].as_array().unwrap().iter().find(|p| p["id"] == dave_id).unwrap()["held"],
        true
    );
    std::thread::sleep(Duration::from_millis(1000));
    let held = pause(3.0);
    // Dave removed: his phone is hung up on.
    let (status, view) =
        send(&client, &server, &bob_web, reqwest::Method::DELETE, &patch(dave_id), serde_json::json!(null))
            .await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["parties"].as_array().unwrap().len(), 3, "{view}");
    dave.phone.wait_for("terminated", Duration::from_secs(5)).unwrap();
    // Bob, who started it, leaves: Alice and Carol go on.
    bob.phone.command("hangup", "").unwrap();
    std::thread::sleep(Duration::from_millis(1000));
    let without_bob = pause(3.0);
    assert!(
        !alice.phone.log().contains("terminated"),
        "Alice's call ended with Bob leaving:\n{}",
        server.log_text()
    );
    alice.phone.command("hangup", "").unwrap();
    carol.phone.wait_for("terminated", Duration::from_secs(10)).unwrap();
    std::thread::sleep(Duration::from_millis(500));

    let everyone =
        [("Alice", &alice, ALICE), ("Bob", &bob, BOB), ("Carol", &carol, CAROL), ("Dave", &dave, DAVE)];
    let mut report = String::new();
    for (name, phone, own) in everyone {
        for (other, _, hz) in everyone {
            let s = phone.heard(hz, all.0, all.1);
            report.push_str(&format!("{name} heard {other} for {s:.1} s of 3 with everyone in\n"));
            if hz == own {
                assert!(s < 0.5, "{report}");
            } else {
                assert!(s > 1.5, "{report}");
            }
        }
    }
    for (name, phone, _) in everyone.iter().filter(|(n, ..)| *n != "Carol") {
        let s = phone.heard(CAROL, muted.0, muted.1);
        assert!(s < 0.4, "{name} heard muted Carol for {s:.1} s");
    }
    for hz in [ALICE, BOB, DAVE] {
        let s = carol.heard(hz, muted.0, muted.1);
        assert!(s > 1.5, "muted Carol heard {hz} Hz for only {s:.1} s");
    }
    for (name, phone, _) in everyone.iter().filter(|(n, ..)| *n != "Dave") {
        let s = phone.heard(DAVE, held.0, held.1);
        assert!(s < 0.4, "{name} heard held Dave for {s:.1} s");
    }
    for hz in [BOB, CAROL] {
        let s = dave.heard(hz, held.0, held.1);
        assert!(s < 0.4, "held Dave heard {hz} Hz for {s:.1} s (he should hear hold music)");
    }
    let (a_c, a_b) =
        (alice.heard(CAROL, without_bob.0, without_bob.1), alice.heard(BOB, without_bob.0, without_bob.1));
    assert!(a_c > 1.5 && a_b < 0.4, "after Bob left Alice heard Carol {a_c:.1} s and Bob {a_b:.1} s");
    let c_a = carol.heard(ALICE, without_bob.0, without_bob.1);
    assert!(c_a > 1.5, "after Bob left Carol heard Alice {c_a:.1} s");

    let kinds: Vec<String> = timeline(&client, &server, &admin, x)
        .await
        .iter()
        .filter_map(|e| e["kind"].as_str().map(str::to_string))
        .collect();
    for kind in ["conference_joined", "party_muted", "party_held", "party_removed", "party_left"] {
        assert!(kinds.iter().any(|k| k == kind), "no {kind} in {kinds:?}");
    }
    assert_eq!(kinds.iter().filter(|k| *k == "conference_joined").count(), 2, "{kinds:?}");
}

/// Alice calls Bob; Bob calls Carol on his other line, then completes the transfer: both of
/// Bob's calls end, Alice and Carol hear each other, and when Alice hangs up Carol's call ends.
#[tokio::test]
async fn a_warm_transfer_joins_the_caller_and_the_person_consulted() {
    if !require_program("baresip") {
        return;
    }
    let Rig { dir, sip, mut server, client, admin, bob_web } = rig().await;
    let carol_account = add_carol(&client, &server, &admin, &sip).await;
    let mut bob =
        Phone::start(dir.path(), "bob", BOB, &demo_account(&sip, "102", ";answermode=auto"), vec![]);
    let mut carol = Phone::start(dir.path(), "carol", CAROL, &carol_account, vec![]);
    wait_registered(&client, &server, &admin, &["102", "103"]).await;
    let (alice, x) = alice_calls_bob(dir.path(), &sip, &mut server, &client, &admin, &mut bob).await;
    bob.phone.command("dial", &format!("sip:103@{sip}")).unwrap();
    carol.established(&mut server);
    let y = live_call(&client, &server, &admin, "102", "103").await;
    // Alice's own call is no consult of hers: Alice (an agent too) may not join Bob's calls.
    let alice_web = login(&client, &server, "alice@demo.example", "switchboard-demo").await.unwrap();
    let complete = format!("/api/calls/{x}/transfer/complete");
    let (status, body) = send(
        &client,
        &server,
        &alice_web,
        reqwest::Method::POST,
        &complete,
        serde_json::json!({"consult": y}),
    )
    .await;
    assert!(status == 404 || status == 409 || status == 422, "{status} {body}");
    let (status, body) =
        send(&client, &server, &bob_web, reqwest::Method::POST, &complete, serde_json::json!({"consult": x}))
            .await;
    assert_eq!(status, 409, "a call is not joined to itself: {body}");
    let (status, view) =
        send(&client, &server, &bob_web, reqwest::Method::POST, &complete, serde_json::json!({"consult": y}))
            .await;
    assert_eq!(status, 200, "{view}\n{}", server.log_text());
    assert_eq!(view["parties"].as_array().unwrap().len(), 2, "{view}");
    let deadline = Instant::now() + Duration::from_secs(10);
    // (baresip says "terminated" or "session closed" when the other side hangs up.)
    let ended = |log: String| log.matches("terminated").count() + log.matches("session closed").count();
    while ended(bob.phone.log()) < 2 {
        assert!(Instant::now() < deadline, "Bob's calls did not both end:\n{}", bob.phone.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(800));
    let joined = pause(3.0);
    alice.phone.command("hangup", "").unwrap();
    carol.phone.wait_for("terminated", Duration::from_secs(10)).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let (a_c, c_a) = (alice.heard(CAROL, joined.0, joined.1), carol.heard(ALICE, joined.0, joined.1));
    assert!(a_c > 1.5 && c_a > 1.5, "Alice heard Carol {a_c:.1} s, Carol heard Alice {c_a:.1} s");
    let a_b = alice.heard(BOB, joined.0, joined.1);
    assert!(a_b < 0.4, "Alice still heard Bob for {a_b:.1} s");
    let events = timeline(&client, &server, &admin, x).await;
    let transferred = events.iter().find(|e| e["kind"] == "transferred").expect("a transfer in the timeline");
    assert_eq!(transferred["data"]["kind"], "warm", "{transferred}");
    assert_eq!(transferred["data"]["target"], "Carol Diaz", "{transferred}");
    assert_eq!(transferred["data"]["by"], "Bob Martinez", "{transferred}");
    drop(bob);
}
