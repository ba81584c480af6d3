//! Small bodies kept in their object record (issue 14): no chunk file, the same seal, and
//! every path that reads, copies, checks or backs up an object handles them. Guards
//! against an inline body stored in clear inside the index, one that a copy, a version or
//! a reopen loses, and a multipart part that goes inline.

use std::sync::Arc;

use super::at_rest::{contains, decrypted_index, open_cfg};
use super::*;
use crate::scrub::ScrubProgress;
use zeroize::Zeroizing;

fn inline_cfg(root: &Path, key: &MasterKey) -> StoreConfig {
    StoreConfig {
        inline_max: DEFAULT_INLINE_MAX,
        ..open_cfg(root, key)
    }
}

async fn read(store: &Store, info: &ObjectInfo, range: std::ops::Range<u64>) -> Vec<u8> {
    get(store, info, range).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_bodies_live_in_their_record_and_survive_reopen_copy_and_backup() {
    let (data, out) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let key = MasterKey::generate().unwrap();
    let store = Store::open(inline_cfg(data.path(), &key)).await.unwrap();
    let bucket = store.create_bucket("b", "owner").await.unwrap();
    let other = store.create_bucket("other", "owner").await.unwrap();

    // At and below the limit: no chunk file. Above it: chunk files as before.
    let sizes = [
        1,
        100,
        DEFAULT_INLINE_MAX,
        DEFAULT_INLINE_MAX + 1,
        CHUNK + 5,
    ];
    let mut files = 0;
    for (i, &size) in sizes.iter().enumerate() {
        let data_now = body(i as u64, size);
        let info = put(&store, &bucket, &format!("k{size}"), &data_now, 1000).await;
        assert_eq!(info.size, size as u64);
        if size > DEFAULT_INLINE_MAX {
            files += size.div_ceil(CHUNK);
        }
        assert_eq!(chunk_files(data.path()), files, "after {size} bytes");
        assert_eq!(read(&store, &info, 0..info.size).await, data_now);
    }

    // Ranges of an inline body are cut from the one sealed piece.
    let small = store.head_object(&bucket, "k100").await.unwrap();
    let whole = body(1, 100);
    assert_eq!(read(&store, &small, 10..20).await, whole[10..20]);
    assert_eq!(read(&store, &small, 99..500).await, whole[99..]);
    assert!(read(&store, &small, 100..200).await.is_empty());

    // Copies: in the bucket (the record's body is linked), and to another bucket
    // (opened and resealed under that bucket's keys, inline again).
    let linked = store
        .copy_object(
            &small,
            &bucket,
            "linked",
            ObjectMeta::default(),
            WriteOptions::default(),
        )
        .await
        .unwrap();
    let moved = store
        .copy_object(
            &small,
            &other,
            "moved",
            ObjectMeta::default(),
            WriteOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(read(&store, &linked, 0..100).await, whole);
    assert_eq!(read(&store, &moved, 0..100).await, whole);
    assert_eq!(chunk_files(data.path()), files, "copies made no chunk file");

    // Replaced and deleted inline objects free nothing that others use.
    put(&store, &bucket, "k1", b"replaced", 8).await;
    assert!(store.delete_object(&bucket, "k100").await.unwrap());
    assert_eq!(read(&store, &linked, 0..100).await, whole);

    let report = store.fsck(FsckMode::Check).await.unwrap();
    assert_eq!(report.findings, [], "{report:?}");
    let inline_now = 4; // k1, k16384, linked, moved
    assert_eq!(
        report.counts.chunks_verified,
        (inline_now + files) as u64,
        "fsck opens inline bodies too"
    );
    let scrub = store
        .scrub(0, Arc::new(ScrubProgress::default()))
        .await
        .unwrap();
    assert_eq!(scrub.findings, []);
    assert_eq!(scrub.chunks_verified, (inline_now + files) as u64);

    let target = out.path().join("backup");
    let backed = store.backup(target.clone(), Vec::new()).await.unwrap();
    assert!(backed.is_complete(), "{backed:?}");
    store.shutdown().await;

    // The records were written to disk and read back; the backup opens the same way.
    for root in [data.path(), target.as_path()] {
        let store = Store::open(inline_cfg(root, &key)).await.unwrap();
        let bucket = store.bucket("b").await.unwrap();
        let info = store.head_object(&bucket, "linked").await.unwrap();
        assert_eq!(read(&store, &info, 0..100).await, whole);
        let info = store.head_object(&bucket, "k1").await.unwrap();
        assert_eq!(read(&store, &info, 0..100).await, b"replaced");
        let other = store.bucket("other").await.unwrap();
        let info = store.head_object(&other, "moved").await.unwrap();
        assert_eq!(read(&store, &info, 0..100).await, whole);
        store.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p3_an_inline_body_is_sealed_inside_the_sealed_index() {
    let dir = tempfile::tempdir().unwrap();
    let key = MasterKey::generate().unwrap();
    let store = Store::open(inline_cfg(dir.path(), &key)).await.unwrap();
    let bucket = store.create_bucket("b", "owner").await.unwrap();
    let marker = b"inline-body-marker-7c1d";
    let info = put(&store, &bucket, "k", marker, marker.len()).await;
    assert_eq!(chunk_files(dir.path()), 0, "the body is inline");
    assert_eq!(read(&store, &info, 0..100).await, marker);
    store.shutdown().await;

    for file in files_under(dir.path()) {
        let bytes = std::fs::read(&file).unwrap();
        assert!(!contains(&bytes, marker), "marker in {}", file.display());
    }
    // Under the index's own seal, the body is sealed again with the bucket's keys.
    assert!(!contains(&decrypted_index(dir.path(), &key), marker));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inline_bodies_keep_customer_keys_and_versions() {
    let dir = tempfile::tempdir().unwrap();
    let key = MasterKey::generate().unwrap();
    let store = Store::open(inline_cfg(dir.path(), &key)).await.unwrap();
    let bucket = store.create_bucket("b", "owner").await.unwrap();
    store
        .set_versioning("b", crate::Versioning::Enabled)
        .await
        .unwrap();
    let bucket = store.bucket(&bucket.name).await.unwrap();

    // SSE-C: sealed under the derived keys, opened only with the customer's key.
    let customer = ExternalKey::Customer(CustomerKey::from_bytes(Zeroizing::new([5; 32])));
    let sse = put_under(&store, &bucket, "sse", b"secret", Some(&customer)).await;
    assert_eq!(chunk_files(dir.path()), 0);
    let mut reader = store.read_object_with(&sse, 0..6, Some(&customer));
    assert_eq!(&reader.recv().await.unwrap().unwrap()[..], b"secret");
    let mut reader = store.read_object_with(&sse, 0..6, None);
    assert!(reader.recv().await.unwrap().is_err(), "no key, no body");

    // Versions each keep their own inline body.
    let first = put(&store, &bucket, "v", b"first", 5).await;
    let second = put(&store, &bucket, "v", b"second", 6).await;
    assert_ne!(first.version_id, second.version_id);
    let old = store
        .head_version(
            &bucket,
            "v",
            Some(VersionRef::parse(first.version_id.as_deref().unwrap()).unwrap()),
        )
        .await
        .unwrap();
    assert_eq!(read(&store, &old, 0..10).await, b"first");
    assert_eq!(read(&store, &second, 0..10).await, b"second");
    store.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multipart_parts_never_go_inline() {
    let dir = tempfile::tempdir().unwrap();
    let key = MasterKey::generate().unwrap();
    let store = Store::open(inline_cfg(dir.path(), &key)).await.unwrap();
    let bucket = store.create_bucket("b", "owner").await.unwrap();
    let upload = new_upload(&store, &bucket, "m").await;

    // A body staged for an object is refused as a part.
    let mut writer = store.object_writer(&bucket).await.unwrap();
    writer.write(Bytes::from_static(b"tiny")).await.unwrap();
    let staged = writer.finish().await.unwrap();
    assert!(
        store
            .commit_part(&bucket, "m", &upload.upload_id, 1, staged, vec![])
            .await
            .is_err()
    );

    let info = one_part_upload(&store, &bucket, "m", &upload.upload_id, b"tiny", None).await;
    assert_eq!(chunk_files(dir.path()), 1, "a part is a chunk file");
    assert_eq!(read(&store, &info, 0..10).await, b"tiny");
    store.shutdown().await;
}
