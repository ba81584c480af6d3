//! `fsck` against a real durable store (issue 13): a clean store has no findings; a flipped
//! byte, a deleted chunk file, an orphaned chunk file and a wrong refcount are each named;
//! `--repair` fixes refcounts and removes the orphan and nothing referenced; an SSE-C
//! object counts as not verifiable here, never as corrupt.

use zeroize::Zeroizing;

use super::at_rest::open_cfg;
use super::*;
use crate::chunks::chunk_id::ChunkId;
use crate::records::ChunkRef;

fn customer() -> ExternalKey {
    ExternalKey::Customer(CustomerKey::from_bytes(Zeroizing::new([7; 32])))
}

/// The chunks of `key`'s current version.
async fn chunks_of(store: &Store, bucket: &BucketInfo, key: &str) -> Vec<ChunkRef> {
    let (id, key) = (bucket.id, key.to_owned());
    store
        .inner
        .shared
        .read(move |s| s.object(&id, &key))
        .await
        .unwrap()
        .unwrap()
        .chunks
}

/// A durable store with plain objects (one of two chunks, one a duplicate of another's
/// content), an SSE-C object, and an upload with one part in progress.
async fn filled(root: &Path, key: &MasterKey) -> BucketInfo {
    let store = Store::open(open_cfg(root, key)).await.unwrap();
    let bucket = store.create_bucket("b", "owner").await.unwrap();
    put(&store, &bucket, "a", &body(1, CHUNK + 100), CHUNK).await;
    put(&store, &bucket, "b", &body(2, 300), 300).await;
    put(&store, &bucket, "b-again", &body(2, 300), 300).await;
    put(&store, &bucket, "c", &body(3, 500), 500).await;
    let mut writer = store
        .object_writer_with(&bucket, Some(&customer()))
        .await
        .unwrap();
    writer.write(Bytes::from(body(4, 200))).await.unwrap();
    let staged = writer.finish().await.unwrap();
    store
        .commit_object(&bucket, "secret", staged, ObjectMeta::default())
        .await
        .unwrap();
    let upload = new_upload(&store, &bucket, "mp").await;
    let mut writer = store.part_writer_with(&bucket, None).await.unwrap();
    writer.write(Bytes::from(body(5, 400))).await.unwrap();
    let staged = writer.finish().await.unwrap();
    store
        .commit_part(&bucket, "mp", &upload.upload_id, 1, staged, Vec::new())
        .await
        .unwrap();
    store.shutdown().await;
    bucket
}

/// A [`filled`] store in a new directory, opened without the tidying pass (which would
/// remove what the tests plant). The directory lives as long as the first value.
async fn filled_unswept() -> (tempfile::TempDir, MasterKey, BucketInfo, Store) {
    let dir = tempfile::tempdir().unwrap();
    let key = MasterKey::generate().unwrap();
    let bucket = filled(dir.path(), &key).await;
    let store = Store::open_unswept(open_cfg(dir.path(), &key))
        .await
        .unwrap();
    (dir, key, bucket, store)
}

/// Seals and stores a chunk of `bucket` that nothing references; its id.
async fn orphan_in(store: &Store, bucket: &BucketInfo) -> ChunkId {
    let shared = &store.inner.shared;
    let keys = shared.bucket_keys(&bucket.id).await.unwrap();
    let plain = body(9, 100);
    let orphan = ChunkId::of(&keys, &plain);
    let sealed = crate::chunks::seal::seal(&keys, &orphan, &plain).unwrap();
    shared.chunks.put(&bucket.id, &orphan, &sealed).unwrap();
    orphan
}

#[tokio::test]
async fn fsck_clean_store_has_no_findings_and_sse_c_is_not_verifiable() {
    let dir = tempfile::tempdir().unwrap();
    let key = MasterKey::generate().unwrap();
    filled(dir.path(), &key).await;
    let store = Store::open_unswept(open_cfg(dir.path(), &key))
        .await
        .unwrap();
    let report = store.fsck(FsckMode::Check).await.unwrap();
    store.shutdown().await;
    assert_eq!(report.findings, Vec::new());
    assert!(report.is_clean());
    let c = report.counts;
    assert_eq!((c.buckets, c.objects, c.versions, c.parts), (1, 5, 0, 1));
    assert_eq!(c.customer_key, 1, "the SSE-C object is counted as such");
    // a: 2 chunks, b and b-again: 1 shared, c, secret, the part: 1 each.
    assert_eq!(c.chunks_referenced, 6);
    assert_eq!(c.chunk_files, 6);
    assert_eq!(c.chunks_verified, 5, "all but the SSE-C chunk are opened");
}

