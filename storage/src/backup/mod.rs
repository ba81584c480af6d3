//! Online backup: a consistent, still sealed, incremental copy of a running store.
//!
//! # What a backup is
//!
//! The target directory is itself a data directory: `coffer serve --data <backup>` (or
//! `coffer fsck`) opens it with the same master key or unlockers. It holds
//!
//! | path | from |
//! |---|---|
//! | `index.redb` | one snapshot of the index, copied table by table into a fresh file sealed under the same index key (`index/copy.rs`) |
//! | `chunks/` | every chunk that snapshot references, byte for byte (still sealed) |
//! | `key-shares/` | the share of every bucket in the snapshot |
//! | `kms-shares/` | the KMS key shares present when they are copied |
//! | `keys`, `unlockers` | the wrapped index key and the sealed master key, as they are |
//! | the caller's `also` folders | mirrored file by file (the server passes its audit trail) |
//!
//! Nothing is decrypted on the way: a backup is exactly as unreadable as the data directory
//! (P3, P4). A master key kept in the data directory (`master.key`) is never copied: the
//! backup opens with the master key or an unlocker kept elsewhere.
//!
//! # Consistency
//!
//! Claim: when the backup's `index.redb` is in place, every chunk file and bucket share its
//! index references is in the backup, complete and durable.
//!
//! 1. A [`Pin`] is taken, then the snapshot `S`. While the pin is held the index writer
//!    defers every removal of a chunk file, key share or bucket chunk directory
//!    (`pin.rs`). A chunk `S` references can only lose its file through a commit after
//!    `S` (the one dropping its last reference) or a writer's release checked after `S`;
//!    both decisions are taken on the writer thread after the pin, so they are deferred.
//!    A removal decided before the pin concerns a chunk unreferenced in the last commit
//!    then, which `S` (later) does not reference either, unless a commit between
//!    re-referenced it, and commits happen only on that same thread, which was busy.
//! 2. Chunk files are immutable and content-addressed (a keyed id of the plaintext,
//!    sealed deterministically): a file present under its name has the one content that
//!    name allows, so the copy taken at any moment while pinned is the one `S` means.
//! 3. Each copied chunk is written through `durable::replace_file` (temp file, rename)
//!    without its own fsyncs, and then one `syncfs` of the target's file system makes
//!    every chunk file, its content and its name durable at once; shares and other files
//!    are fsynced one by one. Only after all of them is the index copy written, fsynced
//!    and renamed over `index.redb` (then the directory fsynced): that rename is the
//!    commit point of the backup.
//! 4. Removals in the target (chunks and shares the new index no longer references) come
//!    after the commit point. So an interrupted backup leaves the previous `index.redb`
//!    with every file it references: the previous backup stays usable, plus some extra
//!    files that the next run (or the sweep at open) removes.
//!
//! Objects committed after `S` are not in the backup, even if their chunks were copied.
//! The pin is dropped at the end; the removals it held back are then made by the writer
//! thread, each chunk re-checked against the current index and the in-flight registry.
//! A long backup also keeps redb from reusing the pages `S` reads, so the live index file
//! may grow while it runs.
//!
//! # Incremental
//!
//! A chunk whose file is in the target already with the same size is not copied again
//! (names are keyed hashes of immutable content). Shares are copied only when missing.
//! After the commit point, the target's chunks and bucket shares that the new index does
//! not reference are removed: a bucket deleted since the last backup is shredded in the
//! backup too (its share goes). Mirrored folders copy a file whose size or modification
//! time differs, and drop files gone from the source.
//!
//! # What is not consistent with `S`
//!
//! KMS key shares are copied after `S` and are not pinned: a KMS key destroyed while a
//! backup runs may have its record in the backup but not its share, which reads as
//! destroyed (the intent of destroying it). The audit trail is mirrored after `S`, so it may
//! record requests the backup's index does not hold; the newest segment may end in a torn
//! frame, which the trail drops when it is next opened.

mod pin;

