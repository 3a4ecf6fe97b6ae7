//! Calls between real SIP phones (baresip) through the PBX, with media anchored in it.

use std::time::Duration;
use switchboard_tests::{
    add_number, demo_account, find_file, free_media_port, free_tcp_port, free_udp_port, get_json as json,
    last_call, login, mic_and_recorder, require_program, set_demo_trunk, tone_of, wait_registered,
    write_tone, Baresip, PhoneOptions, Server,
};

#[tokio::test]
async fn extension_calls_extension_and_both_hear_each_other() {
    if !require_program("baresip") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sip = format!("127.0.0.1:{}", free_udp_port());
    let server = Server::start(&dir.path().join("data"), &["--demo", "--sip", &sip], &[]).unwrap();
    let client = switchboard_tests::http();
    let cookie = login(&client, &server, "supervisor@demo.example", "switchboard-demo").await.unwrap();

    let (tone_a, rec_a) = mic_and_recorder(dir.path(), "a", 440.0, 4.0);
    let (tone_b, rec_b) = mic_and_recorder(dir.path(), "b", 1000.0, 6.0);

    let bob = Baresip::start_with(
        &demo_account(&sip, "102", ";answermode=auto"),
        PhoneOptions { microphone: Some(tone_b), record_dir: Some(rec_b.clone()), ..Default::default() },
    )
    .unwrap();
    wait_registered(&client, &server, &cookie, &["102"]).await;
    // Alice dials at once (her INVITE is digest-challenged like any phone's); her 4 s tone ending
    // hangs the call up.
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
    let call = last_call(&client, &server, &cookie).await;
    alice.wait_for("terminated", Duration::from_secs(10)).unwrap();
    bob.wait_for("terminated", Duration::from_secs(10)).unwrap();

    assert_eq!(call["direction"], "internal", "{call}");
    assert_eq!(call["from_number"], "101");
    assert_eq!(call["agent_extension"], "102");
    assert!(!call["answered_at"].is_null(), "{call}");
    assert_eq!(
        (&call["disposition"], &call["hung_up_by"]),
        (&serde_json::json!("answered"), &serde_json::json!("caller")),
        "{call}"
    );
    let kinds: Vec<&str> =
        call["timeline"].as_array().unwrap().iter().filter_map(|e| e["kind"].as_str()).collect();
    assert!(kinds.contains(&"answered") && kinds.contains(&"ended"), "{kinds:?}");
    // The relay measured each side's stream (about 50 packets a second for ~4 s, none lost on
    // loopback).
    let media = call["timeline"].as_array().unwrap().iter().find(|e| e["kind"] == "media").expect("media");
    for side in ["caller", "callee"] {
        let q = &media["data"][side];
        assert!(q["packets_received"].as_u64().unwrap() > 100, "{media}");
        assert!(q["packets_lost"].as_u64().unwrap() < 5, "{media}");
    }

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
    let client = switchboard_tests::http();
    let cookie = login(&client, &server, "supervisor@demo.example", "switchboard-demo").await.unwrap();
    // Bob's phone rings but nobody answers.
    let bob = Baresip::start(&demo_account(&sip, "102", "")).unwrap();
    wait_registered(&client, &server, &cookie, &["102"]).await;
    let alice = Baresip::start_with(
        &demo_account(&sip, "101", ""),
        PhoneOptions { commands: vec![format!("/dial sip:102@{sip}")], ..Default::default() },
    )
    .unwrap();
    bob.wait_for("Incoming call", Duration::from_secs(10)).unwrap();
    alice.wait_for("180 Ringing", Duration::from_secs(10)).unwrap();
    alice.stop(); // quitting while it rings sends CANCEL
    bob.wait_for("session closed", Duration::from_secs(10)).unwrap();
    let call = last_call(&client, &server, &cookie).await;
    assert_eq!(
        (&call["disposition"], &call["hung_up_by"]),
        (&serde_json::json!("abandoned"), &serde_json::json!("caller")),
        "{call}"
    );
    assert!(call["answered_at"].is_null());

    let carol = Baresip::start_with(
        &demo_account(&sip, "101", ""),
        PhoneOptions { commands: vec![format!("/dial sip:999@{sip}")], ..Default::default() },
    )
    .unwrap();
    carol.wait_for("404 Not Found", Duration::from_secs(10)).unwrap();
}