#[tokio::test]
async fn fsck_names_each_fault_and_repair_fixes_only_what_it_can() {
    let (dir, key, bucket, store) = filled_unswept().await;
    let root = dir.path();
    let shared = store.inner.shared.clone();
    let a = chunks_of(&store, &bucket, "a").await;
    let b = chunks_of(&store, &bucket, "b").await;
    let c = chunks_of(&store, &bucket, "c").await;
    // A flipped byte in one of a's chunks.
    let path = shared.chunks.path(&bucket.id, &a[1].id);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[10] ^= 1;
    std::fs::write(&path, bytes).unwrap();
    // c's chunk deleted.
    std::fs::remove_file(shared.chunks.path(&bucket.id, &c[0].id)).unwrap();
    // A properly sealed chunk nothing references.
    let orphan = orphan_in(&store, &bucket).await;
    // b's shared chunk's refcount set from 2 to 5.
    let mut batch = shared.index().unwrap().batch(true).unwrap();
    batch.set_refcount(&bucket.id, &b[0].id, 5).unwrap();
    batch.commit().unwrap();

    let report = store.fsck(FsckMode::Check).await.unwrap();
    let mut want = vec![
        Finding::BrokenSeal {
            bucket: bucket.id,
            chunk: a[1].id,
        },
        Finding::MissingChunk {
            bucket: bucket.id,
            chunk: c[0].id,
        },
        Finding::OrphanChunk {
            bucket: bucket.id,
            chunk: orphan,
        },
        Finding::Refcount {
            bucket: bucket.id,
            chunk: b[0].id,
            stored: 5,
            counted: 2,
        },
    ];
    let sorted = |mut v: Vec<Finding>| {
        v.sort_by_key(Finding::to_string);
        v
    };
    want = sorted(want);
    assert_eq!(sorted(report.findings.clone()), want);
    assert_eq!(report.remaining().count(), 4);
    assert!(
        shared.chunks.exists(&bucket.id, &orphan).unwrap(),
        "check changes nothing"
    );

    let repaired = store.fsck(FsckMode::Repair).await.unwrap();
    let r = repaired.repairs.unwrap();
    assert_eq!((r.refcounts, r.orphans_removed, r.refused), (1, 1, None));
    let left = sorted(repaired.remaining().cloned().collect());
    let unrepairable: Vec<Finding> = want.iter().filter(|f| !f.repairable()).cloned().collect();
    assert_eq!(left, unrepairable);
    assert!(!shared.chunks.exists(&bucket.id, &orphan).unwrap());

    // Afterwards only the unrepairable two are left, and the good objects read back.
    let again = store.fsck(FsckMode::Check).await.unwrap();
    assert_eq!(again.findings.len(), 2, "{:?}", again.findings);
    assert!(
        again
            .findings
            .iter()
            .all(|f| matches!(f, Finding::BrokenSeal { .. } | Finding::MissingChunk { .. }))
    );
    store.shutdown().await;
    let store = Store::open(open_cfg(root, &key)).await.unwrap();
    for (name, seed, len) in [("b", 2, 300), ("b-again", 2, 300)] {
        let info = store.head_object(&bucket, name).await.unwrap();
        assert_eq!(
            get(&store, &info, 0..info.size).await.unwrap(),
            body(seed, len)
        );
    }
    store.shutdown().await;
}

