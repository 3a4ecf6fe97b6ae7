//! Every destination from every place that can name one: a table of origins (a number, a
//! schedule open or closed, an IVR option, timeout or invalid key, a queue's overflow, an AI
//! agent's hand-off, an agent's no-answer forwarding, the end of a voicemail message) times
//! targets (an agent, a queue, an IVR menu, a voicemail box, an AI agent, a schedule, an outside
//! number, hang up). Each pair gets its own number and configuration; a carrier (sipp) calls
//! every number of an origin at once, pressing that origin's keys, and each call's record must
//! show that the target's service took the caller: the agent's phone answered, the queue was
//! joined, the menu offered, the box greeted, the AI agent engaged, the outside number answered,
//! or Switchboard hung up.

use serde_json::{json, Value};
use std::time::Duration;
use switchboard_tests::{
    free_media_port, free_udp_port, get_json, login, mic_and_recorder, require_program, set_demo_trunk,
    Baresip, PhoneOptions, Server,
};

const OUTSIDE: &str = "+12025550123";

/// The targets, by index: what each is and how its record shows the caller reached it.
fn target(t: usize) -> Value {
    match t {
        0 => json!({"type": "agent", "extension": "102"}),
        1 => json!({"type": "queue", "name": "journey-queue"}),
        2 => json!({"type": "ivr_menu", "name": "journey-menu"}),
        3 => json!({"type": "voicemail_box", "name": "journey-box"}),
        4 => json!({"type": "ai_agent", "name": "journey-ai"}),
        5 => json!({"type": "schedule", "name": "journey-schedule"}),
        6 => json!({"type": "external", "number": OUTSIDE}),
        _ => json!({"type": "hangup"}),
    }
}

const TARGETS: [&str; 8] =
    ["agent", "queue", "ivr_menu", "voicemail_box", "ai_agent", "schedule", "external", "hangup"];

/// Whether the call's record shows it reached target `t`.
fn reached(t: usize, call: &Value) -> bool {
    let events = call["timeline"].as_array().cloned().unwrap_or_default();
    let event = |kind: &str, key: &str, value: &str| {
        events.iter().any(|e| e["kind"] == kind && e["data"][key] == value)
    };
    let leg = |kind: &str, endpoint: &str| {
        call["legs"].as_array().is_some_and(|legs| {
            legs.iter()
                .any(|l| l["kind"] == kind && l["endpoint"] == endpoint && l["answered_at"].is_number())
        })
    };
    match t {
        0 => leg("agent", "102") && call["agent_extension"] == "102",
        1 => event("queue_joined", "queue", "journey-queue"),
        2 => event("ivr_menu", "menu", "journey-menu"),
        3 => event("voicemail_started", "box", "journey-box"),
        4 => call["ai_agent"] == "journey-ai",
        5 => {
            event("schedule", "schedule", "journey-schedule")
                && event("voicemail_started", "box", "journey-sched-box")
        }
        6 => leg("external", OUTSIDE),
        // Switchboard hung up, and nobody but the caller was ever connected.
        _ => {
            call["hung_up_by"] == "system"
                && call["legs"].as_array().is_some_and(|legs| {
                    legs.iter().filter(|l| l["answered_at"].is_number()).all(|l| l["kind"] == "caller")
                })
        }
    }
}

/// An origin: its name, the keys the caller presses (digit, at ms after the answer), and the
/// configuration that leads from a number to target `t` through it (API path and body).
struct Origin {
    name: &'static str,
    keys: &'static [(&'static str, u64)],
    setup: fn(usize, Value) -> Vec<(&'static str, Value)>,
}

fn to(number: &str, target: Value) -> (&'static str, Value) {
    ("/api/phone_numbers", json!({"number": number, "target": target}))
}

fn schedule(name: &str, open: bool, open_target: Value, closed_target: Value) -> (&'static str, Value) {
    let days = json!(["mon", "tue", "wed", "thu", "fri", "sat", "sun"]);
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    // Open all day every day; the closed one has today as a holiday.
    let holidays = if open { json!([]) } else { json!([{"date": today, "name": "closed for the test"}]) };
    (
        "/api/schedules",
        json!({"name": name, "time_zone": "UTC", "weekly": [{"days": days, "open": "00:00", "close": "23:59"}],
               "holidays": holidays, "open_target": open_target, "closed_target": closed_target}),
    )
}

