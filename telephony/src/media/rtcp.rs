//! RTCP sender and receiver reports (RFC 3550 §6.4), sans-IO: what we know about a stream goes
//! in, compound packets come out; reports from the peer are parsed for loss and jitter.

/// Reception statistics for one source, as a report block carries them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReportBlock {
    pub ssrc: u32,
    /// Fraction lost since the last report, in 1/256.
    pub fraction_lost: u8,
    pub cumulative_lost: u32,
    pub highest_seq: u32,
    /// Interarrival jitter in timestamp units.
    pub jitter: u32,
    pub last_sr: u32,
    pub delay_since_last_sr: u32,
}

/// What the sender side knows for a sender report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SenderInfo {
    /// NTP timestamp (seconds since 1900 in the high 32 bits).
    pub ntp: u64,
    pub rtp_timestamp: u32,
    pub packets: u32,
    pub octets: u32,
}

fn block_bytes(b: &ReportBlock, out: &mut Vec<u8>) {
    out.extend_from_slice(&b.ssrc.to_be_bytes());
    let lost = b.cumulative_lost.min(0x7F_FFFF);
    out.push(b.fraction_lost);
    out.extend_from_slice(&lost.to_be_bytes()[1..]);
    out.extend_from_slice(&b.highest_seq.to_be_bytes());
    out.extend_from_slice(&b.jitter.to_be_bytes());
    out.extend_from_slice(&b.last_sr.to_be_bytes());
    out.extend_from_slice(&b.delay_since_last_sr.to_be_bytes());
}

/// A sender report (when we sent media) or a receiver report, with up to 31 blocks.
pub fn report(ssrc: u32, sender: Option<SenderInfo>, blocks: &[ReportBlock]) -> Vec<u8> {
    let blocks = &blocks[..blocks.len().min(31)];
    let mut out = Vec::new();
    let words = 1 + if sender.is_some() { 5 } else { 0 } + 6 * blocks.len();
    out.push(0x80 | blocks.len() as u8);
    out.push(if sender.is_some() { 200 } else { 201 });
    out.extend_from_slice(&(words as u16).to_be_bytes());
    out.extend_from_slice(&ssrc.to_be_bytes());
    if let Some(s) = sender {
        out.extend_from_slice(&s.ntp.to_be_bytes());
        out.extend_from_slice(&s.rtp_timestamp.to_be_bytes());
        out.extend_from_slice(&s.packets.to_be_bytes());
        out.extend_from_slice(&s.octets.to_be_bytes());
    }
    for b in blocks {
        block_bytes(b, &mut out);
    }
    out
}

/// A parsed SR or RR (other RTCP packets in a compound packet are skipped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub ssrc: u32,
    pub sender: Option<SenderInfo>,
    pub blocks: Vec<ReportBlock>,
}

fn u32_at(b: &[u8], i: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(i..i + 4)?.try_into().ok()?))
}

/// Parses every SR and RR in a (compound) RTCP packet; malformed input yields what parsed.
pub fn parse(packet: &[u8]) -> Vec<Report> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos + 4 <= packet.len() {
        let (first, pt) = (packet[pos], packet[pos + 1]);
        if first >> 6 != 2 {
            break;
        }
        let len = (u16::from_be_bytes([packet[pos + 2], packet[pos + 3]]) as usize + 1) * 4;
        let Some(body) = packet.get(pos..pos + len) else { break };
        let count = (first & 0x1F) as usize;
        if pt == 200 || pt == 201 {
            let parsed = (|| {
                let ssrc = u32_at(body, 4)?;
                let (sender, mut at) = if pt == 200 {
                    let ntp = ((u32_at(body, 8)? as u64) << 32) | u32_at(body, 12)? as u64;
                    (
                        Some(SenderInfo {
                            ntp,
                            rtp_timestamp: u32_at(body, 16)?,
                            packets: u32_at(body, 20)?,
                            octets: u32_at(body, 24)?,
                        }),
                        28,
                    )
                } else {
                    (None, 8)
                };
                let mut blocks = Vec::new();
                for _ in 0..count {
                    let lost = u32_at(body, at + 4)?;
                    blocks.push(ReportBlock {
                        ssrc: u32_at(body, at)?,
                        fraction_lost: (lost >> 24) as u8,
                        cumulative_lost: lost & 0xFF_FFFF,
                        highest_seq: u32_at(body, at + 8)?,
                        jitter: u32_at(body, at + 12)?,
                        last_sr: u32_at(body, at + 16)?,
                        delay_since_last_sr: u32_at(body, at + 20)?,
                    });
                    at += 24;
                }
                Some(Report { ssrc, sender, blocks })
            })();
            if let Some(r) = parsed {
                out.push(r);
            }
        }
        pos += len;
    }
    out
}

