//! Nothing readable at rest (issue 4): the sealed index file, master key rotation and
//! crypto-shredding. Guards against an index that stores names in clear, a rotation that
//! leaves the old key working or loses data, and a bucket delete that leaves a key able to
//! open the bucket's old chunks.

use std::collections::BTreeMap;

use super::*;
use crate::index::sealed_backend::IndexCipher;
use crate::keys::keyring::Keyring;

pub(super) fn open_cfg(root: &Path, key: &MasterKey) -> StoreConfig {
    config(root, key, Durability::Immediate, IndexLocation::File)
}

/// The plaintext of the index file, decrypted with the index key from `<root>/keys`.
pub(super) fn decrypted_index(root: &Path, key: &MasterKey) -> Vec<u8> {
    let index_key = crate::keys::key_file::load(root, &Keyring::new(key))
        .unwrap()
        .unwrap();
    let mut bytes = std::fs::read(root.join("index.redb")).unwrap();
    IndexCipher::new(&index_key).decrypt(0, &mut bytes);
    bytes
}

pub(super) fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p3_index_file_holds_no_name_or_metadata_in_clear() {
    let dir = tempfile::tempdir().unwrap();
    let key = MasterKey::generate().unwrap();
    let store = Store::open(open_cfg(dir.path(), &key)).await.unwrap();
    let bucket = store
        .create_bucket("bucket-marker-5d1e", "owner-marker-0b7c")
        .await
        .unwrap();
    let mut writer = store.object_writer(&bucket).await.unwrap();
    writer.write(Bytes::from_static(b"tiny")).await.unwrap();
    let staged = writer.finish().await.unwrap();
    let meta = ObjectMeta {
        content_type: Some("type/marker-9a2f".into()),
        user: vec![("patient".into(), "meta-marker-3c88".into())],
        ..ObjectMeta::default()
    };
    store
        .commit_object(&bucket, "patients/key-marker-77e1/left.jpg", staged, meta)
        .await
        .unwrap();
    store
        .put_sealed(
            "record-name-marker-41aa",
            zeroize::Zeroizing::new(b"v".to_vec()),
        )
        .await
        .unwrap();
    store.shutdown().await;

    let markers: [&[u8]; 6] = [
        b"bucket-marker-5d1e",
        b"owner-marker-0b7c",
        b"type/marker-9a2f",
        b"meta-marker-3c88",
        b"key-marker-77e1",
        b"record-name-marker-41aa",
    ];
    for file in files_under(dir.path()) {
        let bytes = std::fs::read(&file).unwrap();
        for marker in markers {
            assert!(!contains(&bytes, marker), "marker in {}", file.display());
            assert!(
                !contains(&bytes, hex::encode(marker).as_bytes()),
                "hex marker in {}",
                file.display()
            );
        }
    }
    // Not vacuous: the decrypted index does hold them.
    let plain = decrypted_index(dir.path(), &key);
    for marker in markers {
        assert!(contains(&plain, marker));
    }
    // And the store reads them back.
    let store = Store::open(open_cfg(dir.path(), &key)).await.unwrap();
    let bucket = store.bucket("bucket-marker-5d1e").await.unwrap();
    let page = store
        .list_objects(
            &bucket,
            ListParams {
                max_keys: 10,
                ..ListParams::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(page.entries[0].key(), "patients/key-marker-77e1/left.jpg");
    store.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn index_without_its_key_file_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let key = MasterKey::generate().unwrap();
    let store = Store::open(open_cfg(dir.path(), &key)).await.unwrap();
    store.create_bucket("b", "o").await.unwrap();
    store.shutdown().await;
    let keys = dir.path().join("keys");
    let saved = std::fs::read(&keys).unwrap();
    std::fs::remove_file(&keys).unwrap();
    let index = std::fs::read(dir.path().join("index.redb")).unwrap();
    assert!(matches!(
        Store::open(open_cfg(dir.path(), &key)).await,
        Err(Error::Corrupt { .. })
    ));
    assert!(!keys.exists());
    assert_eq!(std::fs::read(dir.path().join("index.redb")).unwrap(), index);
    std::fs::write(&keys, saved).unwrap();
    let store = Store::open(open_cfg(dir.path(), &key)).await.unwrap();
    store.bucket("b").await.unwrap();
    store.shutdown().await;
}

/// Offline commands (`coffer users`, `coffer keys`) tell "a server is running on it"
/// from other failures by this predicate, not by the message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_opener_is_told_the_directory_is_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let key = MasterKey::generate().unwrap();
    let store = Store::open(open_cfg(dir.path(), &key)).await.unwrap();
    store.create_bucket("b", "o").await.unwrap();
    let index = std::fs::read(dir.path().join("index.redb")).unwrap();
    match Store::open(open_cfg(dir.path(), &key)).await {
        Err(e) => assert!(e.is_in_use(), "not reported as in use: {e}"),
        Ok(_) => panic!("a second store opened a locked index"),
    }
    assert_eq!(std::fs::read(dir.path().join("index.redb")).unwrap(), index);
    store.shutdown().await;
    assert!(!Error::NoSuchBucket.is_in_use());
    let store = Store::open(open_cfg(dir.path(), &key)).await.unwrap();
    store.bucket("b").await.unwrap();
    store.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_start_cut_short_leaves_nothing_that_blocks_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let key = MasterKey::generate().unwrap();
    // What a crash during the first creation of the index leaves: a key file, a half-made
    // new index (never renamed into place), an empty index file.
    let ring = Keyring::new(&key);
    crate::keys::key_file::store(dir.path(), &ring, &[1; 32], true).unwrap();
    std::fs::write(dir.path().join("index.redb.new"), vec![0u8; 73_728]).unwrap();
    std::fs::write(dir.path().join("index.redb"), b"").unwrap();
    let store = Store::open(open_cfg(dir.path(), &key)).await.unwrap();
    store.create_bucket("b", "o").await.unwrap();
    store.shutdown().await;
    assert!(!dir.path().join("index.redb.new").exists());
    let store = Store::open(open_cfg(dir.path(), &key)).await.unwrap();
    store.bucket("b").await.unwrap();
    store.shutdown().await;
}

fn all_files(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    files_under(root)
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect()
}

fn chunk_file_map(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    all_files(&root.join("chunks"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_rewraps_keys_rewrites_no_chunk_and_retires_the_old_key() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let old = MasterKey::generate().unwrap();
    let new = MasterKey::generate().unwrap();
    let store = Store::open(open_cfg(root, &old)).await.unwrap();
    let mut expect = Vec::new();
    for (i, name) in ["alpha", "beta", "gamma"].into_iter().enumerate() {
        let bucket = store.create_bucket(name, "o").await.unwrap();
        let data = body(i as u64 + 1, 2 * CHUNK + 3);
        put(&store, &bucket, "obj", &data, 50_000).await;
        expect.push((name, data));
    }
    store
        .put_sealed("auth/cred", zeroize::Zeroizing::new(b"secret".to_vec()))
        .await
        .unwrap();
    store.shutdown().await;
    let chunks_before = chunk_file_map(root);
    let keys_before_rotation = std::fs::read(root.join("keys")).unwrap();

    let done = rotate_master_key(root, &old, &new).unwrap();
    assert_eq!(
        done,
        Rotation {
            bucket_keys: 3,
            sealed_records: 1
        }
    );
    assert_eq!(chunk_file_map(root), chunks_before, "no chunk rewritten");
    let everything = all_files(root);
    assert!(matches!(
        Store::open(open_cfg(root, &old)).await,
        Err(Error::WrongMasterKey)
    ));
    assert_eq!(all_files(root), everything, "a refused open writes nothing");
    assert!(matches!(
        rotate_master_key(root, &old, &new),
        Err(Error::WrongMasterKey)
    ));

    // Twice, to prove a restart after rotation works.
    for _ in 0..2 {
        let store = Store::open(open_cfg(root, &new)).await.unwrap();
        for (name, data) in &expect {
            let bucket = store.bucket(name).await.unwrap();
            let info = store.head_object(&bucket, "obj").await.unwrap();
            assert_eq!(&get(&store, &info, 0..info.size).await.unwrap(), data);
        }
        assert_eq!(
            store
                .get_sealed("auth/cred")
                .await
                .unwrap()
                .unwrap()
                .as_slice(),
            b"secret"
        );
        store.shutdown().await;
    }

    // An interruption between the index transaction and the key file: put the old key
    // file back. Neither key opens; running the rotation again finishes it.
    let new2 = MasterKey::generate().unwrap();
    let keys_after_first = std::fs::read(root.join("keys")).unwrap();
    rotate_master_key(root, &new, &new2).unwrap();
    std::fs::write(root.join("keys"), &keys_after_first).unwrap();
    assert!(matches!(
        Store::open(open_cfg(root, &new)).await,
        Err(Error::RotationIncomplete)
    ));
    assert!(matches!(
        Store::open(open_cfg(root, &new2)).await,
        Err(Error::WrongMasterKey)
    ));
    let resumed = rotate_master_key(root, &new, &new2).unwrap();
    assert_eq!(resumed, Rotation::default(), "nothing left to rewrap");
    let store = Store::open(open_cfg(root, &new2)).await.unwrap();
    let bucket = store.bucket("alpha").await.unwrap();
    let info = store.head_object(&bucket, "obj").await.unwrap();
    assert_eq!(get(&store, &info, 0..info.size).await.unwrap(), expect[0].1);
    store.shutdown().await;
    assert_ne!(keys_before_rotation, keys_after_first);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crypto_shredding_deleted_bucket_chunks_open_with_nothing_that_remains() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let key = MasterKey::generate().unwrap();
    let store = Store::open(open_cfg(root, &key)).await.unwrap();
    let doomed = store.create_bucket("doomed", "o").await.unwrap();
    let kept = store.create_bucket("kept", "o").await.unwrap();
    // Same body in both buckets: dedup never crosses buckets, so the copies differ.
    let data = body(42, 2 * CHUNK + 9);
    let info = put(&store, &doomed, "x", &data, 40_000).await;
    put(&store, &kept, "x", &data, 40_000).await;
    let doomed_id = doomed.id;
    let wrapped = store
        .inner
        .shared
        .read(move |s| s.bucket_key(&doomed_id))
        .await
        .unwrap()
        .unwrap();
    // The backup an attacker keeps: the bucket's chunk files, taken before the delete.
    let copies: Vec<_> = info
        .chunks
        .iter()
        .map(|c| {
            let sealed = store.inner.shared.chunks.get(&doomed.id, &c.id).unwrap();
            (c.id, sealed)
        })
        .collect();
    assert!(!copies.is_empty());
    // Sanity: the doomed bucket's key opens them now.
    let doomed_keys = store.inner.shared.bucket_keys(&doomed.id).await.unwrap();
    for (id, sealed) in &copies {
        crate::chunks::seal::open(&doomed_keys, id, sealed.clone()).unwrap();
    }
    drop(doomed_keys);

    assert!(store.delete_object(&doomed, "x").await.unwrap());
    store.delete_bucket("doomed").await.unwrap();
    store.flush().await.unwrap();
    let kept_keys = store.inner.shared.bucket_keys(&kept.id).await.unwrap();
    assert!(matches!(
        store.inner.shared.bucket_keys(&doomed.id).await,
        Err(Error::NoSuchBucket)
    ));
    // Every key that remains fails on every copied chunk.
    for (id, sealed) in &copies {
        assert!(crate::chunks::seal::open(&kept_keys, id, sealed.clone()).is_err());
    }
    store.shutdown().await;

    // The strongest attacker: the master key, everything left in the data directory, and
    // the deleted bucket's wrapped key, which redb's copy-on-write leaves in a free page of
    // the index. The key share is gone, so none of that opens the copied chunks.
    assert!(!root.join("chunks").join(hex::encode(doomed.id)).exists());
    // (Usually it is still there; the test assumes the attacker has it either way.)
    let _maybe_found = contains(&decrypted_index(root, &key), &wrapped);
    let shares_left = files_under(&root.join("key-shares"));
    assert_eq!(shares_left.len(), 1, "only the kept bucket's share remains");
    let ring = Keyring::new(&key);
    let mut attempts = vec![ring.open_bucket_key(&doomed.id, &wrapped).unwrap()];
    for share in &shares_left {
        let share: [u8; 32] = std::fs::read(share).unwrap().try_into().unwrap();
        attempts.push(
            ring.open_bucket_key_with_share(&doomed.id, &wrapped, &share)
                .unwrap(),
        );
    }
    for keys in &attempts {
        for (id, sealed) in &copies {
            assert!(crate::chunks::seal::open(keys, id, sealed.clone()).is_err());
        }
    }
}
