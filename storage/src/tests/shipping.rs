//! Index shipping through a remote kept in memory: a restore rebuilds every table exactly,
//! a standby follows and refuses writes, promotion fences the old primary, and the remote
//! holds nothing readable.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::*;
use crate::index::{Index, IndexAt};
use crate::keys::keyring::Keyring;

/// An S3-like remote in memory, with create-only writes.
#[derive(Debug, Default)]
pub(crate) struct MemoryRemote {
    objects: Mutex<HashMap<String, (Vec<u8>, u64)>>,
    tags: std::sync::atomic::AtomicU64,
    /// Every call fails while set (the remote is down).
    down: std::sync::atomic::AtomicBool,
}

impl MemoryRemote {
    fn up(&self) -> std::io::Result<()> {
        if self.down.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(std::io::Error::other("the remote is down"));
        }
        Ok(())
    }

    fn all(&self) -> Vec<(String, Vec<u8>)> {
        let objects = self.objects.lock().unwrap();
        objects
            .iter()
            .map(|(k, (v, _))| (k.clone(), v.clone()))
            .collect()
    }
}

impl RemoteChunks for MemoryRemote {
    fn put(&self, name: &str, sealed: &[u8]) -> std::io::Result<()> {
        self.put_when(name, sealed, When::Absent).map(drop)
    }

    fn get(&self, name: &str) -> std::io::Result<Option<Vec<u8>>> {
        self.up()?;
        Ok(self
            .objects
            .lock()
            .unwrap()
            .get(name)
            .map(|(v, _)| v.clone()))
    }

    fn size(&self, name: &str) -> std::io::Result<Option<u64>> {
        Ok(self.get(name)?.map(|v| v.len() as u64))
    }

    fn delete(&self, name: &str) -> std::io::Result<()> {
        self.up()?;
        self.objects.lock().unwrap().remove(name);
        Ok(())
    }

    fn probe(&self) -> std::io::Result<()> {
        self.up()?;
        Ok(())
    }

    fn list(&self, prefix: &str) -> std::io::Result<Vec<(String, u64)>> {
        self.up()?;
        let objects = self.objects.lock().unwrap();
        let mut out: Vec<(String, u64)> = objects
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(k, (v, _))| (k.clone(), v.len() as u64))
            .collect();
        out.sort();
        Ok(out)
    }

    fn put_when(&self, name: &str, bytes: &[u8], when: When) -> std::io::Result<Option<()>> {
        self.up()?;
        let mut objects = self.objects.lock().unwrap();
        if when == When::Absent && objects.contains_key(name) {
            return Ok(None);
        }
        let tag = self.tags.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        objects.insert(name.to_owned(), (bytes.to_vec(), tag));
        Ok(Some(()))
    }
}

fn shipping(role: Role, node: &str) -> Shipping {
    Shipping {
        interval: Duration::from_millis(40),
        each_commit: false,
        role,
        node: node.to_owned(),
        lease: Duration::from_millis(600),
    }
}

fn remote_config(
    root: &Path,
    key: &MasterKey,
    remote: &Arc<MemoryRemote>,
    ship: Shipping,
) -> StoreConfig {
    StoreConfig {
        placement: Placement::Remote {
            root: root.to_path_buf(),
            index: IndexLocation::File,
            chunks: RemoteChunkStore {
                remote: remote.clone(),
                cache_bytes: 0,
                ship: Some(ship),
            },
        },
        chunk_size: CHUNK,
        inline_max: 1024,
        durability: Durability::Immediate,
        master_key: MasterKey::from_base64(&key.to_base64()).unwrap(),
    }
}

/// A store in `root` with its chunks and shipped index on `remote`.
async fn open_on(
    root: &Path,
    key: &MasterKey,
    remote: &Arc<MemoryRemote>,
    role: Role,
    node: &str,
) -> Store {
    Store::open(remote_config(root, key, remote, shipping(role, node)))
        .await
        .unwrap()
}

