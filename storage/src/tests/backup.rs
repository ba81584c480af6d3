//! Online backup (issue 13): the backup directory opens as a data directory under the same
//! master key and holds every object of the snapshot, byte for byte; a second run copies
//! only new chunks and drops what is no longer referenced (a deleted bucket's share too);
//! a chunk unreferenced while a backup's pin is held keeps its file until the pin goes;
//! nothing readable reaches the backup (P3); a target inside the data directory is refused.

use super::at_rest::{decrypted_index, open_cfg};
use super::*;
use crate::backup::Pin;

async fn read_all(store: &Store, bucket: &str, key: &str) -> Vec<u8> {
    let bucket = store.bucket(bucket).await.unwrap();
    let info = store.head_object(&bucket, key).await.unwrap();
    get(store, &info, 0..info.size).await.unwrap()
}

#[tokio::test]
async fn backup_opens_as_a_data_directory_and_is_incremental() {
    let (data, out) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let target = out.path().join("backup");
    let key = MasterKey::generate().unwrap();
    let store = Store::open(open_cfg(data.path(), &key)).await.unwrap();
    let marker = "backup-marker-5f3a9c";
    let bucket = store.create_bucket(marker, "owner").await.unwrap();
    let doomed = store.create_bucket("doomed", "owner").await.unwrap();
    let big = body(1, 3 * CHUNK + 17);
    put(&store, &bucket, marker, &big, CHUNK).await;
    put(&store, &bucket, "small", marker.as_bytes(), 100).await;
    put(&store, &doomed, "x", &body(2, CHUNK), CHUNK).await;

    let first = store.backup(target.clone(), Vec::new()).await.unwrap();
    assert!(first.is_complete(), "{first:?}");
    assert_eq!(first.buckets, 2);
    assert_eq!(first.chunks_copied, first.chunks_referenced);
    assert_eq!(first.chunks_present, 0);

    // Unchanged: nothing copied again.
    let again = store.backup(target.clone(), Vec::new()).await.unwrap();
    assert_eq!(
        (again.chunks_copied, again.chunks_present),
        (0, first.chunks_referenced)
    );

    // One new object, one deleted bucket: only the new chunk is copied; the deleted
    // bucket's chunks and share leave the backup too.
    put(&store, &bucket, "new", &body(3, 1000), 1000).await;
    store.delete_object(&doomed, "x").await.unwrap();
    store.delete_bucket("doomed").await.unwrap();
    let third = store.backup(target.clone(), Vec::new()).await.unwrap();
    assert_eq!(third.chunks_copied, 1, "{third:?}");
    assert_eq!(third.buckets, 1);
    assert_eq!(
        files_under(&target.join("key-shares")).len(),
        1,
        "the deleted bucket's share is gone from the backup"
    );
    assert!(!target.join("chunks").join(hex::encode(doomed.id)).exists());
    store.shutdown().await;

    // P3: the marker went in as a bucket name, a key and a body; the backup holds it
    // nowhere, the index copy included (sealed, not just compressed).
    for file in files_under(&target) {
        let bytes = std::fs::read(&file).unwrap();
        assert!(
            !bytes.windows(marker.len()).any(|w| w == marker.as_bytes()),
            "{} holds the marker",
            file.display()
        );
    }
    let plain = decrypted_index(&target, &key);
    assert!(plain.windows(marker.len()).any(|w| w == marker.as_bytes()));

    // The backup is a data directory: it opens under the same key and fsck finds it clean.
    let restored = Store::open_unswept(open_cfg(&target, &key)).await.unwrap();
    let report = restored.fsck(FsckMode::Check).await.unwrap();
    assert!(report.is_clean(), "{:?}", report.findings);
    assert_eq!(read_all(&restored, marker, marker).await, big);
    assert_eq!(
        read_all(&restored, marker, "small").await,
        marker.as_bytes()
    );
    assert_eq!(read_all(&restored, marker, "new").await, body(3, 1000));
    assert!(matches!(
        restored.bucket("doomed").await,
        Err(Error::NoSuchBucket)
    ));
    restored.shutdown().await;

    // Another master key opens nothing.
    let other = MasterKey::generate().unwrap();
    assert!(matches!(
        Store::open(open_cfg(&target, &other)).await,
        Err(Error::WrongMasterKey)
    ));
}

#[tokio::test]
async fn removals_wait_for_the_pin() {
    let dir = tempfile::tempdir().unwrap();
    let key = MasterKey::generate().unwrap();
    let store = Store::open(open_cfg(dir.path(), &key)).await.unwrap();
    let bucket = store.create_bucket("b", "owner").await.unwrap();
    put(&store, &bucket, "a", &body(1, 500), 500).await;
    let doomed = store.create_bucket("doomed", "owner").await.unwrap();
    put(&store, &doomed, "x", &body(2, 500), 500).await;
    assert_eq!(chunk_files(dir.path()), 2);

    let pin = Pin::hold(&store.inner.shared);
    store.delete_object(&bucket, "a").await.unwrap();
    store.delete_object(&doomed, "x").await.unwrap();
    store.delete_bucket("doomed").await.unwrap();
    store.flush().await.unwrap();
    assert_eq!(chunk_files(dir.path()), 2, "nothing removed while pinned");
    assert_eq!(files_under(&dir.path().join("key-shares")).len(), 2);

    // Re-referenced while pinned: must survive the deferred removal.
    put(&store, &bucket, "a-again", &body(1, 500), 500).await;
    drop(pin);
    wait_chunk_files(&store, dir.path(), 1).await;
    assert_eq!(files_under(&dir.path().join("key-shares")).len(), 1);
    let info = store.head_object(&bucket, "a-again").await.unwrap();
    assert_eq!(get(&store, &info, 0..500).await.unwrap(), body(1, 500));
    store.shutdown().await;
}

#[tokio::test]
async fn refuses_a_target_inside_the_data_directory_or_an_ephemeral_store() {
    let dir = tempfile::tempdir().unwrap();
    let key = MasterKey::generate().unwrap();
    let store = Store::open(open_cfg(dir.path(), &key)).await.unwrap();
    let inside = dir.path().join("backup");
    assert!(matches!(
        store.backup(inside, Vec::new()).await,
        Err(Error::BackupTarget { .. })
    ));
    store.shutdown().await;
    let (_dir, memory) = ephemeral().await;
    let out = tempfile::tempdir().unwrap();
    assert!(matches!(
        memory.backup(out.path().to_path_buf(), Vec::new()).await,
        Err(Error::BackupTarget { .. })
    ));
    memory.shutdown().await;
}
