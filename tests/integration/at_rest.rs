//! Nothing readable at rest (issue 4, P3): every field a client sends — body, key, bucket
//! name, user metadata, content type — carries its own random marker, and no file under
//! the data directory (the sealed index included), the server's TMPDIR or its log may hold
//! any marker raw, as hex or as base64: after a single PUT, with a multipart upload in
//! progress, and after it completes. Chunk file names are not plain content hashes.
//! Guards against the index file, upload state or a temp file keeping names in clear.

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use base64::Engine as _;
use sha2::Digest as _;

use crate::common::markers::{assert_no_marker_anywhere, marker};
use crate::common::{TestEnv, files_under, get, random_bytes, snapshot};

const MIB: usize = 1024 * 1024;

/// A body that compresses well: text lines around the marker.
fn compressible(marker: &str, len: usize) -> Vec<u8> {
    let line = format!("patient record {marker} ok; all vitals normal, no findings.\n");
    line.as_bytes().iter().copied().cycle().take(len).collect()
}

/// PNG signature, an IHDR, a tEXt chunk holding the marker, then noise.
fn png_like(marker: &str) -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\x01\0\0\0\x01\0\x08\x06\0\0\0".to_vec();
    png.extend_from_slice(b"\0\0\0\0");
    png.extend_from_slice(format!("\0\0\0\x20tEXtComment\0{marker}").as_bytes());
    png.extend_from_slice(&random_bytes(300_000));
    png.extend_from_slice(b"\0\0\0\0IEND\xaeB`\x82");
    png
}

