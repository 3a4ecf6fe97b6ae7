//! Fuzz entry points: one function per parser of input someone else controls (SIP over UDP,
//! TCP and WebSocket, SDP bodies, RTP, RTCP, RFC 4733 events, uploaded WAV files).
//!
//! Each takes arbitrary bytes, runs the parser and what consumes its result, and checks the
//! properties that are cheap to check (a parsed SIP message written out parses to the same
//! message; the stream and datagram parsers agree however a stream is cut; our SDP answer to
//! any offer parses back to what we chose; RTP and RTCP we write parse back; what the SIP core
//! sends is always a message). A panic, including a failed property, is a bug.
//!
//! They are driven two ways: a bounded, seeded run inside `cargo test`
//! (`telephony/tests/fuzz.rs`, structure-aware mutations of real messages) and the cargo-fuzz
//! targets in `fuzz/` (coverage-guided, for long runs), one per function here.

use crate::media::dtmf::{self, EventReceiver, ToneDetector};
use crate::media::endpoint::{RtpEndpoint, G711};
use crate::media::player::{Source, WavPlayer};
use crate::media::rtcp::{self, Report};
use crate::media::rtp::{self, RtpHeader};
use crate::media::wav;
use crate::sdp::{self, Codec};
use crate::sip::b2bua::{CallEvent, MediaPorts, RouteDecision};
use crate::sip::digest::{self, Credentials, NonceCheck, NonceSource};
use crate::sip::header::{self, NameAddr, Via};
use crate::sip::message::{split_list, Message};
use crate::sip::parse::{parse_datagram, parse_stream, ParseError, MAX_HEADERS, MAX_MESSAGE};
use crate::sip::registrar::{Directory, RegistrarConfig, SipUser};
use crate::sip::server::{ServerEvent, SipServer};
use crate::sip::uri::{self, SipUri};
use std::net::SocketAddr;

/// One datagram (UDP, or a WebSocket message): parses or is refused; a parsed message
/// round-trips through `to_bytes`; the stream parser frames the same message; every header
/// the stack reads is parsed through its typed view.
pub fn sip_datagram(data: &[u8]) {
    if let Ok(msg) = parse_datagram(data) {
        check_round_trip(&msg);
        headers_of(&msg);
    }
    match parse_stream(data) {
        Ok((msg, used)) => {
            let framed = data.get(..used).expect("the stream parser used more bytes than it had");
            assert_eq!(parse_datagram(framed).as_ref(), Ok(&msg), "stream and datagram parsers disagree");
        }
        Err((ParseError::KeepAlive, n)) => assert!(n > 0 && n <= data.len(), "keep-alive of {n} bytes"),
        Err((_, n)) => assert_eq!(n, 0, "an error consumed bytes"),
    }
}

/// A TCP (or TLS) byte stream, cut into pieces at points taken from the bytes themselves:
/// framing it piece by piece yields the same messages as framing it whole, and each framed
/// message parses the same as a datagram.
pub fn sip_stream(data: &[u8]) {
    let whole = frame_stream(&[data]);
    let mut rng = XorShift::from_bytes(data);
    let mut pieces = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let n = (1 + rng.below(48) as usize).min(rest.len());
        let (piece, after) = rest.split_at(n);
        pieces.push(piece);
        rest = after;
    }
    let cut = frame_stream(&pieces);
    assert_eq!(cut.0, whole.0, "a stream framed piece by piece differs from the whole");
    assert_eq!(cut.1, whole.1, "a stream cut into pieces fails differently");
}

/// The typed header views (Via, name-addr, URI, CSeq, digest credentials and challenges,
/// parameter lists): of the headers of a message when the bytes parse as one, else of every
/// `Name: value` line in them.
pub fn sip_headers(data: &[u8]) {
    if let Ok(msg) = parse_datagram(data) {
        headers_of(&msg);
        return;
    }
    let text = String::from_utf8_lossy(data);
    for line in text.split('\n') {
        let line = line.trim_end_matches('\r');
        match line.split_once(':') {
            Some((name, value)) => header_value(name.trim(), value.trim()),
            None => header_value("", line),
        }
    }
}

