//! A call's recording as the relay feeds it: one stereo frame per 20 ms of wall-clock time (see
//! `Relay::record`), so that a second of the file is a second of the call and times read off
//! it (pauses, transcript lines) stay true.

use std::collections::VecDeque;
use tokio::sync::mpsc;

/// A recording the relay feeds (see `Relay::record`).
pub(super) struct Recording {
    pub(super) customer: usize,
    pub(super) frames: mpsc::UnboundedSender<Vec<i16>>,
    pub(super) started_ms: u64,
    /// 20 ms frames handed over so far.
    pub(super) written: u64,
    /// Audio that came faster than the clock (a jitter buffer catching up after a burst), per
    /// side, waiting for its 20 ms.
    waiting: [VecDeque<Vec<i16>>; 2],
}

/// The most silence one tick pads a recording with when the relay fell behind (a minute).
const RECORDING_CATCH_UP: u64 = 3000;
/// The most audio a side may be ahead of the clock (half a second); older frames are dropped.
const AHEAD: usize = 25;

impl Recording {
    pub(super) fn new(
        customer: usize,
        frames: mpsc::UnboundedSender<Vec<i16>>,
        started_ms: u64,
    ) -> Recording {
        Recording { customer, frames, started_ms, written: 0, waiting: Default::default() }
    }

    /// Hands over this tick's audio: what the customer said and what they were sent, paired
    /// frame by frame, exactly as many frames as the time elapsed since the recording began
    /// calls for (silence where a side had nothing; frames that came early wait for their
    /// turn). Returns false once the receiver has gone.
    pub(super) fn feed(&mut self, now_ms: u64, said: &[Vec<i16>], heard: &[Vec<i16>]) -> bool {
        for (side, frames) in [said, heard].into_iter().enumerate() {
            let waiting = &mut self.waiting[side];
            waiting.extend(frames.iter().cloned());
            while waiting.len() > AHEAD {
                waiting.pop_front();
            }
        }
        let due = now_ms.saturating_sub(self.started_ms) / 20 + 1;
        let n = due.saturating_sub(self.written).min(RECORDING_CATCH_UP) as usize;
        if n == 0 {
            return true;
        }
        let mut out = vec![0i16; n * 320];
        for pair in out.chunks_exact_mut(320) {
            for side in 0..2 {
                let Some(frame) = self.waiting[side].pop_front() else { continue };
                for (k, s) in frame.iter().take(160).enumerate() {
                    pair[2 * k + side] = *s;
                }
            }
        }
        self.written += n as u64;
        self.frames.send(out).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(v: i16) -> Vec<i16> {
        vec![v; 160]
    }

    #[test]
    fn a_recording_keeps_to_the_clock_through_bursts_and_gaps() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut r = Recording::new(0, tx, 1_000);
        // A second of ticks where the customer's side comes in bursts of three frames every
        // third tick, and the other side steadily.
        for tick in 0..50u64 {
            let said: Vec<Vec<i16>> =
                if tick % 3 == 0 { (0..3).map(|i| frame((tick + i) as i16)).collect() } else { vec![] };
            assert!(r.feed(1_000 + tick * 20, &said, &[frame(-1)]));
        }
        assert_eq!(r.written, 50, "a frame per 20 ms, not per frame received");
        let mut stereo = Vec::new();
        while let Ok(f) = rx.try_recv() {
            stereo.extend(f);
        }
        assert_eq!(stereo.len(), 50 * 320);
        // The customer's frames come out in order, one per 20 ms, none lost.
        let left: Vec<i16> = stereo.chunks_exact(320).map(|p| p[0]).collect();
        assert_eq!(left[..6], [0, 1, 2, 3, 4, 5]);
        assert!(stereo.chunks_exact(2).all(|p| p[1] == -1), "the other side, every frame");
        // The relay fell behind by 200 ms: silence fills the time.
        assert!(r.feed(1_000 + 49 * 20 + 220, &[], &[]));
        assert_eq!(r.written, 61);
        // Far more than half a second ahead: the oldest is dropped rather than time drifting.
        let flood: Vec<Vec<i16>> = (0..100).map(|_| frame(7)).collect();
        assert!(r.feed(1_000 + 49 * 20 + 240, &flood, &[]));
        assert_eq!((r.written, r.waiting[0].len()), (62, AHEAD - 1));
    }
}
