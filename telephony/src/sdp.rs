//! SDP (RFC 4566) for audio calls, with offer/answer (RFC 3264): PCMU, PCMA and
//! telephone-event (RFC 4733), direction attributes for hold. Enough to anchor media.
//!
//! Browsers' offers (`UDP/TLS/RTP/SAVPF`: ICE, DTLS-SRTP) are read too; their answers are
//! written by the WebRTC leg (`media::webrtc`), which stands for the browser toward the relay
//! as plain PCMU, so that is the codec such a stream has here.

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    /// The answer's direction for an offer with this one (RFC 3264 §6.1).
    pub fn answer(self) -> Direction {
        match self {
            Direction::SendOnly => Direction::RecvOnly,
            Direction::RecvOnly => Direction::SendOnly,
            d => d,
        }
    }
}

/// An audio codec we can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    Pcmu,
    Pcma,
}

impl Codec {
    pub fn static_pt(self) -> u8 {
        match self {
            Codec::Pcmu => 0,
            Codec::Pcma => 8,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
        }
    }

    fn from_name(name: &str) -> Option<Codec> {
        if name.eq_ignore_ascii_case("PCMU") {
            Some(Codec::Pcmu)
        } else if name.eq_ignore_ascii_case("PCMA") {
            Some(Codec::Pcma)
        } else {
            None
        }
    }
}

/// The audio part of a session description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioMedia {
    pub address: IpAddr,
    pub port: u16,
    /// Payload types in preference order.
    pub formats: Vec<u8>,
    /// (payload type, encoding name, clock rate).
    pub rtpmap: Vec<(u8, String, u32)>,
    pub direction: Direction,
    pub ptime: Option<u32>,
    /// A browser's stream (`UDP/TLS/RTP/SAVPF`): answered through a WebRTC leg.
    pub webrtc: bool,
}

impl AudioMedia {
    fn codec_of(&self, pt: u8) -> Option<(String, u32)> {
        if let Some((_, name, rate)) = self.rtpmap.iter().find(|(p, _, _)| *p == pt) {
            return Some((name.clone(), *rate));
        }
        match pt {
            0 => Some(("PCMU".into(), 8000)),
            8 => Some(("PCMA".into(), 8000)),
            _ => None,
        }
    }

    /// Codecs offered that we support, in the offerer's order, with their payload types. A
    /// browser's stream reaches the relay through its WebRTC leg as PCMU.
    pub fn codecs(&self) -> Vec<(Codec, u8)> {
        if self.webrtc {
            return vec![(Codec::Pcmu, 0)];
        }
        self.formats
            .iter()
            .filter_map(|&pt| {
                let (name, rate) = self.codec_of(pt)?;
                (rate == 8000).then_some(())?;
                Codec::from_name(&name).map(|c| (c, pt))
            })
            .collect()
    }

    /// The payload type of telephone-event/8000, if offered (a browser's keys come by SIP INFO).
    pub fn telephone_event(&self) -> Option<u8> {
        if self.webrtc {
            return None;
        }
        self.rtpmap
            .iter()
            .find(|(pt, name, rate)| {
                name.eq_ignore_ascii_case("telephone-event") && *rate == 8000 && self.formats.contains(pt)
            })
            .map(|(pt, _, _)| *pt)
    }

