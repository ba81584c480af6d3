//! Per-bucket settings (issue 9): round trip, durability, and that a setting dies with its
//! bucket. Guards against settings keyed by name (a bucket re-created under the same name
//! would inherit the old bucket's policy), against a delete that leaves the rows behind,
//! against unbounded documents, and against a policy stored in clear (P3).

use super::at_rest::{contains, decrypted_index, open_cfg};
use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_set_get_remove_round_trip() {
    let (_dir, store) = ephemeral().await;
    store.create_bucket("b", "owner-1").await.unwrap();
    assert_eq!(
        store
            .bucket_setting("b", BucketSetting::Policy)
            .await
            .unwrap(),
        None
    );

    let policy = br#"{"Version":"2012-10-17","Statement":[]}"#.to_vec();
    store
        .set_bucket_setting("b", BucketSetting::Policy, Some(policy.clone()))
        .await
        .unwrap();
    store
        .set_bucket_setting("b", BucketSetting::Cors, Some(b"<CORS/>".to_vec()))
        .await
        .unwrap();
    assert_eq!(
        store
            .bucket_setting("b", BucketSetting::Policy)
            .await
            .unwrap(),
        Some(policy.clone())
    );
    // Kinds do not bleed into each other.
    assert_eq!(
        store
            .bucket_setting("b", BucketSetting::Cors)
            .await
            .unwrap(),
        Some(b"<CORS/>".to_vec())
    );
    assert_eq!(
        store
            .bucket_setting("b", BucketSetting::Tagging)
            .await
            .unwrap(),
        None
    );
    let (info, value) = store
        .bucket_with_setting("b", BucketSetting::Policy)
        .await
        .unwrap();
    assert_eq!((info.name.as_str(), info.owner.as_str()), ("b", "owner-1"));
    assert_eq!(value, Some(policy.clone()));
    // Several at once, in the order asked, set or not.
    let (info, values) = store
        .bucket_with_settings(
            "b",
            [
                BucketSetting::Acl,
                BucketSetting::Policy,
                BucketSetting::Cors,
            ],
        )
        .await
        .unwrap();
    assert_eq!(info.owner, "owner-1");
    assert_eq!(values, [None, Some(policy), Some(b"<CORS/>".to_vec())]);
    assert!(matches!(
        store
            .bucket_with_settings("nope", [BucketSetting::Policy])
            .await,
        Err(Error::NoSuchBucket)
    ));

    // Replace, including with an empty document (set, not absent).
    store
        .set_bucket_setting("b", BucketSetting::Policy, Some(Vec::new()))
        .await
        .unwrap();
    assert_eq!(
        store
            .bucket_setting("b", BucketSetting::Policy)
            .await
            .unwrap(),
        Some(Vec::new())
    );

    // Remove; removing again is fine; the other kind stays.
    for _ in 0..2 {
        store
            .set_bucket_setting("b", BucketSetting::Policy, None)
            .await
            .unwrap();
        assert_eq!(
            store
                .bucket_setting("b", BucketSetting::Policy)
                .await
                .unwrap(),
            None
        );
    }
    assert!(
        store
            .bucket_setting("b", BucketSetting::Cors)
            .await
            .unwrap()
            .is_some()
    );
    // Settings are per bucket.
    store.create_bucket("other", "owner-2").await.unwrap();
    assert_eq!(
        store
            .bucket_setting("other", BucketSetting::Cors)
            .await
            .unwrap(),
        None
    );
    store.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let key = MasterKey::generate().unwrap();
    let store = Store::open(open_cfg(dir.path(), &key)).await.unwrap();
    store.create_bucket("b", "o").await.unwrap();
    store
        .set_bucket_setting("b", BucketSetting::Policy, Some(b"policy v1".to_vec()))
        .await
        .unwrap();
    store
        .set_bucket_setting("b", BucketSetting::Cors, Some(b"<CORS/>".to_vec()))
        .await
        .unwrap();
    store
        .set_bucket_setting("b", BucketSetting::Cors, None)
        .await
        .unwrap();
    store.shutdown().await;

    let store = Store::open(open_cfg(dir.path(), &key)).await.unwrap();
    let (info, policy) = store
        .bucket_with_setting("b", BucketSetting::Policy)
        .await
        .unwrap();
    assert_eq!(info.owner, "o");
    assert_eq!(policy, Some(b"policy v1".to_vec()));
    assert_eq!(
        store
            .bucket_setting("b", BucketSetting::Cors)
            .await
            .unwrap(),
        None
    );
    store.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_bucket_drops_its_settings() {
    let (_dir, store) = ephemeral().await;
    let old = store.create_bucket("b", "alice").await.unwrap();
    let all = [
        BucketSetting::Policy,
        BucketSetting::Tagging,
        BucketSetting::Cors,
        BucketSetting::Lifecycle,
        BucketSetting::Encryption,
        BucketSetting::Logging,
        BucketSetting::Acl,
    ];
    for setting in all {
        store
            .set_bucket_setting("b", setting, Some(b"alice's".to_vec()))
            .await
            .unwrap();
    }
    // A neighbour's settings must survive the delete.
    store.create_bucket("keep", "carol").await.unwrap();
    store
        .set_bucket_setting("keep", BucketSetting::Policy, Some(b"carol's".to_vec()))
        .await
        .unwrap();

    store.delete_bucket("b").await.unwrap();
    assert!(matches!(
        store.bucket_setting("b", BucketSetting::Policy).await,
        Err(Error::NoSuchBucket)
    ));
    // The rows are gone, not just unreachable through the name.
    let id = old.id;
    let left = store
        .inner
        .shared
        .read(move |s| {
            all.iter()
                .map(|setting| s.bucket_setting(&id, setting.tag()))
                .collect::<Result<Vec<_>>>()
        })
        .await
        .unwrap();
    assert!(left.iter().all(Option::is_none), "{left:?}");

    // Same name, new owner: starts with nothing.
    store.create_bucket("b", "bob").await.unwrap();
    for setting in all {
        assert_eq!(
            store.bucket_setting("b", setting).await.unwrap(),
            None,
            "{setting:?}"
        );
    }
    assert_eq!(
        store
            .bucket_setting("keep", BucketSetting::Policy)
            .await
            .unwrap(),
        Some(b"carol's".to_vec())
    );
    store.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_of_a_missing_bucket_are_no_such_bucket() {
    let (_dir, store) = ephemeral().await;
    assert!(matches!(
        store.bucket_setting("nope", BucketSetting::Policy).await,
        Err(Error::NoSuchBucket)
    ));
    assert!(matches!(
        store
            .bucket_with_setting("nope", BucketSetting::Policy)
            .await,
        Err(Error::NoSuchBucket)
    ));
    for value in [Some(b"x".to_vec()), None] {
        assert!(matches!(
            store
                .set_bucket_setting("nope", BucketSetting::Policy, value)
                .await,
            Err(Error::NoSuchBucket)
        ));
    }
    // A refused set in a group commit does not fail its neighbours.
    store.create_bucket("b", "o").await.unwrap();
    let (missing, present) = tokio::join!(
        store.set_bucket_setting("nope", BucketSetting::Cors, Some(b"x".to_vec())),
        store.set_bucket_setting("b", BucketSetting::Cors, Some(b"y".to_vec())),
    );
    assert!(matches!(missing, Err(Error::NoSuchBucket)));
    present.unwrap();
    assert_eq!(
        store
            .bucket_setting("b", BucketSetting::Cors)
            .await
            .unwrap(),
        Some(b"y".to_vec())
    );
    store.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_setting_is_refused() {
    let (_dir, store) = ephemeral().await;
    store.create_bucket("b", "o").await.unwrap();
    let largest = vec![b'p'; MAX_BUCKET_SETTING_LEN];
    store
        .set_bucket_setting("b", BucketSetting::Policy, Some(largest.clone()))
        .await
        .unwrap();
    assert_eq!(
        store
            .bucket_setting("b", BucketSetting::Policy)
            .await
            .unwrap(),
        Some(largest.clone())
    );
    assert!(matches!(
        store
            .set_bucket_setting(
                "b",
                BucketSetting::Policy,
                Some(vec![b'q'; MAX_BUCKET_SETTING_LEN + 1])
            )
            .await,
        Err(Error::SettingTooLarge)
    ));
    // Nothing changed.
    assert_eq!(
        store
            .bucket_setting("b", BucketSetting::Policy)
            .await
            .unwrap(),
        Some(largest)
    );
    // Size is checked before existence: no bucket needed to be refused.
    assert!(matches!(
        store
            .set_bucket_setting(
                "nope",
                BucketSetting::Policy,
                Some(vec![0; MAX_BUCKET_SETTING_LEN + 1])
            )
            .await,
        Err(Error::SettingTooLarge)
    ));
    store.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p3_bucket_settings_hold_no_plaintext_at_rest() {
    let dir = tempfile::tempdir().unwrap();
    let key = MasterKey::generate().unwrap();
    let store = Store::open(open_cfg(dir.path(), &key)).await.unwrap();
    store.create_bucket("b", "o").await.unwrap();
    let policy = br#"{"Statement":[{"Principal":{"AWS":"policy-marker-6e0b"}}]}"#;
    store
        .set_bucket_setting("b", BucketSetting::Policy, Some(policy.to_vec()))
        .await
        .unwrap();
    store
        .set_bucket_setting(
            "b",
            BucketSetting::Tagging,
            Some(b"tag-marker-19f4".to_vec()),
        )
        .await
        .unwrap();
    store.shutdown().await;

    let markers: [&[u8]; 2] = [b"policy-marker-6e0b", b"tag-marker-19f4"];
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
}