/// The SIP core as the driver runs it: a server with a user and a trusted carrier, a call from
/// that carrier already answered, then these bytes (twice, as a retransmission would), then
/// its timers. Nothing panics, and everything it sends parses as a SIP message.
pub fn sip_server(data: &[u8]) {
    let carrier: SocketAddr = "192.0.2.50:5060".parse().expect("literal address");
    let phone: SocketAddr = "198.51.100.7:5062".parse().expect("literal address");
    let mut server = SipServer::new(
        "203.0.113.1:5060".parse().expect("literal address"),
        RegistrarConfig::default(),
        "k",
        "fuzz",
    );
    let mut directory = Directory::new([SipUser {
        account: 1,
        domain: Some("pbx.example".into()),
        username: "101".into(),
        password: "secret".into(),
        extension: "101".into(),
    }]);
    directory.trust(carrier.ip(), None, 1);
    server.set_directory(0, directory);
    server.handle_datagram(0, carrier, "UDP", SERVER_CALL.as_bytes());
    drain(&mut server);
    for (i, source) in [carrier, phone, carrier].into_iter().enumerate() {
        let now = 10 + i as u64 * 500;
        server.handle_datagram(now, source, if i == 1 { "TCP" } else { "UDP" }, data);
        drain(&mut server);
    }
    for now in [5_000, 40_000, 200_000, 4_000_000] {
        server.handle_timeout(now);
        drain(&mut server);
    }
}

/// An SDP offer: parses or is refused; our answer to a parsed one (each codec preference),
/// written out, parses back to the codec, events, direction and address we chose.
pub fn sdp(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let Ok(offer) = sdp::parse_audio(&text) else { return };
    let _ = (offer.codecs(), offer.telephone_event(), offer.remote());
    let ours: [SocketAddr; 2] =
        ["192.0.2.1:40000".parse().expect("literal"), "[2001:db8::1]:40002".parse().expect("literal")];
    let preferences: [&[Codec]; 2] = [&[Codec::Pcmu, Codec::Pcma], &[Codec::Pcma]];
    for (address, supported) in ours.into_iter().zip(preferences) {
        let Some(local) = sdp::answer(&offer, address, supported) else { continue };
        let written = sdp::write(&local, u64::MAX, u64::MAX);
        let back = sdp::parse_audio(&written)
            .unwrap_or_else(|e| panic!("our answer does not parse: {e}\n{written}"));
        assert_eq!(back.codecs().first(), local.codecs.first(), "answer codec\n{written}");
        assert_eq!(back.telephone_event(), local.telephone_event, "answer events\n{written}");
        assert_eq!(back.direction, local.direction, "answer direction\n{written}");
        assert_eq!(back.remote(), Some(address), "answer address\n{written}");
    }
}

/// A browser's offer, any text: str0m reads it (or refuses it) and our WebRTC leg answers,
/// with Opus or with G.711 only; an answer we give is one our own SDP layer reads as a
/// browser's stream.
pub fn webrtc_offer(data: &[u8]) {
    use crate::media::webrtc::{BrowserCodecs, WebRtcLeg};
    let text = String::from_utf8_lossy(data);
    let local: SocketAddr = "192.0.2.1:40000".parse().expect("literal");
    let base = std::time::Instant::now();
    for codecs in [BrowserCodecs::Opus, BrowserCodecs::G711] {
        let Ok((leg, answer)) = WebRtcLeg::answer(codecs, base, 0, local, local, &text) else {
            continue;
        };
        let _ = leg.codec_name();
        let ours = sdp::parse_audio(&answer)
            .unwrap_or_else(|e| panic!("our WebRTC answer does not parse: {e}\n{answer}"));
        assert!(ours.webrtc, "our answer is not a WebRTC stream\n{answer}");
    }
}

/// Datagrams at a browser leg's socket (each input is cut into several by its own bytes):
/// STUN addressed to us with a wrong key, DTLS records, SRTP or plain RTP, junk. Nothing
/// panics, nothing before ICE and DTLS is media, and the leg still answers timeouts.
pub fn webrtc_packets(data: &[u8]) {
    use crate::media::webrtc::{WebRtcEvent, WebRtcLeg};
    const OFFER: &str = include_str!("../tests/data/chromium-offer.sdp");
    let local: SocketAddr = "192.0.2.1:40000".parse().expect("literal");
    let browser: SocketAddr = "192.0.2.9:50000".parse().expect("literal");
    let base = std::time::Instant::now();
    let (mut leg, _) = WebRtcLeg::answer_with_ice(base, "fuzz", "fuzzfuzzfuzzfuzzfuzzfuzz", local, OFFER)
        .expect("a Chromium offer is answered");
    let mut rng = XorShift::from_bytes(data);
    let mut rest = data;
    let mut now = 0;
    while !rest.is_empty() {
        let n = (1 + rng.below(600) as usize).min(rest.len());
        let (datagram, after) = rest.split_at(n);
        leg.handle_datagram(now, browser, datagram);
        now += rng.below(30);
        leg.handle_timeout(now);
        while leg.poll_transmit().is_some() {}
        while let Some(e) = leg.poll_event() {
            assert!(!matches!(e, WebRtcEvent::Heard(_)), "media before ICE and DTLS");
        }
        rest = after;
    }
    assert!(!leg.is_connected(), "connected by junk");
}

