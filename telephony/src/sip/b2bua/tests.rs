//! The B2BUA on a virtual clock: scripted caller and callee messages in, what the PBX sends and
//! reports out. No sockets, no sleeping; every scenario ends with no call left behind.

use super::*;
use crate::sip::digest;
use crate::sip::message::Message;
use crate::sip::parse::parse_datagram;
use crate::sip::registrar::{Directory, RegistrarConfig, SipUser};
use crate::sip::server::{ServerEvent, SipServer};

mod browsers;
mod originate;
mod parties;
mod path;
mod ring_group;
mod transfer;
mod turn_around;

const PBX: &str = "127.0.0.1:5060";
const CALLER: &str = "127.0.0.1:5080"; // the trusted carrier
const CALLEE: &str = "127.0.0.1:6102";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

const OFFER: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
    m=audio 7000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n";
const ANSWER: &str = "v=0\r\no=- 2 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
    m=audio 8000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n";

struct World {
    pbx: SipServer,
    now: u64,
    /// What the PBX sent, not yet looked at: (destination, message).
    sent: Vec<(SocketAddr, Message)>,
    events: Vec<CallEvent>,
}

fn media() -> MediaPorts {
    MediaPorts { a: addr("127.0.0.1:20000"), b: addr("127.0.0.1:20002") }
}

impl World {
    fn new() -> World {
        let mut pbx = SipServer::new(addr(PBX), RegistrarConfig::default(), "secret", "test");
        let mut dir = Directory::new([SipUser {
            account: 1,
            domain: None,
            username: "102".into(),
            password: "bob-password".into(),
            extension: "102".into(),
        }]);
        dir.trust(addr(CALLER).ip(), Some(addr(CALLER).port()), 1);
        pbx.set_directory(0, dir);
        let mut w = World { pbx, now: 0, sent: Vec::new(), events: Vec::new() };
        w.register_callee();
        w
    }

    fn deliver(&mut self, from: &str, bytes: &[u8]) {
        self.pbx.handle_datagram(self.now, addr(from), "UDP", bytes);
        self.collect();
    }

    fn collect(&mut self) {
        while let Some(t) = self.pbx.poll_transmit() {
            self.sent.push((t.to, parse_datagram(&t.bytes).expect("the PBX sends valid SIP")));
        }
        while let Some(e) = self.pbx.poll_event() {
            if let ServerEvent::Call(e) = e {
                self.events.push(e);
            }
        }
    }

    fn advance(&mut self, to_ms: u64) {
        while let Some(t) = self.pbx.poll_timeout().filter(|t| *t <= to_ms) {
            self.now = t.max(self.now);
            self.pbx.handle_timeout(self.now);
            self.collect();
        }
        self.now = to_ms;
    }

    /// The caller's INVITE, answered by us (as an IVR would) and ACKed; its media and answered
    /// events taken.
    fn answered_by_us(&mut self, call_id: &str) -> CallId {
        self.deliver(CALLER, caller_request("INVITE", call_id, 1, None, OFFER).as_bytes());
        self.take_response(CALLER, 100);
        let CallEvent::Incoming(inc) = self.take_event() else { panic!("expected Incoming") };
        self.pbx.route(self.now, inc.call, RouteDecision::Answer { media: media() });
        self.collect();
        let ok = self.take_response(CALLER, 200);
        assert!(matches!(self.take_event(), CallEvent::Media { .. }));
        assert!(matches!(self.take_event(), CallEvent::Answered { .. }));
        let tag = NameAddr::parse(ok.headers.get("To").unwrap()).unwrap().tag().unwrap().to_string();
        self.deliver(CALLER, caller_request("ACK", call_id, 1, Some(&tag), "").as_bytes());
        inc.call
    }

    fn register_callee(&mut self) {
        let reg = |auth: Option<String>, cseq: u32| {
            format!(
                "REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {CALLEE};branch=z9hG4bKreg{cseq}\r\n\
                 From: <sip:102@127.0.0.1>;tag=r\r\nTo: <sip:102@127.0.0.1>\r\nCall-ID: reg\r\nCSeq: {cseq} REGISTER\r\n\
                 Contact: <sip:102@{CALLEE}>\r\nExpires: 3600\r\n{}Content-Length: 0\r\n\r\n",
                auth.map(|a| format!("Authorization: {a}\r\n")).unwrap_or_default()
            )
        };
        self.deliver(CALLEE, reg(None, 1).as_bytes());
        let challenge = self.take_response(CALLEE, 401);
        let auth = digest::answer(
            challenge.headers.get("WWW-Authenticate").unwrap(),
            "REGISTER",
            "sip:127.0.0.1",
            "102",
            "bob-password",
            "c",
            1,
        );
        self.deliver(CALLEE, reg(auth, 2).as_bytes());
        self.take_response(CALLEE, 200);
    }