    /// Where to send media (0.0.0.0 or port 0: nowhere, e.g. on hold).
    pub fn remote(&self) -> Option<SocketAddr> {
        (self.port != 0 && !self.address.is_unspecified()).then(|| SocketAddr::new(self.address, self.port))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad SDP: {0}")]
pub struct SdpError(pub String);

/// Parses the audio stream of an SDP body (the first `m=audio` line that is not rejected).
pub fn parse_audio(body: &str) -> Result<AudioMedia, SdpError> {
    let mut session_addr: Option<IpAddr> = None;
    let mut session_dir = Direction::SendRecv;
    let mut media: Option<AudioMedia> = None;
    let mut in_audio = false;
    let mut seen_v = false;
    for raw in body.lines() {
        let line = raw.trim_end_matches('\r');
        if line.is_empty() {
            continue;
        }
        let Some((kind, value)) = line.split_once('=') else {
            return Err(SdpError(format!("line without '=': {line}")));
        };
        if kind.len() != 1 {
            return Err(SdpError(format!("bad line type: {line}")));
        }
        match kind {
            "v" => {
                seen_v = true;
                if value != "0" {
                    return Err(SdpError("version must be 0".into()));
                }
            }
            "c" => {
                let addr = parse_connection(value)?;
                match (&mut media, in_audio) {
                    (Some(m), true) => m.address = addr,
                    _ => session_addr = Some(addr),
                }
            }
            "m" => {
                if media.is_some() && in_audio {
                    in_audio = false; // a later stream; we keep the first audio stream
                    continue;
                }
                let mut it = value.split_whitespace();
                let (mtype, port, proto) = (it.next(), it.next(), it.next());
                if mtype != Some("audio") || media.is_some() {
                    in_audio = false;
                    continue;
                }
                let port: u16 = port
                    .and_then(|p| p.split('/').next())
                    .and_then(|p| p.parse().ok())
                    .ok_or_else(|| SdpError(format!("bad media port: {line}")))?;
                let webrtc = match proto {
                    Some(p) if p.starts_with("RTP/AVP") => false,
                    Some("UDP/TLS/RTP/SAVPF" | "UDP/TLS/RTP/SAVP") => true,
                    _ => {
                        return Err(SdpError(format!(
                            "unsupported transport: {}",
                            crate::text::excerpt(line, 60)
                        )))
                    }
                };
                // RTP payload types are 7 bits (RFC 3550 §5.1).
                let formats = it
                    .map(|f| f.parse::<u8>().ok().filter(|pt| *pt < 128).ok_or_else(|| bad_format(f)))
                    .collect::<Result<Vec<_>, _>>()?;
                media = Some(AudioMedia {
                    address: session_addr.unwrap_or(IpAddr::from([0, 0, 0, 0])),
                    port,
                    formats,
                    rtpmap: Vec::new(),
                    direction: session_dir,
                    ptime: None,
                    webrtc,
                });
                in_audio = true;
            }
            "a" => {
                let (name, arg) = value.split_once(':').map_or((value, ""), |(n, a)| (n, a));
                let dir = match name {
                    "sendrecv" => Some(Direction::SendRecv),
                    "sendonly" => Some(Direction::SendOnly),
                    "recvonly" => Some(Direction::RecvOnly),
                    "inactive" => Some(Direction::Inactive),
                    _ => None,
                };
                match (&mut media, in_audio) {
                    (Some(m), true) => {
                        if let Some(d) = dir {
                            m.direction = d;
                        } else if name == "rtpmap" {
                            if let Some(r) = parse_rtpmap(arg) {
                                m.rtpmap.push(r);
                            }
                        } else if name == "ptime" {
                            m.ptime = arg.trim().parse().ok();
                        }
                    }
                    (None, _) => {
                        if let Some(d) = dir {
                            session_dir = d;
                        }
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
    if !seen_v {
        return Err(SdpError("no v= line".into()));
    }
    let m = media.ok_or_else(|| SdpError("no audio stream".into()))?;
    if m.address.is_unspecified()
        && !m.webrtc
        && m.port != 0
        && session_addr.is_none()
        && m.direction == Direction::SendRecv
    {
        return Err(SdpError("no connection address".into()));
    }
    Ok(m)
}

fn bad_format(f: &str) -> SdpError {
    SdpError(format!("bad format {}", crate::text::excerpt(f, 20)))
}

fn parse_connection(value: &str) -> Result<IpAddr, SdpError> {
    let mut it = value.split_whitespace();
    let (net, addrtype, addr) = (it.next(), it.next(), it.next());
    if net != Some("IN") || !matches!(addrtype, Some("IP4") | Some("IP6")) {
        return Err(SdpError(format!("bad connection line c={value}")));
    }
    let addr = addr.and_then(|a| a.split('/').next()).ok_or_else(|| SdpError("no address".into()))?;
    addr.parse().map_err(|_| SdpError(format!("bad address {addr} (host names are not supported)")))
}

fn parse_rtpmap(arg: &str) -> Option<(u8, String, u32)> {
    let (pt, enc) = arg.split_once(' ')?;
    let mut parts = enc.trim().split('/');
    let name = parts.next()?.to_string();
    let rate = parts.next()?.parse().ok()?;
    Some((pt.trim().parse().ok().filter(|pt: &u8| *pt < 128)?, name, rate))
}

/// What we put in our own offers and answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalAudio {
    pub address: SocketAddr,
    /// (codec, payload type) in our order of preference.
    pub codecs: Vec<(Codec, u8)>,
    pub telephone_event: Option<u8>,
    pub direction: Direction,
}

/// Writes a session description; `session_id` stays fixed for a dialog, `version` increments.
pub fn write(local: &LocalAudio, session_id: u64, version: u64) -> String {
    let ip = local.address.ip();
    let family = if ip.is_ipv4() { "IP4" } else { "IP6" };
    let mut pts: Vec<String> = local.codecs.iter().map(|(_, pt)| pt.to_string()).collect();
    if let Some(te) = local.telephone_event {
        pts.push(te.to_string());
    }
    let mut s = String::new();
    let _ = write!(s, "v=0\r\no=switchboard {session_id} {version} IN {family} {ip}\r\ns=switchboard\r\n");
    let _ = write!(
        s,
        "c=IN {family} {ip}\r\nt=0 0\r\nm=audio {} RTP/AVP {}\r\n",
        local.address.port(),
        pts.join(" ")
    );
    for (codec, pt) in &local.codecs {
        let _ = write!(s, "a=rtpmap:{pt} {}/8000\r\n", codec.name());
    }
    if let Some(te) = local.telephone_event {
        let _ = write!(s, "a=rtpmap:{te} telephone-event/8000\r\na=fmtp:{te} 0-16\r\n");
    }
    let _ = write!(s, "a=ptime:20\r\na={}\r\n", local.direction.as_str());
    s
}

/// Our answer to an offer: the first offered codec we support (offerer's preference), DTMF
/// events when offered, and the mirrored direction. `None`: nothing in common (488).
pub fn answer(offer: &AudioMedia, address: SocketAddr, supported: &[Codec]) -> Option<LocalAudio> {
    let (codec, pt) = offer.codecs().into_iter().find(|(c, _)| supported.contains(c))?;
    Some(LocalAudio {
        address,
        codecs: vec![(codec, pt)],
        // An offer that maps one payload type to both gets no events (they would be audio).
        telephone_event: offer.telephone_event().filter(|te| *te != pt),
        direction: offer.direction.answer(),
    })
}

/// Our earlier WebRTC description again, for a re-INVITE of the same session (hold, resume):
/// the direction answering `offered`, the next `version` in the origin line, and, where our
/// earlier description was an offer, the DTLS role the browser left us (`passive`).
pub fn rewrite_webrtc(earlier: &str, offered: Direction, version: u64) -> String {
    let mut out = String::with_capacity(earlier.len());
    for line in earlier.lines() {
        let line = line.trim_end_matches('\r');
        let replaced = if let Some(origin) = line.strip_prefix("o=") {
            let mut parts: Vec<&str> = origin.split(' ').collect();
            let v = version.to_string();
            if let Some(slot) = parts.get_mut(2) {
                *slot = &v;
            }
            format!("o={}", parts.join(" "))
        } else if matches!(line, "a=sendrecv" | "a=sendonly" | "a=recvonly" | "a=inactive") {
            format!("a={}", offered.answer().as_str())
        } else if line == "a=setup:actpass" {
            "a=setup:passive".to_string()
        } else {
            line.to_string()
        };
        out.push_str(&replaced);
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const BARESIP: &str = "v=0\r\no=- 12 34 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
        m=audio 10004 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n\
        a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=ptime:20\r\na=sendrecv\r\n\
        m=video 0 RTP/AVP 96\r\n";

    #[test]
    fn parses_and_answers_an_offer() {
        let m = parse_audio(BARESIP).unwrap();
        assert_eq!(m.remote(), Some("127.0.0.1:10004".parse().unwrap()));
        assert_eq!(m.codecs(), vec![(Codec::Pcmu, 0), (Codec::Pcma, 8)]);
        assert_eq!(m.telephone_event(), Some(101));
        let a = answer(&m, "127.0.0.1:20000".parse().unwrap(), &[Codec::Pcma, Codec::Pcmu]).unwrap();
        assert_eq!(a.codecs, vec![(Codec::Pcmu, 0)]);
        let text = write(&a, 1, 1);
        let back = parse_audio(&text).unwrap();
        assert_eq!(back.remote(), Some("127.0.0.1:20000".parse().unwrap()));
        assert_eq!(back.telephone_event(), Some(101));
        assert_eq!(back.direction, Direction::SendRecv);
    }

    #[test]
    fn hold_and_mismatches() {
        let hold = BARESIP.replace("a=sendrecv", "a=sendonly");
        let m = parse_audio(&hold).unwrap();
        assert_eq!(m.direction, Direction::SendOnly);
        assert_eq!(
            answer(&m, "127.0.0.1:1".parse().unwrap(), &[Codec::Pcmu]).unwrap().direction,
            Direction::RecvOnly
        );
        let old_hold = BARESIP.replace("c=IN IP4 127.0.0.1", "c=IN IP4 0.0.0.0");
        assert_eq!(parse_audio(&old_hold).unwrap().remote(), None);
        // One payload type mapped to both audio and events: no events in the answer.
        let clash = "v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 5 RTP/AVP 96\r\na=rtpmap:96 PCMU/8000\r\n\
            a=rtpmap:96 telephone-event/8000\r\n";
        let a = answer(&parse_audio(clash).unwrap(), "127.0.0.1:1".parse().unwrap(), &[Codec::Pcmu]).unwrap();
        assert_eq!((a.codecs[0], a.telephone_event), ((Codec::Pcmu, 96), None));
        let g729 = "v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 5 RTP/AVP 18\r\n";
        assert!(answer(&parse_audio(g729).unwrap(), "127.0.0.1:1".parse().unwrap(), &[Codec::Pcmu]).is_none());
        for bad in [
            "",
            "m=audio 1 RTP/AVP 0",
            "v=0\r\nc=IN IP4 x.y\r\nm=audio 1 RTP/AVP 0",
            "v=0\r\nm=audio x RTP/AVP 0",
            "v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 1 UDP/TLS 0",
            "v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 1 UDP/TLS/SCTP 0",
            "v=0\r\nbroken",
            "v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 1 RTP/AVP 0 200",
        ] {
            assert!(parse_audio(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn browser_offers_are_read_and_reanswered() {
        let chrome = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
            a=group:BUNDLE 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126\r\n\
            c=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\na=ice-ufrag:abcd\r\na=ice-pwd:x\r\n\
            a=fingerprint:sha-256 00:11\r\na=setup:actpass\r\na=mid:0\r\na=sendrecv\r\na=rtcp-mux\r\n\
            a=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\na=rtpmap:0 PCMU/8000\r\n\
            a=rtpmap:126 telephone-event/8000\r\n";
        let m = parse_audio(chrome).unwrap();
        assert!(m.webrtc);
        // Through the WebRTC leg the stream is PCMU, and keys come by INFO.
        assert_eq!(m.codecs(), vec![(Codec::Pcmu, 0)]);
        assert_eq!(m.telephone_event(), None);
        let ours = "v=0\r\no=str0m 12 2 IN IP4 0.0.0.0\r\ns=-\r\na=setup:actpass\r\na=sendrecv\r\n";
        let again = rewrite_webrtc(ours, Direction::SendOnly, 3);
        assert!(again.contains("o=str0m 12 3 IN IP4"), "{again}");
        assert!(again.contains("a=recvonly\r\n") && again.contains("a=setup:passive\r\n"), "{again}");
        assert!(!again.contains("sendrecv"));
    }
}
