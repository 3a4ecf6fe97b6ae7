//! A browser's side of a call, sans-IO: ICE-lite, DTLS-SRTP, RTCP and SDP by str0m; Opus (or
//! G.711) turned into 20 ms frames of 8 kHz PCM and back. Time is an input: milliseconds since
//! `base`, an instant the driver gives once.
//!
//! What the browser says comes out as [`Heard`] frames, numbered in sequence with a gap where a
//! packet was lost (a single lost Opus packet is rebuilt from the next one's forward error
//! correction); what it should hear goes in as frames and is encoded for the codec it chose.

use super::endpoint::G711;
use audiopus::coder::{Decoder, Encoder};
use audiopus::{Application, Channels, SampleRate};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::format::Codec as WireCodec;
use str0m::media::{Direction as MediaDirection, Frequency, MediaKind, MediaTime, Mid, Pt};
use str0m::net::{Protocol, Receive};
use str0m::rtp::Extension;
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc, RtcConfig};

/// Samples in one 20 ms frame at 8 kHz.
const FRAME: usize = 160;

/// The Opus encoder's complexity (0–10) toward browsers.
const ENCODER_COMPLEXITY: u8 = 1;

/// Timeouts str0m asks for at once (a sample to packetize after a write) handled in a row
/// before waiting; a bound so that a misbehaving session cannot spin.
const DUE_NOW_ROUNDS: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum WebRtcError {
    #[error("bad WebRTC session description: {0}")]
    Sdp(String),
    #[error("WebRTC: {0}")]
    Rtc(String),
    #[error("Opus: {0}")]
    Opus(String),
}

/// One 20 ms frame the browser sent, with our own numbering: `seq` counts frames (a gap is a
/// loss), `timestamp` counts 8 kHz samples.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heard {
    pub seq: u16,
    pub timestamp: u32,
    pub samples: Vec<i16>,
}

/// What the leg reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebRtcEvent {
    /// ICE and DTLS are up: media flows.
    Connected,
    Heard(Heard),
    /// The browser went away (ICE failed or timed out, or DTLS closed).
    Closed,
}

/// How the browser's audio is coded, once negotiated.
enum Coding {
    Opus { pt: Pt, encoder: Box<Encoder>, decoder: Box<Decoder> },
    G711 { pt: Pt, law: G711 },
}

pub struct WebRtcLeg {
    rtc: Rtc,
    base: Instant,
    local: SocketAddr,
    mid: Option<Mid>,
    pending: Option<SdpPendingOffer>,
    coding: Option<Coding>,
    telephone_event: Option<Pt>,
    out: VecDeque<(SocketAddr, Vec<u8>)>,
    events: VecDeque<WebRtcEvent>,
    timeout: Instant,
    closed: bool,
    /// Samples sent, in the codec's clock.
    sent_time: u64,
    /// The last browser sequence number decoded, and our frame numbering toward the relay.
    last_seq: Option<u64>,
    heard_seq: u16,
    heard_ts: u32,
}

/// Tells the browser we play and capture Opus at 8 kHz (RFC 7587 `maxplaybackrate`,
/// `sprop-maxcapturerate`): it then sends narrowband speech, which is what the call carries
/// anyway, for less bandwidth and a cheaper decoder here.
fn narrowband_opus(sdp: &str) -> String {
    let opus_pts: Vec<String> = sdp
        .lines()
        .filter_map(|l| l.strip_prefix("a=rtpmap:"))
        .filter_map(|r| r.split_once(' '))
        .filter(|(_, codec)| codec.to_ascii_lowercase().starts_with("opus/"))
        .map(|(pt, _)| pt.to_string())
        .collect();
    let mut out = String::with_capacity(sdp.len() + 64);
    for line in sdp.lines().map(|l| l.trim_end_matches('\r')) {
        out.push_str(line);
        let fmtp_of_opus =
            line.strip_prefix("a=fmtp:").and_then(|r| r.split_once(' ')).is_some_and(|(pt, params)| {
                opus_pts.iter().any(|p| p == pt) && !params.contains("maxplaybackrate")
            });
        if fmtp_of_opus {
            out.push_str(";maxplaybackrate=8000;sprop-maxcapturerate=8000");
        }
        out.push_str("\r\n");
    }
    out
}