/// One RTP packet: parses or is refused; a parsed one written again parses to the same
/// header and payload. Then a leg receives it over and over with sequence numbers and
/// timestamps that jump (forward, back, across the wrap) by amounts taken from its bytes:
/// jitter buffer, reorder window, reception statistics and reports.
pub fn rtp(data: &[u8]) {
    let _ = RtpHeader::is_rtcp(data);
    let Some(h) = RtpHeader::parse(data) else { return };
    let payload = h.payload(data);
    assert_eq!(h.payload_offset + payload.len() + h.padding, data.len(), "payload bounds");
    let again = rtp::write(h.marker, h.payload_type, h.sequence, h.timestamp, h.ssrc, payload);
    let h2 = RtpHeader::parse(&again).expect("a packet we wrote parses");
    assert_eq!(
        (h2.marker, h2.payload_type, h2.sequence, h2.timestamp, h2.ssrc),
        (h.marker, h.payload_type, h.sequence, h.timestamp, h.ssrc),
        "RTP header round trip"
    );
    assert_eq!(h2.payload(&again), payload, "RTP payload round trip");

    let codec = G711::from_payload_type(h.payload_type);
    let mut leg = RtpEndpoint::new(codec, 7, 0, 0, 0);
    leg.hear_eagerly();
    // The relay passing it through: the same packet in our stream (our SSRC, our sequence).
    let mut forwarded = data.to_vec();
    let mut relay_side = RtpEndpoint::new(codec, 9, 500, 9000, 0);
    relay_side.forward(h.timestamp as u64, &mut forwarded);
    let f = RtpHeader::parse(&forwarded).expect("a forwarded packet parses");
    assert_eq!((f.ssrc, f.sequence, f.payload(&forwarded)), (9, 500, payload), "forwarded as ours");
    let mut packet = data.to_vec();
    let (mut seq, mut ts) = (h.sequence, h.timestamp);
    let mut rng = XorShift::from_bytes(data);
    let mut now = rng.below(1 << 20);
    for _ in 0..24 {
        let jump = match rng.below(6) {
            0 => 1,
            1 => 0,
            2 => 0x8000,
            3 => u16::MAX,
            _ => rng.next_u64() as u16,
        };
        seq = seq.wrapping_add(jump);
        ts = ts.wrapping_add(rng.next_u64() as u32 >> rng.below(32));
        packet[2..4].copy_from_slice(&seq.to_be_bytes());
        packet[4..8].copy_from_slice(&ts.to_be_bytes());
        packet[1] = (packet[1] & 0x80) | codec.payload_type();
        leg.handle_rtp(now, &packet);
        now += rng.below(90);
        while leg.poll_frame(now).is_some() {}
        while leg.poll_heard(now).is_some() {}
        if let Some(report) = leg.poll_rtcp(now, rtcp::ntp_from_unix_ms(now)) {
            assert!(!rtcp::parse(&report).is_empty(), "our own RTCP report does not parse");
        }
        if rng.below(8) == 0 {
            leg.reset_playout();
        }
    }
    let _ = leg.quality();
}

