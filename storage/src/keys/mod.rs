//! The key hierarchy: unlockers open the master key, the master key wraps the index key and
//! every bucket key, and a bucket's key with its key share gives its chunk-id and sealing
//! keys (design.md, "Keys").
//!
//! - [`unlockers`] (with [`unlocker_file`], [`passphrase`], [`recovery_shares`]): what
//!   opens the master key, and adding, removing and listing them;
//! - [`keyring`]: the master key and the wrapping of every key under it;
//! - [`key_file`]: the index key, wrapped, beside the index;
//! - [`key_shares`]: the per-bucket shares whose deletion shreds a bucket.
//!
//! Master key rotation, which also rewraps the index's records, is `crate::rotation`.

/// A bucket's random 16-byte id; never derived from its name.
pub(crate) type BucketId = [u8; 16];

pub(crate) mod customer;
pub(crate) mod encryption;
pub(crate) mod key_file;
pub(crate) mod key_shares;
pub(crate) mod keyring;
pub(crate) mod passphrase;
pub(crate) mod recovery_shares;
pub(crate) mod unlocker_file;
pub(crate) mod unlockers;