    /// Removes and returns the first response with this status sent to `to`.
    fn take_response(&mut self, to: &str, status: u16) -> Response {
        let i = self
            .sent
            .iter()
            .position(|(a, m)| *a == addr(to) && matches!(m, Message::Response(r) if r.status == status))
            .unwrap_or_else(|| panic!("no {status} to {to}; sent: {:#?}", self.sent));
        match self.sent.remove(i).1 {
            Message::Response(r) => r,
            _ => unreachable!(),
        }
    }

    fn take_request(&mut self, to: &str, method: Method) -> Request {
        let i = self
            .sent
            .iter()
            .position(|(a, m)| *a == addr(to) && matches!(m, Message::Request(r) if r.method == method))
            .unwrap_or_else(|| panic!("no {method} to {to}; sent: {:#?}", self.sent));
        match self.sent.remove(i).1 {
            Message::Request(r) => r,
            _ => unreachable!(),
        }
    }

    fn take_event(&mut self) -> CallEvent {
        assert!(!self.events.is_empty(), "no event");
        self.events.remove(0)
    }

    fn nothing_sent(&self) {
        assert!(self.sent.is_empty(), "unexpected: {:#?}", self.sent);
    }

    /// The caller's INVITE, answered 100 Trying, reported and routed to extension 102.
    fn invite(&mut self, call_id: &str) -> CallId {
        self.invite_ringing(call_id, 20_000)
    }

    fn invite_ringing(&mut self, call_id: &str, ring_timeout_ms: u64) -> CallId {
        self.deliver(CALLER, caller_request("INVITE", call_id, 1, None, OFFER).as_bytes());
        self.take_response(CALLER, 100);
        let CallEvent::Incoming(inc) = self.take_event() else { panic!("expected Incoming") };
        assert_eq!(inc.dialled, "+15555550100");
        assert_eq!(inc.caller, Caller::Trunk { accounts: vec![1] });
        self.pbx.route(
            self.now,
            inc.call,
            RouteDecision::Ring {
                account: 1,
                extension: "102".into(),
                max_lines: 2,
                ring_timeout_ms,
                media: media(),
            },
        );
        self.collect();
        inc.call
    }

    /// Rings and answers; returns the INVITE the callee got and the tag the caller sees.
    fn answer(&mut self, call_id: &str, call: CallId) -> (Request, String) {
        let inv = self.take_request(CALLEE, Method::Invite);
        assert!(String::from_utf8_lossy(&inv.body).contains("m=audio 20002 "), "offer points at our b side");
        self.deliver(CALLEE, &callee_response(&inv, 180, "").to_bytes());
        self.take_response(CALLER, 180);
        assert_eq!(self.take_event(), CallEvent::Ringing { call });
        self.deliver(CALLEE, &callee_response(&inv, 200, ANSWER).to_bytes());
        self.take_request(CALLEE, Method::Ack);
        let ok = self.take_response(CALLER, 200);
        assert!(String::from_utf8_lossy(&ok.body).contains("m=audio 20000 "), "answer points at our a side");
        assert!(
            matches!(self.take_event(), CallEvent::Media { a_remote: Some(a), b_remote: Some(b), payload_type: 0, .. }
            if a == addr("127.0.0.1:7000") && b == addr("127.0.0.1:8000"))
        );
        assert!(matches!(self.take_event(), CallEvent::Answered { .. }));
        let to_tag = NameAddr::parse(ok.headers.get("To").unwrap()).unwrap().tag().unwrap().to_string();
        self.deliver(CALLER, caller_request("ACK", call_id, 1, Some(&to_tag), "").as_bytes());
        self.nothing_sent();
        (inv, to_tag)
    }
}

fn caller_request(method: &str, call_id: &str, cseq: u32, to_tag: Option<&str>, body: &str) -> String {
    let branch = if method == "ACK" || method == "CANCEL" {
        format!("z9hG4bK{call_id}1")
    } else {
        format!("z9hG4bK{call_id}{cseq}")
    };
    let branch = if method == "ACK" && to_tag.is_some() { format!("z9hG4bK{call_id}ack") } else { branch };
    let cseq_method = method;
    format!(
        "{method} sip:+15555550100@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {CALLER};branch={branch}\r\n\
         From: <sip:+12025550111@carrier.example>;tag=caller\r\nTo: <sip:+15555550100@127.0.0.1>{}\r\n\
         Call-ID: {call_id}\r\nCSeq: {cseq} {cseq_method}\r\nContact: <sip:carrier@{CALLER}>\r\nMax-Forwards: 70\r\n\
         {}Content-Length: {}\r\n\r\n{body}",
        to_tag.map(|t| format!(";tag={t}")).unwrap_or_default(),
        if body.is_empty() { "" } else { "Content-Type: application/sdp\r\n" },
        body.len()
    )
}

