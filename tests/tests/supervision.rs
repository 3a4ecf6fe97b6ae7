//! A supervisor on a human call with real phones (baresip), proven by who hears whom: Alice
//! (the caller, 440 Hz) calls Bob (the agent, 1000 Hz); the admin asks to supervise and Carol's
//! desk phone (700 Hz) dials the code. Listening, Carol hears both and nobody hears her;
//! whispering, Bob hears her and Alice does not; barging, both hear her. She switches without
//! redialling (through the API, or by a key on her phone); when she hangs up, Alice and Bob
//! talk on; every step is in the call's timeline.

use serde_json::json;
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
    // (A margin before each switch, so that no window holds the moment of switching: under
    // load a recording's clock may run a little ahead of the test's.)
    std::thread::sleep(std::time::Duration::from_millis(500));

    let mode = |m: &str| serde_json::json!({"mode": m});
    let (status, view) = send(&client, &server, &admin, reqwest::Method::PATCH, &path, mode("whisper")).await;
    assert_eq!(status, 200, "{view}");
    std::thread::sleep(std::time::Duration::from_millis(500));
    let whispering = pause(3.0);
    std::thread::sleep(std::time::Duration::from_millis(500));
    // Barge by a key on the desk phone (4 listen, 5 whisper, 6 barge).
    carol.phone.command("sndcode", "6").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1000));
    let barging = pause(3.0);
    std::thread::sleep(std::time::Duration::from_millis(500));

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

/// The PBX rings the supervisor's desk phone instead of waiting for it to dial: Carol's phone
/// (auto-answer) is rung for the admin's listen-in and joins on answering; a key on it switches
/// to whisper (her keys come from the side of a call we placed); a phone nobody can answer is
/// in the timeline; an admin whose browser phone is not connected is told to name one.
#[tokio::test]
async fn the_pbx_rings_the_supervisors_desk_phone_and_answering_joins_the_call() {
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
    let path = format!("/api/calls/{x}/supervise");
    let post = |body: serde_json::Value| send(&client, &server, &admin, reqwest::Method::POST, &path, body);

    // The admin's own phone would be their browser phone, which is not connected: they are told
    // to connect it or name a phone.
    let (status, body) = post(json!({"mode": "listen", "ring": true})).await;
    assert_eq!(status, 422, "{body}");
    assert!(body.to_string().contains("give an extension"), "{body}");
    // A phone nobody answers (no phone registered for 104): the timeline says so.
    let r = client
        .post(server.url("/api/agents"))
        .header("cookie", &admin)
        .json(&json!({"extension": "104", "display_name": "Dan Evans", "sip_password": "dan-sip-104-secret"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let (status, body) = post(json!({"mode": "listen", "ring": true, "extension": "104"})).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["ringing"], "104", "{body}");

    // Carol's desk phone rings and answers by itself.
    let (status, body) = post(json!({"mode": "listen", "ring": true, "extension": "103"})).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["ringing"], "103", "{body}");
    carol.established(&mut server);
    std::thread::sleep(std::time::Duration::from_millis(800));
    let listening = pause(3.0);
    // Whisper by a key on her phone.
    carol.phone.command("sndcode", "5").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1000));
    let whispering = pause(3.0);
    carol.phone.command("hangup", "").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(800));
    let after = pause(2.0);
    assert_eq!(live_call(&client, &server, &admin, "101", "102").await, x);
    alice.phone.command("hangup", "").unwrap();

    let report = |what: &str, p: &Phone, hz: f64, w: (std::time::Instant, std::time::Instant)| {
        let s = p.heard(hz, w.0, w.1);
        eprintln!("{what}: {s:.2} s");
        s
    };
    assert!(report("listen: Carol hears Alice", &carol, ALICE, listening) > 2.0);
    assert!(report("listen: Carol hears Bob", &carol, BOB, listening) > 2.0);
    assert!(report("listen: Alice hears Carol", &alice, CAROL, listening) < 0.3);
    assert!(report("listen: Bob hears Carol", &bob, CAROL, listening) < 0.3);
    assert!(report("listen: Alice hears Bob", &alice, BOB, listening) > 2.0);
    assert!(report("whisper: Bob hears Carol", &bob, CAROL, whispering) > 2.0);
    assert!(report("whisper: Alice hears Carol", &alice, CAROL, whispering) < 0.3);
    assert!(report("after: Bob hears Alice", &bob, ALICE, after) > 1.2);

    let events = timeline(&client, &server, &admin, x).await;
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["kind"].as_str()).collect();
    let rung: Vec<&str> = events
        .iter()
        .filter(|e| e["kind"] == "supervision_ringing")
        .filter_map(|e| e["data"]["extension"].as_str())
        .collect();
    assert_eq!(rung, ["104", "103"], "{kinds:?}");
    let unanswered = events.iter().find(|e| e["kind"] == "supervision_unanswered");
    assert_eq!(unanswered.map(|e| e["data"]["extension"].clone()), Some(json!("104")), "{kinds:?}");
    let modes: Vec<&str> = events
        .iter()
        .filter(|e| e["kind"] == "supervision_started" || e["kind"] == "supervision_mode")
        .filter_map(|e| e["data"]["mode"].as_str())
        .collect();
    assert_eq!(modes, ["listen", "whisper"], "{kinds:?}");
    assert!(kinds.contains(&"supervision_ended"), "{kinds:?}");
}

