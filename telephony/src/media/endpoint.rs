//! One RTP leg as 16-bit PCM, sans-IO: RTP packets in (through the jitter buffer, decoded) become
//! 20 ms frames out; frames in become RTP packets out (encoded, sequenced, timestamped); RTCP
//! reports are produced every five seconds. Players, recorders, mixers and the speech pipeline
//! attach here; a driver owns the socket and the clock.

use super::g711;
use super::jitter::{JitterBuffer, Playout};
use super::rtcp::{self, ReceptionStats, SenderInfo};
use super::rtp::{self, RtpHeader};

/// The G.711 flavour a leg uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum G711 {
    Ulaw,
    Alaw,
}

impl G711 {
    pub fn payload_type(self) -> u8 {
        match self {
            G711::Ulaw => 0,
            G711::Alaw => 8,
        }
    }
}

const RTCP_INTERVAL_MS: u64 = 5_000;

pub struct RtpEndpoint {
    codec: G711,
    ssrc: u32,
    seq: u16,
    timestamp: u32,
    jitter: JitterBuffer,
    reception: ReceptionStats,
    remote_ssrc: Option<u32>,
    sent_packets: u32,
    sent_octets: u32,
    next_rtcp_ms: u64,
    /// The last frame played, for loss concealment (repeated once, then silence).
    last_frame: Option<Vec<i16>>,
    concealed: u32,
}

impl RtpEndpoint {
    /// `ssrc` and the initial sequence/timestamp should be random per leg.
    pub fn new(codec: G711, ssrc: u32, initial_seq: u16, initial_ts: u32, now_ms: u64) -> Self {
        RtpEndpoint {
            codec,
            ssrc,
            seq: initial_seq,
            timestamp: initial_ts,
            jitter: JitterBuffer::new(),
            reception: ReceptionStats::default(),
            remote_ssrc: None,
            sent_packets: 0,
            sent_octets: 0,
            next_rtcp_ms: now_ms + RTCP_INTERVAL_MS,
            last_frame: None,
            concealed: 0,
        }
    }

    /// A packet from the peer (RTP of our codec; others are ignored here).
    pub fn handle_rtp(&mut self, now_ms: u64, packet: &[u8]) {
        let Some(h) = RtpHeader::parse(packet) else { return };
        if h.payload_type != self.codec.payload_type() {
            return;
        }
        self.remote_ssrc = Some(h.ssrc);
        self.jitter.push(now_ms, h.sequence, h.timestamp, h.payload(packet).to_vec());
        self.reception.packet(h.sequence, (self.jitter.stats().jitter_ms * 8.0) as u32);
    }

    /// When the next received frame is due.
    pub fn poll_timeout(&self) -> Option<u64> {
        match self.jitter.poll_timeout() {
            Some(t) => Some(t.min(self.next_rtcp_ms)),
            None => Some(self.next_rtcp_ms),
        }
    }

    /// The next decoded frame, if due: 160 samples (8 kHz, 20 ms). Losses are concealed by
    /// repeating the last frame once, then silence.
    pub fn poll_frame(&mut self, now_ms: u64) -> Option<Vec<i16>> {
        match self.jitter.pop(now_ms)? {
            Playout::Frame(payload) => {
                let frame: Vec<i16> = match self.codec {
                    G711::Ulaw => payload.iter().map(|&b| g711::ulaw_to_linear(b)).collect(),
                    G711::Alaw => payload.iter().map(|&b| g711::alaw_to_linear(b)).collect(),
                };
                self.concealed = 0;
                self.last_frame = Some(frame.clone());
                Some(frame)
            }
            Playout::Missing => {
                self.concealed += 1;
                match (&self.last_frame, self.concealed) {
                    (Some(f), 1) => Some(f.iter().map(|s| s / 2).collect()),
                    _ => Some(vec![0; 160]),
                }
            }
        }
    }

