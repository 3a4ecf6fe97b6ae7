//! Three Switchboard nodes on one PostgreSQL database behind Kamailio's dispatcher, configured
//! by the repository's own `deploy/kamailio/kamailio.cfg`: a carrier (sipp) calls the entry;
//! calls spread over the nodes; a node killed with SIGKILL during a call is taken out (new
//! calls succeed on the others) and its call's record is closed as failed by another node once
//! its lease lapses; a drained node (SIGTERM) takes no new call, finishes the one it has and
//! stops; restarted, it rejoins and takes calls again. A phone registered through the entry
//! (which adds `Path`) is rung by queue calls on every node, also after the node that took its
//! registration died; it places calls through the entry as a phone (not as a carrier); the
//! queue dashboards of both nodes show what its agent does on either, and a caller waiting on
//! one node is sent to another agent from the other's dashboard. A flood from one address is
//! cut off at the entry while a carrier's call goes through.

use std::path::Path;
use std::time::{Duration, Instant};
use switchboard_tests::cluster::{node, start_entry};
use switchboard_tests::{
    add_number, demo_account, free_udp_port, fresh_postgres, get_json, login, queues, require_program,
    run_carrier, set_demo_trunk, sipp_counts, Baresip, Server,
};

const NUMBER: &str = "+15557770100";

/// The account's calls, newest first.
async fn calls(client: &reqwest::Client, server: &Server, cookie: &str) -> Vec<serde_json::Value> {
    get_json(client, server, cookie, "/api/calls?limit=100").await.as_array().cloned().unwrap_or_default()
}

/// Waits until `f` holds for the account's calls.
async fn wait_calls(
    client: &reqwest::Client,
    server: &Server,
    cookie: &str,
    what: &str,
    f: impl Fn(&[serde_json::Value]) -> bool,
) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let c = calls(client, server, cookie).await;
        if f(&c) {
            return c;
        }
        assert!(Instant::now() < deadline, "{what}: {c:#?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn on_node(calls: &[serde_json::Value], node: i64) -> Vec<&serde_json::Value> {
    calls.iter().filter(|c| c["node_id"] == node).collect()
}

fn carrier(entry: u16, calls: u32, hold_ms: u32) -> tokio::task::JoinHandle<std::process::Output> {
    carrier_to(entry, NUMBER, calls, hold_ms, &["-r", "5"])
}

/// A carrier placing `calls` calls to `number` through the entry at the sipp rate options
/// `rate` (e.g. `-r 5`), each held for `hold_ms` after it is answered.
fn carrier_to(
    entry: u16,
    number: &'static str,
    calls: u32,
    hold_ms: u32,
    rate: &[&str],
) -> tokio::task::JoinHandle<std::process::Output> {
    let mut args: Vec<String> = vec!["-m".into(), calls.to_string()];
    args.extend(rate.iter().map(|s| s.to_string()));
    // (Kamailio's workers may pass a node's 180 on after its 200; a caller ignores it.)
    for a in [
        "-d",
        &hold_ms.to_string(),
        "-timeout",
        "60",
        "-timeout_error",
        "-default_behaviors",
        "all,-abortunexp",
    ] {
        args.push(a.to_string());
    }
    let entry = format!("127.0.0.1:{entry}");
    tokio::spawn(async move {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_carrier("cluster_call.xml", &entry, free_udp_port(), number, &args).await
    })
}

