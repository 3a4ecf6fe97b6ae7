//! Hostile input never takes the PBX down (issue "Hostile input never takes Switchboard down"):
//! the datagrams that used to kill the SIP driver, over every transport; faults injected into
//! the SIP driver and the call-record writer are survived by the calls that are up and the
//! calls that follow, with `/healthz` telling the truth meanwhile; a flood from one address
//! does not stop calls from another.

use std::time::{Duration, Instant};
use switchboard_tests::{
    add_number, find_file, free_udp_port, login, mic_and_recorder, require_program, run_carrier,
    set_demo_trunk, sipp_counts, write_tone, Baresip, PhoneOptions, Server,
};
use tokio::io::AsyncWriteExt;

/// The two messages that panicked the SIP driver: a multi-byte character across byte 4 of the
/// request line, and one across the version check.
const KILLERS: [&str; 2] = ["ab€ sip:x SIP/2.0\r\n\r\n", "OPTIONS sip:x SI€x\r\n\r\n"];

/// A metric's value, summed over the lines whose name and labels start with `prefix`.
async fn metric(client: &reqwest::Client, server: &Server, prefix: &str) -> f64 {
    let text = client.get(server.url("/metrics")).send().await.unwrap().text().await.unwrap();
    text.lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()))
        .sum()
}

async fn health(client: &reqwest::Client, server: &Server) -> (u16, serde_json::Value) {
    let r = client.get(server.url("/healthz")).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or_default())
}

/// An OPTIONS request over UDP from a fresh socket; the status of the answer, if one comes.
async fn options(sip: &str, extra: &str) -> Option<u16> {
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let local = socket.local_addr().unwrap();
    let msg = format!(
        "OPTIONS sip:{sip} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK{}\r\nMax-Forwards: 70\r\n\
         From: <sip:probe@{local}>;tag=p\r\nTo: <sip:{sip}>\r\nCall-ID: opt-{}\r\nCSeq: 1 OPTIONS\r\n{extra}\
         Content-Length: 0\r\n\r\n",
        local.port(),
        local.port()
    );
    socket.send_to(msg.as_bytes(), sip).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let (n, _) = tokio::time::timeout(Duration::from_secs(2), socket.recv_from(&mut buf)).await.ok()?.ok()?;
    let text = String::from_utf8_lossy(&buf[..n]).to_string();
    text.split(' ').nth(1).and_then(|s| s.parse().ok())
}

