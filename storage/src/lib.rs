//! Sealed, content-addressed object storage for Coffer: keys, chunks, index.
//!
//! This crate keeps buckets and objects so that everything it writes is ciphertext (P3,
//! P5): object bodies are cut into chunks, each named by a keyed BLAKE3 hash (P4) and
//! sealed with AES-256-GCM-SIV under a per-bucket key; the master key only wraps those
//! keys. A redb index holds buckets, their settings, objects, chunk refcounts and sealed
//! records; one writer thread group-commits all changes. No HTTP and no S3 types:
//! `coffer-server` maps S3 onto [`Store`]. The master key itself is kept sealed by
//! unlockers (passphrase, key file, recovery shares; see [`init`] and [`unlock`]), never in
//! clear on the data disk.
//!
//! ```no_run
//! # async fn demo() -> Result<(), coffer_storage::Error> {
//! use coffer_storage::*;
//! let store = Store::open(StoreConfig {
//!     placement: Placement::directory("/tmp/coffer-data"),
//!     chunk_size: DEFAULT_CHUNK_SIZE,
//!     inline_max: DEFAULT_INLINE_MAX,
//!     durability: Durability::Immediate,
//!     master_key: MasterKey::generate()?,
//! })
//! .await?;
//! let bucket = store.create_bucket("photos", "owner-id").await?;
//! let mut writer = store.object_writer(&bucket).await?;
//! writer.write(bytes::Bytes::from_static(b"hello")).await?;
//! let body = writer.finish().await?;
//! let info = store.commit_object(&bucket, "a/b.txt", body, ObjectMeta::default()).await?;
//! let mut reader = store.read_object(&info, 0..info.size);
//! while let Some(piece) = reader.recv().await {
//!     let _plaintext = piece?;
//! }
//! store.shutdown().await;
//! # Ok(())
//! # }
//! ```

mod backup;
mod bucket_ops;
mod bucket_settings;
mod checksum;
mod chunks;
mod commit_gate;
mod durable;
mod error;
mod fsck;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod index;
mod inflight;
mod ingest;
mod keys;
mod kms_shares;
mod list;
mod multipart;
mod object;
mod object_ops;
mod reader;
mod records;
mod rotation;
mod scrub;
mod ship;
mod store;
mod tidy;
mod version;
mod writer;

#[cfg(test)]
mod tests;

pub use backup::BackupReport;

/// Writes a small file of the data directory (configuration beside the store) the way the
/// store writes its own: to a 0600 temporary file, fsynced, renamed over `path`, and the
/// directory fsynced. On failure `path` is untouched.
///
/// # Errors
/// What the file system answered.
pub fn write_private_file(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut temp = path.as_os_str().to_owned();
    temp.push(".tmp");
    durable::replace_file(std::path::Path::new(&temp), path, bytes, true)
}
pub use bucket_settings::BucketSetting;
pub use checksum::{Checksum, ChecksumAlgorithm, ChecksumType, UnknownName};
pub use chunks::chunk_store::ChunkStats;
pub use chunks::remote::{RemoteChunkStore, RemoteChunks, When};
pub use commit_gate::{CommitGate, GateFuture};
pub use error::{Error, Result};
pub use fsck::{Finding, FsckCounts, FsckMode, FsckReport, RecordKind, Repairs};
pub use ingest::{ObjectWriter, StagedBody};
pub use keys::customer::CustomerKey;
pub use keys::encryption::{Encryption, ExternalKey, KmsKey};
pub use keys::keyring::MasterKey;
pub use keys::passphrase::{Argon2Params, Passphrase};
pub use keys::unlockers::{
    Added, DirState, NewUnlocker, UnlockSecret, UnlockerInfo, UnlockerKind, add_unlocker,
    dir_state, init, list_unlockers, remove_unlocker, unlock,
};
pub use list::{ListEntry, ListPage, ListParams, ObjectSummary};
pub use multipart::{
    MAX_PART_SIZE, MAX_PARTS, MIN_PART_SIZE, ObjectPart, PartInfo, PartsPage, UploadInfo,
    UploadListParams, UploadsPage,
};
pub use object::{BucketInfo, ObjectGrant, ObjectInfo, ObjectMeta, ObjectPermission};
pub use object_ops::{DeleteOptions, WriteOptions};
pub use reader::ObjectReader;
pub use rotation::{Rotation, rotate_master_key, rotate_sealed};
pub use scrub::{ScrubProgress, ScrubReport};
pub use ship::{
    Position, RestoreReport, Role, ShipStatus, Shipping, fetch_shipped_files, restore_index,
};
pub use store::{
    DEFAULT_CHUNK_SIZE, DEFAULT_INLINE_MAX, Durability, IndexLocation, IndexStats,
    MAX_BUCKET_SETTING_LEN, MAX_CHUNK_SIZE, MAX_INLINE, MAX_KEY_LEN, MIN_CHUNK_SIZE, Placement,
    Store, StoreConfig,
};
pub use version::{
    DefaultRetention, DeleteOutcome, LockMode, NULL_VERSION, ObjectLock, ObjectLockConfig,
    Precondition, Retention, RetentionPeriod, VersionListEntry, VersionListParams, VersionRef,
    VersionSummary, Versioning, VersionsPage,
};

/// The hot paths on their own, for benchmarks. Not part of the stable API.
#[doc(hidden)]
pub mod hot_paths {
    pub use crate::chunks::chunk_id::ChunkId;
    pub use crate::chunks::seal::{SEAL_OVERHEAD, open, seal};
    pub use crate::index::sealed_backend::{IndexCipher, SealedBackend};
    pub use crate::keys::keyring::BucketKeys;
}