fn origins() -> Vec<Origin> {
    vec![
        Origin { name: "number", keys: &[], setup: |_, t| vec![to("{n}", t)] },
        Origin {
            name: "schedule open",
            keys: &[],
            setup: |i, t| {
                let s = format!("open-{i}");
                vec![
                    schedule(&s, true, t, json!({"type": "hangup"})),
                    to("{n}", json!({"type": "schedule", "name": s})),
                ]
            },
        },
        Origin {
            name: "schedule closed",
            keys: &[],
            setup: |i, t| {
                let s = format!("closed-{i}");
                vec![
                    schedule(&s, false, json!({"type": "hangup"}), t),
                    to("{n}", json!({"type": "schedule", "name": s})),
                ]
            },
        },
        Origin {
            name: "IVR option",
            keys: &[("1", 2_000)],
            setup: |i, t| {
                let m = format!("option-{i}");
                vec![
                    (
                        "/api/ivr_menus",
                        json!({"name": m, "prompt": {"type": "text", "text": "Press one."},
                        "options": [{"digit": "1", "target": t}], "timeout_seconds": 10, "max_attempts": 1}),
                    ),
                    to("{n}", json!({"type": "ivr_menu", "name": m})),
                ]
            },
        },
        Origin {
            name: "IVR timeout",
            keys: &[],
            setup: |i, t| {
                let m = format!("timeout-{i}");
                vec![
                    (
                        "/api/ivr_menus",
                        json!({"name": m, "prompt": {"type": "text", "text": "Hello."},
                        "options": [{"digit": "5", "target": {"type": "hangup"}}], "timeout_seconds": 1, "max_attempts": 1, "timeout_target": t}),
                    ),
                    to("{n}", json!({"type": "ivr_menu", "name": m})),
                ]
            },
        },
        Origin {
            name: "IVR invalid key",
            keys: &[("9", 2_000)],
            setup: |i, t| {
                let m = format!("invalid-{i}");
                vec![
                    (
                        "/api/ivr_menus",
                        json!({"name": m, "prompt": {"type": "text", "text": "Press one."},
                        "options": [{"digit": "1", "target": {"type": "hangup"}}], "timeout_seconds": 10,
                        "max_attempts": 1, "invalid_target": t}),
                    ),
                    to("{n}", json!({"type": "ivr_menu", "name": m})),
                ]
            },
        },
        Origin {
            name: "queue overflow",
            keys: &[],
            setup: |i, t| {
                let q = format!("overflow-{i}");
                vec![
                    ("/api/queues", json!({"name": q, "overflow_target": t})),
                    to("{n}", json!({"type": "queue", "name": q})),
                ]
            },
        },
        Origin {
            name: "AI hand-off",
            keys: &[("0", 3_000)],
            setup: |i, t| {
                let a = format!("handoff-{i}");
                vec![
                    (
                        "/api/ai_agents",
                        json!({"name": a, "system_prompt": "You help callers.",
                        "greeting": "Hello.", "escalation_target": t}),
                    ),
                    to("{n}", json!({"type": "ai_agent", "name": a})),
                ]
            },
        },
        Origin {
            name: "agent no answer",
            keys: &[],
            setup: |i, t| {
                let ext = format!("{}", 230 + i);
                vec![
                    (
                        "/api/agents",
                        json!({"extension": ext, "display_name": format!("Away {i}"),
                        "sip_password": format!("away-agent-secret-{i}"), "forwarding": {"on_no_answer": t}}),
                    ),
                    to("{n}", json!({"type": "agent", "extension": ext})),
                ]
            },
        },
        Origin {
            name: "end of voicemail",
            keys: &[("pound", 4_000), ("pound", 6_000), ("pound", 8_000)],
            setup: |i, t| {
                let b = format!("after-{i}");
                vec![
                    (
                        "/api/voicemail_boxes",
                        json!({"name": b, "greeting": {"type": "text", "text": "Leave a message."},
                        "after_message": t}),
                    ),
                    to("{n}", json!({"type": "voicemail_box", "name": b})),
                ]
            },
        },
    ]
}

