//! Outside keys through the store (issue 12): an object written under a customer key (SSE-C)
//! or a KMS key (SSE-KMS) reads only with that key, shares no chunk with plain objects or
//! other keys, frees its chunks when deleted, and cannot be opened from a copy of the data
//! directory and the master key without it.

use zeroize::Zeroizing;

use super::at_rest::open_cfg;
use super::*;

fn key(byte: u8) -> ExternalKey {
    ExternalKey::Customer(CustomerKey::from_bytes(Zeroizing::new([byte; 32])))
}

async fn get_with(
    store: &Store,
    info: &ObjectInfo,
    range: std::ops::Range<u64>,
    customer: Option<&ExternalKey>,
) -> Result<Vec<u8>> {
    let mut reader = store.read_object_with(info, range, customer);
    let mut out = Vec::new();
    while let Some(piece) = reader.recv().await {
        out.extend_from_slice(&piece?);
    }
    Ok(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_key_round_trip_and_checks() {
    let (dir, store) = ephemeral().await;
    let bucket = store.create_bucket("b", "o").await.unwrap();
    let data = body(1, 2 * CHUNK + 10);
    let info = put_under(&store, &bucket, "k", &data, Some(&key(1))).await;
    assert!(info.encryption.is_customer());
    let head = store.head_object(&bucket, "k").await.unwrap();
    assert_eq!(head.encryption, info.encryption);
    assert_eq!(
        get_with(&store, &head, 0..head.size, Some(&key(1)))
            .await
            .unwrap(),
        data
    );
    let c = CHUNK as u64;
    assert_eq!(
        get_with(&store, &head, c - 3..c + 3, Some(&key(1)))
            .await
            .unwrap(),
        &data[CHUNK - 3..CHUNK + 3]
    );
    assert!(matches!(
        get_with(&store, &head, 0..10, None).await,
        Err(Error::CustomerKeyRequired)
    ));
    assert!(matches!(
        get_with(&store, &head, 0..10, Some(&key(2))).await,
        Err(Error::CustomerKeyMismatch)
    ));
    assert!(matches!(
        store.check_object_key(&head, Some(&key(2))).await,
        Err(Error::CustomerKeyMismatch)
    ));
    store.check_object_key(&head, Some(&key(1))).await.unwrap();

    // No dedup across keys: the same body plain and under key 2 adds 3 files each.
    assert_eq!(chunk_files(dir.path()), 3);
    let plain = put_under(&store, &bucket, "p", &data, None).await;
    put_under(&store, &bucket, "q", &data, Some(&key(2))).await;
    assert_eq!(chunk_files(dir.path()), 9);
    assert!(matches!(
        store.check_object_key(&plain, Some(&key(1))).await,
        Err(Error::CustomerKeyNotApplicable)
    ));
    // The same key dedups.
    put_under(&store, &bucket, "k2", &data, Some(&key(1))).await;
    assert_eq!(chunk_files(dir.path()), 9);

    // A plain copy cannot link or read it; a copy with the key re-keys it.
    assert!(matches!(
        store
            .copy_object(
                &head,
                &bucket,
                "c",
                ObjectMeta::default(),
                WriteOptions::default()
            )
            .await,
        Err(Error::CustomerKeyRequired)
    ));
    let copy = store
        .copy_object_with(
            &head,
            Some(&key(1)),
            &bucket,
            "c",
            ObjectMeta::default(),
            WriteOptions::default(),
            Some(&key(3)),
        )
        .await
        .unwrap();
    assert_eq!(
        get_with(&store, &copy, 0..copy.size, Some(&key(3)))
            .await
            .unwrap(),
        data
    );
    assert_eq!(chunk_files(dir.path()), 12);

    for name in ["k", "k2", "p", "q", "c"] {
        store.delete_object(&bucket, name).await.unwrap();
    }
    wait_chunk_files(&store, dir.path(), 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multipart_parts_need_the_upload_key() {
    let (_dir, store) = ephemeral().await;
    let bucket = store.create_bucket("b", "o").await.unwrap();
    let upload = store
        .create_upload_with(
            &bucket,
            "big",
            ObjectMeta::default(),
            None,
            None,
            ObjectLock::default(),
            Some(&key(1)),
        )
        .await
        .unwrap();
    assert!(upload.encryption.is_customer());
    for (customer, want) in [(None, "required"), (Some(key(2)), "mismatch")] {
        let mut writer = store
            .part_writer_with(&bucket, customer.as_ref())
            .await
            .unwrap();
        writer.write(Bytes::from_static(b"part")).await.unwrap();
        let staged = writer.finish().await.unwrap();
        let err = store
            .commit_part(&bucket, "big", &upload.upload_id, 1, staged, vec![])
            .await
            .unwrap_err();
        match want {
            "required" => assert!(matches!(err, Error::CustomerKeyRequired), "{err:?}"),
            _ => assert!(matches!(err, Error::CustomerKeyMismatch), "{err:?}"),
        }
    }
    let info = one_part_upload(
        &store,
        &bucket,
        "big",
        &upload.upload_id,
        b"part one",
        Some(&key(1)),
    )
    .await;
    assert!(info.encryption.is_customer());
    assert_eq!(
        get_with(&store, &info, 0..info.size, Some(&key(1)))
            .await
            .unwrap(),
        b"part one"
    );
    assert!(matches!(
        get_with(&store, &info, 0..info.size, None).await,
        Err(Error::CustomerKeyRequired)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_dir_and_master_key_do_not_open_it() {
    let dir = tempfile::tempdir().unwrap();
    let master = MasterKey::generate().unwrap();
    let store = Store::open(open_cfg(dir.path(), &master)).await.unwrap();
    let bucket = store.create_bucket("b", "o").await.unwrap();
    let marker = b"sse-c-body-marker-6f0d ".repeat(100);
    put_under(&store, &bucket, "k", &marker, Some(&key(9))).await;
    store.shutdown().await;

    for file in files_under(dir.path()) {
        let bytes = std::fs::read(&file).unwrap();
        assert!(
            !super::at_rest::contains(&bytes, b"sse-c-body-marker"),
            "{file:?}"
        );
    }
    // The record holds a MAC, not the key.
    let index = super::at_rest::decrypted_index(dir.path(), &master);
    assert!(!super::at_rest::contains(&index, &[9u8; 32]));

    let copy = tempfile::tempdir().unwrap();
    for file in files_under(dir.path()) {
        let to = copy.path().join(file.strip_prefix(dir.path()).unwrap());
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(&file, &to).unwrap();
    }
    let store = Store::open(open_cfg(copy.path(), &master)).await.unwrap();
    let bucket = store.bucket("b").await.unwrap();
    let info = store.head_object(&bucket, "k").await.unwrap();
    assert!(matches!(
        get_with(&store, &info, 0..info.size, None).await,
        Err(Error::CustomerKeyRequired)
    ));
    assert!(matches!(
        get_with(&store, &info, 0..info.size, Some(&key(8))).await,
        Err(Error::CustomerKeyMismatch)
    ));
    assert_eq!(
        get_with(&store, &info, 0..info.size, Some(&key(9)))
            .await
            .unwrap(),
        marker
    );
    store.shutdown().await;
}

fn kms(id: u8, working: u8, context: u8) -> ExternalKey {
    ExternalKey::Kms(KmsKey::new(
        [id; 16],
        Zeroizing::new([working; 32]),
        [context; 32],
        false,
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kms_keys_round_trip_and_never_share_chunks() {
    let (dir, store) = ephemeral().await;
    let bucket = store.create_bucket("b", "o").await.unwrap();
    let data = body(4, 2 * CHUNK + 10);
    let info = put_under(&store, &bucket, "k", &data, Some(&kms(1, 1, 0))).await;
    assert_eq!(info.encryption.kms_key_id(), Some([1; 16]));
    let head = store.head_object(&bucket, "k").await.unwrap();
    assert_eq!(head.encryption, info.encryption);
    let c = CHUNK as u64;
    assert_eq!(
        get_with(&store, &head, c - 5..c + 5, Some(&kms(1, 1, 0)))
            .await
            .unwrap(),
        data[CHUNK - 5..CHUNK + 5]
    );
    // Without the key, with another key or context, with a customer key: refused, no
    // chunk opened.
    for (wrong, customer) in [
        (None, false),
        (Some(kms(2, 1, 0)), false),
        (Some(kms(1, 1, 7)), false),
        (Some(key(1)), true),
    ] {
        let err = get_with(&store, &head, 0..head.size, wrong.as_ref())
            .await
            .unwrap_err();
        if customer {
            assert!(matches!(err, Error::CustomerKeyNotApplicable), "{err:?}");
        } else {
            assert!(matches!(err, Error::KmsKeyMismatch), "{err:?}");
        }
    }
    // A destroyed KMS key share changes the working key: the chunks no longer open.
    let broken = ExternalKey::Kms(KmsKey::new(
        [1; 16],
        Zeroizing::new([99; 32]),
        [0; 32],
        false,
    ));
    assert!(matches!(
        get_with(&store, &head, 0..head.size, Some(&broken)).await,
        Err(Error::Corrupt { .. })
    ));

    // The same bytes under the bucket's keys, another KMS key and another context: no
    // chunk shared (3 chunks each).
    put_under(&store, &bucket, "plain", &data, None).await;
    put_under(&store, &bucket, "k2", &data, Some(&kms(2, 2, 0))).await;
    put_under(&store, &bucket, "k3", &data, Some(&kms(1, 1, 5))).await;
    assert_eq!(chunk_files(dir.path()), 12);
    // The same key and context dedup as usual.
    put_under(&store, &bucket, "k4", &data, Some(&kms(1, 1, 0))).await;
    assert_eq!(chunk_files(dir.path()), 12);

    // Copy re-keys between SSE-KMS, SSE-C and the bucket's keys.
    let to_customer = store
        .copy_object_with(
            &head,
            Some(&kms(1, 1, 0)),
            &bucket,
            "c",
            ObjectMeta::default(),
            WriteOptions::default(),
            Some(&key(3)),
        )
        .await
        .unwrap();
    assert!(to_customer.encryption.is_customer());
    let back = store
        .copy_object_with(
            &to_customer,
            Some(&key(3)),
            &bucket,
            "d",
            ObjectMeta::default(),
            WriteOptions::default(),
            Some(&kms(2, 2, 0)),
        )
        .await
        .unwrap();
    assert_eq!(
        get_with(&store, &back, 0..back.size, Some(&kms(2, 2, 0)))
            .await
            .unwrap(),
        data
    );

    // Multipart: parts go under the upload's KMS key and context only.
    let upload = store
        .create_upload_with(
            &bucket,
            "m",
            ObjectMeta::default(),
            None,
            None,
            ObjectLock::default(),
            Some(&kms(1, 1, 0)),
        )
        .await
        .unwrap();
    assert_eq!(upload.encryption.kms_key_id(), Some([1; 16]));
    let mut writer = store
        .part_writer_with(&bucket, Some(&kms(1, 1, 9)))
        .await
        .unwrap();
    writer.write(Bytes::from_static(b"part")).await.unwrap();
    let body = writer.finish().await.unwrap();
    assert!(matches!(
        store
            .commit_part(&bucket, "m", &upload.upload_id, 1, body, vec![])
            .await,
        Err(Error::KmsKeyMismatch)
    ));

    for name in ["k", "plain", "k2", "k3", "k4", "c", "d"] {
        store.delete_object(&bucket, name).await.unwrap();
    }
    wait_chunk_files(&store, dir.path(), 0).await;
}
