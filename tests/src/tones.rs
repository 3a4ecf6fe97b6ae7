//! Calls proven by who hears whom: real phones (baresip), each sending its own tone, and what
//! each heard read by frequency, per stretch of time (conferences, supervision).

use crate::{demo_account, get_json as json, login, mic_and_recorder, Baresip, PhoneOptions, Server};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub const ALICE: f64 = 440.0;
pub const BOB: f64 = 1000.0;
pub const CAROL: f64 = 700.0;
pub const DAVE: f64 = 1300.0;

/// A phone with its tone, its recordings and when its first call was established (its
/// recording's time zero).
pub struct Phone {
    pub phone: Baresip,
    rec: PathBuf,
    zero: Option<Instant>,
}

impl Phone {
    pub fn start(dir: &Path, name: &str, hz: f64, account: &str, commands: Vec<String>) -> Phone {
        let (mic, rec) = mic_and_recorder(dir, name, hz as f32, 90.0);
        let options = PhoneOptions { microphone: Some(mic), record_dir: Some(rec.clone()), commands };
        Phone { phone: Baresip::start_with(account, options).unwrap(), rec, zero: None }
    }

    pub fn established(&mut self, server: &mut Server) {
        if let Err(e) = self.phone.wait_for("Call established", Duration::from_secs(15)) {
            panic!("{e}\nServer:\n{}", server.log_text());
        }
        self.zero.get_or_insert_with(Instant::now);
    }

    /// Seconds of `hz` this phone heard between two moments (its first call's recording).
    pub fn heard(&self, hz: f64, from: Instant, to: Instant) -> f64 {
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
    crate::tone_seconds(part, hz)
}

/// Adds agent 104, Dave Evans; his auto-answering phone's account line.
pub async fn add_dave(client: &reqwest::Client, server: &Server, admin: &str, sip: &str) -> String {
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
pub async fn live_call(client: &reqwest::Client, server: &Server, cookie: &str, from: &str, to: &str) -> i64 {
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

pub async fn send(
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
pub async fn timeline(
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

pub fn pause(secs: f64) -> (Instant, Instant) {
    let from = Instant::now();
    std::thread::sleep(Duration::from_secs_f64(secs));
    (from, Instant::now())
}

/// A demo server with its SIP address, an HTTP client, and the admin's and Bob's sessions.
pub struct Rig {
    pub dir: tempfile::TempDir,
    pub sip: String,
    pub server: Server,
    pub client: reqwest::Client,
    pub admin: String,
    pub bob_web: String,
}

pub async fn rig() -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let sip = format!("127.0.0.1:{}", crate::free_udp_port());
    let mut server = Server::start(&dir.path().join("data"), &["--demo", "--sip", &sip], &[]).unwrap();
    // The speech engines load in the background at start (seconds of both cores on a CI
    // machine, with the other test's server doing the same): calls heard by frequency wait for
    // that, or a phone's call may not be set up within its time (a CI run's Dave).
    server.wait_for_log("speech engines ready", Duration::from_secs(120)).unwrap();
    let client = crate::http();
    let admin = login(&client, &server, "admin@demo.example", "switchboard-demo").await.unwrap();
    let bob_web = login(&client, &server, "bob@demo.example", "switchboard-demo").await.unwrap();
    Rig { dir, sip, server, client, admin, bob_web }
}

/// Alice calls Bob, whose phone answers by itself: her phone and the call's record id.
pub async fn alice_calls_bob(
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
