//! A queue's ring-all on a virtual clock: two agents' phones ring at once for a caller we
//! answered; each ringing member holds a line, the first to answer takes the call, the other
//! phone is cancelled and its line is free again, and the answerer's lines count it. With every member's lines in use the group
//! is busy; with nobody registered it is unreachable.

use super::*;

const CAROL: &str = "127.0.0.1:6103";

fn register(w: &mut World, user: &str, password: &str, at: &str) {
    let reg = |auth: Option<String>, cseq: u32| {
        format!(
            "REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {at};branch=z9hG4bKreg{user}{cseq}\r\n\
             From: <sip:{user}@127.0.0.1>;tag=r\r\nTo: <sip:{user}@127.0.0.1>\r\nCall-ID: reg{user}\r\nCSeq: {cseq} REGISTER\r\n\
             Contact: <sip:{user}@{at}>\r\nExpires: 3600\r\n{}Content-Length: 0\r\n\r\n",
            auth.map(|a| format!("Authorization: {a}\r\n")).unwrap_or_default()
        )
    };
    w.deliver(at, reg(None, 1).as_bytes());
    let challenge = w.take_response(at, 401);
    let www = challenge.headers.get("WWW-Authenticate").unwrap();
    let auth = digest::answer(www, "REGISTER", "sip:127.0.0.1", user, password, "c", 1);
    w.deliver(at, reg(auth, 2).as_bytes());
    w.take_response(at, 200);
}

/// A world where 102 (Bob) and 103 (Carol) are both registered.
fn two_agents() -> World {
    let mut w = World::new();
    let user = |name: &str, password: &str| SipUser {
        account: 1,
        domain: None,
        username: name.into(),
        password: password.into(),
        extension: name.into(),
    };
    let mut dir = Directory::new([user("102", "bob-password"), user("103", "carol-password")]);
    dir.trust(addr(CALLER).ip(), Some(addr(CALLER).port()), 1);
    w.pbx.set_directory(w.now, dir);
    w.collect();
    register(&mut w, "103", "carol-password", CAROL);
    w
}

/// Each phone rings (180), so that it can be cancelled; the caller, answered by us, hears
/// nothing of it.
fn ringing(w: &mut World, call: CallId, invites: &[(&str, &Request)]) {
    for (at, inv) in invites {
        w.deliver(at, &Response::for_request(inv, 180, Some("ringing")).to_bytes());
        assert_eq!(w.take_event(), CallEvent::Ringing { call });
    }
    w.nothing_sent();
}

fn group(lines: usize) -> RouteDecision {
    RouteDecision::RingGroup {
        account: 1,
        members: vec![("102".into(), lines), ("103".into(), lines)],
        ring_timeout_ms: 15_000,
        media: media(),
    }
}

