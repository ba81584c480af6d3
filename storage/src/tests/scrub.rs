//! The online scrub (issue 13): it names a corrupt chunk and a missing one while the store
//! serves, skips what it cannot verify (SSE-C), reports progress, keeps to its rate, and
//! stops at shutdown.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use zeroize::Zeroizing;

use super::*;
use crate::scrub::ScrubProgress;

async fn filled() -> (tempfile::TempDir, Store, BucketInfo) {
    let dir = tempfile::tempdir().unwrap();
    let key = MasterKey::generate().unwrap();
    let store = Store::open(config(
        dir.path(),
        &key,
        Durability::Relaxed,
        IndexLocation::File,
    ))
    .await
    .unwrap();
    let bucket = store.create_bucket("b", "o").await.unwrap();
    put(&store, &bucket, "a", &body(1, 2 * CHUNK), CHUNK).await;
    put(&store, &bucket, "b", &body(2, 100), CHUNK).await;
    put(&store, &bucket, "c", &body(3, 100), CHUNK).await;
    let customer = ExternalKey::Customer(CustomerKey::from_bytes(Zeroizing::new([7; 32])));
    let mut writer = store
        .object_writer_with(&bucket, Some(&customer))
        .await
        .unwrap();
    writer.write(Bytes::from(body(4, 100))).await.unwrap();
    let staged = writer.finish().await.unwrap();
    store
        .commit_object(&bucket, "secret", staged, ObjectMeta::default())
        .await
        .unwrap();
    (dir, store, bucket)
}

/// The file of `info`'s chunk `i` (blocking: call off the runtime).
fn chunk_path(store: &Store, bucket: &BucketInfo, info: &ObjectInfo, i: usize) -> PathBuf {
    let shared = &store.inner.shared;
    let key = info.key.clone();
    let id = bucket.id;
    let record = shared
        .runtime
        .block_on(shared.read(move |s| s.object(&id, &key)))
        .unwrap()
        .unwrap();
    shared.chunks.path(&bucket.id, &record.chunks[i].id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrub_names_corrupt_and_missing_chunks_while_serving() {
    let (_dir, store, bucket) = filled().await;
    let progress = Arc::new(ScrubProgress::default());
    let clean = store.scrub(0, progress.clone()).await.unwrap();
    assert_eq!(clean.findings, []);
    assert_eq!(clean.versions, 4);
    assert_eq!(
        clean.chunks_verified, 4,
        "a's two, b's, c's; not the SSE-C one"
    );

    let a = store.head_object(&bucket, "a").await.unwrap();
    let c = store.head_object(&bucket, "c").await.unwrap();
    let (store2, bucket2) = (store.clone(), bucket.clone());
    let (corrupt, missing) = tokio::task::spawn_blocking(move || {
        (
            chunk_path(&store2, &bucket2, &a, 1),
            chunk_path(&store2, &bucket2, &c, 0),
        )
    })
    .await
    .unwrap();
    let mut bytes = std::fs::read(&corrupt).unwrap();
    bytes[20] ^= 4;
    std::fs::write(&corrupt, bytes).unwrap();
    std::fs::remove_file(&missing).unwrap();

    let report = store.scrub(0, progress.clone()).await.unwrap();
    let mut kinds: Vec<&str> = report.findings.iter().map(Finding::kind).collect();
    kinds.sort_unstable();
    assert_eq!(kinds, ["broken_seal", "missing_chunk"]);
    assert_eq!(progress.passes.load(Ordering::Relaxed), 2);
    assert_eq!(progress.findings.load(Ordering::Relaxed), 2);
    assert_eq!(
        progress.versions_done.load(Ordering::Relaxed),
        progress.versions_total.load(Ordering::Relaxed)
    );
    // The store serves on: b still reads back.
    let b = store.head_object(&bucket, "b").await.unwrap();
    assert_eq!(get(&store, &b, 0..b.size).await.unwrap(), body(2, 100));
    store.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrub_keeps_to_its_rate_and_stops_at_shutdown() {
    let (_dir, store, _bucket) = filled().await;
    // a's two chunks alone are 2 × 64 KiB: at 256 KiB/s the pass cannot end before
    // half a second.
    let started = std::time::Instant::now();
    let report = store
        .scrub(256 * 1024, Arc::new(ScrubProgress::default()))
        .await
        .unwrap();
    assert!(!report.stopped);
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(450),
        "{:?}",
        started.elapsed()
    );

    // At 1 KiB/s a pass would take minutes; shutdown ends it at once.
    let slow = tokio::spawn({
        let store = store.clone();
        async move { store.scrub(1024, Arc::new(ScrubProgress::default())).await }
    });
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let stopping = std::time::Instant::now();
    store.shutdown().await;
    let report = slow.await.unwrap();
    assert!(
        matches!(&report, Ok(r) if r.stopped) || matches!(report, Err(Error::ShuttingDown)),
        "{report:?}"
    );
    assert!(stopping.elapsed() < std::time::Duration::from_secs(5));
}