fn callee_response(req: &Request, status: u16, body: &str) -> Response {
    let mut r = Response::for_request(req, status, Some("callee"));
    r.headers.push("Contact", format!("<sip:102@{CALLEE}>"));
    if !body.is_empty() {
        r.headers.push("Content-Type", "application/sdp");
        r.body = body.as_bytes().to_vec();
    }
    r
}

/// A request from the callee inside its dialog (BYE, re-INVITE), built from the INVITE it got.
fn callee_request(inv: &Request, method: Method, body: &str) -> Request {
    let mut r = Request::new(
        method.clone(),
        inv.headers.get("Contact").map(|c| c.trim_matches(['<', '>']).to_string()).unwrap(),
    );
    r.headers.push("Via", format!("SIP/2.0/UDP {CALLEE};branch=z9hG4bKcallee{method}"));
    r.headers.push("From", format!("{};tag=callee", inv.headers.get("To").unwrap()));
    r.headers.push("To", inv.headers.get("From").unwrap());
    r.headers.push("Call-ID", inv.headers.get("Call-ID").unwrap());
    r.headers.push("CSeq", format!("1 {method}"));
    r.headers.push("Max-Forwards", "70");
    if !body.is_empty() {
        r.headers.push("Content-Type", "application/sdp");
        r.body = body.as_bytes().to_vec();
    }
    r
}

#[test]
fn answered_call_caller_hangs_up() {
    let mut w = World::new();
    let call = w.invite("c1");
    let (_, tag) = w.answer("c1", call);
    // A late retransmission of the INVITE gets the final answer again, nothing new happens.
    w.deliver(CALLER, caller_request("INVITE", "c1", 1, None, OFFER).as_bytes());
    w.take_response(CALLER, 200);
    // Caller's BYE: 200 to the caller, BYE to the callee.
    w.deliver(CALLER, caller_request("BYE", "c1", 2, Some(&tag), "").as_bytes());
    w.take_response(CALLER, 200);
    let bye = w.take_request(CALLEE, Method::Bye);
    assert_eq!(
        w.take_event(),
        CallEvent::Ended { call, outcome: Outcome::Completed { hung_up_by: Side::Caller } }
    );
    w.deliver(CALLEE, &callee_response(&bye, 200, "").to_bytes());
    w.nothing_sent();
    assert_eq!(w.pbx.b2bua().active_calls(), 0, "the call is forgotten");
    assert_eq!(
        w.pbx.poll_timeout().map(|t| t > 30_000),
        Some(true),
        "only the registration and transaction cache remain"
    );
}

#[test]
fn answered_call_callee_hangs_up_and_bye_is_retransmitted_until_answered() {
    let mut w = World::new();
    let call = w.invite("c2");
    let (inv, _) = w.answer("c2", call);
    w.deliver(CALLEE, &callee_request(&inv, Method::Bye, "").to_bytes());
    w.take_response(CALLEE, 200);
    let bye = w.take_request(CALLER, Method::Bye);
    assert_eq!(bye.uri, format!("sip:carrier@{CALLER}"), "sent to the caller's Contact");
    assert_eq!(
        w.take_event(),
        CallEvent::Ended { call, outcome: Outcome::Completed { hung_up_by: Side::Callee } }
    );
    // Unanswered, the BYE is sent again after T1, then 2·T1.
    w.advance(w.now + T1);
    w.take_request(CALLER, Method::Bye);
    w.advance(w.now + 2 * T1);
    w.take_request(CALLER, Method::Bye);
    let mut ok = Response::for_request(&bye, 200, None);
    ok.reason = "OK".into();
    w.deliver(CALLER, &ok.to_bytes());
    w.advance(w.now + 10 * T1);
    w.nothing_sent();
    assert_eq!(w.pbx.b2bua().active_calls(), 0);
}