use std::collections::{BTreeSet, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub(crate) use pin::{Pin, Pins};

use crate::chunks::chunk_id::ChunkId;
use crate::chunks::chunk_store::{ChunkStore, TreeEntry};
use crate::durable::{create_dir_private, rename_into_place, replace_file};
use crate::error::{Error, Result};
use crate::index::sealed_file::INDEX_FILE;
use crate::keys::key_file;
use crate::keys::key_shares::KeyShares;
use crate::records::BucketId;
use crate::store::{Shared, Store};

/// The index copy while it is written; renamed to `index.redb` when complete.
const INDEX_COPY: &str = "index.redb.backup";
/// Temp files of mirrored and single files.
const TEMP_SUFFIX: &str = ".backup-tmp";

/// What one backup did. Counts of files and bytes only: no names (P6).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BackupReport {
    /// Buckets in the snapshot.
    pub buckets: u64,
    /// Index entries copied (every table).
    pub index_entries: u64,
    /// Size of the index copy, in bytes.
    pub index_bytes: u64,
    /// Distinct chunks the snapshot references.
    pub chunks_referenced: u64,
    /// Chunks copied by this run.
    pub chunks_copied: u64,
    /// Sealed bytes copied by this run (chunks only).
    pub bytes_copied: u64,
    /// Chunks already in the target, not copied again.
    pub chunks_present: u64,
    /// Chunks the snapshot references whose file is missing from the data directory: the
    /// data directory is damaged (run `coffer fsck`); the backup lacks them too.
    pub chunks_missing: u64,
    /// Chunk files removed from the target because the new index no longer references them.
    pub chunks_removed: u64,
    /// Key shares (bucket and KMS) copied by this run.
    pub shares_copied: u64,
    /// Buckets whose key share is missing from the data directory (damaged, see fsck).
    pub shares_missing: u64,
    /// Other files copied (key file, unlockers, mirrored folders).
    pub files_copied: u64,
    /// Index records that did not decode: their chunks were copied only if a refcount
    /// names them. Non-zero means the data directory needs `coffer fsck`.
    pub unreadable_records: u64,
}

impl BackupReport {
    /// Whether the data directory looked whole: nothing missing, nothing unreadable.
    pub fn is_complete(&self) -> bool {
        self.chunks_missing == 0 && self.shares_missing == 0 && self.unreadable_records == 0
    }
}

impl Store {
    /// Backs the running store up into `to` (created 0700 if missing; see the module doc of
    /// `backup/mod.rs` for what is copied and why the copy is consistent). Incremental: what
    /// `to` already holds is not copied again. `also` names folders of the data directory
    /// to mirror as well (the server's audit trail). Writes continue meanwhile.
    ///
    /// # Errors
    /// `Error::BackupTarget` if `to` cannot hold a backup (inside the data directory, or
    /// an ephemeral store); `Error::Io`, `Error::Index`, `Error::Corrupt` if the copy
    /// cannot go on. The previous backup in `to` stays usable whatever fails.
    pub async fn backup(&self, to: PathBuf, also: Vec<String>) -> Result<BackupReport> {
        let shared = self.inner.shared.clone();
        tokio::task::spawn_blocking(move || run(&shared, &to, &also))
            .await
            .map_err(Error::join)?
    }
}

