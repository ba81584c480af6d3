//! The index shipped beside remote chunks: a restore on a fresh directory from the remote
//! alone, a standby that follows and serves reads, and a promotion that fences the old
//! primary. The remote is a durable Coffer on loopback (or Ceph RGW, as in
//! `remote_chunks.rs`).

use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;

use crate::common::iam_cli::user_with_key;
use crate::common::remote::{RemoteStore, remote_store, serve_on_remote, start_primary};
use crate::common::versions::{get_version, put_version, versioned_bucket};
use crate::common::{TestEnv, code_of, create_bucket, get, put, put_multipart, status_of};

const BUCKET: &str = "patient-bucket-shipped";
const KEY_MARKER: &str = "patient-key-shipped-9c1d";
const BODY_MARKER: &str = "PATIENT-BODY-SHIPPED-4e2b";

/// Short enough that a promotion takes a few seconds.
const FAST: [&str; 4] = ["--ship-interval", "1", "--lease-duration", "2"];

fn marked(len: usize, salt: u8) -> Vec<u8> {
    let mut body: Vec<u8> = BODY_MARKER.bytes().cycle().take(len).collect();
    body[len / 2] = salt;
    body
}

/// The remote's objects under the test's prefix: none may hold a marker, in its name or
/// its bytes (the shipped index, logs, lease and key files included).
async fn assert_remote_sealed(remote: &RemoteStore) {
    let client = remote.client();
    let keys = remote.keys().await;
    assert!(
        keys.iter().any(|k| k.contains("/index/")),
        "no shipped index: {keys:?}"
    );
    for key in keys {
        for marker in [BUCKET, KEY_MARKER, BODY_MARKER] {
            assert!(!key.contains(marker), "{key} names {marker}");
            let bytes = get(&client, &remote.bucket, &key).await;
            assert!(
                !bytes
                    .windows(marker.len())
                    .any(|w| w.eq_ignore_ascii_case(marker.as_bytes())),
                "{key} holds {marker} in clear"
            );
        }
    }
}

