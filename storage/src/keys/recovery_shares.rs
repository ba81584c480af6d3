//! Recovery shares: a 32-byte secret split k-of-n with Shamir's scheme over GF(256), and
//! the text form staff write down.
//!
//! # Design
//!
//! Each byte of the secret is the constant term of its own random polynomial of degree
//! k − 1 over GF(2⁸) (the AES field, x⁸ + x⁴ + x³ + x + 1); share i holds every
//! polynomial's value at x = i (1..=n). Any k shares give the constant terms back by
//! Lagrange interpolation at 0; k − 1 shares are consistent with every possible secret, so
//! they tell nothing. Field arithmetic is branch-free on secret values (no log tables), so
//! its timing does not depend on them.
//!
//! A share's text is base32 (RFC 4648 alphabet, no padding) of
//! `version ‖ set id (4) ‖ k ‖ x ‖ value (32) ‖ checksum (4)`, in groups of five letters.
//! The checksum (truncated BLAKE3) catches a mistyped share before it is combined; the set id
//! says which split a share belongs to, so shares of different splits are not mixed.

use std::fmt;

use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::keys::keyring::random_bytes;

const VERSION: u8 = 1;
const CHECKSUM_LEN: usize = 4;
const PAYLOAD_LEN: usize = 1 + 4 + 1 + 1 + 32;
const ENCODED_LEN: usize = PAYLOAD_LEN + CHECKSUM_LEN;
const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const GROUP: usize = 5;

/// One recovery share. Zeroized on drop; `Debug` shows only its position.
pub(crate) struct Share {
    /// Which split the share belongs to.
    pub(crate) set: [u8; 4],
    /// Shares needed to recover the secret.
    pub(crate) threshold: u8,
    /// The evaluation point, 1..=n.
    pub(crate) x: u8,
    value: Zeroizing<[u8; 32]>,
}

impl fmt::Debug for Share {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Share(#{} of a {}-of-n set, [redacted])",
            self.x, self.threshold
        )
    }
}

/// Splits `secret` into `count` shares, any `threshold` of which recover it.
///
/// # Errors
/// `Error::BadConfig` unless 2 <= threshold <= count <= 255 (threshold 1 would put the
/// secret itself on paper); `Error::Io` if the OS has no randomness.
pub(crate) fn split(secret: &[u8; 32], threshold: u8, count: u8) -> Result<Vec<Share>> {
    if threshold < 2 || count < threshold {
        return Err(Error::BadConfig {
            what: "recovery shares: need 2 <= k <= n <= 255 (k of n)",
        });
    }
    let set = random_bytes::<4>()?;
    // coefficients[j][b]: coefficient of x^(j+1) for secret byte b.
    let mut coefficients = Zeroizing::new(vec![[0u8; 32]; usize::from(threshold - 1)]);
    for row in coefficients.iter_mut() {
        getrandom::fill(row).map_err(|e| Error::Io {
            action: "read OS randomness",
            source: std::io::Error::other(e.to_string()),
        })?;
    }
    Ok((1..=count)
        .map(|x| {
            let mut value = Zeroizing::new([0u8; 32]);
            for (b, out) in value.iter_mut().enumerate() {
                // Horner: ((c_{k-1} x + c_{k-2}) x + …) x + secret.
                let mut acc = 0u8;
                for row in coefficients.iter().rev() {
                    acc = mul(acc, x) ^ row[b];
                }
                *out = mul(acc, x) ^ secret[b];
            }
            Share {
                set,
                threshold,
                x,
                value,
            }
        })
        .collect())
}

/// Recovers the secret from at least `threshold` shares of one set.
///
/// # Errors
/// `Error::TooFewShares`, `Error::MixedShareSets`, or `Error::BadRecoveryShare` for a
/// repeated share.
pub(crate) fn combine(shares: &[Share]) -> Result<Zeroizing<[u8; 32]>> {
    let Some(first) = shares.first() else {
        return Err(Error::TooFewShares { have: 0, need: 2 });
    };
    if shares
        .iter()
        .any(|s| s.set != first.set || s.threshold != first.threshold)
    {
        return Err(Error::MixedShareSets);
    }
    let need = usize::from(first.threshold);
    if shares.len() < need {
        return Err(Error::TooFewShares {
            have: shares.len(),
            need,
        });
    }
    let used = &shares[..need];
    for (i, s) in used.iter().enumerate() {
        if s.x == 0 || used[..i].iter().any(|t| t.x == s.x) {
            return Err(Error::BadRecoveryShare { position: i + 1 });
        }
    }
    let mut secret = Zeroizing::new([0u8; 32]);
    for (i, si) in used.iter().enumerate() {
        // Lagrange basis at 0: prod_{j != i} x_j / (x_j - x_i); minus is xor here.
        let mut basis = 1u8;
        for (j, sj) in used.iter().enumerate() {
            if i != j {
                basis = mul(basis, mul(sj.x, inverse(sj.x ^ si.x)));
            }
        }
        for (out, y) in secret.iter_mut().zip(si.value.iter()) {
            *out ^= mul(basis, *y);
        }
    }
    Ok(secret)
}

