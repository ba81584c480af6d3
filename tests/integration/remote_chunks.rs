//! Sealed chunks on a remote S3 store (`--chunk-store`): here a second Coffer on loopback,
//! driven by the primary through aws-sdk-s3, exactly as AWS S3, Ceph RGW or Garage would be.
//!
//! The remote must see nothing readable: no body, key, bucket name or metadata, and no name
//! that is not a random or keyed id. Objects of every kind round-trip through it, survive a
//! restart with an empty cache (SSE-C ones too), and go from the remote when deleted. A remote that goes
//! away fails writes with 503, makes the server not ready, and loses nothing acknowledged.
//!
//! With `COFFER_TEST_CEPH_ENDPOINT`, `…_ACCESS_KEY` and `…_SECRET_KEY` (what
//! `scripts/ceph-single-node start` prints), the remote is that Ceph RGW instead; the test
//! that stops the remote then skips itself.

use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use base64::Engine as _;

use crate::common::remote::{RemoteStore, remote_store, start_primary, start_remote};
use crate::common::{
    Server, TestEnv, create_bucket, eventually, files_under, get, put, put_multipart, raw,
    status_of,
};

/// What went in through the API and must never reach the remote readable.
const BODY_MARKER: &str = "PATIENT-BODY-7f3a91";
const KEY_MARKER: &str = "patient-key-c0ffee";
const BUCKET_MARKER: &str = "patient-bucket-b4d5e6";
const META_MARKER: &str = "patient-meta-5a5a5a";
/// A versioned bucket (its name marked too).
const VERSIONED: &str = "patient-bucket-b4d5e6-versions";

/// A remote with its bucket, and a primary keeping its chunks there (each with its own
/// environment, kept alive with it).
struct Pair {
    remote: RemoteStore,
    env: TestEnv,
    primary: Server,
}

async fn pair() -> Pair {
    let remote = remote_store().await;
    let env = TestEnv::new();
    let primary = start_primary(&env, &remote, &[]);
    Pair {
        remote,
        env,
        primary,
    }
}

/// Every object of the test on the remote: its name and bytes.
async fn remote_objects(remote: &RemoteStore) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let client = remote.client();
    for key in remote.keys().await {
        let bytes = get(&client, &remote.bucket, &key).await;
        out.push((key, bytes));
    }
    out
}

