//! A store with no files (`Placement::Memory`): the same round trips as on disk, a budget
//! that refuses writes past it and frees with deletes, and nothing written anywhere.

use super::*;

const BUDGET: u64 = 4 << 20;

async fn in_memory(max_bytes: u64) -> Store {
    Store::open(StoreConfig {
        placement: Placement::Memory { max_bytes },
        chunk_size: CHUNK,
        inline_max: DEFAULT_INLINE_MAX,
        durability: Durability::Immediate,
        master_key: MasterKey::generate().unwrap(),
    })
    .await
    .unwrap()
}

async fn wait_chunks(store: &Store, want: u64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while store.chunk_stats().files != want {
        store.flush().await.unwrap();
        assert!(
            std::time::Instant::now() < deadline,
            "{:?}",
            store.chunk_stats()
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_trips_dedup_multipart_and_deletes_without_a_file() {
    let cwd_before = files_under(&std::env::current_dir().unwrap()).len();
    let store = in_memory(BUDGET).await;
    let bucket = store.create_bucket("memory", "owner").await.unwrap();
    let big = body(1, CHUNK * 2 + 17);
    let info = put(&store, &bucket, "big", &big, 1000).await;
    assert_eq!(get(&store, &info, 0..info.size).await.unwrap(), big);
    assert_eq!(
        get(&store, &info, 5..CHUNK as u64 + 9).await.unwrap(),
        &big[5..CHUNK + 9]
    );
    let small = put(&store, &bucket, "small", b"inline", 100).await;
    assert_eq!(get(&store, &small, 0..6).await.unwrap(), b"inline");
    // The same body again shares its chunks.
    put(&store, &bucket, "again", &big, CHUNK).await;
    assert_eq!(store.chunk_stats().files, 3);
    let upload = new_upload(&store, &bucket, "parts").await;
    let parted = one_part_upload(
        &store,
        &bucket,
        "parts",
        &upload.upload_id,
        b"one part",
        None,
    )
    .await;
    assert_eq!(get(&store, &parted, 0..8).await.unwrap(), b"one part");
    assert!(store.fsck(FsckMode::Check).await.unwrap().is_clean());

    store.delete_object(&bucket, "big").await.unwrap();
    wait_chunks(&store, 4).await;
    store.delete_object(&bucket, "again").await.unwrap();
    store.delete_object(&bucket, "parts").await.unwrap();
    store.delete_object(&bucket, "small").await.unwrap();
    wait_chunks(&store, 0).await;
    store.delete_bucket("memory").await.unwrap();
    assert!(matches!(
        store
            .backup(std::env::temp_dir().join("never"), vec![])
            .await,
        Err(Error::BackupTarget { .. })
    ));
    store.shutdown().await;
    assert_eq!(
        files_under(&std::env::current_dir().unwrap()).len(),
        cwd_before
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_budget_refuses_writes_keeps_reads_and_frees_with_deletes() {
    let store = in_memory(BUDGET).await;
    let bucket = store.create_bucket("full", "owner").await.unwrap();
    let kept = put(&store, &bucket, "kept", &body(2, CHUNK), CHUNK).await;
    // Fill: the index takes its share of the budget too.
    let mut n = 0;
    let refused = loop {
        let mut writer = match store.object_writer(&bucket).await {
            Ok(writer) => writer,
            Err(e) => break e,
        };
        let written = writer.write(Bytes::from(body(100 + n, CHUNK))).await;
        let finished = match written {
            Ok(()) => writer.finish().await,
            Err(e) => Err(e),
        };
        match finished {
            Ok(staged) => {
                store
                    .commit_object(&bucket, &format!("fill{n}"), staged, ObjectMeta::default())
                    .await
                    .unwrap();
            }
            Err(e) => break e,
        }
        n += 1;
        assert!(n < 64, "the budget never filled");
    };
    assert!(
        matches!(refused, Error::MemoryFull { max_bytes: BUDGET }),
        "{refused:?}"
    );
    assert!(store.chunk_stats().bytes <= BUDGET);
    // Reads go on; what was stored is intact.
    assert_eq!(
        get(&store, &kept, 0..kept.size).await.unwrap(),
        body(2, CHUNK)
    );
    // Deleting makes room again.
    for i in 0..n {
        store
            .delete_object(&bucket, &format!("fill{i}"))
            .await
            .unwrap();
    }
    wait_chunks(&store, 1).await;
    put(&store, &bucket, "after", &body(3, CHUNK), CHUNK).await;
    store.shutdown().await;
}
