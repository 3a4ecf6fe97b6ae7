//! One RTP leg as 16-bit PCM, sans-IO: RTP packets in (through the jitter buffer, decoded) become
//! 20 ms frames out; frames in become RTP packets out (encoded, sequenced, timestamped); RTCP
//! sender/receiver reports are produced every five seconds and the peer's reports are read for
//! its view of the call (loss, jitter, round-trip time). Players, recorders, mixers and the
//! speech pipeline attach here; a driver owns the socket and the clock.

use super::g711;
use super::jitter::{JitterBuffer, Playout, Reorder};
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

    /// The codec of a static payload type (PCMU for anything but 8).
    pub fn from_payload_type(pt: u8) -> Self {
        if pt == 8 {
            G711::Alaw
        } else {
            G711::Ulaw
        }
    }

    pub fn decode(self, payload: &[u8]) -> Vec<i16> {
        match self {
            G711::Ulaw => payload.iter().map(|&b| g711::ulaw_to_linear(b)).collect(),
            G711::Alaw => payload.iter().map(|&b| g711::alaw_to_linear(b)).collect(),
        }
    }

    pub fn encode(self, frame: &[i16]) -> Vec<u8> {
        match self {
            G711::Ulaw => frame.iter().map(|&s| g711::linear_to_ulaw(s)).collect(),
            G711::Alaw => frame.iter().map(|&s| g711::linear_to_alaw(s)).collect(),
        }
    }
}

const RTCP_INTERVAL_MS: u64 = 5_000;

/// How a leg's media is doing: what we measure receiving, and what the peer reports.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LegQuality {
    pub packets_received: u32,
    /// Expected but never received.
    pub packets_lost: u32,
    /// Interarrival jitter of what we receive, in ms.
    pub jitter_ms: f64,
    /// 20 ms slots played with nothing received in time (concealed), and received packets
    /// thrown away (too late, or to shorten the playout delay).
    pub frames_concealed: u64,
    pub frames_dropped: u64,
    /// The same for the delay-free path a tap hears (see `RtpEndpoint::hear_eagerly`): slots
    /// concealed, and packets that came after their slot was given up; `None` without a tap.
    pub heard_concealed: Option<u64>,
    pub heard_late: Option<u64>,
    /// Packets we generated on this leg (relayed packets are not counted).
    pub packets_sent: u32,
    /// The peer's last report about what it receives: fraction lost (0 to 1) and jitter (ms).
    pub remote_fraction_lost: Option<f64>,
    pub remote_jitter_ms: Option<f64>,
    /// Round-trip time from the peer's report on our sender report.
    pub rtt_ms: Option<u32>,
}

/// Decodes a slot of playout; a lost one repeats the last frame once at half level, then is
/// silence.
#[derive(Default)]
struct Concealer {
    last_frame: Option<Vec<i16>>,
    concealed: u32,
}

impl Concealer {
    fn frame(&mut self, codec: G711, playout: Playout) -> Vec<i16> {
        match playout {
            Playout::Frame(payload) => {
                let frame = codec.decode(&payload);
                self.concealed = 0;
                self.last_frame = Some(frame.clone());
                frame
            }
            Playout::Missing => {
                self.concealed += 1;
                match (&self.last_frame, self.concealed) {
                    (Some(f), 1) => f.iter().map(|s| s / 2).collect(),
                    _ => vec![0; 160],
                }
            }
        }
    }
}

