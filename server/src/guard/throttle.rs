//! Slowing down guessing: once an address has failed many signature checks, its further
//! failures are delayed and answered `503 SlowDown` — but a request that carries a valid
//! signature is always served, so a test suite checking bad credentials, or one
//! misconfigured tablet behind a clinic's NAT, never locks out the good clients at the same
//! address.
//!
//! # Design
//! A leaky bucket per client address: each signature failure adds one, and the level drains
//! at a fixed rate. At [`THROTTLE_BURST`] the address counts as throttled until it has
//! drained below. The map is bounded ([`THROTTLE_MAX_TRACKED`] addresses): drained entries
//! go first, then the least suspicious, so a flood of addresses costs memory only up to the
//! cap. Addresses are grouped as `per_address::client_key` says.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use crate::limits::{THROTTLE_BURST, THROTTLE_LEAK_PER_SEC, THROTTLE_MAX_TRACKED};
use crate::per_address::client_key as key;

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
        AuthThrottle::with_limits(THROTTLE_BURST, THROTTLE_LEAK_PER_SEC, THROTTLE_MAX_TRACKED)
    }

    fn with_limits(burst: f64, leak_per_sec: f64, max_tracked: usize) -> AuthThrottle {
        AuthThrottle {
            burst,
            leak_per_sec,
            max_tracked,
            levels: Mutex::new(HashMap::new()),
        }
    }

    /// Whether failures from `addr` are being slowed down now.
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
