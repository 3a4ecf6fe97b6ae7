//! The browser's end of a WebRTC call, sans-IO, for benchmarks and tests that need many
//! browsers without Chromium: full ICE (it offers, so it controls), DTLS client, SRTP, Opus or
//! PCMU as the answer chose (it sends one 20 ms packet of a tone again and again, so a crowd of
//! peers costs little). What it hears is counted, not decoded.

use super::endpoint::G711;
use super::webrtc::WebRtcError;
use audiopus::coder::Encoder;
use audiopus::{Application, Channels, SampleRate};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use str0m::change::{SdpAnswer, SdpPendingOffer};
use str0m::format::Codec as WireCodec;
use str0m::media::{Direction as MediaDirection, Frequency, MediaKind, MediaTime, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc, RtcConfig};

pub struct WebRtcPeer {
    rtc: Rtc,
    base: Instant,
    local: SocketAddr,
    mid: Mid,
    pending: Option<SdpPendingOffer>,
    /// 20 ms of the tone in Opus, and the same in PCMU (for an answer without Opus).
    opus: Vec<u8>,
    pcmu: Vec<u8>,
    sent_time: u64,
    timeout: Instant,
    out: VecDeque<(SocketAddr, Vec<u8>)>,
    connected: bool,
    failed: bool,
    /// Tone packets sent (Opus or PCMU), and media packets received.
    pub sent: u64,
    pub received: u64,
}

/// 20 ms of a 440 Hz tone, Opus-encoded as a browser does when told the far end plays 8 kHz
/// (`maxplaybackrate=8000`: narrowband).
fn tone_packet() -> Result<Vec<u8>, WebRtcError> {
    let encoder = Encoder::new(SampleRate::Hz8000, Channels::Mono, Application::Voip)
        .map_err(|e| WebRtcError::Opus(e.to_string()))?;
    let frame = tone();
    let mut buf = [0u8; 400];
    let n = encoder.encode(&frame, &mut buf).map_err(|e| WebRtcError::Opus(e.to_string()))?;
    Ok(buf.get(..n).unwrap_or_default().to_vec())
}

/// 20 ms of a 440 Hz tone at 8 kHz (a whole number of periods would need 50 ms; the seam once
/// a packet is a click that a tone test does not mind).
fn tone() -> Vec<i16> {
    (0..160).map(|i| ((i as f32 * 440.0 * std::f32::consts::TAU / 8_000.0).sin() * 8000.0) as i16).collect()
}

impl WebRtcPeer {
    /// A peer on `local` (its socket) and its offer.
    pub fn offer(base: Instant, now_ms: u64, local: SocketAddr) -> Result<(Self, String), WebRtcError> {
        let now = base + Duration::from_millis(now_ms);
        let mut rtc = RtcConfig::new()
            .clear_codecs()
            .enable_opus(true, false)
            .enable_pcmu(true, false)
            .set_stats_interval(None)
            .build(now);
        let candidate = Candidate::host(local, "udp").map_err(|e| WebRtcError::Rtc(e.to_string()))?;
        rtc.add_local_candidate(candidate);
        let mut change = rtc.sdp_api();
        let mid = change.add_media(MediaKind::Audio, MediaDirection::SendRecv, None, None, None);
        let (offer, pending) = change.apply().ok_or_else(|| WebRtcError::Rtc("no offer".into()))?;
        let mut peer = WebRtcPeer {
            rtc,
            base,
            local,
            mid,
            pending: Some(pending),
            opus: tone_packet()?,
            pcmu: G711::Ulaw.encode(&tone()),
            sent_time: 0,
            timeout: now,
            out: VecDeque::new(),
            connected: false,
            failed: false,
            sent: 0,
            received: 0,
        };
        peer.drain();
        Ok((peer, offer.to_sdp_string()))
    }

    pub fn accept_answer(&mut self, answer: &str) -> Result<(), WebRtcError> {
        let pending = self.pending.take().ok_or_else(|| WebRtcError::Sdp("no offer is pending".into()))?;
        let answer = SdpAnswer::from_sdp_string(answer).map_err(|e| WebRtcError::Sdp(e.to_string()))?;
        self.rtc.sdp_api().accept_answer(pending, answer).map_err(|e| WebRtcError::Sdp(e.to_string()))?;
        self.drain();
        Ok(())
    }

    fn at(&self, now_ms: u64) -> Instant {
        self.base + Duration::from_millis(now_ms)
    }

    pub fn handle_datagram(&mut self, now_ms: u64, source: SocketAddr, bytes: &[u8]) {
        let Ok(receive) = Receive::new(Protocol::Udp, source, self.local, bytes) else { return };
        let input = Input::Receive(self.at(now_ms), receive);
        if self.rtc.accepts(&input) && self.rtc.handle_input(input).is_ok() {
            self.drain();
        }
    }

    pub fn handle_timeout(&mut self, now_ms: u64) {
        let now = self.at(now_ms);
        if now >= self.timeout && self.rtc.handle_input(Input::Timeout(now)).is_ok() {
            self.drain();
        }
    }

    pub fn poll_timeout(&self) -> u64 {
        self.timeout.saturating_duration_since(self.base).as_millis() as u64
    }

    pub fn poll_transmit(&mut self) -> Option<(SocketAddr, Vec<u8>)> {
        self.out.pop_front()
    }

