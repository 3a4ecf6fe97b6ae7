//! Browsers' softphones in a cluster: JsSIP registers over WebSocket with the SIP entry
//! (Kamailio, `WS_LISTEN`; the nodes tell the page with `--sip-websocket-url`), which adds a
//! `Path` like a phone's, so calls on every node ring the browser through the entry while its
//! media goes straight to the node's WebRTC relay. Headless Chromium signed in on node 1 answers
//! a carrier's call on each node and hears its tone.

use serde_json::json;
use std::time::{Duration, Instant};
use switchboard_tests::cluster::{node, start_entry};
use switchboard_tests::workspace::{alice_in_browser, wait_line};
use switchboard_tests::{
    add_number, browser_hears, free_tcp_port, free_udp_port, fresh_postgres, get_json, login,
    require_program, run_carrier, set_demo_trunk, sipp_counts, Server,
};

const NUMBER: &str = "+15557770400";

/// A carrier's call through the entry that plays a 440 Hz tone once answered, for `hold_ms`.
fn tone_call(
    dir: &std::path::Path,
    entry: u16,
    hold_ms: u32,
) -> tokio::task::JoinHandle<std::process::Output> {
    let tone = dir.join("tone-440.ul");
    let samples: Vec<u8> = (0..8000 * 20)
        .map(|i| {
            let s = (2.0 * std::f32::consts::PI * 440.0 * i as f32 / 8000.0).sin() * 8000.0;
            switchboard_telephony::media::g711::linear_to_ulaw(s as i16)
        })
        .collect();
    std::fs::write(&tone, samples).unwrap();
    let base =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/cluster_call.xml")).unwrap();
    let play =
        format!("<nop><action><exec rtp_stream=\"{},-1,0\"/></action></nop>\n  <pause/>", tone.display());
    let scenario = dir.join("tone_call.xml");
    std::fs::write(&scenario, base.replacen("<pause/>", &play, 1)).unwrap();
    let entry = format!("127.0.0.1:{entry}");
    tokio::spawn(async move {
        let hold = hold_ms.to_string();
        let args = [
            "-m",
            "1",
            "-d",
            &hold,
            "-timeout",
            "60",
            "-timeout_error",
            "-default_behaviors",
            "all,-abortunexp",
        ];
        run_carrier(scenario.to_str().unwrap(), &entry, free_udp_port(), NUMBER, &args).await
    })
}

async fn calls(client: &reqwest::Client, server: &Server, cookie: &str) -> Vec<serde_json::Value> {
    get_json(client, server, cookie, "/api/calls?limit=100").await.as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn a_browser_registered_through_the_entry_is_rung_from_every_node() {
    if !require_program("kamailio") || !require_program("sipp") {
        return;
    }
    let Some(pg) = fresh_postgres().await else { return };
    let dir = tempfile::tempdir().unwrap();
    let (entry_port, ws_port) = (free_udp_port(), free_tcp_port());
    let ports = [free_udp_port(), free_udp_port()];
    let ws = format!("ws://127.0.0.1:{ws_port}");
    let n1 = node(dir.path(), 1, ports[0], &pg, true, &["--sip-websocket-url", &ws]);
    let client = switchboard_tests::http();
    let admin = login(&client, &n1, "admin@demo.example", "switchboard-demo").await.unwrap();
    set_demo_trunk(&client, &n1, &admin, None, Some(entry_port)).await;
    add_number(&client, &n1, &admin, NUMBER, json!({"type": "agent", "extension": "101"})).await;
    let n2 = node(dir.path(), 2, ports[1], &pg, false, &["--sip-websocket-url", &ws]);
    let ws_listen = format!("WS_LISTEN=tcp:127.0.0.1:{ws_port}");
    let _entry = start_entry(dir.path(), entry_port, &ports, &[&ws_listen]);
    tokio::time::sleep(Duration::from_secs(2)).await; // the first probes
    let entry_log = || std::fs::read_to_string(dir.path().join("kamailio.log")).unwrap_or_default();

    // Alice signs in on node 1; her browser's phone registers with the entry, not the node.
    let Some(mut browser) = alice_in_browser(&n1, dir.path(), 1000.0).await else { return };
    let cookie2 = login(&client, &n2, "admin@demo.example", "switchboard-demo").await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut seen = Vec::new();
        for (server, cookie) in [(&n1, &admin), (&n2, &cookie2)] {
            let all = get_json(&client, server, cookie, "/api/registrations").await;
            let alice: Vec<serde_json::Value> =
                all.as_array().unwrap().iter().filter(|r| r["extension"] == "101").cloned().collect();
            seen.push(alice);
        }
        let through_entry = |r: &Vec<serde_json::Value>| {
            r.len() == 1 && r[0]["path"].to_string().contains(&format!("127.0.0.1:{entry_port}"))
        };
        if seen.iter().all(through_entry) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "both nodes know the browser through the entry: {seen:#?}\n{}",
            entry_log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // A caller on each node (the entry takes them in turn): the browser rings, Alice answers
    // and hears the caller's tone through that node's relay.
    let before = calls(&client, &n1, &admin).await.len();
    for i in 0..2 {
        let call = tone_call(dir.path(), entry_port, 4000);
        wait_line(&mut browser, 0, "ringing").await;
        browser.run(json!({"do": "click", "selector": "#call-banner button.accept"})).await;
        wait_line(&mut browser, 0, "talking").await;
        let heard = browser_hears(&mut browser, 440.0).await;
        eprintln!("call {i}: the browser hears the caller: {heard}");
        let out = call.await.unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(sipp_counts(&stdout), (1, 0), "caller {i}: {stdout}\n{}", entry_log());
        wait_line(&mut browser, 0, "idle").await;
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let listed = loop {
        let all = calls(&client, &n1, &admin).await;
        if all.len() >= before + 2 && all.iter().take(2).all(|c| !c["ended_at"].is_null()) {
            break all;
        }
        assert!(Instant::now() < deadline, "the two calls' records: {all:#?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let mut nodes: Vec<i64> =
        listed.iter().take(2).map(|c| c["node_id"].as_i64().unwrap_or_default()).collect();
    nodes.sort();
    assert_eq!(nodes, [1, 2], "one call on each node: {listed:#?}");
    for c in listed.iter().take(2) {
        assert_eq!(c["agent_extension"], "101", "{c:#}");
        assert!(!c["answered_at"].is_null(), "answered in the browser: {c:#}");
    }
    browser.close().await;
}
