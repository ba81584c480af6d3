//! Master key rotation: rewrap every key the master key wraps, rewrite no object.

use std::path::Path;

use crate::error::Result;
pub use crate::index::sealed_file::Rotation;
use crate::keys::keyring::{Keyring, MasterKey};

/// Rotates the master key of the data directory `root` from `old` to `new`.
///
/// Rewraps, under `new`, every bucket key and sealed record (one index transaction) and
/// then the index key (the `<root>/keys` file, replaced atomically). No chunk and no object
/// record is rewritten. Afterwards `old` no longer opens the directory and `new` does. If it
/// is interrupted, run it again with the same two keys; until then opening fails with
/// `Error::RotationIncomplete` or `Error::WrongMasterKey`, and nothing is lost.
///
/// The store must not be open (redb's file lock refuses a second opener). This call blocks:
/// from async code, run it in `spawn_blocking`.
///
/// # Errors
/// `Error::WrongMasterKey` if `old` does not open the directory; `Error::Corrupt` if it has
/// no index or no key file; `Error::Index`/`Error::Io` if the index cannot be opened
/// (for instance because a server has it open).
pub fn rotate_master_key(root: &Path, old: &MasterKey, new: &MasterKey) -> Result<Rotation> {
    crate::index::sealed_file::rotate(root, &Keyring::new(old), &Keyring::new(new))
}