fn run(shared: &Arc<Shared>, to: &Path, also: &[String]) -> Result<BackupReport> {
    let only_durable = || Error::BackupTarget {
        what: "only a durable data directory can be backed up",
    };
    let root = shared.root.clone().ok_or_else(only_durable)?;
    // The index of an ephemeral store lives in memory and has no key file.
    let index_key = key_file::load(&root, &shared.keyring)?.ok_or_else(only_durable)?;
    prepare_target(&root, to)?;

    let pin = Pin::hold(shared);
    let snapshot = shared.index()?.snapshot()?;
    let mut report = BackupReport::default();

    // What the snapshot references: every record's chunks, and every refcounted chunk (so
    // a record that does not decode still has its chunks copied).
    let mut live = HashSet::new();
    for (_, bucket) in snapshot.buckets()? {
        live.insert(bucket.id);
    }
    report.buckets = live.len() as u64;
    let mut refs: BTreeSet<(BucketId, ChunkId)> = BTreeSet::new();
    snapshot.each_object_version(|_, bucket, record| {
        match (bucket, record) {
            (Some(bucket), Ok(record)) => refs.extend(record.chunks.iter().map(|c| (bucket, c.id))),
            _ => report.unreadable_records += 1,
        }
        Ok(())
    })?;
    snapshot.each_part(|bucket, _, part| {
        match (bucket, part) {
            (Some(bucket), Ok(part)) => refs.extend(part.chunks.iter().map(|c| (bucket, c.id))),
            _ => report.unreadable_records += 1,
        }
        Ok(())
    })?;
    snapshot.each_refcount(|key, _| {
        match key {
            Some(key) => {
                refs.insert(key);
            }
            None => report.unreadable_records += 1,
        }
        Ok(())
    })?;
    report.chunks_referenced = refs.len() as u64;

    // Unsynced one by one, then flushed at once: per-file fsyncs (file and directory) made
    // a 1 GiB backup of 10,000 chunks run at 14 MB/s on a 2-core machine.
    let target_chunks = ChunkStore::new(to.join("chunks"), false)?;
    copy_chunks(&shared.chunks, &target_chunks, &refs, &mut report)?;
    crate::durable::sync_file_system(&to.join("chunks"))?;

    let target_shares = KeyShares::open(to, true)?;
    for bucket in &live {
        match shared.shares.copy_into(&target_shares, bucket) {
            Ok(copied) => report.shares_copied += u64::from(copied),
            Err(Error::Corrupt { .. }) => report.shares_missing += 1,
            Err(e) => return Err(e),
        }
    }
    report.shares_copied += copy_kms_shares(shared, to)?;
    for name in [key_file::KEY_FILE, crate::keys::unlocker_file::FILE] {
        report.files_copied += copy_file(&root.join(name), &to.join(name))?;
    }
    for folder in also {
        report.files_copied += mirror(&root.join(folder), &to.join(folder))?;
    }

    // The commit point: the index copy replaces the previous one whole.
    let temp = to.join(INDEX_COPY);
    remove_if_present(&temp)?;
    report.index_entries = snapshot.copy_into(&temp, &index_key)?;
    report.index_bytes = fs::metadata(&temp).map_or(0, |m| m.len());
    rename_into_place(&temp, &to.join(INDEX_FILE), true).map_err(Error::io("rename index copy"))?;
    drop(snapshot);
    drop(pin);

    // Only now may what the previous index referenced go.
    report.chunks_removed = prune(&target_chunks, &live, &refs)?;
    target_shares.sweep(|bucket| live.contains(bucket))?;
    Ok(report)
}

/// Removes from the target's chunk tree what the new index copy does not reference: the
/// directories of buckets gone, chunk files of no live version, and temp files of an
/// interrupted run. Returns the files removed (chunks and temps).
fn prune(
    target: &ChunkStore,
    live: &HashSet<BucketId>,
    refs: &BTreeSet<(BucketId, ChunkId)>,
) -> Result<u64> {
    for bucket in target.bucket_dirs()? {
        if !live.contains(&bucket) {
            target.remove_bucket(&bucket)?;
        }
    }
    let mut stale = Vec::new();
    let mut removed = 0;
    target.each_file(|entry| {
        match entry {
            TreeEntry::Chunk { bucket, id, .. } if !refs.contains(&(bucket, id)) => {
                stale.push((bucket, id));
            }
            TreeEntry::Temp { path, .. } => {
                ChunkStore::remove_temp(path)?;
                removed += 1;
            }
            TreeEntry::Chunk { .. } | TreeEntry::Foreign => {}
        }
        Ok(())
    })?;
    for (bucket, id) in stale {
        target.remove(&bucket, &id)?;
        removed += 1;
    }
    Ok(removed)
}