#[tokio::test]
async fn a_chunk_file_in_the_wrong_folder_is_unexpected_and_never_removed() {
    let (_dir, _key, bucket, store) = filled_unswept().await;
    let shared = store.inner.shared.clone();
    let c = chunks_of(&store, &bucket, "c").await;
    // c's chunk moved into a fan-out folder that is not its id's first byte.
    let right = shared.chunks.path(&bucket.id, &c[0].id);
    let fan = right.parent().unwrap().parent().unwrap();
    let wrong_fan = fan.join(if c[0].id.0[0] == 0 { "01" } else { "00" });
    std::fs::create_dir_all(&wrong_fan).unwrap();
    let moved = wrong_fan.join(right.file_name().unwrap());
    std::fs::rename(&right, &moved).unwrap();

    let report = store.fsck(FsckMode::Repair).await.unwrap();
    let mut kinds: Vec<&str> = report.findings.iter().map(Finding::kind).collect();
    kinds.sort_unstable();
    assert_eq!(
        kinds,
        ["missing_chunk", "unexpected_file"],
        "{:?}",
        report.findings
    );
    assert_eq!(report.repairs.unwrap().orphans_removed, 0);
    assert!(
        moved.exists(),
        "repair never removes a file it cannot place"
    );
    store.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undecodable_record_blocks_every_repair() {
    let (_dir, _key, bucket, store) = filled_unswept().await;
    let shared = store.inner.shared.clone();
    // An orphan repair would remove, and a refcount it would fix...
    let orphan = orphan_in(&store, &bucket).await;
    let b = chunks_of(&store, &bucket, "b").await;
    let mut batch = shared.index().unwrap().batch(true).unwrap();
    batch.set_refcount(&bucket.id, &b[0].id, 7).unwrap();
    // ...and a record whose references nobody can read: the "orphan" may be its chunk.
    batch.garble_first_object().unwrap();
    batch.commit().unwrap();

    let report = store.fsck(FsckMode::Repair).await.unwrap();
    assert!(
        report.findings.contains(&Finding::UnreadableRecord {
            kind: RecordKind::Object
        }),
        "{:?}",
        report.findings
    );
    let repairs = report.repairs.unwrap();
    assert!(repairs.refused.is_some());
    assert_eq!(
        (repairs.refcounts, repairs.orphans_removed),
        (0, 0),
        "nothing is repaired"
    );
    assert!(shared.chunks.path(&bucket.id, &orphan).exists());
    assert!(!report.is_clean());
    // Nothing changed: the same findings again.
    let again = store.fsck(FsckMode::Check).await.unwrap();
    assert_eq!(again.findings, report.findings);
    store.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_refcount_row_costs_no_data_at_start() {
    let (dir, key, bucket, store) = filled_unswept().await;
    let root = dir.path();
    let shared = store.inner.shared.clone();
    let c = chunks_of(&store, &bucket, "c").await;
    let mut batch = shared.index().unwrap().batch(true).unwrap();
    batch.set_refcount(&bucket.id, &c[0].id, 0).unwrap();
    batch.commit().unwrap();
    store.shutdown().await;
    drop(shared);

    // The pass after open finds the file without a refcount row, sees that an object
    // still references it, and keeps it.
    let store = Store::open(open_cfg(root, &key)).await.unwrap();
    store.tidied().await;
    let info = store.head_object(&bucket, "c").await.unwrap();
    assert_eq!(
        get(&store, &info, 0..info.size).await.unwrap(),
        body(3, 500)
    );
    store.shutdown().await;

    // fsck names the missing row, and --repair restores it.
    let store = Store::open_unswept(open_cfg(root, &key)).await.unwrap();
    let report = store.fsck(FsckMode::Repair).await.unwrap();
    assert_eq!(
        report.findings,
        [Finding::Refcount {
            bucket: bucket.id,
            chunk: c[0].id,
            stored: 0,
            counted: 1
        }]
    );
    assert_eq!(store.fsck(FsckMode::Check).await.unwrap().findings, []);
    store.shutdown().await;
}

/// How long fsck takes on 10,000 small objects (run by hand with `--run-ignored only`;
/// prints the time).
#[tokio::test]
#[ignore = "a measurement, not a check"]
async fn fsck_time_on_10k_small_objects() {
    let dir = tempfile::tempdir().unwrap();
    let key = MasterKey::generate().unwrap();
    let cfg = || config(dir.path(), &key, Durability::Relaxed, IndexLocation::File);
    let store = Store::open(cfg()).await.unwrap();
    let bucket = store.create_bucket("b", "owner").await.unwrap();
    for i in 0..10_000u64 {
        put(&store, &bucket, &format!("k{i}"), &body(i, 1024), 1024).await;
    }
    store.shutdown().await;
    let store = Store::open_unswept(cfg()).await.unwrap();
    let started = std::time::Instant::now();
    let report = store.fsck(FsckMode::Check).await.unwrap();
    let took = started.elapsed();
    store.shutdown().await;
    assert!(report.is_clean(), "{:?}", report.findings);
    assert_eq!(report.counts.chunks_verified, 10_000);
    println!("fsck of 10,000 objects of 1 KiB: {took:?}");
}
