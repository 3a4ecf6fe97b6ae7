//! Phones reached through a proxy: one registered through it (its REGISTER carries `Path`) and
//! one registered through another node of a cluster (handed over as a remote binding) are rung
//! through the proxy, the path as the INVITE's preloaded route; the CANCEL of a phone that did
//! not answer follows the same route (RFC 3261 §9.1).

use super::*;
use crate::sip::registrar::Binding;

/// The SIP entry in front of the nodes, and a phone behind it.
const PROXY: &str = "127.0.0.1:5070";
const PHONE: &str = "127.0.0.1:6104";
const PATH: &str = "sip:127.0.0.1:5070;lr;received=sip:127.0.0.1:6104";

/// Users 102 and 104, calls from `trusted` taken as a carrier's.
fn directory(trusted: &str) -> Directory {
    let user = |name: &str, password: &str| SipUser {
        account: 1,
        domain: None,
        username: name.into(),
        password: password.into(),
        extension: name.into(),
    };
    let mut dir = Directory::new([user("102", "bob-password"), user("104", "dan-password")]);
    dir.trust(addr(trusted).ip(), Some(addr(trusted).port()), 1);
    dir
}

fn world_with_104() -> World {
    let mut w = World::new();
    w.pbx.set_directory(w.now, directory(CALLER));
    w.collect();
    // 104's REGISTER, relayed by the proxy (its Via on top, its Path added).
    let reg = |auth: Option<String>, cseq: u32| {
        format!(
            "REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {PROXY};branch=z9hG4bKp{cseq}\r\n\
             Via: SIP/2.0/UDP {PHONE};branch=z9hG4bKreg{cseq}\r\nPath: <{PATH}>\r\nSupported: path\r\n\
             From: <sip:104@127.0.0.1>;tag=r\r\nTo: <sip:104@127.0.0.1>\r\nCall-ID: reg104\r\nCSeq: {cseq} REGISTER\r\n\
             Contact: <sip:104@{PHONE}>\r\nExpires: 3600\r\n{}Content-Length: 0\r\n\r\n",
            auth.map(|a| format!("Authorization: {a}\r\n")).unwrap_or_default()
        )
    };
    w.deliver(PROXY, reg(None, 1).as_bytes());
    let challenge = w.take_response(PROXY, 401);
    let www = challenge.headers.get("WWW-Authenticate").unwrap();
    let auth = digest::answer(www, "REGISTER", "sip:127.0.0.1", "104", "dan-password", "c", 1);
    w.deliver(PROXY, reg(auth, 2).as_bytes());
    let ok = w.take_response(PROXY, 200);
    assert_eq!(ok.headers.get("Path"), Some(format!("<{PATH}>").as_str()), "the path is given back");
    w
}

/// A carrier's call, reported and routed by `decision`.
fn call(w: &mut World, call_id: &str, decision: impl FnOnce(MediaPorts) -> RouteDecision) -> CallId {
    w.deliver(CALLER, caller_request("INVITE", call_id, 1, None, OFFER).as_bytes());
    w.take_response(CALLER, 100);
    let CallEvent::Incoming(inc) = w.take_event() else { panic!("expected Incoming") };
    w.pbx.route(w.now, inc.call, decision(media()));
    w.collect();
    inc.call
}

#[test]
fn a_phone_registered_through_a_proxy_is_rung_and_cancelled_through_it() {
    let mut w = world_with_104();
    call(&mut w, "p1", |media| RouteDecision::Ring {
        account: 1,
        extension: "104".into(),
        max_lines: 1,
        ring_timeout_ms: 10_000,
        media,
    });
    // To the proxy, not to the phone; the Request-URI is the phone's contact.
    let invite = w.take_request(PROXY, Method::Invite);
    assert_eq!(invite.uri, format!("sip:104@{PHONE}"));
    assert_eq!(invite.headers.lines("Route").collect::<Vec<_>>(), [format!("<{PATH}>")]);
    w.nothing_sent();
    w.deliver(PROXY, &callee_response(&invite, 180, "").to_bytes());
    w.take_response(CALLER, 180);
    // Nobody answers: the CANCEL takes the INVITE's route.
    w.advance(10_001);
    let cancel = w.take_request(PROXY, Method::Cancel);
    assert_eq!(cancel.uri, invite.uri);
    assert_eq!(cancel.headers.lines("Route").collect::<Vec<_>>(), [format!("<{PATH}>")]);
}

