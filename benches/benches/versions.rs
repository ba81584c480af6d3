//! What old versions cost a listing (issue 10). Two buckets of 10 000 keys in one store:
//! one holds a single version of each key, the other ten (versioning enabled, nine older
//! versions per key). Measured: one 1 000-key page of current objects (ListObjectsV2's
//! scan) from the start and from the middle, and one 1 000-entry page of versions
//! (ListObjectVersions) — each in both buckets. Current versions live apart from older
//! ones, so the current-object pages should cost the same in both buckets.
//!
//! `cargo bench -p coffer-benches --bench versions` (populating takes about a minute).

// A bench is a tool run by hand: failing loudly on setup is right, and the criterion
// macros generate undocumented items.
#![allow(clippy::expect_used, clippy::unwrap_used, missing_docs)]

use std::hint::black_box;

use bytes::Bytes;
use coffer_storage::{
    BucketInfo, DEFAULT_CHUNK_SIZE, DEFAULT_INLINE_MAX, Durability, ListParams, MasterKey,
    ObjectMeta, Placement, Store, StoreConfig, VersionListParams, Versioning,
};
use criterion::{Criterion, criterion_group, criterion_main};

const KEYS: usize = 10_000;
const PAGE: usize = 1_000;

fn key(i: usize) -> String {
    format!("patients/p-{:05}/visit-{}/scan.jpg", i, i % 7)
}

async fn populate(store: &Store, bucket: &BucketInfo, versions: usize) {
    // Writers in parallel, so the index group-commits them.
    let mut tasks = Vec::new();
    for w in 0..8 {
        let (store, bucket) = (store.clone(), bucket.clone());
        tasks.push(tokio::spawn(async move {
            for round in 0..versions {
                for i in (w..KEYS).step_by(8) {
                    let mut writer = store.object_writer(&bucket).await.unwrap();
                    // Distinct small bodies, as real versions differ.
                    let body = format!("{i}-{round}");
                    writer.write(Bytes::from(body)).await.unwrap();
                    let staged = writer.finish().await.unwrap();
                    store
                        .commit_object(&bucket, &key(i), staged, ObjectMeta::default())
                        .await
                        .unwrap();
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

fn versions(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().expect("temp dir");
    let store = rt.block_on(async {
        let store = Store::open(StoreConfig {
            placement: Placement::directory(dir.path().to_path_buf()),
            chunk_size: DEFAULT_CHUNK_SIZE,
            inline_max: DEFAULT_INLINE_MAX,
            durability: Durability::Relaxed,
            master_key: MasterKey::generate().unwrap(),
        })
        .await
        .unwrap();
        let one = store.create_bucket("one", "o").await.unwrap();
        let ten = store.create_bucket("ten", "o").await.unwrap();
        store
            .set_versioning("ten", Versioning::Enabled)
            .await
            .unwrap();
        populate(&store, &one, 1).await;
        populate(&store, &ten, 10).await;
        store.flush().await.unwrap();
        store
    });
    let buckets = rt.block_on(async {
        [
            ("1_version", store.bucket("one").await.unwrap()),
            ("10_versions", store.bucket("ten").await.unwrap()),
        ]
    });
    let mut group = c.benchmark_group("list_10k_keys");
    for (name, bucket) in &buckets {
        for (from, start_after) in [("start", None), ("middle", Some(key(KEYS / 2)))] {
            group.bench_function(format!("current_page_{from}_{name}"), |b| {
                b.iter(|| {
                    let params = ListParams {
                        max_keys: PAGE,
                        start_after: start_after.clone(),
                        ..ListParams::default()
                    };
                    let page = rt.block_on(store.list_objects(bucket, params)).unwrap();
                    assert_eq!(page.entries.len(), PAGE);
                    black_box(page)
                });
            });
        }
        group.bench_function(format!("versions_page_{name}"), |b| {
            b.iter(|| {
                let params = VersionListParams {
                    max_keys: PAGE,
                    ..VersionListParams::default()
                };
                let page = rt
                    .block_on(store.list_object_versions(bucket, params))
                    .unwrap();
                assert_eq!(page.entries.len(), PAGE);
                black_box(page)
            });
        });
    }
    group.finish();
    rt.block_on(store.shutdown());
}

criterion_group!(benches, versions);
criterion_main!(benches);