/// Creates the target (0700) and its chunk folder, refusing one inside the data directory
/// (or holding it): a sweep of either would take the other's files for stale.
fn prepare_target(root: &Path, to: &Path) -> Result<()> {
    if !to.exists() {
        fs::create_dir_all(to).map_err(Error::io("create backup directory"))?;
    }
    create_dir_private(to, true)?;
    let canonical = |p: &Path| fs::canonicalize(p).map_err(Error::io("resolve backup path"));
    let (root, target) = (canonical(root)?, canonical(to)?);
    if target.starts_with(&root) || root.starts_with(&target) {
        return Err(Error::BackupTarget {
            what: "the backup directory must be outside the data directory",
        });
    }
    // Private as a data directory is, even if it existed with a looser mode.
    fs::set_permissions(&target, std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .map_err(Error::io("chmod backup directory"))?;
    create_dir_private(&target.join("chunks"), true)?;
    Ok(())
}

/// Copies each referenced chunk not already in `target` with the same size.
fn copy_chunks(
    source: &ChunkStore,
    target: &ChunkStore,
    refs: &BTreeSet<(BucketId, ChunkId)>,
    report: &mut BackupReport,
) -> Result<()> {
    for (bucket, id) in refs {
        let Some(len) = source.len_of(bucket, id)? else {
            report.chunks_missing += 1;
            continue;
        };
        if target.len_of(bucket, id).is_ok_and(|l| l == Some(len)) {
            report.chunks_present += 1;
            continue;
        }
        let sealed = source
            .get(bucket, id)
            .map_err(Error::io("read chunk file"))?;
        target.put(bucket, id, &sealed)?;
        report.chunks_copied += 1;
        report.bytes_copied += sealed.len() as u64;
    }
    Ok(())
}

/// Copies the KMS shares present now, and removes from the target those gone here (their
/// keys were destroyed). Returns the shares copied.
fn copy_kms_shares(shared: &Shared, to: &Path) -> Result<u64> {
    let target = KeyShares::open_in(to, crate::kms_shares::DIR, true)?;
    let present: HashSet<BucketId> = shared.kms_shares.list()?.into_iter().flatten().collect();
    let mut copied = 0;
    for id in &present {
        match shared.kms_shares.copy_into(&target, id) {
            Ok(done) => copied += u64::from(done),
            // Destroyed since it was listed: as if it had been before.
            Err(Error::Corrupt { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    for id in target.list()?.into_iter().flatten() {
        if !present.contains(&id) {
            target.remove(&id)?;
        }
    }
    Ok(copied)
}

/// Copies `from` to `to` durably if `to` is missing or differs in size or modification
/// time; the copy gets `from`'s modification time, so the next run skips it. A missing
/// `from` removes `to`. Returns 1 if it copied.
fn copy_file(from: &Path, to: &Path) -> Result<u64> {
    let meta = match fs::metadata(from) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            remove_if_present(to)?;
            return Ok(0);
        }
        Err(source) => {
            return Err(Error::Io {
                action: "stat file to back up",
                source,
            });
        }
    };
    let modified = meta.modified().map_err(Error::io("stat file to back up"))?;
    if let Ok(there) = fs::metadata(to)
        && there.len() == meta.len()
        && there.modified().ok() == Some(modified)
    {
        return Ok(0);
    }
    let bytes = fs::read(from).map_err(Error::io("read file to back up"))?;
    let mut temp = to.as_os_str().to_owned();
    temp.push(TEMP_SUFFIX);
    let temp = PathBuf::from(temp);
    replace_file(&temp, to, &bytes, true).map_err(Error::io("write backup file"))?;
    fs::File::options()
        .write(true)
        .open(to)
        .and_then(|f| f.set_modified(modified))
        .map_err(Error::io("set backup file time"))?;
    Ok(1)
}

/// Mirrors the files of folder `from` (not its subfolders) into `to`: copies what differs
/// ([`copy_file`]), removes what `from` no longer has. Returns the files copied.
fn mirror(from: &Path, to: &Path) -> Result<u64> {
    let entries = match fs::read_dir(from) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(source) => {
            return Err(Error::Io {
                action: "list folder to back up",
                source,
            });
        }
    };
    create_dir_private(to, true)?;
    let mut names = HashSet::new();
    let mut copied = 0;
    for entry in entries {
        let entry = entry.map_err(Error::io("list folder to back up"))?;
        if !entry
            .file_type()
            .map_err(Error::io("list folder to back up"))?
            .is_file()
        {
            continue;
        }
        copied += copy_file(&entry.path(), &to.join(entry.file_name()))?;
        names.insert(entry.file_name());
    }
    for entry in fs::read_dir(to).map_err(Error::io("list backup folder"))? {
        let entry = entry.map_err(Error::io("list backup folder"))?;
        if !names.contains(&entry.file_name()) {
            remove_if_present(&entry.path())?;
        }
    }
    Ok(copied)
}

fn remove_if_present(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::Io {
            action: "remove backup file",
            source: e,
        }),
        _ => Ok(()),
    }
}
