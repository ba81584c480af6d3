//! Store-level tests through the public API: chunking edges, refcounts and GC, dedup,
//! reopen, the master-key check, listing against a model, group commit, and writers that
//! give up. Each guards a behaviour the server relies on.

// Test sizes are small; long table-driven tests read better whole.
#![allow(clippy::cast_possible_truncation, clippy::too_many_lines)]

mod at_rest;
mod backup;
mod faults;
mod fsck;
mod inline;
mod listing;
mod memory;
mod object_acl;
mod objects;
mod races;
mod scrub;
mod settings;
mod shipping;
mod sse_c;
mod unlockers;
mod versions;

use std::path::{Path, PathBuf};

use bytes::Bytes;

use crate::*;

pub(crate) const CHUNK: usize = MIN_CHUNK_SIZE;

/// Deterministic pseudo-random bytes (xorshift), distinct per seed.
pub(crate) fn body(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x.to_le_bytes()[0]
        })
        .collect()
}

pub(crate) fn config(
    root: &Path,
    key: &MasterKey,
    durability: Durability,
    index: IndexLocation,
) -> StoreConfig {
    StoreConfig {
        placement: Placement::Directory {
            root: root.to_path_buf(),
            index,
        },
        chunk_size: CHUNK,
        // These tests look at chunk files; `tests/inline.rs` turns inlining on.
        inline_max: 0,
        durability,
        master_key: MasterKey::from_base64(&key.to_base64()).unwrap(),
    }
}

/// A relaxed, in-memory-index store in a temp dir.
pub(crate) async fn ephemeral() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let key = MasterKey::generate().unwrap();
    let store = Store::open(config(
        dir.path(),
        &key,
        Durability::Relaxed,
        IndexLocation::Memory,
    ))
    .await
    .unwrap();
    (dir, store)
}

/// Writes `data` in pieces of `piece` bytes and commits it.
pub(crate) async fn put(
    store: &Store,
    bucket: &BucketInfo,
    key: &str,
    data: &[u8],
    piece: usize,
) -> ObjectInfo {
    let mut writer = store.object_writer(bucket).await.unwrap();
    for part in data.chunks(piece.max(1)) {
        writer.write(Bytes::copy_from_slice(part)).await.unwrap();
    }
    assert_eq!(writer.len(), data.len() as u64);
    let staged = writer.finish().await.unwrap();
    store
        .commit_object(bucket, key, staged, ObjectMeta::default())
        .await
        .unwrap()
}

/// Writes `data` in one piece under `external` (SSE-C, SSE-KMS), if any, and commits it.
pub(crate) async fn put_under(
    store: &Store,
    bucket: &BucketInfo,
    name: &str,
    data: &[u8],
    external: Option<&ExternalKey>,
) -> ObjectInfo {
    let mut writer = store.object_writer_with(bucket, external).await.unwrap();
    writer.write(Bytes::copy_from_slice(data)).await.unwrap();
    let staged = writer.finish().await.unwrap();
    store
        .commit_object(bucket, name, staged, ObjectMeta::default())
        .await
        .unwrap()
}

/// Starts a multipart upload of `key` with no metadata, checksum or lock.
pub(crate) async fn new_upload(store: &Store, bucket: &BucketInfo, key: &str) -> UploadInfo {
    store
        .create_upload(
            bucket,
            key,
            ObjectMeta::default(),
            None,
            None,
            ObjectLock::default(),
        )
        .await
        .unwrap()
}

/// Writes `data` as the only part of `upload_id` (under `external`, if any) and completes
/// the upload with it.
pub(crate) async fn one_part_upload(
    store: &Store,
    bucket: &BucketInfo,
    key: &str,
    upload_id: &str,
    data: &'static [u8],
    external: Option<&ExternalKey>,
) -> ObjectInfo {
    let mut writer = store.part_writer_with(bucket, external).await.unwrap();
    writer.write(Bytes::from_static(data)).await.unwrap();
    let staged = writer.finish().await.unwrap();
    let part = store
        .commit_part(bucket, key, upload_id, 1, staged, vec![])
        .await
        .unwrap();
    store
        .complete_upload(bucket, key, upload_id, vec![(1, part.etag)], vec![], None)
        .await
        .unwrap()
}

pub(crate) async fn get(
    store: &Store,
    info: &ObjectInfo,
    range: std::ops::Range<u64>,
) -> Result<Vec<u8>> {
    let mut reader = store.read_object(info, range);
    let mut out = Vec::new();
    while let Some(piece) = reader.recv().await {
        out.extend_from_slice(&piece?);
    }
    Ok(out)
}

pub(crate) fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

pub(crate) fn chunk_files(root: &Path) -> usize {
    files_under(&root.join("chunks")).len()
}

/// Polls until `root` holds `want` chunk files (releases are processed asynchronously).
pub(crate) async fn wait_chunk_files(store: &Store, root: &Path, want: usize) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        store.flush().await.unwrap();
        let have = chunk_files(root);
        if have == want {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{have} chunk files, want {want}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}