#[test]
fn cancel_before_answer() {
    let mut w = World::new();
    let call = w.invite("c3");
    let inv = w.take_request(CALLEE, Method::Invite);
    w.deliver(CALLEE, &callee_response(&inv, 180, "").to_bytes());
    w.take_response(CALLER, 180);
    w.take_event();
    w.deliver(CALLER, caller_request("CANCEL", "c3", 1, None, "").as_bytes());
    w.take_response(CALLER, 200);
    let terminated = w.take_response(CALLER, 487);
    let cancel = w.take_request(CALLEE, Method::Cancel);
    assert_eq!(w.take_event(), CallEvent::Ended { call, outcome: Outcome::Cancelled });
    // The callee confirms: 200 for the CANCEL, 487 for the INVITE (which we ACK).
    w.deliver(CALLEE, &Response::for_request(&cancel, 200, Some("callee")).to_bytes());
    w.deliver(CALLEE, &callee_response(&inv, 487, "").to_bytes());
    w.take_request(CALLEE, Method::Ack);
    // The caller ACKs our 487 (same branch as its INVITE).
    let tag = NameAddr::parse(terminated.headers.get("To").unwrap()).unwrap().tag().unwrap().to_string();
    let mut ack = caller_request("ACK", "c3", 1, Some(&tag), "");
    ack = ack.replace("z9hG4bKc3ack", "z9hG4bKc31");
    w.deliver(CALLER, ack.as_bytes());
    w.nothing_sent();
    assert_eq!(w.pbx.b2bua().active_calls(), 0);
}

#[test]
fn busy_callee_and_busy_lines() {
    let mut w = World::new();
    let call = w.invite("c4");
    let inv = w.take_request(CALLEE, Method::Invite);
    w.deliver(CALLEE, &callee_response(&inv, 486, "").to_bytes());
    w.take_request(CALLEE, Method::Ack);
    w.take_response(CALLER, 486);
    assert_eq!(w.take_event(), CallEvent::Ended { call, outcome: Outcome::Busy });

    // Two calls ringing 102 (two lines): the third caller hears busy at once.
    let mut w = World::new();
    w.invite("c5");
    w.invite("c6");
    w.take_request(CALLEE, Method::Invite);
    w.take_request(CALLEE, Method::Invite);
    let third = w.invite("c7");
    w.take_response(CALLER, 486);
    assert_eq!(w.take_event(), CallEvent::Ended { call: third, outcome: Outcome::Busy });
}

#[test]
fn no_answer_times_out_and_a_silent_callee_is_408() {
    let mut w = World::new();
    let call = w.invite("c8");
    let inv = w.take_request(CALLEE, Method::Invite);
    w.deliver(CALLEE, &callee_response(&inv, 180, "").to_bytes());
    w.take_response(CALLER, 180);
    w.take_event();
    w.advance(20_000);
    w.take_request(CALLEE, Method::Cancel);
    w.take_response(CALLER, 480);
    assert_eq!(w.take_event(), CallEvent::Ended { call, outcome: Outcome::NoAnswer });

    // A callee that never answers at all: INVITE resent at T1, 2·T1, 4·T1 …, then 408 (Timer B).
    let mut w = World::new();
    let call = w.invite_ringing("c9", 60_000);
    w.take_request(CALLEE, Method::Invite);
    w.advance(T1);
    w.take_request(CALLEE, Method::Invite);
    w.advance(3 * T1);
    w.take_request(CALLEE, Method::Invite);
    w.advance(64 * T1);
    w.sent.retain(|(_, m)| !matches!(m, Message::Request(r) if r.method == Method::Invite));
    w.take_response(CALLER, 408);
    assert_eq!(w.take_event(), CallEvent::Ended { call, outcome: Outcome::NoAnswer });
}

#[test]
fn unregistered_callee_is_480_and_rejections_pass_through() {
    let mut w = World::new();
    w.deliver(CALLER, caller_request("INVITE", "c10", 1, None, OFFER).as_bytes());
    w.take_response(CALLER, 100);
    let CallEvent::Incoming(inc) = w.take_event() else { panic!() };
    w.pbx.route(
        w.now,
        inc.call,
        RouteDecision::Ring {
            account: 1,
            extension: "103".into(),
            max_lines: 2,
            ring_timeout_ms: 1000,
            media: media(),
        },
    );
    w.collect();
    w.take_response(CALLER, 480);
    assert_eq!(w.take_event(), CallEvent::Ended { call: inc.call, outcome: Outcome::Rejected(480) });
    w.deliver(CALLER, caller_request("INVITE", "c11", 1, None, OFFER).as_bytes());
    w.take_response(CALLER, 100);
    let CallEvent::Incoming(inc) = w.take_event() else { panic!() };
    w.pbx.route(
        w.now,
        inc.call,
        RouteDecision::Reject { status: 404, reason: Some("no such\r\nextension".into()) },
    );
    w.collect();
    let refused = w.take_response(CALLER, 404);
    // The application's reason joins the phrase, on one line.
    assert!(
        refused.reason.starts_with("Not Found (no such") && !refused.reason.contains('\n'),
        "{}",
        refused.reason
    );
    // Without an ACK our final response is resent, then given up (Timer H); nothing leaks.
    w.advance(T1);
    w.take_response(CALLER, 404);
    w.advance(64 * T1 + 10);
    w.sent.clear();
    assert_eq!(w.pbx.b2bua().active_calls(), 0);
    // An INVITE without a usable offer is refused outright.
    w.deliver(
        CALLER,
        caller_request("INVITE", "c12", 1, None, "v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 5 RTP/AVP 18\r\n")
            .as_bytes(),
    );
    w.take_response(CALLER, 488);
}

