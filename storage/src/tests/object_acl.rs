//! Object ACL grants (issue 9): kept with the object, sealed like its metadata, replaced in
//! place by PutObjectAcl, and gone with the object. Guards against grants that outlive an
//! overwrite or a delete (AWS resets an object's ACL when it is overwritten), a grant
//! change that disturbs the body, and grants in clear on disk.

use super::at_rest::{contains, decrypted_index, open_cfg};
use super::*;

fn grant(grantee: &str, permission: ObjectPermission) -> ObjectGrant {
    ObjectGrant {
        grantee: grantee.to_owned(),
        permission,
    }
}

async fn put_with_grants(
    store: &Store,
    bucket: &BucketInfo,
    key: &str,
    data: &'static [u8],
    grants: Vec<ObjectGrant>,
) -> ObjectInfo {
    let mut writer = store.object_writer(bucket).await.unwrap();
    writer.write(Bytes::from_static(data)).await.unwrap();
    let staged = writer.finish().await.unwrap();
    let meta = ObjectMeta {
        grants,
        ..ObjectMeta::default()
    };
    store
        .commit_object(bucket, key, staged, meta)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_grants_round_trip_and_replace_in_place() {
    let (_dir, store) = ephemeral().await;
    let bucket = store.create_bucket("b", "owner").await.unwrap();
    let grants = vec![
        grant("AIDAREADER", ObjectPermission::Read),
        grant("AIDAAUDITOR", ObjectPermission::ReadAcp),
    ];
    let info = put_with_grants(&store, &bucket, "k", b"body", grants.clone()).await;
    assert_eq!(info.meta.grants, grants);
    let head = store.head_object(&bucket, "k").await.unwrap();
    assert_eq!(head.meta.grants, grants);

    let replaced = vec![grant("AIDAREADER", ObjectPermission::FullControl)];
    let after = store
        .set_object_grants(&bucket, "k", None, replaced.clone())
        .await
        .unwrap();
    assert_eq!(after.meta.grants, replaced);
    let head2 = store.head_object(&bucket, "k").await.unwrap();
    assert_eq!(head2.meta.grants, replaced);
    // Nothing else moved: same ETag, mtime and bytes.
    assert_eq!(head2.etag, head.etag);
    assert_eq!(head2.last_modified, head.last_modified);
    assert_eq!(get(&store, &head2, 0..4).await.unwrap(), b"body");

    store
        .set_object_grants(&bucket, "k", None, vec![])
        .await
        .unwrap();
    assert!(
        store
            .head_object(&bucket, "k")
            .await
            .unwrap()
            .meta
            .grants
            .is_empty()
    );
    assert!(matches!(
        store
            .set_object_grants(&bucket, "missing", None, vec![])
            .await,
        Err(Error::NoSuchKey)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overwrite_and_delete_drop_object_grants() {
    let (_dir, store) = ephemeral().await;
    let bucket = store.create_bucket("b", "owner").await.unwrap();
    let grants = vec![grant("AIDAREADER", ObjectPermission::Read)];
    put_with_grants(&store, &bucket, "k", b"one", grants.clone()).await;
    // Overwrite without grants: the new object is private.
    put(&store, &bucket, "k", b"two", 3).await;
    let head = store.head_object(&bucket, "k").await.unwrap();
    assert!(head.meta.grants.is_empty());

    // Delete, then a new object at the same key: nothing left over.
    store
        .set_object_grants(&bucket, "k", None, grants)
        .await
        .unwrap();
    assert!(store.delete_object(&bucket, "k").await.unwrap());
    put(&store, &bucket, "k", b"three", 5).await;
    let head = store.head_object(&bucket, "k").await.unwrap();
    assert!(head.meta.grants.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multipart_upload_carries_grants_to_its_object() {
    let (_dir, store) = ephemeral().await;
    let bucket = store.create_bucket("b", "owner").await.unwrap();
    let grants = vec![grant("AIDAREADER", ObjectPermission::Read)];
    let meta = ObjectMeta {
        grants: grants.clone(),
        ..ObjectMeta::default()
    };
    let upload = store
        .create_upload(&bucket, "big", meta, None, None, ObjectLock::default())
        .await
        .unwrap();
    let info = one_part_upload(&store, &bucket, "big", &upload.upload_id, b"part", None).await;
    assert_eq!(info.meta.grants, grants);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p3_object_grants_are_sealed_at_rest() {
    let dir = tempfile::tempdir().unwrap();
    let key = MasterKey::generate().unwrap();
    let store = Store::open(open_cfg(dir.path(), &key)).await.unwrap();
    let bucket = store.create_bucket("b", "owner").await.unwrap();
    let marker = "AIDAGRANTEEMARKER7f3c";
    put_with_grants(
        &store,
        &bucket,
        "k",
        b"x",
        vec![grant(marker, ObjectPermission::Read)],
    )
    .await;
    store
        .set_object_grants(
            &bucket,
            "k",
            None,
            vec![grant(marker, ObjectPermission::WriteAcp)],
        )
        .await
        .unwrap();
    store.shutdown().await;
    for file in files_under(dir.path()) {
        let bytes = std::fs::read(&file).unwrap();
        assert!(
            !contains(&bytes, marker.as_bytes()),
            "grantee in clear in {}",
            file.display()
        );
    }
    // Not vacuous: the decrypted index holds it.
    assert!(contains(
        &decrypted_index(dir.path(), &key),
        marker.as_bytes()
    ));
}
