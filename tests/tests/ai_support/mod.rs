//! What the AI call tests share: the scripted OpenAI-compatible LLM, the caller's phone on RTP,
//! speech made with espeak-ng and transcribed with the local Whisper, and a demo PBX with an LLM
//! agent (`Rig`). Shared by several test binaries, each of which uses part of it.
#![allow(dead_code)]

use axum::response::IntoResponse;
use futures_util::StreamExt;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use switchboard_telephony::media::{g711, rtp, wav};
use switchboard_tests::{
    free_udp_port, get_json, in_ci, login, require_program, run, run_carrier, set_demo_trunk, Server,
};

/// One AI call at a time: each test runs a PBX with speech models, and two at once on a small
/// machine would measure the machine rather than the PBX.
pub(crate) static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// espeak-ng, the Whisper model and sipp are needed; without them, skip (fail under CI).
pub(crate) fn ready() -> bool {
    let espeak =
        std::process::Command::new("espeak-ng").arg("--version").output().is_ok_and(|o| o.status.success());
    let listing = String::from_utf8_lossy(&run(&["models", "list"], &[]).stdout).into_owned();
    let models = listing.contains("whisper-tiny.en") && !listing.contains("NOT USABLE");
    if !(espeak && models) {
        assert!(!in_ci(), "CI=true but espeak-ng or a model package is missing (run scripts/setup)");
        eprintln!("skipping: espeak-ng or the models are not installed");
        return false;
    }
    require_program("sipp")
}

/// Digits in what was said, written or spoken ("one zero zero two", "1-0-0-2", "1002").
pub(crate) fn spoken_digits(text: &str) -> String {
    let words = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"];
    text.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .flat_map(|w| match words.iter().position(|d| *d == w) {
            Some(i) => vec![char::from(b'0' + i as u8)],
            None => w.chars().filter(char::is_ascii_digit).collect(),
        })
        .collect()
}

/// Every request the scripted LLM got (its JSON), for tests that check what the model saw.
pub(crate) static LLM_REQUESTS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Digits as words, the way the agent says them.
fn spoken(digits: &str) -> String {
    let words = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"];
    digits
        .bytes()
        .filter(u8::is_ascii_digit)
        .map(|b| words[(b - b'0') as usize])
        .collect::<Vec<_>>()
        .join(" ")
}

/// One event of a streamed answer, carrying `text`.
pub(crate) fn sse_delta(text: &str) -> String {
    format!(
        "data: {}\n\n",
        json!({"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": null}]})
    )
}

pub(crate) fn sse_text(text: &str) -> String {
    let mut s = String::new();
    let words: Vec<&str> = text.split_inclusive(' ').collect();
    for (i, w) in words.iter().enumerate() {
        let finish = (i + 1 == words.len()).then_some("stop");
        s.push_str(&format!(
            "data: {}\n\n",
            json!({"choices": [{"index": 0, "delta": {"content": w}, "finish_reason": finish}]})
        ));
    }
    s.push_str(&format!(
        "data: {}\n\n",
        json!({"choices": [], "usage": {"prompt_tokens": 50, "completion_tokens": 8}})
    ));
    s + "data: [DONE]\n\n"
}

pub(crate) fn sse_tool(name: &str, args: Value) -> String {
    let call = json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "c1", "type": "function",
        "function": {"name": name, "arguments": args.to_string()}}]}, "finish_reason": "tool_calls"}]});
    format!("data: {call}\n\ndata: [DONE]\n\n")
}