#[test]
fn hold_and_resume_by_reinvite() {
    let mut w = World::new();
    let call = w.invite("c13");
    let (inv, _) = w.answer("c13", call);
    let hold = OFFER.replace("a=sendrecv", "a=sendonly");
    let mut reinvite = callee_request(&inv, Method::Invite, &hold);
    reinvite.headers.set("CSeq", "2 INVITE");
    w.deliver(CALLEE, &reinvite.to_bytes());
    let ok = w.take_response(CALLEE, 200);
    let body = String::from_utf8_lossy(&ok.body).to_string();
    assert!(body.contains("a=recvonly") && body.contains("m=audio 20002 "), "{body}");
    // The application is told, so that the caller hears hold music.
    assert_eq!(w.take_event(), CallEvent::Hold { call, side: Side::Callee, on: true });
    assert!(matches!(w.take_event(), CallEvent::Media { call: c, b_remote: None, .. } if c == call));
    let mut resume = callee_request(&inv, Method::Invite, OFFER);
    resume.headers.set("CSeq", "3 INVITE");
    resume.headers.set("Via", format!("SIP/2.0/UDP {CALLEE};branch=z9hG4bKresume"));
    w.deliver(CALLEE, &resume.to_bytes());
    let ok = w.take_response(CALLEE, 200);
    assert!(String::from_utf8_lossy(&ok.body).contains("a=sendrecv"));
    assert_eq!(w.take_event(), CallEvent::Hold { call, side: Side::Callee, on: false });
    assert!(matches!(w.take_event(), CallEvent::Media { b_remote: Some(_), .. }));
}

#[test]
fn info_digits_are_reported() {
    let mut w = World::new();
    let call = w.invite("c14");
    let (inv, _) = w.answer("c14", call);
    let mut info = callee_request(&inv, Method::Info, "");
    info.headers.set("Content-Type", "application/dtmf-relay");
    info.body = b"Signal=7\r\nDuration=160\r\n".to_vec();
    w.deliver(CALLEE, &info.to_bytes());
    w.take_response(CALLEE, 200);
    assert_eq!(w.take_event(), CallEvent::Dtmf { call, side: Side::Callee, digit: '7' });
}

#[test]
fn dialling_out_through_a_carrier_that_challenges() {
    const CARRIER: &str = "127.0.0.1:5090";
    let mut w = World::new();
    w.deliver(CALLER, caller_request("INVITE", "c15", 1, None, OFFER).as_bytes());
    w.take_response(CALLER, 100);
    let CallEvent::Incoming(inc) = w.take_event() else { panic!() };
    w.pbx.route(
        w.now,
        inc.call,
        RouteDecision::Dial {
            uri: "sip:+12025550123@127.0.0.1:5090".into(),
            peer: addr(CARRIER),
            caller_id: "+15555550100".into(),
            credentials: Some(("acct".into(), "trunk-pw".into())),
            ring_timeout_ms: 30_000,
            media: media(),
        },
    );
    w.collect();
    let inv = w.take_request(CARRIER, Method::Invite);
    assert_eq!(inv.uri, "sip:+12025550123@127.0.0.1:5090");
    assert!(inv.headers.get("From").unwrap().contains("sip:+15555550100@"), "business caller ID");
    let ns = crate::sip::digest::NonceSource::new("carrier");
    let mut challenge = callee_response(&inv, 407, "");
    challenge.headers.push("Proxy-Authenticate", ns.challenge("carrier.example", 0, false));
    w.deliver(CARRIER, &challenge.to_bytes());
    w.take_request(CARRIER, Method::Ack);
    let again = w.take_request(CARRIER, Method::Invite);
    assert_eq!(again.headers.get("CSeq"), Some("2 INVITE"));
    let creds =
        crate::sip::digest::Credentials::parse(again.headers.get("Proxy-Authorization").unwrap()).unwrap();
    assert!(creds.verify("INVITE", &crate::sip::digest::ha1("acct", "carrier.example", "trunk-pw")));
    w.deliver(CARRIER, &callee_response(&again, 200, ANSWER).to_bytes());
    let ack = w.take_request(CARRIER, Method::Ack);
    assert_eq!(ack.headers.get("CSeq"), Some("2 ACK"));
    w.take_response(CALLER, 200);
    assert!(matches!(w.take_event(), CallEvent::Media { .. }));
    assert!(matches!(w.take_event(), CallEvent::Answered { .. }));
}

