//! The errors `coffer-auth` returns.

/// Everything that can go wrong while loading or checking credentials.
///
/// Messages name the setting at fault and never contain a secret.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A root access key that is not 3 to 128 characters of `A-Z a-z 0-9 . _ -`.
    #[error("{var} must be 3 to 128 characters of A-Z, a-z, 0-9, '.', '_' or '-'")]
    BadAccessKey {
        /// The environment variable (or setting) that held it.
        var: &'static str,
    },
    /// A secret key that is too short (or too long) to be safe.
    #[error("{var} must be {min} to {max} printable ASCII characters (no spaces)")]
    WeakSecret {
        /// The environment variable (or setting) that held it.
        var: &'static str,
        /// The minimum length.
        min: usize,
        /// The maximum length.
        max: usize,
    },
    /// Only one half of the root credential was given.
    #[error("{given} is set but {missing} is not: set both, or neither to use the stored root")]
    IncompleteRoot {
        /// The variable that was set.
        given: &'static str,
        /// The variable that was missing.
        missing: &'static str,
    },
    /// The operating system could not provide random bytes.
    #[error("operating system randomness is unavailable: {0}")]
    Random(getrandom::Error),
    /// The sealed credential record opened but does not decode.
    #[error("the stored credential record is corrupt")]
    Corrupt,
    /// Reading or writing the sealed credential record failed.
    #[error("could not {action}")]
    Storage {
        /// What was being done.
        action: &'static str,
        /// The storage error.
        #[source]
        source: coffer_storage::Error,
    },
    /// The named user, access key or policy does not exist (IAM's `NoSuchEntity`).
    #[error("The {what} with name {name} cannot be found.")]
    NoSuchEntity {
        /// "user", "access key" or "policy".
        what: &'static str,
        /// The name asked for.
        name: String,
    },
    /// A user of that name exists already (IAM's `EntityAlreadyExists`).
    #[error("User with name {0} already exists.")]
    EntityAlreadyExists(String),
    /// The user still has what AWS makes you remove first (IAM's `DeleteConflict`).
    #[error("Cannot delete entity, must {0} first.")]
    DeleteConflict(&'static str),
    /// A per-user limit (two access keys, ten inline policies) is reached (`LimitExceeded`).
    #[error("{0}")]
    LimitExceeded(&'static str),
    /// A name or value that IAM would refuse (`ValidationError`).
    #[error("{0}")]
    Invalid(String),
    /// A policy that does not parse or validate (`MalformedPolicyDocument`).
    #[error("{0}")]
    MalformedPolicy(String),
}
