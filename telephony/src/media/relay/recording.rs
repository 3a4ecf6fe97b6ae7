//! A call's recording as the relay feeds it: one stereo frame per 20 ms tick (see
//! `Relay::record`).

use tokio::sync::mpsc;

/// A recording the relay feeds (see `Relay::record`).
pub(super) struct Recording {
    pub(super) customer: usize,
    pub(super) frames: mpsc::UnboundedSender<Vec<i16>>,
    pub(super) started_ms: u64,
    /// 20 ms frames handed over so far.
    pub(super) written: u64,
}

/// The most silence one tick pads a recording with when the relay fell behind (a minute).
const RECORDING_CATCH_UP: u64 = 3000;

impl Recording {
    /// Hands over this tick's audio: what the customer said and what they were sent, paired
    /// frame by frame, padded with silence up to the time elapsed since the recording began.
    /// Returns false once the receiver has gone.
    pub(super) fn feed(&mut self, now_ms: u64, said: &[Vec<i16>], heard: &[Vec<i16>]) -> bool {
        let due = now_ms.saturating_sub(self.started_ms) / 20 + 1;
        let behind = due.saturating_sub(self.written).min(RECORDING_CATCH_UP) as usize;
        let n = said.len().max(heard.len()).max(behind);
        if n == 0 {
            return true;
        }
        let mut out = vec![0i16; n * 320];
        for (i, pair) in out.chunks_exact_mut(320).enumerate() {
            for (k, s) in said.get(i).map(Vec::as_slice).unwrap_or_default().iter().take(160).enumerate() {
                pair[2 * k] = *s;
            }
            for (k, s) in heard.get(i).map(Vec::as_slice).unwrap_or_default().iter().take(160).enumerate() {
                pair[2 * k + 1] = *s;
            }
        }
        self.written += n as u64;
        self.frames.send(out).is_ok()
    }
}
