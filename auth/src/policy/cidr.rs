//! IP ranges for `IpAddress` / `NotIpAddress`: `203.0.113.0/24`, `2001:db8::/32`, or a bare
//! address (a range of one).

use std::net::IpAddr;

/// An address range. Host bits in the written address are ignored, as AWS ignores them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Cidr {
    network: IpAddr,
    prefix: u32,
}

impl Cidr {
    /// Parses `address[/prefix]`; `None` if it is not one.
    pub(super) fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let network: IpAddr = address.parse().ok()?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            // `u32::from_str` would accept "+24"; a prefix is digits only.
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => p.parse().ok()?,
            Some(_) => return None,
            None => max,
        };
        if prefix > max {
            return None;
        }
        Some(Self { network, prefix })
    }

    /// Whether `address` is in the range. An IPv4 address written as IPv4-mapped IPv6
    /// (`::ffff:192.0.2.1`, as dual-stack sockets report it) counts as the IPv4 address.
    pub(super) fn contains(&self, address: IpAddr) -> bool {
        match (self.network, address.to_canonical()) {
            (IpAddr::V4(network), IpAddr::V4(address)) => {
                let mask = u32::MAX.checked_shl(32 - self.prefix).unwrap_or(0);
                u32::from(network) & mask == u32::from(address) & mask
            }
            (IpAddr::V6(network), IpAddr::V6(address)) => {
                let mask = u128::MAX.checked_shl(128 - self.prefix).unwrap_or(0);
                u128::from(network) & mask == u128::from(address) & mask
            }
            _ => false,
        }
    }
}
