//! Each queue strategy with three real phones (baresip, answering by themselves): a carrier
//! (sipp) calls the queue again and again, and who answered each call follows the strategy —
//! linear (by priority), round robin (after the last to answer), fewest calls today, longest
//! idle, random (each call to one of the members). Then a member whose phone rings out is set
//! unavailable after the queue's `max_missed_offers` and is not offered the next call.

use serde_json::{json, Value};
use std::time::Duration;
use switchboard_tests::pbx::{demo_pbx, DemoPbx};
use switchboard_tests::{
    add_number, demo_account, free_udp_port, get_json, last_call, queues, require_program, run_carrier,
    set_demo_trunk, wait_registered, Baresip, Server,
};

const NUMBER: &str = "+15555550178";

struct Floor {
    client: reqwest::Client,
    server: Server,
    admin: String,
    sip: String,
    carrier_port: u16,
}

impl Floor {
    /// One call: the caller waits in the queue, talks for a moment with whoever answers and
    /// hangs up. The extension that answered it.
    async fn call(&self, seconds: u32) -> String {
        let hold = format!("{}", seconds * 1000);
        let out = run_carrier(
            "call_then_hang_up.xml",
            &self.sip,
            self.carrier_port,
            NUMBER,
            &["-m", "1", "-d", &hold, "-timeout", "40s"],
        )
        .await;
        assert!(
            out.status.success(),
            "sipp: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        // The call has ended: the agent is free again before the next one (no wrap-up here).
        tokio::time::sleep(Duration::from_millis(400)).await;
        let record = last_call(&self.client, &self.server, &self.admin).await;
        let events = record["timeline"].as_array().cloned().unwrap_or_default();
        let answered = events.iter().find(|e| e["kind"] == "queue_answered");
        let answered = answered.unwrap_or_else(|| panic!("nobody answered: {record}"));
        answered["data"]["agent"].as_str().unwrap().to_string()
    }

    async fn calls(&self, n: usize) -> Vec<String> {
        let mut who = Vec::new();
        for _ in 0..n {
            who.push(self.call(4).await);
        }
        who
    }

    async fn strategy(&self, strategy: &str) {
        queues::change(&self.client, &self.server, &self.admin, "floor", |q| q["strategy"] = json!(strategy))
            .await;
    }
}

#[tokio::test]
async fn each_strategy_decides_who_is_offered_the_next_caller() {
    if !require_program("sipp") || !require_program("baresip") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let DemoPbx { server, client, admin, sip } = demo_pbx(dir.path(), &[]).await;
    let queue = json!({"name": "floor", "strategy": "linear", "ring_timeout_seconds": 5,
        "wrap_up_seconds": 0, "max_wait_seconds": 60, "max_missed_offers": 1});
    queues::create(&client, &server, &admin, &queue).await;
    queues::join(&client, &server, &admin, "101", "floor", 1).await;
    queues::join(&client, &server, &admin, "102", "floor", 2).await;
    let carol = json!({"extension": "103", "display_name": "Carol Diaz", "sip_password": "carol-sip-103-secret",
        "queues": [{"queue": "floor", "priority": 3}]});
    let r =
        client.post(server.url("/api/agents")).header("cookie", &admin).json(&carol).send().await.unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap_or_default());
    add_number(&client, &server, &admin, NUMBER, json!({"type": "queue", "name": "floor"})).await;
    let carrier_port = free_udp_port();
    set_demo_trunk(&client, &server, &admin, None, Some(carrier_port)).await;

    let alice = Baresip::start(&demo_account(&sip, "101", ";answermode=auto")).unwrap();
    let bob = Baresip::start(&demo_account(&sip, "102", ";answermode=auto")).unwrap();
    let carol = Baresip::start(&format!(
        "<sip:103@{sip}>;auth_pass=carol-sip-103-secret;regint=600;audio_codecs=PCMU;answermode=auto"
    ))
    .unwrap();
    wait_registered(&client, &server, &admin, &["101", "102", "103"]).await;
    let floor = Floor { client, server, admin, sip: sip.clone(), carrier_port };

    // Linear: the first by priority, every time they are free.
    assert_eq!(floor.calls(2).await, ["101", "101"], "linear");
    // Round robin: after whoever answered the queue's last call, in priority order.
    floor.strategy("round_robin").await;
    assert_eq!(floor.calls(3).await, ["102", "103", "101"], "round robin");
    // Fewest calls today (Alice has 3, Bob and Carol 1; equals keep their priority order).
    floor.strategy("fewest_calls").await;
    assert_eq!(floor.calls(3).await, ["102", "103", "102"], "fewest calls");
    // Longest idle: Alice has been free the longest, then Carol, then Bob.
    floor.strategy("longest_idle").await;
    assert_eq!(floor.calls(3).await, ["101", "103", "102"], "longest idle");
    // Random: each call answered by one of the members (the order is a unit test's business).
    floor.strategy("random").await;
    for who in floor.calls(3).await {
        assert!(["101", "102", "103"].contains(&who.as_str()), "random gave {who}");
    }

    // Alice's phone now rings without answering: her offer rings out after the ring timeout
    // (5 s), she is set unavailable (one missed offer is this queue's limit) and Bob takes it.
    drop(alice);
    let alice = Baresip::start(&demo_account(&sip, "101", "")).unwrap();
    wait_registered(&floor.client, &floor.server, &floor.admin, &["101"]).await;
    floor.strategy("linear").await;
    assert_eq!(floor.call(9).await, "102", "the offer to Alice rang out");
    alice.wait_for("Incoming call", Duration::from_secs(1)).unwrap();
    let record = last_call(&floor.client, &floor.server, &floor.admin).await;
    let events: Vec<Value> = record["timeline"].as_array().cloned().unwrap_or_default();
    let unavailable = events.iter().find(|e| e["kind"] == "agent_set_unavailable");
    let unavailable = unavailable.unwrap_or_else(|| panic!("Alice was not set unavailable: {events:?}"));
    assert_eq!(unavailable["data"]["agent"], "101", "{unavailable}");
    let agents = get_json(&floor.client, &floor.server, &floor.admin, "/api/presence").await;
    let alice_now = agents.as_array().and_then(|a| a.iter().find(|a| a["extension"] == "101")).cloned();
    assert_eq!(alice_now.map(|a| a["status"].clone()), Some(json!("away")), "{agents}");
    // The next caller is not offered to her: Bob again, her phone rang once only.
    assert_eq!(floor.call(4).await, "102");
    assert_eq!(alice.log().matches("Incoming call").count(), 1, "{}", alice.log());
    drop((alice, bob, carol));
}