fn marked_body(len: usize) -> Vec<u8> {
    BODY_MARKER
        .as_bytes()
        .iter()
        .copied()
        .cycle()
        .take(len)
        .collect()
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_round_trip_through_a_remote_that_sees_only_sealed_chunks() {
    let Pair {
        remote,
        env,
        mut primary,
    } = pair().await;
    let s3 = primary.client();
    create_bucket(&s3, BUCKET_MARKER).await;

    // Two versions of one key, in a bucket of their own.
    crate::common::versions::versioned_bucket(&s3, VERSIONED).await;
    let first = marked_body(100 << 10);
    let v1 = s3
        .put_object()
        .bucket(VERSIONED)
        .key("consent.pdf")
        .body(ByteStream::from(first.clone()))
        .send()
        .await
        .unwrap();
    put(&s3, VERSIONED, "consent.pdf", &marked_body(200 << 10)).await;

    let versions_only = remote.chunk_keys().await.len();

    // A single PUT of several chunks, with a marked key and metadata.
    let single = marked_body(9 << 20);
    let key = format!("{KEY_MARKER}/scan.raw");
    s3.put_object()
        .bucket(BUCKET_MARKER)
        .key(&key)
        .metadata("study", META_MARKER)
        .body(ByteStream::from(single.clone()))
        .send()
        .await
        .unwrap();

    // A multipart upload.
    let part = marked_body(5 << 20);
    let video = format!("{KEY_MARKER}/video.mp4");
    put_multipart(&s3, BUCKET_MARKER, &video, &[part.clone(), part.clone()]).await;

    // An SSE-C object: sealed under the customer's key too.
    let customer_key = [0x5c_u8; 32];
    let key_b64 = base64::engine::general_purpose::STANDARD.encode(customer_key);
    let key_md5 = crate::common::md5_base64(&customer_key);
    let secret = marked_body(300 << 10);
    s3.put_object()
        .bucket(BUCKET_MARKER)
        .key("sse-c.jpg")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&key_b64)
        .sse_customer_key_md5(&key_md5)
        .body(ByteStream::from(secret.clone()))
        .send()
        .await
        .unwrap();

    // What the remote holds: names of random and keyed ids under the prefix, sealed bytes.
    let stored = remote_objects(&remote).await;
    assert!(stored.len() >= 5, "{} remote chunks", stored.len());
    for (name, bytes) in &stored {
        let parts: Vec<&str> = name.split('/').collect();
        assert_eq!(parts[0], remote.prefix, "{name}");
        // The shipped index (tests/integration/shipping.rs) sits beside the chunks; its
        // bytes are scanned below as theirs are.
        if parts.get(2) != Some(&"index") {
            let hex_len: Vec<usize> = parts[1..].iter().map(|p| p.len()).collect();
            assert_eq!(hex_len, [32, 32, 64], "{name}");
            assert!(
                parts[1..]
                    .iter()
                    .all(|p| p.bytes().all(|b| b.is_ascii_hexdigit())),
                "{name}"
            );
        }
        for marker in [
            BODY_MARKER,
            KEY_MARKER,
            BUCKET_MARKER,
            META_MARKER,
            &key_b64,
        ] {
            assert!(!contains(name.as_bytes(), marker), "{marker} in {name}");
            assert!(
                !contains(bytes, marker),
                "{marker} in the remote object {name}"
            );
        }
    }
    // And nothing went to the local chunk tree.
    assert!(files_under(&env.data().join("chunks")).is_empty());

    // Restarted, with an empty cache: every read comes from the remote.
    primary.stop();
    let primary = start_primary(&env, &remote, &["--cache-size", "0"]);
    let s3 = primary.client();
    assert_eq!(get(&s3, BUCKET_MARKER, &key).await, single);
    let read = get(&s3, BUCKET_MARKER, &video).await;
    assert_eq!(read, [part.clone(), part].concat());
    let read = s3
        .get_object()
        .bucket(BUCKET_MARKER)
        .key("sse-c.jpg")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&key_b64)
        .sse_customer_key_md5(&key_md5)
        .send()
        .await
        .unwrap();
    assert_eq!(read.body.collect().await.unwrap().into_bytes(), secret);
    let old = s3
        .get_object()
        .bucket(VERSIONED)
        .key("consent.pdf")
        .version_id(v1.version_id().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(old.body.collect().await.unwrap().into_bytes(), first);

    // Deleted for good, their chunks go from the remote too.
    for gone in [key.as_str(), "sse-c.jpg"] {
        s3.delete_object()
            .bucket(BUCKET_MARKER)
            .key(gone)
            .send()
            .await
            .unwrap();
    }
    s3.delete_object()
        .bucket(BUCKET_MARKER)
        .key(&video)
        .send()
        .await
        .unwrap();
    let gone = eventually(Duration::from_secs(20), || {
        let names = futures_block(remote.chunk_keys());
        names.len() == versions_only
    })
    .await;
    assert!(gone, "the deleted objects' chunks are still on the remote");
    // The versions' chunks stay, and still read.
    assert!(versions_only >= 2);
    assert_eq!(get(&s3, VERSIONED, "consent.pdf").await.len(), 200 << 10);
}

