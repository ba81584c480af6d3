//! Root credential: where it comes from, how it is checked and how it is generated (P8).

use std::fmt;

use crate::{Error, Secret};

/// Environment variable that holds the root access key.
pub const ROOT_ACCESS_KEY_VAR: &str = "COFFER_ROOT_ACCESS_KEY";
/// Environment variable that holds the root secret key.
pub const ROOT_SECRET_KEY_VAR: &str = "COFFER_ROOT_SECRET_KEY";

/// Shortest secret key accepted from an operator.
pub const MIN_SECRET_LEN: usize = 16;
/// Longest secret key accepted from an operator.
pub const MAX_SECRET_LEN: usize = 256;

const GENERATED_ACCESS_KEY_PREFIX: &str = "CF";
const GENERATED_ACCESS_KEY_LEN: usize = 20;
const GENERATED_SECRET_LEN: usize = 40;
pub(crate) const ACCESS_KEY_ALPHABET: &[u8; 36] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const SECRET_ALPHABET: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Where the root credential comes from when [`Auth::open`](crate::Auth::open) runs.
pub enum RootSource {
    /// Given by the operator (normally `COFFER_ROOT_ACCESS_KEY` / `COFFER_ROOT_SECRET_KEY`).
    /// If the data directory already holds a different root, this one replaces it.
    Provided {
        /// The access key, already validated.
        access_key: String,
        /// The secret key, already validated.
        secret: Secret,
    },
    /// Use the root stored in the data directory; at its first start, generate one.
    StoredOrGenerated,
}

/// How strong an operator's root secret must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretStrength {
    /// [`MIN_SECRET_LEN`] characters or more: always, except below.
    Strong,
    /// Any printable secret (`test`, as other local S3s accept): for a test suite's fixed
    /// fixtures, on a server the caller has made sure listens on loopback only.
    LoopbackTests,
}

impl RootSource {
    /// Builds the source from the values of [`ROOT_ACCESS_KEY_VAR`] and [`ROOT_SECRET_KEY_VAR`]
    /// (`None` or empty means unset).
    ///
    /// # Errors
    ///
    /// [`Error::IncompleteRoot`] if only one is set, [`Error::BadAccessKey`] or
    /// [`Error::WeakSecret`] (naming the variable) if a value is not acceptable.
    pub fn from_env_values(
        access_key: Option<String>,
        secret: Option<String>,
    ) -> Result<RootSource, Error> {
        Self::from_env_values_with(access_key, secret, SecretStrength::Strong)
    }

    /// [`RootSource::from_env_values`], with the secret held to `strength`.
    ///
    /// # Errors
    ///
    /// As [`RootSource::from_env_values`].
    pub fn from_env_values_with(
        access_key: Option<String>,
        secret: Option<String>,
        strength: SecretStrength,
    ) -> Result<RootSource, Error> {
        let access_key = access_key.filter(|v| !v.is_empty());
        let secret = secret.filter(|v| !v.is_empty()).map(Secret::new);
        match (access_key, secret) {
            (None, None) => Ok(RootSource::StoredOrGenerated),
            (Some(_), None) => Err(Error::IncompleteRoot {
                given: ROOT_ACCESS_KEY_VAR,
                missing: ROOT_SECRET_KEY_VAR,
            }),
            (None, Some(_)) => Err(Error::IncompleteRoot {
                given: ROOT_SECRET_KEY_VAR,
                missing: ROOT_ACCESS_KEY_VAR,
            }),
            (Some(access_key), Some(secret)) => {
                check_access_key(&access_key, ROOT_ACCESS_KEY_VAR)?;
                match strength {
                    SecretStrength::Strong => check_secret(&secret, ROOT_SECRET_KEY_VAR)?,
                    SecretStrength::LoopbackTests => {
                        check_test_secret(&secret, ROOT_SECRET_KEY_VAR)?;
                    }
                }
                Ok(RootSource::Provided { access_key, secret })
            }
        }
    }
}

