//! Browsers in the B2BUA with a scripted `WebRtcMedia`: a browser registered over WebSocket
//! beside a desk phone gets the WebRTC offer while the phone gets plain RTP; the browser's
//! answer goes to the WebRTC leg and the relay is pointed at the leg; the leg is released when
//! the call ends, and a desk phone's answer releases it at once. A browser registered through
//! a proxy that holds its WebSocket (its Contact says `transport=ws`) gets the WebRTC offer
//! too, sent to the proxy.

use super::*;
use std::sync::{Arc, Mutex};

const BROWSER: &str = "127.0.0.1:7102";
const LEG: &str = "127.0.0.1:30000";
const BROWSER_ANSWER: &str = "v=0\r\no=- 3 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n\
    m=audio 9 UDP/TLS/RTP/SAVPF 111 0\r\nc=IN IP4 0.0.0.0\r\na=ice-ufrag:x\r\na=ice-pwd:y\r\n\
    a=setup:active\r\na=mid:0\r\na=rtpmap:111 opus/48000/2\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n";

/// Records what the B2BUA asks of the WebRTC media.
#[derive(Clone, Default)]
struct Script(Arc<Mutex<Vec<String>>>);

impl Script {
    fn asked(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

impl WebRtcMedia for Script {
    fn answer(&mut self, call: CallId, side: Side, _: SocketAddr, _: &str) -> Result<WebRtcSide, String> {
        self.0.lock().unwrap().push(format!("answer {call} {side:?}"));
        Err("not in this test".into())
    }

    fn offer(&mut self, call: CallId, side: Side, relay: SocketAddr) -> Result<WebRtcSide, String> {
        self.0.lock().unwrap().push(format!("offer {call} {side:?} relay {relay}"));
        let sdp = "v=0\r\no=str0m 1 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n\
                   c=IN IP4 0.0.0.0\r\na=setup:actpass\r\na=mid:0\r\na=rtpmap:111 opus/48000/2\r\na=sendrecv\r\n";
        Ok(WebRtcSide { sdp: sdp.into(), relay_peer: addr(LEG) })
    }

    fn accept_answer(&mut self, call: CallId, side: Side, answer: &str) -> Result<(), String> {
        let ok = answer.contains("a=setup:active");
        self.0.lock().unwrap().push(format!("accept {call} {side:?} {ok}"));
        Ok(())
    }

    fn release(&mut self, call: CallId, side: Option<Side>) {
        self.0.lock().unwrap().push(format!("release {call} {side:?}"));
    }
}

/// The World, with Bob's browser registered over WebSocket beside his desk phone.
fn world_with_browser() -> (World, Script) {
    let mut w = World::new();
    let script = Script::default();
    w.pbx.set_webrtc(Box::new(script.clone()));
    let reg = |auth: Option<String>, cseq: u32| {
        format!(
            "REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/WS df7jal23ls0d.invalid;branch=z9hG4bKws{cseq}\r\n\
             From: <sip:102@127.0.0.1>;tag=w\r\nTo: <sip:102@127.0.0.1>\r\nCall-ID: ws-reg\r\nCSeq: {cseq} REGISTER\r\n\
             Contact: <sip:b0b@df7jal23ls0d.invalid;transport=ws>\r\nExpires: 600\r\n{}Content-Length: 0\r\n\r\n",
            auth.map(|a| format!("Authorization: {a}\r\n")).unwrap_or_default()
        )
    };
    w.pbx.handle_datagram(w.now, addr(BROWSER), "WS", reg(None, 1).as_bytes());
    w.collect();
    let challenge = w.take_response(BROWSER, 401);
    let www = challenge.headers.get("WWW-Authenticate").unwrap();
    let auth = digest::answer(www, "REGISTER", "sip:127.0.0.1", "102", "bob-password", "c", 1);
    w.pbx.handle_datagram(w.now, addr(BROWSER), "WS", reg(auth, 2).as_bytes());
    w.collect();
    w.take_response(BROWSER, 200);
    (w, script)
}

/// The browser answers its INVITE with WebRTC (over its WebSocket) and is ACKed.
fn browser_answers(w: &mut World, invite: &Request) {
    let mut ok = Response::for_request(invite, 200, Some("browser"));
    ok.headers.push("Contact", "<sip:b0b@df7jal23ls0d.invalid;transport=ws>");
    ok.headers.push("Content-Type", "application/sdp");
    ok.body = BROWSER_ANSWER.as_bytes().to_vec();
    w.pbx.handle_datagram(w.now, addr(BROWSER), "WS", &ok.to_bytes());
    w.collect();
    w.take_request(BROWSER, Method::Ack);
}

/// Whether a `method` request went to the browser (since the sent messages were last taken).
fn sent_to_browser(w: &World, method: Method) -> bool {
    w.sent
        .iter()
        .any(|(to, m)| *to == addr(BROWSER) && matches!(m, Message::Request(r) if r.method == method))
}

#[test]
fn a_browser_gets_the_webrtc_offer_and_its_answer_points_the_relay_at_its_leg() {
    let (mut w, script) = world_with_browser();
    let call = w.invite("b1");
    let phone = w.take_request(CALLEE, Method::Invite);
    let browser = w.take_request(BROWSER, Method::Invite);
    assert!(String::from_utf8_lossy(&phone.body).contains("RTP/AVP"), "the desk phone gets plain RTP");
    assert!(String::from_utf8_lossy(&browser.body).contains("UDP/TLS/RTP/SAVPF"), "the browser gets WebRTC");
    assert_eq!(script.asked(), [format!("offer {call} Callee relay 127.0.0.1:20002")]);
    // The browser answers first: its answer goes to the leg, the relay's B side to the leg's
    // loopback address, the desk phone is cancelled.
    browser_answers(&mut w, &browser);
    let answered = w.take_response(CALLER, 200);
    assert!(String::from_utf8_lossy(&answered.body).contains("RTP/AVP 0"), "the caller keeps plain PCMU");
    assert!(matches!(
        w.take_event(),
        CallEvent::Media { b_remote: Some(b), payload_type: 0, b_dtmf: None, .. } if b == addr(LEG)
    ));
    assert!(matches!(w.take_event(), CallEvent::Answered { .. }));
    assert_eq!(script.asked().last().unwrap(), &format!("accept {call} Callee true"));
    // The caller hangs up: the leg goes with the call.
    let to_tag = NameAddr::parse(answered.headers.get("To").unwrap()).unwrap().tag().unwrap().to_string();
    w.deliver(CALLER, caller_request("ACK", "b1", 1, Some(&to_tag), "").as_bytes());
    w.deliver(CALLER, caller_request("BYE", "b1", 2, Some(&to_tag), "").as_bytes());
    assert_eq!(script.asked().last().unwrap(), &format!("release {call} None"));
}

#[test]
fn a_desk_phone_answering_releases_the_browsers_offer() {
    let (mut w, script) = world_with_browser();
    let call = w.invite("b2");
    let phone = w.take_request(CALLEE, Method::Invite);
    w.take_request(BROWSER, Method::Invite);
    w.deliver(CALLEE, &callee_response(&phone, 200, ANSWER).to_bytes());
    assert!(
        script.asked().contains(&format!("release {call} Some(Callee)")),
        "the WebRTC leg made for the browser goes: {:?}",
        script.asked()
    );
}

#[test]
fn a_browser_registered_through_a_proxy_gets_the_webrtc_offer_there() {
    let mut w = World::new();
    let script = Script::default();
    w.pbx.set_webrtc(Box::new(script.clone()));
    const PROXY: &str = "127.0.0.1:5070";
    let path = "<sip:127.0.0.1:5070;lr;received=sip:127.0.0.1:55001%3Btransport%3Dws>";
    let reg = |auth: Option<String>, cseq: u32| {
        format!(
            "REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {PROXY};branch=z9hG4bKp{cseq}\r\n\
             Via: SIP/2.0/WS df7jal23ls0d.invalid;rport=55001;received=127.0.0.1;branch=z9hG4bKws{cseq}\r\n\
             Path: {path}\r\nFrom: <sip:102@127.0.0.1>;tag=w\r\nTo: <sip:102@127.0.0.1>\r\nCall-ID: ws-reg\r\n\
             CSeq: {cseq} REGISTER\r\nContact: <sip:b0b@df7jal23ls0d.invalid;transport=ws>\r\nExpires: 600\r\n\
             {}Content-Length: 0\r\n\r\n",
            auth.map(|a| format!("Authorization: {a}\r\n")).unwrap_or_default()
        )
    };
    w.deliver(PROXY, reg(None, 1).as_bytes());
    let challenge = w.take_response(PROXY, 401);
    let www = challenge.headers.get("WWW-Authenticate").unwrap();
    let auth = digest::answer(www, "REGISTER", "sip:127.0.0.1", "102", "bob-password", "c", 1);
    w.deliver(PROXY, reg(auth, 2).as_bytes());
    w.take_response(PROXY, 200);
    let call = w.invite("b3");
    let phone = w.take_request(CALLEE, Method::Invite);
    let browser = w.take_request(PROXY, Method::Invite);
    assert!(String::from_utf8_lossy(&phone.body).contains("RTP/AVP"), "the desk phone gets plain RTP");
    assert_eq!(browser.uri, "sip:b0b@df7jal23ls0d.invalid;transport=ws");
    assert!(String::from_utf8_lossy(&browser.body).contains("UDP/TLS/RTP/SAVPF"), "the browser gets WebRTC");
    assert_eq!(script.asked(), [format!("offer {call} Callee relay 127.0.0.1:20002")]);
}

#[test]
fn an_invite_over_websocket_is_not_resent_but_still_times_out() {
    let (mut w, _) = world_with_browser();
    let call = w.invite_ringing("b4", 60_000);
    w.take_request(CALLEE, Method::Invite);
    w.take_request(BROWSER, Method::Invite);
    // Timer A resends over UDP only: the desk phone gets it again, the browser once.
    w.advance(3 * T1);
    w.take_request(CALLEE, Method::Invite);
    w.take_request(CALLEE, Method::Invite);
    assert!(!sent_to_browser(&w, Method::Invite), "an INVITE over WebSocket was resent");
    // Timer B still ends a leg nobody answers.
    w.advance(64 * T1);
    w.sent.retain(|(_, m)| !matches!(m, Message::Request(r) if r.method == Method::Invite));
    w.take_response(CALLER, 408);
    assert_eq!(w.take_event(), CallEvent::Ended { call, outcome: Outcome::NoAnswer });
}

#[test]
fn a_bye_over_websocket_is_sent_once() {
    let (mut w, _) = world_with_browser();
    w.invite("b5");
    w.take_request(CALLEE, Method::Invite);
    let browser = w.take_request(BROWSER, Method::Invite);
    browser_answers(&mut w, &browser);
    let answered = w.take_response(CALLER, 200);
    let to_tag = NameAddr::parse(answered.headers.get("To").unwrap()).unwrap().tag().unwrap().to_string();
    w.deliver(CALLER, caller_request("ACK", "b5", 1, Some(&to_tag), "").as_bytes());
    w.deliver(CALLER, caller_request("BYE", "b5", 2, Some(&to_tag), "").as_bytes());
    w.take_request(BROWSER, Method::Bye);
    w.advance(w.now + 4 * T1);
    assert!(!sent_to_browser(&w, Method::Bye), "a BYE over WebSocket was resent");
}
