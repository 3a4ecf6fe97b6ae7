//! Slows down password guessing: after `MAX_FAILURES` wrong passwords for one e-mail within
//! `WINDOW`, logins for that e-mail are refused (429) until the window has passed.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const MAX_FAILURES: u32 = 5;
pub const WINDOW: Duration = Duration::from_secs(15 * 60);

#[derive(Default)]
pub struct LoginThrottle {
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl LoginThrottle {
    /// Seconds to wait before trying again, if this e-mail is locked out at `now`.
    pub fn retry_after(&self, email: &str, now: Instant) -> Option<u64> {
        let map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let (count, since) = map.get(&email.to_lowercase())?;
        let elapsed = now.saturating_duration_since(*since);
        (*count >= MAX_FAILURES && elapsed < WINDOW).then(|| (WINDOW - elapsed).as_secs().max(1))
    }

    pub fn failed(&self, email: &str, now: Instant) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > 100_000 {
            // Bounded memory under a spray of made-up e-mails: forget expired entries.
            map.retain(|_, (_, since)| now.saturating_duration_since(*since) < WINDOW);
        }
        let entry = map.entry(email.to_lowercase()).or_insert((0, now));
        if now.saturating_duration_since(entry.1) >= WINDOW {
            *entry = (0, now);
        }
        entry.0 += 1;
    }

    pub fn succeeded(&self, email: &str) {
        self.failures.lock().unwrap_or_else(|e| e.into_inner()).remove(&email.to_lowercase());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_after_repeated_failures_and_expires() {
        let t = LoginThrottle::default();
        let start = Instant::now();
        for _ in 0..MAX_FAILURES - 1 {
            t.failed("a@b.example", start);
        }
        assert_eq!(t.retry_after("a@b.example", start), None);
        t.failed("A@b.example", start);
        assert!(t.retry_after("a@b.example", start + Duration::from_secs(60)).is_some());
        assert_eq!(t.retry_after("other@b.example", start), None);
        assert_eq!(t.retry_after("a@b.example", start + WINDOW), None);
        t.succeeded("a@b.example");
        assert_eq!(t.retry_after("a@b.example", start), None);
    }
}
