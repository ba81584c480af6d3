//! Versions, Object Lock and write preconditions through the public API: which version is
//! current after each change, what a lock refuses, that chunks are shared and freed, and
//! that version listings page exactly like a model.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use super::*;

async fn staged(store: &Store, bucket: &BucketInfo, data: &[u8]) -> StagedBody {
    let mut writer = store.object_writer(bucket).await.unwrap();
    writer.write(Bytes::copy_from_slice(data)).await.unwrap();
    writer.finish().await.unwrap()
}

async fn put_with(
    store: &Store,
    bucket: &BucketInfo,
    key: &str,
    data: &[u8],
    options: WriteOptions,
) -> Result<ObjectInfo> {
    let body = staged(store, bucket, data).await;
    store
        .commit_object_with(bucket, key, body, ObjectMeta::default(), options)
        .await
}

async fn versioned(store: &Store, name: &str) -> BucketInfo {
    let bucket = store.create_bucket(name, "o").await.unwrap();
    store
        .set_versioning(name, Versioning::Enabled)
        .await
        .unwrap();
    bucket
}

// Requests carry an optional version id; the helper makes one.
#[allow(clippy::unnecessary_wraps)]
fn id(text: &str) -> Option<VersionRef> {
    Some(VersionRef::parse(text).unwrap())
}

async fn body_of(store: &Store, bucket: &BucketInfo, key: &str, version: &str) -> Vec<u8> {
    let info = store.head_version(bucket, key, id(version)).await.unwrap();
    get(store, &info, 0..info.size).await.unwrap()
}

/// Every entry of a version listing as (key, id, latest, marker), fetched in one page.
async fn all_versions(store: &Store, bucket: &BucketInfo) -> Vec<(String, String, bool, bool)> {
    let page = store
        .list_object_versions(
            bucket,
            VersionListParams {
                max_keys: 100_000,
                ..VersionListParams::default()
            },
        )
        .await
        .unwrap();
    assert!(!page.is_truncated);
    page.entries
        .into_iter()
        .map(|e| match e {
            VersionListEntry::Version(v) => (v.key, v.version_id, v.is_latest, v.delete_marker),
            VersionListEntry::CommonPrefix(p) => panic!("unexpected prefix {p}"),
        })
        .collect()
}