#[tokio::test]
async fn calls_spread_over_nodes_and_survive_a_killed_and_a_drained_node() {
    if !require_program("kamailio") || !require_program("sipp") {
        return;
    }
    let Some(pg) = fresh_postgres().await else { return };
    let dir = tempfile::tempdir().unwrap();
    let entry_port = free_udp_port();
    let ports = [free_udp_port(), free_udp_port(), free_udp_port()];
    // Node 1 loads the demo account; the carrier's trunk trusts the entry, and a number goes
    // to voicemail (it answers and keeps the caller until they hang up).
    let n1 = node(dir.path(), 1, ports[0], &pg, true, &[]);
    let client = switchboard_tests::http();
    let admin = login(&client, &n1, "admin@demo.example", "switchboard-demo").await.unwrap();
    set_demo_trunk(&client, &n1, &admin, None, Some(entry_port)).await;
    add_number(&client, &n1, &admin, NUMBER, serde_json::json!({"type": "voicemail_box", "name": "support"}))
        .await;
    let n2 = node(dir.path(), 2, ports[1], &pg, false, &[]);
    let mut n3 = node(dir.path(), 3, ports[2], &pg, false, &[]);
    let mut n2 = Some(n2);
    let nodes = get_json(&client, &n1, &admin, "/api/cluster/nodes").await;
    let ids: Vec<i64> = nodes.as_array().unwrap().iter().map(|n| n["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, [1, 2, 3], "{nodes}");
    // Password guesses count on every node: five wrong on node 1 lock the e-mail on node 3.
    for _ in 0..5 {
        assert!(login(&client, &n1, "alice@demo.example", "guess").await.is_err());
    }
    let r = client
        .post(n3.url("/api/auth/login"))
        .json(&serde_json::json!({"email": "alice@demo.example", "password": "switchboard-demo"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429, "locked out on another node too");
    let _entry = start_entry(dir.path(), entry_port, &ports, &[]);
    tokio::time::sleep(Duration::from_secs(2)).await; // the first probes

    // Six calls spread over the three nodes.
    let out = carrier(entry_port, 6, 1500).await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(sipp_counts(&stdout), (6, 0), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let c = wait_calls(&client, &n1, &admin, "six ended calls", |c| {
        c.len() == 6 && c.iter().all(|c| !c["ended_at"].is_null())
    })
    .await;
    for id in 1..=3 {
        assert_eq!(on_node(&c, id).len(), 2, "round robin: two calls each: {c:#?}");
    }

    // Node 2 is killed while it holds a call (three long calls: one on each node).
    let long = carrier(entry_port, 3, 8_000);
    let c = wait_calls(&client, &n1, &admin, "a call up on node 2", |c| {
        (1..=3).all(|n| on_node(c, n).iter().any(|c| c["ended_at"].is_null()))
    })
    .await;
    let lost = on_node(&c, 2).into_iter().find(|c| c["ended_at"].is_null()).unwrap()["id"].clone();
    n2.as_mut().unwrap().signal_and_wait(libc::SIGKILL, Duration::from_secs(5)).unwrap();
    // New calls succeed on the others (the entry fails over, then its probes take node 2 out).
    let out = carrier(entry_port, 4, 500).await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(sipp_counts(&stdout), (4, 0), "calls after node 2 died: {stdout}");
    // Its call's record is closed as failed by another node once its lease lapsed.
    let lost_call = {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let call = get_json(&client, &n1, &admin, &format!("/api/calls/{lost}")).await;
            if !call["ended_at"].is_null() {
                break call;
            }
            assert!(Instant::now() < deadline, "node 2's call still open: {call}");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    };
    assert_eq!(lost_call["disposition"], "failed", "{lost_call}");
    let timeline = lost_call["timeline"].to_string();
    assert!(timeline.contains("interrupted") && timeline.contains("node 2"), "{timeline}");
    let nodes = get_json(&client, &n1, &admin, "/api/cluster/nodes").await;
    let ids: Vec<i64> = nodes.as_array().unwrap().iter().map(|n| n["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, [1, 3], "node 2 is gone from the cluster: {nodes}");
    // The long calls on nodes 1 and 3 end as their caller hangs up (the one on node 2 cannot).
    wait_calls(&client, &n1, &admin, "the long calls ended", |c| c.iter().all(|c| !c["ended_at"].is_null()))
        .await;
    long.abort();

    // Node 3 is drained while it holds a call: the call finishes, no new call goes to it,
    // and it stops by itself.
    let held = carrier(entry_port, 2, 6000);
    let c = wait_calls(&client, &n1, &admin, "a new call up on node 3", |c| {
        on_node(c, 3).iter().any(|c| c["ended_at"].is_null() && c["to_number"] == NUMBER)
            && on_node(c, 1).iter().any(|c| c["ended_at"].is_null())
    })
    .await;
    let drained_call = on_node(&c, 3).into_iter().find(|c| c["ended_at"].is_null()).unwrap()["id"].clone();
    let before = calls(&client, &n1, &admin).await.len();
    // SAFETY: kill(2) on our own child's pid has no memory-safety preconditions.
    unsafe {
        libc::kill(n3.pid(), libc::SIGTERM);
    }
    n3.wait_for_log("draining", Duration::from_secs(5)).unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await; // the entry's probe sees the 503
    let out = carrier(entry_port, 2, 300).await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(sipp_counts(&stdout), (2, 0), "calls while node 3 drains: {stdout}");
    // (Signal 0 sends nothing: this only waits for the node to exit.)
    let status = n3.signal_and_wait(0, Duration::from_secs(20)).unwrap();
    assert!(status.success(), "node 3 stopped cleanly once its call ended: {status}");
    let out = held.await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(sipp_counts(&stdout), (2, 0), "the calls up during the drain finished: {stdout}");
    let call = get_json(&client, &n1, &admin, &format!("/api/calls/{drained_call}")).await;
    assert_ne!(call["disposition"], "failed", "{call}");
    let after = calls(&client, &n1, &admin).await;
    let new_on_3 = after.iter().take(after.len() - before).filter(|c| c["node_id"] == 3).count();
    assert_eq!(new_on_3, 0, "no new call went to the draining node: {after:#?}");

    // Restarted, node 3 rejoins without any step and takes calls again.
    let _n3 = node(dir.path(), 3, ports[2], &pg, false, &[]);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let before = calls(&client, &n1, &admin).await.len();
    let out = carrier(entry_port, 4, 300).await.unwrap();
    assert_eq!(sipp_counts(&String::from_utf8_lossy(&out.stdout)), (4, 0));
    let after = wait_calls(&client, &n1, &admin, "four more calls", |c| c.len() == before + 4).await;
    assert!(after.iter().take(4).any(|c| c["node_id"] == 3), "node 3 takes calls again: {after:#?}");
}

const QUEUE_NUMBER: &str = "+15557770200";
const AI_NUMBER: &str = "+15557770300";

/// The account's registrations of `extension` as node `server` sees them.
async fn registrations(
    client: &reqwest::Client,
    server: &Server,
    cookie: &str,
    extension: &str,
) -> Vec<serde_json::Value> {
    let all = get_json(client, server, cookie, "/api/registrations").await;
    all.as_array().unwrap().iter().filter(|r| r["extension"] == extension).cloned().collect()
}

/// Ends `calls` queue calls through the entry, one every six seconds, each held four seconds
/// once answered; returns the new call records.
async fn queue_calls(
    client: &reqwest::Client,
    server: &Server,
    cookie: &str,
    entry: u16,
    calls: u32,
    dir: &Path,
) -> Vec<serde_json::Value> {
    let before = get_json(client, server, cookie, "/api/calls?limit=100").await.as_array().unwrap().len();
    let out = carrier_to(entry, QUEUE_NUMBER, calls, 4000, &["-r", "1", "-rp", "6000"]).await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let entry_log = std::fs::read_to_string(dir.join("kamailio.log")).unwrap_or_default();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(sipp_counts(&stdout), (calls, 0), "{stdout}\n{stderr}\nthe entry's log:\n{entry_log}");
    let all = wait_calls(client, server, cookie, "the queue calls ended", |c| {
        c.len() == before + calls as usize && c.iter().all(|c| !c["ended_at"].is_null())
    })
    .await;
    let mut new = Vec::new();
    for c in all.iter().take(calls as usize) {
        new.push(get_json(client, server, cookie, &format!("/api/calls/{}", c["id"])).await);
    }
    new
}

/// The agent a queue call was answered by, per its timeline.
fn answered_by(call: &serde_json::Value) -> String {
    let timeline = call["timeline"].as_array().cloned().unwrap_or_default();
    let answered = timeline.iter().find(|e| e["kind"] == "queue_answered");
    answered.map(|e| e["data"]["agent"].as_str().unwrap_or_default().to_string()).unwrap_or_default()
}

#[tokio::test]
async fn a_phone_registered_through_the_entry_is_rung_by_queue_calls_on_every_node() {
    if !require_program("kamailio") || !require_program("sipp") || !require_program("baresip") {
        return;
    }
    let Some(pg) = fresh_postgres().await else { return };
    let dir = tempfile::tempdir().unwrap();
    let entry_port = free_udp_port();
    let ports = [free_udp_port(), free_udp_port()];
    let mut n1 = Some(node(dir.path(), 1, ports[0], &pg, true, &[]));
    let client = switchboard_tests::http();
    let admin = login(&client, n1.as_ref().unwrap(), "admin@demo.example", "switchboard-demo").await.unwrap();
    {
        let n1 = n1.as_ref().unwrap();
        set_demo_trunk(&client, n1, &admin, None, Some(entry_port)).await;
        // (No spoken greeting or announcements: the nodes' voices may still be loading.)
        let queue = serde_json::json!({"name": "cluster", "strategy": "ring_all", "ring_timeout_seconds": 20,
            "announce_position": false, "announce_wait_time": false, "max_wait_seconds": 60, "wrap_up_seconds": 0});
        queues::create(&client, n1, &admin, &queue).await;
        queues::join(&client, n1, &admin, "101", "cluster", 1).await;
        add_number(
            &client,
            n1,
            &admin,
            QUEUE_NUMBER,
            serde_json::json!({"type": "queue", "name": "cluster"}),
        )
        .await;
        let ai = serde_json::json!({"type": "ai_agent", "name": "order-assistant"});
        add_number(&client, n1, &admin, AI_NUMBER, ai).await;
    }
    let mut n2 = node(dir.path(), 2, ports[1], &pg, false, &[]);
    let _entry = start_entry(dir.path(), entry_port, &ports, &[]);
    tokio::time::sleep(Duration::from_secs(2)).await; // the first probes

    // Alice's phone registers through the entry, which adds its Path and picks one node.
    let alice =
        Baresip::start(&demo_account(&format!("127.0.0.1:{entry_port}"), "101", ";answermode=auto")).unwrap();
    alice.wait_for("200 OK", Duration::from_secs(10)).unwrap();
    let cookie2 = login(&client, &n2, "admin@demo.example", "switchboard-demo").await.unwrap();
    let (mut owner, deadline) = (None, Instant::now() + Duration::from_secs(10));
    while owner.is_none() {
        let r1 = registrations(&client, n1.as_ref().unwrap(), &admin, "101").await;
        let r2 = registrations(&client, &n2, &cookie2, "101").await;
        let local = |r: &[serde_json::Value]| r.len() == 1 && r[0]["remote"] == false;
        let remote = |r: &[serde_json::Value]| r.len() == 1 && r[0]["remote"] == true;
        if local(&r1) && remote(&r2) {
            owner = Some((1, r1[0].clone()));
        } else if local(&r2) && remote(&r1) {
            owner = Some((2, r2[0].clone()));
        }
        assert!(Instant::now() < deadline, "each node knows Alice's phone: node 1 {r1:?}, node 2 {r2:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (owner, registration) = owner.unwrap();
    let path = registration["path"].to_string();
    assert!(path.contains(&format!("127.0.0.1:{entry_port}")), "the entry is on the path: {registration}");

    // Two queue callers, one on each node (round robin): both reach Alice.
    let two = queue_calls(&client, &n2, &cookie2, entry_port, 2, dir.path()).await;
    let mut nodes: Vec<i64> = two.iter().map(|c| c["node_id"].as_i64().unwrap_or_default()).collect();
    nodes.sort();
    let entry_log = || std::fs::read_to_string(dir.path().join("kamailio.log")).unwrap_or_default();
    assert_eq!(nodes, [1, 2], "one caller on each node: {two:#?}\n{}", entry_log());
    for call in &two {
        let node = call["node_id"].clone();
        assert_eq!(
            answered_by(call),
            "101",
            "Alice took the caller on node {node}: {call:#}\n{}",
            entry_log()
        );
    }

    // On a call through one node, Alice is busy for the other: a caller arriving there
    // meanwhile waits until she is free (no node offers her a second call).
    let before = calls(&client, &n2, &cookie2).await.len();
    let first = carrier_to(entry_port, QUEUE_NUMBER, 1, 6000, &["-r", "1"]);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let second = carrier_to(entry_port, QUEUE_NUMBER, 1, 14_000, &["-r", "1"]);
    for (out, which) in [(first.await.unwrap(), "first"), (second.await.unwrap(), "second")] {
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(sipp_counts(&stdout), (1, 0), "the {which} caller: {stdout}");
    }
    let listed = wait_calls(&client, &n2, &cookie2, "both callers' calls ended", |c| {
        c.len() == before + 2 && c.iter().all(|c| !c["ended_at"].is_null())
    })
    .await;
    let (second, first) = (
        get_json(&client, &n2, &cookie2, &format!("/api/calls/{}", listed[0]["id"])).await,
        get_json(&client, &n2, &cookie2, &format!("/api/calls/{}", listed[1]["id"])).await,
    );
    assert_ne!(first["node_id"], second["node_id"], "one caller on each node");
    let answered_at = |call: &serde_json::Value| {
        let timeline = call["timeline"].as_array().cloned().unwrap_or_default();
        let e = timeline.iter().find(|e| e["kind"] == "queue_answered").cloned();
        e.unwrap_or_else(|| panic!("not answered: {call:#}"))["at"].as_i64().unwrap()
    };
    assert_eq!((answered_by(&first), answered_by(&second)), ("101".into(), "101".into()));
    assert!(
        answered_at(&second) >= first["ended_at"].as_i64().unwrap(),
        "the second caller reached Alice only once her first call ended: {first:#}\n{second:#}"
    );

    // An AI call on one node is on the supervisors' grid of both (the other shows its node).
    for node in [n1.as_mut().unwrap(), &mut n2] {
        node.wait_for_log("speech engines ready", Duration::from_secs(120)).unwrap();
    }
    let ai_call = carrier_to(entry_port, AI_NUMBER, 1, 8000, &["-r", "1"]);
    let supervisor = login(&client, &n2, "supervisor@demo.example", "switchboard-demo").await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let (shown_here, shown_there) = loop {
        let t1 = get_json(&client, n1.as_ref().unwrap(), &admin, "/api/live/calls").await;
        let t2 = get_json(&client, &n2, &supervisor, "/api/live/calls").await;
        let (t1, t2) =
            (t1.as_array().cloned().unwrap_or_default(), t2.as_array().cloned().unwrap_or_default());
        if t1.len() == 1 && t2.len() == 1 {
            // The node that carries it shows it as its own; the other names that node.
            let (local, remote) = if t1[0]["node"].is_null() { (&t1[0], &t2[0]) } else { (&t2[0], &t1[0]) };
            if !remote["node"].is_null() {
                break (local.clone(), remote.clone());
            }
        }
        assert!(Instant::now() < deadline, "the AI call on both grids: node 1 {t1:?}, node 2 {t2:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(shown_there["id"], shown_here["id"], "{shown_there}");
    assert_eq!(shown_there["agent"], "order-assistant");
    let owner_of_ai = shown_there["node"].as_i64().unwrap();
    // Its detail opens from the other node; a supervisor's note given there reaches the AI on
    // the node that carries the call (and shows in the call's events on both).
    let (other, other_cookie) =
        if owner_of_ai == 1 { (&n2, &supervisor) } else { (n1.as_ref().unwrap(), &admin) };
    let id = shown_there["id"].as_u64().unwrap();
    let detail = get_json(&client, other, other_cookie, &format!("/api/live/calls/{id}")).await;
    assert_eq!(detail["tile"]["id"], shown_there["id"], "{detail}");
    let r = client
        .post(other.url(&format!("/api/live/calls/{id}/notes")))
        .header("cookie", other_cookie.as_str())
        .json(&serde_json::json!({"kind": "advice", "text": "offer express shipping"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let accepted: serde_json::Value = r.json().await.unwrap();
    assert_eq!(accepted["forwarded_to_node"], owner_of_ai, "{accepted}");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let detail = get_json(&client, other, other_cookie, &format!("/api/live/calls/{id}")).await;
        let noted = detail["events"].as_array().is_some_and(|events| {
            events
                .iter()
                .any(|e| e["kind"] == "supervisor_note" && e["data"]["text"] == "offer express shipping")
        });
        if noted {
            break;
        }
        assert!(Instant::now() < deadline, "the note never reached the AI: {detail:#}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let out = ai_call.await.unwrap();
    assert_eq!(sipp_counts(&String::from_utf8_lossy(&out.stdout)), (1, 0), "the AI call");
    // Ended, it leaves both grids.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let t1 = get_json(&client, n1.as_ref().unwrap(), &admin, "/api/live/calls").await;
        let t2 = get_json(&client, &n2, &supervisor, "/api/live/calls").await;
        if t1.as_array().is_some_and(Vec::is_empty) && t2.as_array().is_some_and(Vec::is_empty) {
            break;
        }
        assert!(Instant::now() < deadline, "an ended AI call still on a grid: {t1} {t2}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Bob's phone registers through the entry too (he is not in the queue).
    let bob =
        Baresip::start(&demo_account(&format!("127.0.0.1:{entry_port}"), "102", ";answermode=auto")).unwrap();
    bob.wait_for("200 OK", Duration::from_secs(10)).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while registrations(&client, n1.as_ref().unwrap(), &admin, "102").await.len() != 1
        || registrations(&client, &n2, &cookie2, "102").await.len() != 1
    {
        assert!(Instant::now() < deadline, "both nodes know Bob's phone");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Alice calls Bob: her call reaches a node from the entry's address, as carriers' calls do,
    // and is still hers (her extension, challenged and authenticated: an internal call). The
    // entry picks nodes in turn, so her answer to one node's challenge reaches the other.
    let to_bob_via_entry = format!("INVITE sip:102@127.0.0.1:{entry_port} ");
    let invites_before = entry_log().matches(&to_bob_via_entry).count();
    let before = calls(&client, &n2, &cookie2).await.len();
    alice.command("dial", &format!("sip:102@127.0.0.1:{entry_port}")).unwrap();
    let listed =
        wait_calls(&client, &n2, &cookie2, "Alice's call to Bob recorded", |c| c.len() > before).await;
    let to_bob = &listed[0];
    assert_eq!(
        (to_bob["direction"].as_str(), to_bob["from_number"].as_str(), to_bob["to_number"].as_str()),
        (Some("internal"), Some("101"), Some("102")),
        "a phone's own call, not a carrier's: {to_bob:#}\n{}",
        entry_log()
    );
    bob.wait_for("Call established", Duration::from_secs(10)).unwrap();
    alice.command("hangup", "").unwrap();
    // (Ended by the node's BYE, or by the node's media port closing just before it.)
    bob.wait_for("sip:101@127.0.0.1: session closed", Duration::from_secs(10)).unwrap();
    let log = entry_log();
    let tried: Vec<&str> =
        log.lines().filter(|l| l.contains(&to_bob_via_entry)).skip(invites_before).collect();
    assert!(tried.len() >= 2, "challenged, then answered: {tried:#?}");
    let node_of = |l: &str| l.rsplit("to node ").next().unwrap_or_default().to_string();
    assert_ne!(node_of(tried[0]), node_of(tried[1]), "the challenge and the answer on two nodes: {tried:#?}");

    // The queue dashboards of both nodes show what Alice does on either, and a caller waiting
    // on one node can be sent to Bob from the other's dashboard.
    let dashboards = [(n1.as_ref().unwrap(), &admin), (&n2, &cookie2)];
    let before = calls(&client, &n2, &cookie2).await.len();
    let busy = carrier_to(entry_port, QUEUE_NUMBER, 1, 12_000, &["-r", "1"]);
    let alice_on = wait_dashboards(&client, &dashboards, "Alice on a call on both dashboards", |q| {
        let alice = q["members"].as_array()?.iter().find(|m| m["extension"] == "101")?.clone();
        (alice["activity"] == "on_call").then_some(alice)
    })
    .await;
    let local: Vec<&serde_json::Value> = alice_on.iter().filter(|m| m["node"].is_null()).collect();
    assert_eq!(local.len(), 1, "her own node shows her call, the other names that node: {alice_on:#?}");
    let carrying = if alice_on[0]["node"].is_null() { 1 } else { 2 };
    assert_eq!(alice_on[2 - carrying]["node"], carrying, "{alice_on:#?}");
    assert!(alice_on.iter().all(|m| m["with"].as_str().is_some_and(|w| !w.is_empty())), "{alice_on:#?}");
    // Long enough for both dashboards to show them and the pick to reach the other node on a
    // busy machine (a CI run's caller hung up at 3 s as Bob's phone began to ring).
    let waiting = carrier_to(entry_port, QUEUE_NUMBER, 1, 9000, &["-r", "1"]);
    let seen = wait_dashboards(&client, &dashboards, "the waiting caller on both dashboards", |q| {
        q["waiting"].as_array()?.first().cloned()
    })
    .await;
    assert_eq!(seen[0]["id"], seen[1]["id"], "{seen:#?}");
    let remote_on = if seen[0]["node"].is_null() { 1 } else { 0 };
    let waits_on = seen[remote_on]["node"].as_i64().expect("the other node names where they wait");
    let (server, cookie) = dashboards[remote_on];
    let r = client
        .post(server.url("/api/queues-live/pick"))
        .header("cookie", cookie.as_str())
        .json(&serde_json::json!({"caller": seen[0]["id"], "extension": "102"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let picked: serde_json::Value = r.json().await.unwrap();
    assert_eq!(picked["forwarded_to_node"], waits_on, "{picked}");
    for (out, which) in [(waiting.await.unwrap(), "picked"), (busy.await.unwrap(), "busy")] {
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(sipp_counts(&stdout), (1, 0), "the {which} caller: {stdout}");
    }
    let listed = wait_calls(&client, &n2, &cookie2, "both queue calls ended", |c| {
        c.len() >= before + 2 && c.iter().take(2).all(|c| !c["ended_at"].is_null())
    })
    .await;
    let picked_call = get_json(&client, &n2, &cookie2, &format!("/api/calls/{}", listed[0]["id"])).await;
    let busy_call = get_json(&client, &n2, &cookie2, &format!("/api/calls/{}", listed[1]["id"])).await;
    assert_eq!(picked_call["node_id"], waits_on, "{picked_call:#}");
    assert_eq!(answered_by(&picked_call), "102", "sent to Bob from the other node: {picked_call:#}");
    let timeline = picked_call["timeline"].as_array().cloned().unwrap_or_default();
    assert!(timeline.iter().any(|e| e["kind"] == "queue_picked" && e["data"]["extension"] == "102"));
    assert!(
        timeline.iter().all(|e| e["data"]["agent"] != "101"),
        "busy on the other node, Alice was not offered this caller: {picked_call:#}"
    );
    assert_eq!(answered_by(&busy_call), "101", "{busy_call:#}");

    // The node that took her registration dies: the other still rings her through the entry.
    let (survivor, survivor_cookie) = match owner {
        1 => {
            n1.as_mut().unwrap().signal_and_wait(libc::SIGKILL, Duration::from_secs(5)).unwrap();
            (&n2, &cookie2)
        }
        _ => {
            n2.signal_and_wait(libc::SIGKILL, Duration::from_secs(5)).unwrap();
            (n1.as_ref().unwrap(), &admin)
        }
    };
    tokio::time::sleep(Duration::from_secs(4)).await; // its lease lapses; the entry's probes see it
    let calls = queue_calls(&client, survivor, survivor_cookie, entry_port, 1, dir.path()).await;
    assert_ne!(calls[0]["node_id"].as_i64(), Some(owner), "{calls:#?}");
    let call = &calls[0];
    assert_eq!(
        answered_by(call),
        "101",
        "Alice still reached after node {owner} died: {call:#}\n{}",
        entry_log()
    );
    alice.stop();
    bob.stop();
}

/// Polls `/api/queues-live` of each node until `f` finds what it waits for in the queue
/// "cluster" of every one; returns what it found, per node.
async fn wait_dashboards(
    client: &reqwest::Client,
    dashboards: &[(&Server, &String)],
    what: &str,
    f: impl Fn(&serde_json::Value) -> Option<serde_json::Value>,
) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut found = Vec::new();
        let mut seen = Vec::new();
        for (server, cookie) in dashboards {
            let all = get_json(client, server, cookie, "/api/queues-live").await;
            let queue = all.as_array().and_then(|a| a.iter().find(|q| q["name"] == "cluster")).cloned();
            found.extend(queue.as_ref().and_then(&f));
            seen.push(queue);
        }
        if found.len() == dashboards.len() {
            return found;
        }
        assert!(Instant::now() < deadline, "{what}: {seen:#?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// An OPTIONS request for a user, which the entry passes to a node (which answers it).
fn probe(from: std::net::SocketAddr, entry: u16, i: u32) -> String {
    format!(
        "OPTIONS sip:flood@127.0.0.1:{entry} SIP/2.0\r\nVia: SIP/2.0/UDP {from};branch=z9hG4bKflood{i};rport\r\n\
         Max-Forwards: 70\r\nFrom: <sip:scanner@example.invalid>;tag=f{i}\r\nTo: <sip:flood@127.0.0.1>\r\n\
         Call-ID: flood-{i}@example.invalid\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    )
}

/// Answers `socket` receives within `wait` (one per request answered).
async fn answers(socket: &tokio::net::UdpSocket, wait: Duration) -> usize {
    let (mut n, mut buf, deadline) = (0, vec![0u8; 4096], tokio::time::Instant::now() + wait);
    while let Ok(Ok(len)) = tokio::time::timeout_at(deadline, socket.recv(&mut buf)).await {
        n += usize::from(buf[..len].starts_with(b"SIP/2.0 200"));
    }
    n
}

#[tokio::test]
async fn a_flood_is_cut_off_at_the_entry_while_calls_go_on() {
    if !require_program("kamailio") || !require_program("sipp") {
        return;
    }
    let Some(pg) = fresh_postgres().await else { return };
    let dir = tempfile::tempdir().unwrap();
    let (entry_port, port) = (free_udp_port(), free_udp_port());
    let n1 = node(dir.path(), 1, port, &pg, true, &[]);
    let client = switchboard_tests::http();
    let admin = login(&client, &n1, "admin@demo.example", "switchboard-demo").await.unwrap();
    set_demo_trunk(&client, &n1, &admin, None, Some(entry_port)).await;
    add_number(&client, &n1, &admin, NUMBER, serde_json::json!({"type": "voicemail_box", "name": "support"}))
        .await;
    let _entry = start_entry(dir.path(), entry_port, &[port], &[]);
    tokio::time::sleep(Duration::from_secs(2)).await; // the first probe

    // A scanner on another address (the loopback network is all ours) sends 400 requests in
    // about half a second; behind the entry the node would see them all as the entry's.
    let flooder = tokio::net::UdpSocket::bind("127.0.0.2:0").await.unwrap();
    flooder.connect(("127.0.0.1", entry_port)).await.unwrap();
    let me = flooder.local_addr().unwrap();
    let call = carrier_to(entry_port, NUMBER, 1, 3000, &["-r", "1"]);
    for i in 0..400 {
        flooder.send(probe(me, entry_port, i).as_bytes()).await.unwrap();
        if i % 20 == 19 {
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
    let answered = answers(&flooder, Duration::from_secs(2)).await;
    let log = std::fs::read_to_string(dir.path().join("kamailio.log")).unwrap_or_default();
    assert!(log.contains("flood: 127.0.0.2 banned"), "{log}");
    assert!((1..=150).contains(&answered), "the entry passed {answered} of the flood's 400 requests on");
    // Banned, the scanner gets nothing more; the carrier's call (another address) went through.
    flooder.send(probe(me, entry_port, 1000).as_bytes()).await.unwrap();
    assert_eq!(answers(&flooder, Duration::from_secs(1)).await, 0, "still banned");
    let out = call.await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(sipp_counts(&stdout), (1, 0), "the carrier's call during the flood: {stdout}");
}
