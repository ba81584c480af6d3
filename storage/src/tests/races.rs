//! Concurrency: group commit, writers that give up, and the dedup-versus-delete race
//! (a PUT that finds a chunk file present while a delete drops the chunk's last reference).

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_commit_50_concurrent_durable_commits() {
    let dir = tempfile::tempdir().unwrap();
    let key = MasterKey::generate().unwrap();
    let store = Store::open(config(
        dir.path(),
        &key,
        Durability::Immediate,
        IndexLocation::File,
    ))
    .await
    .unwrap();
    let bucket = store.create_bucket("b", "o").await.unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..50u64 {
        let (store, bucket) = (store.clone(), bucket.clone());
        tasks.spawn(async move {
            put(
                &store,
                &bucket,
                &format!("k{i:02}"),
                &body(i, 100 + i as usize),
                64,
            )
            .await
        });
    }
    let infos = tasks.join_all().await;
    assert_eq!(infos.len(), 50);
    let page = store
        .list_objects(
            &bucket,
            ListParams {
                max_keys: 1000,
                ..ListParams::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(page.entries.len(), 50);
    for i in 0..50u64 {
        let info = store
            .head_object(&bucket, &format!("k{i:02}"))
            .await
            .unwrap();
        assert_eq!(
            get(&store, &info, 0..info.size).await.unwrap(),
            body(i, 100 + i as usize)
        );
    }
    store.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_writer_and_staged_body_leave_no_chunk_files() {
    let (dir, store) = ephemeral().await;
    let bucket = store.create_bucket("b", "o").await.unwrap();
    let kept = put(&store, &bucket, "kept", &body(1, CHUNK), CHUNK).await;

    // Mid-way: chunks in flight, one of them shared with a committed object.
    let mut writer = store.object_writer(&bucket).await.unwrap();
    writer.write(Bytes::from(body(1, CHUNK))).await.unwrap();
    writer
        .write(Bytes::from(body(2, 3 * CHUNK + 5)))
        .await
        .unwrap();
    drop(writer);
    wait_chunk_files(&store, dir.path(), 1).await;

    // Finished but never committed (say the server rejected its checksum).
    let mut writer = store.object_writer(&bucket).await.unwrap();
    writer.write(Bytes::from(body(3, 2 * CHUNK))).await.unwrap();
    let staged = writer.finish().await.unwrap();
    assert_eq!(chunk_files(dir.path()), 3);
    drop(staged);
    wait_chunk_files(&store, dir.path(), 1).await;

    // Committing into a bucket deleted meanwhile fails and releases too.
    let doomed = store.create_bucket("doomed", "o").await.unwrap();
    let mut writer = store.object_writer(&doomed).await.unwrap();
    writer.write(Bytes::from(body(4, CHUNK))).await.unwrap();
    let staged = writer.finish().await.unwrap();
    store.delete_bucket("doomed").await.unwrap();
    assert!(matches!(
        store
            .commit_object(&doomed, "k", staged, ObjectMeta::default())
            .await,
        Err(Error::NoSuchBucket)
    ));
    wait_chunk_files(&store, dir.path(), 1).await;
    assert_eq!(
        get(&store, &kept, 0..kept.size).await.unwrap(),
        body(1, CHUNK)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dedup_put_racing_delete_never_loses_the_chunk() {
    let (dir, store) = ephemeral().await;
    let bucket = store.create_bucket("b", "o").await.unwrap();
    let data = body(8, 2 * CHUNK);
    for round in 0..40 {
        put(&store, &bucket, "old", &data, CHUNK).await;
        let deleter = {
            let (store, bucket) = (store.clone(), bucket.clone());
            tokio::spawn(async move { store.delete_object(&bucket, "old").await.unwrap() })
        };
        let info = put(&store, &bucket, "new", &data, CHUNK / 3).await;
        assert!(deleter.await.unwrap());
        assert_eq!(
            get(&store, &info, 0..info.size).await.unwrap(),
            data,
            "round {round}"
        );
        assert_eq!(chunk_files(dir.path()), 2, "round {round}");
        store.delete_object(&bucket, "new").await.unwrap();
        assert_eq!(chunk_files(dir.path()), 0, "round {round}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reader_dropped_early_stops_and_store_goes_on() {
    let (_dir, store) = ephemeral().await;
    let bucket = store.create_bucket("b", "o").await.unwrap();
    let info = put(&store, &bucket, "k", &body(1, 8 * CHUNK), CHUNK).await;
    let mut reader = store.read_object(&info, 0..info.size);
    let first = reader.recv().await.unwrap().unwrap();
    assert_eq!(first.len(), CHUNK);
    drop(reader);
    assert!(store.delete_object(&bucket, "k").await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tidying_after_open_removes_crash_leftovers() {
    let dir = tempfile::tempdir().unwrap();
    let key = MasterKey::generate().unwrap();
    let open = || {
        Store::open(config(
            dir.path(),
            &key,
            Durability::Relaxed,
            IndexLocation::File,
        ))
    };
    let store = open().await.unwrap();
    let bucket = store.create_bucket("b", "o").await.unwrap();
    put(&store, &bucket, "k", &body(1, CHUNK), CHUNK).await;
    // A writer that "crashed": its files are on disk, its commit never happened.
    let mut writer = store.object_writer(&bucket).await.unwrap();
    writer.write(Bytes::from(body(2, 2 * CHUNK))).await.unwrap();
    let staged = writer.finish().await.unwrap();
    std::mem::forget(staged);
    let fan = files_under(&dir.path().join("chunks"))[0]
        .parent()
        .unwrap()
        .to_path_buf();
    std::fs::write(fan.join(".tmp-deadbeef"), b"half").unwrap();
    assert_eq!(chunk_files(dir.path()), 4);
    store.shutdown().await;

    let store = open().await.unwrap();
    // Opening does not walk the chunk tree; the pass after it removes the debris.
    store.tidied().await;
    assert_eq!(chunk_files(dir.path()), 1);
    let bucket = store.bucket("b").await.unwrap();
    let info = store.head_object(&bucket, "k").await.unwrap();
    assert_eq!(
        get(&store, &info, 0..info.size).await.unwrap(),
        body(1, CHUNK)
    );
    store.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_skips_chunks_a_staged_body_found_by_dedup() {
    let (dir, store) = ephemeral().await;
    let bucket = store.create_bucket("b", "o").await.unwrap();
    let data = body(12, CHUNK + 7);
    for commit in [true, false] {
        put(&store, &bucket, "old", &data, CHUNK).await;
        // The staged body finds both chunk files present (dedup) and registers them...
        let mut writer = store.object_writer(&bucket).await.unwrap();
        writer.write(Bytes::from(data.clone())).await.unwrap();
        let staged = writer.finish().await.unwrap();
        // ...so dropping the last reference must not unlink them.
        assert!(store.delete_object(&bucket, "old").await.unwrap());
        assert_eq!(chunk_files(dir.path()), 2);
        if commit {
            let info = store
                .commit_object(&bucket, "new", staged, ObjectMeta::default())
                .await
                .unwrap();
            assert_eq!(get(&store, &info, 0..info.size).await.unwrap(), data);
            store.delete_object(&bucket, "new").await.unwrap();
            assert_eq!(chunk_files(dir.path()), 0);
        } else {
            // Given up: now nothing references them, so they go.
            drop(staged);
            wait_chunk_files(&store, dir.path(), 0).await;
        }
    }
}

/// Regression: MD5 once ran on a blocking thread that waited for body bytes for
/// the whole upload. With as many open uploads as blocking threads, no thread
/// was left to seal chunks and every upload hung. Here two blocking threads
/// serve four interleaved uploads.
#[test]
fn open_uploads_do_not_exhaust_the_blocking_pool() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (_dir, store) = ephemeral().await;
        let bucket = store.create_bucket("pool", "root").await.unwrap();
        let mut writers = Vec::new();
        for _ in 0..4 {
            writers.push(store.object_writer(&bucket).await.unwrap());
        }
        let run = async {
            // Every writer gets part of its body before any finishes.
            for round in 0..3u64 {
                for (i, w) in writers.iter_mut().enumerate() {
                    w.write(Bytes::from(body(round * 10 + i as u64, CHUNK + 7)))
                        .await
                        .unwrap();
                }
            }
            for (i, w) in writers.into_iter().enumerate() {
                let staged = w.finish().await.unwrap();
                store
                    .commit_object(&bucket, &format!("k{i}"), staged, ObjectMeta::default())
                    .await
                    .unwrap();
            }
        };
        tokio::time::timeout(std::time::Duration::from_secs(30), run)
            .await
            .expect("uploads hung: blocking pool exhausted");
        store.shutdown().await;
    });
}