/// The carrier's call to `[field0]` of the injection file: answered, the keys pressed, held
/// until Switchboard hangs up or `hold_ms` passes.
fn caller_scenario(keys: &[(&str, u64)], hold_ms: u64) -> String {
    let mut steps = String::new();
    let mut at = 0;
    for (digit, when) in keys {
        steps.push_str(&format!(
            "  <pause milliseconds=\"{}\"/>\n  <nop><action><exec play_pcap_audio=\"pcap/dtmf_2833_{digit}.pcap\"/></action></nop>\n",
            when - at
        ));
        at = *when;
    }
    format!(
        r#"<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="journey caller">
  <send retrans="500">
    <![CDATA[
      INVITE sip:[field0]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "Caller" <sip:+12025550177@[local_ip]:[local_port]>;tag=[pid]T[call_number]
      To: <sip:[field0]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:carrier@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=carrier 1 1 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[local_ip_type] [local_ip]
      t=0 0
      m=audio [auto_media_port] RTP/AVP 8 101
      a=rtpmap:8 PCMA/8000
      a=rtpmap:101 telephone-event/8000
      a=fmtp:101 0-16
    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rtd="true"/>
  <send>
    <![CDATA[
      ACK sip:[field0]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "Caller" <sip:+12025550177@[local_ip]:[local_port]>;tag=[pid]T[call_number]
      To: <sip:[field0]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
{steps}  <recv request="BYE" timeout="{hold}" ontimeout="hangup"/>
  <send next="done">
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0
    ]]>
  </send>
  <label id="hangup"/>
  <send retrans="500">
    <![CDATA[
      BYE sip:[field0]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "Caller" <sip:+12025550177@[local_ip]:[local_port]>;tag=[pid]T[call_number]
      To: <sip:[field0]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 2 BYE
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
  <recv response="200"/>
  <label id="done"/>
</scenario>
"#,
        hold = hold_ms.saturating_sub(at).max(1_000)
    )
}

/// The outside number: answers every call and waits for the BYE.
const OUTSIDE_SCENARIO: &str = r#"<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="outside number">
  <recv request="INVITE"/>
  <send retrans="500">
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]O[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:outside@[local_ip]:[local_port]>
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=outside 1 1 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 8 0
      a=rtpmap:8 PCMA/8000
      a=rtpmap:0 PCMU/8000
    ]]>
  </send>
  <recv request="ACK"/>
  <recv request="BYE" timeout="120000"/>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0
    ]]>
  </send>
</scenario>
"#;

