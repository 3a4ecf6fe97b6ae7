//! Flood protection, sans-IO, in the spirit of Kamailio's `pike` module: each source address
//! may send so many SIP requests per sampling window; one that sends more is blocked for a
//! cool-down (its requests are dropped, the first of each window answered 503), so that a
//! flood from one address cannot starve real callers. Carrier trunks and registered phones
//! have their own, higher limits. Memory is bounded: at most `max_sources` addresses are
//! tracked, idle ones are forgotten first.

use std::collections::HashMap;
use std::net::IpAddr;

/// Who a source address is, for its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceClass {
    /// Anyone else: phones before they register, scanners, attackers.
    Unknown,
    /// A phone registered from this address.
    Phone,
    /// A carrier trunk's address (`inbound_ips`).
    Trunk,
}

/// Limits: requests per `window_ms` by class, and how long an address stays blocked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FloodConfig {
    pub window_ms: u64,
    pub unknown: u32,
    pub phone: u32,
    pub trunk: u32,
    pub block_ms: u64,
    pub max_sources: usize,
}

impl Default for FloodConfig {
    /// pike's defaults are 30 requests per 2 s and a 120 s latency. A phone that registers,
    /// subscribes and calls stays well under 60 requests per 2 s; a carrier's trunk may bring
    /// thousands of calls a second (three requests each).
    fn default() -> Self {
        FloodConfig {
            window_ms: 2_000,
            unknown: 60,
            phone: 400,
            trunk: 20_000,
            block_ms: 60_000,
            max_sources: 65_536,
        }
    }
}

impl FloodConfig {
    fn limit(&self, class: SourceClass) -> u32 {
        match class {
            SourceClass::Unknown => self.unknown,
            SourceClass::Phone => self.phone,
            SourceClass::Trunk => self.trunk,
        }
    }
}

/// What to do with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    /// Dropped. `report` is set for the first drop of the address in a window: answer it (503)
    /// and log it; the rest of the window's requests are dropped silently.
    Drop {
        report: bool,
        dropped_before: u64,
    },
}

#[derive(Debug, Clone)]
struct Source {
    window_start_ms: u64,
    count: u32,
    /// The class, once the address went over the lowest limit in this window.
    class: Option<SourceClass>,
    blocked_until_ms: u64,
    /// The window in which a drop was last reported, and drops since.
    reported_window_ms: Option<u64>,
    unreported: u64,
}

/// Totals for monitoring.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FloodStats {
    pub dropped: u64,
    pub blocks: u64,
    pub blocked_now: usize,
    pub tracked: usize,
}

#[derive(Debug, Default)]
pub struct FloodGuard {
    config: FloodConfig,
    sources: HashMap<IpAddr, Source>,
    dropped: u64,
    blocks: u64,
}

impl FloodGuard {
    pub fn new(config: FloodConfig) -> Self {
        FloodGuard { config, sources: HashMap::new(), dropped: 0, blocks: 0 }
    }

    pub fn config(&self) -> &FloodConfig {
        &self.config
    }

    /// Counts one request from `ip` at `now_ms`. `class` is asked only when the address goes
    /// over the lowest limit (the common path does no lookups).
    pub fn check(&mut self, now_ms: u64, ip: IpAddr, class: impl FnOnce() -> SourceClass) -> Verdict {
        let window = self.config.window_ms.max(1);
        let window_start = now_ms - now_ms % window;
        if !self.sources.contains_key(&ip) && self.sources.len() >= self.config.max_sources {
            self.forget_idle(now_ms);
            if self.sources.len() >= self.config.max_sources {
                // A flood from more addresses than we track: let them through rather than grow.
                return Verdict::Allow;
            }
        }
        let s = self.sources.entry(ip).or_insert(Source {
            window_start_ms: window_start,
            count: 0,
            class: None,
            blocked_until_ms: 0,
            reported_window_ms: None,
            unreported: 0,
        });
        if s.window_start_ms != window_start {
            s.window_start_ms = window_start;
            s.count = 0;
            s.class = None;
        }
        s.count = s.count.saturating_add(1);
        if s.blocked_until_ms <= now_ms && s.count > self.config.unknown {
            let class = *s.class.get_or_insert_with(class);
            if s.count > self.config.limit(class) {
                s.blocked_until_ms = now_ms.saturating_add(self.config.block_ms);
                self.blocks += 1;
            }
        }
        if s.blocked_until_ms <= now_ms {
            return Verdict::Allow;
        }
        self.dropped += 1;
        if s.reported_window_ms == Some(window_start) {
            s.unreported += 1;
            return Verdict::Drop { report: false, dropped_before: s.unreported };
        }
        s.reported_window_ms = Some(window_start);
        let dropped_before = std::mem::take(&mut s.unreported);
        Verdict::Drop { report: true, dropped_before }
    }

