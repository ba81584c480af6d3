//! Per-client-address counting: how many of something (connections, browser forms) one
//! client holds, so that one address cannot take every slot.
//!
//! Addresses are grouped as [`client_key`] says (IPv6 by /64, since one host usually holds a
//! whole /64). A slot is given back when its [`AddressSlot`] drops.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex, PoisonError};

use crate::limits::MAX_TRACKED_ADDRESSES;

/// The address as counted: IPv4 (also when mapped into IPv6) as is, IPv6 by /64.
pub(crate) fn client_key(addr: IpAddr) -> IpAddr {
    match addr.to_canonical() {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => {
            let prefix = v6.to_bits() & !u128::from(u64::MAX);
            IpAddr::V6(Ipv6Addr::from_bits(prefix))
        }
    }
}

/// Slots per client address, at most `per_address` each.
#[derive(Clone)]
pub(crate) struct AddressSlots {
    per_address: usize,
    held: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl AddressSlots {
    /// Up to `per_address` slots for each client address.
    pub(crate) fn new(per_address: usize) -> AddressSlots {
        AddressSlots {
            per_address,
            held: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// A slot for `addr`, or `None` if that address already holds its share (or too many
    /// addresses are tracked at once).
    pub(crate) fn try_acquire(&self, addr: IpAddr) -> Option<AddressSlot> {
        let key = client_key(addr);
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        if !held.contains_key(&key) && held.len() >= MAX_TRACKED_ADDRESSES {
            return None;
        }
        let count = held.entry(key).or_insert(0);
        if *count >= self.per_address {
            return None;
        }
        *count += 1;
        Some(AddressSlot {
            key,
            held: Arc::clone(&self.held),
        })
    }

    /// Slots `addr` holds now.
    #[cfg(test)]
    pub(crate) fn held_by(&self, addr: IpAddr) -> usize {
        let held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        held.get(&client_key(addr)).copied().unwrap_or(0)
    }
}

/// One slot of one address; given back on drop.
pub(crate) struct AddressSlot {
    key: IpAddr,
    held: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = held.get_mut(&self.key) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                held.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn one_address_cannot_take_more_than_its_share() {
        let slots = AddressSlots::new(2);
        let a = slots.try_acquire(ip("10.0.0.1")).unwrap();
        let _b = slots.try_acquire(ip("10.0.0.1")).unwrap();
        assert!(slots.try_acquire(ip("10.0.0.1")).is_none());
        // Another address is unaffected.
        assert!(slots.try_acquire(ip("10.0.0.2")).is_some());
        drop(a);
        assert_eq!(slots.held_by(ip("10.0.0.1")), 1);
        assert!(slots.try_acquire(ip("10.0.0.1")).is_some());
    }

    #[test]
    fn ipv6_is_grouped_by_64_and_mapped_v4_is_v4() {
        assert_eq!(
            client_key(ip("2001:db8::1")),
            client_key(ip("2001:db8::ffff"))
        );
        assert_ne!(
            client_key(ip("2001:db8::1")),
            client_key(ip("2001:db8:0:1::1"))
        );
        assert_eq!(client_key(ip("::ffff:10.1.1.1")), ip("10.1.1.1"));
        let slots = AddressSlots::new(1);
        let _a = slots.try_acquire(ip("2001:db8::1")).unwrap();
        assert!(slots.try_acquire(ip("2001:db8::2")).is_none());
    }

    #[test]
    fn released_addresses_are_forgotten() {
        let slots = AddressSlots::new(1);
        for i in 0..10_000u32 {
            let slot = slots.try_acquire(IpAddr::V4((0x0a00_0000 + i).into()));
            assert!(slot.is_some());
        }
        assert!(slots.held.lock().unwrap().is_empty());
    }
}