    /// Encodes one 20 ms frame (160 samples) as an RTP packet to send.
    pub fn send_frame(&mut self, frame: &[i16]) -> Vec<u8> {
        let payload: Vec<u8> = match self.codec {
            G711::Ulaw => frame.iter().map(|&s| g711::linear_to_ulaw(s)).collect(),
            G711::Alaw => frame.iter().map(|&s| g711::linear_to_alaw(s)).collect(),
        };
        let packet =
            rtp::write(false, self.codec.payload_type(), self.seq, self.timestamp, self.ssrc, &payload);
        self.seq = self.seq.wrapping_add(1);
        self.timestamp = self.timestamp.wrapping_add(frame.len() as u32);
        self.sent_packets += 1;
        self.sent_octets += payload.len() as u32;
        packet
    }

    /// An RTCP report when one is due (SR if we sent media, else RR).
    pub fn poll_rtcp(&mut self, now_ms: u64, ntp: u64) -> Option<Vec<u8>> {
        if now_ms < self.next_rtcp_ms {
            return None;
        }
        self.next_rtcp_ms = now_ms + RTCP_INTERVAL_MS;
        let blocks: Vec<_> = self.remote_ssrc.map(|s| self.reception.block(s)).into_iter().collect();
        let sender = (self.sent_packets > 0).then_some(SenderInfo {
            ntp,
            rtp_timestamp: self.timestamp,
            packets: self.sent_packets,
            octets: self.sent_octets,
        });
        Some(rtcp::report(self.ssrc, sender, &blocks))
    }

    pub fn jitter_stats(&self) -> &super::jitter::JitterStats {
        self.jitter.stats()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two endpoints talking over a lossy, jittery link on a virtual clock.
    #[test]
    fn frames_cross_a_lossy_link_and_reports_flow() {
        let mut alice = RtpEndpoint::new(G711::Ulaw, 1, 100, 1000, 0);
        let mut bob = RtpEndpoint::new(G711::Ulaw, 2, 5000, 9000, 0);
        let tone: Vec<i16> = (0..160).map(|i| ((i as f32 * 0.35).sin() * 8000.0) as i16).collect();
        let mut in_flight: Vec<(u64, Vec<u8>)> = Vec::new();
        let mut heard = Vec::new();
        let mut x: u32 = 3;
        for t in 0..4_000u64 {
            if t % 20 == 0 && t < 3_000 {
                let p = alice.send_frame(&tone);
                x = x.wrapping_mul(1103515245).wrapping_add(12345);
                let r = (x >> 16) % 100;
                if r >= 3 {
                    // 3 % loss, up to 30 ms of jitter.
                    in_flight.push((t + 10 + (r % 30) as u64, p));
                }
            }
            let (due, later): (Vec<_>, Vec<_>) = in_flight.into_iter().partition(|(at, _)| *at <= t);
            in_flight = later;
            for (_, p) in due {
                bob.handle_rtp(t, &p);
            }
            while let Some(f) = bob.poll_frame(t) {
                heard.push(f);
            }
        }
        let full =
            heard.iter().filter(|f| f.iter().map(|s| s.unsigned_abs() as u32).sum::<u32>() > 100_000).count();
        assert!(full >= 140, "only {full} of 150 frames arrived whole");
        let stats = bob.jitter_stats();
        // Everything that arrived was played; the lost packets (and the silence after the
        // stream stopped) became concealed slots.
        assert_eq!(stats.played, stats.received, "{stats:?}");
        assert!(stats.received < 150 && stats.missing >= 150 - stats.received, "{stats:?}");
        let sr = alice.poll_rtcp(5_000, 1).expect("sender report");
        let rr = bob.poll_rtcp(5_000, 1).expect("receiver report");
        assert!(rtcp::parse(&sr)[0].sender.is_some());
        let block = rtcp::parse(&rr)[0].blocks[0];
        assert_eq!(block.ssrc, 1);
        assert!(block.cumulative_lost > 0);
    }
}