#[test]
fn phones_registered_through_other_nodes_ring_with_the_local_ones() {
    let mut w = World::new();
    let remote = Binding {
        contact: "sip:102@10.0.0.7:5062".into(),
        source: addr("10.0.0.1:5060"),
        transport: "UDP".into(),
        expires_at_ms: 3_600_000,
        call_id: "r".into(),
        cseq: 1,
        user_agent: None,
        path: vec!["sip:10.0.0.1:5060;lr;received=sip:10.0.0.7:5062".into()],
        username: String::new(),
    };
    w.pbx.set_remote_bindings(vec![(1, "102".into(), remote)]);
    call(&mut w, "p2", |media| RouteDecision::RingGroup {
        account: 1,
        members: vec![("102".into(), 2)],
        ring_timeout_ms: 10_000,
        media,
    });
    // Bob's desk phone registered here is rung directly; his phone registered through another
    // node, through that node's proxy.
    let here = w.take_request(CALLEE, Method::Invite);
    assert_eq!(here.headers.lines("Route").count(), 0);
    let there = w.take_request("10.0.0.1:5060", Method::Invite);
    assert_eq!(there.uri, "sip:102@10.0.0.7:5062");
    assert_eq!(
        there.headers.lines("Route").collect::<Vec<_>>(),
        ["<sip:10.0.0.1:5060;lr;received=sip:10.0.0.7:5062>"]
    );
    w.nothing_sent();
}

#[test]
fn behind_a_trusted_proxy_a_registered_phone_calls_as_itself_and_a_carrier_as_a_carrier() {
    let mut w = world_with_104();
    // The proxy is the carriers' entry too: trusted like a trunk.
    w.pbx.set_directory(w.now, directory(PROXY));
    w.collect();
    // The proxy's Via on top; below, the sender's, stamped with where the proxy received it.
    let invite = |client: &str, call_id: &str, from: &str| {
        let (ip, port) = client.split_once(':').unwrap();
        format!(
            "INVITE sip:102@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {PROXY};branch=z9hG4bKpx{call_id}\r\n\
             Via: SIP/2.0/UDP 10.9.9.9:5060;rport={port};received={ip};branch=z9hG4bK{call_id}\r\n\
             From: <sip:{from}@127.0.0.1>;tag=a\r\nTo: <sip:102@127.0.0.1>\r\nCall-ID: {call_id}\r\nCSeq: 1 INVITE\r\n\
             Contact: <sip:{from}@{client}>\r\nMax-Forwards: 69\r\nContent-Type: application/sdp\r\n\
             Content-Length: {}\r\n\r\n{OFFER}",
            OFFER.len()
        )
    };
    // Dan's phone (registered through the proxy): challenged, as a phone is.
    w.deliver(PROXY, invite(PHONE, "x1", "104").as_bytes());
    let challenge = w.take_response(PROXY, 407);
    assert!(challenge.headers.get("Proxy-Authenticate").is_some());
    assert!(w.events.is_empty(), "no call before it authenticates");
    // Anyone else behind the same proxy is a carrier's caller.
    w.deliver(PROXY, invite("127.0.0.1:7777", "x2", "+12025550111").as_bytes());
    w.take_response(PROXY, 100);
    let CallEvent::Incoming(inc) = w.take_event() else { panic!("expected Incoming") };
    assert_eq!(inc.caller, Caller::Trunk { accounts: vec![1] });
}
