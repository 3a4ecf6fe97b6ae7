//! An adaptive jitter buffer for 20 ms audio packets, sans-IO: packets go in with their arrival
//! time, frames come out on the playout clock. Reordering and duplicates are absorbed, losses
//! become `Missing` (for concealment), late packets are dropped, and the delay follows the
//! measured jitter (RFC 3550 §6.4.1 estimator) between a floor and a ceiling.

use std::collections::BTreeMap;

/// One 20 ms slot of playout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Playout {
    /// The packet's payload for this slot.
    Frame(Vec<u8>),
    /// Nothing arrived in time for this slot (lost or too late): conceal it.
    Missing,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct JitterStats {
    pub received: u64,
    pub played: u64,
    pub missing: u64,
    pub late: u64,
    pub duplicates: u64,
    /// Packets thrown away to shorten the delay (after a burst) or to stay under the ceiling.
    pub dropped: u64,
    /// Interarrival jitter estimate in milliseconds.
    pub jitter_ms: f64,
    /// Current playout delay in milliseconds.
    pub delay_ms: u64,
}

pub struct JitterBuffer {
    frame_ms: u64,
    min_delay_ms: u64,
    max_delay_ms: u64,
    /// Packets by extended sequence number.
    packets: BTreeMap<u64, Vec<u8>>,
    /// Next sequence number to play (extended); `None` until the first packet.
    next: Option<u64>,
    /// When playout of `next` is due.
    next_due_ms: Option<u64>,
    last_seq_ext: Option<u64>,
    transit: Option<f64>,
    stats: JitterStats,
}

/// Extends a 16-bit sequence number to 64 bits near a reference.
fn extend(seq: u16, reference: u64) -> u64 {
    let base = reference & !0xFFFF;
    let candidates = [base.checked_sub(0x10000), Some(base), base.checked_add(0x10000)];
    candidates
        .into_iter()
        .flatten()
        .map(|b| b | seq as u64)
        .min_by_key(|c| c.abs_diff(reference))
        .unwrap_or(seq as u64)
}

impl JitterBuffer {
    /// 20 ms frames; delay between 20 and 200 ms, starting at 40 ms.
    pub fn new() -> Self {
        Self::with_limits(20, 20, 200)
    }

    pub fn with_limits(frame_ms: u64, min_delay_ms: u64, max_delay_ms: u64) -> Self {
        JitterBuffer {
            frame_ms,
            min_delay_ms,
            max_delay_ms,
            packets: BTreeMap::new(),
            next: None,
            next_due_ms: None,
            last_seq_ext: None,
            transit: None,
            stats: JitterStats { delay_ms: (2 * min_delay_ms).min(max_delay_ms), ..Default::default() },
        }
    }

    pub fn stats(&self) -> &JitterStats {
        &self.stats
    }

    /// A packet arrived at `now_ms` with RTP sequence number and timestamp (8 kHz clock).
    pub fn push(&mut self, now_ms: u64, seq: u16, timestamp: u32, payload: Vec<u8>) {
        self.stats.received += 1;
        let ext = match self.last_seq_ext {
            Some(r) => extend(seq, r),
            None => seq as u64 + 0x10000,
        };
        // Interarrival jitter (RFC 3550): transit time differences, smoothed by 1/16.
        let transit = now_ms as f64 - timestamp as f64 / 8.0;
        if let Some(prev) = self.transit {
            let d = (transit - prev).abs();
            if d < 10_000.0 {
                self.stats.jitter_ms += (d - self.stats.jitter_ms) / 16.0;
            }
        }
        self.transit = Some(transit);
        // Newer than anything before it (not a reordered straggler).
        let in_order = self.last_seq_ext.is_none_or(|l| ext > l);
        self.last_seq_ext = Some(self.last_seq_ext.map_or(ext, |l| l.max(ext)));
        if self.next.is_none() {
            self.next = Some(ext);
            self.next_due_ms = Some(now_ms + self.stats.delay_ms);
        }
        if self.next.is_some_and(|n| ext < n) {
            if !in_order || !self.packets.is_empty() {
                self.stats.late += 1;
                return;
            }
            // The newest packet yet, late, with nothing buffered: the sender is slower than our
            // clock (or came back from a stall without a burst). Playout follows it from here,
            // a little later, instead of staying ahead of everything it sends from now on.
            self.next = Some(ext);
            self.next_due_ms = Some(now_ms + self.stats.delay_ms);
        }
        if self.packets.insert(ext, payload).is_some() {
            self.stats.duplicates += 1;
        }
        // Never hold more than the ceiling (a burst after a stall): drop the oldest.
        let cap = (self.max_delay_ms / self.frame_ms + 2) as usize;
        while self.packets.len() > cap {
            self.drop_oldest();
        }
    }