impl fmt::Debug for RootSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RootSource::Provided { access_key, .. } => f
                .debug_struct("Provided")
                .field("access_key", access_key)
                .field("secret", &"[redacted]")
                .finish(),
            RootSource::StoredOrGenerated => f.write_str("StoredOrGenerated"),
        }
    }
}

/// A root credential generated at the first start of a data directory.
///
/// It is returned once so that the server can show it; it is stored sealed and never
/// shown again.
pub struct GeneratedRoot {
    /// The access key: 20 characters of `A-Z 0-9`, starting with `CF`.
    pub access_key: String,
    /// The secret key: 40 characters of the URL-safe base64 alphabet.
    pub secret: Secret,
}

impl fmt::Debug for GeneratedRoot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GeneratedRoot")
            .field("access_key", &self.access_key)
            .field("secret", &self.secret)
            .finish()
    }
}

impl GeneratedRoot {
    /// Generates a fresh root credential from operating-system randomness.
    ///
    /// # Errors
    ///
    /// [`Error::Random`] if the OS has no randomness to give.
    pub fn generate() -> Result<GeneratedRoot, Error> {
        let mut access_key = String::with_capacity(GENERATED_ACCESS_KEY_LEN);
        access_key.push_str(GENERATED_ACCESS_KEY_PREFIX);
        access_key.push_str(&random_chars(
            ACCESS_KEY_ALPHABET,
            GENERATED_ACCESS_KEY_LEN - GENERATED_ACCESS_KEY_PREFIX.len(),
        )?);
        let secret = Secret::new(random_chars(SECRET_ALPHABET, GENERATED_SECRET_LEN)?);
        Ok(GeneratedRoot { access_key, secret })
    }
}

/// Checks that `access_key` is 3 to 128 characters of `A-Z a-z 0-9 . _ -`.
///
/// # Errors
///
/// [`Error::BadAccessKey`] naming `var`.
pub fn check_access_key(access_key: &str, var: &'static str) -> Result<(), Error> {
    let ok = (3..=128).contains(&access_key.len())
        && access_key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(Error::BadAccessKey { var })
    }
}

/// Checks that `secret` is [`MIN_SECRET_LEN`] to [`MAX_SECRET_LEN`] printable ASCII characters
/// without spaces (signing clients mangle anything else).
///
/// # Errors
///
/// [`Error::WeakSecret`] naming `var`.
pub fn check_secret(secret: &Secret, var: &'static str) -> Result<(), Error> {
    let text = secret.expose();
    let ok = (MIN_SECRET_LEN..=MAX_SECRET_LEN).contains(&text.len())
        && text.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err(Error::WeakSecret {
            var,
            min: MIN_SECRET_LEN,
            max: MAX_SECRET_LEN,
        })
    }
}

/// [`check_secret`] without the minimum length, for [`SecretStrength::LoopbackTests`]: still
/// printable ASCII without spaces, which signing clients need.
fn check_test_secret(secret: &Secret, var: &'static str) -> Result<(), Error> {
    let text = secret.expose();
    let ok =
        (1..=MAX_SECRET_LEN).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err(Error::WeakSecret {
            var,
            min: 1,
            max: MAX_SECRET_LEN,
        })
    }
}

