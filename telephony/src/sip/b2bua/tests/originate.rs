//! Calls Switchboard places itself, on a virtual clock: the person rung answers (their codec
//! chosen, their side reported), holds, hangs up; or nobody takes the call; or we call it off.

use super::*;

fn ring_102(display: &str) -> Originate {
    Originate {
        from_user: "*77123456".into(),
        from_display: Some(display.into()),
        decision: RouteDecision::Ring {
            account: 1,
            extension: "102".into(),
            max_lines: 2,
            ring_timeout_ms: 20_000,
            media: media(),
        },
    }
}

const PCMA_ANSWER: &str = "v=0\r\no=- 2 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
    m=audio 8000 RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n";

#[test]
fn a_placed_call_rings_is_answered_held_and_hung_up_by_the_person() {
    let mut w = World::new();
    let call = w.pbx.originate(w.now, ring_102("Listen: Alice \"x\"\r\nX-Evil: 1")).expect("placed");
    w.collect();
    let inv = w.take_request(CALLEE, Method::Invite);
    w.nothing_sent();
    let from = inv.headers.get("From").unwrap();
    assert!(from.starts_with("\"Listen: Alice xX-Evil: 1\" <sip:*77123456@127.0.0.1>;tag="), "{from}");
    let offer = String::from_utf8_lossy(&inv.body).to_string();
    assert!(offer.contains("m=audio 20002 RTP/AVP 0 8 101"), "both our codecs are offered: {offer}");
    assert_eq!(w.pbx.b2bua().calls_for(1, "102"), 1, "the ringing phone's line counts");
    w.deliver(CALLEE, &callee_response(&inv, 180, "").to_bytes());
    w.nothing_sent();
    assert_eq!(w.take_event(), CallEvent::Ringing { call });
    w.deliver(CALLEE, &callee_response(&inv, 200, PCMA_ANSWER).to_bytes());
    w.take_request(CALLEE, Method::Ack);
    w.nothing_sent();
    assert_eq!(
        w.take_event(),
        CallEvent::Media {
            call,
            a_remote: None,
            b_remote: Some(addr("127.0.0.1:8000")),
            payload_type: 8,
            a_dtmf: None,
            b_dtmf: Some(101)
        },
        "the person's codec, and nobody on our side"
    );
    assert_eq!(
        w.take_event(),
        CallEvent::Answered { call, contact: format!("sip:102@{CALLEE}"), extension: Some("102".into()) }
    );
    // Their phone holds and resumes: reported, and still nobody on the caller's side.
    let hold = ANSWER.replace("a=sendrecv", "a=sendonly");
    w.deliver(CALLEE, &callee_request(&inv, Method::Invite, &hold).to_bytes());
    w.take_response(CALLEE, 200);
    assert_eq!(w.take_event(), CallEvent::Hold { call, side: Side::Callee, on: true });
    assert!(matches!(w.take_event(), CallEvent::Media { a_remote: None, .. }));
    // They hang up: the call is over, nothing goes anywhere else.
    w.deliver(CALLEE, &callee_request(&inv, Method::Bye, "").to_bytes());
    w.take_response(CALLEE, 200);
    w.nothing_sent();
    assert_eq!(
        w.take_event(),
        CallEvent::Ended { call, outcome: Outcome::Completed { hung_up_by: Side::Callee } }
    );
    assert_eq!(w.pbx.b2bua().active_calls(), 0);
    assert_eq!(w.pbx.b2bua().calls_for(1, "102"), 0);
}

