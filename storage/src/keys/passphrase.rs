//! Passphrases and their stretching with Argon2id.
//!
//! A passphrase unlocker's key-encryption key is `Argon2id(passphrase, salt, params)`. The
//! parameters are stored with the wrap, so they can be raised for new unlockers without
//! breaking old ones; parameters below [`Argon2Params::MIN`] are refused both when an
//! unlocker is made and when one is read (a file edited to cheap parameters is not trusted).

use std::fmt;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// Shortest new passphrase, in characters.
const MIN_PASSPHRASE_CHARS: usize = 10;

/// A passphrase. Zeroized on drop; `Debug` prints `Passphrase([redacted])`.
pub struct Passphrase(Zeroizing<String>);

impl Passphrase {
    /// Wraps `text`; one trailing newline (as `echo` or a file leaves) is dropped.
    pub fn new(mut text: Zeroizing<String>) -> Passphrase {
        if text.ends_with('\n') {
            text.pop();
            if text.ends_with('\r') {
                text.pop();
            }
        }
        Passphrase(text)
    }

    /// The passphrase's text (to compare a typed confirmation).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Checks that a *new* passphrase is long enough.
    ///
    /// # Errors
    /// `Error::WeakPassphrase` below 10 characters.
    pub fn check_new(&self) -> Result<()> {
        if self.0.chars().count() < MIN_PASSPHRASE_CHARS {
            return Err(Error::WeakPassphrase);
        }
        Ok(())
    }

    /// Stretches the passphrase into a 32-byte key. Takes about a second with the default
    /// parameters: call it from `spawn_blocking` on an async runtime.
    ///
    /// # Errors
    /// `Error::WeakArgon2` for parameters out of range.
    pub(crate) fn stretch(&self, params: Argon2Params, salt: &[u8]) -> Result<Zeroizing<[u8; 32]>> {
        params.check()?;
        let argon = argon2::Argon2::new(
            argon2::Algorithm::Argon2id,
            argon2::Version::V0x13,
            argon2::Params::new(params.memory_kib, params.passes, params.lanes, Some(32))
                .map_err(|_| Error::WeakArgon2)?,
        );
        let mut key = Zeroizing::new([0u8; 32]);
        argon
            .hash_password_into(self.0.as_bytes(), salt, &mut *key)
            .map_err(|_| Error::WeakArgon2)?;
        Ok(key)
    }
}

impl fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Passphrase([redacted])")
    }
}

/// Argon2id cost parameters, recorded with each passphrase unlocker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Argon2Params {
    /// Memory, in KiB.
    pub memory_kib: u32,
    /// Passes over the memory (Argon2's `t`).
    pub passes: u32,
    /// Lanes (Argon2's `p`); computed one after the other here.
    pub lanes: u32,
}

impl Argon2Params {
    /// The least accepted: 64 MiB, one pass, one lane (about 0.1 s on a 2026 server core).
    pub const MIN: Argon2Params = Argon2Params {
        memory_kib: 64 << 10,
        passes: 1,
        lanes: 1,
    };

    /// The default for new passphrases: 256 MiB and 4 passes, about one second on the
    /// reference machine (2 vCPU; 3 passes measured 0.75 s, one pass at 64 MiB 0.11 s).
    pub const DEFAULT: Argon2Params = Argon2Params {
        memory_kib: 256 << 10,
        passes: 4,
        lanes: 1,
    };

    /// Checks the parameters are within range: at least [`Argon2Params::MIN`], and at most
    /// 4 GiB, 64 passes and 16 lanes (so a damaged file cannot make unlocking hang).
    ///
    /// # Errors
    /// `Error::WeakArgon2`.
    pub fn check(self) -> Result<()> {
        let ok = (Self::MIN.memory_kib..=4 << 20).contains(&self.memory_kib)
            && (Self::MIN.passes..=64).contains(&self.passes)
            && (Self::MIN.lanes..=16).contains(&self.lanes);
        if ok { Ok(()) } else { Err(Error::WeakArgon2) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pass(text: &str) -> Passphrase {
        Passphrase::new(Zeroizing::new(text.to_owned()))
    }

    #[test]
    fn parameters_below_the_minimum_are_refused() {
        let weak = [
            Argon2Params {
                memory_kib: (64 << 10) - 1,
                ..Argon2Params::MIN
            },
            Argon2Params {
                passes: 0,
                ..Argon2Params::MIN
            },
            Argon2Params {
                lanes: 0,
                ..Argon2Params::MIN
            },
        ];
        for params in weak {
            assert!(
                matches!(params.check(), Err(Error::WeakArgon2)),
                "{params:?}"
            );
            assert!(matches!(
                pass("correct horse battery").stretch(params, &[0; 16]),
                Err(Error::WeakArgon2)
            ));
        }
        Argon2Params::MIN.check().unwrap();
        Argon2Params::DEFAULT.check().unwrap();
    }

    /// Prints what stretching costs here; run with
    /// `cargo nextest run -p coffer-storage --run-ignored only argon2_cost --no-capture`.
    #[test]
    #[ignore = "a measurement, not a check"]
    fn argon2_cost() {
        let p = pass("correct horse battery");
        for params in [Argon2Params::MIN, Argon2Params::DEFAULT] {
            let started = std::time::Instant::now();
            p.stretch(params, &[0; 16]).unwrap();
            eprintln!("{params:?}: {:?}", started.elapsed());
        }
    }

    #[test]
    fn stretching_depends_on_passphrase_and_salt() {
        let p = pass("correct horse battery\n");
        let a = p.stretch(Argon2Params::MIN, &[1; 16]).unwrap();
        assert_eq!(
            *a,
            *pass("correct horse battery")
                .stretch(Argon2Params::MIN, &[1; 16])
                .unwrap()
        );
        assert_ne!(*a, *p.stretch(Argon2Params::MIN, &[2; 16]).unwrap());
        assert_ne!(
            *a,
            *pass("correct horse batterY")
                .stretch(Argon2Params::MIN, &[1; 16])
                .unwrap()
        );
        assert_eq!(format!("{p:?}"), "Passphrase([redacted])");
        assert!(pass("short").check_new().is_err());
        assert!(p.check_new().is_ok());
    }
}