fn ms_from_now(ms: u64) -> u64 {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    u64::try_from(now.as_millis()).unwrap() + ms
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_versioned_key_keeps_its_history_behind_delete_markers() {
    let (_dir, store) = ephemeral().await;
    let bucket = versioned(&store, "b").await;
    let v1 = put(&store, &bucket, "k", b"one", 3).await;
    let v2 = put(&store, &bucket, "k", b"two", 3).await;
    let (id1, id2) = (
        v1.version_id.clone().unwrap(),
        v2.version_id.clone().unwrap(),
    );
    assert_ne!(id1, id2);
    assert_ne!(id1, "null");
    assert_eq!(body_of(&store, &bucket, "k", &id1).await, b"one");
    assert_eq!(body_of(&store, &bucket, "k", &id2).await, b"two");
    let current = store.head_object(&bucket, "k").await.unwrap();
    assert_eq!(current.version_id.as_deref(), Some(id2.as_str()));
    assert!(current.is_current);
    assert!(
        !store
            .head_version(&bucket, "k", id(&id1))
            .await
            .unwrap()
            .is_current
    );

    // A delete without a version id writes a marker and keeps both versions.
    let gone = store
        .delete_object_with(&bucket, "k", DeleteOptions::default())
        .await
        .unwrap();
    assert!(gone.delete_marker);
    let marker = gone.version_id.unwrap();
    assert!(matches!(
        store.head_object(&bucket, "k").await,
        Err(Error::DeleteMarker { version_id }) if version_id == marker
    ));
    assert!(matches!(
        store.head_version(&bucket, "k", id(&marker)).await,
        Err(Error::DeleteMarker { .. })
    ));
    let listed = store
        .list_objects(
            &bucket,
            ListParams {
                max_keys: 10,
                ..ListParams::default()
            },
        )
        .await
        .unwrap();
    assert!(listed.entries.is_empty(), "a deleted key is not listed");
    assert_eq!(
        all_versions(&store, &bucket).await,
        vec![
            ("k".into(), marker.clone(), true, true),
            ("k".into(), id2.clone(), false, false),
            ("k".into(), id1.clone(), false, false),
        ]
    );

    // Removing the marker brings the newest version back.
    let undone = store
        .delete_object_with(
            &bucket,
            "k",
            DeleteOptions {
                version: id(&marker),
                ..DeleteOptions::default()
            },
        )
        .await
        .unwrap();
    assert!(undone.found && undone.delete_marker);
    assert_eq!(
        store.head_object(&bucket, "k").await.unwrap().version_id,
        Some(id2.clone())
    );
    // Removing the current version for good makes the older one current.
    store
        .delete_object_with(
            &bucket,
            "k",
            DeleteOptions {
                version: id(&id2),
                ..DeleteOptions::default()
            },
        )
        .await
        .unwrap();
    let back = store.head_object(&bucket, "k").await.unwrap();
    assert_eq!(back.version_id, Some(id1.clone()));
    assert_eq!(get(&store, &back, 0..back.size).await.unwrap(), b"one");
    // Unknown and garbage version ids.
    assert!(matches!(
        store.head_version(&bucket, "k", id(&id2)).await,
        Err(Error::NoSuchVersion)
    ));
    assert!(matches!(
        VersionRef::parse("../etc"),
        Err(Error::InvalidVersionId)
    ));
    // A copy of the old version restores it as a new version.
    let restored = store
        .copy_object(
            &back,
            &bucket,
            "k",
            ObjectMeta::default(),
            WriteOptions::default(),
        )
        .await
        .unwrap();
    assert_ne!(restored.version_id, back.version_id);
    assert_eq!(all_versions(&store, &bucket).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suspended_writes_replace_the_null_version_only() {
    let dir = tempfile::tempdir().unwrap();
    let key = MasterKey::generate().unwrap();
    let store = Store::open(config(
        dir.path(),
        &key,
        Durability::Relaxed,
        IndexLocation::Memory,
    ))
    .await
    .unwrap();
    let bucket = store.create_bucket("b", "o").await.unwrap();
    // Unversioned: no ids, the null version is replaced in place.
    let plain = put(&store, &bucket, "k", &body(1, CHUNK), CHUNK).await;
    assert_eq!(plain.version_id, None);
    assert_eq!(
        store.versioning(&bucket).await.unwrap(),
        Versioning::Unversioned
    );
    store
        .set_versioning("b", Versioning::Enabled)
        .await
        .unwrap();
    let v1 = put(&store, &bucket, "k", &body(2, CHUNK), CHUNK).await;
    store
        .set_versioning("b", Versioning::Suspended)
        .await
        .unwrap();
    let n1 = put(&store, &bucket, "k", &body(3, CHUNK), CHUNK).await;
    assert_eq!(n1.version_id.as_deref(), Some("null"));
    // The pre-versioning object was the null version: the suspended write replaced it.
    wait_chunk_files(&store, dir.path(), 2).await;
    let n2 = put(&store, &bucket, "k", &body(4, CHUNK), CHUNK).await;
    assert_eq!(n2.version_id.as_deref(), Some("null"));
    wait_chunk_files(&store, dir.path(), 2).await;
    let v1_id = v1.version_id.unwrap();
    assert_eq!(
        all_versions(&store, &bucket).await,
        vec![
            ("k".into(), "null".into(), true, false),
            ("k".into(), v1_id.clone(), false, false),
        ]
    );
    // A suspended delete replaces the null version with a null delete marker.
    let gone = store
        .delete_object_with(&bucket, "k", DeleteOptions::default())
        .await
        .unwrap();
    assert_eq!(gone.version_id.as_deref(), Some("null"));
    wait_chunk_files(&store, dir.path(), 1).await;
    assert_eq!(
        all_versions(&store, &bucket).await,
        vec![
            ("k".into(), "null".into(), true, true),
            ("k".into(), v1_id.clone(), false, false),
        ]
    );
    // Never back to unversioned.
    assert!(matches!(
        store.set_versioning("b", Versioning::Unversioned).await,
        Err(Error::InvalidBucketState)
    ));
    // A bucket with versions is not empty; once they are gone it can go.
    assert!(matches!(
        store.delete_bucket("b").await,
        Err(Error::BucketNotEmpty)
    ));
    for v in ["null", v1_id.as_str()] {
        store
            .delete_object_with(
                &bucket,
                "k",
                DeleteOptions {
                    version: id(v),
                    ..DeleteOptions::default()
                },
            )
            .await
            .unwrap();
    }
    wait_chunk_files(&store, dir.path(), 0).await;
    store.delete_bucket("b").await.unwrap();
    store.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_share_chunks_and_free_what_only_they_used() {
    let dir = tempfile::tempdir().unwrap();
    let key = MasterKey::generate().unwrap();
    let store = Store::open(config(
        dir.path(),
        &key,
        Durability::Relaxed,
        IndexLocation::Memory,
    ))
    .await
    .unwrap();
    let bucket = versioned(&store, "b").await;
    let same = body(9, 3 * CHUNK);
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(
            put(&store, &bucket, "k", &same, CHUNK)
                .await
                .version_id
                .unwrap(),
        );
    }
    // Three versions of an unchanged body store it once.
    wait_chunk_files(&store, dir.path(), 3).await;
    let other = put(&store, &bucket, "k", &body(10, CHUNK), CHUNK).await;
    wait_chunk_files(&store, dir.path(), 4).await;
    for (i, v) in ids.iter().enumerate() {
        store
            .delete_object_with(
                &bucket,
                "k",
                DeleteOptions {
                    version: id(v),
                    ..DeleteOptions::default()
                },
            )
            .await
            .unwrap();
        // The shared chunks go with the last version that used them.
        wait_chunk_files(&store, dir.path(), if i < 2 { 4 } else { 1 }).await;
    }
    store
        .delete_object_with(
            &bucket,
            "k",
            DeleteOptions {
                version: id(other.version_id.as_deref().unwrap()),
                ..DeleteOptions::default()
            },
        )
        .await
        .unwrap();
    wait_chunk_files(&store, dir.path(), 0).await;
    store.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_lock_refuses_what_it_protects_until_it_expires() {
    let (_dir, store) = ephemeral().await;
    let plain = store.create_bucket("plain", "o").await.unwrap();
    let locked = store.create_locked_bucket("locked", "o").await.unwrap();
    assert_eq!(
        store.versioning(&locked).await.unwrap(),
        Versioning::Enabled
    );
    assert_eq!(
        store.object_lock_config(&locked).await.unwrap(),
        Some(ObjectLockConfig::default())
    );
    assert_eq!(store.object_lock_config(&plain).await.unwrap(), None);
    let hold = ObjectLock {
        retention: None,
        legal_hold: true,
    };
    assert!(matches!(
        put_with(
            &store,
            &plain,
            "k",
            b"x",
            WriteOptions {
                lock: hold,
                ..WriteOptions::default()
            }
        )
        .await,
        Err(Error::ObjectLockNotEnabled)
    ));
    assert!(matches!(
        store.set_versioning("locked", Versioning::Suspended).await,
        Err(Error::InvalidBucketState)
    ));
    let delete = |v: &str, bypass: bool| DeleteOptions {
        version: id(v),
        bypass_governance: bypass,
        ..DeleteOptions::default()
    };
    let retention = |mode, ms| ObjectLock {
        retention: Some(Retention {
            mode,
            until_ms: ms_from_now(ms),
        }),
        legal_hold: false,
    };

    // COMPLIANCE: nobody removes or shortens it, bypass or not; it may grow.
    let comp = put_with(
        &store,
        &locked,
        "c",
        b"c",
        WriteOptions {
            lock: retention(LockMode::Compliance, 3_600_000),
            ..WriteOptions::default()
        },
    )
    .await
    .unwrap();
    let cid = comp.version_id.clone().unwrap();
    for bypass in [false, true] {
        assert!(matches!(
            store
                .delete_object_with(&locked, "c", delete(&cid, bypass))
                .await,
            Err(Error::ObjectLocked)
        ));
        let outcomes = store
            .delete_versions(&locked, vec![("c".into(), id(&cid))], bypass)
            .await
            .unwrap();
        assert!(matches!(outcomes[0], Err(Error::ObjectLocked)));
        for shorter in [
            None,
            Some(Retention {
                mode: LockMode::Compliance,
                until_ms: ms_from_now(1_000),
            }),
            Some(Retention {
                mode: LockMode::Governance,
                until_ms: ms_from_now(7_200_000),
            }),
        ] {
            assert!(matches!(
                store
                    .set_retention(&locked, "c", id(&cid), shorter, bypass)
                    .await,
                Err(Error::ObjectLocked)
            ));
        }
    }
    let longer = Retention {
        mode: LockMode::Compliance,
        until_ms: ms_from_now(7_200_000),
    };
    store
        .set_retention(&locked, "c", id(&cid), Some(longer), false)
        .await
        .unwrap();
    // A delete without a version id only adds a marker: allowed, and the version stays.
    assert!(
        store
            .delete_object_with(&locked, "c", DeleteOptions::default())
            .await
            .unwrap()
            .delete_marker
    );
    assert_eq!(
        store
            .head_version(&locked, "c", id(&cid))
            .await
            .unwrap()
            .lock
            .retention,
        Some(longer)
    );
    assert!(matches!(
        store.delete_bucket("locked").await,
        Err(Error::BucketNotEmpty)
    ));

    // GOVERNANCE: only with the bypass.
    let gov = put_with(
        &store,
        &locked,
        "g",
        b"g",
        WriteOptions {
            lock: retention(LockMode::Governance, 3_600_000),
            ..WriteOptions::default()
        },
    )
    .await
    .unwrap();
    let gid = gov.version_id.clone().unwrap();
    assert!(matches!(
        store
            .delete_object_with(&locked, "g", delete(&gid, false))
            .await,
        Err(Error::ObjectLocked)
    ));
    assert!(matches!(
        store
            .set_retention(&locked, "g", id(&gid), None, false)
            .await,
        Err(Error::ObjectLocked)
    ));
    store
        .set_retention(&locked, "g", id(&gid), None, true)
        .await
        .unwrap();
    store
        .set_retention(
            &locked,
            "g",
            id(&gid),
            retention(LockMode::Governance, 3_600_000).retention,
            false,
        )
        .await
        .unwrap();
    store
        .delete_object_with(&locked, "g", delete(&gid, true))
        .await
        .unwrap();

    // A legal hold blocks deletion whatever the retention, bypass included.
    let on_hold = put_with(
        &store,
        &locked,
        "h",
        b"h",
        WriteOptions {
            lock: hold,
            ..WriteOptions::default()
        },
    )
    .await
    .unwrap();
    let hid = on_hold.version_id.clone().unwrap();
    assert!(matches!(
        store
            .delete_object_with(&locked, "h", delete(&hid, true))
            .await,
        Err(Error::ObjectLocked)
    ));
    store
        .set_legal_hold(&locked, "h", id(&hid), false)
        .await
        .unwrap();
    store
        .delete_object_with(&locked, "h", delete(&hid, false))
        .await
        .unwrap();

    // A retention that has run out protects nothing.
    let short = put_with(
        &store,
        &locked,
        "s",
        b"s",
        WriteOptions {
            lock: retention(LockMode::Compliance, 300),
            ..WriteOptions::default()
        },
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    store
        .delete_object_with(
            &locked,
            "s",
            delete(short.version_id.as_deref().unwrap(), false),
        )
        .await
        .unwrap();

    // The bucket's default retention applies to versions that ask for none.
    let default = ObjectLockConfig {
        default_retention: Some(DefaultRetention {
            mode: LockMode::Governance,
            period: RetentionPeriod::Days(1),
        }),
    };
    store
        .set_object_lock_config("locked", default)
        .await
        .unwrap();
    let dflt = put(&store, &locked, "d", b"d", 1).await;
    let r = dflt.lock.retention.unwrap();
    assert_eq!(r.mode, LockMode::Governance);
    assert!(r.until_ms > ms_from_now(86_000_000) && r.until_ms < ms_from_now(86_500_000));
    // Object Lock needs versioning on.
    assert!(matches!(
        store.set_object_lock_config("plain", default).await,
        Err(Error::InvalidBucketState)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_null_version_is_not_overwritten_in_place() {
    let (_dir, store) = ephemeral().await;
    let bucket = store.create_bucket("b", "o").await.unwrap();
    put(&store, &bucket, "k", b"old", 3).await;
    store
        .set_versioning("b", Versioning::Enabled)
        .await
        .unwrap();
    store
        .set_object_lock_config("b", ObjectLockConfig::default())
        .await
        .unwrap();
    store
        .set_legal_hold(&bucket, "k", id("null"), true)
        .await
        .unwrap();
    // Versioning cannot be suspended under Object Lock, so the null version is safe from
    // writes; deleting it by id is refused.
    assert!(matches!(
        store
            .delete_object_with(
                &bucket,
                "k",
                DeleteOptions {
                    version: id("null"),
                    ..DeleteOptions::default()
                }
            )
            .await,
        Err(Error::ObjectLocked)
    ));
    let newer = put(&store, &bucket, "k", b"new", 3).await;
    assert_ne!(newer.version_id.as_deref(), Some("null"));
    assert_eq!(body_of(&store, &bucket, "k", "null").await, b"old");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_concurrent_creators_exactly_one_wins() {
    let (_dir, store) = ephemeral().await;
    let bucket = store.create_bucket("b", "o").await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..16u8 {
        let (store, bucket) = (store.clone(), bucket.clone());
        tasks.push(tokio::spawn(async move {
            let options = WriteOptions {
                condition: Some(Precondition::IfNoneMatch),
                ..WriteOptions::default()
            };
            put_with(&store, &bucket, "k", &[i; 10], options).await
        }));
    }
    let mut won = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => won += 1,
            Err(Error::PreconditionFailed) => {}
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(won, 1);
    let current = store.head_object(&bucket, "k").await.unwrap();
    let matching = |etag: &str| WriteOptions {
        condition: Some(Precondition::IfMatch(etag.into())),
        ..WriteOptions::default()
    };
    assert!(matches!(
        put_with(&store, &bucket, "k", b"x", matching("0000")).await,
        Err(Error::PreconditionFailed)
    ));
    assert!(matches!(
        put_with(&store, &bucket, "absent", b"x", matching("*")).await,
        Err(Error::NoSuchKey)
    ));
    put_with(&store, &bucket, "k", b"x", matching(&current.etag))
        .await
        .unwrap();
    // A delete marker counts as absent.
    store
        .set_versioning("b", Versioning::Enabled)
        .await
        .unwrap();
    store.delete_object(&bucket, "k").await.unwrap();
    let create = WriteOptions {
        condition: Some(Precondition::IfNoneMatch),
        ..WriteOptions::default()
    };
    put_with(&store, &bucket, "k", b"again", create)
        .await
        .unwrap();
    // If-Match on delete.
    let wrong = DeleteOptions {
        condition: Some(Precondition::IfMatch("ffff".into())),
        ..DeleteOptions::default()
    };
    assert!(matches!(
        store.delete_object_with(&bucket, "k", wrong).await,
        Err(Error::PreconditionFailed)
    ));
}

/// The versions a model expects, keys ascending, each key newest first.
type Model = BTreeMap<String, Vec<(String, bool)>>;

fn expected(model: &Model, prefix: &str, delimiter: Option<&str>) -> Vec<VersionListEntry> {
    let mut out = Vec::new();
    let mut last_prefix: Option<String> = None;
    for (key, versions) in model.range(prefix.to_owned()..) {
        if !key.starts_with(prefix) {
            break;
        }
        if let Some(d) = delimiter
            && let Some(at) = key[prefix.len()..].find(d)
        {
            let common = key[..prefix.len() + at + d.len()].to_owned();
            if last_prefix.as_deref() != Some(common.as_str()) {
                out.push(VersionListEntry::CommonPrefix(common.clone()));
                last_prefix = Some(common);
            }
            continue;
        }
        for (i, (version, marker)) in versions.iter().enumerate() {
            out.push(VersionListEntry::Version(VersionSummary {
                key: key.clone(),
                version_id: version.clone(),
                is_latest: i == 0,
                delete_marker: *marker,
                size: 0,
                etag: String::new(),
                last_modified: UNIX_EPOCH,
            }));
        }
    }
    out
}

/// Entries with what the model does not track blanked out.
fn shape(entries: Vec<VersionListEntry>) -> Vec<VersionListEntry> {
    entries
        .into_iter()
        .map(|e| match e {
            VersionListEntry::Version(v) => VersionListEntry::Version(VersionSummary {
                size: 0,
                etag: String::new(),
                last_modified: UNIX_EPOCH,
                ..v
            }),
            p @ VersionListEntry::CommonPrefix(_) => p,
        })
        .collect()
}

async fn paged(
    store: &Store,
    bucket: &BucketInfo,
    prefix: &str,
    delimiter: Option<&str>,
    max: usize,
) -> Vec<VersionListEntry> {
    let mut out = Vec::new();
    let (mut key_marker, mut version_marker) = (None, None);
    for _ in 0..10_000 {
        let page = store
            .list_object_versions(
                bucket,
                VersionListParams {
                    prefix: prefix.into(),
                    delimiter: delimiter.map(str::to_owned),
                    key_marker: key_marker.clone(),
                    version_id_marker: version_marker.clone(),
                    max_keys: max,
                },
            )
            .await
            .unwrap();
        assert!(page.entries.len() <= max);
        out.extend(shape(page.entries));
        if !page.is_truncated {
            return out;
        }
        key_marker = page.next_key_marker;
        version_marker = page.next_version_id_marker;
    }
    panic!("listing did not end");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_listings_page_like_a_model() {
    let (_dir, store) = ephemeral().await;
    let bucket = versioned(&store, "b").await;
    let keys = [
        "a",
        "a/1",
        "a/2",
        "a/b/c",
        "a\u{0}z",
        "ab",
        "b",
        "b/x",
        "\u{e9}t\u{e9}",
    ];
    let mut model = Model::new();
    let mut rng = 0x1234_5678_u64;
    let mut next = |n: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % n
    };
    for _ in 0..240 {
        let key = keys[usize::try_from(next(keys.len() as u64)).unwrap()];
        let history = model.entry(key.to_owned()).or_default();
        match next(10) {
            0..=5 => {
                let v = put(&store, &bucket, key, &[1], 1).await.version_id.unwrap();
                history.insert(0, (v, false));
            }
            6..=7 => {
                let out = store
                    .delete_object_with(&bucket, key, DeleteOptions::default())
                    .await
                    .unwrap();
                history.insert(0, (out.version_id.unwrap(), true));
            }
            _ if !history.is_empty() => {
                let at = usize::try_from(next(history.len() as u64)).unwrap();
                let (v, _) = history.remove(at);
                let out = store
                    .delete_object_with(
                        &bucket,
                        key,
                        DeleteOptions {
                            version: id(&v),
                            ..DeleteOptions::default()
                        },
                    )
                    .await
                    .unwrap();
                assert!(out.found);
            }
            _ => {}
        }
        if model.get(key).is_some_and(Vec::is_empty) {
            model.remove(key);
        }
    }
    for (prefix, delimiter) in [
        ("", None),
        ("", Some("/")),
        ("a", Some("/")),
        ("a/", None),
        ("a/", Some("/")),
        ("zz", None),
    ] {
        let want = expected(&model, prefix, delimiter);
        for max in [1, 2, 3, 7, 1000] {
            assert_eq!(
                paged(&store, &bucket, prefix, delimiter, max).await,
                want,
                "prefix {prefix:?} delimiter {delimiter:?} max {max}"
            );
        }
    }
    // The current objects alone: exactly the keys whose newest version is not a marker.
    let current: Vec<String> = model
        .iter()
        .filter(|(_, v)| !v[0].1)
        .map(|(k, _)| k.clone())
        .collect();
    let listed = store
        .list_objects(
            &bucket,
            ListParams {
                max_keys: 1000,
                ..ListParams::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        listed
            .entries
            .iter()
            .map(|e| e.key().to_owned())
            .collect::<Vec<_>>(),
        current
    );
}