/// The `a=mid` of the first audio stream of a session description.
fn audio_mid(sdp: &str) -> Option<Mid> {
    let mut in_audio = false;
    for line in sdp.lines().map(|l| l.trim_end_matches('\r')) {
        if let Some(m) = line.strip_prefix("m=") {
            in_audio = m.starts_with("audio ");
        } else if let (true, Some(mid)) = (in_audio, line.strip_prefix("a=mid:")) {
            return Some(Mid::from(mid.trim()));
        }
    }
    None
}

/// The codecs a browser leg offers and accepts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum BrowserCodecs {
    /// Opus first (narrowband here, FEC on), G.711 for a browser that has no Opus.
    #[default]
    Opus,
    /// G.711 only (PCMU, then PCMA): nothing to transcode toward G.711 carriers and phones, at
    /// 64 kbit/s and without Opus's concealment of lost packets; for browsers on a good network.
    G711,
}

fn config(codecs: BrowserCodecs) -> RtcConfig {
    let config = RtcConfig::new()
        .set_ice_lite(true)
        // Only the media id (BUNDLE): no transport-wide congestion control feedback, which a
        // single audio stream of fixed rate has no use for and which would wake the leg ten
        // times a second; no absolute send times or audio levels to write on every packet.
        .clear_extension_map()
        .set_extension(4, Extension::RtpMid)
        .clear_codecs()
        .set_stats_interval(None);
    let config = match codecs {
        BrowserCodecs::Opus => config.enable_opus(true, false),
        BrowserCodecs::G711 => config,
    };
    config.enable_pcmu(true, false).enable_pcma(true, false)
}

impl WebRtcLeg {
    fn with_config(
        config: RtcConfig,
        base: Instant,
        now_ms: u64,
        local: SocketAddr,
        advertised: SocketAddr,
    ) -> Result<Self, WebRtcError> {
        let now = base + Duration::from_millis(now_ms);
        let mut rtc = config.build(now);
        let candidate = Candidate::host(advertised, "udp").map_err(|e| WebRtcError::Rtc(e.to_string()))?;
        rtc.add_local_candidate(candidate);
        // A candidate on another address than the socket's (a public address before NAT) is
        // what we advertise; packets still arrive at the socket.
        if advertised != local {
            if let Ok(c) = Candidate::host(local, "udp") {
                rtc.add_local_candidate(c);
            }
        }
        Ok(WebRtcLeg {
            rtc,
            base,
            local,
            mid: None,
            pending: None,
            coding: None,
            telephone_event: None,
            out: VecDeque::new(),
            events: VecDeque::new(),
            timeout: now,
            closed: false,
            sent_time: 0,
            last_seq: None,
            heard_seq: 0,
            heard_ts: 0,
        })
    }

    /// Answers a browser's offer: the leg and our answer. `local` is the socket the browser's
    /// packets reach, `advertised` the address put in our candidate (the same unless NAT).
    pub fn answer(
        codecs: BrowserCodecs,
        base: Instant,
        now_ms: u64,
        local: SocketAddr,
        advertised: SocketAddr,
        offer: &str,
    ) -> Result<(Self, String), WebRtcError> {
        Self::answer_with(config(codecs), base, now_ms, local, advertised, offer)
    }

    /// `answer` with our ICE credentials fixed, so that fuzzing can address STUN to us.
    pub(crate) fn answer_with_ice(
        base: Instant,
        ufrag: &str,
        pass: &str,
        local: SocketAddr,
        offer: &str,
    ) -> Result<(Self, String), WebRtcError> {
        let creds = str0m::IceCreds { ufrag: ufrag.into(), pass: pass.into() };
        let config = config(BrowserCodecs::Opus).set_local_ice_credentials(creds);
        Self::answer_with(config, base, 0, local, local, offer)
    }

