//! Master key rotation: rewrap every key the master key wraps, rewrite no object.
//!
//! It sits above both the key hierarchy (`keys`) and the sealed index (`index`), whose
//! records are rewrapped, so that neither needs the other: index → keys, rotation → both.

use std::path::Path;

use crate::error::{Error, Result};
pub use crate::index::sealed_file::Rotation;
use crate::keys::key_file;
use crate::keys::keyring::{Keyring, MasterKey};
use crate::keys::unlockers::{Rotating, UnlockSecret};

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

/// Rotates the master key of a sealed directory, proven by `with`: a new master key
/// rewraps the index key, bucket keys and sealed records ([`rotate_master_key`]), and is
/// wrapped under the same unlock key, so every unlocker keeps working. Resumes an
/// interrupted rotation. The store must not be open. Blocks.
///
/// # Errors
/// As [`crate::unlock`] for `with`; as [`rotate_master_key`].
pub fn rotate_sealed(root: &Path, with: &UnlockSecret) -> Result<Rotation> {
    let mut rotating = begin(root, with)?;
    let new = rotating.record_new(root)?;
    let done = if root.join(key_file::KEY_FILE).exists() {
        match rotate_master_key(root, rotating.old(), &new) {
            // Resumed after the key file was switched: the old key opens nothing now.
            Err(Error::WrongMasterKey)
                if matches!(key_file::load(root, &Keyring::new(&new)), Ok(Some(_))) =>
            {
                Rotation::default()
            }
            other => other?,
        }
    } else {
        // Set up but never opened: nothing is wrapped under the master key yet.
        Rotation::default()
    };
    rotating.finish(root, &new)?;
    Ok(done)
}

/// Opens the directory for a rotation. Before a new key is first recorded, the index is
/// opened once, so that a running server (which holds it) refuses the rotation before it
/// leaves the directory needing one finished.
fn begin(root: &Path, with: &UnlockSecret) -> Result<Rotating> {
    let rotating = Rotating::open(root, with)?;
    if !rotating.resuming() && root.join(key_file::KEY_FILE).exists() {
        drop(crate::index::sealed_file::open_for_rotation(
            root,
            &Keyring::new(rotating.old()),
        )?);
    }
    Ok(rotating)
}

/// Starts a rotation and stops where a crash after its first step would (tests).
#[cfg(test)]
pub(crate) fn interrupt_rotation(root: &Path, with: &UnlockSecret) -> Result<()> {
    begin(root, with)?.record_new(root).map(|_| ())
}
