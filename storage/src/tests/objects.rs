//! Objects through the public API: chunking edges, GC, dedup, reopen, P3/P5/P6, copies.

use std::os::unix::fs::PermissionsExt as _;

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunking_edges_and_ranges() {
    let (dir, store) = ephemeral().await;
    let bucket = store.create_bucket("b", "owner").await.unwrap();
    let sizes = [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 123];
    let mut files = 0;
    for (seed, &size) in sizes.iter().enumerate() {
        let data = body(seed as u64 + 1, size);
        // Odd piece sizes so pieces straddle chunk boundaries; also one big write.
        let piece = if seed % 2 == 0 { 7919 } else { size.max(1) };
        let info = put(&store, &bucket, &format!("k{size}"), &data, piece).await;
        assert_eq!(info.size, size as u64);
        assert_eq!(
            info.etag,
            hex::encode(<md5::Md5 as md5::Digest>::digest(&data))
        );
        files += size.div_ceil(CHUNK);
        assert_eq!(chunk_files(dir.path()), files, "size {size}");
        assert_eq!(get(&store, &info, 0..size as u64).await.unwrap(), data);
        let s = size as u64;
        let c = CHUNK as u64;
        for range in [
            0..0,
            0..1,
            c - 1..c + 1,
            c..2 * c,
            1..s,
            s / 2..s,
            s..s + 10,
            c + 5..3 * c + 7,
        ] {
            let lo = (range.start.min(s)) as usize;
            let hi = (range.end.min(s)) as usize;
            let want = if lo < hi { &data[lo..hi] } else { &[][..] };
            assert_eq!(
                get(&store, &info, range.clone()).await.unwrap(),
                want,
                "size {size} range {range:?}"
            );
        }
    }
    let head = store.head_object(&bucket, "k0").await.unwrap();
    assert_eq!(head.size, 0);
    assert!(matches!(
        store.head_object(&bucket, "nope").await,
        Err(Error::NoSuchKey)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_replace_delete_frees_chunk_files() {
    let (dir, store) = ephemeral().await;
    let bucket = store.create_bucket("b", "o").await.unwrap();
    put(&store, &bucket, "k", &body(1, 2 * CHUNK + 10), 50_000).await;
    assert_eq!(chunk_files(dir.path()), 3);
    let info = put(&store, &bucket, "k", &body(2, CHUNK), 50_000).await;
    assert_eq!(chunk_files(dir.path()), 1);
    assert_eq!(
        get(&store, &info, 0..info.size).await.unwrap(),
        body(2, CHUNK)
    );
    assert!(store.delete_object(&bucket, "k").await.unwrap());
    assert!(!store.delete_object(&bucket, "k").await.unwrap());
    assert_eq!(chunk_files(dir.path()), 0);

    for i in 0..5 {
        put(
            &store,
            &bucket,
            &format!("m{i}"),
            &body(10 + i, CHUNK + 1),
            CHUNK,
        )
        .await;
    }
    assert_eq!(chunk_files(dir.path()), 10);
    let keys = (0..5)
        .map(|i| format!("m{i}"))
        .chain(["absent".into()])
        .collect();
    store.delete_objects(&bucket, keys).await.unwrap();
    assert_eq!(chunk_files(dir.path()), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dedup_within_bucket_not_across() {
    let (dir, store) = ephemeral().await;
    let a = store.create_bucket("a", "o").await.unwrap();
    let b = store.create_bucket("b", "o").await.unwrap();
    let data = body(5, 2 * CHUNK + 99);
    let one = put(&store, &a, "one", &data, 10_000).await;
    let two = put(&store, &a, "two", &data, 33_333).await;
    assert_eq!(chunk_files(dir.path()), 3);
    assert_eq!(one.etag, two.etag);
    put(&store, &b, "one", &data, 10_000).await;
    assert_eq!(chunk_files(dir.path()), 6, "buckets never share chunks");

    assert!(store.delete_object(&a, "one").await.unwrap());
    assert_eq!(chunk_files(dir.path()), 6);
    assert_eq!(get(&store, &two, 0..two.size).await.unwrap(), data);
    store.delete_object(&a, "two").await.unwrap();
    assert_eq!(chunk_files(dir.path()), 3);

    // A body repeating one chunk stores it once and counts each use.
    let same = [body(6, CHUNK), body(6, CHUNK), body(6, CHUNK)].concat();
    let rep = put(&store, &a, "rep", &same, CHUNK).await;
    assert_eq!(chunk_files(dir.path()), 4);
    assert_eq!(get(&store, &rep, 0..rep.size).await.unwrap(), same);
    store.delete_object(&a, "rep").await.unwrap();
    assert_eq!(chunk_files(dir.path()), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p3_no_plaintext_on_disk_and_p6_private_modes() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("data");
    let key = MasterKey::generate().unwrap();
    let store = Store::open(config(
        &root,
        &key,
        Durability::Immediate,
        IndexLocation::File,
    ))
    .await
    .unwrap();
    let bucket = store.create_bucket("b", "o").await.unwrap();
    let marker = b"MARKER-7f3a-PLAINTEXT-BODY ";
    let data: Vec<u8> = marker
        .iter()
        .copied()
        .cycle()
        .take(3 * CHUNK + 17)
        .collect();
    put(&store, &bucket, "k", &data, 4096).await;
    put(&store, &bucket, "small", marker, 4096).await;
    store
        .put_sealed(
            "auth/credentials",
            zeroize::Zeroizing::new(b"MARKER-SECRET-VALUE".to_vec()),
        )
        .await
        .unwrap();
    store.shutdown().await;

    let files = files_under(&root);
    assert!(files.len() >= 5);
    for file in &files {
        let bytes = std::fs::read(file).unwrap();
        for needle in [&marker[..20], b"MARKER-SECRET-VALUE"] {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle),
                "plaintext in {}",
                file.display()
            );
        }
        assert_eq!(
            std::fs::metadata(file).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let mut dirs = vec![root.clone()];
    while let Some(d) = dirs.pop() {
        assert_eq!(
            std::fs::metadata(&d).unwrap().permissions().mode() & 0o777,
            0o700,
            "{}",
            d.display()
        );
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reopen_keeps_everything_and_wrong_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let key = MasterKey::generate().unwrap();
    let open = |k: &MasterKey| {
        Store::open(config(
            dir.path(),
            k,
            Durability::Immediate,
            IndexLocation::File,
        ))
    };
    let store = open(&key).await.unwrap();
    let bucket = store.create_bucket("photos", "alice").await.unwrap();
    let data = body(9, 2 * CHUNK + 5);
    put(&store, &bucket, "a/b", &data, 20_000).await;
    put(&store, &bucket, "empty", &[], 1).await;
    store
        .put_sealed("rec", zeroize::Zeroizing::new(b"v1".to_vec()))
        .await
        .unwrap();
    store.shutdown().await;
    store.shutdown().await;
    assert!(matches!(
        store.bucket("photos").await,
        Err(Error::ShuttingDown)
    ));

    let index_before = std::fs::read(dir.path().join("index.redb")).unwrap();
    let wrong = MasterKey::generate().unwrap();
    assert!(matches!(open(&wrong).await, Err(Error::WrongMasterKey)));
    assert_eq!(
        std::fs::read(dir.path().join("index.redb")).unwrap(),
        index_before
    );

    let store = open(&key).await.unwrap();
    let bucket = store.bucket("photos").await.unwrap();
    assert_eq!(bucket.owner, "alice");
    let info = store.head_object(&bucket, "a/b").await.unwrap();
    assert_eq!(get(&store, &info, 0..info.size).await.unwrap(), data);
    assert_eq!(store.head_object(&bucket, "empty").await.unwrap().size, 0);
    assert_eq!(
        store.get_sealed("rec").await.unwrap().unwrap().as_slice(),
        b"v1"
    );
    assert!(store.get_sealed("other").await.unwrap().is_none());
    assert_eq!(chunk_files(dir.path()), 3);
    store.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relaxed_file_index_survives_clean_shutdown() {
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
    put(&store, &bucket, "k", &body(1, 100), 100).await;
    store.shutdown().await;
    let store = Store::open(config(
        dir.path(),
        &key,
        Durability::Relaxed,
        IndexLocation::File,
    ))
    .await
    .unwrap();
    let bucket = store.bucket("b").await.unwrap();
    assert_eq!(store.head_object(&bucket, "k").await.unwrap().size, 100);
    store.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p5_tampered_chunk_is_corrupt_never_other_bytes() {
    let (dir, store) = ephemeral().await;
    let bucket = store.create_bucket("b", "o").await.unwrap();
    let info = put(&store, &bucket, "k", &body(3, CHUNK + 10), CHUNK).await;
    let files = files_under(&dir.path().join("chunks"));
    let victim = files
        .iter()
        .max_by_key(|f| std::fs::metadata(f).unwrap().len())
        .unwrap();
    let mut bytes = std::fs::read(victim).unwrap();
    bytes[100] ^= 0x10;
    std::fs::write(victim, bytes).unwrap();
    assert!(matches!(
        get(&store, &info, 0..info.size).await,
        Err(Error::Corrupt { .. })
    ));
    // The untouched second chunk still reads.
    assert_eq!(
        get(&store, &info, CHUNK as u64..info.size).await.unwrap(),
        body(3, CHUNK + 10)[CHUNK..]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buckets_create_list_delete_shreds() {
    let (dir, store) = ephemeral().await;
    let b = store.create_bucket("zeta", "alice").await.unwrap();
    store.create_bucket("alpha", "bob").await.unwrap();
    match store.create_bucket("zeta", "bob").await {
        Err(Error::BucketAlreadyExists { owner }) => assert_eq!(owner, "alice"),
        other => panic!("{other:?}"),
    }
    let names: Vec<_> = store
        .list_buckets()
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.name)
        .collect();
    assert_eq!(names, ["alpha", "zeta"]);

    put(&store, &b, "k", &body(1, 10), 10).await;
    assert!(matches!(
        store.delete_bucket("zeta").await,
        Err(Error::BucketNotEmpty)
    ));
    store.delete_object(&b, "k").await.unwrap();
    store.delete_bucket("zeta").await.unwrap();
    assert!(matches!(
        store.delete_bucket("zeta").await,
        Err(Error::NoSuchBucket)
    ));
    assert!(matches!(
        store.bucket("zeta").await,
        Err(Error::NoSuchBucket)
    ));
    assert!(!dir.path().join("chunks").join(hex::encode(b.id)).exists());
    assert!(matches!(
        store.object_writer(&b).await,
        Err(Error::NoSuchBucket)
    ));

    let again = store.create_bucket("zeta", "carol").await.unwrap();
    assert_ne!(again.id, b.id);
    assert!(matches!(
        store.head_object(&again, "k").await,
        Err(Error::NoSuchKey)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copies_link_or_reseal() {
    let (dir, store) = ephemeral().await;
    let a = store.create_bucket("a", "o").await.unwrap();
    let b = store.create_bucket("b", "o").await.unwrap();
    let data = body(4, 2 * CHUNK + 1);
    let src = put(&store, &a, "src", &data, 9999).await;
    let meta = ObjectMeta {
        content_type: Some("image/png".into()),
        ..ObjectMeta::default()
    };

    let same = store
        .copy_object(&src, &a, "dst", meta.clone(), WriteOptions::default())
        .await
        .unwrap();
    assert_eq!(same.etag, src.etag);
    assert_eq!(same.meta, meta);
    assert_eq!(chunk_files(dir.path()), 3, "same-bucket copy links chunks");
    let cross = store
        .copy_object(
            &src,
            &b,
            "dst",
            ObjectMeta::default(),
            WriteOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(cross.etag, src.etag);
    assert_eq!(chunk_files(dir.path()), 6);
    assert_eq!(get(&store, &cross, 0..cross.size).await.unwrap(), data);

    store.delete_object(&a, "src").await.unwrap();
    assert_eq!(get(&store, &same, 0..same.size).await.unwrap(), data);
    assert!(matches!(
        store
            .copy_object(
                &src,
                &a,
                "x",
                ObjectMeta::default(),
                WriteOptions::default()
            )
            .await,
        Err(Error::NoSuchKey)
    ));
    assert!(matches!(
        store
            .copy_object(
                &src,
                &b,
                "x",
                ObjectMeta::default(),
                WriteOptions::default()
            )
            .await,
        Err(Error::NoSuchKey)
    ));

    // A replaced source is a different version: refused too.
    let v1 = put(&store, &a, "v", b"one", 3).await;
    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    put(&store, &a, "v", b"two", 3).await;
    assert!(matches!(
        store
            .copy_object(&v1, &a, "y", ObjectMeta::default(), WriteOptions::default())
            .await,
        Err(Error::NoSuchKey)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_keys_are_opaque() {
    let (dir, store) = ephemeral().await;
    let bucket = store.create_bucket("b", "o").await.unwrap();
    let long = "x".repeat(MAX_KEY_LEN);
    for key in [
        "../../etc/passwd",
        "a//b",
        "/",
        "nul\0key",
        "ünï/cödé",
        ".",
        long.as_str(),
    ] {
        let info = put(&store, &bucket, key, key.as_bytes(), 5).await;
        assert_eq!(
            store.head_object(&bucket, key).await.unwrap().etag,
            info.etag
        );
    }
    assert!(!dir.path().join("etc").exists());
    let staged = store
        .object_writer(&bucket)
        .await
        .unwrap()
        .finish()
        .await
        .unwrap();
    let too_long = "x".repeat(MAX_KEY_LEN + 1);
    assert!(matches!(
        store
            .commit_object(&bucket, &too_long, staged, ObjectMeta::default())
            .await,
        Err(Error::KeyTooLong)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_round_trips() {
    let (_dir, store) = ephemeral().await;
    let bucket = store.create_bucket("b", "o").await.unwrap();
    let meta = ObjectMeta {
        content_type: Some("text/plain".into()),
        content_encoding: Some("gzip".into()),
        content_disposition: Some("attachment".into()),
        content_language: Some("de".into()),
        cache_control: Some("no-cache".into()),
        expires: Some("Thu, 01 Jan 2037 00:00:00 GMT".into()),
        user: vec![("a".into(), "1".into()), ("b".into(), "2".into())],
        checksums: vec![Checksum {
            algorithm: ChecksumAlgorithm::Crc32,
            value: "AAAAAA==".into(),
        }],
        grants: vec![ObjectGrant {
            grantee: "AIDAEXAMPLE".into(),
            permission: ObjectPermission::ReadAcp,
        }],
        tags: vec![("study".into(), "x-ray".into())],
    };
    let mut writer = store.object_writer(&bucket).await.unwrap();
    writer.write(Bytes::from_static(b"hi")).await.unwrap();
    let staged = writer.finish().await.unwrap();
    assert_eq!(staged.size(), 2);
    let info = store
        .commit_object(&bucket, "k", staged, meta.clone())
        .await
        .unwrap();
    let head = store.head_object(&bucket, "k").await.unwrap();
    assert_eq!(head.meta, meta);
    assert_eq!(head.last_modified, info.last_modified);
    assert_eq!(head.etag, "49f68a5c8493ec2c0bf489821c21fc3b");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_chunk_size_refused() {
    let dir = tempfile::tempdir().unwrap();
    let key = MasterKey::generate().unwrap();
    let mut cfg = config(dir.path(), &key, Durability::Relaxed, IndexLocation::Memory);
    cfg.chunk_size = 1000;
    assert!(matches!(
        Store::open(cfg).await,
        Err(Error::BadConfig { .. })
    ));
}

/// A request's commit gate runs before each change it makes; a refusal commits nothing and
/// leaves what was stored before intact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_commit_gate_commits_nothing() {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use crate::CommitGate;

    let (_dir, store) = ephemeral().await;
    let bucket = store.create_bucket("b", "owner").await.unwrap();
    let before = put(&store, &bucket, "k", b"kept", 16).await;
    let passes = std::sync::Arc::new(AtomicUsize::new(0));
    let seen = std::sync::Arc::clone(&passes);
    let closed = CommitGate::new(move || {
        seen.fetch_add(1, Ordering::SeqCst);
        Box::pin(async { Err("the trail is down") })
    });
    let refused = closed
        .scope(async {
            let mut writer = store.object_writer(&bucket).await.unwrap();
            writer.write(Bytes::from_static(b"replaced")).await.unwrap();
            let staged = writer.finish().await.unwrap();
            store
                .commit_object(&bucket, "k", staged, ObjectMeta::default())
                .await
        })
        .await;
    assert!(
        matches!(refused, Err(Error::CommitRefused { .. })),
        "{refused:?}"
    );
    assert_eq!(passes.load(Ordering::SeqCst), 1);
    let now = store.head_object(&bucket, "k").await.unwrap();
    assert_eq!(now.etag, before.etag);
    assert_eq!(get(&store, &now, 0..4).await.unwrap(), b"kept");
    // Outside the scope, changes pass again.
    put(&store, &bucket, "k", b"later", 16).await;
}
