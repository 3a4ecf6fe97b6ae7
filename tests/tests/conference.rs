//! Warm transfers and conferences with real phones (baresip), proven by who hears whom: each
//! phone sends its own tone, and what each heard is read by frequency, per stretch of time.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use switchboard_tests::{
    add_carol, demo_account, get_json as json, login, mic_and_recorder, require_program, wait_registered,
    Baresip, PhoneOptions, Server,
};

const ALICE: f64 = 440.0;
const BOB: f64 = 1000.0;
const CAROL: f64 = 700.0;
const DAVE: f64 = 1300.0;

/// A phone with its tone, its recordings and when its first call was established (its
/// recording's time zero).
struct Phone {
    phone: Baresip,
    rec: PathBuf,
    zero: Option<Instant>,
}

impl Phone {
    fn start(dir: &Path, name: &str, hz: f64, account: &str, commands: Vec<String>) -> Phone {
        let (mic, rec) = mic_and_recorder(dir, name, hz as f32, 90.0);
        let options = PhoneOptions { microphone: Some(mic), record_dir: Some(rec.clone()), commands };
        Phone { phone: Baresip::start_with(account, options).unwrap(), rec, zero: None }
    }

    fn established(&mut self, server: &mut Server) {
        if let Err(e) = self.phone.wait_for("Call established", Duration::from_secs(15)) {
            panic!("{e}\nServer:\n{}", server.log_text());
        }
        self.zero.get_or_insert_with(Instant::now);
    }

    /// Seconds of `hz` this phone heard between two moments (its first call's recording).
    fn heard(&self, hz: f64, from: Instant, to: Instant) -> f64 {
        let zero = self.zero.expect("the phone had a call");
        let window = (from.duration_since(zero).as_secs_f64(), to.duration_since(zero).as_secs_f64());
        seconds_in(&first_recording(&self.rec), hz, window)
    }
}

/// The phone's first call's recording of what it heard (the oldest `*-dec.wav`).
fn first_recording(dir: &Path) -> PathBuf {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with("-dec.wav"))
        .collect();
    files.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.created().or_else(|_| m.modified())).ok());
    files.into_iter().next().unwrap_or_else(|| panic!("no recording in {}", dir.display()))
}

/// Seconds of 20 ms frames in which `hz` stands out (Goertzel), within `window` (seconds from
/// the file's start).
fn seconds_in(file: &Path, hz: f64, window: (f64, f64)) -> f64 {
    let bytes = std::fs::read(file).unwrap();
    let Ok((_, samples)) = switchboard_telephony::media::wav::decode(&bytes) else { return 0.0 };
    let (from, to) = ((window.0 * 8000.0) as usize, (window.1 * 8000.0) as usize);
    let part = samples.get(from.min(samples.len())..to.min(samples.len())).unwrap_or_default();
    switchboard_tests::tone_seconds(part, hz)
}

/// Adds agent 104, Dave Evans; his auto-answering phone's account line.
async fn add_dave(client: &reqwest::Client, server: &Server, admin: &str, sip: &str) -> String {
    let r = client
        .post(server.url("/api/agents"))
        .header("cookie", admin)
        .json(&serde_json::json!({"extension": "104", "display_name": "Dave Evans", "sip_password": "dave-sip-104-secret"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap_or_default());
    format!("<sip:104@{sip}>;auth_pass=dave-sip-104-secret;regint=600;audio_codecs=PCMU;answermode=auto")
}

/// The live call from `from` to `to` (extensions), by its record id.
async fn live_call(client: &reqwest::Client, server: &Server, cookie: &str, from: &str, to: &str) -> i64 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let calls = json(client, server, cookie, "/api/calls").await;
        let found = calls.as_array().unwrap().iter().find(|c| {
            c["ended_at"].is_null()
                && c["from_number"].as_str().is_some_and(|f| f.contains(from))
                && c["to_number"].as_str().is_some_and(|t| t.contains(to))
        });
        if let Some(id) = found.and_then(|c| c["id"].as_i64()) {
            return id;
        }
        assert!(Instant::now() < deadline, "no live call from {from} to {to}: {calls}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn send(
    client: &reqwest::Client,
    server: &Server,
    cookie: &str,
    method: reqwest::Method,
    path: &str,
    body: serde_json::Value,
) -> (u16, serde_json::Value) {
    let r =
        client.request(method, server.url(path)).header("cookie", cookie).json(&body).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or_default())
}

/// The ended call's timeline kinds.
async fn timeline(
    client: &reqwest::Client,
    server: &Server,
    cookie: &str,
    id: i64,
) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let call = json(client, server, cookie, &format!("/api/calls/{id}")).await;
        if !call["ended_at"].is_null() {
            return call["timeline"].as_array().unwrap().clone();
        }
        assert!(Instant::now() < deadline, "the call never ended: {call}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn pause(secs: f64) -> (Instant, Instant) {
    let from = Instant::now();
    std::thread::sleep(Duration::from_secs_f64(secs));
    (from, Instant::now())
}

/// A demo server with its SIP address, an HTTP client, and the admin's and Bob's sessions.
struct Rig {
    dir: tempfile::TempDir,
    sip: String,
    server: Server,
    client: reqwest::Client,
    admin: String,
    bob_web: String,
}

async fn rig() -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let sip = format!("127.0.0.1:{}", switchboard_tests::free_udp_port());
    let server = Server::start(&dir.path().join("data"), &["--demo", "--sip", &sip], &[]).unwrap();
    let client = switchboard_tests::http();
    let admin = login(&client, &server, "admin@demo.example", "switchboard-demo").await.unwrap();
    let bob_web = login(&client, &server, "bob@demo.example", "switchboard-demo").await.unwrap();
    Rig { dir, sip, server, client, admin, bob_web }
}

/// Alice calls Bob, whose phone answers by itself: her phone and the call's record id.
async fn alice_calls_bob(
    dir: &Path,
    sip: &str,
    server: &mut Server,
    client: &reqwest::Client,
    admin: &str,
    bob: &mut Phone,
) -> (Phone, i64) {
    let dial = vec![format!("/dial sip:102@{sip}")];
    let mut alice = Phone::start(dir, "alice", ALICE, &demo_account(sip, "101", ""), dial);
    alice.established(server);
    bob.established(server);
    (alice, live_call(client, server, admin, "101", "102").await)
}

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
    std::thread::sleep(Duration::from_millis(500));
    let muted = pause(3.0);
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
    std::thread::sleep(Duration::from_millis(500));
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
