//! Multipart uploads with aws-sdk-s3: the AWS rules (part numbers, the 5 MiB minimum,
//! InvalidPart, InvalidPartOrder, NoSuchUpload), the `md5(part md5s)-N` ETag, parts
//! replaced and aborted freeing their chunk files, an upload surviving a restart, paging
//! of ListParts/ListMultipartUploads, `partNumber` reads, UploadPartCopy, and the
//! COMPOSITE / FULL_OBJECT checksums of multipart objects.

use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    ChecksumAlgorithm, ChecksumMode, ChecksumType, CompletedMultipartUpload, CompletedPart,
};
use md5::{Digest as _, Md5};

use crate::common::{
    ROOT_ACCESS_KEY, ROOT_SECRET_KEY, TestEnv, assert_s3_err, create_bucket, eventually,
    files_under, get, random_bytes,
};

const MIB: usize = 1024 * 1024;

async fn create(s3: &Client, bucket: &str, key: &str, alg: Option<ChecksumAlgorithm>) -> String {
    s3.create_multipart_upload()
        .bucket(bucket)
        .key(key)
        .set_checksum_algorithm(alg)
        .send()
        .await
        .unwrap()
        .upload_id()
        .unwrap()
        .to_owned()
}

async fn upload(s3: &Client, bucket: &str, key: &str, id: &str, n: i32, body: &[u8]) -> String {
    s3.upload_part()
        .bucket(bucket)
        .key(key)
        .upload_id(id)
        .part_number(n)
        .body(ByteStream::from(body.to_vec()))
        .send()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "upload part {n}: {}",
                aws_sdk_s3::error::DisplayErrorContext(&e)
            )
        })
        .e_tag()
        .unwrap()
        .to_owned()
}

fn completed(parts: &[(i32, &str)]) -> CompletedMultipartUpload {
    CompletedMultipartUpload::builder()
        .set_parts(Some(
            parts
                .iter()
                .map(|(n, e)| CompletedPart::builder().part_number(*n).e_tag(*e).build())
                .collect(),
        ))
        .build()
}

fn multipart_etag(parts: &[&[u8]]) -> String {
    let mut all = Vec::new();
    for p in parts {
        all.extend_from_slice(&Md5::digest(p));
    }
    format!("\"{}-{}\"", hex::encode(Md5::digest(&all)), parts.len())
}

