//! Calls that keep their legs (conferences, joined transfers) on a virtual clock: either
//! person leaves, or is released, while the other stays; the call ends when both are gone.

use super::*;

#[test]
fn a_released_caller_gets_bye_and_the_callee_stays_until_they_hang_up() {
    let mut w = World::new();
    let call = w.invite("p1");
    let (inv, _tag) = w.answer("p1", call);
    assert!(!w.pbx.release(w.now, CallId(999), Side::Caller), "no such call");
    assert!(w.pbx.release(w.now, call, Side::Caller));
    w.collect();
    let bye = w.take_request(CALLER, Method::Bye);
    assert_eq!(bye.headers.get("Call-ID"), Some("p1"));
    w.nothing_sent();
    assert!(w.events.is_empty(), "{:?}", w.events);
    // Nobody else can be released: the callee is the only one left.
    assert!(!w.pbx.release(w.now, call, Side::Callee));
    assert!(!w.pbx.release(w.now, call, Side::Caller));
    assert_eq!(w.pbx.b2bua().active_calls(), 1);
    // The callee hangs up: the call ends, and the caller (gone) is sent nothing.
    w.deliver(CALLEE, &callee_request(&inv, Method::Bye, "").to_bytes());
    w.take_response(CALLEE, 200);
    w.nothing_sent();
    assert!(matches!(
        w.take_event(),
        CallEvent::Ended { outcome: Outcome::Completed { hung_up_by: Side::Callee }, .. }
    ));
}

#[test]
fn in_a_call_that_keeps_its_legs_each_person_leaves_alone() {
    // The callee leaves first: reported, the caller stays; then the caller's BYE ends it.
    let mut w = World::new();
    let call = w.invite("p2");
    let (inv, tag) = w.answer("p2", call);
    w.pbx.keep_legs(call, true);
    w.deliver(CALLEE, &callee_request(&inv, Method::Bye, "").to_bytes());
    w.take_response(CALLEE, 200);
    w.nothing_sent();
    assert_eq!(w.take_event(), CallEvent::LegLeft { call, side: Side::Callee });
    assert_eq!(w.pbx.b2bua().calls_for(1, "102"), 0, "the callee's line is free");
    w.deliver(CALLER, caller_request("BYE", "p2", 2, Some(&tag), "").as_bytes());
    w.take_response(CALLER, 200);
    w.nothing_sent();
    assert!(matches!(w.take_event(), CallEvent::Ended { .. }));

    // The caller leaves first: reported (a retransmitted BYE is answered again, not reported
    // twice); hanging the call up then sends BYE to the callee only.
    let mut w = World::new();
    let call = w.invite("p3");
    let (_inv, tag) = w.answer("p3", call);
    w.pbx.keep_legs(call, true);
    let bye = caller_request("BYE", "p3", 2, Some(&tag), "");
    w.deliver(CALLER, bye.as_bytes());
    w.take_response(CALLER, 200);
    assert_eq!(w.take_event(), CallEvent::LegLeft { call, side: Side::Caller });
    w.deliver(CALLER, bye.as_bytes());
    w.take_response(CALLER, 200);
    w.nothing_sent();
    assert!(w.events.is_empty(), "{:?}", w.events);
    w.pbx.hangup(w.now, call);
    w.collect();
    w.take_request(CALLEE, Method::Bye);
    w.nothing_sent();
    assert!(matches!(w.take_event(), CallEvent::Ended { outcome: Outcome::HungUpBySystem, .. }));
}

#[test]
fn a_released_callee_gets_bye_and_the_caller_stays() {
    let mut w = World::new();
    let call = w.invite("p4");
    let (_inv, tag) = w.answer("p4", call);
    assert!(w.pbx.release(w.now, call, Side::Callee));
    w.collect();
    w.take_request(CALLEE, Method::Bye);
    w.nothing_sent();
    assert!(w.events.is_empty(), "{:?}", w.events);
    assert_eq!(w.pbx.b2bua().calls_for(1, "102"), 0);
    w.deliver(CALLER, caller_request("BYE", "p4", 2, Some(&tag), "").as_bytes());
    w.take_response(CALLER, 200);
    w.nothing_sent();
    assert!(matches!(w.take_event(), CallEvent::Ended { .. }));
}
