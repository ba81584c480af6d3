//! Slowing down guessing: an address whose requests keep failing signature checks gets
//! `503 SlowDown` for a while, before any signature is computed, while every other address
//! is served as usual.
//!
//! # Design
//! A leaky bucket per client address: each signature failure adds one, and the level drains
//! at a fixed rate. At [`BURST`] the address is refused until it has drained below. The map
//! is bounded ([`MAX_TRACKED`] addresses): drained entries go first, then the least
//! suspicious, so a flood of addresses costs memory only up to the cap. IPv6 clients are
//! grouped by /64, since one host usually holds a whole /64.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

/// Signature failures an address may accumulate before it is slowed down.
const BURST: f64 = 20.0;
/// Failures forgiven per second.
const LEAK_PER_SEC: f64 = 0.5;
/// Most addresses tracked at once.
const MAX_TRACKED: usize = 4096;

/// Failure levels per address.
pub(crate) struct AuthThrottle {
    burst: f64,
    leak_per_sec: f64,
    max_tracked: usize,
    levels: Mutex<HashMap<IpAddr, Level>>,
}

#[derive(Clone, Copy)]
struct Level {
    value: f64,
    at: Instant,
}

impl Level {
    fn at(self, now: Instant, leak_per_sec: f64) -> f64 {
        let drained = now.saturating_duration_since(self.at).as_secs_f64() * leak_per_sec;
        (self.value - drained).max(0.0)
    }
}

impl AuthThrottle {
    /// The production limits.
    pub(crate) fn new() -> AuthThrottle {
        AuthThrottle::with_limits(BURST, LEAK_PER_SEC, MAX_TRACKED)
    }

    fn with_limits(burst: f64, leak_per_sec: f64, max_tracked: usize) -> AuthThrottle {
        AuthThrottle {
            burst,
            leak_per_sec,
            max_tracked,
            levels: Mutex::new(HashMap::new()),
        }
    }

    /// Whether requests from `addr` should be refused now.
    pub(crate) fn is_throttled(&self, addr: IpAddr, now: Instant) -> bool {
        let levels = self.levels.lock().unwrap_or_else(PoisonError::into_inner);
        levels
            .get(&key(addr))
            .is_some_and(|l| l.at(now, self.leak_per_sec) >= self.burst)
    }

    /// Counts one signature failure from `addr`.
    pub(crate) fn record_failure(&self, addr: IpAddr, now: Instant) {
        let key = key(addr);
        let leak = self.leak_per_sec;
        let mut levels = self.levels.lock().unwrap_or_else(PoisonError::into_inner);
        if !levels.contains_key(&key) && levels.len() >= self.max_tracked {
            levels.retain(|_, l| l.at(now, leak) > 0.0);
            if levels.len() >= self.max_tracked {
                let calmest = levels
                    .iter()
                    .min_by(|a, b| a.1.at(now, leak).total_cmp(&b.1.at(now, leak)))
                    .map(|(k, _)| *k);
                if let Some(calmest) = calmest {
                    levels.remove(&calmest);
                }
            }
        }
        let level = levels.entry(key).or_insert(Level {
            value: 0.0,
            at: now,
        });
        // Cap the level so a long attack does not lock the address out for hours.
        level.value = (level.at(now, leak) + 1.0).min(self.burst * 2.0);
        level.at = now;
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.levels
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

/// The address as tracked: IPv4 (also when mapped into IPv6) as is, IPv6 by /64.
fn key(addr: IpAddr) -> IpAddr {
    match addr.to_canonical() {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => {
            let prefix = v6.to_bits() & !u128::from(u64::MAX);
            IpAddr::V6(Ipv6Addr::from_bits(prefix))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn failures_from_one_address_slow_only_that_address() {
        let t = AuthThrottle::with_limits(5.0, 1.0, 100);
        let now = Instant::now();
        for _ in 0..4 {
            t.record_failure(ip("10.0.0.1"), now);
        }
        assert!(!t.is_throttled(ip("10.0.0.1"), now));
        t.record_failure(ip("10.0.0.1"), now);
        assert!(t.is_throttled(ip("10.0.0.1"), now));
        assert!(!t.is_throttled(ip("10.0.0.2"), now));
        // It drains: one second later the level is below the burst again.
        assert!(!t.is_throttled(ip("10.0.0.1"), now + Duration::from_secs(1)));
    }

    #[test]
    fn ipv6_is_grouped_by_64_and_mapped_v4_is_v4() {
        let t = AuthThrottle::with_limits(2.0, 0.0, 100);
        let now = Instant::now();
        t.record_failure(ip("2001:db8::1"), now);
        t.record_failure(ip("2001:db8::2"), now);
        assert!(t.is_throttled(ip("2001:db8::ffff"), now));
        assert!(!t.is_throttled(ip("2001:db8:0:1::1"), now));
        t.record_failure(ip("::ffff:10.1.1.1"), now);
        t.record_failure(ip("10.1.1.1"), now);
        assert!(t.is_throttled(ip("10.1.1.1"), now));
    }

    #[test]
    fn memory_is_bounded_and_heavy_hitters_are_kept() {
        let t = AuthThrottle::with_limits(3.0, 0.0, 10);
        let now = Instant::now();
        for _ in 0..3 {
            t.record_failure(ip("192.0.2.1"), now);
        }
        for i in 0..1000u32 {
            t.record_failure(IpAddr::V4((0x0a00_0000 + i).into()), now);
            assert!(t.tracked() <= 10);
        }
        assert!(t.is_throttled(ip("192.0.2.1"), now));
    }

    #[test]
    fn the_level_is_capped() {
        let t = AuthThrottle::with_limits(2.0, 1.0, 10);
        let now = Instant::now();
        for _ in 0..1000 {
            t.record_failure(ip("10.0.0.1"), now);
        }
        assert!(!t.is_throttled(ip("10.0.0.1"), now + Duration::from_secs(3)));
    }
}