    fn answer_with(
        config: RtcConfig,
        base: Instant,
        now_ms: u64,
        local: SocketAddr,
        advertised: SocketAddr,
        offer: &str,
    ) -> Result<(Self, String), WebRtcError> {
        let mut leg = Self::with_config(config, base, now_ms, local, advertised)?;
        let offer = SdpOffer::from_sdp_string(offer).map_err(|e| WebRtcError::Sdp(e.to_string()))?;
        let answer = leg.rtc.sdp_api().accept_offer(offer).map_err(|e| WebRtcError::Sdp(e.to_string()))?;
        let answer = narrowband_opus(&answer.to_sdp_string());
        // The audio stream's mid, as the answer names it (str0m tells it by an event only
        // once media flows).
        leg.mid = audio_mid(&answer);
        leg.drain()?;
        leg.pick_coding()?;
        Ok((leg, answer))
    }

    /// Offers audio to a browser: the leg and our offer (see [`WebRtcLeg::accept_answer`]).
    pub fn offer(
        codecs: BrowserCodecs,
        base: Instant,
        now_ms: u64,
        local: SocketAddr,
        advertised: SocketAddr,
    ) -> Result<(Self, String), WebRtcError> {
        let mut leg = Self::with_config(config(codecs), base, now_ms, local, advertised)?;
        let mut change = leg.rtc.sdp_api();
        let mid = change.add_media(MediaKind::Audio, MediaDirection::SendRecv, None, None, None);
        let (offer, pending) = change.apply().ok_or_else(|| WebRtcError::Rtc("no offer".into()))?;
        leg.mid = Some(mid);
        leg.pending = Some(pending);
        leg.drain()?;
        Ok((leg, narrowband_opus(&offer.to_sdp_string())))
    }

    /// The browser's answer to our offer.
    pub fn accept_answer(&mut self, answer: &str) -> Result<(), WebRtcError> {
        let pending = self.pending.take().ok_or_else(|| WebRtcError::Sdp("no offer is pending".into()))?;
        let answer = SdpAnswer::from_sdp_string(answer).map_err(|e| WebRtcError::Sdp(e.to_string()))?;
        self.rtc.sdp_api().accept_answer(pending, answer).map_err(|e| WebRtcError::Sdp(e.to_string()))?;
        self.drain()?;
        self.pick_coding()
    }

    /// Chooses the codec we send: Opus when the browser took it, else G.711.
    fn pick_coding(&mut self) -> Result<(), WebRtcError> {
        let Some(mid) = self.mid else { return Err(WebRtcError::Sdp("no audio in the session".into())) };
        let Some(writer) = self.rtc.writer(mid) else {
            return Err(WebRtcError::Sdp("no audio writer".into()));
        };
        let params: Vec<_> = writer.payload_params().map(|p| (p.pt(), p.spec().codec)).collect();
        self.telephone_event = params.iter().find(|(_, c)| c.is_tele()).map(|(pt, _)| *pt);
        let pick = |wanted: WireCodec| params.iter().find(|(_, c)| *c == wanted).map(|(pt, _)| *pt);
        self.coding = if let Some(pt) = pick(WireCodec::Opus) {
            let mut encoder = Encoder::new(SampleRate::Hz8000, Channels::Mono, Application::Voip)
                .map_err(|e| WebRtcError::Opus(e.to_string()))?;
            // Forward error correction: one lost packet is rebuilt from the next.
            let _ = encoder.set_inband_fec(true);
            let _ = encoder.set_packet_loss_perc(10);
            // Telephone speech from an 8 kHz line (G.711 on the other side): a low complexity
            // keeps it, at a third of the default encoder's cost (see `bench webrtc`).
            let _ = encoder.set_complexity(ENCODER_COMPLEXITY);
            let decoder = Decoder::new(SampleRate::Hz8000, Channels::Mono)
                .map_err(|e| WebRtcError::Opus(e.to_string()))?;
            Some(Coding::Opus { pt, encoder: Box::new(encoder), decoder: Box::new(decoder) })
        } else if let Some(pt) = pick(WireCodec::PCMU) {
            Some(Coding::G711 { pt, law: G711::Ulaw })
        } else if let Some(pt) = pick(WireCodec::PCMA) {
            Some(Coding::G711 { pt, law: G711::Alaw })
        } else {
            return Err(WebRtcError::Sdp("no common audio codec (Opus, PCMU or PCMA)".into()));
        };
        Ok(())
    }

