//! An AI agent takes a card payment: the caller (sipp's call, the test's RTP phone) asks to
//! pay, the scripted LLM calls `take_payment`, the caller keys a canary card as RFC 4733 events
//! and a scripted Stripe-compatible processor gets it. The model gets the outcome and the last
//! four digits, and no request it was sent holds the card number; neither do the call's record,
//! transcript or the server's log.

mod ai_support;

use ai_support::*;
use std::time::Duration;
use switchboard_tests::get_json;
use switchboard_tests::payments::{add_gateway, holds_canary, processor, CANARY};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ai_agent_takes_a_card_by_keypad_and_the_model_never_sees_the_number() {
    let _serial = SERIAL.lock().await;
    if !ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ask = speech(dir.path(), "I would like to make a payment.");
    let mut rig = rig(dir).await;
    let (url, processed) = processor().await;
    add_gateway(&rig.client, &rig.server, &rig.admin, &url).await;
    let phone = RtpPhone::start().await;
    let sipp = rig.call("+15555550177", &phone, 40_000);
    phone.wait_for_speech_then_quiet(0, 800, Duration::from_secs(15)).await;
    phone.say(&ask).await;
    // The payment's first prompt (the amount, then how to key the card); the first key cuts it.
    let asked = phone.heard_len();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while phone.heard_len() < asked + 8000 * 3 {
        assert!(std::time::Instant::now() < deadline, "no payment prompt");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    phone.key(&format!("{CANARY}#")).await;
    phone.key("1230").await;
    phone.key("737").await;
    // The processor is paid; the agent then says how it went.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while processed.lock().unwrap().len() < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "the processor was not paid: {:?}",
            processed.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let paid = phone.heard_len();
    if phone.try_wait_for_speech_then_quiet(paid, 1500, Duration::from_secs(30)).await.is_none() {
        let all = rig._dir.path().join("all.wav");
        phone.save(asked, &all);
        let heard = phone.heard.lock().unwrap().clone();
        let rms: Vec<u32> = heard[asked..]
            .chunks(8000)
            .map(|c| (c.iter().map(|&s| (s as f64).powi(2)).sum::<f64>() / c.len() as f64).sqrt() as u32)
            .collect();
        panic!(
            "no answer after the payment: heard {:?}; rms per second {rms:?}; log {}",
            transcribe(&all),
            rig.server
                .log_text()
                .lines()
                .filter(|l| l.contains("payment")
                    || l.contains("tool")
                    || l.contains("WARN")
                    || l.contains("ERROR"))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    let answer = rig._dir.path().join("paid.wav");
    phone.save(paid, &answer);
    let heard = transcribe(&answer);
    let sent = processed.lock().unwrap().clone();
    assert!(sent[0].2.contains(&format!("card%5Bnumber%5D={CANARY}")), "{sent:?}");
    assert!(sent[1].2.contains("amount=1999"), "{sent:?}");
    sipp_ok(sipp.await.unwrap());
    let record = rig.last_call().await;
    // The model got the outcome and the last four digits, never the number.
    let requests = LLM_REQUESTS.lock().unwrap().clone();
    let tool_result = requests.iter().find(|r| r.contains("\\\"last4\\\":\\\"5556\\\""));
    assert!(tool_result.is_some_and(|r| r.contains("succeeded")), "the model got the result: {requests:?}");
    for r in &requests {
        assert!(!holds_canary(r), "the card number reached the LLM: {r}");
    }
    assert!(
        heard.contains("payment") || heard.contains("five five five six") || heard.contains("5556"),
        "{heard:?}"
    );
    // Stored, in the timeline without a key, and nowhere in the record, transcript or log.
    let kinds: Vec<&str> =
        record["timeline"].as_array().unwrap().iter().filter_map(|e| e["kind"].as_str()).collect();
    assert!(kinds.contains(&"payment_completed") && !kinds.contains(&"dtmf"), "{kinds:?}");
    let payments =
        get_json(&rig.client, &rig.server, &rig.admin, &format!("/api/payments?call_id={}", record["id"]))
            .await;
    assert_eq!(payments[0]["taken_by"], "AI agent llm-assistant", "{payments}");
    assert!(!holds_canary(&record.to_string()), "the card number is in the call's record");
    assert!(!holds_canary(&rig.server.log_text()), "the card number is in the log");
}
