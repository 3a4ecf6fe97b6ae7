//! Transfers on a virtual clock: the callee's REFER, and the caller taken back and connected to
//! someone else.

use super::*;

fn refer(inv: &Request, to: &str, branch: &str) -> Vec<u8> {
    let mut r = callee_request(inv, Method::Refer, "");
    r.headers.set("Via", format!("SIP/2.0/UDP {CALLEE};branch=z9hG4bK{branch}"));
    r.headers.push("Refer-To", to);
    r.headers.push("Referred-By", format!("<sip:102@{CALLEE}>"));
    r.to_bytes()
}

#[test]
fn the_callee_refers_the_caller_on_and_the_caller_is_connected_to_someone_else() {
    let mut w = World::new();
    let call = w.invite("t1");
    let (inv, tag) = w.answer("t1", call);
    assert!(!w.pbx.release_callee(w.now, CallId(999)), "no such call");
    // The caller's REFER (the person they called sent on: a call they placed) is reported for
    // the application to judge; refused, the caller is told by NOTIFY in their own dialog.
    let from_caller = caller_request("REFER", "t1", 2, Some(&tag), "")
        .replace("Max-Forwards: 70\r\n", "Max-Forwards: 70\r\nRefer-To: <sip:103@127.0.0.1>\r\n");
    w.deliver(CALLER, from_caller.as_bytes());
    w.take_response(CALLER, 202);
    assert_eq!(
        w.take_event(),
        CallEvent::TransferRequested { call, side: Side::Caller, target: "103".into() }
    );
    w.pbx.refuse_transfer(call, 403);
    w.collect();
    let told = w.take_request(CALLER, Method::Notify);
    assert_eq!(String::from_utf8_lossy(&told.body), "SIP/2.0 403 Forbidden\r\n");
    assert_eq!(told.headers.get("Call-ID"), Some("t1"));
    assert!(told.headers.get("From").unwrap().ends_with(&format!(";tag={tag}")), "our tag in their dialog");
    // Attended transfer by REFER with Replaces naming no call of ours is refused; a Refer-To
    // without anyone in it is refused.
    w.deliver(CALLEE, &refer(&inv, "<sip:103@127.0.0.1?Replaces=abc%3Bto-tag%3Dx%3Bfrom-tag%3Dy>", "r1"));
    w.take_response(CALLEE, 481);
    w.deliver(CALLEE, &refer(&inv, "<sip:127.0.0.1>", "r2"));
    w.take_response(CALLEE, 400);
    w.nothing_sent();
    assert!(w.events.is_empty(), "{:?}", w.events);
    // A transfer the application refuses (a number the agent may not call): the phone is told
    // by NOTIFY, the call goes on; refusing again sends nothing.
    w.deliver(CALLEE, &refer(&inv, "<sip:+447700900123@127.0.0.1>", "r5"));
    w.take_response(CALLEE, 202);
    assert!(matches!(w.take_event(), CallEvent::TransferRequested { .. }));
    w.pbx.refuse_transfer(call, 403);
    w.collect();
    let refused = w.take_request(CALLEE, Method::Notify);
    assert_eq!(String::from_utf8_lossy(&refused.body), "SIP/2.0 403 Forbidden\r\n");
    w.pbx.refuse_transfer(call, 403);
    w.collect();
    w.nothing_sent();
    assert!(w.events.is_empty(), "{:?}", w.events);
    // A blind transfer to 103: accepted and reported; the call goes on until the application acts.
    w.deliver(CALLEE, &refer(&inv, "<sip:103@127.0.0.1>", "r3"));
    w.take_response(CALLEE, 202);
    assert_eq!(
        w.take_event(),
        CallEvent::TransferRequested { call, side: Side::Callee, target: "103".into() }
    );
    w.nothing_sent();
    // The application takes the caller back: NOTIFY (the transfer went ahead), then BYE to the
    // transferor; the caller hears nothing of it and the transferor's line is free.
    assert!(w.pbx.release_callee(w.now, call));
    w.collect();
    let notify = w.take_request(CALLEE, Method::Notify);
    assert_eq!(notify.headers.get("Event"), Some("refer"));
    assert!(notify.headers.get("Subscription-State").unwrap().starts_with("terminated"));
    assert_eq!(String::from_utf8_lossy(&notify.body), "SIP/2.0 200 OK\r\n");
    let bye = w.take_request(CALLEE, Method::Bye);
    assert_eq!(bye.headers.get("Call-ID"), inv.headers.get("Call-ID"));
    w.nothing_sent();
    assert!(w.events.is_empty(), "{:?}", w.events);
    assert_eq!(w.pbx.b2bua().calls_for(1, "102"), 0);
    assert_eq!(w.pbx.b2bua().active_calls(), 1);
    assert!(!w.pbx.release_callee(w.now, call), "nobody is connected any more");
    w.deliver(CALLEE, &callee_response(&bye, 200, "").to_bytes());
    // The transferor's phone hangs up on its own too (crossing our BYE): only its leg ends.
    let own_bye = callee_request(&inv, Method::Bye, "").to_bytes();
    let own_bye = String::from_utf8_lossy(&own_bye).replace("z9hG4bKcalleeBYE", "z9hG4bKcalleeBYE1");
    w.deliver(CALLEE, own_bye.as_bytes());
    w.take_response(CALLEE, 200);
    w.nothing_sent();
    assert!(w.events.is_empty(), "{:?}", w.events);
    // Someone new is rung for the caller (here the same extension): offered the call's codec.
    w.pbx.route(
        w.now,
        call,
        RouteDecision::Ring {
            account: 1,
            extension: "102".into(),
            max_lines: 1,
            ring_timeout_ms: 20_000,
            media: media(),
        },
    );
    w.collect();
    let second = w.take_request(CALLEE, Method::Invite);
    assert_ne!(second.headers.get("Call-ID"), inv.headers.get("Call-ID"));
    assert!(String::from_utf8_lossy(&second.body).contains("RTP/AVP 0 101"), "the call's codec");
    w.deliver(CALLEE, &callee_response(&second, 200, ANSWER).to_bytes());
    w.take_request(CALLEE, Method::Ack);
    assert!(matches!(w.take_event(), CallEvent::Media { b_remote: Some(_), .. }));
    assert!(matches!(w.take_event(), CallEvent::Answered { .. }));
    w.nothing_sent();
    // When the new person hangs up, the call ends for the caller too.
    let bye = callee_request(&second, Method::Bye, "").to_bytes();
    let bye = String::from_utf8_lossy(&bye).replace("z9hG4bKcalleeBYE", "z9hG4bKcalleeBYE2");
    w.deliver(CALLEE, bye.as_bytes());
    w.take_response(CALLEE, 200);
    w.take_request(CALLER, Method::Bye);
    assert!(matches!(
        w.take_event(),
        CallEvent::Ended { outcome: Outcome::Completed { hung_up_by: Side::Callee }, .. }
    ));
}

