//! What a call used of cloud speech services (`serve --stt-url/--tts-url`), for its cost:
//! seconds of audio sent for recognition and characters sent for synthesis, priced at the
//! configured rates and written to the record as a `speech_usage` event when the call ends.
//! Local engines cost nothing and are not counted.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// A call's cloud speech, counted as it is used (shared by the call's tasks).
#[derive(Debug, Default)]
pub struct SpeechMeter {
    /// Micro-dollars per minute of recognised audio; None when recognition is local.
    stt_price: Option<i64>,
    /// Micro-dollars per million synthesised characters; None when the voice is local.
    tts_price: Option<i64>,
    stt_ms: AtomicU64,
    tts_chars: AtomicU64,
    tts_ms: AtomicU64,
    /// What has been written to the record already (a call may end its session twice).
    billed: Mutex<SpeechUsage>,
}

/// The usage and its cost, as the record keeps it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpeechUsage {
    pub stt_ms: u64,
    pub tts_chars: u64,
    pub tts_ms: u64,
    pub cost_micros: i64,
}

impl SpeechUsage {
    /// The `speech_usage` event's data; `what` used it (the AI agent, coaching, a recording's
    /// or a voicemail's transcription).
    pub fn data(&self, what: &str) -> serde_json::Value {
        serde_json::json!({
            "for": what,
            "stt_seconds": self.stt_ms as f64 / 1000.0,
            "tts_characters": self.tts_chars,
            "tts_seconds": self.tts_ms as f64 / 1000.0,
            "cost_micros": self.cost_micros,
        })
    }

    /// Writes the usage into a live call's record: the event, and its cost added to the call's.
    pub fn bill(
        &self,
        records: &crate::store::calls::RecordWriter,
        key: crate::store::calls::RecordKey,
        what: &str,
    ) {
        records.event(key, "speech_usage", self.data(what));
        let details = crate::store::calls::Details { cost_micros: self.cost_micros, ..Default::default() };
        records.details(key, details);
    }
}

impl SpeechMeter {
    pub fn priced(stt_price: Option<i64>, tts_price: Option<i64>) -> SpeechMeter {
        SpeechMeter { stt_price, tts_price, ..Default::default() }
    }

    /// Whether recognition goes to a paid service (partial transcripts are then skipped).
    pub fn stt_is_cloud(&self) -> bool {
        self.stt_price.is_some()
    }

    /// Audio of `ms` sent to the recogniser.
    pub fn recognised(&self, ms: u64) {
        if self.stt_price.is_some() {
            self.stt_ms.fetch_add(ms, Ordering::Relaxed);
        }
    }

    /// `text` synthesised by the cloud voice into `ms` of audio.
    pub fn synthesised(&self, text: &str, ms: u64) {
        if self.tts_price.is_some() {
            self.tts_chars.fetch_add(text.chars().count() as u64, Ordering::Relaxed);
            self.tts_ms.fetch_add(ms, Ordering::Relaxed);
        }
    }

    pub fn usage(&self) -> SpeechUsage {
        let (stt_ms, tts_chars, tts_ms) = (
            self.stt_ms.load(Ordering::Relaxed),
            self.tts_chars.load(Ordering::Relaxed),
            self.tts_ms.load(Ordering::Relaxed),
        );
        // Per minute and per million characters, rounded to the micro-dollar.
        let stt = self.stt_price.map_or(0, |p| (stt_ms as i128 * p as i128 / 60_000) as i64);
        let tts = self.tts_price.map_or(0, |p| (tts_chars as i128 * p as i128 / 1_000_000) as i64);
        SpeechUsage { stt_ms, tts_chars, tts_ms, cost_micros: stt + tts }
    }

    /// The usage not yet written to the record (None when there is nothing new): what the
    /// record gets now.
    pub fn unbilled(&self) -> Option<SpeechUsage> {
        let now = self.usage();
        let mut billed = self.billed.lock().unwrap_or_else(|e| e.into_inner());
        if (now.stt_ms, now.tts_chars) == (billed.stt_ms, billed.tts_chars) {
            return None;
        }
        let new = SpeechUsage {
            stt_ms: now.stt_ms - billed.stt_ms,
            tts_chars: now.tts_chars - billed.tts_chars,
            tts_ms: now.tts_ms - billed.tts_ms,
            cost_micros: now.cost_micros - billed.cost_micros,
        };
        *billed = now;
        Some(new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cloud_speech_is_priced_by_the_minute_and_by_the_character_and_local_speech_is_free() {
        let m = SpeechMeter::priced(Some(6_000), Some(15_000_000));
        m.recognised(90_000);
        m.synthesised("Your order shipped.", 1_500);
        let u = m.usage();
        assert_eq!((u.stt_ms, u.tts_chars, u.tts_ms), (90_000, 19, 1_500));
        // 1.5 min × $0.006 = 9,000 µ$; 19 chars × $15/M = 285 µ$.
        assert_eq!(u.cost_micros, 9_285);
        assert_eq!(m.unbilled().map(|u| u.cost_micros), Some(9_285));
        assert_eq!(m.unbilled(), None, "billed once");
        m.recognised(60_000);
        assert_eq!(m.unbilled().map(|u| u.cost_micros), Some(6_000), "only what is new");

        let local = SpeechMeter::default();
        local.recognised(60_000);
        local.synthesised("hello", 500);
        assert_eq!(local.usage(), SpeechUsage { stt_ms: 0, tts_chars: 0, tts_ms: 0, cost_micros: 0 });
        assert_eq!(local.unbilled(), None);
    }
}
