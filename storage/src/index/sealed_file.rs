//! Opening the sealed index file, and rewrapping its keys under a new master key.
//!
//! The index key comes from `<data>/keys` (see `key_file.rs`), checked before the index is
//! opened, so a wrong master key is refused with nothing written. The index's own key-check
//! record (table `meta`) says which master key the bucket keys and sealed records inside
//! are wrapped under; it differs from the key file's only after an interrupted rotation.

use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::Path;

use redb::ReadableTable as _;

use super::sealed_backend::{IndexCipher, SealedBackend};
use super::{BUCKET_KEYS, META, META_KEY_CHECK, SEALED, verify_key};
use crate::error::{Error, Result};
use crate::keys::key_file;
use crate::keys::keyring::{Keyring, random_key};

/// The index file under a data directory.
pub(crate) const INDEX_FILE: &str = "index.redb";
/// A new index while it is being created, renamed to [`INDEX_FILE`] once complete.
const NEW_INDEX_FILE: &str = "index.redb.new";

/// Opens (or creates) `<root>/index.redb` through the sealing backend.
///
/// # Errors
/// `Error::WrongMasterKey` (key file check; nothing written), `Error::RotationIncomplete`,
/// `Error::Corrupt` if the index exists without a key file.
pub(crate) fn open(
    builder: &redb::Builder,
    root: &Path,
    keyring: &Keyring,
    durable: bool,
) -> Result<redb::Database> {
    let path = root.join(INDEX_FILE);
    let exists = std::fs::metadata(&path).is_ok_and(|m| m.len() > 0);
    let index_key = match key_file::load(root, keyring)? {
        Some(key) => key,
        None if exists => {
            return Err(Error::Corrupt {
                what: "data directory: the index exists but its key file is missing",
            });
        }
        None => {
            let key = random_key()?;
            key_file::store(root, keyring, &key, durable)?;
            key
        }
    };
    if exists {
        let file = std::fs::File::open(&path).map_err(Error::io("open index file"))?;
        let sealed = SealedBackend::new(file_backend(file)?, IndexCipher::new(&index_key));
        match builder.open_read_only_with_backend(sealed) {
            Ok(db) => check_inner_key(&db, keyring)?,
            // Needs recovery: only a writable open can repair it; check after.
            Err(e) => tracing::debug!(error = %e, "index not readable read-only"),
        }
    } else {
        create_fresh(builder, root, &index_key, durable)?;
    }
    let file = open_private(&path, false)?;
    let sealed = SealedBackend::new(file_backend(file)?, IndexCipher::new(&index_key));
    let db = builder
        .create_with_backend(sealed)
        .map_err(Error::index("open index"))?;
    check_inner_key(&db, keyring)?;
    Ok(db)
}

/// Creates an empty index beside its final name and renames it into place: redb's
/// creation of a new file is not crash-atomic (a crash part-way leaves a file whose header
/// never opens again), a rename is.
fn create_fresh(
    builder: &redb::Builder,
    root: &Path,
    index_key: &[u8; 32],
    durable: bool,
) -> Result<()> {
    let temp = root.join(NEW_INDEX_FILE);
    // Left by a crash during an earlier first start.
    let _ = std::fs::remove_file(&temp);
    let file = open_private(&temp, true)?;
    let handle = file.try_clone().map_err(Error::io("open index file"))?;
    let sealed = SealedBackend::new(file_backend(file)?, IndexCipher::new(index_key));
    drop(
        builder
            .create_with_backend(sealed)
            .map_err(Error::index("create index"))?,
    );
    if durable {
        handle.sync_all().map_err(Error::io("fsync new index"))?;
    }
    drop(handle);
    std::fs::rename(&temp, root.join(INDEX_FILE)).map_err(Error::io("rename new index"))?;
    if durable {
        // The rename is durable only once the directory is fsynced.
        crate::durable::fsync_dir(root)?;
    }
    Ok(())
}

/// Opens an index file read-write, 0600 whatever the umask; `new` refuses an existing one.
pub(super) fn open_private(path: &Path, new: bool) -> Result<std::fs::File> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(!new)
        .create_new(new)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .map_err(Error::io("open index file"))?;
    // The mode above is filtered by the umask; make it exactly 0600 regardless.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
        .map_err(Error::io("chmod index file"))?;
    Ok(file)
}

pub(super) fn file_backend(file: std::fs::File) -> Result<redb::backends::FileBackend> {
    redb::backends::FileBackend::new(file).map_err(Error::index("open index"))
}

