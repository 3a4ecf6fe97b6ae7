//! The PBX under repetition and abuse: 200 sequential calls leave nothing behind; random bytes
//! on the SIP and RTP ports never crash it.

use std::time::{Duration, Instant};
use switchboard_tests::{
    add_number, demo_account, free_udp_port, login, require_program, run_carrier, set_demo_trunk,
    sipp_counts, write_tone, Baresip, PhoneOptions, Server,
};

async fn metric(client: &reqwest::Client, server: &Server, name: &str) -> f64 {
    let text = client.get(server.url("/metrics")).send().await.unwrap().text().await.unwrap();
    text.lines()
        .find(|l| l.starts_with(&format!("switchboard_{name} ")))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no metric {name} in:\n{text}"))
}

/// A demo PBX whose carrier is trusted at `carrier_port`, a DID for extension 102, and Bob's
/// phone (102) answering every call it is offered.
struct Rig {
    _dir: tempfile::TempDir,
    sip: String,
    server: Server,
    client: reqwest::Client,
    carrier_port: u16,
    _bob: Baresip,
}

async fn rig() -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let sip = format!("127.0.0.1:{}", free_udp_port());
    let server = Server::start(&dir.path().join("data"), &["--demo", "--sip", &sip], &[]).unwrap();
    let client = switchboard_tests::http();
    let carrier_port = free_udp_port();
    let admin = login(&client, &server, "admin@demo.example", "switchboard-demo").await.unwrap();
    add_number(
        &client,
        &server,
        &admin,
        "+15555550199",
        serde_json::json!({"type": "agent", "extension": "102"}),
    )
    .await;
    set_demo_trunk(&client, &server, &admin, None, Some(carrier_port)).await;
    let tone = dir.path().join("bob.wav");
    write_tone(&tone, 700.0, 30.0).unwrap();
    let bob = Baresip::start_with(
        &demo_account(&sip, "102", ";answermode=auto"),
        PhoneOptions { microphone: Some(tone), ..Default::default() },
    )
    .unwrap();
    bob.wait_for("200 OK", Duration::from_secs(10)).unwrap();
    Rig { _dir: dir, sip, server, client, carrier_port, _bob: bob }
}