impl Share {
    /// The text staff write down: base32 in groups of five, with a checksum.
    pub(crate) fn to_text(&self) -> Zeroizing<String> {
        let mut bytes = Zeroizing::new(Vec::with_capacity(ENCODED_LEN));
        bytes.push(VERSION);
        bytes.extend_from_slice(&self.set);
        bytes.push(self.threshold);
        bytes.push(self.x);
        bytes.extend_from_slice(&*self.value);
        let sum = checksum(&bytes);
        bytes.extend_from_slice(&sum);
        let plain = base32_encode(&bytes);
        let mut text = Zeroizing::new(String::with_capacity(plain.len() * 6 / 5));
        for (i, c) in plain.chars().enumerate() {
            if i > 0 && i % GROUP == 0 {
                text.push('-');
            }
            text.push(c);
        }
        text
    }

    /// Parses a share's text; spaces, dashes and case are ignored. `position` (1-based)
    /// names the share in the error.
    ///
    /// # Errors
    /// `Error::BadRecoveryShare` if it is not a share or its checksum does not match.
    pub(crate) fn from_text(text: &str, position: usize) -> Result<Share> {
        let bad = Error::BadRecoveryShare { position };
        let bytes = base32_decode(text).ok_or(Error::BadRecoveryShare { position })?;
        if bytes.len() != ENCODED_LEN || bytes[0] != VERSION {
            return Err(bad);
        }
        let (payload, sum) = bytes.split_at(PAYLOAD_LEN);
        if checksum(payload).as_slice() != sum {
            return Err(bad);
        }
        let mut set = [0u8; 4];
        set.copy_from_slice(&payload[1..5]);
        let mut value = Zeroizing::new([0u8; 32]);
        value.copy_from_slice(&payload[7..]);
        Ok(Share {
            set,
            threshold: payload[5],
            x: payload[6],
            value,
        })
    }
}

fn checksum(bytes: &[u8]) -> [u8; CHECKSUM_LEN] {
    let hash = blake3::derive_key("coffer 2026-11 recovery share checksum", bytes);
    let mut out = [0u8; CHECKSUM_LEN];
    out.copy_from_slice(&hash[..CHECKSUM_LEN]);
    out
}

/// Multiplication in GF(2⁸) modulo x⁸ + x⁴ + x³ + x + 1, without secret-dependent branches.
fn mul(mut a: u8, mut b: u8) -> u8 {
    let mut product = 0u8;
    for _ in 0..8 {
        product ^= a & 0u8.wrapping_sub(b & 1);
        let carry = 0u8.wrapping_sub(a >> 7);
        a = (a << 1) ^ (carry & 0x1b);
        b >>= 1;
    }
    product
}

/// a⁻¹ = a²⁵⁴ (the multiplicative group has order 255); 0 maps to 0.
fn inverse(a: u8) -> u8 {
    let mut result = 1u8;
    let mut base = a;
    let mut exp = 254u8;
    while exp > 0 {
        if exp & 1 == 1 {
            result = mul(result, base);
        }
        base = mul(base, base);
        exp >>= 1;
    }
    result
}

fn base32_encode(bytes: &[u8]) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(bytes.len().div_ceil(5) * 8));
    let mut buffer = 0u16;
    let mut bits = 0u32;
    for &byte in bytes {
        buffer = (buffer << 8) | u16::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(BASE32[usize::from((buffer >> bits) & 31)]));
        }
        buffer &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(char::from(BASE32[usize::from((buffer << (5 - bits)) & 31)]));
    }
    out
}