/// The key file opened under this master key, so a failing inner check means a rotation
/// stopped between its two steps.
fn check_inner_key(db: &impl redb::ReadableDatabase, keyring: &Keyring) -> Result<()> {
    match verify_key(db, keyring) {
        Ok(_) => Ok(()),
        Err(Error::WrongMasterKey) => Err(Error::RotationIncomplete),
        Err(e) => Err(e),
    }
}

/// What a master key rotation rewrapped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rotation {
    /// Bucket keys rewrapped.
    pub bucket_keys: usize,
    /// Sealed records (auth's credentials…) resealed.
    pub sealed_records: usize,
}

/// Rewraps everything `old` wraps in the data directory `root` under `new`: first, in one
/// index transaction, every bucket key, every sealed record and the inner key check; then
/// the key file (atomic replace). No object or chunk is rewritten. Safe to run again after
/// an interruption, with the same two keys.
pub(crate) fn rotate(root: &Path, old: &Keyring, new: &Keyring) -> Result<Rotation> {
    if !root.join(INDEX_FILE).exists() {
        return Err(Error::Corrupt {
            what: "data directory: no index to rotate",
        });
    }
    let (db, index_key) = open_for_rotation(root, old)?;
    let mut done = Rotation::default();
    match verify_key(&db, old) {
        Ok(true) => done = rewrap_inside(&db, old, new)?,
        Ok(false) => return Err(Error::Corrupt { what: "index meta" }),
        // Resumed: the index was rewrapped, the key file not yet.
        Err(Error::WrongMasterKey) if verify_key(&db, new).is_ok() => {}
        Err(e) => return Err(e),
    }
    drop(db);
    key_file::store(root, new, &index_key, true)?;
    Ok(done)
}

/// Opens the index for a rotation from `old`. Fails, changing nothing, if `old` does not
/// open the key file or another opener (a running server) holds the index.
pub(crate) fn open_for_rotation(
    root: &Path,
    old: &Keyring,
) -> Result<(redb::Database, zeroize::Zeroizing<[u8; 32]>)> {
    let index_key = key_file::load(root, old)?.ok_or(Error::Corrupt {
        what: "data directory: no key file",
    })?;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(root.join(INDEX_FILE))
        .map_err(Error::io("open index file"))?;
    let db = redb::Database::builder()
        .create_with_backend(SealedBackend::new(
            file_backend(file)?,
            IndexCipher::new(&index_key),
        ))
        .map_err(Error::index("open index"))?;
    Ok((db, index_key))
}

fn rewrap_inside(db: &redb::Database, old: &Keyring, new: &Keyring) -> Result<Rotation> {
    let mut done = Rotation::default();
    let mut txn = db.begin_write().map_err(Error::index("begin write"))?;
    txn.set_durability(redb::Durability::Immediate)
        .map_err(Error::index("set durability"))?;
    {
        let mut keys = txn
            .open_table(BUCKET_KEYS)
            .map_err(Error::index("open bucket keys"))?;
        let mut rewrapped = Vec::new();
        for entry in keys.iter().map_err(Error::index("read bucket keys"))? {
            let (id, wrapped) = entry.map_err(Error::index("read bucket keys"))?;
            let id: [u8; 16] = id
                .value()
                .try_into()
                .map_err(|_| Error::Corrupt { what: "bucket id" })?;
            rewrapped.push((id, old.rewrap_bucket_key(new, &id, wrapped.value())?));
        }
        for (id, wrapped) in &rewrapped {
            keys.insert(id.as_slice(), wrapped.as_slice())
                .map_err(Error::index("write bucket key"))?;
        }
        done.bucket_keys = rewrapped.len();

        let mut sealed = txn
            .open_table(SEALED)
            .map_err(Error::index("open sealed records"))?;
        let mut resealed = Vec::new();
        for entry in sealed.iter().map_err(Error::index("read sealed records"))? {
            let (name, value) = entry.map_err(Error::index("read sealed records"))?;
            let name = name.value().to_owned();
            let value = old.reseal_record(new, &name, value.value())?;
            resealed.push((name, value));
        }
        for (name, value) in &resealed {
            sealed
                .insert(name.as_str(), value.as_slice())
                .map_err(Error::index("write sealed record"))?;
        }
        done.sealed_records = resealed.len();

        let mut meta = txn.open_table(META).map_err(Error::index("open meta"))?;
        meta.insert(META_KEY_CHECK, new.key_check()?.as_slice())
            .map_err(Error::index("write key check"))?;
    }
    txn.commit().map_err(Error::index("commit rotation"))?;
    Ok(done)
}