    /// Whether `ip` is blocked right now.
    pub fn is_blocked(&self, now_ms: u64, ip: IpAddr) -> bool {
        self.sources.get(&ip).is_some_and(|s| s.blocked_until_ms > now_ms)
    }

    pub fn stats(&self, now_ms: u64) -> FloodStats {
        FloodStats {
            dropped: self.dropped,
            blocks: self.blocks,
            blocked_now: self.sources.values().filter(|s| s.blocked_until_ms > now_ms).count(),
            tracked: self.sources.len(),
        }
    }

    /// Forgets addresses that are neither blocked nor seen in the current window.
    pub fn forget_idle(&mut self, now_ms: u64) {
        let window = self.config.window_ms.max(1);
        let current = now_ms - now_ms % window;
        self.sources.retain(|_, s| s.blocked_until_ms > now_ms || s.window_start_ms >= current);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([192, 0, 2, last])
    }

    fn config() -> FloodConfig {
        FloodConfig { window_ms: 1_000, unknown: 5, phone: 10, trunk: 20, block_ms: 10_000, max_sources: 4 }
    }

    fn count(guard: &mut FloodGuard, now: u64, from: u8, n: usize, class: SourceClass) -> (usize, usize) {
        let (mut allowed, mut reported) = (0, 0);
        for _ in 0..n {
            match guard.check(now, ip(from), || class) {
                Verdict::Allow => allowed += 1,
                Verdict::Drop { report, .. } => reported += report as usize,
            }
        }
        (allowed, reported)
    }

    #[test]
    fn a_source_over_its_limit_is_blocked_for_the_cool_down_and_reported_once_a_window() {
        let mut g = FloodGuard::new(config());
        assert_eq!(count(&mut g, 0, 1, 100, SourceClass::Unknown), (5, 1));
        // Another address is not affected.
        assert_eq!(count(&mut g, 10, 2, 5, SourceClass::Unknown), (5, 0));
        // Still blocked in the next windows, one report per window with the drops before it.
        assert_eq!(
            g.check(1_500, ip(1), || SourceClass::Unknown),
            Verdict::Drop { report: true, dropped_before: 94 }
        );
        assert_eq!(count(&mut g, 1_600, 1, 3, SourceClass::Unknown), (0, 0));
        assert!(g.is_blocked(9_999, ip(1)));
        // After the cool-down it may send again.
        assert_eq!(count(&mut g, 10_000, 1, 5, SourceClass::Unknown), (5, 0));
        let s = g.stats(10_000);
        assert_eq!((s.blocks, s.dropped, s.blocked_now), (1, 95 + 3 + 1, 0));
    }

    #[test]
    fn phones_and_trunks_have_higher_limits_and_are_looked_up_only_over_the_lowest() {
        let mut g = FloodGuard::new(config());
        let mut lookups = 0;
        for _ in 0..30 {
            g.check(0, ip(3), || {
                lookups += 1;
                SourceClass::Trunk
            });
        }
        assert_eq!(lookups, 1, "the class is looked up once per window, past the lowest limit");
        assert!(g.is_blocked(0, ip(3)), "30 > the trunk's 20");
        assert_eq!(count(&mut g, 0, 4, 10, SourceClass::Phone), (10, 0));
        assert_eq!(count(&mut g, 0, 4, 1, SourceClass::Phone), (0, 1));
        // A new window starts the count again.
        assert_eq!(count(&mut g, 20_000, 4, 10, SourceClass::Phone), (10, 0));
    }

    #[test]
    fn memory_is_bounded_by_max_sources() {
        let mut g = FloodGuard::new(config());
        for last in 0..=255u8 {
            g.check(0, ip(last), || SourceClass::Unknown);
        }
        assert_eq!(g.stats(0).tracked, 4);
        // Idle ones are forgotten to make room in a later window.
        g.check(5_000, ip(200), || SourceClass::Unknown);
        assert_eq!(g.stats(5_000).tracked, 1);
        // Time going backwards or wrapping windows does not panic.
        assert_eq!(g.check(0, ip(200), || SourceClass::Unknown), Verdict::Allow);
        let mut zero = FloodGuard::new(FloodConfig { window_ms: 0, ..config() });
        assert_eq!(zero.check(u64::MAX, ip(1), || SourceClass::Unknown), Verdict::Allow);
    }
}