fn base32_decode(text: &str) -> Option<Zeroizing<Vec<u8>>> {
    let mut out = Zeroizing::new(Vec::with_capacity(text.len() * 5 / 8));
    let mut buffer = 0u16;
    let mut bits = 0u32;
    for c in text.bytes() {
        if c == b'-' || c.is_ascii_whitespace() {
            continue;
        }
        let c = c.to_ascii_uppercase();
        let value = BASE32.iter().position(|&a| a == c)?;
        buffer = (buffer << 5) | u16::try_from(value).ok()?;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((buffer >> bits) & 0xff).ok()?);
        }
        buffer &= (1 << bits) - 1;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse(texts: &[Zeroizing<String>]) -> Vec<Share> {
        texts
            .iter()
            .enumerate()
            .map(|(i, t)| Share::from_text(t, i + 1).unwrap())
            .collect()
    }

    #[test]
    fn field_inverse_is_an_inverse() {
        for a in 1..=255u8 {
            assert_eq!(mul(a, inverse(a)), 1, "{a}");
        }
        assert_eq!(mul(0x57, 0x83), 0xc1); // FIPS-197 §4.2
    }

    #[test]
    fn any_two_of_three_recover_and_one_does_not() {
        let secret = [0x5a; 32];
        let texts: Vec<_> = split(&secret, 2, 3)
            .unwrap()
            .iter()
            .map(Share::to_text)
            .collect();
        for (a, b) in [(0, 1), (0, 2), (1, 2), (2, 0)] {
            let pair = parse(&[texts[a].clone(), texts[b].clone()]);
            assert_eq!(*combine(&pair).unwrap(), secret);
        }
        let one = parse(&texts[..1]);
        assert!(matches!(
            combine(&one),
            Err(Error::TooFewShares { have: 1, need: 2 })
        ));
    }

    #[test]
    fn a_mistyped_share_is_caught_by_its_checksum() {
        let texts: Vec<_> = split(&[7; 32], 2, 3)
            .unwrap()
            .iter()
            .map(Share::to_text)
            .collect();
        let mut typo = texts[1].to_string().into_bytes();
        typo[10] = if typo[10] == b'A' { b'B' } else { b'A' };
        let typo = String::from_utf8(typo).unwrap();
        assert!(matches!(
            Share::from_text(&typo, 2),
            Err(Error::BadRecoveryShare { position: 2 })
        ));
        // Case, spaces and missing dashes do not matter.
        let loose = texts[0].replace('-', " ").to_lowercase();
        assert!(Share::from_text(&loose, 1).is_ok());
    }

    #[test]
    fn shares_of_two_splits_do_not_mix_and_repeats_are_refused() {
        let a = split(&[1; 32], 2, 3).unwrap();
        let b = split(&[1; 32], 2, 3).unwrap();
        let mixed = parse(&[a[0].to_text(), b[1].to_text()]);
        assert!(matches!(combine(&mixed), Err(Error::MixedShareSets)));
        let twice = parse(&[a[0].to_text(), a[0].to_text()]);
        assert!(matches!(
            combine(&twice),
            Err(Error::BadRecoveryShare { position: 2 })
        ));
        assert!(split(&[1; 32], 1, 3).is_err());
        assert!(split(&[1; 32], 3, 2).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn any_k_of_n_recover_and_k_minus_one_tell_nothing_useful(
            secret in any::<[u8; 32]>(),
            (k, n) in (2u8..=6).prop_flat_map(|k| (Just(k), k..=8)),
            order in any::<u64>(),
        ) {
            let shares = split(&secret, k, n).unwrap();
            let texts: Vec<_> = shares.iter().map(Share::to_text).collect();
            let mut picked: Vec<usize> = (0..usize::from(n)).collect();
            // A deterministic shuffle from `order`.
            let mut seed = order;
            for i in (1..picked.len()).rev() {
                seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                let j = usize::try_from(seed >> 33).unwrap() % (i + 1);
                picked.swap(i, j);
            }
            let k = usize::from(k);
            let chosen: Vec<_> = picked[..k].iter().map(|&i| texts[i].clone()).collect();
            prop_assert_eq!(*combine(&parse(&chosen)).unwrap(), secret);
            // k - 1 shares, padded with a forged share at a fresh point, give another value.
            let mut short = parse(&chosen[..k - 1]);
            short.push(Share { set: short[0].set, threshold: short[0].threshold, x: 0xff, value: Zeroizing::new([0; 32]) });
            if !picked[..k - 1].iter().any(|&i| shares[i].x == 0xff) {
                prop_assert_ne!(*combine(&short).unwrap(), secret);
            }
        }
    }
}
