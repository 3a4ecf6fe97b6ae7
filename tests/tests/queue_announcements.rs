//! A waiting caller hears their place and an estimated wait that comes from the queue's real
//! answer times (Asterisk's announce-holdtime), transcribed back from what reached their phone:
//! a first caller waits a few seconds before Alice can answer (that wait is the queue's hold
//! time), then a second caller, with Alice busy again, is told "you are next in line" and
//! "about 1 minute", the hold time rounded up to whole minutes.

mod ai_support;

use ai_support::*;
use serde_json::{json, Value};
use std::time::Duration;
use switchboard_tests::{add_number, demo_account, Baresip, PhoneOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_caller_hears_their_place_and_an_estimated_wait_from_real_answer_times() {
    let _serial = SERIAL.lock().await;
    if !ready() || !switchboard_tests::require_program("baresip") {
        return;
    }
    let rig = rig(tempfile::tempdir().unwrap()).await;
    let dir = rig._dir.path().to_path_buf();
    // Sales announces place and wait every 15 s (the shortest allowed).
    rig.update_queue("sales", |sales| {
        sales["announce_position"] = json!(true);
        sales["announce_wait_time"] = json!(true);
        sales["announce_every_seconds"] = json!(15);
    })
    .await;
    add_number(
        &rig.client,
        &rig.server,
        &rig.admin,
        "+15555550166",
        json!({"type": "queue", "name": "sales"}),
    )
    .await;

    // Alice (sales' only member) answers by herself; Bob keeps her busy.
    let alice = Baresip::start(&demo_account(&rig.sip, "101", ";answermode=auto")).unwrap();
    rig.wait_registered("101").await;
    let dial =
        |sip: &str| PhoneOptions { commands: vec![format!("/dial sip:101@{sip}")], ..Default::default() };
    let bob = Baresip::start_with(&demo_account(&rig.sip, "102", ""), dial(&rig.sip)).unwrap();
    bob.wait_for("Call established", Duration::from_secs(15)).unwrap();

    // The first caller waits about five seconds: Bob hangs up and Alice takes them.
    let first = RtpPhone::start().await;
    // (Fixed waits, not "speech then quiet": the hold chime follows the greeting closely.)
    let first_call = rig.call("+15555550166", &first, 15_000);
    tokio::time::sleep(Duration::from_secs(5)).await;
    bob.command("hangup", "").unwrap();
    sipp_ok(first_call.await.unwrap());
    let first_record = rig.last_call().await;
    let events: Vec<Value> = first_record["timeline"].as_array().cloned().unwrap_or_default();
    let answered =
        events.iter().find(|e| e["kind"] == "queue_answered").unwrap_or_else(|| panic!("{events:?}"));
    let waited = answered["data"]["waited_ms"].as_u64().unwrap_or_default();
    assert!((2_000..60_000).contains(&waited), "the first caller's wait: {answered}");

    // Alice is busy again; the second caller waits and is told where they stand.
    let established = |p: &Baresip| p.log().matches("Call established").count();
    let before = established(&bob);
    bob.command("dial", &format!("sip:101@{}", rig.sip)).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while established(&bob) == before {
        assert!(std::time::Instant::now() < deadline, "Bob's second call: {}", bob.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let second = RtpPhone::start().await;
    let second_call = rig.call("+15555550166", &second, 30_000);
    // The greeting, then the first announcement 15 s after joining.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let mark = second.heard_len();
    tokio::time::sleep(Duration::from_secs(19)).await;
    let heard_file = dir.join("announcement.wav");
    second.save(mark, &heard_file);
    let heard = transcribe(&heard_file).to_lowercase();
    sipp_ok(second_call.await.unwrap());
    // The call record says what was announced, word for word ...
    let second_record = rig.last_call().await;
    let announced: Vec<String> = second_record["timeline"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["kind"] == "queue_announced")
        .map(|e| e["data"]["text"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(
        announced.first().is_some_and(|t| t.starts_with("You are next in line.")),
        "the place was not announced: {announced:?}"
    );
    // ... and the caller's phone heard it (Whisper tiny has heard "next in line" as "an x-line"
    // and "an x-den line": the place is checked in the record, the line here).
    assert!(heard.contains("line"), "the place was not heard: {heard}");
    // ("wait" and "weight" sound the same to the recogniser.)
    assert!(
        heard.contains("estimated wait") || heard.contains("estimated weight"),
        "the wait was not announced: {heard}"
    );
    assert!(
        heard.contains("1 minute") || heard.contains("one minute"),
        "a wait of {waited} ms is about a minute: {heard}"
    );
    drop((alice, bob));
}