#[test]
fn answered_by_us_then_connected_to_an_agent_or_told_nobody_came() {
    let mut w = World::new();
    w.deliver(CALLER, caller_request("INVITE", "c16", 1, None, OFFER).as_bytes());
    w.take_response(CALLER, 100);
    let CallEvent::Incoming(inc) = w.take_event() else { panic!() };
    let call = inc.call;
    // We answer (an IVR would now play its prompt to the caller).
    w.pbx.route(w.now, call, RouteDecision::Answer { media: media() });
    w.collect();
    let ok = w.take_response(CALLER, 200);
    assert!(String::from_utf8_lossy(&ok.body).contains("m=audio 20000 "));
    assert!(matches!(w.take_event(), CallEvent::Media { b_remote: None, payload_type: 0, .. }));
    assert!(matches!(w.take_event(), CallEvent::Answered { .. }));
    let tag = NameAddr::parse(ok.headers.get("To").unwrap()).unwrap().tag().unwrap().to_string();
    w.deliver(CALLER, caller_request("ACK", "c16", 1, Some(&tag), "").as_bytes());
    // First try: the agent is busy; the caller stays with us.
    w.pbx.route(
        w.now,
        call,
        RouteDecision::Ring {
            account: 1,
            extension: "102".into(),
            max_lines: 2,
            ring_timeout_ms: 20_000,
            media: media(),
        },
    );
    w.collect();
    let inv = w.take_request(CALLEE, Method::Invite);
    assert!(
        String::from_utf8_lossy(&inv.body).contains("m=audio 20002 RTP/AVP 0 101"),
        "only the caller's codec is offered"
    );
    w.deliver(CALLEE, &callee_response(&inv, 486, "").to_bytes());
    w.take_request(CALLEE, Method::Ack);
    assert_eq!(w.take_event(), CallEvent::Unreached { call, status: 486 });
    w.nothing_sent();
    // Second try: the agent answers; no new 200 goes to the caller.
    w.pbx.route(
        w.now,
        call,
        RouteDecision::Ring {
            account: 1,
            extension: "102".into(),
            max_lines: 2,
            ring_timeout_ms: 20_000,
            media: media(),
        },
    );
    w.collect();
    let inv = w.take_request(CALLEE, Method::Invite);
    // The agent's phone rings: the caller, already answered, gets no 180 after our 200.
    w.deliver(CALLEE, &callee_response(&inv, 180, "").to_bytes());
    w.nothing_sent();
    assert_eq!(w.take_event(), CallEvent::Ringing { call });
    w.deliver(CALLEE, &callee_response(&inv, 200, ANSWER).to_bytes());
    w.take_request(CALLEE, Method::Ack);
    w.nothing_sent();
    assert!(
        matches!(w.take_event(), CallEvent::Media { b_remote: Some(b), .. } if b == addr("127.0.0.1:8000"))
    );
    assert!(matches!(w.take_event(), CallEvent::Answered { .. }));
    // We hang up: BYE to both.
    w.pbx.hangup(w.now, call);
    w.collect();
    let bye_a = w.take_request(CALLER, Method::Bye);
    let bye_b = w.take_request(CALLEE, Method::Bye);
    assert_eq!(w.take_event(), CallEvent::Ended { call, outcome: Outcome::HungUpBySystem });
    w.deliver(CALLER, &Response::for_request(&bye_a, 200, None).to_bytes());
    w.deliver(CALLEE, &Response::for_request(&bye_b, 200, None).to_bytes());
    assert_eq!(w.pbx.b2bua().active_calls(), 0);
}