async fn put_with(s3: &Client, bucket: &str, key: &str, body: &[u8], ctype: &str, meta: &str) {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .content_type(ctype)
        .metadata("note", meta)
        .body(ByteStream::from(body.to_vec()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("put: {}", aws_sdk_s3::error::DisplayErrorContext(&e)));
}

/// Plain BLAKE3 and SHA-256 of each chunk's plaintext, hex.
fn plain_hashes(bodies: &[&[u8]], chunk: usize) -> Vec<String> {
    let mut out = Vec::new();
    for body in bodies {
        let pieces: Vec<&[u8]> = if body.is_empty() {
            vec![body]
        } else {
            body.chunks(chunk).collect()
        };
        for piece in pieces {
            out.push(blake3::hash(piece).to_hex().to_string());
            out.push(hex::encode(sha2::Sha256::digest(piece)));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p3_no_marker_of_any_field_in_any_file_single_put_and_multipart() {
    let env = TestEnv::new();
    let mut server = env.start_durable();
    let s3 = server.client();

    let bucket = marker("bkt");
    let key = format!("patients/{}/after-rhinoplasty/left.jpg", marker("key"));
    let meta = marker("meta");
    let ctype = format!("image/x-{}", marker("ctype"));
    let body_marker = marker("body");
    let mp_key = format!("uploads/{}/scan.bin", marker("mpkey"));
    let mp_meta = marker("mpmeta");
    let markers = vec![
        ("bucket", bucket.clone()),
        ("key", key.clone()),
        ("meta", meta.clone()),
        ("content type", ctype.clone()),
        ("body", body_marker.clone()),
        ("multipart key", mp_key.clone()),
        ("multipart meta", mp_meta.clone()),
    ];

    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let small = format!("hello {body_marker} bye").into_bytes();
    let big = compressible(&body_marker, 5 * MIB);
    let png = png_like(&body_marker);
    put_with(&s3, &bucket, &key, &small, &ctype, &meta).await;
    put_with(&s3, &bucket, &format!("{key}.big"), &big, &ctype, &meta).await;
    put_with(&s3, &bucket, &format!("{key}.png"), &png, &ctype, &meta).await;
    assert_no_marker_anywhere(&env, &markers, "single PUT");

    // Multipart: the upload's key, metadata and a 5 MiB part are stored before completion.
    let upload = s3
        .create_multipart_upload()
        .bucket(&bucket)
        .key(&mp_key)
        .content_type(&ctype)
        .metadata("note", &mp_meta)
        .send()
        .await
        .unwrap();
    let upload_id = upload.upload_id().unwrap().to_owned();
    let part1 = compressible(&body_marker, 5 * MIB);
    let part2 = format!("last part {body_marker}").into_bytes();
    let mut etags = Vec::new();
    for (n, part) in [(1, &part1), (2, &part2)] {
        let out = s3
            .upload_part()
            .bucket(&bucket)
            .key(&mp_key)
            .upload_id(&upload_id)
            .part_number(n)
            .body(ByteStream::from(part.clone()))
            .send()
            .await
            .unwrap();
        etags.push((n, out.e_tag().unwrap().to_owned()));
        if n == 1 {
            assert_no_marker_anywhere(&env, &markers, "multipart in progress");
        }
    }
    s3.complete_multipart_upload()
        .bucket(&bucket)
        .key(&mp_key)
        .upload_id(&upload_id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(
                    etags
                        .iter()
                        .map(|(n, e)| CompletedPart::builder().part_number(*n).e_tag(e).build())
                        .collect(),
                ))
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_no_marker_anywhere(&env, &markers, "multipart completed");

    // Chunk files are not named by a plain hash of what they hold (default 4 MiB chunks;
    // a multipart part is chunked on its own).
    let hashes = plain_hashes(&[&small, &big, &png, &part1, &part2], 4 * MIB);
    for file in files_under(&env.data()) {
        let rel = file.strip_prefix(env.data()).unwrap();
        let flat: String = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        for hash in &hashes {
            assert!(
                !flat.contains(hash.as_str()),
                "chunk file named by a plain content hash: {}",
                rel.display()
            );
        }
    }

    let status = server.stop();
    assert!(status.success(), "graceful stop: {status}");
    assert_no_marker_anywhere(&env, &markers, "after a clean stop");

    // Not vacuous: everything reads back after a restart.
    let server = env.start_durable();
    let s3 = server.client();
    assert_eq!(get(&s3, &bucket, &key).await, small);
    assert!(get(&s3, &bucket, &format!("{key}.big")).await == big);
    assert!(get(&s3, &bucket, &mp_key).await == [part1, part2].concat());
    let head = s3
        .head_object()
        .bucket(&bucket)
        .key(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_type(), Some(ctype.as_str()));
    assert_eq!(head.metadata().and_then(|m| m.get("note")), Some(&meta));
}

/// Runs `coffer` to completion; returns whether it succeeded and its stderr.
fn run_coffer(env: &TestEnv, args: &[&str], envs: &[(&str, &str)]) -> (bool, String) {
    let (mut cmd, log) = env.command(args, envs);
    let mut child = cmd.spawn().expect("spawn coffer");
    let status = crate::common::wait_child(&mut child, crate::common::STARTUP_TIMEOUT);
    (
        status.success(),
        std::fs::read_to_string(log).unwrap_or_default(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_master_key_changes_nothing_and_rotation_keeps_every_object() {
    use crate::common::{Expect, ROOT_ACCESS_KEY, ROOT_SECRET_KEY};
    let env = TestEnv::new();
    let mut server = env.start_durable();
    let s3 = server.client();
    s3.create_bucket().bucket("clinic").send().await.unwrap();
    let body = random_bytes(5 * MIB + 17);
    crate::common::put(&s3, "clinic", "scan.bin", &body).await;
    crate::common::put(&s3, "clinic", "note.txt", b"a note").await;
    assert!(server.stop().success());
    drop(server);

    let data = env.data();
    let data_arg = data.to_str().unwrap();
    let serve = ["serve", "--data", data_arg, "--listen", "127.0.0.1:0"];
    let root_creds = [
        ("COFFER_ROOT_ACCESS_KEY", ROOT_ACCESS_KEY),
        ("COFFER_ROOT_SECRET_KEY", ROOT_SECRET_KEY),
    ];

    // A wrong key: refused with a clear message, nothing on disk changed.
    let before = snapshot(&data);
    let wrong = base64::engine::general_purpose::STANDARD.encode(random_bytes(32));
    let mut envs = root_creds.to_vec();
    envs.push(("COFFER_MASTER_KEY", wrong.as_str()));
    let (ok, log) = run_coffer(&env, &serve, &envs);
    assert!(!ok, "started with a wrong master key");
    assert!(
        log.contains("opens none of this data directory's unlockers"),
        "unclear refusal: {log}"
    );
    assert!(
        snapshot(&data) == before,
        "a refused start changed the data directory"
    );

    // Rotate with the env's key as the unlocker: the master key changes, no chunk does.
    let chunks_before = snapshot(&data.join("chunks"));
    let keys_before = std::fs::read(data.join("keys")).unwrap();
    let (ok, log) = run_coffer(&env, &["keys", "rotate-master", "--data", data_arg], &[]);
    assert!(ok, "rotation failed: {log}");
    assert!(log.contains("1 bucket key"), "{log}");
    assert!(
        snapshot(&data.join("chunks")) == chunks_before,
        "rotation rewrote chunk files"
    );
    assert_ne!(std::fs::read(data.join("keys")).unwrap(), keys_before);

    // The same unlocker still opens it, across two restarts, with every object intact.
    for _ in 0..2 {
        let mut server = env.start(
            &serve,
            &root_creds,
            &Expect::Known {
                access_key: ROOT_ACCESS_KEY.into(),
                secret_key: ROOT_SECRET_KEY.into(),
            },
        );
        let s3 = server.client();
        assert!(get(&s3, "clinic", "scan.bin").await == body);
        assert_eq!(get(&s3, "clinic", "note.txt").await, b"a note");
        assert!(server.stop().success());
    }
}