fn chunk_files(env: &TestEnv) -> usize {
    files_under(&env.data().join("chunks"))
        .into_iter()
        .filter(|p| {
            !p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.'))
        })
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multipart_round_trip_etag_and_part_reads() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    create_bucket(&s3, "mpu").await;

    let parts = [
        random_bytes(5 * MIB),
        random_bytes(5 * MIB + 7),
        random_bytes(MIB / 3),
    ];
    let id = create(&s3, "mpu", "video/scan.mp4", None).await;
    // Upload out of order: the object is assembled by part number.
    let mut etags = vec![String::new(); 3];
    for i in [2usize, 0, 1] {
        etags[i] = upload(&s3, "mpu", "video/scan.mp4", &id, i as i32 + 1, &parts[i]).await;
    }
    // Nothing is visible before completion.
    assert_s3_err(
        s3.head_object()
            .bucket("mpu")
            .key("video/scan.mp4")
            .send()
            .await,
        404,
        None,
    );
    let done = s3
        .complete_multipart_upload()
        .bucket("mpu")
        .key("video/scan.mp4")
        .upload_id(&id)
        .multipart_upload(completed(&[(1, &etags[0]), (2, &etags[1]), (3, &etags[2])]))
        .send()
        .await
        .unwrap();
    let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    let expected_etag = multipart_etag(&refs);
    assert_eq!(done.e_tag(), Some(expected_etag.as_str()));

    let whole: Vec<u8> = parts.concat();
    assert!(get(&s3, "mpu", "video/scan.mp4").await == whole);
    let head = s3
        .head_object()
        .bucket("mpu")
        .key("video/scan.mp4")
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_length(), Some(whole.len() as i64));
    assert_eq!(head.e_tag(), Some(expected_etag.as_str()));

    let head2 = s3
        .head_object()
        .bucket("mpu")
        .key("video/scan.mp4")
        .part_number(2)
        .send()
        .await
        .unwrap();
    assert_eq!(head2.content_length(), Some(parts[1].len() as i64));
    assert_eq!(head2.parts_count(), Some(3));
    let got3 = s3
        .get_object()
        .bucket("mpu")
        .key("video/scan.mp4")
        .part_number(3)
        .send()
        .await
        .unwrap();
    assert_eq!(got3.parts_count(), Some(3));
    let body3 = got3.body.collect().await.unwrap().into_bytes();
    assert!(body3.as_ref() == parts[2].as_slice());
    assert_s3_err(
        s3.get_object()
            .bucket("mpu")
            .key("video/scan.mp4")
            .part_number(4)
            .send()
            .await,
        416,
        None,
    );

    // The upload is gone after completion.
    assert_s3_err(
        s3.list_parts()
            .bucket("mpu")
            .key("video/scan.mp4")
            .upload_id(&id)
            .send()
            .await,
        404,
        Some("NoSuchUpload"),
    );
    // A retried completion answers the same object.
    let again = s3
        .complete_multipart_upload()
        .bucket("mpu")
        .key("video/scan.mp4")
        .upload_id(&id)
        .multipart_upload(completed(&[(1, &etags[0]), (2, &etags[1]), (3, &etags[2])]))
        .send()
        .await
        .unwrap();
    assert_eq!(again.e_tag(), Some(expected_etag.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multipart_aws_error_rules() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    create_bucket(&s3, "rules").await;
    let big = random_bytes(5 * MIB);
    let small = random_bytes(1000);

    // NoSuchUpload for an id that never existed (well-formed and not).
    for bogus in ["0123456789abcdef0123456789abcdef", "nope"] {
        assert_s3_err(
            s3.upload_part()
                .bucket("rules")
                .key("k")
                .upload_id(bogus)
                .part_number(1)
                .body(ByteStream::from(small.clone()))
                .send()
                .await,
            404,
            Some("NoSuchUpload"),
        );
        assert_s3_err(
            s3.complete_multipart_upload()
                .bucket("rules")
                .key("k")
                .upload_id(bogus)
                .multipart_upload(completed(&[(1, "\"00\"")]))
                .send()
                .await,
            404,
            Some("NoSuchUpload"),
        );
        assert_s3_err(
            s3.abort_multipart_upload()
                .bucket("rules")
                .key("k")
                .upload_id(bogus)
                .send()
                .await,
            404,
            Some("NoSuchUpload"),
        );
    }

    let id = create(&s3, "rules", "k", None).await;
    // An upload id is bound to its key.
    assert_s3_err(
        s3.upload_part()
            .bucket("rules")
            .key("other")
            .upload_id(&id)
            .part_number(1)
            .body(ByteStream::from(small.clone()))
            .send()
            .await,
        404,
        Some("NoSuchUpload"),
    );
    for n in [0, 10_001] {
        assert_s3_err(
            s3.upload_part()
                .bucket("rules")
                .key("k")
                .upload_id(&id)
                .part_number(n)
                .body(ByteStream::from(small.clone()))
                .send()
                .await,
            400,
            Some("InvalidArgument"),
        );
    }
    let e1_small = upload(&s3, "rules", "k", &id, 1, &small).await;
    let e2 = upload(&s3, "rules", "k", &id, 2, &small).await;

    // Every part but the last must be at least 5 MiB.
    assert_s3_err(
        s3.complete_multipart_upload()
            .bucket("rules")
            .key("k")
            .upload_id(&id)
            .multipart_upload(completed(&[(1, &e1_small), (2, &e2)]))
            .send()
            .await,
        400,
        Some("EntityTooSmall"),
    );
    // Unknown part, wrong ETag, descending order, duplicate.
    assert_s3_err(
        s3.complete_multipart_upload()
            .bucket("rules")
            .key("k")
            .upload_id(&id)
            .multipart_upload(completed(&[(1, &e1_small), (3, &e2)]))
            .send()
            .await,
        400,
        Some("InvalidPart"),
    );
    assert_s3_err(
        s3.complete_multipart_upload()
            .bucket("rules")
            .key("k")
            .upload_id(&id)
            .multipart_upload(completed(&[(1, "\"0123456789abcdef0123456789abcdef\"")]))
            .send()
            .await,
        400,
        Some("InvalidPart"),
    );
    assert_s3_err(
        s3.complete_multipart_upload()
            .bucket("rules")
            .key("k")
            .upload_id(&id)
            .multipart_upload(completed(&[(2, &e2), (1, &e1_small)]))
            .send()
            .await,
        400,
        Some("InvalidPartOrder"),
    );
    assert_s3_err(
        s3.complete_multipart_upload()
            .bucket("rules")
            .key("k")
            .upload_id(&id)
            .multipart_upload(completed(&[(1, &e1_small), (1, &e1_small)]))
            .send()
            .await,
        400,
        Some("InvalidPartOrder"),
    );
    // Failed completions change nothing: the upload is still there.
    let parts = s3
        .list_parts()
        .bucket("rules")
        .key("k")
        .upload_id(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(parts.parts().len(), 2);

    // Re-uploading part 1 replaces it; the old ETag no longer completes.
    let e1 = upload(&s3, "rules", "k", &id, 1, &big).await;
    assert_ne!(e1, e1_small);
    assert_s3_err(
        s3.complete_multipart_upload()
            .bucket("rules")
            .key("k")
            .upload_id(&id)
            .multipart_upload(completed(&[(1, &e1_small), (2, &e2)]))
            .send()
            .await,
        400,
        Some("InvalidPart"),
    );
    // A single small last part is fine; part 2 is left out (and released).
    let done = s3
        .complete_multipart_upload()
        .bucket("rules")
        .key("k")
        .upload_id(&id)
        .multipart_upload(completed(&[(1, &e1)]))
        .send()
        .await
        .unwrap();
    assert_eq!(done.e_tag(), Some(multipart_etag(&[&big]).as_str()));
    assert!(get(&s3, "rules", "k").await == big);

    // Completed: no more parts, no abort.
    assert_s3_err(
        s3.upload_part()
            .bucket("rules")
            .key("k")
            .upload_id(&id)
            .part_number(3)
            .body(ByteStream::from(small.clone()))
            .send()
            .await,
        404,
        Some("NoSuchUpload"),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_parts_and_uploads_page() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    create_bucket(&s3, "lists").await;

    let id = create(&s3, "lists", "a/1", None).await;
    let mut etags = Vec::new();
    for n in 1..=5 {
        etags.push(upload(&s3, "lists", "a/1", &id, n, format!("part {n}").as_bytes()).await);
    }
    let mut seen = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page = s3
            .list_parts()
            .bucket("lists")
            .key("a/1")
            .upload_id(&id)
            .max_parts(2)
            .set_part_number_marker(marker.clone())
            .send()
            .await
            .unwrap();
        assert!(page.parts().len() <= 2);
        for p in page.parts() {
            seen.push((
                p.part_number().unwrap(),
                p.e_tag().unwrap().to_owned(),
                p.size().unwrap(),
            ));
        }
        if page.is_truncated() != Some(true) {
            break;
        }
        marker = page.next_part_number_marker().map(str::to_owned);
    }
    let numbers: Vec<i32> = seen.iter().map(|s| s.0).collect();
    assert_eq!(numbers, vec![1, 2, 3, 4, 5]);
    assert_eq!(seen[2].1, etags[2]);
    assert_eq!(seen[2].2, 6);

    let id2 = create(&s3, "lists", "a/2", None).await;
    let id3 = create(&s3, "lists", "b", None).await;
    let id4 = create(&s3, "lists", "b", None).await;

    // Paging one at a time visits every upload once, in key order.
    let mut got = Vec::new();
    let (mut km, mut um): (Option<String>, Option<String>) = (None, None);
    loop {
        let page = s3
            .list_multipart_uploads()
            .bucket("lists")
            .max_uploads(1)
            .set_key_marker(km.clone())
            .set_upload_id_marker(um.clone())
            .send()
            .await
            .unwrap();
        for u in page.uploads() {
            got.push((
                u.key().unwrap().to_owned(),
                u.upload_id().unwrap().to_owned(),
            ));
        }
        if page.is_truncated() != Some(true) {
            break;
        }
        km = page.next_key_marker().map(str::to_owned);
        um = page.next_upload_id_marker().map(str::to_owned);
    }
    let keys: Vec<&str> = got.iter().map(|g| g.0.as_str()).collect();
    assert_eq!(keys, vec!["a/1", "a/2", "b", "b"]);
    let mut ids: Vec<&str> = got.iter().map(|g| g.1.as_str()).collect();
    ids.sort_unstable();
    let mut want = vec![id.as_str(), id2.as_str(), id3.as_str(), id4.as_str()];
    want.sort_unstable();
    assert_eq!(ids, want);

    // Delimiter and prefix.
    let page = s3
        .list_multipart_uploads()
        .bucket("lists")
        .delimiter("/")
        .send()
        .await
        .unwrap();
    let prefixes: Vec<&str> = page
        .common_prefixes()
        .iter()
        .filter_map(|p| p.prefix())
        .collect();
    assert_eq!(prefixes, vec!["a/"]);
    assert_eq!(page.uploads().len(), 2);
    let page = s3
        .list_multipart_uploads()
        .bucket("lists")
        .prefix("a/")
        .send()
        .await
        .unwrap();
    assert_eq!(page.uploads().len(), 2);

    // Aborted uploads leave the listing.
    s3.abort_multipart_upload()
        .bucket("lists")
        .key("b")
        .upload_id(&id3)
        .send()
        .await
        .unwrap();
    let page = s3
        .list_multipart_uploads()
        .bucket("lists")
        .send()
        .await
        .unwrap();
    assert_eq!(page.uploads().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_and_replaced_parts_free_chunk_files() {
    let env = TestEnv::new();
    let server = env.start_durable();
    let s3 = server.client();
    create_bucket(&s3, "free").await;
    let before = chunk_files(&env);

    let id = create(&s3, "free", "k", None).await;
    upload(&s3, "free", "k", &id, 1, &random_bytes(5 * MIB)).await;
    upload(&s3, "free", "k", &id, 2, &random_bytes(MIB)).await;
    let with_parts = chunk_files(&env);
    assert!(with_parts > before, "parts wrote no chunk files");

    // Replacing part 2 frees its old chunks.
    upload(&s3, "free", "k", &id, 2, &random_bytes(MIB)).await;
    assert!(
        eventually(Duration::from_secs(10), || chunk_files(&env) == with_parts).await,
        "replaced part's chunks not freed: {} files, want {with_parts}",
        chunk_files(&env)
    );

    s3.abort_multipart_upload()
        .bucket("free")
        .key("k")
        .upload_id(&id)
        .send()
        .await
        .unwrap();
    assert!(
        eventually(Duration::from_secs(10), || chunk_files(&env) == before).await,
        "abort left chunk files: {} files, want {before}",
        chunk_files(&env)
    );
    assert_s3_err(
        s3.list_parts()
            .bucket("free")
            .key("k")
            .upload_id(&id)
            .send()
            .await,
        404,
        Some("NoSuchUpload"),
    );

    // Completing keeps the chunks (linked, not copied); deleting the object frees them.
    let id = create(&s3, "free", "k2", None).await;
    let a = random_bytes(5 * MIB);
    let b = random_bytes(100);
    let ea = upload(&s3, "free", "k2", &id, 1, &a).await;
    let eb = upload(&s3, "free", "k2", &id, 2, &b).await;
    let staged = chunk_files(&env);
    s3.complete_multipart_upload()
        .bucket("free")
        .key("k2")
        .upload_id(&id)
        .multipart_upload(completed(&[(1, &ea), (2, &eb)]))
        .send()
        .await
        .unwrap();
    assert_eq!(chunk_files(&env), staged, "completion copied data");
    s3.delete_object()
        .bucket("free")
        .key("k2")
        .send()
        .await
        .unwrap();
    assert!(
        eventually(Duration::from_secs(10), || chunk_files(&env) == before).await,
        "delete left chunk files"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_survives_restart_then_completes() {
    let env = TestEnv::new();
    let mut server = env.start_durable();
    let s3 = server.client();
    create_bucket(&s3, "durable").await;
    let a = random_bytes(5 * MIB + 1);
    let b = random_bytes(77_777);
    let id = create(&s3, "durable", "scan", Some(ChecksumAlgorithm::Sha256)).await;
    let ea = upload(&s3, "durable", "scan", &id, 1, &a).await;
    server.stop();
    drop(server);

    let server = env.start_durable_known(ROOT_ACCESS_KEY, ROOT_SECRET_KEY);
    let s3 = server.client();
    let uploads = s3
        .list_multipart_uploads()
        .bucket("durable")
        .send()
        .await
        .unwrap();
    assert_eq!(uploads.uploads().len(), 1);
    assert_eq!(uploads.uploads()[0].upload_id(), Some(id.as_str()));
    let eb = upload(&s3, "durable", "scan", &id, 2, &b).await;
    let done = s3
        .complete_multipart_upload()
        .bucket("durable")
        .key("scan")
        .upload_id(&id)
        .multipart_upload(completed(&[(1, &ea), (2, &eb)]))
        .send()
        .await
        .unwrap();
    assert_eq!(done.e_tag(), Some(multipart_etag(&[&a, &b]).as_str()));
    assert!(get(&s3, "durable", "scan").await == [a, b].concat());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_part_copy_with_range() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    create_bucket(&s3, "src").await;
    create_bucket(&s3, "dst").await;
    let source = random_bytes(6 * MIB);
    s3.put_object()
        .bucket("src")
        .key("big")
        .body(ByteStream::from(source.clone()))
        .send()
        .await
        .unwrap();
    let id = create(&s3, "dst", "assembled", None).await;
    let p1 = s3
        .upload_part_copy()
        .bucket("dst")
        .key("assembled")
        .upload_id(&id)
        .part_number(1)
        .copy_source("src/big")
        .send()
        .await
        .unwrap();
    let p2 = s3
        .upload_part_copy()
        .bucket("dst")
        .key("assembled")
        .upload_id(&id)
        .part_number(2)
        .copy_source("src/big")
        .copy_source_range("bytes=10-1033")
        .send()
        .await
        .unwrap();
    let e1 = p1.copy_part_result().unwrap().e_tag().unwrap().to_owned();
    let e2 = p2.copy_part_result().unwrap().e_tag().unwrap().to_owned();
    assert_s3_err(
        s3.upload_part_copy()
            .bucket("dst")
            .key("assembled")
            .upload_id(&id)
            .part_number(3)
            .copy_source("src/big")
            .copy_source_range(format!("bytes=0-{}", source.len()))
            .send()
            .await,
        416,
        None,
    );
    s3.complete_multipart_upload()
        .bucket("dst")
        .key("assembled")
        .upload_id(&id)
        .multipart_upload(completed(&[(1, &e1), (2, &e2)]))
        .send()
        .await
        .unwrap();
    let want = [source.as_slice(), &source[10..1034]].concat();
    assert!(get(&s3, "dst", "assembled").await == want);
}

/// The checksum the server reports for a single PUT of `body` with `alg`.
async fn put_checksum(s3: &Client, alg: &ChecksumAlgorithm, body: &[u8]) -> String {
    let out = s3
        .put_object()
        .bucket("sums")
        .key("probe")
        .checksum_algorithm(alg.clone())
        .body(ByteStream::from(body.to_vec()))
        .send()
        .await
        .unwrap();
    match alg {
        ChecksumAlgorithm::Crc32 => out.checksum_crc32(),
        ChecksumAlgorithm::Crc32C => out.checksum_crc32_c(),
        ChecksumAlgorithm::Crc64Nvme => out.checksum_crc64_nvme(),
        ChecksumAlgorithm::Sha1 => out.checksum_sha1(),
        ChecksumAlgorithm::Sha256 => out.checksum_sha256(),
        _ => None,
    }
    .unwrap()
    .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multipart_checksums_composite_and_full_object() {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    create_bucket(&s3, "sums").await;
    let a = random_bytes(5 * MIB);
    let b = random_bytes(12_345);
    let whole = [a.clone(), b.clone()].concat();

    for alg in [
        ChecksumAlgorithm::Crc32,
        ChecksumAlgorithm::Crc32C,
        ChecksumAlgorithm::Sha1,
        ChecksumAlgorithm::Sha256,
        ChecksumAlgorithm::Crc64Nvme,
    ] {
        let key = format!("obj-{}", alg.as_str());
        let id = create(&s3, "sums", &key, Some(alg.clone())).await;
        let mut etags = Vec::new();
        let mut part_sums = Vec::new();
        for (n, body) in [(1, &a), (2, &b)] {
            let out = s3
                .upload_part()
                .bucket("sums")
                .key(&key)
                .upload_id(&id)
                .part_number(n)
                .checksum_algorithm(alg.clone())
                .body(ByteStream::from(body.clone()))
                .send()
                .await
                .unwrap();
            etags.push(out.e_tag().unwrap().to_owned());
            part_sums.push(put_checksum(&s3, &alg, body).await);
        }
        // ListParts reports each part's checksum.
        let listed = s3
            .list_parts()
            .bucket("sums")
            .key(&key)
            .upload_id(&id)
            .send()
            .await
            .unwrap();
        for (p, want) in listed.parts().iter().zip(&part_sums) {
            let got = match alg {
                ChecksumAlgorithm::Crc32 => p.checksum_crc32(),
                ChecksumAlgorithm::Crc32C => p.checksum_crc32_c(),
                ChecksumAlgorithm::Crc64Nvme => p.checksum_crc64_nvme(),
                ChecksumAlgorithm::Sha1 => p.checksum_sha1(),
                _ => p.checksum_sha256(),
            };
            assert_eq!(got, Some(want.as_str()), "{alg:?} part checksum");
        }
        s3.complete_multipart_upload()
            .bucket("sums")
            .key(&key)
            .upload_id(&id)
            .multipart_upload(completed(&[(1, &etags[0]), (2, &etags[1])]))
            .send()
            .await
            .unwrap();

        let expected = if alg == ChecksumAlgorithm::Crc64Nvme {
            put_checksum(&s3, &alg, &whole).await
        } else {
            let raw: Vec<u8> = part_sums
                .iter()
                .flat_map(|s| b64.decode(s).unwrap())
                .collect();
            format!("{}-2", put_checksum(&s3, &alg, &raw).await)
        };
        let got = s3
            .get_object()
            .bucket("sums")
            .key(&key)
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await
            .unwrap();
        let value = match alg {
            ChecksumAlgorithm::Crc32 => got.checksum_crc32(),
            ChecksumAlgorithm::Crc32C => got.checksum_crc32_c(),
            ChecksumAlgorithm::Crc64Nvme => got.checksum_crc64_nvme(),
            ChecksumAlgorithm::Sha1 => got.checksum_sha1(),
            _ => got.checksum_sha256(),
        }
        .map(str::to_owned);
        assert_eq!(
            value.as_deref(),
            Some(expected.as_str()),
            "{alg:?} object checksum"
        );
        let want_type = if alg == ChecksumAlgorithm::Crc64Nvme {
            ChecksumType::FullObject
        } else {
            ChecksumType::Composite
        };
        assert_eq!(
            got.checksum_type(),
            Some(&want_type),
            "{alg:?} checksum type"
        );
        // The SDK validates FULL_OBJECT checksums against the body it reads.
        let body = got.body.collect().await.unwrap().into_bytes();
        assert!(body.as_ref() == whole.as_slice());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_part_checksum_stores_nothing() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    create_bucket(&s3, "bad").await;
    let id = create(&s3, "bad", "k", None).await;
    let body = random_bytes(4096);
    let good = upload(&s3, "bad", "k", &id, 1, &body).await;
    // CRC32 of other bytes; the server must refuse and keep the earlier part 1.
    let res = s3
        .upload_part()
        .bucket("bad")
        .key("k")
        .upload_id(&id)
        .part_number(1)
        .checksum_crc32("AAAAAA==")
        .body(ByteStream::from(random_bytes(4096)))
        .send()
        .await;
    assert_s3_err(res, 400, Some("BadDigest"));
    let res = s3
        .upload_part()
        .bucket("bad")
        .key("k")
        .upload_id(&id)
        .part_number(1)
        .content_md5(crate::common::md5_base64(b"other"))
        .body(ByteStream::from(random_bytes(4096)))
        .send()
        .await;
    assert_s3_err(res, 400, Some("BadDigest"));
    let parts = s3
        .list_parts()
        .bucket("bad")
        .key("k")
        .upload_id(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(parts.parts().len(), 1);
    assert_eq!(parts.parts()[0].e_tag(), Some(good.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_uploads_are_aborted_by_the_sweep() {
    let env = TestEnv::new();
    let server = env.start(
        &[
            "serve",
            "--ephemeral",
            "--listen",
            "127.0.0.1:0",
            "--multipart-max-age",
            "1",
        ],
        &[],
        &crate::common::Expect::PrintedCredentials,
    );
    let s3 = server.client();
    create_bucket(&s3, "sweep").await;
    let id = create(&s3, "sweep", "old", None).await;
    upload(&s3, "sweep", "old", &id, 1, b"stale part").await;
    let mut gone = false;
    for _ in 0..100 {
        let page = s3
            .list_multipart_uploads()
            .bucket("sweep")
            .send()
            .await
            .unwrap();
        if page.uploads().is_empty() {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(gone, "the sweep did not abort an expired upload");
    assert_s3_err(
        s3.list_parts()
            .bucket("sweep")
            .key("old")
            .upload_id(&id)
            .send()
            .await,
        404,
        Some("NoSuchUpload"),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_bucket_drops_its_unfinished_uploads() {
    let env = TestEnv::new();
    let server = env.start_durable();
    let s3 = server.client();
    create_bucket(&s3, "gone").await;
    let id = create(&s3, "gone", "k", None).await;
    upload(&s3, "gone", "k", &id, 1, &random_bytes(MIB)).await;
    assert!(chunk_files(&env) > 0);
    s3.delete_bucket().bucket("gone").send().await.unwrap();
    assert!(
        eventually(Duration::from_secs(10), || chunk_files(&env) == 0).await,
        "a deleted bucket's parts left chunk files"
    );
    create_bucket(&s3, "gone").await;
    let page = s3
        .list_multipart_uploads()
        .bucket("gone")
        .send()
        .await
        .unwrap();
    assert!(page.uploads().is_empty());
    assert_s3_err(
        s3.upload_part()
            .bucket("gone")
            .key("k")
            .upload_id(&id)
            .part_number(2)
            .body(ByteStream::from(b"late".to_vec()))
            .send()
            .await,
        404,
        Some("NoSuchUpload"),
    );
}
