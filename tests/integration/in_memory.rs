//! `coffer serve --in-memory` (issue 15): a throwaway server with no files at all, bounded
//! by `--max-memory`. The same round trips as on disk run against it in `scripts/test`
//! (`COFFER_TEST_STORAGE=in-memory`); these tests check what only this mode promises.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::BucketVersioningStatus;

use crate::common::markers::marker;
use crate::common::versions::set_versioning;
use crate::common::*;

/// Files a running server holds open, other than its log: none may be a data file.
fn open_files(pid: u32, log: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(format!("/proc/{pid}/fd")).expect("fd dir") {
        let Ok(target) = std::fs::read_link(entry.expect("fd").path()) else {
            continue;
        };
        let text = target.to_string_lossy().into_owned();
        // Sockets, pipes, epoll/eventfd and the like are not paths.
        if !text.starts_with('/')
            || target == log
            || text == "/dev/null"
            || text.starts_with("/dev/")
        {
            continue;
        }
        out.push(text);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_trips_with_no_file_written_or_left() {
    let env = TestEnv::new();
    let mut server = env.start(
        &[
            "serve",
            "--in-memory",
            "--listen",
            "127.0.0.1:0",
            "--bucket",
            "fixtures",
        ],
        &[],
        &Expect::PrintedCredentials,
    );
    let s3 = server.client();
    let marker = marker("in-memory");

    // A body in one chunk, one across chunks, and a multipart upload.
    let small = format!("{marker} small").into_bytes();
    let big = random_bytes(9 << 20);
    for (key, body) in [("small", &small), ("big", &big)] {
        s3.put_object()
            .bucket("fixtures")
            .key(key)
            .body(ByteStream::from(body.clone()))
            .send()
            .await
            .expect("put");
    }
    let upload = s3
        .create_multipart_upload()
        .bucket("fixtures")
        .key("parts")
        .send()
        .await
        .expect("create upload");
    let id = upload.upload_id().expect("upload id");
    let mut parts = Vec::new();
    for (n, len) in [(1, 5 << 20), (2, 1000)] {
        let part = s3
            .upload_part()
            .bucket("fixtures")
            .key("parts")
            .upload_id(id)
            .part_number(n)
            .body(ByteStream::from(big[..len].to_vec()))
            .send()
            .await
            .expect("part");
        parts.push(
            aws_sdk_s3::types::CompletedPart::builder()
                .part_number(n)
                .e_tag(part.e_tag().expect("etag"))
                .build(),
        );
    }
    s3.complete_multipart_upload()
        .bucket("fixtures")
        .key("parts")
        .upload_id(id)
        .multipart_upload(
            aws_sdk_s3::types::CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await
        .expect("complete");

    let get = |key: &'static str, range: Option<&'static str>| {
        let s3 = s3.clone();
        async move {
            let mut req = s3.get_object().bucket("fixtures").key(key);
            if let Some(r) = range {
                req = req.range(r);
            }
            let out = req.send().await.expect("get");
            out.body
                .collect()
                .await
                .expect("body")
                .into_bytes()
                .to_vec()
        }
    };
    assert_eq!(get("small", None).await, small);
    assert_eq!(get("big", None).await, big);
    assert_eq!(
        get("big", Some("bytes=4194300-4194400")).await,
        &big[4_194_300..=4_194_400]
    );
    assert_eq!(get("parts", None).await.len(), (5 << 20) + 1000);

    // Versions are kept in memory too.
    set_versioning(&s3, "fixtures", BucketVersioningStatus::Enabled).await;
    for body in ["one", "two"] {
        s3.put_object()
            .bucket("fixtures")
            .key("versioned")
            .body(ByteStream::from_static(body.as_bytes()))
            .send()
            .await
            .expect("put version");
    }
    let versions = s3
        .list_object_versions()
        .bucket("fixtures")
        .prefix("versioned")
        .send()
        .await
        .expect("versions");
    assert_eq!(versions.versions().len(), 2);

    // Nothing reached a file: no temporary directory, no data file held open.
    assert_eq!(files_under(&env.tmp()), Vec::<std::path::PathBuf>::new());
    assert_eq!(open_files(server.pid(), &server.log), Vec::<String>::new());
    let status = server.stop();
    assert!(status.success(), "{status:?}");
    assert_eq!(files_under(&env.tmp()), Vec::<std::path::PathBuf>::new());
    assert!(!String::from_utf8_lossy(&std::fs::read(&server.log).expect("log")).contains(&marker));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_max_memory_writes_get_slow_down_reads_go_on_and_deletes_free_room() {
    let env = TestEnv::new();
    let server = env.start(
        &[
            "serve",
            "--in-memory",
            "--max-memory",
            "16MiB",
            "--listen",
            "127.0.0.1:0",
            "--bucket",
            "fixtures",
        ],
        &[],
        &Expect::PrintedCredentials,
    );
    let s3 = server.client();
    // A fresh body each time: identical ones would share their chunks.
    let put = |key: String| {
        let (s3, body) = (s3.clone(), random_bytes(4 << 20));
        async move {
            s3.put_object()
                .bucket("fixtures")
                .key(key)
                .body(ByteStream::from(body))
                .send()
                .await
        }
    };
    let mut stored = 0;
    let refused = loop {
        match put(format!("o{stored}")).await {
            Ok(_) => stored += 1,
            Err(e) => break e,
        }
        assert!(stored < 8, "16 MiB held {stored} objects of 4 MiB");
    };
    assert!(stored >= 2, "only {stored} objects fit");
    assert_s3_err(Err::<(), _>(refused), 503, Some("SlowDown"));
    // What is stored reads back whole, and the refused key is not there.
    let first = s3
        .get_object()
        .bucket("fixtures")
        .key("o0")
        .send()
        .await
        .expect("get");
    assert_eq!(
        first.body.collect().await.expect("body").into_bytes().len(),
        4 << 20
    );
    let missing = s3
        .head_object()
        .bucket("fixtures")
        .key(format!("o{stored}"))
        .send()
        .await;
    assert_s3_err(missing, 404, None);
    // Deleting frees room (chunks are released in the background: retry briefly).
    for i in 0..stored {
        s3.delete_object()
            .bucket("fixtures")
            .key(format!("o{i}"))
            .send()
            .await
            .expect("delete");
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while put("after".to_owned()).await.is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "deleting freed no room"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[test]
fn in_memory_refuses_a_data_directory_and_a_tiny_budget() {
    let env = TestEnv::new();
    let data = env.data();
    for (args, want) in [
        (
            vec![
                "serve",
                "--in-memory",
                "--data",
                data.to_str().expect("utf-8"),
            ],
            "exclude each other",
        ),
        (
            vec!["serve", "--in-memory", "--ephemeral"],
            "exclude each other",
        ),
        (
            vec!["serve", "--in-memory", "--max-memory", "1MiB"],
            "--max-memory",
        ),
        (
            vec!["serve", "--in-memory", "--max-memory", "lots"],
            "--max-memory",
        ),
    ] {
        let (code, _, stderr) = env.run_for_code(&args, &[], b"");
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stderr.contains(want), "{args:?}: {stderr}");
    }
}