#[tokio::test]
async fn carrier_call_to_a_did_reaches_the_agent_with_digits_and_sees_the_agents_bye() {
    if !require_program("baresip") || !require_program("sipp") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sip_port = free_udp_port();
    let sip = format!("127.0.0.1:{sip_port}");
    let mut server = Server::start(&dir.path().join("data"), &["--demo", "--sip", &sip], &[]).unwrap();
    let client = switchboard_tests::http();
    let admin = login(&client, &server, "admin@demo.example", "switchboard-demo").await.unwrap();
    // A DID for Bob, and the carrier trusted at the address sipp will send from.
    let carrier_port = free_udp_port();
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
    write_tone(&tone, 700.0, 5.0).unwrap();
    let rec = dir.path().join("rec");
    std::fs::create_dir_all(&rec).unwrap();
    let bob = Baresip::start_with(
        &format!("<sip:102@{sip}>;auth_pass=bob-sip-102;regint=600;audio_codecs=PCMA,PCMU;answermode=auto"),
        PhoneOptions { microphone: Some(tone), record_dir: Some(rec.clone()), ..Default::default() },
    )
    .unwrap();
    wait_registered(&client, &server, &admin, &["102"]).await;

    // sipp plays the carrier; its pcaps are looked up under ./pcap.
    std::os::unix::fs::symlink("/usr/share/sip-tester", dir.path().join("pcap")).unwrap();
    let scenario = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/carrier_dtmf.xml");
    let sipp = tokio::process::Command::new("sipp")
        .current_dir(dir.path())
        .args(["-sf", scenario, &sip, "-i", "127.0.0.1", "-p", &carrier_port.to_string(), "-mi", "127.0.0.1"])
        .args([
            "-mp",
            &free_media_port().to_string(),
            "-s",
            "15555550199",
            "-m",
            "1",
            "-nostdin",
            "-timeout",
            "40s",
        ])
        .output()
        .await
        .unwrap();
    assert!(
        sipp.status.success(),
        "sipp failed: {}\n{}",
        String::from_utf8_lossy(&sipp.stdout),
        String::from_utf8_lossy(&sipp.stderr)
    );
    bob.wait_for("terminated", Duration::from_secs(5)).unwrap();

    let call = last_call(&client, &server, &admin).await;
    assert_eq!(call["direction"], "inbound", "{call}");
    assert_eq!(call["to_number"], "+15555550199");
    assert_eq!(call["agent_extension"], "102");
    assert!(!call["customer_id"].is_null(), "the caller is a demo customer: {call}");
    assert_eq!(
        (&call["disposition"], &call["hung_up_by"]),
        (&serde_json::json!("answered"), &serde_json::json!("callee")),
        "{call}"
    );
    let digits: Vec<String> = call["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "dtmf")
        .map(|e| {
            format!(
                "{}/{}/{}",
                e["data"]["digit"].as_str().unwrap(),
                e["data"]["side"].as_str().unwrap(),
                e["data"]["via"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(digits, vec!["4/caller/rfc4733", "2/caller/rfc4733"], "{call}");
    // Bob heard the carrier's recording. Baresip closes its files when it stops; a stream
    // update opens a new file, so every file of what Bob heard counts.
    let bob_log = bob.log();
    bob.stop();
    let heard: Vec<_> = std::fs::read_dir(&rec)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with("-dec.wav"))
        .map(|p| (std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0), tone_of(&p).map(|(rms, _)| rms)))
        .collect();
    assert!(
        heard.iter().any(|(_, rms)| rms.as_ref().is_ok_and(|rms| *rms > 0.01)),
        "Bob heard nothing: {heard:?}\nthe call: {call}\nBob's log:\n{bob_log}\nServer:\n{}",
        server.log_text()
    );
}

#[tokio::test]
async fn an_agent_dials_out_through_the_trunk_with_the_business_caller_id() {
    if !require_program("baresip") || !require_program("sipp") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sip = format!("127.0.0.1:{}", free_udp_port());
    let server = Server::start(&dir.path().join("data"), &["--demo", "--sip", &sip], &[]).unwrap();
    let client = switchboard_tests::http();
    let admin = login(&client, &server, "admin@demo.example", "switchboard-demo").await.unwrap();
    // The carrier (sipp) listens here; the trunk points at it.
    let carrier_port = free_udp_port();
    set_demo_trunk(&client, &server, &admin, Some(carrier_port), None).await;
    let scenario = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/carrier_uas.xml");
    let carrier = tokio::process::Command::new("sipp")
        .args(["-sf", scenario, "-i", "127.0.0.1", "-p", &carrier_port.to_string(), "-mi", "127.0.0.1"])
        .args(["-mp", &free_media_port().to_string(), "-rtp_echo", "-m", "1", "-nostdin", "-timeout", "40s"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();

    let tone = dir.path().join("alice.wav");
    write_tone(&tone, 440.0, 3.0).unwrap();
    let rec = dir.path().join("rec");
    std::fs::create_dir_all(&rec).unwrap();
    let alice = Baresip::start_with(
        &demo_account(&sip, "101", ""),
        PhoneOptions {
            microphone: Some(tone),
            record_dir: Some(rec.clone()),
            commands: vec![format!("/dial sip:2025550123@{sip}")],
        },
    )
    .unwrap();
    alice.wait_for("Call established", Duration::from_secs(10)).unwrap();
    let out = carrier.wait_with_output().await.unwrap();
    assert!(
        out.status.success(),
        "carrier: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let call = last_call(&client, &server, &admin).await;
    assert_eq!(call["direction"], "outbound", "{call}");
    assert_eq!(call["to_number"], "+12025550123");
    assert_eq!(call["agent_extension"], "101");
    assert_eq!(
        (&call["disposition"], &call["hung_up_by"]),
        (&serde_json::json!("answered"), &serde_json::json!("caller")),
        "{call}"
    );
    // The carrier echoed Alice's audio back to her through the PBX.
    std::thread::sleep(Duration::from_millis(300));
    let (rms, hz) = tone_of(&find_file(&rec, "-dec.wav").unwrap()).unwrap();
    assert!(rms > 0.05 && (hz - 440.0).abs() < 40.0, "Alice heard {hz:.0} Hz at {rms:.3}");

    // International numbers are outside the demo agents' class of service.
    let intl = Baresip::start_with(
        &demo_account(&sip, "101", ""),
        PhoneOptions { commands: vec![format!("/dial sip:+442079460000@{sip}")], ..Default::default() },
    )
    .unwrap();
    intl.wait_for("403 Forbidden", Duration::from_secs(10)).unwrap();
}

#[tokio::test]
async fn a_phone_on_tcp_and_a_phone_on_udp_talk() {
    if !require_program("baresip") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sip = format!("127.0.0.1:{}", free_udp_port());
    let server = Server::start(&dir.path().join("data"), &["--demo", "--sip", &sip], &[]).unwrap();
    let client = switchboard_tests::http();
    let cookie = login(&client, &server, "supervisor@demo.example", "switchboard-demo").await.unwrap();
    let (tone_a, rec_a) = mic_and_recorder(dir.path(), "a", 440.0, 3.0);
    let (tone_b, rec_b) = mic_and_recorder(dir.path(), "b", 1000.0, 5.0);
    let bob = Baresip::start_with(
        &demo_account(&sip, "102", ";transport=tcp;answermode=auto"),
        PhoneOptions { microphone: Some(tone_b), record_dir: Some(rec_b.clone()), ..Default::default() },
    )
    .unwrap();
    // (Its log is shown if it does not register.)
    bob.wait_for("200 OK", Duration::from_secs(15)).unwrap();
    wait_registered(&client, &server, &cookie, &["102"]).await;
    let regs = json(&client, &server, &cookie, "/api/registrations").await;
    assert_eq!(regs[0]["transport"], "TCP", "{regs}");
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
    bob.wait_for("terminated", Duration::from_secs(15)).unwrap();
    let call = last_call(&client, &server, &cookie).await;
    assert_eq!(
        (&call["disposition"], &call["hung_up_by"]),
        (&serde_json::json!("answered"), &serde_json::json!("caller")),
        "{call}"
    );
    std::thread::sleep(Duration::from_millis(300));
    let (rms_b, hz_b) = tone_of(&find_file(&rec_b, "-dec.wav").unwrap()).unwrap();
    let (rms_a, hz_a) = tone_of(&find_file(&rec_a, "-dec.wav").unwrap()).unwrap();
    assert!(rms_b > 0.1 && (hz_b - 440.0).abs() < 30.0, "Bob (TCP) heard {hz_b:.0} Hz at {rms_b:.3}");
    assert!(rms_a > 0.1 && (hz_a - 1000.0).abs() < 60.0, "Alice (UDP) heard {hz_a:.0} Hz at {rms_a:.3}");
}

#[tokio::test]
async fn a_phone_over_websocket_registers_and_receives_calls() {
    websocket_phone(false).await;
}

/// With a certificate configured, the same over WSS on the HTTPS listener (and the API answers
/// over HTTPS).
#[tokio::test]
async fn a_phone_over_secure_websocket_registers_and_receives_calls() {
    websocket_phone(true).await;
}

/// A self-signed certificate for localhost, written as PEM files, and a client configuration
/// that trusts it.
fn self_signed(
    dir: &std::path::Path,
) -> (std::path::PathBuf, std::path::PathBuf, tokio_rustls::TlsConnector) {
    use tokio_rustls::rustls;
    let rcgen::CertifiedKey { cert, key_pair } =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key_pair.serialize_pem()).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.der().clone()).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    (cert_path, key_path, tokio_rustls::TlsConnector::from(std::sync::Arc::new(config)))
}

/// A TLS connection to `addr`, checked against the name `localhost`.
async fn tls_connect(
    connector: &tokio_rustls::TlsConnector,
    addr: &str,
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = tokio_rustls::rustls::pki_types::ServerName::try_from("localhost").unwrap();
    connector.connect(name, tcp).await.expect("TLS handshake with the server")
}

/// A byte stream, plain or TLS.
trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Io for T {}

async fn websocket_phone(secure: bool) {
    use futures_util::{SinkExt, StreamExt};
    use switchboard_telephony::sip::{digest, message::Message as Sip, parse_datagram, Response};
    use tokio_tungstenite::tungstenite::{client::IntoClientRequest, Message};
    if !require_program("baresip") {
        return;
    }
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let sip = format!("127.0.0.1:{}", free_udp_port());
    let (cert, key, connector) = self_signed(dir.path());
    let https = format!("127.0.0.1:{}", free_tcp_port());
    let mut args = vec!["--demo", "--sip", &sip];
    let tls_args =
        ["--https", &https, "--tls-cert", cert.to_str().unwrap(), "--tls-key", key.to_str().unwrap()];
    if secure {
        args.extend(tls_args);
    }
    let mut server = Server::start(&dir.path().join("data"), &args, &[]).unwrap();
    let client = switchboard_tests::http();
    let cookie = login(&client, &server, "supervisor@demo.example", "switchboard-demo").await.unwrap();
    let (transport, stream) = if secure {
        // The API answers over HTTPS too.
        let mut tls = tls_connect(&connector, &https).await;
        tls.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut reply = String::new();
        tls.read_to_string(&mut reply).await.unwrap();
        assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
        ("WSS", Box::new(tls_connect(&connector, &https).await) as Box<dyn Io>)
    } else {
        let http = server.http.trim_start_matches("http://").trim_end_matches('/').to_string();
        ("WS", Box::new(tokio::net::TcpStream::connect(http).await.unwrap()) as Box<dyn Io>)
    };
    let url = if secure {
        format!("wss://localhost:{}/sip", &https[10..])
    } else {
        server.url("/sip").replace("http://", "ws://")
    };
    let mut request = url.into_client_request().unwrap();
    request.headers_mut().insert("Sec-WebSocket-Protocol", "sip".parse().unwrap());
    let (mut ws, resp) = tokio_tungstenite::client_async(request, stream).await.unwrap();
    assert_eq!(resp.headers()["sec-websocket-protocol"], "sip");
    let register = |cseq: u32, auth: Option<String>| {
        format!(
            "REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/{transport} df7jal23ls0d.invalid;branch=z9hG4bKws{cseq}\r\n\
             From: <sip:101@127.0.0.1>;tag=ws1\r\nTo: <sip:101@127.0.0.1>\r\nCall-ID: ws-reg-1\r\nCSeq: {cseq} REGISTER\r\n\
             Contact: <sip:101@df7jal23ls0d.invalid;transport=ws>\r\nExpires: 600\r\nMax-Forwards: 70\r\n{}Content-Length: 0\r\n\r\n",
            auth.map(|a| format!("Authorization: {a}\r\n")).unwrap_or_default()
        )
    };
    async fn next_sip(
        ws: &mut (impl futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>>
                  + Unpin),
    ) -> Sip {
        loop {
            let msg = tokio::time::timeout(Duration::from_secs(20), ws.next())
                .await
                .unwrap_or_else(|_| panic!("no SIP message within 20 s"))
                .unwrap()
                .unwrap();
            if let Message::Text(t) = msg {
                return parse_datagram(t.as_bytes()).expect("valid SIP over WebSocket");
            }
        }
    }
    ws.send(Message::Text(register(1, None).into())).await.unwrap();
    let Sip::Response(challenge) = next_sip(&mut ws).await else { panic!("expected a response") };
    assert_eq!(challenge.status, 401);
    let auth = digest::answer(
        challenge.headers.get("WWW-Authenticate").unwrap(),
        "REGISTER",
        "sip:127.0.0.1",
        "101",
        "alice-sip-101",
        "ws",
        1,
    );
    ws.send(Message::Text(register(2, auth).into())).await.unwrap();
    let Sip::Response(ok) = next_sip(&mut ws).await else { panic!("expected a response") };
    assert_eq!(ok.status, 200);
    let regs = json(&client, &server, &cookie, "/api/registrations").await;
    assert_eq!(regs[0]["transport"], transport, "{regs}");

    // A UDP phone calls the WebSocket phone: the INVITE arrives over the WebSocket.
    let bob = Baresip::start_with(
        &demo_account(&sip, "102", ""),
        PhoneOptions { commands: vec![format!("/dial sip:101@{sip}")], ..Default::default() },
    )
    .unwrap();
    // (Waited for here with what both sides said if it does not come: it once failed in CI.)
    let invite = tokio::time::timeout(Duration::from_secs(15), next_sip(&mut ws)).await;
    let Ok(Sip::Request(invite)) = invite else {
        panic!(
            "no INVITE over the WebSocket; Bob's phone:\n{}\nserver log:\n{}",
            bob.log(),
            server.log_text()
        )
    };
    assert_eq!(invite.uri, "sip:101@df7jal23ls0d.invalid;transport=ws");
    let via = invite.headers.get("Via").unwrap();
    assert!(via.starts_with(&format!("SIP/2.0/{transport} ")), "{via}");
    let busy = Response::for_request(&invite, 486, Some("wsphone"));
    ws.send(Message::Text(String::from_utf8(busy.to_bytes()).unwrap().into())).await.unwrap();
    let Sip::Request(ack) = next_sip(&mut ws).await else { panic!("expected the ACK") };
    assert_eq!(ack.method.as_str(), "ACK");
    // Busy: the caller reaches Alice's voicemail box (her forwarding), answered by Switchboard.
    bob.wait_for("Call established", Duration::from_secs(10)).unwrap();
}

/// Dominant frequency of the part of a WAV between two times.
fn tone_between(path: &std::path::Path, from_s: f64, to_s: f64) -> (f64, f64) {
    let bytes = std::fs::read(path).unwrap();
    let (info, samples) = switchboard_telephony::media::wav::decode(&bytes).unwrap();
    let rate = info.sample_rate as f64;
    let part: Vec<f64> = samples
        .iter()
        .skip((from_s * rate) as usize)
        .take(((to_s - from_s) * rate) as usize)
        .map(|&s| s as f64 / 32768.0)
        .collect();
    let rms = (part.iter().map(|s| s * s).sum::<f64>() / part.len().max(1) as f64).sqrt();
    let crossings = part.windows(2).filter(|w| (w[0] < 0.0) != (w[1] < 0.0)).count();
    (rms, crossings as f64 / 2.0 / (part.len() as f64 / rate))
}

#[tokio::test]
async fn an_ivr_plays_its_recording_and_a_key_connects_the_caller_to_an_agent() {
    if !require_program("baresip") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sip = format!("127.0.0.1:{}", free_udp_port());
    let server = Server::start(&dir.path().join("data"), &["--demo", "--sip", &sip], &[]).unwrap();
    let client = switchboard_tests::http();
    let admin = login(&client, &server, "admin@demo.example", "switchboard-demo").await.unwrap();
    let post = |path: &'static str, body: serde_json::Value| {
        let (client, url, admin) = (client.clone(), server.url(path), admin.clone());
        async move {
            let r = client.post(url).header("cookie", admin).json(&body).send().await.unwrap();
            assert_eq!(r.status(), 201);
            r.json::<serde_json::Value>().await.unwrap()
        }
    };
    // A recorded prompt (a 600 Hz tone standing in for speech), a menu, and a number for it.
    let entry =
        post("/api/audio", serde_json::json!({"name": "menu-prompt", "tts_text": "Press 2 for Bob."})).await;
    let prompt = dir.path().join("prompt.wav");
    write_tone(&prompt, 600.0, 2.0).unwrap();
    let r = client
        .put(server.url(&format!("/api/audio/{}/file", entry["id"])))
        .header("cookie", &admin)
        .body(std::fs::read(&prompt).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    post(
        "/api/ivr_menus",
        serde_json::json!({"name": "test-menu", "prompt": {"type": "audio", "name": "menu-prompt"},
        "options": [{"digit": "2", "target": {"type": "agent", "extension": "102"}}], "timeout_seconds": 10}),
    )
    .await;
    post(
        "/api/phone_numbers",
        serde_json::json!({"number": "+15555550177", "target": {"type": "ivr_menu", "name": "test-menu"}}),
    )
    .await;

    let (tone_a, rec_a) = mic_and_recorder(dir.path(), "a", 300.0, 9.0);
    let (tone_b, rec_b) = mic_and_recorder(dir.path(), "b", 1000.0, 20.0);
    let bob = Baresip::start_with(
        &demo_account(&sip, "102", ";answermode=auto"),
        PhoneOptions { microphone: Some(tone_b), record_dir: Some(rec_b.clone()), ..Default::default() },
    )
    .unwrap();
    wait_registered(&client, &server, &admin, &["102"]).await;
    // Alice dials the menu's number (an own number stays inside the PBX).
    let alice = Baresip::start_with(
        &demo_account(&sip, "101", ""),
        PhoneOptions {
            microphone: Some(tone_a),
            record_dir: Some(rec_a.clone()),
            commands: vec![format!("/dial sip:+15555550177@{sip}")],
        },
    )
    .unwrap();
    alice.wait_for("Call established", Duration::from_secs(10)).unwrap();
    tokio::time::sleep(Duration::from_millis(2800)).await;
    alice.command("sndcode", "2").unwrap();
    bob.wait_for("Call established", Duration::from_secs(10)).unwrap();
    alice.wait_for("terminated", Duration::from_secs(15)).unwrap();
    let call = last_call(&client, &server, &admin).await;
    let kinds: Vec<&str> =
        call["timeline"].as_array().unwrap().iter().filter_map(|e| e["kind"].as_str()).collect();
    for k in ["ivr_menu", "dtmf", "ivr_key", "ivr_target", "answered"] {
        assert!(kinds.contains(&k), "no {k} in {kinds:?}");
    }
    assert_eq!(
        (&call["disposition"], &call["hung_up_by"]),
        (&serde_json::json!("answered"), &serde_json::json!("caller")),
        "{call}"
    );
    std::thread::sleep(Duration::from_millis(300));
    // Alice heard the prompt first, then Bob; Bob heard Alice.
    let heard = find_file(&rec_a, "-dec.wav").unwrap();
    let (rms, hz) = tone_between(&heard, 0.3, 1.7);
    assert!(rms > 0.05 && (hz - 600.0).abs() < 40.0, "prompt: {hz:.0} Hz at {rms:.3}");
    let (rms, hz) = tone_between(&heard, 6.0, 8.0);
    assert!(rms > 0.05 && (hz - 1000.0).abs() < 60.0, "Bob: {hz:.0} Hz at {rms:.3}");
    let (rms, hz) = tone_of(&find_file(&rec_b, "-dec.wav").unwrap()).unwrap();
    assert!(rms > 0.05 && (hz - 300.0).abs() < 30.0, "Bob heard {hz:.0} Hz at {rms:.3}");
}

#[tokio::test]
async fn switchboard_registers_with_a_carrier_that_challenges() {
    if !require_program("sipp") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sip = format!("127.0.0.1:{}", free_udp_port());
    let server = Server::start(&dir.path().join("data"), &["--demo", "--sip", &sip], &[]).unwrap();
    let client = switchboard_tests::http();
    let admin = login(&client, &server, "admin@demo.example", "switchboard-demo").await.unwrap();
    let carrier_port = free_udp_port();
    let scenario = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/carrier_registrar.xml");
    let carrier = tokio::process::Command::new("sipp")
        .args([
            "-sf",
            scenario,
            "-i",
            "127.0.0.1",
            "-p",
            &carrier_port.to_string(),
            "-m",
            "1",
            "-nostdin",
            "-timeout",
            "30s",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The trunk asks to be registered with credentials.
    let trunks = json(&client, &server, &admin, "/api/trunks").await;
    let mut trunk = trunks[0].clone();
    let id = trunk["id"].clone();
    for k in ["id", "created_at", "updated_at"] {
        trunk.as_object_mut().unwrap().remove(k);
    }
    trunk["port"] = serde_json::json!(carrier_port);
    trunk["register"] = serde_json::json!(true);
    trunk["username"] = serde_json::json!("acct-42");
    trunk["password"] = serde_json::json!("trunk-secret");
    let r = client
        .put(server.url(&format!("/api/trunks/{id}")))
        .header("cookie", &admin)
        .json(&trunk)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let out = carrier.wait_with_output().await.unwrap();
    assert!(out.status.success(), "carrier: {}", String::from_utf8_lossy(&out.stdout));
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let metrics = client.get(server.url("/metrics")).send().await.unwrap().text().await.unwrap();
        if metrics.contains("switchboard_trunks_registered 1") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "not registered with the carrier:\n{metrics}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