/// `coffer restore --from <remote> --data <env's>` with the primary's master key.
fn restore(env: &TestEnv, remote: &RemoteStore, master_key: &str) -> serde_json::Value {
    let data = env.data();
    std::fs::remove_dir(&data).expect("the env's data directory starts empty");
    let location = remote.location();
    let (ok, stdout, log) = env.run(
        &[
            "restore",
            "--from",
            &location,
            "--chunk-store-endpoint",
            &remote.endpoint,
            "--data",
            data.to_str().expect("utf-8 path"),
            "--json",
        ],
        &[
            ("COFFER_CHUNK_STORE_ACCESS_KEY", &remote.access_key),
            ("COFFER_CHUNK_STORE_SECRET_KEY", &remote.secret_key),
            ("COFFER_MASTER_KEY", master_key),
        ],
        b"",
    );
    assert!(ok, "restore failed: {stdout}\n{log}");
    serde_json::from_str(stdout.trim()).expect("the restore report is JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_directory_restored_from_the_remote_serves_every_acknowledged_object() {
    let remote = remote_store().await;
    let env = TestEnv::new();
    let mut flags = FAST.to_vec();
    flags.push("--ship-each-commit");
    let mut primary = start_primary(&env, &remote, &flags);
    let s3 = primary.client();
    versioned_bucket(&s3, BUCKET).await;
    let mut objects = Vec::new();
    for (i, len) in [10usize, 20 << 10, 5 << 20].into_iter().enumerate() {
        let key = format!("{KEY_MARKER}/{i}");
        let body = marked(len, u8::try_from(i).unwrap());
        put(&s3, BUCKET, &key, &body).await;
        objects.push((key, body));
    }
    let first = marked(3000, 0xaa);
    let v1 = put_version(&s3, BUCKET, "versioned", &first).await;
    put(&s3, BUCKET, "versioned", &marked(4000, 0xbb)).await;
    let part = marked(5 << 20, 0xcc);
    put_multipart(&s3, BUCKET, "multipart", &[part.clone(), part.clone()]).await;
    put(&s3, BUCKET, "deleted", b"gone soon").await;
    s3.delete_object()
        .bucket(BUCKET)
        .key("deleted")
        .send()
        .await
        .unwrap();
    // Every write was acknowledged after it was shipped: a crash now loses none of them.
    primary.kill();

    assert_remote_sealed(&remote).await;
    let copy = TestEnv::new();
    let report = restore(&copy, &remote, env.master_key());
    assert!(report["snapshot_bytes"].as_u64().unwrap() > 0, "{report}");
    // The dead primary's lease lapses (2 s), then the copy takes it.
    let restored = serve_on_remote(&copy, &remote, env.master_key(), &FAST);
    let s3 = restored.client();
    for (key, body) in &objects {
        assert_eq!(&get(&s3, BUCKET, key).await, body, "{key}");
    }
    assert_eq!(get_version(&s3, BUCKET, "versioned", &v1).await, first);
    let whole = get(&s3, BUCKET, "multipart").await;
    assert_eq!(whole.len(), 2 * part.len());
    assert_eq!(&whole[..part.len()], part.as_slice());
    let gone = s3.get_object().bucket(BUCKET).key("deleted").send().await;
    assert_eq!(status_of(&gone.unwrap_err()), 404);
    // The restored server writes on.
    put(&s3, BUCKET, "after-restore", b"new").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_follows_and_a_promotion_fences_the_old_primary() {
    let remote = remote_store().await;
    let env = TestEnv::new();
    let primary = start_primary(&env, &remote, &FAST);
    let s3 = primary.client();
    create_bucket(&s3, BUCKET).await;
    put(&s3, BUCKET, "before", &marked(70 << 10, 1)).await;

    // A standby starts from what is shipped: the primary ships at once, then every second.
    let shipped = crate::common::eventually(Duration::from_secs(10), || {
        tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(remote.keys()))
            .iter()
            .any(|k| k.contains("/snapshot-"))
    })
    .await;
    assert!(shipped, "the primary shipped no snapshot");
    let standby_env = TestEnv::new();
    let location = remote.location();
    let mut args = vec!["--standby-of", location.as_str()];
    args.extend_from_slice(&FAST);
    let standby = serve_on_remote(&standby_env, &remote, env.master_key(), &args);
    let reads = standby.client();
    assert_eq!(get(&reads, BUCKET, "before").await, marked(70 << 10, 1));

    // What the primary writes next reaches the standby within a few intervals.
    let later = marked(6 << 20, 2);
    put(&s3, BUCKET, "after", &later).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let found = reads.get_object().bucket(BUCKET).key("after").send().await;
        if let Ok(found) = found {
            assert_eq!(
                found.body.collect().await.unwrap().into_bytes().as_ref(),
                later
            );
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the standby never saw the write"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Users come with the index: a key made on the primary signs requests on the standby.
    let (access_key, secret) = user_with_key(&env, &primary, "radiology");
    let user = crate::common::s3_client(&standby.endpoint, &access_key, &secret, None);
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while let Err(err) = user.list_buckets().send().await {
        // An unknown key is answered as a wrong signature.
        assert_eq!(code_of(&err).as_deref(), Some("SignatureDoesNotMatch"));
        assert!(
            std::time::Instant::now() < deadline,
            "the standby never knew the new user"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // A standby refuses writes with 503, before it reads the body (a client that does not
    // send `Expect: 100-continue` may have a large body cut off instead: the body here is
    // small enough to be sent whole first), and writes nothing to the remote.
    let refused = reads
        .put_object()
        .bucket(BUCKET)
        .key("on-standby")
        .body(ByteStream::from(marked(32 << 10, 3)))
        .send()
        .await;
    assert_eq!(status_of(&refused.unwrap_err()), 503);

    // Promotion: the standby becomes the writer; the old primary's next write is refused.
    let data = standby_env.data();
    let (ok, stdout, log) = standby_env.run(
        &["promote", "--data", data.to_str().unwrap(), "--json"],
        &[],
        b"",
    );
    assert!(ok, "promote failed: {stdout}\n{log}");
    let refused = s3
        .put_object()
        .bucket(BUCKET)
        .key("on-old-primary")
        .body(ByteStream::from_static(b"late"))
        .send()
        .await;
    assert_eq!(status_of(&refused.unwrap_err()), 503);
    put(&reads, BUCKET, "on-new-primary", b"accepted").await;
    assert_eq!(get(&reads, BUCKET, "on-new-primary").await, b"accepted");
    assert_eq!(get(&reads, BUCKET, "after").await, later);
    let missing = reads
        .get_object()
        .bucket(BUCKET)
        .key("on-old-primary")
        .send()
        .await;
    assert_eq!(status_of(&missing.unwrap_err()), 404);
}