async fn post(client: &reqwest::Client, server: &Server, admin: &str, path: &str, body: &Value) {
    let r = client.post(server.url(path)).header("cookie", admin).json(body).send().await.unwrap();
    let status = r.status();
    assert_eq!(status, 201, "{path} {body}: {}", r.text().await.unwrap_or_default());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_target_is_reached_from_every_place_that_names_one() {
    if !require_program("sipp") || !require_program("baresip") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sip = format!("127.0.0.1:{}", free_udp_port());
    let mut server = Server::start(&dir.path().join("data"), &["--demo", "--sip", &sip], &[]).unwrap();
    server.wait_for_log("speech engines ready", Duration::from_secs(120)).unwrap();
    let client = switchboard_tests::http();
    let admin = login(&client, &server, "admin@demo.example", "switchboard-demo").await.unwrap();

    // The targets themselves.
    for (path, body) in [
        ("/api/queues", json!({"name": "journey-queue", "max_wait_seconds": 60})),
        (
            "/api/ivr_menus",
            json!({"name": "journey-menu", "prompt": {"type": "text", "text": "Main menu."}, "options": [{"digit": "5", "target": {"type": "hangup"}}],
                   "timeout_seconds": 30, "max_attempts": 1}),
        ),
        ("/api/voicemail_boxes", json!({"name": "journey-box", "greeting": {"type": "text", "text": "Hi."}})),
        (
            "/api/voicemail_boxes",
            json!({"name": "journey-sched-box", "greeting": {"type": "text", "text": "Hi."}}),
        ),
        (
            "/api/ai_agents",
            json!({"name": "journey-ai", "system_prompt": "You help callers.", "greeting": "Hello from the AI.",
                   "escalation_target": {"type": "hangup"}}),
        ),
    ] {
        post(&client, &server, &admin, path, &body).await;
    }
    let (path, body) = schedule(
        "journey-schedule",
        true,
        json!({"type": "voicemail_box", "name": "journey-sched-box"}),
        json!({"type": "hangup"}),
    );
    post(&client, &server, &admin, path, &body).await;

    // The outside world: the trunk's carrier answers outside numbers; the callers' carrier is
    // trusted by address.
    let outside_port = free_udp_port();
    let caller_port = free_udp_port();
    set_demo_trunk(&client, &server, &admin, Some(outside_port), Some(caller_port)).await;
    let outside_file = dir.path().join("outside.xml");
    std::fs::write(&outside_file, OUTSIDE_SCENARIO).unwrap();
    let mut outside = tokio::process::Command::new("sipp")
        .arg("-sf")
        .arg(&outside_file)
        .args(["-i", "127.0.0.1", "-p", &outside_port.to_string(), "-mi", "127.0.0.1"])
        .args(["-mp", &free_media_port().to_string(), "-rtp_echo", "-nostdin", "-timeout", "600s"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // Agent 102 answers whatever rings it.
    let (mic, _rec) = mic_and_recorder(dir.path(), "bob", 500.0, 600.0);
    let bob = Baresip::start_with(
        // G.711 A-law as the carrier offers (the relay does not transcode between G.711 laws).
        &format!("<sip:102@{sip}>;auth_pass=bob-sip-102;regint=600;audio_codecs=PCMA,PCMU;answermode=auto"),
        PhoneOptions { microphone: Some(mic), ..Default::default() },
    )
    .unwrap();
    bob.wait_for("200 OK", Duration::from_secs(10)).unwrap();

    // sipp's pcaps (the keys) are found under ./pcap.
    std::os::unix::fs::symlink("/usr/share/sip-tester", dir.path().join("pcap")).unwrap();
    let mut missed = Vec::new();
    for (o, origin) in origins().iter().enumerate() {
        let mut numbers = Vec::new();
        for t in 0..TARGETS.len() {
            let i = o * 10 + t;
            let number = format!("+155570{o:02}{t:02}");
            for (path, body) in (origin.setup)(i, target(t)) {
                let body: Value = serde_json::from_str(&body.to_string().replace("{n}", &number)).unwrap();
                post(&client, &server, &admin, path, &body).await;
            }
            numbers.push(number);
        }
        let scenario = dir.path().join(format!("caller-{o}.xml"));
        std::fs::write(&scenario, caller_scenario(origin.keys, 12_000)).unwrap();
        let csv = dir.path().join(format!("numbers-{o}.csv"));
        let rows: Vec<String> = numbers.iter().map(|n| n.trim_start_matches('+').to_string()).collect();
        std::fs::write(&csv, format!("SEQUENTIAL\n{}\n", rows.join("\n"))).unwrap();
        let out = tokio::process::Command::new("sipp")
            .current_dir(dir.path())
            .arg("-sf")
            .arg(&scenario)
            .arg("-inf")
            .arg(&csv)
            .args([sip.as_str(), "-i", "127.0.0.1", "-p", &caller_port.to_string(), "-mi", "127.0.0.1"])
            .args(["-mp", &free_media_port().to_string(), "-m", &numbers.len().to_string()])
            .args(["-l", &numbers.len().to_string(), "-r", "20", "-nostdin", "-timeout", "90s"])
            .output()
            .await
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        // Records are written a moment after the calls end.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let calls = get_json(&client, &server, &admin, "/api/calls?limit=1000").await;
        for (t, number) in numbers.iter().enumerate() {
            let record = calls.as_array().unwrap().iter().find(|c| c["to_number"] == number.as_str());
            let detail = match record {
                Some(c) => get_json(&client, &server, &admin, &format!("/api/calls/{}", c["id"])).await,
                None => Value::Null,
            };
            if !reached(t, &detail) {
                missed.push(format!(
                    "{} -> {}: {}\n(sipp: {})",
                    origin.name,
                    TARGETS[t],
                    detail,
                    stdout
                        .lines()
                        .filter(|l| l.contains("Successful call") || l.contains("Failed call"))
                        .collect::<Vec<_>>()
                        .join(" ")
                ));
            }
        }
    }
    let _ = outside.kill().await;
    bob.stop();
    assert!(
        missed.is_empty(),
        "{} of {} (origin, target) pairs did not reach their target:\n{}\nserver log:\n{}",
        missed.len(),
        origins().len() * TARGETS.len(),
        missed.join("\n\n"),
        server.log_text()
    );
}