/// Receiver-side bookkeeping for one incoming stream (RFC 3550 Appendix A.3 and A.8).
#[derive(Debug, Clone, Default)]
pub struct ReceptionStats {
    base_seq: Option<u32>,
    max_seq: u32,
    cycles: u32,
    received: u32,
    expected_prior: u32,
    received_prior: u32,
    transit: Option<i64>,
    jitter_x16: u64,
}

impl ReceptionStats {
    /// A packet with sequence number `seq` and RTP timestamp `rtp_ts` arrived at `arrival_ts`
    /// (the arrival time in the same timestamp units, e.g. 8 kHz ticks).
    pub fn packet(&mut self, seq: u16, rtp_ts: u32, arrival_ts: u32) {
        let seq = seq as u32;
        match self.base_seq {
            None => {
                self.base_seq = Some(seq);
                self.max_seq = seq;
            }
            Some(_) => {
                if seq < (self.max_seq & 0xFFFF) && (self.max_seq & 0xFFFF) - seq > 0x8000 {
                    // The count of wraps lives in the high 16 bits and wraps itself (A.1): a
                    // sender that jumps back and forth forever must not overflow it.
                    self.cycles = self.cycles.wrapping_add(0x10000);
                }
                let ext = self.cycles | seq;
                self.max_seq = self.max_seq.max(ext);
            }
        }
        self.received = self.received.wrapping_add(1);
        // Interarrival jitter: J += (|D| - J) / 16, kept scaled by 16 (A.8).
        let transit = arrival_ts.wrapping_sub(rtp_ts) as i32 as i64;
        if let Some(prev) = self.transit {
            let d = (transit - prev).unsigned_abs();
            if d < 8_000 * 10 {
                self.jitter_x16 = self.jitter_x16 + d - ((self.jitter_x16 + 8) >> 4);
            }
        }
        self.transit = Some(transit);
    }

    /// Interarrival jitter in timestamp units.
    pub fn jitter(&self) -> u32 {
        (self.jitter_x16 >> 4) as u32
    }

    pub fn received(&self) -> u32 {
        self.received
    }

    /// Packets expected so far (the extended range seen), wrapping like the wire counters do.
    fn expected(&self) -> u32 {
        self.base_seq.map_or(0, |base| self.max_seq.wrapping_sub(base).wrapping_add(1))
    }

    /// Packets expected but not received so far.
    pub fn lost(&self) -> u32 {
        self.expected().saturating_sub(self.received)
    }

    /// A report block for `ssrc`, and resets the interval counters.
    pub fn block(&mut self, ssrc: u32) -> ReportBlock {
        let expected = self.expected();
        let lost = expected.saturating_sub(self.received);
        // Interval counts are differences of wrapping counters (RFC 3550 A.3).
        let expected_interval = expected.wrapping_sub(self.expected_prior);
        let received_interval = self.received.wrapping_sub(self.received_prior);
        self.expected_prior = expected;
        self.received_prior = self.received;
        let lost_interval = expected_interval.saturating_sub(received_interval) as u64;
        let fraction =
            (lost_interval << 8).checked_div(expected_interval as u64).map_or(0, |f| f.min(255) as u8);
        ReportBlock {
            ssrc,
            fraction_lost: fraction,
            cumulative_lost: lost,
            highest_seq: self.max_seq,
            jitter: self.jitter(),
            last_sr: 0,
            delay_since_last_sr: 0,
        }
    }
}

/// The middle 32 bits of an NTP timestamp, as LSR and DLSR use them (1/65536 s).
pub fn ntp_middle(ntp: u64) -> u32 {
    (ntp >> 16) as u32
}

