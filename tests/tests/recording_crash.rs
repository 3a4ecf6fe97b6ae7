//! Records survive `kill -9` mid-call: the call's recording is a valid WAV file up to about
//! the kill (its header is committed every second), with the customer on the left and the agent
//! on the right, and after a restart the record says the call failed and the recording ends
//! where its file does.

use std::time::{Duration, Instant};
use switchboard_tests::{
    demo_account, get_json as json, login, mic_and_recorder, require_program, tone_of, wait_registered,
    Baresip, PhoneOptions, Server,
};

#[tokio::test]
async fn a_recorded_call_killed_mid_way_leaves_a_valid_file_and_a_failed_record() {
    if !require_program("baresip") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let sip = format!("127.0.0.1:{}", switchboard_tests::free_udp_port());
    let mut server = Server::start(&data, &["--demo", "--sip", &sip], &[]).unwrap();
    let client = switchboard_tests::http();
    let admin = login(&client, &server, "admin@demo.example", "switchboard-demo").await.unwrap();
    let (tone_b, _) = mic_and_recorder(dir.path(), "bob", 1000.0, 60.0);
    let (tone_a, _) = mic_and_recorder(dir.path(), "alice", 500.0, 60.0);
    let bob = Baresip::start_with(
        &demo_account(&sip, "102", ";answermode=auto"),
        PhoneOptions { microphone: Some(tone_b), ..Default::default() },
    )
    .unwrap();
    wait_registered(&client, &server, &admin, &["102"]).await;
    let alice = Baresip::start_with(
        &demo_account(&sip, "101", ""),
        PhoneOptions {
            microphone: Some(tone_a),
            commands: vec![format!("/dial sip:102@{sip}")],
            ..Default::default()
        },
    )
    .unwrap();
    alice.wait_for("Call established", Duration::from_secs(15)).unwrap();
    let calls = json(&client, &server, &admin, "/api/calls").await;
    let id = calls[0]["id"].as_i64().unwrap();
    let r = client
        .post(server.url(&format!("/api/calls/{id}/recording")))
        .header("cookie", &admin)
        .json(&serde_json::json!({"action": "start"}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap_or_default());
    let started = Instant::now();
    tokio::time::sleep(Duration::from_millis(4500)).await;
    server.signal_and_wait(libc::SIGKILL, Duration::from_secs(10)).unwrap();
    let recorded_for = started.elapsed();
    drop((alice, bob));

    let server = Server::start(&data, &["--demo", "--sip", &sip], &[]).unwrap();
    let admin = login(&client, &server, "admin@demo.example", "switchboard-demo").await.unwrap();
    let record = json(&client, &server, &admin, &format!("/api/calls/{id}")).await;
    assert_eq!(record["disposition"], "failed", "{record}");
    assert!(!record["ended_at"].is_null(), "{record}");
    let stopped = record["timeline"].as_array().unwrap().iter().any(|e| e["kind"] == "recording_started");
    assert!(stopped, "{record}");
    let rec = &record["recordings"][0];
    let wav = client
        .get(server.url(rec["audio_url"].as_str().unwrap()))
        .header("cookie", &admin)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let (info, samples) =
        switchboard_telephony::media::wav::decode(&wav).expect("a valid WAV file after kill -9");
    assert_eq!((info.channels, info.sample_rate), (2, 8000));
    // At most the last second (and the moments before the kill) is lost.
    let ms = info.duration_ms() as i64;
    let killed_at = recorded_for.as_millis() as i64;
    assert!(ms >= killed_at - 2000 && ms <= killed_at + 500, "{ms} ms recorded of {killed_at} ms");
    assert!(
        (rec["duration_ms"].as_i64().unwrap() - ms).abs() <= 100,
        "the row ends where the file does: {record}"
    );
    let channel = |c: usize, name: &str| {
        let mono: Vec<i16> = samples.iter().skip(c).step_by(2).copied().collect();
        let path = dir.path().join(name);
        std::fs::write(&path, switchboard_telephony::media::wav::encode_pcm16(&mono, 8000, 1)).unwrap();
        tone_of(&path).unwrap()
    };
    let ((_, left), (_, right)) = (channel(0, "left.wav"), channel(1, "right.wav"));
    // Alice (an agent) placed the call: whoever she called is the customer, on the left.
    assert!((left - 1000.0).abs() < 60.0, "Bob, the one called, on the left: {left:.0} Hz");
    assert!((right - 500.0).abs() < 30.0, "Alice, the agent who called, on the right: {right:.0} Hz");
}