/// One (compound) RTCP packet: every SR and RR in it written again parses to the same report
/// (cumulative loss capped at what the writer can carry); a leg takes it (round trip from
/// LSR/DLSR at any arrival time) and still writes a report that parses.
pub fn rtcp(data: &[u8]) {
    let reports = rtcp::parse(data);
    let arrivals = [0, 1, u64::MAX, rtcp::ntp_from_unix_ms(1_700_000_000_000)];
    for r in &reports {
        let again = rtcp::report(r.ssrc, r.sender, &r.blocks);
        let mut expected = r.clone();
        for b in &mut expected.blocks {
            b.cumulative_lost = b.cumulative_lost.min(0x7F_FFFF);
        }
        assert_eq!(rtcp::parse(&again), vec![expected], "RTCP report round trip");
        for b in &r.blocks {
            for at in arrivals {
                if let Some(ms) = rtcp::round_trip_ms(b, at) {
                    assert!(ms <= 60_000, "round trip {ms} ms");
                }
            }
        }
    }
    let ssrc = reports.iter().flat_map(|r: &Report| r.blocks.first()).map(|b| b.ssrc).next().unwrap_or(1);
    let mut leg = RtpEndpoint::new(G711::Alaw, ssrc, 0, 0, 0);
    leg.send_frame(&[0; 160]);
    for (i, at) in arrivals.into_iter().enumerate() {
        leg.handle_rtcp(i as u64 * 1000, at, data);
    }
    let _ = leg.quality();
    let report = leg.poll_rtcp(10_000, 0).expect("a report is due");
    assert!(!rtcp::parse(&report).is_empty(), "our own RTCP report does not parse");
}

/// DTMF as it arrives: an RTP packet carrying an RFC 4733 event (reported once however often
/// it is repeated), the same payload as in-band audio for the tone detector, and the bytes as
/// a SIP INFO body.
pub fn dtmf(data: &[u8]) {
    if let Some(h) = RtpHeader::parse(data) {
        let payload = h.payload(data);
        let mut events = EventReceiver::default();
        let first = events.handle(&h, payload);
        if let Some(digit) = first {
            assert_eq!(dtmf::digit_event(digit), payload.first().copied(), "event code round trip");
        }
        assert_eq!(events.handle(&h, payload), None, "a repeated event is reported again");
        for codec in [G711::Ulaw, G711::Alaw] {
            let samples = codec.decode(payload);
            let mut tones = ToneDetector::default();
            for block in samples.chunks(160) {
                if let Some(digit) = tones.handle_block(block) {
                    assert!(dtmf::digit_event(digit).is_some(), "tone detector heard {digit:?}");
                }
            }
        }
    }
    let text = String::from_utf8_lossy(data);
    for content_type in ["application/dtmf-relay", "application/dtmf", "Application/DTMF-Relay;x=1"] {
        if let Some(digit) = dtmf::info_digit(content_type, &text) {
            assert!(dtmf::digit_event(digit).is_some(), "INFO gave {digit:?}");
        }
    }
}

/// An uploaded WAV file: its header is accepted or refused with a reason; an accepted file
/// decodes to whole frames, and plays (resampled to 8 kHz) without trouble.
pub fn wav(data: &[u8]) {
    let parsed = wav::parse(data);
    match wav::decode(data) {
        Ok((info, samples)) => {
            assert_eq!(parsed, Ok(info), "parse and decode disagree");
            assert_eq!(samples.len() as u64, info.frames * info.channels as u64, "decoded samples");
            let _ = info.duration_ms();
            let mut player = WavPlayer::new(data, 8000, true).expect("a decodable file plays");
            let _ = player.duration_ms();
            for _ in 0..4 {
                if let Some(frame) = player.next_frame() {
                    assert_eq!(frame.len(), 160, "20 ms at 8 kHz");
                }
            }
        }
        Err(e) => assert_eq!(parsed.err(), Some(e), "parse and decode disagree"),
    }
}

/// An uploaded MP3 file: decoded to mono audio at a rate the players take, or refused with a
/// reason; what decodes is stored as a WAV file that reads back the same.
pub fn mp3(data: &[u8]) {
    if let Ok((samples, rate)) = crate::media::mp3::decode(data) {
        assert!((8_000..=48_000).contains(&rate), "rate {rate}");
        assert!(!samples.is_empty(), "decoded nothing yet accepted");
        let stored = wav::encode_pcm16(&samples, rate, 1);
        let (info, back) = wav::decode(&stored).expect("the stored WAV decodes");
        assert_eq!((info.sample_rate, back.len()), (rate, samples.len()), "stored WAV differs");
    }
}