/// The same from the web app: a supervisor without a desk phone opens the live call's page and
/// presses Listen (the browser phone dials the code the server gave), then Whisper (no
/// redialling): Bob hears the browser's microphone, Alice does not.
#[tokio::test]
async fn a_supervisor_supervises_from_the_calls_page_with_the_browser_phone() {
    if !require_program("baresip") {
        return;
    }
    let Rig { dir, sip, mut server, client, admin, .. } = rig().await;
    let mic = dir.path().join("supervisor-mic.wav");
    // Bursts (a quarter second on, a quarter off), as speech comes: a browser's noise
    // suppression fades a steady tone out after a few seconds.
    let samples: Vec<i16> = (0..48_000 * 90)
        .map(|i| {
            let on = (i / 12_000) % 2 == 0;
            if on {
                ((i as f32 * CAROL as f32 * std::f32::consts::TAU / 48_000.0).sin() * 12000.0) as i16
            } else {
                0
            }
        })
        .collect();
    std::fs::write(&mic, switchboard_telephony::media::wav::encode_pcm16(&samples, 48_000, 1)).unwrap();
    let Some(mut b) = switchboard_tests::Browser::start_with(&server.url(""), Some(&mic)).await else {
        return;
    };
    b.run(json!({"do": "login", "email": "supervisor@demo.example", "password": "switchboard-demo"})).await;
    let registered = "window.switchboardPhone.status === 'registered' && window.switchboardPhone.personal";
    b.run(json!({"do": "waitUntil", "expression": registered, "timeout": 15000})).await;
    let mut bob =
        Phone::start(dir.path(), "bob", BOB, &demo_account(&sip, "102", ";answermode=auto"), vec![]);
    wait_registered(&client, &server, &admin, &["102"]).await;
    let (alice, x) = alice_calls_bob(dir.path(), &sip, &mut server, &client, &admin, &mut bob).await;

    b.run(json!({"do": "evaluate", "expression": format!("location.hash = '#/calls?call={x}'")})).await;
    b.run(json!({"do": "visible", "selector": "#supervise-bar"})).await;
    b.run(json!({"do": "click", "selector": "#supervise-bar button[data-mode=listen]"})).await;
    switchboard_tests::workspace::wait_line(&mut b, 0, "talking").await;
    b.run(json!({"do": "waitText", "selector": "#supervise-status", "text": "listening"})).await;
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let listening = pause(3.0);
    b.run(json!({"do": "click", "selector": "#supervise-bar button[data-mode=whisper]"})).await;
    b.run(json!({"do": "waitText", "selector": "#supervise-status", "text": "whispering"})).await;
    std::thread::sleep(std::time::Duration::from_millis(500));
    let whispering = pause(3.0);
    b.run(json!({"do": "screenshot", "path": switchboard_tests::screenshot_dir().join("call-page-supervising.png").display().to_string()}))
        .await;
    switchboard_tests::assert_no_page_errors(&mut b).await;
    b.run(json!({"do": "evaluate", "expression": "window.switchboardPhone.hangup(0)"})).await;
    std::thread::sleep(std::time::Duration::from_millis(500));
    alice.phone.command("hangup", "").unwrap();

    let heard = |p: &Phone, w: (std::time::Instant, std::time::Instant)| p.heard(CAROL, w.0, w.1);
    assert!(heard(&bob, listening) < 0.3, "Bob heard the listening supervisor");
    assert!(heard(&alice, listening) < 0.3, "Alice heard the listening supervisor");
    assert!(heard(&bob, whispering) > 1.0, "Bob did not hear the whisper: {:.2} s", heard(&bob, whispering));
    assert!(heard(&alice, whispering) < 0.3, "Alice heard the whisper");
    let events = timeline(&client, &server, &admin, x).await;
    let modes: Vec<&str> = events
        .iter()
        .filter(|e| e["kind"] == "supervision_started" || e["kind"] == "supervision_mode")
        .filter_map(|e| e["data"]["mode"].as_str())
        .collect();
    assert_eq!(modes, ["listen", "whisper"]);
}
