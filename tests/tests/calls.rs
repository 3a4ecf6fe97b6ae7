//! Calls between real SIP phones (baresip) through the PBX, with media anchored in it.

use std::time::{Duration, Instant};
use switchboard_tests::{
    find_file, free_udp_port, login, require_program, tone_of, write_tone, Baresip, PhoneOptions, Server,
};

async fn json(client: &reqwest::Client, server: &Server, cookie: &str, path: &str) -> serde_json::Value {
    client.get(server.url(path)).header("cookie", cookie).send().await.unwrap().json().await.unwrap()
}

async fn wait_registered(client: &reqwest::Client, server: &Server, cookie: &str, extensions: &[&str]) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let regs = json(client, server, cookie, "/api/registrations").await;
        let have: Vec<&str> =
            regs.as_array().unwrap().iter().filter_map(|r| r["extension"].as_str()).collect();
        if extensions.iter().all(|e| have.contains(e)) {
            return;
        }
        assert!(Instant::now() < deadline, "not registered: {regs}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The newest call record once it has ended.
async fn last_call(client: &reqwest::Client, server: &Server, cookie: &str) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let calls = json(client, server, cookie, "/api/calls").await;
        if let Some(c) = calls.as_array().and_then(|c| c.first()) {
            if !c["ended_at"].is_null() {
                return json(client, server, cookie, &format!("/api/calls/{}", c["id"])).await;
            }
        }
        assert!(Instant::now() < deadline, "no ended call: {calls}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn extension_calls_extension_and_both_hear_each_other() {
    if !require_program("baresip") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sip = format!("127.0.0.1:{}", free_udp_port());
    let server = Server::start(&dir.path().join("data"), &["--demo", "--sip", &sip], &[]).unwrap();
    let client = reqwest::Client::new();
    let cookie = login(&client, &server, "supervisor@demo.example", "switchboard-demo").await.unwrap();

    let (tone_a, tone_b) = (dir.path().join("a.wav"), dir.path().join("b.wav"));
    write_tone(&tone_a, 440.0, 4.0).unwrap();
    write_tone(&tone_b, 1000.0, 6.0).unwrap();
    let (rec_a, rec_b) = (dir.path().join("rec-a"), dir.path().join("rec-b"));
    std::fs::create_dir_all(&rec_a).unwrap();
    std::fs::create_dir_all(&rec_b).unwrap();

    let bob = Baresip::start_with(
        &format!("<sip:102@{sip}>;auth_pass=bob-sip-102;regint=600;audio_codecs=PCMU;answermode=auto"),
        PhoneOptions { microphone: Some(tone_b), record_dir: Some(rec_b.clone()), ..Default::default() },
    )
    .unwrap();
    wait_registered(&client, &server, &cookie, &["102"]).await;
    // Alice dials at once (her INVITE is digest-challenged like any phone's); her 4 s tone ending
    // hangs the call up.
    let alice = Baresip::start_with(
        &format!("<sip:101@{sip}>;auth_pass=alice-sip-101;regint=600;audio_codecs=PCMU"),
        PhoneOptions {
            microphone: Some(tone_a),
            record_dir: Some(rec_a.clone()),
            commands: vec![format!("/dial sip:102@{sip}")],
        },
    )
    .unwrap();
    alice.wait_for("Call established", Duration::from_secs(10)).unwrap();
    bob.wait_for("Call established", Duration::from_secs(10)).unwrap();
    let call = last_call(&client, &server, &cookie).await;
    alice.wait_for("terminated", Duration::from_secs(10)).unwrap();
    bob.wait_for("terminated", Duration::from_secs(10)).unwrap();

    assert_eq!(call["direction"], "internal", "{call}");
    assert_eq!(call["from_number"], "101");
    assert_eq!(call["agent_extension"], "102");
    assert!(!call["answered_at"].is_null(), "{call}");
    assert_eq!(call["disposition"], "completed (caller hung up)", "{call}");
    let kinds: Vec<&str> =
        call["timeline"].as_array().unwrap().iter().filter_map(|e| e["kind"].as_str()).collect();
    assert!(kinds.contains(&"answered") && kinds.contains(&"ended"), "{kinds:?}");

    // Each phone heard the other's tone (not its own, not silence).
    std::thread::sleep(Duration::from_millis(300));
    let (rms_a, hz_a) = tone_of(&find_file(&rec_a, "-dec.wav").unwrap()).unwrap();
    let (rms_b, hz_b) = tone_of(&find_file(&rec_b, "-dec.wav").unwrap()).unwrap();
    assert!(rms_a > 0.1 && (hz_a - 1000.0).abs() < 60.0, "Alice heard {hz_a:.0} Hz at RMS {rms_a:.3}");
    assert!(rms_b > 0.1 && (hz_b - 440.0).abs() < 30.0, "Bob heard {hz_b:.0} Hz at RMS {rms_b:.3}");
}

#[tokio::test]
async fn caller_hangs_up_before_answer_and_unknown_extensions_are_404() {
    if !require_program("baresip") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sip = format!("127.0.0.1:{}", free_udp_port());
    let server = Server::start(&dir.path().join("data"), &["--demo", "--sip", &sip], &[]).unwrap();
    let client = reqwest::Client::new();
    let cookie = login(&client, &server, "supervisor@demo.example", "switchboard-demo").await.unwrap();
    // Bob's phone rings but nobody answers.
    let bob = Baresip::start(&format!("<sip:102@{sip}>;auth_pass=bob-sip-102;regint=600;audio_codecs=PCMU"))
        .unwrap();
    wait_registered(&client, &server, &cookie, &["102"]).await;
    let alice = Baresip::start_with(
        &format!("<sip:101@{sip}>;auth_pass=alice-sip-101;regint=600;audio_codecs=PCMU"),
        PhoneOptions { commands: vec![format!("/dial sip:102@{sip}")], ..Default::default() },
    )
    .unwrap();
    bob.wait_for("Incoming call", Duration::from_secs(10)).unwrap();
    alice.wait_for("180 Ringing", Duration::from_secs(10)).unwrap();
    alice.stop(); // quitting while it rings sends CANCEL
    bob.wait_for("session closed", Duration::from_secs(10)).unwrap();
    let call = last_call(&client, &server, &cookie).await;
    assert_eq!(call["disposition"], "cancelled", "{call}");
    assert!(call["answered_at"].is_null());

    let carol = Baresip::start_with(
        &format!("<sip:101@{sip}>;auth_pass=alice-sip-101;regint=600;audio_codecs=PCMU"),
        PhoneOptions { commands: vec![format!("/dial sip:999@{sip}")], ..Default::default() },
    )
    .unwrap();
    carol.wait_for("404 Not Found", Duration::from_secs(10)).unwrap();
}