/// The scripted LLM: orders are looked up and answered from the tool's result; "person"
/// transfers; anything else makes it stall (never answers in time).
pub(crate) async fn scripted_llm() -> String {
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        axum::routing::post(|axum::Json(req): axum::Json<Value>| async move {
            LLM_REQUESTS.lock().unwrap().push(req.to_string());
            let messages = req["messages"].as_array().cloned().unwrap_or_default();
            let last = messages.last().cloned().unwrap_or_default();
            // What the caller said since the model last spoke (one turn, or several when the
            // caller went on speaking before they heard an answer).
            let said: Vec<&str> = messages
                .iter()
                .rev()
                .take_while(|m| m["role"] == "user")
                .filter_map(|m| m["content"].as_str())
                .collect();
            let text = said.into_iter().rev().collect::<Vec<_>>().join(" ").to_lowercase();
            // The instructions and the call's context (the supervisor's guidance among it).
            let system: String = messages
                .iter()
                .filter(|m| m["role"] == "system")
                .filter_map(|m| m["content"].as_str())
                .collect::<Vec<_>>()
                .join("\n")
                .to_lowercase();
            let guided_to_ship =
                system.contains("guidance from your supervisor") && system.contains("express shipping");
            let digits = spoken_digits(&text);
            let body = if last["role"] == "tool" {
                let result: Value =
                    serde_json::from_str(last["content"].as_str().unwrap_or("{}")).unwrap_or_default();
                match (result["order"]["status"].as_str(), result["status"].as_str()) {
                    (Some(status), _) => sse_text(&format!("Good news: your order has been {status}.")),
                    (None, Some("succeeded")) => sse_text(&format!(
                        "Thank you, your payment went through on the card ending {}.",
                        spoken(result["last4"].as_str().unwrap_or(""))
                    )),
                    (None, Some(_)) => sse_text("Sorry, the payment did not go through."),
                    (None, None) => sse_text("I could not find that order."),
                }
            } else if text.contains("pay") {
                sse_tool("take_payment", json!({"amount_minor": 1999, "currency": "usd"}))
            } else if text.contains("message") {
                sse_tool("take_message", json!({"summary": "Maria wants a call back"}))
            } else if ["person", "human", "talk to"].iter().any(|w| text.contains(w)) {
                sse_tool("transfer", json!({"summary": "Maria asked for a person"}))
            } else if text.contains("order") && digits.len() >= 3 {
                sse_tool("lookup_order", json!({"order_number": digits}))
            } else if text.contains("return") {
                sse_text(
                    "You can return any item within thirty days. Bring the receipt and the original box. \
                     The refund goes back to the card you paid with. Store credit is possible too. \
                     That is our whole return policy.",
                )
            } else if text.contains("order") {
                // A slow model: its first words at once, the rest 3.5 s later.
                let parts = [(sse_delta("Let me see "), 0), (sse_text("which order you mean."), 3_500)];
                let body = futures_util::stream::iter(parts).then(|(part, ms)| async move {
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    Ok::<_, std::convert::Infallible>(part)
                });
                return ([("content-type", "text/event-stream")], axum::body::Body::from_stream(body))
                    .into_response();
            } else if guided_to_ship {
                // A supervisor's note changes what the model says.
                sse_text("As a thank you, I can offer you free express shipping.")
            } else {
                tokio::time::sleep(Duration::from_secs(30)).await;
                sse_text("Too late.")
            };
            ([("content-type", "text/event-stream")], body).into_response()
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/v1")
}

/// The caller's phone on RTP: sends what it is told to say (silence otherwise) every 20 ms to
/// wherever the PBX sends from, and keeps everything it hears.
pub(crate) struct RtpPhone {
    pub(crate) port: u16,
    pub(crate) to_say: Arc<Mutex<std::collections::VecDeque<i16>>>,
    /// Keys to press, sent as RFC 4733 telephone-events (payload type 101) instead of audio.
    pub(crate) to_key: Arc<Mutex<std::collections::VecDeque<char>>>,
    pub(crate) heard: Arc<Mutex<Vec<i16>>>,
}

/// The packets of one key press: 100 ms of a telephone-event, its end sent three times.
fn key_packets(key: char, seq: &mut u16, ts: u32) -> Vec<Vec<u8>> {
    let event = match key {
        '0'..='9' => key as u8 - b'0',
        '*' => 10,
        _ => 11,
    };
    let mut out = Vec::new();
    for i in 1..=5u16 {
        let duration = (i * 160).to_be_bytes();
        out.push(rtp::write(i == 1, 101, *seq, ts, 0x5eed, &[event, 10, duration[0], duration[1]]));
        *seq = seq.wrapping_add(1);
    }
    for _ in 0..3 {
        let duration = 800u16.to_be_bytes();
        out.push(rtp::write(false, 101, *seq, ts, 0x5eed, &[event, 0x80 | 10, duration[0], duration[1]]));
        *seq = seq.wrapping_add(1);
    }
    out
}

impl RtpPhone {
    pub(crate) async fn start() -> RtpPhone {
        let socket = Arc::new(tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap());
        let port = socket.local_addr().unwrap().port();
        let to_say = Arc::new(Mutex::new(std::collections::VecDeque::new()));
        let heard = Arc::new(Mutex::new(Vec::new()));
        let peer = Arc::new(Mutex::new(None));
        {
            let (socket, heard, peer) = (socket.clone(), heard.clone(), peer.clone());
            tokio::spawn(async move {
                let mut buf = [0u8; 2048];
                while let Ok((n, from)) = socket.recv_from(&mut buf).await {
                    let Some(h) = rtp::RtpHeader::parse(&buf[..n]) else { continue };
                    if h.payload_type != 0 {
                        continue;
                    }
                    *peer.lock().unwrap() = Some(from);
                    heard
                        .lock()
                        .unwrap()
                        .extend(h.payload(&buf[..n]).iter().map(|&b| g711::ulaw_to_linear(b)));
                }
            });
        }
        let to_key = Arc::new(Mutex::new(std::collections::VecDeque::new()));
        {
            let (to_say, to_key) = (to_say.clone(), to_key.clone());
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_millis(20));
                let (mut seq, mut ts) = (0u16, 0u32);
                loop {
                    tick.tick().await;
                    let key = to_key.lock().unwrap().pop_front();
                    let target = *peer.lock().unwrap();
                    if let (Some(key), Some(to)) = (key, target) {
                        // A key: its event packets (over 100 ms of timestamps), then a pause.
                        for packet in key_packets(key, &mut seq, ts) {
                            let _ = socket.send_to(&packet, to).await;
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                        ts = ts.wrapping_add(800 + 160 * 6);
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                    let frame: Vec<u8> = {
                        let mut q = to_say.lock().unwrap();
                        (0..160).map(|_| g711::linear_to_ulaw(q.pop_front().unwrap_or(0))).collect()
                    };
                    let Some(to) = *peer.lock().unwrap() else { continue };
                    let packet = rtp::write(false, 0, seq, ts, 0x5eed, &frame);
                    if socket.send_to(&packet, to).await.is_err() {
                        return;
                    }
                    (seq, ts) = (seq.wrapping_add(1), ts.wrapping_add(160));
                }
            });
        }
        RtpPhone { port, to_say, to_key, heard }
    }

    pub(crate) fn heard_len(&self) -> usize {
        self.heard.lock().unwrap().len()
    }

    /// Waits until the far end has spoken after sample `from` and then been quiet for
    /// `quiet_ms`; returns the sample index where the quiet began.
    pub(crate) async fn wait_for_speech_then_quiet(
        &self,
        from: usize,
        quiet_ms: usize,
        limit: Duration,
    ) -> usize {
        self.try_wait_for_speech_then_quiet(from, quiet_ms, limit)
            .await
            .unwrap_or_else(|| panic!("the agent did not speak and stop within {limit:?}"))
    }

    pub(crate) async fn try_wait_for_speech_then_quiet(
        &self,
        from: usize,
        quiet_ms: usize,
        limit: Duration,
    ) -> Option<usize> {
        let deadline = Instant::now() + limit;
        loop {
            let heard = self.heard.lock().unwrap().clone();
            let frames: Vec<f64> = heard[from.min(heard.len())..]
                .chunks(160)
                .map(|c| (c.iter().map(|&s| (s as f64).powi(2)).sum::<f64>() / c.len() as f64).sqrt())
                .collect();
            let loud = |r: &f64| *r > 300.0;
            if let Some(last_loud) = frames.iter().rposition(loud) {
                let quiet_frames = frames.len() - 1 - last_loud;
                if quiet_frames * 20 >= quiet_ms {
                    return Some(from + (last_loud + 1) * 160);
                }
            }
            if Instant::now() > deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Queues speech; returns when it has been sent.
    pub(crate) async fn say(&self, samples: &[i16]) {
        self.to_say.lock().unwrap().extend(samples);
        tokio::time::sleep(Duration::from_millis(samples.len() as u64 / 8 + 40)).await;
    }

    /// Presses keys (RFC 4733 events); returns when they have been sent.
    pub(crate) async fn key(&self, keys: &str) {
        self.to_key.lock().unwrap().extend(keys.chars());
        while !self.to_key.lock().unwrap().is_empty() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    /// What was heard from sample `from` on, as an 8 kHz WAV file.
    pub(crate) fn save(&self, from: usize, path: &std::path::Path) {
        let heard = self.heard.lock().unwrap();
        std::fs::write(path, wav::encode_pcm16(&heard[from.min(heard.len())..], 8000, 1)).unwrap();
    }
}

/// Speech for the caller, made with espeak-ng at 8 kHz.
///
/// Whisper tiny's reading of espeak-ng depends on where in the 16 ms VAD grid the turn starts,
/// which differs from call to call. "Where is my order one zero zero two?" was heard as "one year
/// of zero two" at one of the four alignments (it failed CI); "order number one zero zero two"
/// was heard right at all four; so was "Order number one zero zero two." on its own, while "The
/// number is one zero zero two." was heard as "one year of year or two" once. Check new phrases
/// with digits the same way (silence of 0, 4, 8 and 12 ms before the speech).
pub(crate) fn speech(dir: &std::path::Path, text: &str) -> Vec<i16> {
    let file = dir.join(format!("{}.wav", text.len()));
    let o = run(&["say", text, "--voice", "espeak", "--rate", "8000", "-o", file.to_str().unwrap()], &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    wav::decode(&std::fs::read(&file).unwrap()).unwrap().1
}

/// Speech in the natural piper voice at `rate` (a person's voice, where Whisper tiny must hear
/// the words reliably: it mishears espeak-ng now and then).
pub(crate) fn natural_speech(dir: &std::path::Path, text: &str, rate: u32) -> Vec<i16> {
    let file = dir.join(format!("natural-{rate}-{}.wav", text.len()));
    let rate_arg = rate.to_string();
    let o = run(&["say", text, "--voice", "piper", "--rate", &rate_arg, "-o", file.to_str().unwrap()], &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    wav::decode(&std::fs::read(&file).unwrap()).unwrap().1
}

pub(crate) fn transcribe(file: &std::path::Path) -> String {
    let o = run(&["transcribe", file.to_str().unwrap()], &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| l.split_once("] ").map_or(l, |(_, t)| t))
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// A demo PBX with an LLM agent on +15555550177 (escalation: 101, fallback: 102) and the
/// carrier trusted at `carrier_port`.
pub(crate) struct Rig {
    pub(crate) _dir: tempfile::TempDir,
    pub(crate) server: Server,
    pub(crate) client: reqwest::Client,
    pub(crate) admin: String,
    pub(crate) sip: String,
    pub(crate) carrier_port: u16,
}

pub(crate) async fn rig(dir: tempfile::TempDir) -> Rig {
    rig_with(dir, &[]).await
}

/// The rig with more `serve` arguments (cloud speech services, for one).
pub(crate) async fn rig_with(dir: tempfile::TempDir, extra: &[&str]) -> Rig {
    let sip = format!("127.0.0.1:{}", free_udp_port());
    let env = [("RUST_LOG", "info,sqlx=warn,switchboard::agent=debug,switchboard::calls=debug")];
    let mut args = vec!["--demo", "--sip", &sip];
    args.extend_from_slice(extra);
    let mut server = Server::start(&dir.path().join("data"), &args, &env).unwrap();
    // The engines load in the background at start; a call placed before they are ready waits for
    // them, which on a busy machine eats the time the tests give the greeting.
    server.wait_for_log("speech engines ready", Duration::from_secs(120)).unwrap();
    let client = switchboard_tests::http();
    let admin = login(&client, &server, "admin@demo.example", "switchboard-demo").await.unwrap();
    let llm = scripted_llm().await;
    for (path, body) in [
        (
            "/api/ai_agents",
            json!({"name": "llm-assistant", "system_prompt": "You help Acme's callers.",
                "greeting": "Hello, this is Acme.", "llm": {"base_url": llm, "model": "scripted"},
                "tools": ["lookup_order", "take_message", "take_payment"], "escalation_target": {"type": "agent", "extension": "101"},
                "fallback_target": {"type": "agent", "extension": "102"}, "voicemail_box": "support"}),
        ),
        (
            "/api/phone_numbers",
            json!({"number": "+15555550177", "target": {"type": "ai_agent", "name": "llm-assistant"}}),
        ),
    ] {
        let r = client.post(server.url(path)).header("cookie", &admin).json(&body).send().await.unwrap();
        assert_eq!(r.status(), 201, "{path}: {}", r.text().await.unwrap_or_default());
    }
    let carrier_port = free_udp_port();
    set_demo_trunk(&client, &server, &admin, None, Some(carrier_port)).await;
    Rig { _dir: dir, server, client, admin, sip, carrier_port }
}

impl Rig {
    /// Starts sipp's call to `number` (held for `hold_ms`), with `phone` as the caller's audio.
    pub(crate) fn call(
        &self,
        number: &str,
        phone: &RtpPhone,
        hold_ms: u64,
    ) -> tokio::task::JoinHandle<std::process::Output> {
        let (sip, port, number) =
            (self.sip.clone(), self.carrier_port, number.trim_start_matches('+').to_string());
        let (rtp_port, hold) = (phone.port.to_string(), hold_ms.to_string());
        tokio::spawn(async move {
            run_carrier(
                "ai_caller.xml",
                &sip,
                port,
                &number,
                &["-key", "rtp_port", &rtp_port, "-d", &hold, "-m", "1", "-timeout", "90s"],
            )
            .await
        })
    }

    /// Starts sipp's call to `number`, held until the PBX hangs up.
    pub(crate) fn call_until_bye(
        &self,
        number: &str,
        phone: &RtpPhone,
    ) -> tokio::task::JoinHandle<std::process::Output> {
        let (sip, port, number) =
            (self.sip.clone(), self.carrier_port, number.trim_start_matches('+').to_string());
        let rtp_port = phone.port.to_string();
        tokio::spawn(async move {
            run_carrier(
                "ai_caller_until_bye.xml",
                &sip,
                port,
                &number,
                &["-key", "rtp_port", &rtp_port, "-m", "1", "-timeout", "120s"],
            )
            .await
        })
    }

    /// Calls `number` (held for `hold_ms`) from a new phone; returns once the greeting is over.
    pub(crate) async fn greeted_call(
        &self,
        number: &str,
        hold_ms: u64,
    ) -> (RtpPhone, tokio::task::JoinHandle<std::process::Output>) {
        let phone = RtpPhone::start().await;
        let sipp = self.call(number, &phone, hold_ms);
        phone.wait_for_speech_then_quiet(0, 800, Duration::from_secs(15)).await;
        (phone, sipp)
    }

    /// What the caller heard from sample `from` until the agent had spoken and then been quiet
    /// for `quiet_ms` (transcribed), and the call's record once sipp's call has ended.
    pub(crate) async fn answer_and_record(
        &self,
        phone: &RtpPhone,
        sipp: tokio::task::JoinHandle<std::process::Output>,
        from: usize,
        quiet_ms: usize,
        limit: Duration,
    ) -> (String, Value) {
        phone.wait_for_speech_then_quiet(from, quiet_ms, limit).await;
        let answer = self._dir.path().join("answer.wav");
        phone.save(from, &answer);
        let heard = transcribe(&answer);
        sipp_ok(sipp.await.unwrap());
        (heard, self.last_call().await)
    }

    /// Changes the queue `name` with `change` (the API replaces the whole queue).
    pub(crate) async fn update_queue(&self, name: &str, change: impl FnOnce(&mut Value)) {
        switchboard_tests::queues::change(&self.client, &self.server, &self.admin, name, change).await;
    }

    pub(crate) async fn wait_registered(&self, extension: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !get_json(&self.client, &self.server, &self.admin, "/api/registrations")
            .await
            .to_string()
            .contains(extension)
        {
            assert!(Instant::now() < deadline, "{extension} did not register");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub(crate) async fn last_call(&self) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let calls = get_json(&self.client, &self.server, &self.admin, "/api/calls").await;
            if let Some(c) = calls.as_array().and_then(|c| c.first()).filter(|c| !c["ended_at"].is_null()) {
                return get_json(&self.client, &self.server, &self.admin, &format!("/api/calls/{}", c["id"]))
                    .await;
            }
            assert!(Instant::now() < deadline, "no ended call: {calls}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

pub(crate) fn sipp_ok(out: std::process::Output) {
    assert!(
        out.status.success(),
        "sipp failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Seconds of `path` that are a steady tone between `lo` and `hi` Hz (20 ms frames, loud, with
/// that zero-crossing rate): speech does not hold one pitch for long, a tone does.
pub(crate) fn tone_seconds(path: &std::path::Path, lo: f64, hi: f64) -> f64 {
    let (info, samples) = wav::decode(&std::fs::read(path).unwrap()).unwrap();
    let mono: Vec<f64> =
        samples.iter().step_by(info.channels as usize).map(|&s| s as f64 / 32768.0).collect();
    let frame = (info.sample_rate / 50) as usize;
    let frames = mono
        .chunks(frame)
        .filter(|f| {
            let rms = (f.iter().map(|s| s * s).sum::<f64>() / f.len() as f64).sqrt();
            let crossings = f.windows(2).filter(|w| (w[0] < 0.0) != (w[1] < 0.0)).count();
            let hz = crossings as f64 / 2.0 / 0.02;
            rms > 0.01 && (lo..hi).contains(&hz)
        })
        .count();
    frames as f64 * 0.02
}

/// The longest run of near-silence (20 ms frames) in `samples`, in ms.
pub(crate) fn longest_silence_ms(samples: &[i16]) -> usize {
    let (mut longest, mut run) = (0, 0);
    for f in samples.chunks(160) {
        let rms = (f.iter().map(|&s| (s as f64).powi(2)).sum::<f64>() / f.len() as f64).sqrt();
        run = if rms < 150.0 { run + 20 } else { 0 };
        longest = longest.max(run);
    }
    longest
}
