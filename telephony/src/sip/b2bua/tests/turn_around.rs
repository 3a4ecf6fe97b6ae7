//! Turning a call around on a virtual clock (the blind transfer of a placed call): the person
//! who placed it leaves, the person called becomes the caller of a call we answered, is
//! connected to someone else, holds, and hangs up or is hung up on in their own dialog.

use super::*;

const OTHER: &str = "127.0.0.1:6200";

fn dial_other() -> RouteDecision {
    RouteDecision::Dial {
        uri: format!("sip:+15550001111@{OTHER}"),
        peer: addr(OTHER),
        caller_id: "+15555550100".into(),
        credentials: None,
        ring_timeout_ms: 20_000,
        media: media(),
    }
}

/// A connected call turned around: the BYE its caller got, and the INVITE its callee had.
fn turned(w: &mut World, call_id: &str) -> (CallId, Request) {
    let call = w.invite(call_id);
    let (inv, _tag) = w.answer(call_id, call);
    assert_eq!(w.pbx.turn_around(w.now, call), Ok(()));
    w.collect();
    let bye = w.take_request(CALLER, Method::Bye);
    assert_eq!(bye.headers.get("Call-ID"), Some(call_id));
    w.nothing_sent();
    assert_eq!(
        w.take_event(),
        CallEvent::Media {
            call,
            a_remote: Some(addr("127.0.0.1:8000")),
            b_remote: None,
            payload_type: 0,
            a_dtmf: None,
            b_dtmf: None
        },
        "the callee is the caller's side now"
    );
    w.deliver(CALLER, &Response::for_request(&bye, 200, None).to_bytes());
    w.nothing_sent();
    (call, inv)
}

#[test]
fn the_person_called_becomes_the_caller_and_is_connected_to_someone_else() {
    let mut w = World::new();
    let (call, inv) = turned(&mut w, "t1");
    // The old caller's late BYE is answered and changes nothing.
    w.deliver(CALLER, caller_request("BYE", "t1", 3, Some("whatever"), "").as_bytes());
    w.take_response(CALLER, 200);
    assert!(w.events.is_empty(), "{:?}", w.events);
    assert_eq!(w.pbx.b2bua().active_calls(), 1);

    // Someone else is dialled for them: offered on the port that faced the old caller.
    w.pbx.route(w.now, call, dial_other());
    w.collect();
    let out = w.take_request(OTHER, Method::Invite);
    let offer = String::from_utf8_lossy(&out.body).to_string();
    assert!(offer.contains("m=audio 20000 RTP/AVP 0 101"), "{offer}");
    let mut ok = Response::for_request(&out, 200, Some("other"));
    ok.headers.push("Contact", format!("<sip:other@{OTHER}>"));
    ok.headers.push("Content-Type", "application/sdp");
    ok.body = ANSWER.replace("8000", "9000").into_bytes();
    w.deliver(OTHER, &ok.to_bytes());
    w.take_request(OTHER, Method::Ack);
    w.nothing_sent();
    assert!(
        matches!(w.take_event(), CallEvent::Media { b_remote: Some(b), .. } if b == addr("127.0.0.1:9000"))
    );
    assert!(matches!(w.take_event(), CallEvent::Answered { .. }));

    // They hold, in their own dialog: answered from the port they send to.
    let hold = ANSWER.replace("a=sendrecv", "a=sendonly");
    w.deliver(CALLEE, &callee_request(&inv, Method::Invite, &hold).to_bytes());
    let answer = w.take_response(CALLEE, 200);
    assert!(String::from_utf8_lossy(&answer.body).contains("m=audio 20002 "), "their port is ours still");
    assert_eq!(w.take_event(), CallEvent::Hold { call, side: Side::Caller, on: true });
    assert!(matches!(w.take_event(), CallEvent::Media { .. }));

    // They hang up: the person connected gets BYE, the call ends as hung up by its caller.
    w.deliver(CALLEE, &callee_request(&inv, Method::Bye, "").to_bytes());
    w.take_response(CALLEE, 200);
    let bye = w.take_request(OTHER, Method::Bye);
    w.nothing_sent();
    assert_eq!(
        w.take_event(),
        CallEvent::Ended { call, outcome: Outcome::Completed { hung_up_by: Side::Caller } }
    );
    w.deliver(OTHER, &Response::for_request(&bye, 200, None).to_bytes());
    assert_eq!(w.pbx.b2bua().active_calls(), 0);
}

#[test]
fn a_turned_call_hung_up_by_us_sends_bye_in_the_callees_dialog() {
    let mut w = World::new();
    let (call, inv) = turned(&mut w, "t2");
    w.pbx.hangup(w.now, call);
    w.collect();
    let bye = w.take_request(CALLEE, Method::Bye);
    w.nothing_sent();
    // Our own dialog with them: our From and tag, their To with their tag, a CSeq after ours.
    let our_from = inv.headers.get("From").unwrap();
    assert_eq!(bye.headers.get("From"), Some(our_from));
    assert_eq!(
        bye.headers.get("To"),
        Some(format!("{};tag=callee", inv.headers.get("To").unwrap()).as_str())
    );
    assert_eq!(bye.headers.get("Call-ID"), inv.headers.get("Call-ID"));
    assert_eq!(bye.headers.get("CSeq"), Some("2 BYE"));
    assert_eq!(bye.uri, format!("sip:102@{CALLEE}"));
    assert_eq!(w.take_event(), CallEvent::Ended { call, outcome: Outcome::HungUpBySystem });
    w.deliver(CALLEE, &Response::for_request(&bye, 200, None).to_bytes());
    w.nothing_sent();
    assert_eq!(w.pbx.b2bua().active_calls(), 0);
}

#[test]
fn only_a_connected_call_is_turned_around() {
    let mut w = World::new();
    let call = w.invite("t3");
    assert_eq!(w.pbx.turn_around(w.now, call), Err(TurnRefused::NotConnected), "still ringing");
    assert_eq!(w.pbx.turn_around(w.now, CallId(999)), Err(TurnRefused::NotConnected));
    w.collect();
    w.take_request(CALLEE, Method::Invite);
    w.nothing_sent();
    assert!(w.events.is_empty());
}

#[test]
fn a_caller_who_asked_by_refer_is_told_it_went_ahead_before_the_bye() {
    let mut w = World::new();
    let call = w.invite("t4");
    let (_inv, tag) = w.answer("t4", call);
    let refer = caller_request("REFER", "t4", 2, Some(&tag), "")
        .replace("Max-Forwards: 70\r\n", "Max-Forwards: 70\r\nRefer-To: <sip:103@127.0.0.1>\r\n");
    w.deliver(CALLER, refer.as_bytes());
    w.take_response(CALLER, 202);
    assert_eq!(
        w.take_event(),
        CallEvent::TransferRequested { call, side: Side::Caller, target: "103".into() }
    );
    assert_eq!(w.pbx.turn_around(w.now, call), Ok(()));
    w.collect();
    let method_at =
        |m: Method| w.sent.iter().position(|(_, s)| matches!(s, Message::Request(r) if r.method == m));
    let (notify, bye) = (method_at(Method::Notify).expect("NOTIFY"), method_at(Method::Bye).expect("BYE"));
    assert!(notify < bye, "told before the BYE");
    let told = w.take_request(CALLER, Method::Notify);
    assert_eq!(String::from_utf8_lossy(&told.body), "SIP/2.0 200 OK\r\n");
    w.take_request(CALLER, Method::Bye);
    w.nothing_sent();
}
