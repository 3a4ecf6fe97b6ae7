//! What a call leaves behind outside its timeline: the log line when it ends (at most one a
//! second under load) and the media figures its record keeps.

use super::*;

/// A call's disposition as the log shows it.
pub(super) fn ending_text(e: &Ending) -> String {
    match e.hung_up_by {
        Some(h) => format!("{} ({} hung up)", e.disposition.as_str(), h.as_str()),
        None => e.disposition.as_str().to_string(),
    }
}

/// One `info` line per ended call while calls are few; under load, the rest of a minute's
/// calls are logged at `debug` and counted in one summary line.
pub(super) struct CallLog {
    pub(super) window_start: Option<std::time::Instant>,
    pub(super) logged: u64,
    pub(super) quiet: u64,
}

impl CallLog {
    const LINES_PER_MINUTE: u64 = 60;

    pub(super) fn allow(&mut self, now: std::time::Instant) -> bool {
        let start = *self.window_start.get_or_insert(now);
        if now.duration_since(start) >= Duration::from_secs(60) {
            if self.quiet > 0 {
                tracing::info!(
                    calls_ended = self.logged + self.quiet,
                    logged_one_by_one = self.logged,
                    "calls in the last minute"
                );
            }
            *self = CallLog { window_start: Some(now), logged: 0, quiet: 0 };
        }
        if self.logged < Self::LINES_PER_MINUTE {
            self.logged += 1;
            true
        } else {
            self.quiet += 1;
            false
        }
    }
}

/// Each side's media quality as the call record keeps it (as of the relay's last update, at
/// most a second old): what we received, and what the phone reported about what it received.
pub(super) fn media_quality(relay: &Relay) -> serde_json::Value {
    use switchboard_telephony::media::relay::MediaSide;
    let side = |s| {
        let q = relay.quality(s);
        serde_json::json!({
            "packets_received": q.packets_received,
            "packets_lost": q.packets_lost,
            "jitter_ms": (q.jitter_ms * 10.0).round() / 10.0,
            "frames_concealed": q.frames_concealed,
            "frames_dropped": q.frames_dropped,
            "heard_concealed": q.heard_concealed,
            "heard_late": q.heard_late,
            "packets_sent": q.packets_sent,
            "remote_fraction_lost": q.remote_fraction_lost,
            "remote_jitter_ms": q.remote_jitter_ms,
            "rtt_ms": q.rtt_ms,
        })
    };
    serde_json::json!({ "caller": side(MediaSide::A), "callee": side(MediaSide::B) })
}