/// The round-trip time a report block shows (RFC 3550 §6.4.1), in milliseconds, given when it
/// arrived (NTP); `None` when the peer has not had a sender report from us yet.
pub fn round_trip_ms(block: &ReportBlock, arrival_ntp: u64) -> Option<u32> {
    if block.last_sr == 0 {
        return None;
    }
    let rtt = ntp_middle(arrival_ntp).wrapping_sub(block.last_sr).wrapping_sub(block.delay_since_last_sr);
    // Negative (clock trouble) shows as a huge value: ignore anything over a minute.
    (rtt < 60 << 16).then(|| ((rtt as u64 * 1000) >> 16) as u32)
}

/// Seconds since 1900 in the high 32 bits, the fraction in the low 32, from a Unix time in ms.
pub fn ntp_from_unix_ms(unix_ms: u64) -> u64 {
    let secs = unix_ms / 1000 + 2_208_988_800;
    let frac = ((unix_ms % 1000) << 32) / 1000;
    (secs << 32) | frac
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_round_trip() {
        let block = ReportBlock {
            ssrc: 9,
            fraction_lost: 64,
            cumulative_lost: 12,
            highest_seq: 70000,
            jitter: 33,
            last_sr: 5,
            delay_since_last_sr: 6,
        };
        let sr = report(
            1,
            Some(SenderInfo { ntp: 0xAABB_CCDD_0011_2233, rtp_timestamp: 160, packets: 10, octets: 1600 }),
            &[block],
        );
        let rr = report(2, None, &[block, block]);
        let mut compound = sr.clone();
        compound.extend_from_slice(&rr);
        let parsed = parse(&compound);
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed[0].sender.unwrap().octets, 1600);
        assert_eq!(parsed[0].blocks, vec![block]);
        assert_eq!(parsed[1].blocks.len(), 2);
        for n in 0..compound.len() {
            let _ = parse(&compound[..n]);
        }
        assert!(crate::media::rtp::RtpHeader::is_rtcp(&sr));
    }

    #[test]
    fn loss_is_counted() {
        let mut s = ReceptionStats::default();
        for seq in (0u16..100).filter(|s| s % 10 != 0) {
            s.packet(seq, seq as u32 * 160, seq as u32 * 160);
        }
        let b = s.block(1);
        assert_eq!(b.cumulative_lost, 9); // 1..=99 expected 99, got 89 (0 is the base)
        assert!(b.fraction_lost > 0);
        // Wrap-around keeps counting.
        let mut w = ReceptionStats::default();
        for seq in [65534u16, 65535, 0, 1] {
            w.packet(seq, 0, 0);
        }
        assert_eq!(w.block(1).highest_seq, 65536 + 1);
    }

    #[test]
    fn a_sender_jumping_back_and_forth_never_overflows_the_counters() {
        // Each jump back by more than half the space counts a wrap: 2^16 of them wrap the
        // cycle count itself (a debug build used to panic here).
        let mut s = ReceptionStats::default();
        for i in 0..140_000u32 {
            s.packet(if i % 2 == 0 { 40_000 } else { 0 }, i, i);
            if i % 10_000 == 0 {
                let _ = s.block(1);
            }
        }
        let _ = (s.lost(), s.block(1), s.received());
    }

    #[test]
    fn jitter_follows_arrival_spread() {
        let mut steady = ReceptionStats::default();
        let mut shaky = ReceptionStats::default();
        for i in 0u32..500 {
            steady.packet(i as u16, i * 160, 1000 + i * 160);
            // Arrivals alternate 0 and 20 ms (160 ticks) late.
            shaky.packet(i as u16, i * 160, 1000 + i * 160 + (i % 2) * 160);
        }
        assert_eq!(steady.jitter(), 0);
        assert!((140..=170).contains(&shaky.jitter()), "{}", shaky.jitter());
    }

    #[test]
    fn round_trip_from_lsr_and_dlsr() {
        let sent = ntp_from_unix_ms(1_000_000);
        // The peer held our report 250 ms; it came back 400 ms after we sent it.
        let block = ReportBlock {
            last_sr: ntp_middle(sent),
            delay_since_last_sr: 250 * 65536 / 1000,
            ..Default::default()
        };
        let rtt = round_trip_ms(&block, ntp_from_unix_ms(1_000_400)).unwrap();
        assert!((149..=151).contains(&rtt), "{rtt}");
        assert_eq!(round_trip_ms(&ReportBlock::default(), sent), None);
    }
}