    /// The codec the browser's audio uses, for logs: "opus", "PCMU", "PCMA".
    pub fn codec_name(&self) -> &'static str {
        match &self.coding {
            Some(Coding::Opus { .. }) => "opus",
            Some(Coding::G711 { law: G711::Ulaw, .. }) => "PCMU",
            Some(Coding::G711 { law: G711::Alaw, .. }) => "PCMA",
            None => "none",
        }
    }

    fn at(&self, now_ms: u64) -> Instant {
        self.base + Duration::from_millis(now_ms)
    }

    /// A datagram from `source` at our socket. Anything str0m does not accept (not STUN, DTLS,
    /// RTP or RTCP of this session) is dropped.
    pub fn handle_datagram(&mut self, now_ms: u64, source: SocketAddr, bytes: &[u8]) {
        if self.closed {
            return;
        }
        let Ok(receive) = Receive::new(Protocol::Udp, source, self.local, bytes) else { return };
        let input = Input::Receive(self.at(now_ms), receive);
        if !self.rtc.accepts(&input) {
            return;
        }
        if self.rtc.handle_input(input).is_err() {
            // A packet that does not decrypt or parse costs nothing but itself.
            tracing::debug!(%source, "a WebRTC packet was refused");
        }
        self.drain_logged(self.at(now_ms));
    }

    pub fn handle_timeout(&mut self, now_ms: u64) {
        if self.closed {
            return;
        }
        let now = self.at(now_ms);
        if now < self.timeout {
            return;
        }
        let _ = self.rtc.handle_input(Input::Timeout(now));
        self.drain_logged(now);
    }

    /// When `handle_timeout` is next due, in milliseconds since `base`.
    pub fn poll_timeout(&self) -> Option<u64> {
        (!self.closed).then(|| self.timeout.saturating_duration_since(self.base).as_millis() as u64)
    }

    pub fn poll_transmit(&mut self) -> Option<(SocketAddr, Vec<u8>)> {
        self.out.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<WebRtcEvent> {
        self.events.pop_front()
    }

    pub fn is_connected(&self) -> bool {
        !self.closed && self.rtc.is_connected()
    }

    /// Sends 20 ms of 8 kHz audio to the browser (nothing until media is connected).
    pub fn send_frame(&mut self, now_ms: u64, frame: &[i16]) {
        if self.closed || !self.rtc.is_connected() {
            return;
        }
        let (Some(mid), Some(coding)) = (self.mid, self.coding.as_mut()) else { return };
        let (pt, data, clock, step) = match coding {
            Coding::Opus { pt, encoder, .. } => {
                let mut buf = [0u8; 400];
                match encoder.encode(frame, &mut buf) {
                    Ok(n) => (*pt, buf.get(..n).unwrap_or_default().to_vec(), 48_000u32, 960u64),
                    Err(e) => {
                        tracing::debug!(error = %e, "Opus encoding");
                        return;
                    }
                }
            }
            Coding::G711 { pt, law } => (*pt, law.encode(frame), 8_000, frame.len() as u64),
        };
        let clock = if clock == 8_000 { Frequency::EIGHT_KHZ } else { Frequency::FORTY_EIGHT_KHZ };
        let time = MediaTime::new(self.sent_time, clock);
        self.sent_time = self.sent_time.wrapping_add(step);
        let now = self.at(now_ms);
        let Some(writer) = self.rtc.writer(mid) else { return };
        if writer.write(pt, now, time, data).is_err() {
            return;
        }
        self.drain_logged(now);
    }

    /// Ends the session (DTLS close toward the browser).
    pub fn close(&mut self) {
        if !self.closed {
            let _ = self.rtc.close();
            let _ = self.drain();
            self.closed = true;
        }
    }

    /// `drain` after a mutation whose failure costs only itself (it is logged); a timeout
    /// that is already due (str0m packetizes a written sample on its next timeout) is handled
    /// at once rather than after a wake-up of its own.
    fn drain_logged(&mut self, now: Instant) {
        let mut rounds = 0;
        loop {
            if let Err(e) = self.drain() {
                tracing::debug!(error = %e, "WebRTC output");
                return;
            }
            if self.closed || self.timeout > now || rounds == DUE_NOW_ROUNDS {
                return;
            }
            rounds += 1;
            let _ = self.rtc.handle_input(Input::Timeout(now));
        }
    }

    /// Runs str0m's output until it names its next timeout.
    fn drain(&mut self) -> Result<(), WebRtcError> {
        loop {
            match self.rtc.poll_output() {
                Ok(Output::Timeout(t)) => {
                    self.timeout = t;
                    return Ok(());
                }
                Ok(Output::Transmit(t)) => self.out.push_back((t.destination, t.contents.to_vec())),
                Ok(Output::Event(e)) => self.event(e),
                Err(e) => {
                    self.closed = true;
                    self.events.push_back(WebRtcEvent::Closed);
                    return Err(WebRtcError::Rtc(e.to_string()));
                }
            }
            if !self.rtc.is_alive() {
                if !self.closed {
                    self.closed = true;
                    self.events.push_back(WebRtcEvent::Closed);
                }
                return Ok(());
            }
        }
    }

    fn event(&mut self, e: Event) {
        match e {
            Event::Connected => self.events.push_back(WebRtcEvent::Connected),
            Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                self.closed = true;
                self.events.push_back(WebRtcEvent::Closed);
            }
            Event::MediaAdded(added) if added.kind == MediaKind::Audio && self.mid.is_none() => {
                self.mid = Some(added.mid);
            }
            Event::MediaData(data) => {
                if Some(data.pt) == self.telephone_event {
                    return; // keys come by SIP INFO from our softphone
                }
                let seq = **data.seq_range.end();
                self.decode(seq, data.pt, &data.data);
            }
            _ => {}
        }
    }

    /// Decodes one packet from the browser into frames (rebuilding one lost packet by FEC).
    fn decode(&mut self, seq: u64, pt: Pt, payload: &[u8]) {
        let missed = match self.last_seq {
            Some(last) if seq <= last => return, // late or repeated
            Some(last) => seq - last - 1,
            None => 0,
        };
        self.last_seq = Some(seq);
        let mut frames: Vec<Vec<i16>> = Vec::new();
        match self.coding.as_mut() {
            Some(Coding::Opus { pt: opus, decoder, .. }) if *opus == pt => {
                if missed == 1 {
                    let mut fec = vec![0i16; FRAME];
                    let packet = audiopus::packet::Packet::try_from(payload).ok();
                    if let (Some(p), Ok(signals)) = (packet, audiopus::MutSignals::try_from(&mut fec[..])) {
                        if decoder.decode(Some(p), signals, true).is_ok() {
                            frames.push(fec);
                        }
                    }
                }
                // Up to 120 ms in one packet.
                let mut pcm = vec![0i16; FRAME * 6];
                let Ok(packet) = audiopus::packet::Packet::try_from(payload) else { return };
                let Ok(signals) = audiopus::MutSignals::try_from(&mut pcm[..]) else { return };
                let Ok(n) = decoder.decode(Some(packet), signals, false) else { return };
                pcm.truncate(n);
                frames.extend(pcm.chunks(FRAME).map(<[i16]>::to_vec));
            }
            Some(_) => {
                let law = if pt == Pt::from(8) { G711::Alaw } else { G711::Ulaw };
                let pcm = law.decode(payload);
                frames.extend(pcm.chunks(FRAME).map(<[i16]>::to_vec));
            }
            None => return,
        }
        // Losses we could not rebuild stay gaps in our numbering (the relay conceals them).
        let unrecovered = if missed == 1 && frames.len() > 1 { 0 } else { missed.min(50) as u16 };
        self.heard_seq = self.heard_seq.wrapping_add(unrecovered);
        self.heard_ts = self.heard_ts.wrapping_add(unrecovered as u32 * FRAME as u32);
        for mut samples in frames {
            samples.resize(FRAME, 0);
            self.events.push_back(WebRtcEvent::Heard(Heard {
                seq: self.heard_seq,
                timestamp: self.heard_ts,
                samples,
            }));
            self.heard_seq = self.heard_seq.wrapping_add(1);
            self.heard_ts = self.heard_ts.wrapping_add(FRAME as u32);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHROMIUM_OFFER: &str = include_str!("../../tests/data/chromium-offer.sdp");

    #[test]
    fn answers_a_chromium_offer() {
        let base = Instant::now();
        let local: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        let (leg, answer) =
            WebRtcLeg::answer(BrowserCodecs::Opus, base, 0, local, local, CHROMIUM_OFFER).unwrap();
        if let Ok(path) = std::env::var("WEBRTC_ANSWER_OUT") {
            std::fs::write(path, &answer).unwrap();
        }
        assert_eq!(leg.codec_name(), "opus");
        assert!(answer.contains("a=ice-lite"), "{answer}");
        // No transport-wide congestion control (its feedback would wake the leg ten times a
        // second for a stream of fixed rate): the media id is the one header extension.
        assert!(!answer.contains("transport-wide-cc") && !answer.contains("abs-send-time"), "{answer}");
        assert!(answer.contains("urn:ietf:params:rtp-hdrext:sdes:mid"), "{answer}");
        assert!(answer.contains("a=setup:passive") || answer.contains("a=setup:active"), "{answer}");
        assert!(answer.contains("a=candidate:") && answer.contains("127.0.0.1 40000"), "{answer}");
        // The browser is asked for narrowband Opus (what an 8 kHz call carries).
        assert!(
            answer.contains("useinbandfec=1;maxplaybackrate=8000;sprop-maxcapturerate=8000\r\n"),
            "{answer}"
        );
    }

    #[test]
    fn answers_a_chromium_offer_with_g711_when_told_to() {
        let base = Instant::now();
        let local: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        let (leg, answer) =
            WebRtcLeg::answer(BrowserCodecs::G711, base, 0, local, local, CHROMIUM_OFFER).unwrap();
        assert_eq!(leg.codec_name(), "PCMU");
        assert!(!answer.to_ascii_lowercase().contains("opus"), "{answer}");
        assert!(answer.contains("a=rtpmap:0 PCMU/8000"), "{answer}");
        // A browser with no G.711 at all (PCMU and PCMA left out of its formats) gets a clear
        // refusal.
        let opus_only: String = CHROMIUM_OFFER
            .lines()
            .filter(|l| !l.contains("PCMU") && !l.contains("PCMA"))
            .map(|l| match l.strip_prefix("m=audio ") {
                Some(rest) => {
                    let formats: Vec<&str> = rest.split(' ').filter(|f| !["0", "8"].contains(f)).collect();
                    format!("m=audio {}\r\n", formats.join(" "))
                }
                None => format!("{l}\r\n"),
            })
            .collect();
        assert!(WebRtcLeg::answer(BrowserCodecs::G711, base, 0, local, local, &opus_only).is_err());
    }
}