#[test]
fn every_member_rings_and_the_first_to_answer_takes_the_call() {
    let mut w = two_agents();
    let call = w.answered_by_us("g1");
    w.pbx.route(w.now, call, group(1));
    w.collect();
    let bob = w.take_request(CALLEE, Method::Invite);
    let carol = w.take_request(CAROL, Method::Invite);
    assert_eq!(bob.headers.get("To"), Some("<sip:102@127.0.0.1>"));
    assert_eq!(carol.headers.get("To"), Some("<sip:103@127.0.0.1>"));
    w.nothing_sent();
    ringing(&mut w, call, &[(CALLEE, &bob), (CAROL, &carol)]);
    // Each ringing member holds a line: with one line each, a second caller's ring-all finds
    // the group busy instead of ringing them twice.
    assert_eq!((w.pbx.b2bua().calls_for(1, "102"), w.pbx.b2bua().calls_for(1, "103")), (1, 1));
    let waiting = w.answered_by_us("g0");
    w.pbx.route(w.now, waiting, group(1));
    w.collect();
    assert_eq!(w.take_event(), CallEvent::Unreached { call: waiting, status: 486 });
    w.nothing_sent();
    w.pbx.hangup(w.now, waiting);
    w.collect();
    let bye = w.take_request(CALLER, Method::Bye);
    w.deliver(CALLER, &Response::for_request(&bye, 200, None).to_bytes());
    assert!(matches!(w.take_event(), CallEvent::Ended { call: c, .. } if c == waiting));
    // Carol answers: hers is the call, Bob's phone stops ringing.
    let mut ok = Response::for_request(&carol, 200, Some("ringing"));
    ok.headers.push("Contact", format!("<sip:103@{CAROL}>"));
    ok.headers.push("Content-Type", "application/sdp");
    ok.body = ANSWER.as_bytes().to_vec();
    w.deliver(CAROL, &ok.to_bytes());
    w.take_request(CAROL, Method::Ack);
    let cancel = w.take_request(CALLEE, Method::Cancel);
    assert_eq!(cancel.headers.get("Call-ID"), bob.headers.get("Call-ID"));
    assert!(matches!(w.take_event(), CallEvent::Media { .. }));
    match w.take_event() {
        CallEvent::Answered { call: c, extension, .. } => {
            assert_eq!((c, extension.as_deref()), (call, Some("103")));
        }
        other => panic!("expected Answered, got {other:?}"),
    }
    assert_eq!((w.pbx.b2bua().calls_for(1, "102"), w.pbx.b2bua().calls_for(1, "103")), (0, 1));
    // Bob's phone answers the CANCEL and its INVITE.
    w.deliver(CALLEE, &Response::for_request(&cancel, 200, None).to_bytes());
    w.deliver(CALLEE, &callee_response(&bob, 487, "").to_bytes());
    w.take_request(CALLEE, Method::Ack);
    // A second caller's ring-all finds Carol's only line taken: only Bob rings.
    let second = w.answered_by_us("g2");
    w.pbx.route(w.now, second, group(1));
    w.collect();
    w.take_request(CALLEE, Method::Invite);
    w.nothing_sent();
    w.pbx.hangup(w.now, second);
    w.pbx.hangup(w.now, call);
    w.collect();
    for (to, bye) in
        [(CALLER, w.take_request(CALLER, Method::Bye)), (CAROL, w.take_request(CAROL, Method::Bye))]
    {
        w.deliver(to, &Response::for_request(&bye, 200, None).to_bytes());
    }
    assert_eq!(w.pbx.b2bua().calls_for(1, "103"), 0, "the line is free again");
}

#[test]
fn a_group_whose_lines_are_all_in_use_is_busy_and_one_nobody_registered_is_unreachable() {
    let mut w = two_agents();
    let call = w.answered_by_us("g3");
    w.pbx.route(w.now, call, group(0));
    w.collect();
    assert_eq!(w.take_event(), CallEvent::Unreached { call, status: 486 });
    w.nothing_sent();
    let nobody = RouteDecision::RingGroup {
        account: 1,
        members: vec![("104".into(), 2), ("105".into(), 2)],
        ring_timeout_ms: 15_000,
        media: media(),
    };
    w.pbx.route(w.now, call, nobody);
    w.collect();
    assert_eq!(w.take_event(), CallEvent::Unreached { call, status: 480 });
    // Nobody answering before the ring timeout: every phone is cancelled, the caller stays.
    w.pbx.route(w.now, call, group(2));
    w.collect();
    let (bob, carol) = (w.take_request(CALLEE, Method::Invite), w.take_request(CAROL, Method::Invite));
    ringing(&mut w, call, &[(CALLEE, &bob), (CAROL, &carol)]);
    w.advance(w.now + 15_001);
    let cancels = [w.take_request(CALLEE, Method::Cancel), w.take_request(CAROL, Method::Cancel)];
    assert_eq!(cancels[0].headers.get("Call-ID"), bob.headers.get("Call-ID"));
    assert_eq!(cancels[1].headers.get("Call-ID"), carol.headers.get("Call-ID"));
    assert_eq!(w.take_event(), CallEvent::Unreached { call, status: 408 }, "no answer");
    assert_eq!(
        (w.pbx.b2bua().calls_for(1, "102"), w.pbx.b2bua().calls_for(1, "103")),
        (0, 0),
        "the members' lines are free once they stop ringing"
    );
}