#[tokio::test]
async fn the_datagrams_that_killed_sip_are_refused_over_udp_tcp_and_websocket() {
    if !require_program("baresip") || !require_program("sipp") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sip = format!("127.0.0.1:{}", free_udp_port());
    let server = Server::start(&dir.path().join("data"), &["--demo", "--sip", &sip], &[]).unwrap();
    let client = switchboard_tests::http();
    let admin = login(&client, &server, "admin@demo.example", "switchboard-demo").await.unwrap();
    let carrier_port = free_udp_port();
    set_demo_trunk(&client, &server, &admin, None, Some(carrier_port)).await;
    add_number(
        &client,
        &server,
        &admin,
        "+15555550199",
        serde_json::json!({"type": "agent", "extension": "102"}),
    )
    .await;

    let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    for killer in KILLERS {
        udp.send_to(killer.as_bytes(), &sip).await.unwrap();
        // Over TCP: the same bytes, with a Content-Length so that they frame as a message.
        let mut tcp = tokio::net::TcpStream::connect(&sip).await.unwrap();
        let framed = killer.replace("\r\n\r\n", "\r\nContent-Length: 0\r\n\r\n");
        tcp.write_all(framed.as_bytes()).await.unwrap();
        tcp.write_all(killer.as_bytes()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        // Over WebSocket (`/sip` on the HTTP port needs no login), as text and as binary.
        use futures_util::SinkExt;
        use tokio_tungstenite::tungstenite::{client::IntoClientRequest, Message};
        let mut request = server.url("/sip").replace("http://", "ws://").into_client_request().unwrap();
        request.headers_mut().insert("Sec-WebSocket-Protocol", "sip".parse().unwrap());
        let http = server.http.trim_start_matches("http://").trim_end_matches('/').to_string();
        let stream = tokio::net::TcpStream::connect(http).await.unwrap();
        let (mut ws, _) = tokio_tungstenite::client_async(request, stream).await.unwrap();
        ws.send(Message::text(killer)).await.unwrap();
        ws.send(Message::binary(killer.as_bytes().to_vec())).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let _ = ws.close(None).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, body) = health(&client, &server).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(options(&sip, "").await, Some(200), "SIP no longer answers");
    assert!(
        metric(&client, &server, "switchboard_sip_messages_dropped_total{cause=\"malformed\"}").await >= 4.0
    );
    assert_eq!(
        metric(&client, &server, "switchboard_sip_messages_dropped_total{cause=\"panic\"}").await,
        0.0
    );

    // Then a phone registers and a call reaches it.
    let tone = dir.path().join("bob.wav");
    write_tone(&tone, 700.0, 30.0).unwrap();
    let bob = Baresip::start_with(
        &switchboard_tests::demo_account(&sip, "102", ";answermode=auto"),
        PhoneOptions { microphone: Some(tone), ..Default::default() },
    )
    .unwrap();
    bob.wait_for("200 OK", Duration::from_secs(10)).unwrap();
    let out =
        run_carrier("short_call.xml", &sip, carrier_port, "15555550199", &["-m", "1", "-timeout", "30s"])
            .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(sipp_counts(&stdout), (1, 0), "{stdout}\nphone: {}", bob.log());
}

/// Polls `/healthz` until it answers `want` (and, for 503, names `part`); how long it took.
async fn wait_health(
    client: &reqwest::Client,
    server: &Server,
    want: u16,
    part: &str,
    within: Duration,
) -> Duration {
    let start = Instant::now();
    loop {
        let (status, body) = health(client, server).await;
        let named = body["failing"]
            .as_array()
            .is_some_and(|f| f.iter().any(|p| p.as_str().unwrap_or("").starts_with(part)));
        if status == want && (want == 200 || named) {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < within,
            "/healthz did not answer {want} for {part} within {within:?}: {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
}

#[tokio::test]
async fn injected_panics_in_the_sip_driver_and_the_record_writer_are_survived() {
    if !require_program("baresip") || !require_program("sipp") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sip = format!("127.0.0.1:{}", free_udp_port());
    let mut server = Server::start(
        &dir.path().join("data"),
        &["--demo", "--sip", &sip],
        &[("SWITCHBOARD_FAULT_INJECTION", "1")],
    )
    .unwrap();
    let client = switchboard_tests::http();
    let admin = login(&client, &server, "admin@demo.example", "switchboard-demo").await.unwrap();
    let carrier_port = free_udp_port();
    set_demo_trunk(&client, &server, &admin, None, Some(carrier_port)).await;
    add_number(
        &client,
        &server,
        &admin,
        "+15555550199",
        serde_json::json!({"type": "ivr_menu", "name": "main"}),
    )
    .await;
    // A call that is up through all of it: Alice (440 Hz) calls Bob (1 kHz), who answers.
    let (tone_a, rec_a) = mic_and_recorder(dir.path(), "a", 440.0, 60.0);
    let tone_b = dir.path().join("b.wav");
    write_tone(&tone_b, 1000.0, 60.0).unwrap();
    let bob = Baresip::start_with(
        &switchboard_tests::demo_account(&sip, "102", ";answermode=auto"),
        PhoneOptions { microphone: Some(tone_b), ..Default::default() },
    )
    .unwrap();
    bob.wait_for("200 OK", Duration::from_secs(10)).unwrap();
    let alice = Baresip::start_with(
        &switchboard_tests::demo_account(&sip, "101", ""),
        PhoneOptions {
            microphone: Some(tone_a),
            record_dir: Some(rec_a.clone()),
            commands: vec![format!("/dial sip:102@{sip}")],
        },
    )
    .unwrap();
    alice.wait_for("Call established", Duration::from_secs(10)).unwrap();
    let (status, body) = health(&client, &server).await;
    assert_eq!(status, 200, "{body}");

    // 1. A panic inside one message's handling: that message gets no answer, nothing else changes.
    assert_eq!(options(&sip, "X-Switchboard-Fault: panic\r\n").await, None);
    assert_eq!(options(&sip, "").await, Some(200));
    assert_eq!(
        metric(&client, &server, "switchboard_sip_messages_dropped_total{cause=\"panic\"}").await,
        1.0
    );
    assert_eq!(health(&client, &server).await.0, 200);

    // 2. The SIP driver task crashes: down (503 naming it) until restarted, then up again.
    let fault = client.post(server.url("/debug/fault/sip")).send().await.unwrap();
    assert_eq!(fault.status(), 202);
    let down = wait_health(&client, &server, 503, "sip", Duration::from_secs(3)).await;
    let up = wait_health(&client, &server, 200, "", Duration::from_secs(15)).await;
    eprintln!("sip: 503 after {down:?}, 200 again {up:?} later");
    assert_eq!(metric(&client, &server, "switchboard_task_restarts_total{task=\"sip\"}").await, 1.0);
    assert_eq!(options(&sip, "").await, Some(200));

    // 3. The call-record writer crashes: the same.
    let fault = client.post(server.url("/debug/fault/records")).send().await.unwrap();
    assert_eq!(fault.status(), 202);
    wait_health(&client, &server, 503, "records", Duration::from_secs(3)).await;
    wait_health(&client, &server, 200, "", Duration::from_secs(15)).await;
    assert_eq!(metric(&client, &server, "switchboard_task_restarts_total{task=\"records\"}").await, 1.0);

    // The call that was up kept its audio: Alice still hears Bob's tone at the end.
    tokio::time::sleep(Duration::from_secs(2)).await;
    alice.command("hangup", "").unwrap();
    alice.wait_for("terminated", Duration::from_secs(10)).unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let heard = std::fs::read(find_file(&rec_a, "-dec.wav").unwrap()).unwrap();
    let (info, samples) = switchboard_telephony::media::wav::decode(&heard).unwrap();
    let rate = info.sample_rate as usize;
    let tail = &samples[samples.len().saturating_sub(rate * 3 / 2)..samples.len().saturating_sub(rate / 4)];
    let rms = (tail.iter().map(|&s| (s as f64 / 32768.0).powi(2)).sum::<f64>() / tail.len() as f64).sqrt();
    let crossings = tail.windows(2).filter(|w| (w[0] < 0) != (w[1] < 0)).count();
    let hz = crossings as f64 / 2.0 / (tail.len() as f64 / rate as f64);
    assert!(
        rms > 0.05 && (hz - 1000.0).abs() < 60.0,
        "after the faults Alice heard rms {rms:.3} at {hz:.0} Hz"
    );

    // Its record was kept across the writer's restart: answered and completed.
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
        let completed = calls.as_array().is_some_and(|c| {
            c.iter().any(|c| c["answered_at"].is_number() && c["disposition"] == "answered")
        });
        if completed {
            break;
        }
        assert!(Instant::now() < deadline, "the call's record was not completed: {calls}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // New calls work.
    let out =
        run_carrier("short_call.xml", &sip, carrier_port, "15555550199", &["-m", "3", "-timeout", "30s"])
            .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(sipp_counts(&stdout), (3, 0), "{stdout}");

    // 4. A media relay fails: its call is ended (never silence on a call that looks up), and
    //    the record says why.
    let carol = Baresip::start_with(
        &switchboard_tests::demo_account(&sip, "101", ""),
        PhoneOptions {
            microphone: Some(dir.path().join("b.wav")),
            commands: vec![format!("/dial sip:102@{sip}")],
            ..Default::default()
        },
    )
    .unwrap();
    carol.wait_for("Call established", Duration::from_secs(10)).unwrap();
    let fault = client.post(server.url("/debug/fault/relays")).send().await.unwrap();
    assert_eq!(fault.status(), 202);
    carol.wait_for("session closed", Duration::from_secs(5)).unwrap();
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
        let id = calls[0]["id"].clone();
        let detail: serde_json::Value = client
            .get(server.url(&format!("/api/calls/{id}")))
            .header("cookie", &admin)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if detail["timeline"].as_array().is_some_and(|t| t.iter().any(|e| e["kind"] == "media_failed")) {
            break;
        }
        assert!(Instant::now() < deadline, "no media_failed in the newest call's timeline: {detail}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(health(&client, &server).await.0, 200);

    let logs = server.log_text();
    assert!(logs.contains("injected fault"), "the panics are logged");
    assert!(logs.contains("a supervised task was restarted"), "{logs}");
}

#[tokio::test]
async fn a_flood_from_one_address_does_not_stop_calls_from_another() {
    if !require_program("sipp") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sip = format!("127.0.0.1:{}", free_udp_port());
    let mut server = Server::start(&dir.path().join("data"), &["--demo", "--sip", &sip], &[]).unwrap();
    let client = switchboard_tests::http();
    let admin = login(&client, &server, "admin@demo.example", "switchboard-demo").await.unwrap();
    let carrier_port = free_udp_port();
    set_demo_trunk(&client, &server, &admin, None, Some(carrier_port)).await;
    add_number(
        &client,
        &server,
        &admin,
        "+15555550199",
        serde_json::json!({"type": "voicemail_box", "name": "after-hours"}),
    )
    .await;
    // (The audio library's spoken greetings are synthesised by then too: the first synthesis
    // grows the voice's memory, which is not what this test measures.)
    server.wait_for_log("speech engines ready", Duration::from_secs(120)).unwrap();
    let rss = || metric(&client, &server, "switchboard_process_resident_bytes ");
    // The baseline once the speech engines have loaded and a few calls have been served.
    wait_health(&client, &server, 200, "", Duration::from_secs(60)).await;
    let deadline = Instant::now() + Duration::from_secs(120);
    while health(&client, &server).await.1["status"] != "ok" {
        assert!(Instant::now() < deadline, "the speech engines did not load");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let warm =
        run_carrier("short_call.xml", &sip, carrier_port, "15555550199", &["-m", "5", "-timeout", "30s"])
            .await;
    assert_eq!(sipp_counts(&String::from_utf8_lossy(&warm.stdout)), (5, 0));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss0 = rss().await;

    // The attacker, from 127.0.0.3: REGISTERs with a wrong password and junk INVITEs, 2 per "call".
    let scenario = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/flood.xml");
    let started = Instant::now();
    let flood = tokio::process::Command::new("sipp")
        .arg("-sf")
        .arg(&scenario)
        .args([&sip, "-i", "127.0.0.3", "-p", &free_udp_port().to_string(), "-nostdin"])
        .args(["-r", "3000", "-rp", "1000", "-m", "30000", "-timeout", "60s"])
        .output();
    // Ordinary calls from the carrier at 127.0.0.1, meanwhile.
    let calls = async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        run_carrier(
            "short_call.xml",
            &sip,
            carrier_port,
            "15555550199",
            &["-m", "48", "-r", "6", "-l", "20", "-timeout", "60s"],
        )
        .await
    };
    let (flood, calls) = tokio::join!(flood, calls);
    let flood = flood.expect("run sipp");
    let elapsed = started.elapsed();
    let flood_out = String::from_utf8_lossy(&flood.stdout);
    let sent = sipp_counts(&flood_out).0 as f64 * 2.0;
    let stdout = String::from_utf8_lossy(&calls.stdout);
    assert_eq!(sipp_counts(&stdout), (48, 0), "ordinary calls during the flood:\n{stdout}");
    let dropped = metric(&client, &server, "switchboard_sip_messages_dropped_total{cause=\"flood\"}").await;
    let blocks = metric(&client, &server, "switchboard_sip_flood_blocks_total").await;
    let rss1 = rss().await;
    eprintln!(
        "flood: {sent} messages in {elapsed:?} ({:.0}/s), {dropped} dropped, {blocks} blocks; memory {:.1} -> {:.1} MB",
        sent / elapsed.as_secs_f64(),
        rss0 / 1e6,
        rss1 / 1e6
    );
    assert!(dropped > sent * 0.9, "the flooding address was not blocked: {dropped} of {sent} dropped");
    assert!(blocks >= 1.0);
    assert!(rss1 < rss0 + 48.0 * 1024.0 * 1024.0, "memory grew from {rss0} to {rss1}");
    assert_eq!(health(&client, &server).await.0, 200);
}
