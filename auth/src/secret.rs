//! [`Secret`]: a secret key that zeroizes itself and never prints.

use std::fmt;

use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// A secret access key.
///
/// Its bytes are zeroized when it is dropped, `Debug` prints a placeholder, and the text is
/// reachable only through [`Secret::expose`], so that a stray `{:?}` cannot leak it.
#[derive(Clone)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps `text` as a secret. Nothing is validated here.
    pub fn new(text: String) -> Secret {
        Secret(Zeroizing::new(text))
    }

    /// The secret text. Do not log it or put it in an error.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Compares two secrets in time that does not depend on where they differ.
    pub fn ct_eq(&self, other: &Secret) -> bool {
        constant_time_eq(self.expose().as_bytes(), other.expose().as_bytes())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// Compares two byte strings in time that depends only on their lengths.
///
/// Use it for every comparison that involves a secret.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    // subtle returns "not equal" at once for different lengths; the lengths are not secret.
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_secret() {
        let s = Secret::new("wJalrXUtnFEMI-K7MDENG".to_owned());
        let printed = format!("{s:?}");
        assert!(!printed.contains("wJal"));
        assert_eq!(printed, "Secret([redacted])");
    }

    #[test]
    fn compares() {
        let a = Secret::new("0123456789abcdef".to_owned());
        assert!(a.ct_eq(&a.clone()));
        assert!(!a.ct_eq(&Secret::new("0123456789abcdeF".to_owned())));
        assert!(!a.ct_eq(&Secret::new("0123456789abcde".to_owned())));
        assert!(constant_time_eq(b"", b""));
    }
}