fn dump(
    root: &Path,
    key: &MasterKey,
) -> std::collections::BTreeMap<(&'static str, Vec<u8>), Vec<u8>> {
    let keyring = Keyring::new(key);
    Index::open(IndexAt::File(root), true, &keyring)
        .unwrap()
        .dump()
}

fn restore(remote: &MemoryRemote, root: &Path, key: &MasterKey) -> RestoreReport {
    fetch_shipped_files(remote, root).unwrap();
    restore_index(remote, root, key).unwrap()
}

/// Waits until `check` holds (the shipping thread works every interval).
async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !check().await {
        assert!(std::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_rebuilds_every_table_and_the_remote_reads_as_noise() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let key = MasterKey::generate().unwrap();
    let remote = Arc::new(MemoryRemote::default());
    let store = open_on(a.path(), &key, &remote, Role::Primary, "a").await;
    // Every kind of change: buckets, chunked and inline objects, versions and delete
    // markers, multipart (open and completed), settings, tags, and a deleted bucket.
    let photos = store
        .create_bucket("marker-bucket-photos", "o")
        .await
        .unwrap();
    let big = body(1, 3 * CHUNK + 17);
    put(&store, &photos, "marker-key/scan.jpg", &big, 5000).await;
    put(&store, &photos, "small", b"marker-body inline", 64).await;
    store
        .set_versioning("marker-bucket-photos", Versioning::Enabled)
        .await
        .unwrap();
    put(&store, &photos, "small", b"second version", 64).await;
    store.delete_object(&photos, "small").await.unwrap();
    let upload = new_upload(&store, &photos, "multi").await;
    one_part_upload(
        &store,
        &photos,
        "multi",
        &upload.upload_id,
        b"one part",
        None,
    )
    .await;
    new_upload(&store, &photos, "left-open").await;
    store
        .set_object_tags(
            &photos,
            "marker-key/scan.jpg",
            None,
            vec![("marker-tag".into(), "v".into())],
        )
        .await
        .unwrap();
    let gone = store.create_bucket("gone", "o").await.unwrap();
    put(&store, &gone, "x", &body(2, CHUNK + 1), 4096).await;
    store.delete_object(&gone, "x").await.unwrap();
    store.delete_bucket("gone").await.unwrap();
    store.shutdown().await;

    // Nothing readable remote: no marker in any name or byte.
    for (name, bytes) in remote.all() {
        for marker in [&b"marker-"[..], b"scan.jpg", b"second version"] {
            assert!(
                !name.as_bytes().windows(marker.len()).any(|w| w == marker),
                "{name}"
            );
            assert!(
                !bytes.windows(marker.len()).any(|w| w == marker),
                "{name} holds plaintext"
            );
        }
    }
    let report = restore(&remote, b.path(), &key);
    assert!(report.snapshot_bytes > 0);
    assert_eq!(dump(b.path(), &key), dump(a.path(), &key));

    // The restored directory serves the objects, reading chunks from the remote.
    let restored = open_on(b.path(), &key, &remote, Role::Primary, "b").await;
    let photos = restored.bucket("marker-bucket-photos").await.unwrap();
    let info = restored
        .head_object(&photos, "marker-key/scan.jpg")
        .await
        .unwrap();
    assert_eq!(get(&restored, &info, 0..info.size).await.unwrap(), big);
    assert!(matches!(
        restored.bucket("gone").await,
        Err(Error::NoSuchBucket)
    ));
    restored.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_follows_and_a_promotion_fences_the_old_primary() {
    let (a, b, c) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let key = MasterKey::generate().unwrap();
    let remote = Arc::new(MemoryRemote::default());
    let primary = open_on(a.path(), &key, &remote, Role::Primary, "a").await;
    let bucket = primary.create_bucket("b", "o").await.unwrap();
    put(&primary, &bucket, "before", &body(3, CHUNK + 5), 4096).await;
    eventually("snapshot 0 shipped", async || {
        primary.shipping().unwrap().position.seq > 0
    })
    .await;
    restore(&remote, b.path(), &key);
    let standby = open_on(b.path(), &key, &remote, Role::Standby, "b").await;
    // Follows what comes after its restore.
    let later = body(4, 2 * CHUNK);
    put(&primary, &bucket, "after", &later, 4096).await;
    eventually("the standby sees the new object", async || {
        match standby.bucket("b").await {
            Ok(b) => standby.head_object(&b, "after").await.is_ok(),
            Err(_) => false,
        }
    })
    .await;
    let on_standby = standby.bucket("b").await.unwrap();
    let info = standby.head_object(&on_standby, "after").await.unwrap();
    assert_eq!(get(&standby, &info, 0..info.size).await.unwrap(), later);
    // A standby writes nothing, not even a chunk.
    let chunks_before = remote.list("").unwrap().len();
    let mut writer = standby.object_writer(&on_standby).await.unwrap();
    let refused = writer.write(Bytes::from(body(5, 2 * CHUNK))).await;
    let refused = match refused {
        Err(e) => Err(e),
        Ok(()) => match writer.finish().await {
            Err(e) => Err(e),
            Ok(staged) => standby
                .commit_object(&on_standby, "nope", staged, ObjectMeta::default())
                .await
                .map(drop),
        },
    };
    assert!(refused.is_err());
    assert_eq!(remote.list("").unwrap().len(), chunks_before);
    assert!(matches!(
        standby.create_bucket("new", "o").await,
        Err(Error::NotWriter { .. })
    ));

    // Promotion: the standby takes over, the old primary's next write is refused.
    let position = standby.promote().await.unwrap();
    assert!(position.epoch > primary.shipping().unwrap().position.epoch);
    assert!(primary.shipping().unwrap().fenced);
    let refused = primary.create_bucket("late", "o").await;
    assert!(
        matches!(refused, Err(Error::NotWriter { .. })),
        "{refused:?}"
    );
    let bucket = standby.bucket("b").await.unwrap();
    put(
        &standby,
        &bucket,
        "by-new-primary",
        b"written after promotion",
        64,
    )
    .await;
    standby.shutdown().await;
    primary.shutdown().await;

    // What the new primary wrote is what a restore finds.
    restore(&remote, c.path(), &key);
    let restored = open_on(c.path(), &key, &remote, Role::Primary, "c").await;
    let bucket = restored.bucket("b").await.unwrap();
    for name in ["before", "after", "by-new-primary"] {
        restored.head_object(&bucket, name).await.unwrap();
    }
    assert!(restored.bucket("late").await.is_err());
    restored.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_primary_starts_while_the_remote_is_down_and_writes_once_it_answers() {
    let a = tempfile::tempdir().unwrap();
    let key = MasterKey::generate().unwrap();
    let remote = Arc::new(MemoryRemote::default());
    let store = open_on(a.path(), &key, &remote, Role::Primary, "a").await;
    let bucket = store.create_bucket("b", "o").await.unwrap();
    put(&store, &bucket, "note", b"kept in the index", 64).await;
    store.shutdown().await;

    remote
        .down
        .store(true, std::sync::atomic::Ordering::Relaxed);
    let store = open_on(a.path(), &key, &remote, Role::Primary, "a").await;
    // Reads what it has; refuses writes: without the lease it may not commit.
    let bucket = store.bucket("b").await.unwrap();
    let info = store.head_object(&bucket, "note").await.unwrap();
    assert_eq!(
        get(&store, &info, 0..info.size).await.unwrap(),
        b"kept in the index"
    );
    assert!(matches!(
        store.create_bucket("c", "o").await,
        Err(Error::NotWriter { .. })
    ));
    remote
        .down
        .store(false, std::sync::atomic::Ordering::Relaxed);
    eventually("writes resume once the lease is taken", async || {
        store.create_bucket("c", "o").await.is_ok()
    })
    .await;
    assert_eq!(store.shipping().unwrap().position.epoch, 2);
    store.shutdown().await;
}