#[test]
fn a_refer_for_a_call_that_is_not_connected_is_refused() {
    let mut w = World::new();
    let call = w.invite("t2");
    let inv = w.take_request(CALLEE, Method::Invite);
    w.deliver(CALLEE, &callee_response(&inv, 180, "").to_bytes());
    w.take_response(CALLER, 180);
    assert_eq!(w.take_event(), CallEvent::Ringing { call });
    // Still ringing: a REFER in the early dialog is refused, and there is nobody to release.
    w.deliver(CALLEE, &refer(&inv, "<sip:103@127.0.0.1>", "r4"));
    w.take_response(CALLEE, 403);
    assert!(!w.pbx.release_callee(w.now, call));
    w.nothing_sent();
    assert!(w.events.is_empty(), "{:?}", w.events);
}

#[test]
fn a_refer_with_replaces_names_the_transferors_other_call_and_is_completed_by_release() {
    let mut w = World::new();
    let call = w.invite("x1");
    let (inv, _) = w.answer("x1", call);
    // The transferor's other call: one they placed (its Call-ID is our inbound dialog's).
    let other = w.invite("y1");
    w.answer("y1", other);
    w.deliver(CALLEE, &refer(&inv, "<sip:103@127.0.0.1?Replaces=y1%3Bto-tag%3Dabc%3Bfrom-tag%3Ddef>", "a1"));
    w.take_response(CALLEE, 202);
    assert_eq!(w.take_event(), CallEvent::AttendedTransferRequested { call, replaces: other });
    w.nothing_sent();
    // The application joins the two calls' other people: the transferor hears the NOTIFY that
    // ends the REFER, then BYE, on this call (and, released, on the other).
    assert!(w.pbx.release(w.now, call, Side::Callee));
    w.collect();
    let notify = w.take_request(CALLEE, Method::Notify);
    assert_eq!(String::from_utf8_lossy(&notify.body), "SIP/2.0 200 OK\r\n");
    w.take_request(CALLEE, Method::Bye);
    assert!(w.pbx.release(w.now, other, Side::Caller));
    w.collect();
    let bye = w.take_request(CALLER, Method::Bye);
    assert_eq!(bye.headers.get("Call-ID"), Some("y1"));
    // A Replaces naming the call itself is refused.
    let third = w.invite("z1");
    let (inv3, _) = w.answer("z1", third);
    w.deliver(CALLEE, &refer(&inv3, "<sip:103@127.0.0.1?Replaces=z1%3Bto-tag%3Da>", "a2"));
    w.take_response(CALLEE, 481);
}