#[tokio::test]
async fn two_hundred_sequential_calls_leave_no_trace() {
    if !require_program("baresip") || !require_program("sipp") {
        return;
    }
    let Rig { _dir, sip, mut server, client, carrier_port, _bob } = rig().await;
    // Warm up with a few calls so lazily created things exist before the baseline.
    let run = |calls: u32| {
        let sip = sip.clone();
        async move {
            let calls = calls.to_string();
            run_carrier(
                "short_call.xml",
                &sip,
                carrier_port,
                "15555550199",
                &["-m", &calls, "-l", "1", "-r", "50", "-timeout", "120s"],
            )
            .await
        }
    };
    // The speech engines load in the background at start: the baseline comes after them.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let health: serde_json::Value =
            client.get(server.url("/healthz")).send().await.unwrap().json().await.unwrap_or_default();
        if health["status"] == "ok" {
            break;
        }
        assert!(Instant::now() < deadline, "the server did not become healthy: {health}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Health says ok once the recogniser and voice are loaded; the intent model and the audio
    // library's spoken prompts are still being prepared then (hundreds of MB on the way): the
    // baseline waits for the log line that says all of it is ready.
    server.wait_for_log("speech engines ready", Duration::from_secs(180)).unwrap();
    let warm = run(5).await;
    assert!(warm.status.success(), "{}", String::from_utf8_lossy(&warm.stdout));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (fds0, tasks0, rss0) = (
        metric(&client, &server, "process_open_fds").await,
        metric(&client, &server, "runtime_tasks_alive").await,
        metric(&client, &server, "process_resident_bytes").await,
    );

    let out = run(200).await;
    assert!(
        out.status.success(),
        "sipp: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    // Call records are written after the calls end, so the relays close a moment later.
    while metric(&client, &server, "calls_active").await > 0.0
        || metric(&client, &server, "media_relays").await > 0.0
    {
        assert!(Instant::now() < deadline, "calls or RTP relays still held after the run");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (fds1, tasks1, rss1) = (
        metric(&client, &server, "process_open_fds").await,
        metric(&client, &server, "runtime_tasks_alive").await,
        metric(&client, &server, "process_resident_bytes").await,
    );
    assert!(fds1 <= fds0 + 4.0, "file descriptors grew from {fds0} to {fds1}");
    assert!(tasks1 <= tasks0 + 4.0, "tasks grew from {tasks0} to {tasks1}");
    assert!(rss1 <= rss0 + 24.0 * 1024.0 * 1024.0, "memory grew from {rss0} to {rss1}");
    let admin = login(&client, &server, "admin@demo.example", "switchboard-demo").await.unwrap();
    // Call records are written in batches a moment after the calls end.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let calls: serde_json::Value = client
            .get(server.url("/api/calls?limit=1000"))
            .header("cookie", &admin)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let completed = calls
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["disposition"] == "answered" && c["hung_up_by"] == "caller")
            .count();
        if completed == 205 {
            break;
        }
        assert!(Instant::now() < deadline, "{completed} of 205 calls recorded as completed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn random_bytes_on_sip_and_rtp_ports_do_not_crash_it() {
    if !require_program("baresip") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sip_port = free_udp_port();
    let sip = format!("127.0.0.1:{sip_port}");
    // A private RTP range below the ephemeral ports, so the spray hits only this server.
    let rtp_lo: u16 = 21_000 + (sip_port % 50) * 40;
    let rtp = format!("{}-{}", rtp_lo, rtp_lo + 20);
    let mut server =
        Server::start(&dir.path().join("data"), &["--demo", "--sip", &sip, "--rtp-ports", &rtp], &[])
            .unwrap();
    let client = switchboard_tests::http();
    let cookie = login(&client, &server, "supervisor@demo.example", "switchboard-demo").await.unwrap();
    // A call in progress, so its relay ports are live while the garbage arrives.
    let tone = dir.path().join("t.wav");
    write_tone(&tone, 500.0, 8.0).unwrap();
    let bob = Baresip::start_with(
        &format!("<sip:102@{sip}>;auth_pass=bob-sip-102;regint=600;audio_codecs=PCMU;answermode=auto"),
        PhoneOptions { microphone: Some(tone.clone()), ..Default::default() },
    )
    .unwrap();
    bob.wait_for("200 OK", Duration::from_secs(10)).unwrap();
    let alice = Baresip::start_with(
        &format!("<sip:101@{sip}>;auth_pass=alice-sip-101;regint=600;audio_codecs=PCMU"),
        PhoneOptions {
            microphone: Some(tone),
            commands: vec![format!("/dial sip:102@{sip}")],
            ..Default::default()
        },
    )
    .unwrap();
    alice.wait_for("Call established", Duration::from_secs(10)).unwrap();

    // The garbage comes from another address than the phones: flood protection blocks it.
    let socket = tokio::net::UdpSocket::bind("127.0.0.2:0").await.unwrap();
    let mut x: u64 = 0x2545F4914F6CDD1D;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let starts: [&[u8]; 6] = [
        b"INVITE sip:",
        b"SIP/2.0 200 OK\r\n",
        b"REGISTER sip:x SIP/2.0\r\nVia: ",
        b"\x80\x00",
        b"\x80\x65",
        b"",
    ];
    for i in 0..5000 {
        let len = (next() % 1500) as usize;
        let mut packet = starts[i % starts.len()].to_vec();
        packet.extend((0..len).map(|_| next() as u8));
        let port = if i % 2 == 0 { sip_port } else { rtp_lo + (i as u16 % 20) };
        let _ = socket.send_to(&packet, ("127.0.0.1", port)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(client.get(server.url("/healthz")).send().await.unwrap().status(), 200);
    // The call survived and ends normally; a new phone can still register.
    alice.wait_for("terminated", Duration::from_secs(15)).unwrap();
    let calls = client.get(server.url("/api/calls")).header("cookie", &cookie).send().await.unwrap();
    let calls: serde_json::Value = calls.json().await.unwrap();
    assert!(calls[0]["answered_at"].is_number(), "{calls}");
    let phone = Baresip::start(&format!("<sip:103@{sip}>;auth_pass=nope-nope;regint=600")).unwrap();
    phone.wait_for("403", Duration::from_secs(10)).unwrap();
    let status = server.signal_and_wait(libc::SIGTERM, Duration::from_secs(10)).unwrap();
    assert!(status.success());
}

#[tokio::test]
async fn an_agent_takes_two_calls_and_the_third_caller_hears_busy() {
    if !require_program("baresip") || !require_program("sipp") {
        return;
    }
    let Rig { _dir, sip, server, client, carrier_port, _bob } = rig().await;
    // Bob without forwarding or a voicemail box: a caller who finds him busy hears busy.
    let admin = login(&client, &server, "admin@demo.example", "switchboard-demo").await.unwrap();
    let agents: serde_json::Value = client
        .get(server.url("/api/agents"))
        .header("cookie", &admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut bob = agents.as_array().unwrap().iter().find(|a| a["extension"] == "102").unwrap().clone();
    let id = bob["id"].clone();
    for k in ["id", "created_at", "updated_at", "voicemail_box", "forwarding"] {
        bob.as_object_mut().unwrap().remove(k);
    }
    let r = client
        .put(server.url(&format!("/api/agents/{id}")))
        .header("cookie", &admin)
        .json(&bob)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
    let out = run_carrier(
        "held_call.xml",
        &sip,
        carrier_port,
        "15555550199",
        &["-m", "3", "-l", "3", "-r", "10", "-timeout", "30s"],
    )
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(sipp_counts(&stdout), (2, 1), "{stdout}");
    let admin = login(&client, &server, "admin@demo.example", "switchboard-demo").await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let calls: serde_json::Value = client
            .get(server.url("/api/calls"))
            .header("cookie", &admin)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let mut dispositions: Vec<String> = calls
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|c| c["disposition"].as_str().map(str::to_string))
            .collect();
        dispositions.sort();
        if dispositions.len() == 3 {
            assert_eq!(dispositions, vec!["answered", "answered", "busy"]);
            break;
        }
        assert!(Instant::now() < deadline, "{dispositions:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