pub struct RtpEndpoint {
    codec: G711,
    ssrc: u32,
    seq: u16,
    timestamp: u32,
    jitter: JitterBuffer,
    /// Concealed and dropped frames of playouts before the last reset.
    earlier_playout: (u64, u64),
    reception: ReceptionStats,
    remote_ssrc: Option<u32>,
    sent_packets: u32,
    sent_octets: u32,
    next_rtcp_ms: u64,
    concealer: Concealer,
    /// What arrives, in order and at once, for a listener that follows the audio rather than
    /// playing it (see [`RtpEndpoint::hear_eagerly`]).
    eager: Option<(Reorder, Concealer)>,
    /// The peer's last sender report (NTP middle bits) and when it arrived, for LSR/DLSR.
    last_sr: Option<(u32, u64)>,
    quality: LegQuality,
    /// The event being sent: its key (the source's event timestamp) and our timestamp for it.
    event: Option<(u32, u32)>,
    /// Forwarded sources (see [`RtpEndpoint::forward`]): their SSRC and what maps their
    /// timestamps into ours, most recent first.
    forwarded: Vec<(u32, u32)>,
    /// When we last sent a packet, for the timestamp a new forwarded source starts at.
    last_sent_ms: Option<u64>,
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
            earlier_playout: (0, 0),
            reception: ReceptionStats::default(),
            remote_ssrc: None,
            sent_packets: 0,
            sent_octets: 0,
            next_rtcp_ms: now_ms + RTCP_INTERVAL_MS,
            concealer: Concealer::default(),
            eager: None,
            last_sr: None,
            quality: LegQuality::default(),
            event: None,
            forwarded: Vec::new(),
            last_sent_ms: None,
        }
    }

    pub fn codec(&self) -> G711 {
        self.codec
    }

    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// Counts a packet from the peer for reports without buffering it (the relay forwarded it).
    pub fn observe_rtp(&mut self, now_ms: u64, header: &RtpHeader) {
        self.remote_ssrc = Some(header.ssrc);
        // Arrival in 8 kHz ticks, wrapping like RTP timestamps do.
        self.reception.packet(header.sequence, header.timestamp, now_ms.wrapping_mul(8) as u32);
    }

    /// A packet from the peer (RTP of our codec; others are ignored here).
    pub fn handle_rtp(&mut self, now_ms: u64, packet: &[u8]) {
        let Some(h) = RtpHeader::parse(packet) else { return };
        if h.payload_type != self.codec.payload_type() {
            return;
        }
        if self.remote_ssrc.is_some_and(|ssrc| ssrc != h.ssrc) {
            // A new source (the call was transferred to someone else): its sequence numbers
            // and timestamps have nothing to do with the last one's, so playout starts over.
            self.reset_playout();
            if let Some((reorder, _)) = &mut self.eager {
                *reorder = Reorder::new(40);
            }
        }
        self.observe_rtp(now_ms, &h);
        let payload = h.payload(packet).to_vec();
        if let Some((reorder, _)) = &mut self.eager {
            reorder.push(now_ms, h.sequence, payload.clone());
        }
        self.jitter.push(now_ms, h.sequence, h.timestamp, payload);
    }

    /// From now on, what arrives is also kept for [`RtpEndpoint::poll_heard`]: in sequence, with
    /// no playout delay (a gap waits up to 40 ms for a reordered packet).
    pub fn hear_eagerly(&mut self) {
        self.eager = Some((Reorder::new(40), Concealer::default()));
    }

    /// Stops keeping what arrives for `poll_heard`.
    pub fn stop_hearing_eagerly(&mut self) {
        self.eager = None;
    }

    /// The next frame that arrived (see [`RtpEndpoint::hear_eagerly`]), decoded, with losses
    /// concealed like `poll_frame` does.
    pub fn poll_heard(&mut self, now_ms: u64) -> Option<Vec<i16>> {
        let (reorder, concealer) = self.eager.as_mut()?;
        let playout = reorder.pop(now_ms)?;
        Some(concealer.frame(self.codec, playout))
    }

    /// Forgets buffered audio and the playout clock (after the leg was passed through for a
    /// while, so that playout restarts from what arrives next).
    pub fn reset_playout(&mut self) {
        let s = self.jitter.stats();
        self.earlier_playout.0 += s.missing;
        self.earlier_playout.1 += s.late + s.dropped;
        self.jitter = JitterBuffer::new();
        self.concealer = Concealer::default();
    }

    /// When the next received frame or report is due.
    pub fn poll_timeout(&self) -> Option<u64> {
        match self.jitter.poll_timeout() {
            Some(t) => Some(t.min(self.next_rtcp_ms)),
            None => Some(self.next_rtcp_ms),
        }
    }

    /// The next decoded frame, if due: 160 samples (8 kHz, 20 ms). Losses are concealed by
    /// repeating the last frame once at half level, then silence.
    pub fn poll_frame(&mut self, now_ms: u64) -> Option<Vec<i16>> {
        let playout = self.jitter.pop(now_ms)?;
        Some(self.concealer.frame(self.codec, playout))
    }

    /// Encodes one 20 ms frame (160 samples) as an RTP packet to send.
    pub fn send_frame(&mut self, frame: &[i16]) -> Vec<u8> {
        let payload = self.codec.encode(frame);
        let packet =
            rtp::write(false, self.codec.payload_type(), self.seq, self.timestamp, self.ssrc, &payload);
        self.seq = self.seq.wrapping_add(1);
        self.timestamp = self.timestamp.wrapping_add(frame.len() as u32);
        // The sender report's counts wrap (RFC 3550 §6.4.1).
        self.sent_packets = self.sent_packets.wrapping_add(1);
        self.sent_octets = self.sent_octets.wrapping_add(payload.len() as u32);
        self.quality.packets_sent = self.sent_packets;
        packet
    }

    /// Makes a packet passed through from the other side (`packet`, already parsed as RTP) a
    /// packet of our stream: our SSRC, our next sequence number, its timestamp moved into ours.
    /// The peer then hears one stream whether the relay copies packets or makes its own, and a
    /// change of source on the other side (a new SSRC, a second stream for telephone-events)
    /// does not reach it: phones' jitter buffers take a new SSRC with older sequence numbers for
    /// late packets and drop them.
    pub fn forward(&mut self, now_ms: u64, packet: &mut [u8]) {
        let Some(h) = RtpHeader::parse(packet) else { return };
        let offset = match self.forwarded.iter().position(|(ssrc, _)| *ssrc == h.ssrc) {
            Some(i) => {
                let entry = self.forwarded.remove(i);
                self.forwarded.insert(0, entry);
                entry.1
            }
            None => {
                // A new source starts where our stream is now (media time went on since our
                // last packet).
                let since = self.last_sent_ms.map_or(0, |t| now_ms.saturating_sub(t));
                let start = self.timestamp.wrapping_add((since as u32).wrapping_mul(8));
                let offset = start.wrapping_sub(h.timestamp);
                self.forwarded.insert(0, (h.ssrc, offset));
                self.forwarded.truncate(4);
                offset
            }
        };
        let ts = h.timestamp.wrapping_add(offset);
        packet[2..4].copy_from_slice(&self.seq.to_be_bytes());
        packet[4..8].copy_from_slice(&ts.to_be_bytes());
        packet[8..12].copy_from_slice(&self.ssrc.to_be_bytes());
        self.seq = self.seq.wrapping_add(1);
        let payload = h.payload(packet).len() as u32;
        if h.payload_type == self.codec.payload_type() {
            // G.711: a byte per sample.
            self.timestamp = ts.wrapping_add(payload);
        }
        self.last_sent_ms = Some(now_ms);
        self.sent_packets = self.sent_packets.wrapping_add(1);
        self.sent_octets = self.sent_octets.wrapping_add(payload);
        self.quality.packets_sent = self.sent_packets;
    }

    /// Lets `samples` of media time pass without sending audio (e.g. while an event is sent).
    pub fn skip_frame(&mut self, samples: u32) {
        self.timestamp = self.timestamp.wrapping_add(samples);
    }

    /// A telephone-event packet in our stream. Packets with the same `key` (the source event's
    /// timestamp, or any number that identifies one generated event) share one RTP timestamp.
    pub fn send_event(&mut self, payload_type: u8, key: u32, marker: bool, payload: &[u8]) -> Vec<u8> {
        let ts = match self.event {
            Some((k, ts)) if k == key => ts,
            _ => {
                self.event = Some((key, self.timestamp));
                self.timestamp
            }
        };
        let packet = rtp::write(marker, payload_type, self.seq, ts, self.ssrc, payload);
        self.seq = self.seq.wrapping_add(1);
        // The sender report's counts wrap (RFC 3550 §6.4.1).
        self.sent_packets = self.sent_packets.wrapping_add(1);
        self.sent_octets = self.sent_octets.wrapping_add(payload.len() as u32);
        self.quality.packets_sent = self.sent_packets;
        packet
    }

    /// An RTCP packet from the peer: its sender report (kept for our LSR/DLSR) and its report
    /// block about what it receives (loss, jitter, round trip).
    pub fn handle_rtcp(&mut self, now_ms: u64, now_ntp: u64, packet: &[u8]) {
        for report in rtcp::parse(packet) {
            if let Some(sender) = report.sender {
                self.last_sr = Some((rtcp::ntp_middle(sender.ntp), now_ms));
            }
            // Take the block about our stream if there is one, else the first.
            let block = report.blocks.iter().find(|b| b.ssrc == self.ssrc).or(report.blocks.first());
            if let Some(b) = block {
                self.quality.remote_fraction_lost = Some(b.fraction_lost as f64 / 256.0);
                self.quality.remote_jitter_ms = Some(b.jitter as f64 / 8.0);
                if b.ssrc == self.ssrc {
                    if let Some(rtt) = rtcp::round_trip_ms(b, now_ntp) {
                        self.quality.rtt_ms = Some(rtt);
                    }
                }
            }
        }
    }

    /// An RTCP report when one is due (SR if we sent media, else RR).
    pub fn poll_rtcp(&mut self, now_ms: u64, ntp: u64) -> Option<Vec<u8>> {
        if now_ms < self.next_rtcp_ms {
            return None;
        }
        self.next_rtcp_ms = now_ms + RTCP_INTERVAL_MS;
        let mut blocks: Vec<_> = self.remote_ssrc.map(|s| self.reception.block(s)).into_iter().collect();
        if let (Some(block), Some((lsr, at))) = (blocks.first_mut(), self.last_sr) {
            block.last_sr = lsr;
            block.delay_since_last_sr = ((now_ms.saturating_sub(at) * 65536) / 1000) as u32;
        }
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

    /// The leg's media quality so far.
    pub fn quality(&self) -> LegQuality {
        LegQuality {
            packets_received: self.reception.received(),
            packets_lost: self.reception.lost(),
            jitter_ms: self.reception.jitter() as f64 / 8.0,
            frames_concealed: self.earlier_playout.0 + self.jitter.stats().missing,
            frames_dropped: self.earlier_playout.1 + self.jitter.stats().late + self.jitter.stats().dropped,
            heard_concealed: self.eager.as_ref().map(|(r, _)| r.missing),
            heard_late: self.eager.as_ref().map(|(r, _)| r.late),
            ..self.quality
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An eager listener hears each frame the moment it arrives; playout waits its delay.
    #[test]
    fn an_eager_listener_hears_frames_as_they_arrive() {
        let mut alice = RtpEndpoint::new(G711::Ulaw, 1, 100, 1000, 0);
        let mut bob = RtpEndpoint::new(G711::Ulaw, 2, 5000, 9000, 0);
        bob.hear_eagerly();
        let loud = vec![8000i16; 160];
        let packets: Vec<Vec<u8>> = (0..3).map(|_| alice.send_frame(&loud)).collect();
        bob.handle_rtp(0, &packets[0]);
        assert!(bob.poll_heard(0).is_some_and(|f| f[0] > 7000), "heard at once");
        assert!(bob.poll_frame(0).is_none(), "playout waits for its delay");
        // The third packet overtakes the second: it waits for it, 40 ms at most.
        bob.handle_rtp(20, &packets[2]);
        assert!(bob.poll_heard(20).is_none());
        bob.handle_rtp(25, &packets[1]);
        assert_eq!(std::iter::from_fn(|| bob.poll_heard(25)).count(), 2);
        // The fourth is lost and a fifth arrives: concealed 40 ms later (half the last frame).
        alice.send_frame(&loud);
        bob.handle_rtp(60, &alice.send_frame(&loud));
        assert!(bob.poll_heard(99).is_none());
        let concealed = bob.poll_heard(100).unwrap();
        assert!((3500..4500).contains(&concealed[0]), "{}", concealed[0]);
        assert!(bob.poll_heard(100).is_some_and(|f| f[0] > 7000));
        assert_eq!((bob.quality().heard_concealed, bob.quality().heard_late), (Some(1), Some(0)));
        bob.stop_hearing_eagerly();
        bob.handle_rtp(120, &alice.send_frame(&loud));
        assert!(bob.poll_heard(120).is_none());
    }

    /// A new source mid-call (a transfer connects someone else) is played from its first
    /// packet, whatever its sequence numbers and timestamps; before, its packets all looked
    /// late and the caller heard nothing more.
    #[test]
    fn a_new_source_is_played_from_its_first_packet() {
        let mut bob = RtpEndpoint::new(G711::Ulaw, 1, 60_000, 4_000_000_000, 0);
        let mut carol = RtpEndpoint::new(G711::Ulaw, 3, 10, 500, 0);
        let mut alice = RtpEndpoint::new(G711::Ulaw, 2, 1, 0, 0);
        let loud = vec![8000i16; 160];
        let mut t = 0;
        let mut heard = 0;
        for (speaker, frames) in [(&mut bob, 50), (&mut carol, 50)] {
            for _ in 0..frames {
                alice.handle_rtp(t, &speaker.send_frame(&loud));
                t += 20;
                while let Some(f) = alice.poll_frame(t) {
                    heard += usize::from(f[0] > 7000);
                }
            }
        }
        assert!(heard >= 90, "{heard} of 100 frames heard");
    }

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
        assert!(bob.quality().packets_lost > 0 && bob.quality().jitter_ms > 1.0, "{:?}", bob.quality());
        assert!(bob.quality().frames_concealed >= bob.quality().packets_lost as u64, "{:?}", bob.quality());
    }

    /// Reports cross both ways on a virtual clock: loss and jitter reach the sender, and the
    /// round trip comes out of LSR/DLSR.
    #[test]
    fn reports_carry_loss_jitter_and_round_trip() {
        let mut alice = RtpEndpoint::new(G711::Alaw, 11, 1, 0, 0);
        let mut bob = RtpEndpoint::new(G711::Alaw, 22, 1, 0, 0);
        let frame = vec![1000i16; 160];
        let ntp = |ms: u64| rtcp::ntp_from_unix_ms(1_700_000_000_000 + ms);
        // 250 packets; every 25th lost; the link is 30 ms one way.
        for i in 0..250u64 {
            let p = alice.send_frame(&frame);
            if i % 25 != 7 {
                bob.handle_rtp(i * 20 + 30, &p);
            }
        }
        let sr = alice.poll_rtcp(5_000, ntp(5_000)).unwrap();
        bob.handle_rtcp(5_030, ntp(5_030), &sr);
        // Bob reports 100 ms after the SR reached him; it takes 30 ms back.
        let rr = bob.poll_rtcp(5_130, ntp(5_130)).unwrap();
        alice.handle_rtcp(5_160, ntp(5_160), &rr);
        let q = alice.quality();
        assert!((0.03..0.05).contains(&q.remote_fraction_lost.unwrap()), "{q:?}");
        assert!((59..=61).contains(&q.rtt_ms.unwrap()), "{q:?}");
        assert_eq!(q.packets_sent, 250);
        assert_eq!(bob.quality().packets_lost, 10);
        // Junk never panics.
        for n in 0..sr.len() {
            bob.handle_rtcp(0, 0, &sr[..n]);
        }
    }

    #[test]
    fn events_share_a_timestamp_and_advance_the_sequence() {
        let mut e = RtpEndpoint::new(G711::Ulaw, 5, 10, 800, 0);
        e.send_frame(&[0; 160]);
        let a = RtpHeader::parse(&e.send_event(101, 77, true, &[1, 0, 0, 160])).unwrap();
        let b = RtpHeader::parse(&e.send_event(101, 77, false, &[1, 0x80, 1, 64])).unwrap();
        let c = RtpHeader::parse(&e.send_event(101, 78, true, &[2, 0, 0, 160])).unwrap();
        assert_eq!((a.timestamp, b.timestamp), (960, 960));
        assert_eq!((a.sequence, b.sequence, c.sequence), (11, 12, 13));
        assert!(a.marker && !b.marker);
    }
}