/// Runs `f` to completion from synchronous code inside the test's runtime.
fn futures_block<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(f))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_that_goes_away_fails_writes_and_loses_nothing_acknowledged() {
    let Pair {
        remote: store,
        env: _env,
        primary,
    } = pair().await;
    let Some((remote_env, mut remote)) = store.server else {
        eprintln!("skipped: the remote is Ceph, which this test cannot stop and restart");
        return;
    };
    let port = remote.addr.port();
    let s3 = primary.client();
    create_bucket(&s3, "scans").await;
    let kept = marked_body(3 << 20);
    put(&s3, "scans", "kept.raw", &kept).await;

    // The remote stops: a write that needs it fails with 503, and nothing is half-stored.
    remote.kill();
    let err = s3
        .put_object()
        .bucket("scans")
        .key("lost.raw")
        .body(ByteStream::from(crate::common::random_bytes(3 << 20)))
        .send()
        .await
        .unwrap_err();
    assert_eq!(status_of(&err), 503, "{err:?}");
    let missing = s3
        .head_object()
        .bucket("scans")
        .key("lost.raw")
        .send()
        .await
        .unwrap_err();
    assert_eq!(status_of(&missing), 404);
    // Small objects live in the index, not in chunks: they are written while the lease
    // that makes this server the writer lasts (it is renewed on the remote), and refused
    // with 503 once it lapses; either way, what is acknowledged stays.
    let note = s3
        .put_object()
        .bucket("scans")
        .key("note.txt")
        .body(ByteStream::from_static(b"a small note"))
        .send()
        .await;
    let note_acked = match note {
        Ok(_) => true,
        Err(e) => {
            assert_eq!(status_of(&e), 503);
            false
        }
    };
    // And readiness says the server cannot serve everything.
    let ready = |want: u16| {
        let addr = primary.addr;
        move || futures_block(raw::request(addr, "GET", "/health/ready", &[], b"")).status == want
    };
    assert!(
        eventually(Duration::from_secs(15), ready(503)).await,
        "/health/ready stays ready without the remote"
    );

    // Back on the same address: writes go on, and what was acknowledged is all there.
    let remote = start_remote(&remote_env, Some(port));
    assert!(
        eventually(Duration::from_secs(15), ready(200)).await,
        "/health/ready does not come back with the remote"
    );
    // Writes go on once the lease is renewed (every third of its 10 s).
    let after = crate::common::random_bytes(2 << 20);
    let writes = eventually(Duration::from_secs(20), || {
        futures_block(
            s3.put_object()
                .bucket("scans")
                .key("after.raw")
                .body(ByteStream::from(after.clone()))
                .send(),
        )
        .is_ok()
    })
    .await;
    assert!(writes, "writes do not resume with the remote");
    assert_eq!(get(&s3, "scans", "kept.raw").await, kept);
    if note_acked {
        assert_eq!(get(&s3, "scans", "note.txt").await, b"a small note");
    }
    drop(remote);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fsck_finds_and_repairs_orphans_on_the_remote() {
    let Pair {
        remote,
        env,
        mut primary,
    } = pair().await;
    let remote_s3 = remote.client();
    let s3 = primary.client();
    create_bucket(&s3, "scans").await;
    let body = crate::common::random_bytes(1 << 20);
    put(&s3, "scans", "scan.raw", &body).await;
    primary.stop();

    // A chunk no record uses, beside the real one: the same deployment and bucket id.
    let names = remote.chunk_keys().await;
    assert_eq!(names.len(), 1, "{names:?}");
    let (dir, _) = names[0].rsplit_once('/').unwrap();
    let orphan_id = "ab".repeat(32);
    let orphan = format!("{dir}/{orphan_id}");
    put(&remote_s3, &remote.bucket, &orphan, b"not a chunk of ours").await;

    let data = env.data();
    let creds = [
        ("COFFER_CHUNK_STORE_ACCESS_KEY", remote.access_key.as_str()),
        ("COFFER_CHUNK_STORE_SECRET_KEY", remote.secret_key.as_str()),
    ];
    let fsck = |flags: &[&str]| {
        let mut args = vec!["fsck", "--data", data.to_str().expect("utf-8 path")];
        args.extend_from_slice(flags);
        env.run_for_code(&args, &creds, b"")
    };
    let (code, out, log) = fsck(&[]);
    assert_eq!(code, 1, "{out}\n{log}");
    assert!(out.contains("orphaned chunk"), "{out}");
    assert!(out.contains(&orphan_id), "{out}");
    let (code, out, log) = fsck(&["--repair"]);
    assert!(code == 0 || code == 1, "{out}\n{log}");
    let left = remote.chunk_keys().await;
    assert_eq!(
        left,
        [names[0].clone()],
        "the orphan goes, the referenced chunk stays"
    );
    let (code, out, _) = fsck(&[]);
    assert_eq!(code, 0, "{out}");

    let primary = start_primary(&env, &remote, &["--cache-size", "0"]);
    assert_eq!(get(&primary.client(), "scans", "scan.raw").await, body);
}
