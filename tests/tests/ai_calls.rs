//! AI agents on real calls: sipp places the carrier's call (SIP), the test is the caller's
//! phone on RTP (PCMU): it hears the greeting, asks its question in speech made with espeak-ng,
//! and what the PBX sends back is transcribed with the local Whisper. A scripted
//! OpenAI-compatible server is the LLM. Also: the caller asks for a person and a baresip agent
//! rings, answers and hears the caller; the LLM stalls and the caller hears the apology and
//! reaches the fallback agent; the offline guided agent answers by voice with no LLM at all.

use axum::response::IntoResponse;
use futures_util::StreamExt;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use switchboard_telephony::media::{g711, rtp, wav};
use switchboard_tests::{
    add_number, demo_account, find_file, free_udp_port, get_json, in_ci, login, mic_and_recorder,
    require_program, run, run_carrier, screenshot_dir, set_demo_trunk, tone_of, Baresip, Browser,
    PhoneOptions, Server,
};

/// One AI call at a time: each test runs a PBX with speech models, and two at once on a small
/// machine would measure the machine rather than the PBX.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// espeak-ng, the Whisper model and sipp are needed; without them, skip (fail under CI).
fn ready() -> bool {
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
fn spoken_digits(text: &str) -> String {
    let words = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"];
    text.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .flat_map(|w| match words.iter().position(|d| *d == w) {
            Some(i) => vec![char::from(b'0' + i as u8)],
            None => w.chars().filter(char::is_ascii_digit).collect(),
        })
        .collect()
}

/// One event of a streamed answer, carrying `text`.
fn sse_delta(text: &str) -> String {
    format!(
        "data: {}\n\n",
        json!({"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": null}]})
    )
}

fn sse_text(text: &str) -> String {
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

fn sse_tool(name: &str, args: Value) -> String {
    let call = json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "c1", "type": "function",
        "function": {"name": name, "arguments": args.to_string()}}]}, "finish_reason": "tool_calls"}]});
    format!("data: {call}\n\ndata: [DONE]\n\n")
}