#[test]
fn a_placed_call_nobody_takes_ends_with_why() {
    // Busy.
    let mut w = World::new();
    let call = w.pbx.originate(w.now, ring_102("Listen")).unwrap();
    w.collect();
    let inv = w.take_request(CALLEE, Method::Invite);
    w.deliver(CALLEE, &callee_response(&inv, 486, "").to_bytes());
    w.take_request(CALLEE, Method::Ack);
    w.nothing_sent();
    assert_eq!(w.take_event(), CallEvent::Ended { call, outcome: Outcome::Busy });
    assert_eq!(w.pbx.b2bua().active_calls(), 0);

    // No answer: CANCEL when the ring time is up.
    let mut w = World::new();
    let call = w.pbx.originate(w.now, ring_102("Listen")).unwrap();
    w.collect();
    let inv = w.take_request(CALLEE, Method::Invite);
    w.deliver(CALLEE, &callee_response(&inv, 180, "").to_bytes());
    assert_eq!(w.take_event(), CallEvent::Ringing { call });
    w.advance(20_001);
    let cancel = w.take_request(CALLEE, Method::Cancel);
    assert_eq!(w.take_event(), CallEvent::Ended { call, outcome: Outcome::NoAnswer });
    // As phones do: 200 for the CANCEL, then 487 for the INVITE, which is still ACKed.
    w.deliver(CALLEE, &Response::for_request(&cancel, 200, None).to_bytes());
    assert_eq!(w.pbx.b2bua().active_calls(), 1, "the 487 is awaited");
    w.deliver(CALLEE, &callee_response(&inv, 487, "").to_bytes());
    w.take_request(CALLEE, Method::Ack);
    assert_eq!(w.pbx.b2bua().active_calls(), 0);
    assert_eq!(w.pbx.b2bua().active_calls(), 0);
    assert_eq!(w.pbx.b2bua().calls_for(1, "102"), 0);

    // Nobody registered: placed, and over at once.
    let mut w = World::new();
    let mut o = ring_102("Listen");
    if let RouteDecision::Ring { extension, .. } = &mut o.decision {
        *extension = "199".into();
    }
    let call = w.pbx.originate(w.now, o).unwrap();
    w.collect();
    w.nothing_sent();
    assert_eq!(w.take_event(), CallEvent::Ended { call, outcome: Outcome::Rejected(480) });
    assert_eq!(w.pbx.b2bua().active_calls(), 0);

    // A decision that rings nobody places nothing.
    let mut w = World::new();
    let answer = Originate { decision: RouteDecision::Answer { media: media() }, ..ring_102("x") };
    assert_eq!(w.pbx.originate(w.now, answer), None);
    w.collect();
    w.nothing_sent();
    assert!(w.events.is_empty());
}

#[test]
fn we_call_off_a_placed_call_or_hang_it_up() {
    // Called off while it rings: CANCEL, and it ended as cancelled.
    let mut w = World::new();
    let call = w.pbx.originate(w.now, ring_102("Listen")).unwrap();
    w.collect();
    let inv = w.take_request(CALLEE, Method::Invite);
    w.deliver(CALLEE, &callee_response(&inv, 180, "").to_bytes());
    assert_eq!(w.take_event(), CallEvent::Ringing { call });
    w.pbx.hangup(w.now, call);
    w.collect();
    let cancel = w.take_request(CALLEE, Method::Cancel);
    w.nothing_sent();
    assert_eq!(w.take_event(), CallEvent::Ended { call, outcome: Outcome::Cancelled });
    // The 487 never comes: the call is forgotten after a transaction's time.
    w.deliver(CALLEE, &Response::for_request(&cancel, 200, None).to_bytes());
    w.nothing_sent();
    w.advance(w.now + 64 * 500 + 1);
    w.nothing_sent();
    assert_eq!(w.pbx.b2bua().active_calls(), 0);

    // Hung up once answered: BYE to the person only.
    let mut w = World::new();
    let call = w.pbx.originate(w.now, ring_102("Listen")).unwrap();
    w.collect();
    let inv = w.take_request(CALLEE, Method::Invite);
    w.deliver(CALLEE, &callee_response(&inv, 200, ANSWER).to_bytes());
    w.take_request(CALLEE, Method::Ack);
    assert!(matches!(w.take_event(), CallEvent::Media { payload_type: 0, .. }));
    assert!(matches!(w.take_event(), CallEvent::Answered { .. }));
    w.pbx.hangup(w.now, call);
    w.collect();
    let bye = w.take_request(CALLEE, Method::Bye);
    w.nothing_sent();
    assert_eq!(w.take_event(), CallEvent::Ended { call, outcome: Outcome::HungUpBySystem });
    w.deliver(CALLEE, &Response::for_request(&bye, 200, None).to_bytes());
    assert_eq!(w.pbx.b2bua().active_calls(), 0);
}