/// Someone listening in on a call we answered hangs up: with `keep_caller` only their leg
/// ends and the caller stays (and can be connected again); without it the call ends.
#[test]
fn a_listener_who_hangs_up_leaves_the_caller_with_us() {
    let mut w = World::new();
    let call = w.answered_by_us("c17");
    let ring = || RouteDecision::Ring {
        account: 1,
        extension: "102".into(),
        max_lines: 1,
        ring_timeout_ms: 20_000,
        media: media(),
    };
    w.pbx.keep_caller(call, true);
    let mut connected = None;
    for round in 0..2 {
        w.pbx.route(w.now, call, ring());
        w.collect();
        let inv = w.take_request(CALLEE, Method::Invite);
        w.deliver(CALLEE, &callee_response(&inv, 200, ANSWER).to_bytes());
        w.take_request(CALLEE, Method::Ack);
        assert!(matches!(w.take_event(), CallEvent::Media { b_remote: Some(_), .. }));
        assert!(matches!(w.take_event(), CallEvent::Answered { .. }));
        assert_eq!(w.pbx.b2bua().calls_for(1, "102"), 1, "round {round}");
        if round == 1 {
            connected = Some(inv);
            break;
        }
        // The listener hangs up: 200 to them, nothing to the caller, the line is free again.
        w.deliver(CALLEE, &callee_request(&inv, Method::Bye, "").to_bytes());
        w.take_response(CALLEE, 200);
        w.nothing_sent();
        assert_eq!(w.take_event(), CallEvent::CalleeLeft { call });
        assert_eq!(w.pbx.b2bua().calls_for(1, "102"), 0);
        assert_eq!(w.pbx.b2bua().active_calls(), 1);
    }
    // Without keep_caller, the person hanging up ends the call.
    w.pbx.keep_caller(call, false);
    let inv = connected.unwrap();
    // A new transaction (its own branch: the helper's fixed one would be a retransmission).
    let bye = callee_request(&inv, Method::Bye, "").to_bytes();
    let bye = String::from_utf8_lossy(&bye).replace("z9hG4bKcalleeBYE", "z9hG4bKcalleeBYE2");
    w.deliver(CALLEE, bye.as_bytes());
    w.take_response(CALLEE, 200);
    w.take_request(CALLER, Method::Bye);
    assert!(matches!(w.take_event(), CallEvent::Ended { .. }));
}

/// Each call's timers fire at their own time, whatever order the calls were armed in, and the
/// timer queue empties once the calls are gone (it never scans or keeps dead calls).
#[test]
fn timers_of_many_calls_fire_in_deadline_order_and_leave_nothing_queued() {
    let mut w = World::new();
    let late = w.invite_ringing("late", 20_000);
    let early = w.invite_ringing("early", 5_000);
    for _ in 0..2 {
        let inv = w.take_request(CALLEE, Method::Invite);
        w.deliver(CALLEE, &callee_response(&inv, 180, "").to_bytes());
        w.take_response(CALLER, 180);
        w.take_event();
    }
    w.advance(4_999);
    assert!(w.events.is_empty(), "nothing due yet: {:?}", w.events);
    w.advance(5_000);
    assert_eq!(w.take_event(), CallEvent::Ended { call: early, outcome: Outcome::NoAnswer });
    assert!(w.events.is_empty());
    w.advance(20_000);
    assert_eq!(w.take_event(), CallEvent::Ended { call: late, outcome: Outcome::NoAnswer });
    // Answer the CANCELs and ACK the 480s: then nothing is pending for either call.
    while let Some(i) =
        w.sent.iter().position(|(_, m)| matches!(m, Message::Request(r) if r.method == Method::Cancel))
    {
        let Message::Request(cancel) = w.sent.remove(i).1 else { unreachable!() };
        w.deliver(CALLEE, &callee_response(&cancel, 200, "").to_bytes());
    }
    for call_id in ["early", "late"] {
        let resp = w.take_response(CALLER, 480);
        let tag = NameAddr::parse(resp.headers.get("To").unwrap()).unwrap().tag().unwrap().to_string();
        w.deliver(CALLER, caller_request("ACK", call_id, 1, Some(&tag), "").as_bytes());
    }
    w.advance(60_000);
    assert_eq!(w.pbx.b2bua().active_calls(), 0);
    assert!(w.pbx.b2bua().timers.is_empty(), "no timer left for forgotten calls");
}