/// The scripted LLM: orders are looked up and answered from the tool's result; "person"
/// transfers; anything else makes it stall (never answers in time).
async fn scripted_llm() -> String {
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        axum::routing::post(|axum::Json(req): axum::Json<Value>| async move {
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
            let system =
                messages.first().and_then(|m| m["content"].as_str()).unwrap_or_default().to_lowercase();
            let guided_to_ship =
                system.contains("guidance from your supervisor") && system.contains("express shipping");
            let digits = spoken_digits(&text);
            let body = if last["role"] == "tool" {
                let result: Value =
                    serde_json::from_str(last["content"].as_str().unwrap_or("{}")).unwrap_or_default();
                match result["order"]["status"].as_str() {
                    Some(status) => sse_text(&format!("Good news: your order has been {status}.")),
                    None => sse_text("I could not find that order."),
                }
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
struct RtpPhone {
    port: u16,
    to_say: Arc<Mutex<std::collections::VecDeque<i16>>>,
    heard: Arc<Mutex<Vec<i16>>>,
}

impl RtpPhone {
    async fn start() -> RtpPhone {
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
        {
            let to_say = to_say.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_millis(20));
                let (mut seq, mut ts) = (0u16, 0u32);
                loop {
                    tick.tick().await;
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
        RtpPhone { port, to_say, heard }
    }

    fn heard_len(&self) -> usize {
        self.heard.lock().unwrap().len()
    }

    /// Waits until the far end has spoken after sample `from` and then been quiet for
    /// `quiet_ms`; returns the sample index where the quiet began.
    async fn wait_for_speech_then_quiet(&self, from: usize, quiet_ms: usize, limit: Duration) -> usize {
        self.try_wait_for_speech_then_quiet(from, quiet_ms, limit)
            .await
            .unwrap_or_else(|| panic!("the agent did not speak and stop within {limit:?}"))
    }

    async fn try_wait_for_speech_then_quiet(
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
    async fn say(&self, samples: &[i16]) {
        self.to_say.lock().unwrap().extend(samples);
        tokio::time::sleep(Duration::from_millis(samples.len() as u64 / 8 + 40)).await;
    }

    /// What was heard from sample `from` on, as an 8 kHz WAV file.
    fn save(&self, from: usize, path: &std::path::Path) {
        let heard = self.heard.lock().unwrap();
        std::fs::write(path, wav::encode_pcm16(&heard[from.min(heard.len())..], 8000, 1)).unwrap();
    }
}

/// Speech for the caller, made with espeak-ng at 8 kHz.
///
/// Whisper tiny's reading of espeak-ng depends on where in the 16 ms VAD grid the turn starts,
/// which differs from call to call. "Where is my order one zero zero two?" was heard as "one year
/// of zero two" at one of the four alignments (it failed CI); "order number one zero zero two"
/// was heard right at all four. Check new order questions the same way.
fn speech(dir: &std::path::Path, text: &str) -> Vec<i16> {
    let file = dir.join(format!("{}.wav", text.len()));
    let o = run(&["say", text, "--voice", "espeak", "--rate", "8000", "-o", file.to_str().unwrap()], &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    wav::decode(&std::fs::read(&file).unwrap()).unwrap().1
}

fn transcribe(file: &std::path::Path) -> String {
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
struct Rig {
    _dir: tempfile::TempDir,
    server: Server,
    client: reqwest::Client,
    admin: String,
    sip: String,
    carrier_port: u16,
}

async fn rig(dir: tempfile::TempDir) -> Rig {
    let sip = format!("127.0.0.1:{}", free_udp_port());
    let env = [("RUST_LOG", "info,sqlx=warn,switchboard::agent=debug")];
    let server = Server::start(&dir.path().join("data"), &["--demo", "--sip", &sip], &env).unwrap();
    let client = switchboard_tests::http();
    let admin = login(&client, &server, "admin@demo.example", "switchboard-demo").await.unwrap();
    let llm = scripted_llm().await;
    for (path, body) in [
        (
            "/api/ai_agents",
            json!({"name": "llm-assistant", "system_prompt": "You help Acme's callers.",
                "greeting": "Hello, this is Acme.", "llm": {"base_url": llm, "model": "scripted"},
                "tools": ["lookup_order", "take_message"], "escalation_target": {"type": "agent", "extension": "101"},
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
    fn call(
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
    fn call_until_bye(
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

    async fn wait_registered(&self, extension: &str) {
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

    async fn last_call(&self) -> Value {
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

fn sipp_ok(out: std::process::Output) {
    assert!(
        out.status.success(),
        "sipp failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_asks_an_llm_agent_about_an_order_and_hears_its_real_status() {
    let _serial = SERIAL.lock().await;
    if !ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let question = speech(dir.path(), "Where is my order number one zero zero two?");
    let rig = rig(dir).await;
    let phone = RtpPhone::start().await;
    let sipp = rig.call("+15555550177", &phone, 22_000);
    let greeted = phone.wait_for_speech_then_quiet(0, 800, Duration::from_secs(15)).await;
    phone.say(&question).await;
    let asked = phone.heard_len();
    let answered = phone.wait_for_speech_then_quiet(asked, 1200, Duration::from_secs(15)).await;
    let answer = rig._dir.path().join("answer.wav");
    phone.save(asked, &answer);
    let greeting = rig._dir.path().join("greeting.wav");
    phone.save(0, &greeting);
    let heard = transcribe(&answer);
    sipp_ok(sipp.await.unwrap());
    let call = rig.last_call().await;
    let media = call["timeline"].as_array().unwrap().iter().find(|e| e["kind"] == "media").cloned();
    assert!(
        heard.contains("ship"),
        "order 1002 is shipped; the caller heard: {heard:?}; {}; media: {media:?}",
        call["transcript"]
    );
    let greeting = transcribe(&greeting);
    assert!(greeting.contains("hello"), "the greeting was spoken: {greeting:?}");
    assert!(answered > asked && greeted > 0);
    // The agent heard the caller on the delay-free path, and nothing was lost on loopback.
    let caller = &media.expect("media event")["data"]["caller"];
    assert_eq!(
        (caller["heard_concealed"].as_u64(), caller["heard_late"].as_u64()),
        (Some(0), Some(0)),
        "{caller}"
    );
    assert_eq!(call["ai_agent"], "llm-assistant", "{call}");
    assert!(!call["customer_id"].is_null(), "the caller was matched to Maria: {call}");
    let kinds: Vec<&str> =
        call["timeline"].as_array().unwrap().iter().filter_map(|e| e["kind"].as_str()).collect();
    let tool =
        call["timeline"].as_array().unwrap().iter().find(|e| e["kind"] == "tool_call").expect("tool call");
    assert_eq!(tool["data"]["arguments"]["order_number"], "1002", "{tool}");
    let latency =
        call["timeline"].as_array().unwrap().iter().find(|e| e["kind"] == "latency").expect("latency");
    // The waterfall runs from the end of the caller's speech, stage after stage; the turn cannot
    // end before speech counted as stopped (64 ms of silence).
    let stages =
        ["end_of_turn_ms", "final_transcript_ms", "first_token_ms", "first_audio_ms", "first_packet_ms"];
    let at: Vec<u64> = stages
        .iter()
        .map(|s| latency["data"][s].as_u64().unwrap_or_else(|| panic!("{s} missing: {latency}")))
        .collect();
    assert!(at.windows(2).all(|w| w[0] <= w[1]), "stages out of order: {latency}");
    assert!(at[0] >= 60, "the turn ended {} ms after speech: {latency}", at[0]);
    assert!(kinds.contains(&"ai_usage"), "{kinds:?}");
    let transcript = call["transcript"].as_array().unwrap();
    assert!(
        transcript.iter().any(|l| l["speaker"] == "caller" && l["text"].as_str().unwrap().to_lowercase().contains("order")),
        "{transcript:?}"
    );
    // The caller's line carries when they spoke (audio time), the answer comes after it.
    let asked_line = transcript.iter().find(|l| l["speaker"] == "caller").unwrap();
    let (from, to) = (asked_line["start_ms"].as_i64().unwrap(), asked_line["end_ms"].as_i64().unwrap());
    let question_ms = question.len() as i64 / 8;
    assert!(
        (question_ms * 3 / 4..=question_ms + 1500).contains(&(to - from)),
        "the caller spoke for about {question_ms} ms; the line says {from}..{to}"
    );
    let answer_line =
        transcript.iter().skip_while(|l| l["speaker"] != "caller").find(|l| l["speaker"] == "ai").unwrap();
    assert!(answer_line["start_ms"].as_i64().unwrap() >= to, "{transcript:?}");
    let metrics = rig.client.get(rig.server.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(
        metrics.contains("switchboard_ai_turn_latency_seconds_count{stage=\"first_packet\"} 1"),
        "{metrics}"
    );
}

/// The caller pauses after "Where is my order?" and says its number while the model is still
/// working on an answer: nothing the caller said is lost, the model gets both turns, the cut
/// answer is never heard, and the caller hears the order's status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_who_goes_on_speaking_while_the_ai_thinks_is_answered_in_full() {
    let _serial = SERIAL.lock().await;
    if !ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let question = speech(dir.path(), "Where is my order?");
    let number = speech(dir.path(), "The number is one zero zero two.");
    let rig = rig(dir).await;
    let phone = RtpPhone::start().await;
    let sipp = rig.call("+15555550177", &phone, 20_000);
    phone.wait_for_speech_then_quiet(0, 800, Duration::from_secs(15)).await;
    phone.say(&question).await;
    // The turn ends after 0.2 s of silence (a finished sentence); the model answers slowly.
    tokio::time::sleep(Duration::from_millis(700)).await;
    phone.say(&number).await;
    let asked = phone.heard_len();
    phone.wait_for_speech_then_quiet(asked, 1200, Duration::from_secs(15)).await;
    let answer = rig._dir.path().join("answer.wav");
    phone.save(asked, &answer);
    let heard = transcribe(&answer);
    sipp_ok(sipp.await.unwrap());
    let call = rig.last_call().await;
    let timeline = call["timeline"].as_array().unwrap();
    let transcript = call["transcript"].as_array().unwrap();
    assert!(heard.contains("ship"), "order 1002 is shipped; the caller heard: {heard:?}; {transcript:?}");
    assert!(!heard.contains("you mean"), "the cut answer was played: {heard:?}");
    assert!(timeline.iter().any(|e| e["kind"] == "caller_continued"), "{timeline:?}");
    let said: Vec<String> = transcript
        .iter()
        .filter(|l| l["speaker"] == "caller")
        .map(|l| l["text"].as_str().unwrap().to_lowercase())
        .collect();
    assert!(said.len() == 2 && said[0].contains("order") && said[1].contains("number"), "{said:?}");
    let ai: Vec<&str> =
        transcript.iter().filter(|l| l["speaker"] == "ai").filter_map(|l| l["text"].as_str()).collect();
    assert!(!ai.iter().any(|l| l.contains("which order")), "{ai:?}");
    let tool = timeline.iter().find(|e| e["kind"] == "tool_call").expect("tool call");
    assert_eq!(tool["data"]["arguments"]["order_number"], "1002", "{tool}");
}

/// The caller says "okay" while the agent explains something: an acknowledgement, not a turn.
/// The answer plays on to its end, and the model is not asked about "okay".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acknowledgement_while_the_ai_speaks_does_not_cut_it_off() {
    let _serial = SERIAL.lock().await;
    if !ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let question = speech(dir.path(), "What is your return policy?");
    let okay = speech(dir.path(), "Okay.");
    let rig = rig(dir).await;
    let phone = RtpPhone::start().await;
    let sipp = rig.call("+15555550177", &phone, 25_000);
    phone.wait_for_speech_then_quiet(0, 800, Duration::from_secs(15)).await;
    phone.say(&question).await;
    let asked = phone.heard_len();
    // Into the answer's first sentence, the caller acknowledges it.
    while phone.heard_len() < asked + 8000 * 2 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    phone.say(&okay).await;
    phone.wait_for_speech_then_quiet(asked, 1500, Duration::from_secs(20)).await;
    let answer = rig._dir.path().join("answer.wav");
    phone.save(asked, &answer);
    let heard = transcribe(&answer);
    sipp_ok(sipp.await.unwrap());
    let call = rig.last_call().await;
    let timeline = call["timeline"].as_array().unwrap();
    let transcript = call["transcript"].as_array().unwrap();
    assert!(
        heard.contains("store credit") && heard.contains("policy"),
        "the answer played to its end: {heard:?}; {transcript:?}"
    );
    let kinds: Vec<&str> = timeline.iter().filter_map(|e| e["kind"].as_str()).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "ai_turn").count(), 1, "one turn answered: {kinds:?}");
    assert!(!kinds.contains(&"interrupted") && !kinds.contains(&"ai_fallback"), "{kinds:?}");
    let said: Vec<String> = transcript
        .iter()
        .filter(|l| l["speaker"] == "caller")
        .map(|l| l["text"].as_str().unwrap().to_lowercase())
        .collect();
    assert!(
        said.len() == 2 && said[1].starts_with("ok"),
        "the acknowledgement is in the transcript: {said:?}"
    );
}

/// The caller says `line`; a person (baresip, auto-answer) must ring, answer and hear the
/// caller. Returns what the caller heard after speaking and how long until the phone rang.
async fn reaches_a_person(line: &str, extension: &str, number: &str) -> (String, Duration, Value) {
    let dir = tempfile::tempdir().unwrap();
    let question = speech(dir.path(), line);
    let tone: Vec<i16> = (0..8000 * 6)
        .map(|i| ((i as f32 * 500.0 * std::f32::consts::TAU / 8000.0).sin() * 9000.0) as i16)
        .collect();
    // baresip hangs up when its microphone file ends: longer than the call.
    let (mic, rec) = mic_and_recorder(dir.path(), "agent", 300.0, 40.0);
    let rig = rig(dir).await;
    let person = Baresip::start_with(
        &demo_account(&rig.sip, extension, ";answermode=auto"),
        PhoneOptions { microphone: Some(mic), record_dir: Some(rec.clone()), ..Default::default() },
    )
    .unwrap();
    rig.wait_registered(extension).await;
    let phone = RtpPhone::start().await;
    let sipp = rig.call(number, &phone, 35_000);
    phone.wait_for_speech_then_quiet(0, 800, Duration::from_secs(20)).await;
    phone.say(&question).await;
    let spoken = Instant::now();
    let asked = phone.heard_len();
    let mut rig = rig;
    // The person's phone answers by itself: "answering call" is when it rang.
    if let Err(e) = person.wait_for("answering call", Duration::from_secs(20)) {
        let out = sipp.await.unwrap();
        panic!(
            "{e}\nserver log:\n{}\nsipp: {}\n{}",
            rig.server.log_text(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let rang = spoken.elapsed();
    person.wait_for("Call established", Duration::from_secs(5)).unwrap();
    // The caller keeps talking: the person must hear it.
    phone.say(&tone).await;
    let answer = rig._dir.path().join("after.wav");
    phone.save(asked, &answer);
    sipp_ok(sipp.await.unwrap());
    person.wait_for("terminated", Duration::from_secs(10)).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let heard_by_person = find_file(&rec, "-dec.wav").unwrap();
    if let Ok(keep) = std::env::var("KEEP_PERSON_AUDIO") {
        std::fs::copy(&heard_by_person, keep).unwrap();
    }
    let (rms, hz) = tone_of(&heard_by_person).unwrap();
    assert!(
        rms > 0.01 && (400.0..600.0).contains(&hz),
        "the person did not hear the caller: rms {rms}, {hz} Hz"
    );
    person.stop();
    let call = rig.last_call().await;
    (transcribe(&answer), rang, call)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_who_asks_for_a_person_is_handed_to_the_escalation_agent() {
    let _serial = SERIAL.lock().await;
    if !ready() || !require_program("baresip") {
        return;
    }
    let (heard, _, call) = reaches_a_person("Can I talk to a person please?", "101", "+15555550177").await;
    assert!(heard.contains("connect"), "the caller was told: {heard:?}");
    let handoff =
        call["timeline"].as_array().unwrap().iter().find(|e| e["kind"] == "handoff").expect("handoff");
    assert_eq!(handoff["data"]["target"]["extension"], "101");
    assert_eq!(call["summary"], "Maria asked for a person", "{call}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_llm_stalls_the_caller_hears_an_apology_and_reaches_the_fallback() {
    let _serial = SERIAL.lock().await;
    if !ready() || !require_program("baresip") {
        return;
    }
    let (heard, rang, call) =
        reaches_a_person("Tell me a long story about tents.", "102", "+15555550177").await;
    assert!(heard.contains("sorry") && heard.contains("person"), "the apology: {heard:?}");
    let timeline = call["timeline"].as_array().unwrap();
    let fallback = timeline.iter().find(|e| e["kind"] == "ai_fallback").expect("fallback");
    assert!(fallback["data"]["reason"].as_str().unwrap().contains("did not answer"), "{fallback}");
    // From the failure (the LLM's 1.2 s limit) to the fallback's phone ringing, apology
    // included: within 2 s.
    let ringing = timeline.iter().find(|e| e["kind"] == "ringing").expect("the fallback rang");
    let gap = ringing["at"].as_i64().unwrap() - fallback["at"].as_i64().unwrap();
    assert!((0..2000).contains(&gap), "the fallback rang {gap} ms after the failure");
    // End of speech -> end of turn (0.7 s) -> transcript -> 1.2 s -> apology -> ringing.
    assert!(rang < Duration::from_secs(5), "the fallback rang {rang:?} after the caller stopped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_offline_guided_agent_answers_by_voice() {
    let _serial = SERIAL.lock().await;
    if !ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let lines = [
        "Where is my order?",
        "And order number one zero zero two?",
        "What is the weather like on Mars?",
        "Thank you, goodbye!",
    ];
    let speech: Vec<Vec<i16>> = lines.iter().map(|l| speech(dir.path(), l)).collect();
    let mut rig = rig(dir).await;
    let phone = RtpPhone::start().await;
    // The demo's AI number: the guided order assistant, no LLM configured. The agent ends the
    // call when the caller says goodbye.
    let sipp = rig.call_until_bye("+15555550101", &phone);
    if phone.try_wait_for_speech_then_quiet(0, 800, Duration::from_secs(30)).await.is_none() {
        panic!("no greeting; server log:\n{}", rig.server.log_text());
    }
    let mut answers = Vec::new();
    for (i, (line, audio)) in lines.iter().zip(&speech).enumerate() {
        phone.say(audio).await;
        let asked = phone.heard_len();
        if i == lines.len() - 1 {
            // Goodbye: the agent answers and hangs up.
            sipp_ok(sipp.await.unwrap());
            let file = rig._dir.path().join("goodbye.wav");
            phone.save(asked, &file);
            answers.push(transcribe(&file));
            break;
        }
        if phone.try_wait_for_speech_then_quiet(asked, 1200, Duration::from_secs(30)).await.is_none() {
            let all = rig._dir.path().join("all.wav");
            phone.save(0, &all);
            panic!(
                "no answer to {line:?}; heard {:?}; server log:\n{}",
                transcribe(&all),
                rig.server.log_text()
            );
        }
        let file = rig._dir.path().join(format!("answer{}.wav", answers.len()));
        phone.save(asked, &file);
        answers.push(transcribe(&file));
    }
    let call = rig.last_call().await;
    let said = format!("{answers:?}; transcript {}", call["transcript"]);
    // Maria's last order is 1001, delivered; 1002 is shipped; Mars is not an order. (Whisper
    // tiny sometimes hears Piper's "is shipped" over the phone line as "a ship": "ship" is
    // enough to show the status came through.)
    assert!(answers[0].contains("delivered"), "{said}");
    assert!(answers[1].contains("ship"), "{said}");
    assert!(answers[2].contains("person"), "an unknown question offers a person: {said}");
    // Whisper tiny hears Piper's "Goodbye!" as "goodbye" or "bye-bye".
    assert!(answers[3].contains("bye"), "{said}");
    assert!(call["disposition"].as_str().unwrap().contains("Switchboard hung up"), "{}", call["disposition"]);
    let usage = call["timeline"].as_array().unwrap().iter().find(|e| e["kind"] == "ai_usage").expect("usage");
    assert_eq!(usage["data"]["brain"], "guided");
}

/// The guided agent, asked for a person by voice, hands the caller to its escalation target,
/// the support queue, whose first member answers and hears the caller.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guided_agent_hands_a_caller_who_asks_for_a_person_to_an_agent() {
    let _serial = SERIAL.lock().await;
    if !ready() || !require_program("baresip") {
        return;
    }
    // The demo assistant hands callers to the support queue: Bob (102) is its first member.
    let (heard, _, call) = reaches_a_person("I want to talk to a real person.", "102", "+15555550101").await;
    assert!(heard.contains("colleague") || heard.contains("connect"), "the caller was told: {heard:?}");
    let timeline = call["timeline"].as_array().unwrap();
    let handoff = timeline.iter().find(|e| e["kind"] == "handoff").expect("handoff");
    assert_eq!(handoff["data"]["target"], json!({"type": "queue", "name": "support"}));
    let joined = timeline.iter().find(|e| e["kind"] == "queue_joined").expect("joined the queue");
    assert_eq!(joined["data"]["position"], 1);
    let answered = timeline.iter().find(|e| e["kind"] == "queue_answered").expect("answered from the queue");
    assert_eq!(answered["data"]["agent"], "102", "{answered}");
    assert!(
        call["summary"].as_str().unwrap().contains("Maria Garcia"),
        "the summary names the caller: {call}"
    );
}

/// `switchboard agent chat` with a script on standard input: the guided demo agent, the caller
/// matched by number, tool calls shown with -v, and the conversation in the call record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_chat_holds_a_scripted_conversation() {
    let _serial = SERIAL.lock().await;
    if !ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // The server creates the demo account; chat opens the same database next to it.
    let server = Server::start(&data, &["--demo"], &[]).unwrap();
    let client = switchboard_tests::http();
    let admin = login(&client, &server, "admin@demo.example", "switchboard-demo").await.unwrap();
    let mut chat = std::process::Command::new(switchboard_tests::bin())
        .args([
            "agent",
            "chat",
            "--account",
            "demo",
            "--agent",
            "order-assistant",
            "--caller",
            "+12025550100",
            "-v",
        ])
        .arg("--data-dir")
        .arg(&data)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = chat.stdin.take().unwrap();
        stdin.write_all(b"where is my order 1002?\nwhat is my balance\ngoodbye\n").unwrap();
    }
    let out = tokio::task::spawn_blocking(move || chat.wait_with_output()).await.unwrap().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("agent: Hi Maria,"), "{stdout}");
    assert!(stdout.contains("Order 1002 is shipped"), "{stdout}");
    assert!(stdout.contains("12.50 dollars"), "{stdout}");
    assert!(stdout.contains("[call ended by the agent"), "{stdout}");
    assert!(stderr.contains("[caller matched to customer Maria Garcia]"), "{stderr}");
    assert!(stderr.contains("[tool lookup_order {\"order_number\":\"1002\"}"), "{stderr}");
    // The conversation is a call record like a phone call's.
    let calls = get_json(&client, &server, &admin, "/api/calls").await;
    let id = calls[0]["id"].clone();
    let call = get_json(&client, &server, &admin, &format!("/api/calls/{id}")).await;
    assert_eq!(call["ai_agent"], "order-assistant", "{call}");
    assert_eq!(call["transcript"].as_array().unwrap().len(), 7, "greeting + 3 turns: {}", call["transcript"]);
    assert!(call["timeline"].as_array().unwrap().iter().any(|e| e["kind"] == "tool_call"));
}

/// Seconds of `path` that are a steady tone between `lo` and `hi` Hz (20 ms frames, loud, with
/// that zero-crossing rate): speech does not hold one pitch for long, a tone does.
fn tone_seconds(path: &std::path::Path, lo: f64, hi: f64) -> f64 {
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
fn longest_silence_ms(samples: &[i16]) -> usize {
    let (mut longest, mut run) = (0, 0);
    for f in samples.chunks(160) {
        let rms = (f.iter().map(|&s| (s as f64).powi(2)).sum::<f64>() / f.len() as f64).sqrt();
        run = if rms < 150.0 { run + 20 } else { 0 };
        longest = longest.max(run);
    }
    longest
}

/// The AI supervisor grid in headless Chromium: the supervisor signs in; a caller talking to an
/// LLM agent appears as a tile within 1 s; the transcript fills as the caller speaks; a private
/// note changes the AI's next answer (and is acknowledged); takeover rings the supervisor's
/// phone (baresip), which hears a briefing and then the caller, while the caller is never left
/// in silence for more than a second. An agent-role user gets neither the grid nor its feed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_watches_guides_and_takes_over_an_ai_call_in_the_browser() {
    let _serial = SERIAL.lock().await;
    if !ready() || !require_program("baresip") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let question = speech(dir.path(), "Where is my order number one zero zero two?");
    let follow_up = speech(dir.path(), "Can you do anything else for me?");
    let tone: Vec<i16> = (0..8000 * 5)
        .map(|i| ((i as f32 * 500.0 * std::f32::consts::TAU / 8000.0).sin() * 9000.0) as i16)
        .collect();
    // The supervisor's desk phone answers by itself and hangs up when its microphone ends.
    let (mic, rec) = mic_and_recorder(dir.path(), "supervisor", 300.0, 16.0);
    let mut rig = rig(dir).await;
    let Some(mut browser) = Browser::start(&rig.server.url("")).await else { return };
    let shots = screenshot_dir();
    let desk = Baresip::start_with(
        &demo_account(&rig.sip, "101", ";answermode=auto"),
        PhoneOptions { microphone: Some(mic), record_dir: Some(rec.clone()), ..Default::default() },
    )
    .unwrap();
    rig.wait_registered("101").await;

    browser
        .run(json!({"do": "login", "email": "supervisor@demo.example", "password": "switchboard-demo"}))
        .await;
    browser.run(json!({"do": "goto", "hash": "/grid"})).await;
    browser.run(json!({"do": "visible", "selector": "#grid-page"})).await;
    browser.run(json!({"do": "waitText", "selector": "#feed-status", "text": "live"})).await;

    let phone = RtpPhone::start().await;
    let sipp = rig.call_until_bye("+15555550177", &phone);
    let tile = browser.run(json!({"do": "waitTile", "timeout": 15000})).await;
    let shown_after = tile["seen"].as_i64().unwrap() - tile["started"].as_i64().unwrap();
    assert!(shown_after <= 1000, "the tile appeared {shown_after} ms after the AI took the call");
    let tile_text = tile["text"].as_str().unwrap().to_string();
    assert!(tile_text.contains("Maria") && tile_text.contains("llm-assistant"), "{tile_text}");
    let id = tile["id"].clone();
    browser.run(json!({"do": "screenshot", "path": shots.join("ai-grid.png")})).await;
    browser.run(json!({"do": "open", "id": id})).await;

    // The transcript fills as the caller speaks.
    phone.wait_for_speech_then_quiet(0, 800, Duration::from_secs(20)).await;
    browser.run(json!({"do": "waitText", "selector": "#d-transcript", "text": "hello, this is acme"})).await;
    phone.say(&question).await;
    browser.run(json!({"do": "waitText", "selector": "#d-transcript", "text": "order"})).await;
    let asked = phone.heard_len();
    phone.wait_for_speech_then_quiet(asked, 1200, Duration::from_secs(20)).await;
    // The AI's answer from the tool's result. (Whisper tiny sometimes hears "one zero zero two"
    // as another number, which the lookup does not find: this test is about the supervisor's
    // view, not recognition.)
    let answered =
        json!({"do": "waitText", "selector": "#d-transcript", "any": ["shipped", "could not find"]});
    let reply = browser.try_run(answered).await;
    if reply["ok"] != true {
        let shown = browser.run(json!({"do": "text", "selector": "#d-transcript"})).await;
        panic!(
            "no answer shown ({}): {}; server log:\n{}",
            reply["error"],
            shown["text"],
            rig.server.log_text()
        );
    }
    browser.run(json!({"do": "waitText", "selector": "#d-events", "text": "lookup_order"})).await;

    // A private note changes the AI's next answer; the caller hears the answer, not the note.
    let sent = browser.run(json!({"do": "note", "text": "Offer the caller free express shipping."})).await;
    assert!(sent["status"].as_str().unwrap().starts_with("Sent"), "{sent}");
    phone.say(&follow_up).await;
    let asked = phone.heard_len();
    phone.wait_for_speech_then_quiet(asked, 1200, Duration::from_secs(20)).await;
    let answer = rig._dir.path().join("guided-answer.wav");
    phone.save(asked, &answer);
    let heard = transcribe(&answer);
    assert!(heard.contains("express"), "the note changed the answer; the caller heard {heard:?}");
    assert!(!heard.contains("supervisor"), "{heard:?}");
    browser.run(json!({"do": "waitText", "selector": "#d-transcript", "text": "express shipping"})).await;
    browser.run(json!({"do": "waitText", "selector": "#d-events", "text": "guidance acknowledged"})).await;
    browser.run(json!({"do": "screenshot", "path": shots.join("ai-grid-open-tile.png")})).await;

    // Takeover: the desk phone rings, hears the briefing, then the caller.
    let before = phone.heard_len();
    let took = browser.run(json!({"do": "takeover", "extension": "101"})).await;
    assert!(took["status"].as_str().unwrap().contains("Ringing 101"), "{took}");
    desk.wait_for("answering call", Duration::from_secs(15)).unwrap();
    desk.wait_for("Call established", Duration::from_secs(5)).unwrap();
    browser
        .run(json!({"do": "waitText", "selector": "#d-events", "text": "takeover connected", "timeout": 20000}))
        .await;
    phone.say(&tone).await;
    let after = phone.heard_len();
    let waited = longest_silence_ms(&phone.heard.lock().unwrap()[before..after]);
    assert!(waited <= 1000, "the caller heard {waited} ms of silence during the takeover");
    // The grid lets the call go: the AI has left it.
    browser.run(json!({"do": "waitText", "selector": "#live-count", "text": "0"})).await;
    sipp_ok(sipp.await.unwrap());
    desk.wait_for("terminated", Duration::from_secs(10)).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let heard_by_desk = find_file(&rec, "-dec.wav").unwrap();
    let briefing = transcribe(&heard_by_desk);
    assert!(briefing.contains("taking over"), "the supervisor's briefing: {briefing:?}");
    let tone_heard = tone_seconds(&heard_by_desk, 450.0, 550.0);
    assert!(tone_heard >= 2.0, "the supervisor heard {tone_heard} s of the caller's 500 Hz tone");
    desk.stop();

    // Everything the supervisor did is in the call's timeline.
    let call = rig.last_call().await;
    let kinds: Vec<&str> =
        call["timeline"].as_array().unwrap().iter().filter_map(|e| e["kind"].as_str()).collect();
    for kind in ["supervisor_note", "guidance_acknowledged", "supervisor_takeover", "takeover_connected"] {
        assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
    }
    let note = call["timeline"].as_array().unwrap().iter().find(|e| e["kind"] == "supervisor_note").unwrap();
    assert_eq!(note["data"]["by"], "Sam Supervisor", "{note}");

    // An agent gets neither the grid nor its feed.
    browser.close().await;
    let Some(mut agent_view) = Browser::start(&rig.server.url("")).await else { return };
    agent_view
        .run(json!({"do": "login", "email": "alice@demo.example", "password": "switchboard-demo"}))
        .await;
    agent_view.run(json!({"do": "goto", "hash": "/grid"})).await;
    agent_view.run(json!({"do": "visible", "selector": "#forbidden"})).await;
    let probe = agent_view.run(json!({"do": "probeFeed"})).await;
    assert_eq!(probe["opened"], false, "an agent opened the live feed: {probe}");
    agent_view.close().await;
    let alice = login(&rig.client, &rig.server, "alice@demo.example", "switchboard-demo").await.unwrap();
    let r = rig.client.get(rig.server.url("/api/live/calls")).header("cookie", &alice).send().await.unwrap();
    assert_eq!(r.status(), 403);
}

/// Waits until the live call `id` has an event of `kind`; returns its data.
async fn live_event(rig: &Rig, cookie: &str, id: &Value, kind: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let detail = get_json(&rig.client, &rig.server, cookie, &format!("/api/live/calls/{id}")).await;
        if let Some(e) = detail["events"].as_array().and_then(|es| es.iter().find(|e| e["kind"] == kind)) {
            return e["data"].clone();
        }
        assert!(Instant::now() < deadline, "no {kind} in {detail}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Listen-in: the supervisor's desk phone hears the caller and the AI and is never heard by
/// the caller; when it hangs up the caller is still with the AI, which goes on answering.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_listens_in_unheard_and_the_call_goes_on_after() {
    let _serial = SERIAL.lock().await;
    if !ready() || !require_program("baresip") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let question = speech(dir.path(), "Where is my order number one zero zero two?");
    // The supervisor's microphone: a 2 kHz tone the caller must never hear.
    let (mic, rec) = mic_and_recorder(dir.path(), "listener", 2000.0, 60.0);
    let mut rig = rig(dir).await;
    let desk = Baresip::start_with(
        &demo_account(&rig.sip, "101", ";answermode=auto"),
        PhoneOptions { microphone: Some(mic), record_dir: Some(rec.clone()), ..Default::default() },
    )
    .unwrap();
    rig.wait_registered("101").await;
    let supervisor =
        login(&rig.client, &rig.server, "supervisor@demo.example", "switchboard-demo").await.unwrap();
    let phone = RtpPhone::start().await;
    // Long enough for two questions, a listen-in and a failed takeover on a busy machine.
    let sipp = rig.call("+15555550177", &phone, 55_000);
    phone.wait_for_speech_then_quiet(0, 800, Duration::from_secs(20)).await;
    let tiles = get_json(&rig.client, &rig.server, &supervisor, "/api/live/calls").await;
    let id = tiles[0]["id"].clone();
    let r = rig
        .client
        .post(rig.server.url(&format!("/api/live/calls/{id}/listen")))
        .header("cookie", &supervisor)
        .json(&json!({"extension": "101"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202, "{}", r.text().await.unwrap_or_default());
    desk.wait_for("Call established", Duration::from_secs(10)).unwrap();
    live_event(&rig, &supervisor, &id, "listen_connected").await;

    // The conversation goes on while the supervisor listens.
    let listening_from = phone.heard_len();
    phone.say(&question).await;
    let asked = phone.heard_len();
    phone.wait_for_speech_then_quiet(asked, 1200, Duration::from_secs(20)).await;
    let answer = rig._dir.path().join("answer-while-listened.wav");
    phone.save(asked, &answer);
    let heard = transcribe(&answer);
    // The AI looked the order up and said what it found. (Whisper tiny sometimes hears
    // espeak-ng's "1002" as another number; "could not find" is then the AI's right answer.
    // What this test is about is that the AI answers at all.)
    let looked_up = |heard: &str| heard.contains("ship") || heard.contains("could not find");
    assert!(
        looked_up(&heard),
        "the AI answered while listened to: {heard:?}; server log:\n{}",
        rig.server.log_text()
    );
    let while_listened = rig._dir.path().join("while-listened.wav");
    phone.save(listening_from, &while_listened);
    let leaked = tone_seconds(&while_listened, 1900.0, 2100.0);
    assert!(leaked < 0.1, "the caller heard the supervisor's microphone for {leaked} s");

    // The supervisor hangs up: the caller stays with the AI.
    desk.command("hangup", "").unwrap();
    live_event(&rig, &supervisor, &id, "listen_ended").await;
    phone.say(&question).await;
    let asked = phone.heard_len();
    if phone.try_wait_for_speech_then_quiet(asked, 1200, Duration::from_secs(20)).await.is_none() {
        let all = rig._dir.path().join("after-listen.wav");
        phone.save(asked, &all);
        panic!(
            "no answer after the listener left; heard {:?}; server log:\n{}",
            transcribe(&all),
            rig.server.log_text()
        );
    }
    let again = rig._dir.path().join("answer-after.wav");
    phone.save(asked, &again);
    let heard = transcribe(&again);
    assert!(
        looked_up(&heard),
        "the AI still answers after the listener left: {heard:?}; server log:\n{}",
        rig.server.log_text()
    );
    // A takeover nobody can answer (102 has no phone): the caller is told and stays with the AI.
    let r = rig
        .client
        .post(rig.server.url(&format!("/api/live/calls/{id}/takeover")))
        .header("cookie", &supervisor)
        .json(&json!({"extension": "102"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let failed_at = phone.heard_len();
    let failed = live_event(&rig, &supervisor, &id, "takeover_failed").await;
    assert_eq!(failed["status"], 480, "{failed}");
    phone.wait_for_speech_then_quiet(failed_at, 1200, Duration::from_secs(20)).await;
    let told = rig._dir.path().join("takeover-failed.wav");
    phone.save(failed_at, &told);
    let told = transcribe(&told);
    assert!(told.contains("colleague") && told.contains("still here"), "the caller was told: {told:?}");
    sipp_ok(sipp.await.unwrap());
    std::thread::sleep(Duration::from_millis(300));
    // The desk heard both sides: the caller's question and the AI's answer.
    let desk_heard = transcribe(&find_file(&rec, "-dec.wav").unwrap());
    assert!(desk_heard.contains("order") && looked_up(&desk_heard), "the listener heard: {desk_heard:?}");
    desk.stop();
    let call = rig.last_call().await;
    let kinds: Vec<&str> =
        call["timeline"].as_array().unwrap().iter().filter_map(|e| e["kind"].as_str()).collect();
    for kind in ["supervisor_listen", "listen_connected", "callee_left", "listen_ended"] {
        assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
    }
    assert!(call["disposition"].as_str().unwrap().contains("caller hung up"), "{}", call["disposition"]);
}

/// Waits for a voicemail in `mailbox` whose transcript is in; returns it.
async fn transcribed_voicemail(rig: &Rig, mailbox: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let list =
            get_json(&rig.client, &rig.server, &rig.admin, &format!("/api/voicemail?box={mailbox}")).await;
        if let Some(m) = list.as_array().and_then(|l| l.first()).filter(|m| m["transcript"].is_string()) {
            return m.clone();
        }
        assert!(Instant::now() < deadline, "no transcribed message in {mailbox}: {list}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Voicemail: the LLM agent's `take_message` records the caller's message in the agent's box
/// (after the beep; silence ends it); a queue nobody can answer overflows to its box, which
/// takes a message the same way.
/// Each message is filed with its caller, length, WAV recording and transcript, and is in the
/// call's timeline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callers_leave_messages_through_the_ai_agent_and_on_a_voicemail_number() {
    let _serial = SERIAL.lock().await;
    if !ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ask = speech(dir.path(), "I would like to leave a message.");
    let message = speech(dir.path(), "Please call me back about my order number one zero zero two.");
    let mut rig = rig(dir).await;

    // Through the AI agent.
    let phone = RtpPhone::start().await;
    let sipp = rig.call_until_bye("+15555550177", &phone);
    phone.wait_for_speech_then_quiet(0, 800, Duration::from_secs(20)).await;
    phone.say(&ask).await;
    let asked = phone.heard_len();
    // The agent says to leave a message, then the hint and the beep.
    let Some(beeped) = phone.try_wait_for_speech_then_quiet(asked, 1000, Duration::from_secs(20)).await
    else {
        panic!("no request for the message; server log:\n{}", rig.server.log_text())
    };
    let told = rig._dir.path().join("told.wav");
    phone.save(asked, &told);
    let told = transcribe(&told);
    assert!(told.contains("message") && told.contains("key"), "the caller was told: {told:?}");
    phone.say(&message).await;
    // Silence ends the message; the caller hears it was saved, and the PBX hangs up.
    sipp_ok(sipp.await.unwrap());
    let after = rig._dir.path().join("saved.wav");
    phone.save(beeped, &after);
    let saved = transcribe(&after);
    assert!(saved.contains("saved"), "the caller heard: {saved:?}");
    let left = transcribed_voicemail(&rig, "support").await;
    // espeak-ng over a phone line is hard to hear; the order number must come through.
    let transcript = left["transcript"].as_str().unwrap().to_lowercase();
    assert!(transcript.contains("call me") && spoken_digits(&transcript).contains("1002"), "{left}");
    assert_eq!(left["caller"], "+12025550100", "{left}");
    let said_ms = message.len() as i64 / 8;
    let kept = left["duration_ms"].as_i64().unwrap();
    assert!((said_ms - 500..said_ms + 1500).contains(&kept), "said {said_ms} ms, kept {kept} ms");
    let wav = rig
        .client
        .get(rig.server.url(&format!("/api/voicemail/{}/audio", left["id"])))
        .header("cookie", &rig.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(wav.status(), 200);
    let (info, samples) = wav::decode(&wav.bytes().await.unwrap()).unwrap();
    assert_eq!((info.sample_rate, samples.len() as i64 / 8), (8000, kept));
    let call = rig.last_call().await;
    let kinds: Vec<&str> =
        call["timeline"].as_array().unwrap().iter().filter_map(|e| e["kind"].as_str()).collect();
    for kind in ["take_message", "voicemail", "voicemail_transcribed"] {
        assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
    }

    // A number routed to the sales queue while nobody there can take calls (Alice's phone is
    // not registered): the queue overflows to its voicemail box: greeting, beep, message.
    let target = json!({"type": "queue", "name": "sales"});
    add_number(&rig.client, &rig.server, &rig.admin, "+15555550188", target).await;
    let phone = RtpPhone::start().await;
    let sipp = rig.call_until_bye("+15555550188", &phone);
    phone.wait_for_speech_then_quiet(0, 1000, Duration::from_secs(20)).await;
    let greeting = rig._dir.path().join("box-greeting.wav");
    phone.save(0, &greeting);
    let greeting = transcribe(&greeting);
    assert!(greeting.contains("leave your message"), "the box greeted: {greeting:?}");
    phone.say(&message).await;
    sipp_ok(sipp.await.unwrap());
    let left = transcribed_voicemail(&rig, "sales").await;
    assert!(spoken_digits(left["transcript"].as_str().unwrap()).contains("1002"), "{left}");
    let all = get_json(&rig.client, &rig.server, &rig.admin, "/api/voicemail").await;
    assert_eq!(all.as_array().unwrap().len(), 2, "{all}");
    let call = rig.last_call().await;
    let timeline = call["timeline"].as_array().unwrap();
    let overflow = timeline.iter().find(|e| e["kind"] == "queue_overflow").expect("overflow");
    assert_eq!(overflow["data"]["reason"], "nobody can take calls", "{overflow}");
    let offered = timeline.iter().find(|e| e["kind"] == "queue_offer").expect("offered to Alice");
    assert_eq!(
        (offered["data"]["agent"].as_str(), offered["data"]["status"].as_u64()),
        (Some("101"), Some(480))
    );
}
