//! AI agents on real calls: sipp places the carrier's call (SIP), the test is the caller's
//! phone on RTP (PCMU): it hears the greeting, asks its question in speech made with espeak-ng,
//! and what the PBX sends back is transcribed with the local Whisper. A scripted
//! OpenAI-compatible server is the LLM. Also: the caller asks for a person and a baresip agent
//! rings, answers and hears the caller; the LLM stalls and the caller hears the apology and
//! reaches the fallback agent; the offline guided agent answers by voice with no LLM at all.
//! Supervisors on AI calls are in `ai_supervision.rs`. The scripted LLM, the phone and the PBX rig are in `ai_support`.

mod ai_support;

use ai_support::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use switchboard_telephony::media::wav;
use switchboard_tests::{
    add_number, demo_account, find_file, get_json, login, mic_and_recorder, require_program, tone_of,
    Baresip, PhoneOptions, Server,
};

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
    // The waterfall runs from the end of the caller's speech, stage after stage: the voice
    // activity detector's decision that it stopped, then the end of the turn, which cannot come
    // before speech counted as stopped (64 ms of silence).
    let stages = [
        "speech_stopped_ms",
        "end_of_turn_ms",
        "final_transcript_ms",
        "first_token_ms",
        "first_audio_ms",
        "first_packet_ms",
    ];
    let at: Vec<u64> = stages
        .iter()
        .map(|s| latency["data"][s].as_u64().unwrap_or_else(|| panic!("{s} missing: {latency}")))
        .collect();
    assert!(at.windows(2).all(|w| w[0] <= w[1]), "stages out of order: {latency}");
    assert!(at[1] >= 60, "the turn ended {} ms after speech: {latency}", at[1]);
    // Where the caller's speech ended on the wall clock, so that a caller's own clock can
    // place the stages (it was during this call).
    let end = latency["data"]["speech_end_unix_ms"].as_f64().expect("speech_end_unix_ms");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as f64;
    assert!((now - 120_000.0..now).contains(&end), "{end} vs now {now}");
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
    // `agent replay`: the call's caller turns said again to the agent, unchanged, do the same.
    let data = rig._dir.path().join("data").display().to_string();
    let args = ["agent", "replay", "--account", "demo", "--last", "1", "--data-dir", &data];
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let out = tokio::task::spawn_blocking(move || {
        switchboard_tests::run(&args.iter().map(String::as_str).collect::<Vec<_>>(), &[])
    })
    .await
    .unwrap();
    let replayed = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{replayed}{}", String::from_utf8_lossy(&out.stderr));
    assert!(replayed.contains("lookup_order") && !replayed.contains("DIFFERENT"), "{replayed}");
}

/// The caller pauses after "Where is my order?" and says its number while the model is still
/// working on an answer: nothing the caller said is lost, the model gets both turns, the cut
/// answer is never heard, the caller hears the order's status, and their later turns are
/// waited for longer (they hesitate).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_who_goes_on_speaking_while_the_ai_thinks_is_answered_in_full() {
    let _serial = SERIAL.lock().await;
    if !ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let question = speech(dir.path(), "Where is my order?");
    let number = speech(dir.path(), "Order number one zero zero two.");
    let mut rig = rig(dir).await;
    let (phone, sipp) = rig.greeted_call("+15555550177", 20_000).await;
    phone.say(&question).await;
    // The turn ends after 0.2 s of silence (a finished sentence) and the model answers slowly:
    // the caller goes on once the turn has been taken (waiting a fixed time instead failed in
    // CI on a busy machine, where the turn ended only after the caller had gone on, so both
    // were one turn and the case under test never happened).
    rig.server.wait_for_log("caller's turn recognised", Duration::from_secs(10)).unwrap();
    phone.say(&number).await;
    let asked = phone.heard_len();
    let (heard, call) = rig.answer_and_record(&phone, sipp, asked, 1200, Duration::from_secs(15)).await;
    let timeline = call["timeline"].as_array().unwrap();
    let transcript = call["transcript"].as_array().unwrap();
    assert!(heard.contains("ship"), "order 1002 is shipped; the caller heard: {heard:?}; {transcript:?}");
    assert!(!heard.contains("you mean"), "the cut answer was played: {heard:?}");
    assert!(timeline.iter().any(|e| e["kind"] == "caller_continued"), "{timeline:?}");
    // Cut off once, the caller is waited for longer from then on (a second of silence).
    let patient = timeline.iter().find(|e| e["kind"] == "caller_hesitates").expect("caller_hesitates");
    assert_eq!(patient["data"]["end_of_turn_silence_ms"], 1000, "{patient}");
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
    let (phone, sipp) = rig.greeted_call("+15555550177", 25_000).await;
    phone.say(&question).await;
    let asked = phone.heard_len();
    // Into the answer's first sentence, the caller acknowledges it.
    while phone.heard_len() < asked + 8000 * 2 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    phone.say(&okay).await;
    let (heard, call) = rig.answer_and_record(&phone, sipp, asked, 1500, Duration::from_secs(20)).await;
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
    let mut rig = rig;
    if phone.try_wait_for_speech_then_quiet(0, 800, Duration::from_secs(20)).await.is_none() {
        let log = rig.server.log_text();
        let out = tokio::time::timeout(Duration::from_secs(40), sipp).await;
        let sipp = match out {
            Ok(Ok(o)) => {
                format!("{}\n{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
            }
            other => format!("{other:?}"),
        };
        panic!("the agent did not greet within 20 s; server log:\n{log}\nsipp:\n{sipp}");
    }
    phone.say(&question).await;
    let spoken = Instant::now();
    let asked = phone.heard_len();
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
    // tiny hears Piper's "is shipped" over the phone line as "a ship" or worse: the agent's
    // own transcript carries the status, and the caller heard the order's number with it.)
    assert!(answers[0].contains("delivered"), "{said}");
    let ai_said: Vec<&str> = call["transcript"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["speaker"] == "ai")
        .filter_map(|l| l["text"].as_str())
        .collect();
    assert!(ai_said.iter().any(|l| l.contains("Order 1002 is shipped")), "{said}");
    assert!(spoken_digits(&answers[1]).contains("1002"), "{said}");
    assert!(answers[2].contains("person"), "an unknown question offers a person: {said}");
    // Whisper tiny hears Piper's "Goodbye!" as "goodbye" or "bye-bye".
    assert!(answers[3].contains("bye"), "{said}");
    assert_eq!((&call["disposition"], &call["hung_up_by"]), (&json!("answered"), &json!("system")), "{call}");
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

/// The AI supervisor grid in headless Chromium: the supervisor signs in; a caller talking to an
/// LLM agent appears as a tile within 1 s; the transcript fills as the caller speaks; a private
/// note changes the AI's next answer (and is acknowledged); takeover rings the supervisor's
/// phone (baresip), which hears a briefing and then the caller, while the caller is never left
/// in silence for more than a second. An agent-role user gets neither the grid nor its feed.
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