    /// When the next frame is due (the driver's timer).
    pub fn poll_timeout(&self) -> Option<u64> {
        self.next_due_ms
    }

    /// The frame for the slot due at or before `now_ms`, if any is due.
    pub fn pop(&mut self, now_ms: u64) -> Option<Playout> {
        let due = self.next_due_ms?;
        if now_ms < due {
            return None;
        }
        let next = self.next?;
        self.next = Some(next + 1);
        self.next_due_ms = Some(due + self.frame_ms);
        // Adapt the delay: aim for about three times the jitter above one frame.
        let target =
            ((self.stats.jitter_ms * 3.0) as u64 + self.frame_ms).clamp(self.min_delay_ms, self.max_delay_ms);
        self.stats.delay_ms = target;
        let out = match self.packets.remove(&next) {
            Some(p) => {
                self.stats.played += 1;
                Playout::Frame(p)
            }
            None => {
                self.stats.missing += 1;
                Playout::Missing
            }
        };
        // Buffered beyond the target (the sender sped up or a burst arrived): skip ahead one slot.
        let buffered = self.packets.keys().filter(|k| **k > next).count() as u64 * self.frame_ms;
        if buffered > target + 2 * self.frame_ms {
            self.drop_oldest();
        }
        Some(out)
    }

    /// Throws the oldest buffered packet away and plays on from the one after it.
    fn drop_oldest(&mut self) {
        if let Some((first, _)) = self.packets.pop_first() {
            self.next = Some(first + 1);
            self.stats.dropped += 1;
        }
    }
}

impl Default for JitterBuffer {
    fn default() -> Self {
        Self::new()
    }
}

/// Packets in sequence as soon as they arrive, with no playout delay: for a listener that does
/// not play the audio but follows it (speech recognition, recording), where a playout delay is
/// only latency. A missing packet is waited for up to `window_ms` after a later one arrived
/// (reordering), then reported as `Missing`; packets older than that are dropped. A jump of the
/// sequence by more than `MAX_GAP` either way (a new stream) starts over from the new packet.
pub struct Reorder {
    window_ms: u64,
    packets: BTreeMap<u64, Vec<u8>>,
    /// Next sequence number to deliver (extended).
    next: Option<u64>,
    last_seq_ext: Option<u64>,
    /// When the oldest packet waiting behind a gap arrived.
    held_since: Option<u64>,
    pub missing: u64,
    pub late: u64,
}

impl Reorder {
    /// Slots more than this apart are not one stream (more than 5 s of 20 ms packets).
    const MAX_GAP: u64 = 250;

    pub fn new(window_ms: u64) -> Self {
        Reorder {
            window_ms,
            packets: BTreeMap::new(),
            next: None,
            last_seq_ext: None,
            held_since: None,
            missing: 0,
            late: 0,
        }
    }

    pub fn push(&mut self, now_ms: u64, seq: u16, payload: Vec<u8>) {
        let ext = match self.last_seq_ext {
            Some(r) => extend(seq, r),
            None => seq as u64 + 0x10000,
        };
        let next = *self.next.get_or_insert(ext);
        if ext.abs_diff(next) > Self::MAX_GAP {
            // A new stream (or a sender that restarted): follow it.
            self.packets.clear();
            self.next = Some(ext);
            self.last_seq_ext = Some(ext);
            self.held_since = None;
        } else if ext < next {
            self.late += 1;
            return;
        }
        self.last_seq_ext = Some(self.last_seq_ext.map_or(ext, |l| l.max(ext)));
        self.packets.insert(ext, payload);
        if self.next != Some(ext) && self.held_since.is_none() {
            self.held_since = Some(now_ms);
        }
    }

