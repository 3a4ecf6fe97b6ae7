//! The browser softphone: headless Chromium (JsSIP over WebSocket, WebRTC with a fake
//! microphone playing a tone) on the agent workspace, talking with real SIP phones (baresip)
//! through Switchboard's relay. Who hears whom is checked by frequency: in the browser with a
//! WebAudio analyser, on the phone from its recording.

use serde_json::json;
use std::path::Path;
use std::time::{Duration, Instant};
const PASSWORD: &str = "switchboard-demo";

use switchboard_tests::workspace::{
    alice_in_browser, alice_with_microphone, bob_calls_alice, line_state, wait_line,
};
use switchboard_tests::{
    add_carol, assert_no_page_errors, browser_hears, demo_account, find_file, free_media_port, free_udp_port,
    get_json as json_of, last_call, login, mic_and_recorder, require_program, screenshot_dir, seconds_heard,
    tone_of, Baresip, Browser, PhoneOptions, Server,
};

/// Speech made with espeak-ng at `rate`, between `before` and `after` ms of silence.
fn speech(dir: &Path, text: &str, rate: u32, before: u32, after: u32) -> Vec<i16> {
    let file = dir.join(format!("speech-{rate}-{}.wav", text.len()));
    let r = rate.to_string();
    let o = switchboard_tests::run(
        &["say", text, "--voice", "espeak", "--rate", &r, "-o", file.to_str().unwrap()],
        &[],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let words = switchboard_telephony::media::wav::decode(&std::fs::read(&file).unwrap()).unwrap().1;
    let gap = |ms: u32| vec![0i16; (rate * ms / 1000) as usize];
    [gap(before), words, gap(after)].concat()
}

/// Sends `samples` (8 kHz) as PCMU from `socket`, over and over, to wherever Switchboard's media
/// first comes from, until `stop` (a thread: the browser's commands block the test's runtime).
fn talk_in_a_loop(
    socket: std::net::UdpSocket,
    samples: Vec<i16>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        let _ = socket.set_read_timeout(Some(Duration::from_secs(60)));
        let Ok((_, relay)) = socket.recv_from(&mut buf) else { return };
        let mut i = 0u32;
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            let at = (i as usize * 160) % samples.len().max(1);
            let payload: Vec<u8> = (0..160)
                .map(|k| {
                    switchboard_telephony::media::g711::linear_to_ulaw(
                        samples.get(at + k).copied().unwrap_or(0),
                    )
                })
                .collect();
            let packet =
                switchboard_telephony::media::rtp::write(false, 0, i as u16, i * 160, 0x5eed, &payload);
            let _ = socket.send_to(&packet, relay);
            i += 1;
            std::thread::sleep(Duration::from_millis(20));
        }
    })
}

/// Alice chooses Available: queues offer her calls.
async fn be_available(b: &mut Browser) {
    b.run(json!({"do": "click", "selector": "#ws-status button.available"})).await;
    b.run(json!({"do": "waitText", "selector": "#ws-status-note", "text": "Queues offer you calls"})).await;
}

/// A carrier caller to a new number of the demo account that leads to the support queue,
/// saying `samples` (8 kHz) over and over from the port its SDP offers (see `talk_in_a_loop`).
struct QueueCaller {
    sipp: tokio::process::Child,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    talking: std::thread::JoinHandle<()>,
}

impl QueueCaller {
    async fn start(
        client: &reqwest::Client,
        server: &Server,
        admin: &str,
        sip: &str,
        number: &str,
        samples: Vec<i16>,
    ) -> QueueCaller {
        switchboard_tests::add_number(
            client,
            server,
            admin,
            number,
            json!({"type": "queue", "name": "support"}),
        )
        .await;
        let caller_port = free_udp_port();
        switchboard_tests::set_demo_trunk(client, server, admin, None, Some(caller_port)).await;
        let media = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let sipp = carrier_caller_at(sip, caller_port, number, media.local_addr().unwrap().port());
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let talking = talk_in_a_loop(media, samples, stop.clone());
        QueueCaller { sipp, stop, talking }
    }

    /// Waits for the caller to be hung up on (successfully), then stops talking.
    async fn finished(self) {
        let out = self.sipp.wait_with_output().await.unwrap();
        assert!(out.status.success(), "caller: {}", String::from_utf8_lossy(&out.stdout));
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let _ = self.talking.join();
    }
}

/// A carrier caller (sipp) from `port` calling `number`, who stays until Switchboard hangs up.
fn carrier_caller(sip: &str, port: u16, number: &str) -> tokio::process::Child {
    carrier_caller_at(sip, port, number, free_udp_port())
}

