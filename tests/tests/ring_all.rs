//! A ring-all queue with three baresip agents: a carrier caller (sipp) waits in it; Alice's,
//! Bob's and Carol's phones all ring at once; Carol picks up and has the caller, the other two
//! stop ringing (CANCEL); the record has a leg per agent, Carol's answered and the others
//! "answered_elsewhere", and the queue's answer is hers.

use serde_json::{json, Value};
use std::time::Duration;
use switchboard_tests::pbx::{demo_pbx, DemoPbx};
use switchboard_tests::{
    add_number, demo_account, free_media_port, free_udp_port, last_call, queues, require_program,
    set_demo_trunk, wait_registered, Baresip,
};

#[tokio::test]
async fn a_ring_all_queue_rings_every_agent_at_once_and_the_first_to_answer_takes_the_caller() {
    if !require_program("sipp") || !require_program("baresip") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let DemoPbx { server, client, admin, sip } = demo_pbx(dir.path(), &[]).await;
    let queue = json!({"name": "everyone", "strategy": "ring_all", "ring_timeout_seconds": 20,
        "greeting": {"type": "text", "text": "Connecting you."}, "max_wait_seconds": 60});
    queues::create(&client, &server, &admin, &queue).await;
    queues::join(&client, &server, &admin, "101", "everyone", 1).await;
    queues::join(&client, &server, &admin, "102", "everyone", 1).await;
    let carol = json!({"extension": "103", "display_name": "Carol Diaz", "sip_password": "carol-sip-103-secret",
        "queues": [{"queue": "everyone", "priority": 3}]});
    let r =
        client.post(server.url("/api/agents")).header("cookie", &admin).json(&carol).send().await.unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap_or_default());
    add_number(&client, &server, &admin, "+15555550177", json!({"type": "queue", "name": "everyone"})).await;
    let carrier_port = free_udp_port();
    set_demo_trunk(&client, &server, &admin, None, Some(carrier_port)).await;

    // Three phones that ring until someone picks up.
    let alice = Baresip::start(&demo_account(&sip, "101", "")).unwrap();
    let bob = Baresip::start(&demo_account(&sip, "102", "")).unwrap();
    let carol = Baresip::start(&format!(
        "<sip:103@{sip}>;auth_pass=carol-sip-103-secret;regint=600;audio_codecs=PCMU"
    ))
    .unwrap();
    wait_registered(&client, &server, &admin, &["101", "102", "103"]).await;

    let scenario = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/ai_caller_until_bye.xml");
    let caller = tokio::process::Command::new("sipp")
        .args(["-sf", scenario, &sip, "-i", "127.0.0.1", "-p", &carrier_port.to_string(), "-mi", "127.0.0.1"])
        .args(["-mp", &free_media_port().to_string(), "-s", "+15555550177", "-key", "rtp_port"])
        .args([&free_udp_port().to_string(), "-m", "1", "-nostdin", "-timeout", "60s"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // All three ring at once (the ring timeout is 20 s: nobody is rung after another).
    for phone in [&alice, &bob, &carol] {
        phone.wait_for("Incoming call", Duration::from_secs(20)).unwrap();
    }
    carol.command("accept", "").unwrap();
    carol.wait_for("Call established", Duration::from_secs(10)).unwrap();
    // The others stop ringing: their phones get the CANCEL.
    for phone in [&alice, &bob] {
        phone.wait_for("session closed", Duration::from_secs(10)).unwrap();
        assert!(!phone.log().contains("Call established"), "{}", phone.log());
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    carol.command("hangup", "").unwrap();
    let out = caller.wait_with_output().await.unwrap();
    assert!(out.status.success(), "sipp: {}", String::from_utf8_lossy(&out.stdout));

    let record = last_call(&client, &server, &admin).await;
    let events: Vec<Value> = record["timeline"].as_array().cloned().unwrap_or_default();
    let answered =
        events.iter().find(|e| e["kind"] == "queue_answered").unwrap_or_else(|| panic!("{events:?}"));
    assert_eq!(answered["data"]["agent"], "103", "{answered}");
    assert!(!events.iter().any(|e| e["kind"] == "queue_offer"), "nobody was offered it alone: {events:?}");
    let legs = record["legs"].as_array().cloned().unwrap_or_default();
    let outcome = |ext: &str| {
        legs.iter()
            .find(|l| l["endpoint"] == ext)
            .map(|l| l["outcome"].clone())
            .unwrap_or_else(|| panic!("no leg for {ext}: {legs:?}"))
    };
    assert_eq!(outcome("101"), "answered_elsewhere", "{legs:?}");
    assert_eq!(outcome("102"), "answered_elsewhere", "{legs:?}");
    assert_eq!(record["agent_extension"], "103", "the record is Carol's");
    drop((alice, bob, carol));
}
