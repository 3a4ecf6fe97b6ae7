//! A supervisor on a human call with real phones (baresip), proven by who hears whom: Alice
//! (the caller, 440 Hz) calls Bob (the agent, 1000 Hz); the admin asks to supervise and Carol's
//! desk phone (700 Hz) dials the code. Listening, Carol hears both and nobody hears her;
//! whispering, Bob hears her and Alice does not; barging, both hear her. She switches without
//! redialling; when she hangs up, Alice and Bob talk on; every step is in the call's timeline.

use switchboard_tests::tones::{
    alice_calls_bob, live_call, pause, rig, send, timeline, Phone, Rig, ALICE, BOB, CAROL,
};
use switchboard_tests::{add_carol, demo_account, require_program, wait_registered};

#[tokio::test]
async fn a_supervisor_listens_whispers_and_barges_in_without_redialling() {
    if !require_program("baresip") {
        return;
    }
    let Rig { dir, sip, mut server, client, admin, .. } = rig().await;
    let carol_account = add_carol(&client, &server, &admin, &sip).await;
    let mut bob =
        Phone::start(dir.path(), "bob", BOB, &demo_account(&sip, "102", ";answermode=auto"), vec![]);
    let mut carol = Phone::start(dir.path(), "carol", CAROL, &carol_account, vec![]);
    wait_registered(&client, &server, &admin, &["102", "103"]).await;
    let (alice, x) = alice_calls_bob(dir.path(), &sip, &mut server, &client, &admin, &mut bob).await;

    // Agents may not supervise; a call that is not live cannot be.
    let bob_web =
        switchboard_tests::login(&client, &server, "bob@demo.example", "switchboard-demo").await.unwrap();
    let path = format!("/api/calls/{x}/supervise");
    let listen = serde_json::json!({"mode": "listen"});
    let (status, _) = send(&client, &server, &bob_web, reqwest::Method::POST, &path, listen.clone()).await;
    assert_eq!(status, 403);
    // A code nobody was given is refused.
    let (status, ticket) = send(&client, &server, &admin, reqwest::Method::POST, &path, listen).await;
    assert_eq!(status, 201, "{ticket}");
    let dial = ticket["dial"].as_str().unwrap().to_string();
    assert!(dial.starts_with("*77") && dial.len() == 9, "{ticket}");
    carol.phone.command("dial", &format!("sip:{dial}@{sip}")).unwrap();
    carol.established(&mut server);
    std::thread::sleep(std::time::Duration::from_millis(800));
    let listening = pause(3.0);

    let mode = |m: &str| serde_json::json!({"mode": m});
    let (status, view) = send(&client, &server, &admin, reqwest::Method::PATCH, &path, mode("whisper")).await;
    assert_eq!(status, 200, "{view}");
    std::thread::sleep(std::time::Duration::from_millis(500));
    let whispering = pause(3.0);
    let (status, view) = send(&client, &server, &admin, reqwest::Method::PATCH, &path, mode("barge")).await;
    assert_eq!(status, 200, "{view}");
    std::thread::sleep(std::time::Duration::from_millis(500));
    let barging = pause(3.0);

    // Carol hangs up: Alice and Bob go on talking.
    carol.phone.command("hangup", "").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(800));
    let after = pause(2.5);
    let (status, body) = send(&client, &server, &admin, reqwest::Method::PATCH, &path, mode("listen")).await;
    assert_eq!(status, 409, "nobody supervises any more: {body}");
    assert_eq!(live_call(&client, &server, &admin, "101", "102").await, x);
    alice.phone.command("hangup", "").unwrap();

    let report = |what: &str, p: &Phone, hz: f64, w: (std::time::Instant, std::time::Instant)| {
        let s = p.heard(hz, w.0, w.1);
        eprintln!("{what}: {s:.2} s");
        s
    };
    // Listening: Carol hears both; neither hears her.
    assert!(report("listen: Carol hears Alice", &carol, ALICE, listening) > 2.0);
    assert!(report("listen: Carol hears Bob", &carol, BOB, listening) > 2.0);
    assert!(report("listen: Alice hears Bob", &alice, BOB, listening) > 2.0);
    assert!(report("listen: Bob hears Alice", &bob, ALICE, listening) > 2.0);
    assert!(report("listen: Alice hears Carol", &alice, CAROL, listening) < 0.3);
    assert!(report("listen: Bob hears Carol", &bob, CAROL, listening) < 0.3);
    // Whispering: Bob hears her, Alice does not.
    assert!(report("whisper: Bob hears Carol", &bob, CAROL, whispering) > 2.0);
    assert!(report("whisper: Alice hears Carol", &alice, CAROL, whispering) < 0.3);
    assert!(report("whisper: Alice hears Bob", &alice, BOB, whispering) > 2.0);
    assert!(report("whisper: Carol hears Alice", &carol, ALICE, whispering) > 2.0);
    // Barging: both hear her.
    assert!(report("barge: Alice hears Carol", &alice, CAROL, barging) > 2.0);
    assert!(report("barge: Bob hears Carol", &bob, CAROL, barging) > 2.0);
    // After she left, the call is Alice and Bob's again.
    assert!(report("after: Alice hears Bob", &alice, BOB, after) > 1.5);
    assert!(report("after: Bob hears Alice", &bob, ALICE, after) > 1.5);

    let events = timeline(&client, &server, &admin, x).await;
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["kind"].as_str()).collect();
    let modes: Vec<&str> = events
        .iter()
        .filter(|e| e["kind"] == "supervision_started" || e["kind"] == "supervision_mode")
        .filter_map(|e| e["data"]["mode"].as_str())
        .collect();
    assert_eq!(modes, ["listen", "whisper", "barge"], "{kinds:?}");
    assert!(kinds.contains(&"supervision_ended"), "{kinds:?}");
    assert!(!kinds.contains(&"conference_joined"), "{kinds:?}");
}