/// An agent with no-answer forwarding: the call rings without being answered; when nobody
/// answers (busy, then no answer) the caller is not refused but kept waiting for the
/// application, which answers it itself (voicemail) — or refuses it when the next ring is not
/// reported.
#[test]
fn nobody_answering_a_ringing_call_is_reported_when_asked_and_the_caller_keeps_waiting() {
    let mut w = World::new();
    w.register_callee();
    w.deliver(CALLER, caller_request("INVITE", "c30", 1, None, OFFER).as_bytes());
    w.take_response(CALLER, 100);
    let CallEvent::Incoming(inc) = w.take_event() else { panic!() };
    let call = inc.call;
    // Lines enough for both test calls at once (the first stays up).
    let ring = || RouteDecision::Ring {
        account: 1,
        extension: "102".into(),
        max_lines: 4,
        ring_timeout_ms: 5_000,
        media: media(),
    };
    w.pbx.report_unreached(call, true);
    w.pbx.route(w.now, call, ring());
    w.collect();
    let inv = w.take_request(CALLEE, Method::Invite);
    w.deliver(CALLEE, &callee_response(&inv, 180, "").to_bytes());
    w.take_response(CALLER, 180);
    assert_eq!(w.take_event(), CallEvent::Ringing { call });
    // Nobody answers within the ring time: CANCEL to the phone, nothing final to the caller.
    let now = w.now;
    w.advance(now + 5_001);
    assert_eq!(w.take_event(), CallEvent::Unreached { call, status: 408 });
    let cancel = w.take_request(CALLEE, Method::Cancel);
    w.deliver(CALLEE, &Response::for_request(&cancel, 200, None).to_bytes());
    w.deliver(CALLEE, &callee_response(&inv, 487, "").to_bytes());
    w.take_request(CALLEE, Method::Ack);
    w.nothing_sent();
    // The application answers the caller itself (the agent's voicemail box).
    w.pbx.route(w.now, call, RouteDecision::Answer { media: media() });
    w.collect();
    w.take_response(CALLER, 200);
    assert!(matches!(w.take_event(), CallEvent::Media { b_remote: None, .. }));
    assert!(matches!(w.take_event(), CallEvent::Answered { .. }));

    // Reported once only: the next call, rung without asking, is refused as before.
    w.deliver(CALLER, caller_request("INVITE", "c31", 1, None, OFFER).as_bytes());
    w.take_response(CALLER, 100);
    let CallEvent::Incoming(inc) = w.take_event() else { panic!() };
    w.pbx.report_unreached(inc.call, true);
    w.pbx.route(w.now, inc.call, ring());
    w.collect();
    let inv = w.take_request(CALLEE, Method::Invite);
    w.deliver(CALLEE, &callee_response(&inv, 486, "").to_bytes());
    w.take_request(CALLEE, Method::Ack);
    assert_eq!(w.take_event(), CallEvent::Unreached { call: inc.call, status: 486 });
    w.nothing_sent();
    w.pbx.route(w.now, inc.call, ring());
    w.collect();
    let inv = w.take_request(CALLEE, Method::Invite);
    w.deliver(CALLEE, &callee_response(&inv, 486, "").to_bytes());
    w.take_request(CALLEE, Method::Ack);
    w.take_response(CALLER, 486);
}

/// A caller we answered who chooses something else while an agent's phone rings (a queue's
/// opt-out key): the phone is cancelled, the application told, and the caller stays with us.
#[test]
fn ringing_for_a_call_we_answered_can_be_stopped() {
    let mut w = World::new();
    w.register_callee();
    let call = w.answered_by_us("c40");
    let ring = RouteDecision::Ring {
        account: 1,
        extension: "102".into(),
        max_lines: 2,
        ring_timeout_ms: 20_000,
        media: media(),
    };
    w.pbx.route(w.now, call, ring);
    w.collect();
    let inv = w.take_request(CALLEE, Method::Invite);
    w.deliver(CALLEE, &callee_response(&inv, 180, "").to_bytes());
    assert_eq!(w.take_event(), CallEvent::Ringing { call });
    w.pbx.stop_ringing(w.now, call);
    w.collect();
    let cancel = w.take_request(CALLEE, Method::Cancel);
    assert_eq!(w.take_event(), CallEvent::Unreached { call, status: 487 });
    w.deliver(CALLEE, &Response::for_request(&cancel, 200, None).to_bytes());
    w.deliver(CALLEE, &callee_response(&inv, 487, "").to_bytes());
    w.take_request(CALLEE, Method::Ack);
    w.nothing_sent();
    // Nothing rings now: stopping again does nothing; the caller is still ours.
    w.pbx.stop_ringing(w.now, call);
    w.collect();
    w.nothing_sent();
    assert_eq!(w.pbx.b2bua().active_calls(), 1);
    w.pbx.hangup(w.now, call);
    w.collect();
    w.take_request(CALLER, Method::Bye);
}