    pub fn is_connected(&self) -> bool {
        self.connected && !self.failed
    }

    pub fn failed(&self) -> bool {
        self.failed
    }

    /// Sends the next 20 ms (once connected).
    pub fn send_frame(&mut self, now_ms: u64) {
        if !self.is_connected() {
            return;
        }
        let now = self.at(now_ms);
        let Some(writer) = self.rtc.writer(self.mid) else { return };
        let find = |codec| writer.payload_params().find(|p| p.spec().codec == codec).map(|p| p.pt());
        let (pt, packet, clock, step) = match (find(WireCodec::Opus), find(WireCodec::PCMU)) {
            (Some(pt), _) => (pt, &self.opus, Frequency::FORTY_EIGHT_KHZ, 960),
            (None, Some(pt)) => (pt, &self.pcmu, Frequency::EIGHT_KHZ, 160),
            (None, None) => return,
        };
        let time = MediaTime::new(self.sent_time, clock);
        if writer.write(pt, now, time, packet.clone()).is_ok() {
            self.sent_time += step;
            self.sent += 1;
            self.drain();
        }
    }

    fn drain(&mut self) {
        loop {
            match self.rtc.poll_output() {
                Ok(Output::Timeout(t)) => {
                    self.timeout = t;
                    return;
                }
                Ok(Output::Transmit(t)) => self.out.push_back((t.destination, t.contents.to_vec())),
                Ok(Output::Event(Event::Connected)) => self.connected = true,
                Ok(Output::Event(Event::MediaData(_))) => self.received += 1,
                Ok(Output::Event(Event::IceConnectionStateChange(
                    str0m::IceConnectionState::Disconnected,
                ))) => self.failed = true,
                Ok(Output::Event(_)) => {}
                Err(_) => {
                    self.failed = true;
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::webrtc::{BrowserCodecs, WebRtcEvent, WebRtcLeg};

    /// A peer and our leg, wired to each other in memory on a virtual clock: ICE, DTLS and
    /// SRTP come up, the peer's Opus arrives at the leg as 20 ms frames of the tone, and what
    /// the leg sends reaches the peer.
    #[test]
    fn a_peer_and_a_leg_connect_and_carry_audio_on_a_virtual_clock() {
        connect_and_talk(BrowserCodecs::Opus, "opus");
    }

    /// The same with a leg told to use G.711 only: PCMU both ways, nothing transcoded.
    #[test]
    fn a_g711_leg_carries_pcmu_on_a_virtual_clock() {
        connect_and_talk(BrowserCodecs::G711, "PCMU");
    }

    fn connect_and_talk(codecs: BrowserCodecs, codec: &str) {
        let base = Instant::now();
        let (peer_addr, leg_addr): (SocketAddr, SocketAddr) =
            ("127.0.0.1:50000".parse().unwrap(), "127.0.0.1:40000".parse().unwrap());
        let (mut peer, offer) = WebRtcPeer::offer(base, 0, peer_addr).unwrap();
        let (mut leg, answer) = WebRtcLeg::answer(codecs, base, 0, leg_addr, leg_addr, &offer).unwrap();
        peer.accept_answer(&answer).unwrap();
        assert_eq!(leg.codec_name(), codec);
        let mut heard = Vec::new();
        let mut connected = false;
        for now in (0..3000u64).step_by(5) {
            peer.handle_timeout(now);
            leg.handle_timeout(now);
            if now % 20 == 0 {
                peer.send_frame(now);
                leg.send_frame(now, &[1000i16; 160]);
                // The frame is on its way at once (str0m packetizes on a timeout that is due
                // now: the leg handles it rather than wait for a wake-up of its own).
                if leg.is_connected() {
                    assert!(leg.poll_timeout().unwrap() > now, "a timeout due now was left");
                }
            }
            // Deliver everything in flight, both ways, until quiet.
            loop {
                let mut moved = false;
                while let Some((to, bytes)) = peer.poll_transmit() {
                    assert_eq!(to, leg_addr);
                    leg.handle_datagram(now, peer_addr, &bytes);
                    moved = true;
                }
                while let Some((to, bytes)) = leg.poll_transmit() {
                    assert_eq!(to, peer_addr);
                    peer.handle_datagram(now, leg_addr, &bytes);
                    moved = true;
                }
                if !moved {
                    break;
                }
            }
            while let Some(e) = leg.poll_event() {
                match e {
                    WebRtcEvent::Connected => connected = true,
                    WebRtcEvent::Heard(h) => heard.push(h),
                    WebRtcEvent::Closed => panic!("closed"),
                }
            }
        }
        assert!(connected && peer.is_connected());
        assert!(heard.len() > 100, "heard {} frames", heard.len());
        // Numbered in sequence, 160 samples each, and the tone is there (zero crossings).
        assert!(heard.windows(2).all(|w| w[1].seq == w[0].seq.wrapping_add(1)));
        let last = &heard[heard.len() - 1].samples;
        let crossings = last.windows(2).filter(|w| (w[0] < 0) != (w[1] < 0)).count();
        assert!((14..=21).contains(&crossings), "{crossings} crossings in 20 ms of 440 Hz");
        assert!(peer.received > 100, "the peer got {} packets", peer.received);
    }
}
