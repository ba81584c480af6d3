//! The fault-injecting layer under the chunk store (issue 13): a chunk write failing at its
//! write, its fsync, its rename or its directory's fsync, with ENOSPC or EIO, fails that
//! object only — no partial object, no leftover file, the index untouched — and the store
//! goes on: what was stored reads back, the next write succeeds, and fsck finds nothing.
//! A disk that stays full refuses writes but keeps serving reads, and recovers by itself.

use super::*;
use crate::chunks::faults::{Failure, Site};
use crate::durable::Step;

const KEPT_CHUNKS: usize = 3;

async fn durable(root: &Path, key: &MasterKey) -> Store {
    Store::open(config(
        root,
        key,
        Durability::Immediate,
        IndexLocation::File,
    ))
    .await
    .unwrap()
}

/// Writes and commits `data`; the first error on the way.
async fn try_put(store: &Store, bucket: &BucketInfo, key: &str, data: &[u8]) -> Result<()> {
    let mut writer = store.object_writer(bucket).await?;
    writer.write(Bytes::copy_from_slice(data)).await?;
    let staged = writer.finish().await?;
    store
        .commit_object(bucket, key, staged, ObjectMeta::default())
        .await?;
    Ok(())
}

fn temp_files(root: &Path) -> usize {
    files_under(&root.join("chunks"))
        .iter()
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(".tmp-")
        })
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_chunk_write_fails_that_object_and_leaves_nothing_behind() {
    let sites = [Step::Write, Step::SyncFile, Step::Rename, Step::SyncDir];
    let mut seed = 100;
    for step in sites {
        for failure in [Failure::NoSpace, Failure::Io] {
            for pass in [0, 2] {
                let case = format!("{step:?} {failure:?} after {pass}");
                let dir = tempfile::tempdir().unwrap();
                let key = MasterKey::generate().unwrap();
                let store = durable(dir.path(), &key).await;
                let bucket = store.create_bucket("b", "o").await.unwrap();
                let kept = body(seed, KEPT_CHUNKS * CHUNK);
                put(&store, &bucket, "kept", &kept, CHUNK).await;

                store
                    .inner
                    .shared
                    .chunks
                    .faults
                    .arm(Site::Write(step), failure, pass, false);
                let err = try_put(&store, &bucket, "new", &body(seed + 1, 4 * CHUNK))
                    .await
                    .expect_err(&case);
                assert_eq!(store.inner.shared.chunks.faults.disarm(), 1, "{case}");
                assert_eq!(
                    err.is_out_of_space(),
                    failure == Failure::NoSpace,
                    "{case}: {err}"
                );

                assert!(
                    matches!(
                        store.head_object(&bucket, "new").await,
                        Err(Error::NoSuchKey)
                    ),
                    "{case}: no partial object"
                );
                wait_chunk_files(&store, dir.path(), KEPT_CHUNKS).await;
                assert_eq!(temp_files(dir.path()), 0, "{case}");
                let info = store.head_object(&bucket, "kept").await.unwrap();
                assert_eq!(
                    get(&store, &info, 0..info.size).await.unwrap(),
                    kept,
                    "{case}"
                );
                let again = body(seed + 2, 2 * CHUNK);
                try_put(&store, &bucket, "new", &again).await.unwrap();
                let info = store.head_object(&bucket, "new").await.unwrap();
                assert_eq!(
                    get(&store, &info, 0..info.size).await.unwrap(),
                    again,
                    "{case}"
                );
                store.shutdown().await;

                let store = Store::open_unswept(config(
                    dir.path(),
                    &key,
                    Durability::Immediate,
                    IndexLocation::File,
                ))
                .await
                .unwrap();
                let report = store.fsck(FsckMode::Check).await.unwrap();
                assert_eq!(report.findings, [], "{case}");
                store.shutdown().await;
                seed += 10;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_writes_serves_reads_and_recovers_by_itself() {
    let dir = tempfile::tempdir().unwrap();
    let key = MasterKey::generate().unwrap();
    let store = durable(dir.path(), &key).await;
    let bucket = store.create_bucket("b", "o").await.unwrap();
    let kept = body(1, 2 * CHUNK + 5);
    put(&store, &bucket, "kept", &kept, CHUNK).await;
    put(&store, &bucket, "gone", &body(2, 10), CHUNK).await;

    let faults = &store.inner.shared.chunks.faults;
    faults.arm(Site::Write(Step::Write), Failure::NoSpace, 0, true);
    for i in 0..3 {
        let err = try_put(&store, &bucket, "new", &body(10 + i, CHUNK + 1))
            .await
            .unwrap_err();
        assert!(err.is_out_of_space(), "{err}");
        let info = store.head_object(&bucket, "kept").await.unwrap();
        assert_eq!(get(&store, &info, 0..info.size).await.unwrap(), kept);
    }
    // Deleting (which frees space) works while full.
    assert!(store.delete_object(&bucket, "gone").await.unwrap());
    assert!(faults.disarm() >= 3);

    let data = body(20, CHUNK + 1);
    try_put(&store, &bucket, "new", &data).await.unwrap();
    let info = store.head_object(&bucket, "new").await.unwrap();
    assert_eq!(get(&store, &info, 0..info.size).await.unwrap(), data);
    // kept: 3 chunks, new: 2; gone and the refused writes left none.
    wait_chunk_files(&store, dir.path(), 3 + 2).await;
    store.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_chunk_read_fails_that_read_only() {
    let dir = tempfile::tempdir().unwrap();
    let key = MasterKey::generate().unwrap();
    let store = durable(dir.path(), &key).await;
    let bucket = store.create_bucket("b", "o").await.unwrap();
    let data = body(3, 3 * CHUNK);
    put(&store, &bucket, "k", &data, CHUNK).await;
    let info = store.head_object(&bucket, "k").await.unwrap();

    let faults = &store.inner.shared.chunks.faults;
    faults.arm(Site::Read, Failure::Io, 1, false);
    let err = get(&store, &info, 0..info.size).await.unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err}");
    assert_eq!(faults.disarm(), 1);
    assert_eq!(get(&store, &info, 0..info.size).await.unwrap(), data);
    store.shutdown().await;
}