/// A call from the trusted carrier in `sip_server`, answered by us; seeds for that target are
/// in-dialog requests of this call.
pub const SERVER_CALL: &str = "INVITE sip:100@203.0.113.1 SIP/2.0\r\n\
    Via: SIP/2.0/UDP 192.0.2.50:5060;branch=z9hG4bKfuzzcall\r\n\
    Max-Forwards: 70\r\n\
    From: \"Carrier\" <sip:+15550100@192.0.2.50>;tag=carrier1\r\n\
    To: <sip:100@203.0.113.1>\r\n\
    Call-ID: fuzz-call@192.0.2.50\r\n\
    CSeq: 1 INVITE\r\n\
    Contact: <sip:+15550100@192.0.2.50:5060>\r\n\
    Content-Type: application/sdp\r\n\
    Content-Length: 129\r\n\r\n\
    v=0\r\no=- 1 1 IN IP4 192.0.2.50\r\ns=-\r\nc=IN IP4 192.0.2.50\r\nt=0 0\r\n\
    m=audio 30000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n";

/// Runs what the server wants to send and tell, answering incoming calls ourselves; what it
/// sends must parse.
fn drain(server: &mut SipServer) {
    let media = MediaPorts {
        a: "203.0.113.1:20000".parse().expect("literal"),
        b: "203.0.113.1:20002".parse().expect("literal"),
    };
    for _ in 0..64 {
        let mut calls = Vec::new();
        while let Some(event) = server.poll_event() {
            if let ServerEvent::Call(CallEvent::Incoming(call)) = event {
                calls.push(call.call);
            }
        }
        while let Some(t) = server.poll_transmit() {
            if let Err(e) = parse_datagram(&t.bytes) {
                panic!("we sent something that does not parse ({e}):\n{}", String::from_utf8_lossy(&t.bytes));
            }
        }
        if calls.is_empty() {
            return;
        }
        for call in calls {
            server.route(1, call, RouteDecision::Answer { media });
        }
    }
}

/// Frames a stream arriving in `pieces` as the driver does: the messages, and whether it
/// ended with an error (the connection would be closed).
fn frame_stream(pieces: &[&[u8]]) -> (Vec<Message>, bool) {
    let mut buf = Vec::new();
    let mut out = Vec::new();
    for piece in pieces {
        buf.extend_from_slice(piece);
        loop {
            match parse_stream(&buf) {
                Ok((msg, used)) => {
                    assert!(used > 0 && used <= buf.len(), "used {used} of {}", buf.len());
                    assert_eq!(
                        parse_datagram(&buf[..used]).as_ref(),
                        Ok(&msg),
                        "stream and datagram disagree"
                    );
                    out.push(msg);
                    buf.drain(..used);
                }
                Err((ParseError::KeepAlive, n)) => {
                    assert!(n > 0 && n <= buf.len(), "keep-alive of {n} bytes");
                    buf.drain(..n);
                }
                Err((ParseError::Incomplete, _)) => break,
                Err(_) => return (out, true),
            }
        }
    }
    (out, false)
}

/// A parsed message written out parses to the same message (Content-Length aside: it is
/// always written to match the body), and writing it again gives the same bytes.
fn check_round_trip(msg: &Message) {
    let bytes = msg.to_bytes();
    // Writing can grow a message past the limits (compact names spelt out, Content-Length
    // added); such a message is refused on the way back, which is right.
    if bytes.len() > MAX_MESSAGE || msg.headers().len() >= MAX_HEADERS {
        return;
    }
    let again = parse_datagram(&bytes).unwrap_or_else(|e| {
        panic!("a parsed message, written out, does not parse ({e}):\n{}", String::from_utf8_lossy(&bytes))
    });
    assert_eq!(without_length(&again), without_length(msg), "SIP round trip changed the message");
    assert_eq!(again.to_bytes(), bytes, "SIP serialisation is not stable");
    let (streamed, used) = parse_stream(&bytes).expect("our serialisation frames on a stream");
    assert_eq!((streamed, used), (again, bytes.len()), "stream parse of our serialisation");
}

fn without_length(msg: &Message) -> Message {
    let mut m = msg.clone();
    match &mut m {
        Message::Request(r) => r.headers.remove("Content-Length"),
        Message::Response(r) => r.headers.remove("Content-Length"),
    }
    m
}

/// Every header through the views the stack uses, and the body as SDP or DTMF when it is one.
fn headers_of(msg: &Message) {
    for (name, value) in msg.headers().iter() {
        header_value(name, value);
    }
    if let Message::Request(r) = msg {
        if let Ok(u) = SipUri::parse(&r.uri) {
            check_uri(&u);
        }
        let content_type = r.headers.get("Content-Type").unwrap_or_default();
        if content_type.to_ascii_lowercase().contains("sdp") {
            sdp(&r.body);
        }
        let _ = dtmf::info_digit(content_type, &String::from_utf8_lossy(&r.body));
    }
}