/// `len` characters drawn uniformly from `alphabet` (at most 256 symbols).
pub(crate) fn random_chars(alphabet: &[u8], len: usize) -> Result<String, Error> {
    debug_assert!(!alphabet.is_empty() && alphabet.len() <= 256);
    // Rejection sampling: accept a byte only below the largest multiple of the alphabet
    // size, so every symbol is equally likely (plain `% 36` would favour the first ones).
    let limit = 256 - (256 % alphabet.len());
    let mut out = zeroize::Zeroizing::new(Vec::with_capacity(len));
    let mut pool = zeroize::Zeroizing::new([0u8; 64]);
    while out.len() < len {
        getrandom::fill(pool.as_mut_slice()).map_err(Error::Random)?;
        for &b in pool.iter() {
            if usize::from(b) < limit && out.len() < len {
                out.push(alphabet[usize::from(b) % alphabet.len()]);
            }
        }
    }
    Ok(out.iter().map(|&b| char::from(b)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_root_has_the_documented_shape() {
        let a = GeneratedRoot::generate().unwrap();
        assert_eq!(a.access_key.len(), 20);
        assert!(a.access_key.starts_with("CF"));
        assert!(
            a.access_key
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        );
        assert_eq!(a.secret.expose().len(), 40);
        assert!(
            a.secret
                .expose()
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        check_access_key(&a.access_key, "x").unwrap();
        check_secret(&a.secret, "x").unwrap();
        let b = GeneratedRoot::generate().unwrap();
        assert_ne!(a.access_key, b.access_key);
        assert!(!a.secret.ct_eq(&b.secret));
    }

    #[test]
    fn p8_weak_secret_is_refused_naming_the_variable() {
        let err =
            RootSource::from_env_values(Some("admin".to_owned()), Some("password".to_owned()))
                .unwrap_err();
        assert!(matches!(err, Error::WeakSecret { .. }));
        let text = err.to_string();
        assert!(text.contains(ROOT_SECRET_KEY_VAR), "{text}");
        assert!(!text.contains("password"));
    }

    #[test]
    fn test_strength_takes_short_secrets_but_not_unusable_ones() {
        let weak = || (Some("test".to_owned()), Some("test".to_owned()));
        let (ak, sk) = weak();
        assert!(matches!(
            RootSource::from_env_values(ak, sk),
            Err(Error::WeakSecret { .. })
        ));
        let (ak, sk) = weak();
        assert!(matches!(
            RootSource::from_env_values_with(ak, sk, SecretStrength::LoopbackTests),
            Ok(RootSource::Provided { .. })
        ));
        for unusable in ["has space", "tab\there", "ä"] {
            let err = RootSource::from_env_values_with(
                Some("test".to_owned()),
                Some(unusable.to_owned()),
                SecretStrength::LoopbackTests,
            );
            assert!(matches!(err, Err(Error::WeakSecret { .. })), "{unusable}");
        }
    }

    #[test]
    fn bad_access_keys_are_refused_naming_the_variable() {
        for bad in [
            "ab",
            "has space",
            "slash/key",
            "ä-unicode",
            &"k".repeat(129),
        ] {
            let err = RootSource::from_env_values(
                Some(bad.to_owned()),
                Some("0123456789abcdef".to_owned()),
            )
            .unwrap_err();
            assert!(matches!(err, Error::BadAccessKey { .. }), "{bad}");
            assert!(err.to_string().contains(ROOT_ACCESS_KEY_VAR));
        }
    }

    #[test]
    fn env_values() {
        assert!(matches!(
            RootSource::from_env_values(None, None).unwrap(),
            RootSource::StoredOrGenerated
        ));
        assert!(matches!(
            RootSource::from_env_values(Some(String::new()), Some(String::new())).unwrap(),
            RootSource::StoredOrGenerated
        ));
        assert!(matches!(
            RootSource::from_env_values(Some("admin".to_owned()), None),
            Err(Error::IncompleteRoot { .. })
        ));
        assert!(matches!(
            RootSource::from_env_values(None, Some("0123456789abcdef".to_owned())),
            Err(Error::IncompleteRoot { .. })
        ));
        let ok = RootSource::from_env_values(
            Some("my.admin_key-1".to_owned()),
            Some("0123456789abcdef".to_owned()),
        )
        .unwrap();
        assert!(matches!(ok, RootSource::Provided { .. }));
        assert!(!format!("{ok:?}").contains("0123456789abcdef"));
    }
}