/// The same, its SDP offering media at `rtp_port` (where the test itself talks and listens).
fn carrier_caller_at(sip: &str, port: u16, number: &str, rtp_port: u16) -> tokio::process::Child {
    let scenario = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/ai_caller_until_bye.xml");
    let rtp_port = rtp_port.to_string();
    tokio::process::Command::new("sipp")
        .args(["-sf", scenario, sip, "-i", "127.0.0.1", "-p", &port.to_string(), "-mi", "127.0.0.1"])
        .args(["-mp", &free_media_port().to_string(), "-s", number, "-key", "rtp_port", &rtp_port])
        .args(["-m", "1", "-nostdin", "-timeout", "60s"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// Two seconds of hostile datagrams at a WebRTC leg's port.
async fn flood_with_junk(port: u16) {
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let target = format!("127.0.0.1:{port}");
    let mut stun = vec![0u8, 1, 0, 8, 0x21, 0x12, 0xA4, 0x42];
    stun.extend_from_slice(b"junkjunkjunk\x00\x06\x00\x04abcd");
    let dtls = [22u8, 0xFE, 0xFD, 0, 0, 0, 0, 0, 0, 0, 1, 0, 4, 1, 0, 0, 0];
    let mut x: u32 = 0x1234_5678;
    for i in 0..1000u32 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        let mut rtp = vec![0x80, 111, (i >> 8) as u8, i as u8, 0, 0, 0, 0, 1, 2, 3, 4];
        rtp.extend((0..80).map(|k| (x >> (k % 24)) as u8));
        let random: Vec<u8> = (0..(x % 300)).map(|k| (x.rotate_left(k)) as u8).collect();
        let packet: &[u8] = match i % 4 {
            0 => &stun,
            1 => &dtls,
            2 => &rtp,
            _ => &random,
        };
        let _ = socket.send_to(packet, &target).await;
        if i % 50 == 0 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

#[tokio::test]
async fn a_browser_answers_a_phone_and_both_hear_each_other() {
    if !require_program("baresip") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sip = format!("127.0.0.1:{}", free_udp_port());
    let server = Server::start(&dir.path().join("data"), &["--demo", "--sip", &sip], &[]).unwrap();
    let client = switchboard_tests::http();
    let cookie = login(&client, &server, "supervisor@demo.example", PASSWORD).await.unwrap();
    let Some(mut browser) = alice_in_browser(&server, dir.path(), 1000.0).await else { return };

    // Bob's desk phone plays 440 Hz and records what it hears.
    let (bob, rec_b) = bob_calls_alice(dir.path(), &sip, 30.0);
    wait_line(&mut browser, 0, "ringing").await;
    // One registration per browser, however many pages asked for the phone: one line rings.
    assert_eq!(line_state(&mut browser, 1).await, "idle");
    browser.run(json!({"do": "visible", "selector": "#call-banner"})).await;
    let banner = browser.run(json!({"do": "text", "selector": "#call-banner"})).await;
    assert!(banner["text"].as_str().unwrap().contains("102"), "{banner}");
    browser
        .run(json!({"do": "screenshot", "path": screenshot_dir().join("softphone-incoming.png").display().to_string()}))
        .await;
    browser.run(json!({"do": "click", "selector": "#call-banner button.accept"})).await;
    wait_line(&mut browser, 0, "talking").await;
    bob.wait_for("Call established", Duration::from_secs(10)).unwrap();
    let heard = browser_hears(&mut browser, 440.0).await;
    eprintln!("the browser hears Bob: {heard}");
    browser
        .run(json!({"do": "screenshot", "path": screenshot_dir().join("softphone-on-call.png").display().to_string()}))
        .await;

    // Hold and resume (re-INVITEs answered from the same WebRTC session), then Bob again.
    browser.run(json!({"do": "click", "selector": ".line[data-line='0'] button:text('Hold')"})).await;
    wait_line(&mut browser, 0, "held").await;
    browser.run(json!({"do": "click", "selector": ".line[data-line='0'] button:text('Resume')"})).await;
    wait_line(&mut browser, 0, "talking").await;
    browser_hears(&mut browser, 440.0).await;

    // Junk at the port the browser sends its media to (STUN, DTLS, RTP-shaped and random
    // datagrams from a stranger) does not disturb the call.
    let sdp = browser
        .run(json!({"do": "evaluate", "expression": "window.switchboardPhone.lines[0].session.connection.remoteDescription.sdp"}))
        .await;
    let port: u16 = sdp["value"]
        .as_str()
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("a=candidate:"))
        .and_then(|c| c.split_whitespace().nth(5))
        .and_then(|p| p.parse().ok())
        .expect("our candidate's port");
    flood_with_junk(port).await;
    browser_hears(&mut browser, 440.0).await;
    assert_eq!(line_state(&mut browser, 0).await, "talking");

    // A key from the workspace keypad travels by SIP INFO into the call's timeline.
    browser.run(json!({"do": "click", "selector": "#ws-keypad button[data-key='5']"})).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    browser.run(json!({"do": "click", "selector": ".line[data-line='0'] button.danger"})).await;
    wait_line(&mut browser, 0, "idle").await;
    bob.wait_for("terminated", Duration::from_secs(10)).unwrap();

    let call = last_call(&client, &server, &cookie).await;
    assert_eq!(call["agent_extension"], "101", "{call}");
    assert!(!call["answered_at"].is_null(), "{call}");
    let events: Vec<&str> =
        call["timeline"].as_array().unwrap().iter().filter_map(|e| e["kind"].as_str()).collect();
    assert!(
        call["timeline"].as_array().unwrap().iter().any(|e| e["kind"] == "dtmf" && e["data"]["digit"] == "5"),
        "no key 5 in {events:?}"
    );
    // Alice's hold and resume are in the timeline (Bob heard the hold chime meanwhile).
    let hold_at = events.iter().position(|k| *k == "hold").unwrap_or_else(|| panic!("no hold in {events:?}"));
    assert!(events.get(hold_at..).is_some_and(|after| after.contains(&"resume")), "{events:?}");
    // Bob heard the browser's microphone (1000 Hz) through Opus, the relay and PCMU (quieter than
    // it was played: the browser's noise suppression takes a steady tone for noise).
    let (rms, hz) = tone_of(&find_file(&rec_b, "-dec.wav").unwrap()).unwrap();
    assert!((hz - 1000.0).abs() < 60.0 && rms > 0.02, "Bob heard {hz:.0} Hz at {rms:.3}");
    assert_no_page_errors(&mut browser).await;
    browser.close().await;
}

#[tokio::test]
async fn a_desk_phone_and_a_browser_on_one_extension_both_ring_and_the_first_answer_wins() {
    if !require_program("baresip") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sip = format!("127.0.0.1:{}", free_udp_port());
    let server = Server::start(&dir.path().join("data"), &["--demo", "--sip", &sip], &[]).unwrap();
    let Some(mut browser) = alice_in_browser(&server, dir.path(), 1000.0).await else { return };
    // Alice's desk phone registers on the same extension and does not answer by itself.
    let desk = Baresip::start(&demo_account(&sip, "101", "")).unwrap();
    desk.wait_for("200 OK", Duration::from_secs(15)).unwrap();
    let bob = Baresip::start_with(
        &demo_account(&sip, "102", ""),
        PhoneOptions { commands: vec![format!("/dial sip:101@{sip}")], ..Default::default() },
    )
    .unwrap();
    desk.wait_for("Incoming call", Duration::from_secs(10)).unwrap();
    wait_line(&mut browser, 0, "ringing").await;
    browser.run(json!({"do": "click", "selector": ".line[data-line='0'] button.accept"})).await;
    wait_line(&mut browser, 0, "talking").await;
    bob.wait_for("Call established", Duration::from_secs(10)).unwrap();
    // The desk phone stops ringing (CANCEL) and never takes the call.
    desk.wait_for("session closed", Duration::from_secs(10)).unwrap();
    assert!(!desk.log().contains("Call established"), "{}", desk.log());
    browser.run(json!({"do": "click", "selector": "#call-banner button.danger"})).await;
    bob.wait_for("session closed", Duration::from_secs(10)).unwrap();
    assert_no_page_errors(&mut browser).await;
    browser.close().await;
}

#[tokio::test]
async fn a_browser_calls_out_through_a_trunk_and_into_an_ivr_with_its_keypad_on_two_lines() {
    if !require_program("baresip") || !require_program("sipp") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sip_port = free_udp_port();
    let sip = format!("127.0.0.1:{sip_port}");
    let server = Server::start(&dir.path().join("data"), &["--demo", "--sip", &sip], &[]).unwrap();
    let client = switchboard_tests::http();
    let admin = login(&client, &server, "admin@demo.example", PASSWORD).await.unwrap();
    let Some(mut browser) = alice_in_browser(&server, dir.path(), 1000.0).await else { return };
    // Alice is not offered queue calls while she places her own.
    browser.run(json!({"do": "click", "selector": "#ws-status button.away"})).await;
    browser.run(json!({"do": "waitText", "selector": "#ws-status-note", "text": "do not offer"})).await;

    // 0. Her class of service keeps international calls out, and the line says so.
    browser
        .run(json!({"do": "fill", "selector": "#ws-dial input[name=number]", "value": "+442079460000"}))
        .await;
    browser.run(json!({"do": "click", "selector": "#ws-dial button[type=submit]"})).await;
    browser
        .run(json!({"do": "waitText", "selector": ".line[data-line='0']", "text": "international calls are not allowed"}))
        .await;

    // 1. Out through the carrier trunk (sipp answers and echoes the audio back).
    let carrier_port = free_udp_port();
    switchboard_tests::set_demo_trunk(&client, &server, &admin, Some(carrier_port), None).await;
    let scenario = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/carrier_uas.xml");
    let carrier = tokio::process::Command::new("sipp")
        .args(["-sf", scenario, "-i", "127.0.0.1", "-p", &carrier_port.to_string(), "-mi", "127.0.0.1"])
        .args(["-mp", &free_media_port().to_string(), "-rtp_echo", "-m", "1", "-nostdin", "-timeout", "40s"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    browser
        .run(json!({"do": "fill", "selector": "#ws-dial input[name=number]", "value": "(202) 555-0123"}))
        .await;
    browser.run(json!({"do": "click", "selector": "#ws-dial button[type=submit]"})).await;
    wait_line(&mut browser, 0, "talking").await;
    // The carrier echoes what it gets: the browser hears its own microphone come back.
    browser_hears(&mut browser, 1000.0).await;
    browser.run(json!({"do": "click", "selector": ".line[data-line='0'] button.danger"})).await;
    wait_line(&mut browser, 0, "idle").await;
    let out = carrier.wait_with_output().await.unwrap();
    assert!(out.status.success(), "carrier: {}", String::from_utf8_lossy(&out.stdout));
    let call = last_call(&client, &server, &admin).await;
    assert_eq!(
        (call["direction"].as_str(), call["from_number"].as_str()),
        (Some("outbound"), Some("101")),
        "{call}"
    );

    // 2. Into the IVR by one of the account's numbers; the keypad's 2 (SIP INFO) picks support,
    // where Bob's desk phone answers.
    switchboard_tests::add_number(
        &client,
        &server,
        &admin,
        "+15555550142",
        json!({"type": "ivr_menu", "name": "main"}),
    )
    .await;
    let (tone_b, rec_b) = mic_and_recorder(dir.path(), "bob", 440.0, 60.0);
    let bob = Baresip::start_with(
        &demo_account(&sip, "102", ";answermode=auto"),
        PhoneOptions { microphone: Some(tone_b), record_dir: Some(rec_b), ..Default::default() },
    )
    .unwrap();
    bob.wait_for("200 OK", Duration::from_secs(15)).unwrap();
    browser
        .run(json!({"do": "fill", "selector": "#ws-dial input[name=number]", "value": "+15555550142"}))
        .await;
    browser.run(json!({"do": "click", "selector": "#ws-dial button[type=submit]"})).await;
    wait_line(&mut browser, 0, "talking").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    browser.run(json!({"do": "click", "selector": "#ws-keypad button[data-key='2']"})).await;
    bob.wait_for("Call established", Duration::from_secs(20)).unwrap();
    browser_hears(&mut browser, 440.0).await;

    // 3. A second call on line 2 (a carrier caller for Alice's own number): accepting it puts
    // Bob on hold; switching back holds the carrier caller.
    switchboard_tests::add_number(
        &client,
        &server,
        &admin,
        "+15555550143",
        json!({"type": "agent", "extension": "101"}),
    )
    .await;
    let caller_port = free_udp_port();
    switchboard_tests::set_demo_trunk(&client, &server, &admin, None, Some(caller_port)).await;
    let second = carrier_caller(&sip, caller_port, "+15555550143");
    wait_line(&mut browser, 1, "ringing").await;
    browser.run(json!({"do": "click", "selector": ".line[data-line='1'] button.accept"})).await;
    wait_line(&mut browser, 1, "talking").await;
    wait_line(&mut browser, 0, "held").await;
    browser
        .run(json!({"do": "screenshot", "path": screenshot_dir().join("softphone-two-lines.png").display().to_string()}))
        .await;
    browser
        .run(json!({"do": "click", "selector": ".line[data-line='0'] button:text('Switch to this line')"}))
        .await;
    wait_line(&mut browser, 0, "talking").await;
    wait_line(&mut browser, 1, "held").await;
    browser_hears(&mut browser, 440.0).await;
    browser.run(json!({"do": "click", "selector": ".line[data-line='1'] button.danger"})).await;
    let out = second.wait_with_output().await.unwrap();
    assert!(out.status.success(), "second caller: {}", String::from_utf8_lossy(&out.stdout));
    browser.run(json!({"do": "click", "selector": ".line[data-line='0'] button.danger"})).await;
    bob.wait_for("session closed", Duration::from_secs(10)).unwrap();

    let calls = json_of(&client, &server, &admin, "/api/calls").await;
    let ivr_call = calls
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["to_number"] == "+15555550142")
        .unwrap_or_else(|| panic!("no IVR call in {calls}"));
    let detail = json_of(&client, &server, &admin, &format!("/api/calls/{}", ivr_call["id"])).await;
    let timeline = detail["timeline"].as_array().unwrap();
    assert!(
        timeline
            .iter()
            .any(|e| e["kind"] == "dtmf" && e["data"]["digit"] == "2" && e["data"]["via"] == "info"),
        "{detail}"
    );
    assert_eq!(detail["agent_extension"], "102", "{detail}");
    assert_no_page_errors(&mut browser).await;
    browser.close().await;
}

#[tokio::test]
async fn without_a_certificate_the_server_serves_https_with_a_self_signed_one_it_keeps() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let https_addr = |server: &mut Server| {
        server.wait_for_log("https_addr", Duration::from_secs(10)).unwrap();
        let log = server.log_text();
        let line = log.lines().find(|l| l.contains("https_addr")).unwrap().to_string();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        v["https_addr"].as_str().unwrap().to_string()
    };
    let mut server = Server::start(&data, &[], &[]).unwrap();
    let addr = https_addr(&mut server);
    let _ = switchboard_tests::http();
    let insecure = reqwest::Client::builder().danger_accept_invalid_certs(true).build().unwrap();
    let page = insecure.get(format!("https://{addr}/ui/phone.js")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    // The certificate is self-signed: a client that checks certificates refuses it.
    assert!(reqwest::Client::new().get(format!("https://{addr}/healthz")).send().await.is_err());
    let cert = std::fs::read(data.join("tls/self-signed-cert.pem")).unwrap();
    drop(server);
    // The same certificate after a restart (a browser's exception for it still holds).
    let mut again = Server::start(&data, &[], &[]).unwrap();
    let addr = https_addr(&mut again);
    assert_eq!(insecure.get(format!("https://{addr}/healthz")).send().await.unwrap().status(), 200);
    assert_eq!(std::fs::read(data.join("tls/self-signed-cert.pem")).unwrap(), cert);
}

#[tokio::test]
async fn a_queue_call_makes_the_agent_on_call_then_wrap_up_until_ready() {
    if !require_program("sipp") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sip = format!("127.0.0.1:{}", free_udp_port());
    let server = Server::start(&dir.path().join("data"), &["--demo", "--sip", &sip], &[]).unwrap();
    let client = switchboard_tests::http();
    let admin = login(&client, &server, "admin@demo.example", PASSWORD).await.unwrap();
    let supervisor = login(&client, &server, "supervisor@demo.example", PASSWORD).await.unwrap();
    let Some(mut browser) = alice_in_browser(&server, dir.path(), 1000.0).await else { return };
    be_available(&mut browser).await;
    // The caller's voice is a 500 Hz tone.
    let tone: Vec<i16> = (0..8000)
        .map(|i| ((i as f32 * 500.0 * std::f32::consts::TAU / 8000.0).sin() * 8000.0) as i16)
        .collect();
    let caller = QueueCaller::start(&client, &server, &admin, &sip, "+15555550144", tone).await;
    // Bob (first in the queue) has no phone on: the queue offers the caller to Alice.
    wait_line(&mut browser, 0, "ringing").await;
    browser.run(json!({"do": "click", "selector": "#call-banner button.accept"})).await;
    wait_line(&mut browser, 0, "talking").await;
    browser.run(json!({"do": "waitText", "selector": "#ws-activity", "text": "On call"})).await;
    // Alice's calls are recorded (the demo's setting): the workspace says so, and she pauses
    // the recording for a moment (taking a card number, say) and resumes it.
    let recording_is = |state: &str| {
        json!({"do": "waitUntil", "timeout": 10000,
               "expression": format!("document.getElementById('ws-recording').dataset.state === '{state}'")})
    };
    browser.run(recording_is("on")).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    browser.run(json!({"do": "click", "selector": "#ws-recording button[data-action='pause']"})).await;
    browser.run(recording_is("paused")).await;
    // The call banner (on every page) says so too.
    browser.run(json!({"do": "waitText", "selector": "#call-banner .banner-rec[data-state='paused']", "text": "REC paused"})).await;
    browser
        .run(json!({"do": "screenshot", "path": screenshot_dir().join("workspace-recording-paused.png").display().to_string()}))
        .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    browser.run(json!({"do": "click", "selector": "#ws-recording button[data-action='resume']"})).await;
    browser.run(recording_is("on")).await;
    // The caller (+12025550100) is a demo customer: her record and orders show beside the call.
    browser.run(json!({"do": "waitText", "selector": "#ws-customer", "text": "Maria"})).await;
    let panel = browser.run(json!({"do": "text", "selector": "#ws-customer"})).await;
    let panel = panel["text"].as_str().unwrap();
    assert!(panel.contains("#1001") && panel.contains("Balance") && !panel.contains("null"), "{panel}");
    browser
        .run(json!({"do": "screenshot", "path": screenshot_dir().join("workspace-customer.png").display().to_string()}))
        .await;
    let presence = json_of(&client, &server, &supervisor, "/api/presence").await;
    let alice =
        presence.as_array().unwrap().iter().find(|p| p["extension"] == "101").cloned().unwrap_or_default();
    assert_eq!(alice["activity"], "on_call", "{presence}");
    // Notes are written while talking, the outcome chosen in wrap-up; Ready saves both.
    browser.run(json!({"do": "waitText", "selector": "#ws-wrapup", "text": "Call notes"})).await;
    let notes = "Asked where order 1001 is; tracking sent by e-mail";
    browser.run(json!({"do": "fill", "selector": "#ws-wrapup textarea", "value": notes})).await;
    browser.run(json!({"do": "click", "selector": ".line[data-line='0'] button.danger"})).await;
    caller.finished().await;
    // The demo support queue gives 15 s of wrap-up; Alice is ready sooner.
    browser.run(json!({"do": "waitText", "selector": "#ws-activity", "text": "Wrap-up"})).await;
    browser.run(json!({"do": "select", "selector": "#ws-wrapup select", "value": "Order question"})).await;
    browser
        .run(json!({"do": "screenshot", "path": screenshot_dir().join("workspace-wrap-up.png").display().to_string()}))
        .await;
    browser.run(json!({"do": "click", "selector": "#ws-ready"})).await;
    browser
        .run(json!({"do": "waitText", "selector": "#ws-status-note", "text": "Queues offer you calls"}))
        .await;
    // The timeline is written in the background: it catches up within moments.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let history = json_of(&client, &server, &supervisor, "/api/presence/101/history").await;
        let statuses: Vec<&str> =
            history.as_array().unwrap().iter().rev().filter_map(|h| h["status"].as_str()).collect();
        if statuses == ["available", "on_call", "wrap_up", "ready"] {
            break;
        }
        assert!(Instant::now() < deadline, "{history}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The call's record has Alice's outcome and notes, and the save in its timeline.
    let record = switchboard_tests::last_call(&client, &server, &supervisor).await;
    let wrap = &record["wrap_ups"][0];
    assert_eq!(
        (wrap["outcome"].as_str(), wrap["notes"].as_str()),
        (Some("Order question"), Some(notes)),
        "{record}"
    );
    assert_eq!(wrap["extension"], "101", "{record}");
    assert!(record["timeline"].as_array().unwrap().iter().any(|e| e["kind"] == "wrap_up"), "{record}");
    // The recording: the caller's 500 Hz on the left, Alice's 1 kHz (through Opus and the
    // relay) on the right, and silence in both while it was paused.
    let rec = &record["recordings"][0];
    assert_eq!(rec["started_by"], "automatic", "{record}");
    let paused = rec["paused"].as_array().and_then(|p| p.first()).cloned().unwrap_or_default();
    let (from, to) = (paused[0].as_i64().unwrap_or(0), paused[1].as_i64().unwrap_or(0));
    assert!(to - from >= 1000, "paused {paused} in {record}");
    let wav = client
        .get(server.url(rec["audio_url"].as_str().unwrap()))
        .header("cookie", &supervisor)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let (info, samples) = switchboard_telephony::media::wav::decode(&wav).unwrap();
    assert_eq!((info.channels, info.sample_rate), (2, 8000));
    assert!(info.duration_ms() as i64 >= rec["duration_ms"].as_i64().unwrap() - 20, "{record}");
    let channel = |c: usize, path: &Path| {
        let mono: Vec<i16> = samples.iter().skip(c).step_by(2).copied().collect();
        std::fs::write(path, switchboard_telephony::media::wav::encode_pcm16(&mono, 8000, 1)).unwrap();
        tone_of(path).unwrap()
    };
    let (_, left_hz) = channel(0, &dir.path().join("left.wav"));
    let (_, right_hz) = channel(1, &dir.path().join("right.wav"));
    assert!((left_hz - 500.0).abs() < 30.0, "the caller on the left: {left_hz:.0} Hz");
    assert!((right_hz - 1000.0).abs() < 60.0, "Alice on the right: {right_hz:.0} Hz");
    let inside = |ms: i64| (ms * 16) as usize;
    let pause = samples.get(inside(from + 60)..inside(to - 60)).unwrap_or_default();
    assert!(!pause.is_empty() && pause.iter().all(|s| *s == 0), "silence while paused");

    // Alice finds the call in her history (recorded calls, then by words in her notes), opens
    // it and plays the recording from the middle (the player seeks with byte ranges).
    browser
        .run(json!({"do": "evaluate", "expression": "location.hash = '#/calls?has_recording=true'"}))
        .await;
    browser.run(json!({"do": "waitText", "selector": "#calls-rows", "text": "Rec"})).await;
    browser
        .run(json!({"do": "fill", "selector": "#calls-filters input[name=q]", "value": "tracking sent"}))
        .await;
    browser.run(json!({"do": "click", "selector": "#calls-filters button[type=submit]"})).await;
    browser
        .run(json!({"do": "waitUntil", "timeout": 10000,
                    "expression": "location.hash.includes('q=tracking') && document.querySelectorAll('#calls-rows tr').length === 1"}))
        .await;
    browser.run(json!({"do": "click", "selector": "#calls-rows tr"})).await;
    let audio = "document.querySelector('#call-detail audio')";
    browser
        .run(json!({"do": "waitUntil", "timeout": 10000, "expression": format!("!!{audio} && {audio}.duration > 3")}))
        .await;
    browser.run(json!({"do": "evaluate", "expression": format!("{audio}.currentTime = 2.5")})).await;
    browser
        .run(json!({"do": "waitUntil", "timeout": 10000,
                    "expression": format!("!{audio}.seeking && Math.abs({audio}.currentTime - 2.5) < 0.2 && !{audio}.error")}))
        .await;
    let detail = browser.run(json!({"do": "text", "selector": "#call-detail"})).await;
    let detail = detail["text"].as_str().unwrap();
    assert!(detail.contains("Order question") && detail.contains("recording paused"), "{detail}");
    // Its cost: the carrier's minutes at the demo trunk's inbound rate.
    assert!(detail.contains("Carrier") && detail.contains("at $0.0045/min"), "{detail}");
    browser
        .run(json!({"do": "screenshot", "path": screenshot_dir().join("call-history.png").display().to_string()}))
        .await;
    // A search that finds nothing says so.
    browser
        .run(json!({"do": "fill", "selector": "#calls-filters input[name=q]", "value": "no such words"}))
        .await;
    browser.run(json!({"do": "click", "selector": "#calls-filters button[type=submit]"})).await;
    browser.run(json!({"do": "waitText", "selector": "#calls-status", "text": "No calls match"})).await;
    assert_no_page_errors(&mut browser).await;
    browser.close().await;
}

/// A recorded call is transcribed after it ends, channel by channel: the caller's words as the
/// caller's, Alice's under her name; and the call is found by what was said.
#[tokio::test]
async fn a_recorded_call_is_transcribed_with_both_speakers_and_found_by_search() {
    if !require_program("sipp") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sip = format!("127.0.0.1:{}", free_udp_port());
    let server = Server::start(&dir.path().join("data"), &["--demo", "--sip", &sip], &[]).unwrap();
    let client = switchboard_tests::http();
    let admin = login(&client, &server, "admin@demo.example", PASSWORD).await.unwrap();
    let supervisor = login(&client, &server, "supervisor@demo.example", PASSWORD).await.unwrap();
    let mic = dir.path().join("alice-says.wav");
    // (Common words: espeak through the browser's audio processing and Opus at 8 kHz is hard
    // listening for the tiny model; "refund" once came out as "reason".)
    let alice_says = speech(dir.path(), "Thank you for calling. Have a nice day.", 48_000, 1000, 1500);
    std::fs::write(&mic, switchboard_telephony::media::wav::encode_pcm16(&alice_says, 48_000, 1)).unwrap();
    let Some(mut browser) = alice_with_microphone(&server, &mic).await else { return };
    be_available(&mut browser).await;
    let words = speech(dir.path(), "My kettle arrived broken.", 8000, 600, 1200);
    let caller = QueueCaller::start(&client, &server, &admin, &sip, "+15555550145", words).await;
    wait_line(&mut browser, 0, "ringing").await;
    browser.run(json!({"do": "click", "selector": "#call-banner button.accept"})).await;
    wait_line(&mut browser, 0, "talking").await;
    tokio::time::sleep(Duration::from_secs(9)).await;
    browser.run(json!({"do": "click", "selector": ".line[data-line='0'] button.danger"})).await;
    caller.finished().await;

    // The transcript arrives in the background, within moments.
    let deadline = Instant::now() + Duration::from_secs(120);
    let record = loop {
        let record = last_call(&client, &server, &supervisor).await;
        if record["recordings"][0]["transcript"] != "pending" {
            break record;
        }
        assert!(Instant::now() < deadline, "no transcript: {record}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(record["recordings"][0]["transcript"], "done", "{record}");
    let lines = record["transcript"].as_array().unwrap();
    let said = |who: &dyn Fn(&serde_json::Value) -> bool| -> String {
        lines
            .iter()
            .filter(|l| who(l))
            .filter_map(|l| l["text"].as_str())
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase()
    };
    let caller_said = said(&|l| l["speaker"] == "caller");
    let alice_said = said(&|l| l["speaker"] == "agent" && l["name"] == "Alice Nguyen");
    let caller_word = ["kettle", "broken"].into_iter().find(|w| caller_said.contains(w));
    assert!(caller_word.is_some(), "the caller: {caller_said:?} in {record}");
    assert!(
        ["thank", "calling", "nice day"].iter().any(|w| alice_said.contains(w)),
        "Alice: {alice_said:?} in {record}"
    );
    // Lines carry the call's time: within the call, in order.
    let length = record["ended_at"].as_i64().unwrap() - record["started_at"].as_i64().unwrap();
    assert!(
        lines.iter().all(|l| l["start_ms"].as_i64().unwrap() < l["end_ms"].as_i64().unwrap()
            && l["end_ms"].as_i64().unwrap() <= length + 1000),
        "{record}"
    );
    // Found by what was said.
    let found =
        json_of(&client, &server, &supervisor, &format!("/api/calls?q={}", caller_word.unwrap_or_default()))
            .await;
    assert!(found.as_array().unwrap().iter().any(|c| c["id"] == record["id"]), "{found}");
    browser.close().await;
}

/// Alice takes Bob's call in the browser and transfers him to Carol from the workspace: the
/// picker lists her colleagues with whether they are free; Carol's phone rings and answers,
/// Alice's line ends, and Bob hears Carol.
#[tokio::test]
async fn an_agent_transfers_a_caller_to_a_colleague_from_the_workspace() {
    if !require_program("baresip") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sip = format!("127.0.0.1:{}", free_udp_port());
    let server = Server::start(&dir.path().join("data"), &["--demo", "--sip", &sip], &[]).unwrap();
    let client = switchboard_tests::http();
    let admin = login(&client, &server, "admin@demo.example", PASSWORD).await.unwrap();
    let carol_account = add_carol(&client, &server, &admin, &sip).await;
    let (tone_c, rec_c) = mic_and_recorder(dir.path(), "carol", 700.0, 30.0);
    let carol = Baresip::start_with(
        &carol_account,
        PhoneOptions { microphone: Some(tone_c), record_dir: Some(rec_c), ..Default::default() },
    )
    .unwrap();
    carol.wait_for("200 OK", Duration::from_secs(15)).unwrap();
    let Some(mut browser) = alice_in_browser(&server, dir.path(), 1000.0).await else { return };
    let (bob, rec_b) = bob_calls_alice(dir.path(), &sip, 30.0);
    wait_line(&mut browser, 0, "ringing").await;
    browser.run(json!({"do": "click", "selector": "#call-banner button.accept"})).await;
    wait_line(&mut browser, 0, "talking").await;
    bob.wait_for("Call established", Duration::from_secs(10)).unwrap();

    let open = "#ws-transfer button[data-action='open']";
    browser.run(json!({"do": "visible", "selector": open, "timeout": 10000})).await;
    let closed = browser.run(json!({"do": "text", "selector": "#ws-transfer"})).await;
    assert_eq!(closed["text"].as_str().map(str::trim), Some("Transfer…"), "no stray text: {closed}");
    browser.run(json!({"do": "click", "selector": open})).await;
    browser.run(json!({"do": "visible", "selector": "#ws-transfer select"})).await;
    let number = browser.run(json!({"do": "evaluate", "expression": "document.querySelector('#ws-transfer input[name=number]').hidden"})).await;
    assert_eq!(number["value"], true, "the number field waits for \"Outside number…\"");
    let listed = browser.run(json!({"do": "text", "selector": "#ws-transfer select"})).await;
    let listed = listed["text"].as_str().unwrap().to_string();
    assert!(listed.contains("Carol Diaz · 103 — available"), "{listed}");
    assert!(listed.contains("Bob Martinez · 102 — on a call"), "{listed}");
    assert!(!listed.contains("· 101"), "Alice is not offered herself: {listed}");
    assert!(listed.contains("support"), "queues are offered: {listed}");
    browser
        .run(json!({"do": "select", "selector": "#ws-transfer select", "value": r#"{"type":"agent","extension":"103"}"#}))
        .await;
    browser
        .run(json!({"do": "screenshot", "path": screenshot_dir().join("workspace-transfer.png").display().to_string()}))
        .await;
    browser.run(json!({"do": "click", "selector": "#ws-transfer button[data-action='transfer']"})).await;
    carol.wait_for("Call established", Duration::from_secs(10)).unwrap();
    wait_line(&mut browser, 0, "idle").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_no_page_errors(&mut browser).await;
    bob.stop();
    let carol_heard = seconds_heard(&rec_b, 700.0);
    assert!(carol_heard > 1.5, "Bob heard Carol for {carol_heard:.1} s");
    let calls = json_of(&client, &server, &admin, "/api/calls").await;
    let call = json_of(&client, &server, &admin, &format!("/api/calls/{}", calls[0]["id"])).await;
    let transferred = call["timeline"].as_array().unwrap().iter().find(|e| e["kind"] == "transferred");
    let transferred = transferred.unwrap_or_else(|| panic!("no transfer in {call}"));
    assert_eq!(transferred["data"]["by"], "Alice Nguyen", "{call}");
    assert_eq!(transferred["data"]["target"], json!({"type": "agent", "extension": "103"}));
}