    /// The next slot, if it can be delivered at `now_ms`: its packet, or `Missing` once a later
    /// packet has waited `window_ms` for it.
    pub fn pop(&mut self, now_ms: u64) -> Option<Playout> {
        let next = self.next?;
        if let Some(p) = self.packets.remove(&next) {
            self.next = Some(next + 1);
            if !self.packets.contains_key(&(next + 1)) {
                // Whatever waits now waits behind a new gap, from now.
                self.held_since = (!self.packets.is_empty()).then_some(now_ms);
            }
            return Some(Playout::Frame(p));
        }
        let since = self.held_since?;
        if now_ms < since + self.window_ms {
            return None;
        }
        self.next = Some(next + 1);
        self.missing += 1;
        Some(Playout::Missing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn play_all(jb: &mut JitterBuffer, from: u64, to: u64) -> Vec<Playout> {
        let mut out = Vec::new();
        let mut t = from;
        while t <= to {
            while let Some(p) = jb.pop(t) {
                out.push(p);
            }
            t += 1;
        }
        out
    }

    fn frames(out: &[Playout]) -> Vec<u8> {
        out.iter()
            .map(|p| match p {
                Playout::Frame(f) => f[0],
                Playout::Missing => 0,
            })
            .collect()
    }

    /// Runs the clock 1 ms at a time: packets arrive at their times, frames play when due.
    fn simulate(jb: &mut JitterBuffer, arrivals: &[(u64, u16, u32, u8)], until: u64) -> Vec<Playout> {
        let mut out = Vec::new();
        for t in 0..=until {
            for &(at, seq, ts, v) in arrivals.iter().filter(|a| a.0 == t) {
                jb.push(at, seq, ts, vec![v]);
            }
            while let Some(p) = jb.pop(t) {
                out.push(p);
            }
        }
        out
    }

    #[test]
    fn a_sender_slower_than_our_clock_is_followed_not_dropped() {
        // 21 ms between packets instead of 20: playout runs out of packets every so often;
        // each time it waits for the sender rather than dropping the rest of the stream.
        let mut jb = JitterBuffer::new();
        let arrivals: Vec<_> = (0..500u16).map(|i| (i as u64 * 21, i, i as u32 * 160, 1)).collect();
        let out = simulate(&mut jb, &arrivals, 500 * 21 + 100);
        let played = frames(&out).iter().filter(|f| **f == 1).count();
        assert!(played >= 480, "played {played} of 500: {:?}", jb.stats());
        // And after a stall with no burst (packets simply resume), the stream plays again.
        let mut jb = JitterBuffer::new();
        let mut arrivals: Vec<_> = (0..50u16).map(|i| (i as u64 * 20, i, i as u32 * 160, 1)).collect();
        arrivals.extend((50..100u16).map(|i| (1_500 + (i as u64 - 50) * 20, i, i as u32 * 160, 2)));
        let out = simulate(&mut jb, &arrivals, 3_000);
        let after = frames(&out).iter().filter(|f| **f == 2).count();
        assert!(after >= 45, "played {after} of the 50 after the stall: {:?}", jb.stats());
    }

    #[test]
    fn in_order_stream_plays_out_after_the_delay() {
        let mut jb = JitterBuffer::new();
        let arrivals: Vec<_> =
            (0..10u16).map(|i| (i as u64 * 20, 1000 + i, i as u32 * 160, i as u8 + 1)).collect();
        let out = simulate(&mut jb, &arrivals, 220);
        assert_eq!(frames(&out)[..10], (1..=10).collect::<Vec<u8>>()[..]);
        assert_eq!(jb.stats().played, 10);
    }

    #[test]
    fn reordering_duplicates_loss_and_late_packets() {
        let mut jb = JitterBuffer::new();
        // Arrival order: 0, 2, 1, 1 (duplicate), 4 (3 lost); then 3 arrives far too late.
        jb.push(0, 0, 0, vec![1]);
        jb.push(20, 2, 320, vec![3]);
        jb.push(25, 1, 160, vec![2]);
        jb.push(26, 1, 160, vec![2]);
        jb.push(80, 4, 640, vec![5]);
        let mut out = play_all(&mut jb, 0, 130);
        jb.push(135, 3, 480, vec![4]);
        out.extend(play_all(&mut jb, 131, 200));
        assert_eq!(frames(&out)[..5], [1, 2, 3, 0, 5]);
        let s = jb.stats();
        assert_eq!((s.duplicates, s.late), (1, 1));
        assert!(s.missing >= 1);
    }

    #[test]
    fn late_packets_and_a_burst_ahead_of_time_are_counted() {
        let mut jb = JitterBuffer::new();
        // Ten packets on time; nothing for 300 ms, and what was due then comes late (playout
        // follows the sender from the first of them); then the sender hurries: fifteen packets
        // at once, ahead of their time.
        let mut arrivals: Vec<_> = (0..10u16).map(|i| (i as u64 * 20, i, i as u32 * 160, 1)).collect();
        arrivals.extend((10..25u16).map(|i| (500, i, i as u32 * 160, 2)));
        arrivals.extend((25..40u16).map(|i| (520, i, i as u32 * 160, 3)));
        let out = simulate(&mut jb, &arrivals, 1_500);
        let s = jb.stats().clone();
        assert!(s.missing > 0, "the stall was concealed: {s:?}");
        assert!(s.dropped > 0, "the delay came back down: {s:?}");
        assert_eq!(s.played + s.dropped + s.late, 40, "every packet is played or counted: {s:?}");
        assert_eq!(frames(&out).iter().rev().find(|f| **f != 0), Some(&3));
    }

    fn reorder_all(r: &mut Reorder, now_ms: u64) -> Vec<u8> {
        std::iter::from_fn(|| r.pop(now_ms))
            .map(|p| match p {
                Playout::Frame(f) => f[0],
                Playout::Missing => 0,
            })
            .collect()
    }

    #[test]
    fn reorder_delivers_at_once_and_waits_only_for_a_gap() {
        let mut r = Reorder::new(40);
        // In order: each packet comes out the moment it arrives.
        r.push(0, 10, vec![1]);
        assert_eq!(reorder_all(&mut r, 0), [1]);
        r.push(20, 11, vec![2]);
        assert_eq!(reorder_all(&mut r, 20), [2]);
        // 12 comes after 13: 13 waits for it, then both come out in order.
        r.push(40, 13, vec![4]);
        assert_eq!(reorder_all(&mut r, 40), []);
        r.push(45, 12, vec![3]);
        assert_eq!(reorder_all(&mut r, 45), [3, 4]);
        // 14 is lost: 15 and 16 wait 40 ms from 15's arrival, then 14 counts as missing.
        r.push(80, 15, vec![6]);
        r.push(100, 16, vec![7]);
        assert_eq!(reorder_all(&mut r, 119), []);
        assert_eq!(reorder_all(&mut r, 120), [0, 6, 7]);
        // 14 turns up after all: too late, and counted.
        r.push(125, 14, vec![5]);
        assert_eq!(reorder_all(&mut r, 125), []);
        assert_eq!((r.missing, r.late), (1, 1));
        // A second gap right after the first waits its own window.
        r.push(200, 19, vec![10]);
        assert_eq!(reorder_all(&mut r, 239), []);
        assert_eq!(reorder_all(&mut r, 240), [0, 0, 10]);
    }

    #[test]
    fn reorder_follows_wrapping_and_a_new_stream() {
        let mut r = Reorder::new(40);
        for (i, seq) in [65534u16, 65535, 0, 1].into_iter().enumerate() {
            r.push(i as u64 * 20, seq, vec![i as u8 + 1]);
        }
        assert_eq!(reorder_all(&mut r, 60), [1, 2, 3, 4]);
        // The sender restarts far away in the sequence space: followed, not dropped as late.
        r.push(80, 30_000, vec![9]);
        assert_eq!(reorder_all(&mut r, 80), [9]);
        r.push(100, 30_001, vec![10]);
        assert_eq!(reorder_all(&mut r, 100), [10]);
        assert_eq!((r.missing, r.late), (0, 0));
    }

    #[test]
    fn sequence_numbers_wrap() {
        let mut jb = JitterBuffer::new();
        let arrivals: Vec<_> = [65534u16, 65535, 0, 1]
            .into_iter()
            .enumerate()
            .map(|(i, s)| (i as u64 * 20, s, i as u32 * 160, i as u8 + 1))
            .collect();
        assert_eq!(frames(&simulate(&mut jb, &arrivals, 120))[..4], [1, 2, 3, 4]);
    }

    #[test]
    fn delay_grows_with_jitter_and_stays_within_limits() {
        let mut jb = JitterBuffer::new();
        // Packets every 20 ms of media time but arriving with ±30 ms of jitter.
        let mut x: u32 = 7;
        for i in 0..500u32 {
            x = x.wrapping_mul(1103515245).wrapping_add(12345);
            let wobble = (x >> 16) % 60;
            jb.push(i as u64 * 20 + wobble as u64, i as u16, i * 160, vec![1]);
            while jb.pop(i as u64 * 20).is_some() {}
        }
        let s = jb.stats().clone();
        assert!(s.jitter_ms > 5.0, "{s:?}");
        assert!(s.delay_ms > 40 && s.delay_ms <= 200, "{s:?}");
        // Most frames still play.
        assert!(s.played as f64 > 0.9 * 500.0, "{s:?}");
    }
}