/// One header value through the view its name calls for, and through the generic ones.
fn header_value(name: &str, value: &str) {
    let _ = split_list(value);
    let _ = header::params(value);
    let _ = header::has_param(value, "tag");
    let _ = uri::unescape(value);
    let canonical = crate::sip::message::canonical_name(name);
    match canonical.as_str() {
        "Via" => {
            for v in split_list(value) {
                via(v);
            }
        }
        "From" | "To" | "Contact" | "Route" | "Record-Route" | "Path" => {
            for v in split_list(value) {
                name_addr(v);
            }
        }
        "CSeq" => {
            if let Ok((n, method)) = header::cseq(value) {
                assert_eq!(header::cseq(&format!("{n} {method}")), Ok((n, method)), "CSeq round trip");
            }
        }
        "Authorization" | "Proxy-Authorization" => credentials(value),
        "WWW-Authenticate" | "Proxy-Authenticate" => challenge(value),
        _ => {
            // Values of unknown headers still go through every view: a mutation may have
            // renamed the header a value belonged to.
            via(value);
            name_addr(value);
            credentials(value);
            challenge(value);
            let _ = header::cseq(value);
        }
    }
}

fn via(value: &str) {
    let Ok(v) = Via::parse(value) else { return };
    let _ = (v.branch(), v.param("rport"));
    for source in ["192.0.2.9:5060", "[2001:db8::9]:5070"] {
        let stamped = Via::stamp(value, source.parse().expect("literal address"));
        let s = Via::parse(&stamped).unwrap_or_else(|e| panic!("stamped Via does not parse: {e}"));
        assert_eq!((&s.transport, &s.host, s.port), (&v.transport, &v.host, v.port), "stamped Via");
    }
}

fn name_addr(value: &str) {
    let Ok(na) = NameAddr::parse(value) else { return };
    let _ = (na.tag(), na.param("expires"));
    check_uri(&na.uri);
}

/// A URI written out parses to the same URI.
fn check_uri(u: &SipUri) {
    let written = u.to_string();
    let again = SipUri::parse(&written).unwrap_or_else(|e| panic!("written URI does not parse: {e}"));
    assert_eq!(&again, u, "URI round trip through {written}");
    let _ = u.user_unescaped();
}

fn credentials(value: &str) {
    let Some(c) = Credentials::parse(value) else { return };
    let nonces = NonceSource::new("fuzz");
    let _ = nonces.check(&c.nonce, 1_000);
    assert!(!c.verify("REGISTER", "not a digest"), "credentials verified against a wrong secret");
    let _ = c.verify("INVITE", &digest::ha1(&c.username, &c.realm, "x"));
}

/// Our answer to any challenge parses back with its realm and nonce, and verifies.
fn challenge(value: &str) {
    let _ = digest::parse_params(value);
    let Some(answer) = digest::answer(value, "REGISTER", "sip:pbx.example", "101", "pw", "c\"n", 1) else {
        return;
    };
    let creds = Credentials::parse(&answer).unwrap_or_else(|| panic!("our answer does not parse: {answer}"));
    let params = digest::parse_params(value).expect("answered, so it parsed");
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(Some(creds.realm.as_str()), get("realm"), "realm in our answer: {answer}");
    assert_eq!(Some(creds.nonce.as_str()), get("nonce"), "nonce in our answer: {answer}");
    assert_eq!(creds.username, "101", "username in our answer: {answer}");
    assert!(creds.verify("REGISTER", &digest::ha1("101", &creds.realm, "pw")), "our answer: {answer}");
    let _ = NonceSource::new("fuzz").check(&creds.nonce, 0) == NonceCheck::Fresh;
}

/// A small deterministic generator (xorshift64): no dependency, reproducible runs.
#[derive(Debug, Clone)]
pub struct XorShift(u64);

impl XorShift {
    pub fn new(seed: u64) -> Self {
        XorShift(seed | 1)
    }

    /// Seeded from the bytes themselves (FNV-1a), so a fuzz input decides its own choices.
    pub fn from_bytes(data: &[u8]) -> Self {
        let hash =
            data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3));
        XorShift::new(hash)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64().checked_rem(n).unwrap_or(0)
    }
}
