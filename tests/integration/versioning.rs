//! S3 versioning as AWS does it (issue 10), through aws-sdk-s3: the life cycle of a key's
//! versions (overwrite, delete marker, restore by copy, undelete), Suspended buckets and
//! their `null` version, DeleteObjects with version ids, and ListObjectVersions paging over
//! thousands of versions checked against a model of what AWS would answer.

use std::collections::BTreeMap;

use aws_sdk_s3::Client;
use aws_sdk_s3::types::{
    BucketVersioningStatus, Delete, EncodingType, ObjectIdentifier, VersioningConfiguration,
};

use crate::common::versions::{
    Listed, all_versions, delete_to_marker, get_version, list_versions_page, put_version,
    set_versioning, versioned_bucket,
};
use crate::common::{TestEnv, assert_s3_err, create_bucket, get, list_all_keys, put, status_of};

const B: &str = "versions";

async fn versioning_status(s3: &Client, bucket: &str) -> Option<String> {
    let out = s3
        .get_bucket_versioning()
        .bucket(bucket)
        .send()
        .await
        .expect("get bucket versioning");
    out.status().map(|s| s.as_str().to_owned())
}

fn header<'a>(resp: &'a aws_sdk_s3::config::http::HttpResponse, name: &str) -> Option<&'a str> {
    resp.headers().get(name)
}

/// A GET (or HEAD) of a key whose latest version is a delete marker: 404 NoSuchKey, saying
/// it is a marker and which.
#[track_caller]
fn assert_marker_404<T: std::fmt::Debug, E: std::fmt::Debug>(
    res: Result<T, aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>>,
    marker: &str,
) {
    let err = res.expect_err("the latest version is a delete marker");
    let raw = err.raw_response().expect("a response");
    assert_eq!(raw.status().as_u16(), 404);
    assert_eq!(header(raw, "x-amz-delete-marker"), Some("true"));
    assert_eq!(header(raw, "x-amz-version-id"), Some(marker));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_lives_through_versions_markers_restore_and_undelete() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    create_bucket(&s3, B).await;
    assert_eq!(versioning_status(&s3, B).await, None, "never versioned");
    set_versioning(&s3, B, BucketVersioningStatus::Enabled).await;
    assert_eq!(versioning_status(&s3, B).await.as_deref(), Some("Enabled"));

    // Overwrite: two versions, each readable by its id.
    let key = "charts/jane.pdf";
    let v1 = put_version(&s3, B, key, b"first").await;
    let v2 = put_version(&s3, B, key, b"second").await;
    assert_ne!(v1, v2);
    for v in [&v1, &v2] {
        assert_ne!(v, "null");
        assert!(
            v.len() >= 16 && v.chars().all(|c| c.is_ascii_graphic()),
            "version id {v:?}"
        );
    }
    assert_eq!(get(&s3, B, key).await, b"second");
    assert_eq!(get_version(&s3, B, key, &v1).await, b"first");
    assert_eq!(get_version(&s3, B, key, &v2).await, b"second");
    let latest = s3.get_object().bucket(B).key(key).send().await.unwrap();
    assert_eq!(latest.version_id(), Some(v2.as_str()));
    let head = s3
        .head_object()
        .bucket(B)
        .key(key)
        .version_id(&v1)
        .send()
        .await
        .unwrap();
    assert_eq!(head.version_id(), Some(v1.as_str()));
    assert_eq!(head.content_length(), Some(5));

    // DELETE without a version id: a delete marker; the key answers 404 as AWS does,
    // naming the marker; the marker itself by id is 405; older versions stay readable.
    let dm = delete_to_marker(&s3, B, key).await;
    assert!(dm != v1 && dm != v2);
    assert_marker_404(s3.get_object().bucket(B).key(key).send().await, &dm);
    assert_marker_404(s3.head_object().bucket(B).key(key).send().await, &dm);
    let err = s3
        .get_object()
        .bucket(B)
        .key(key)
        .version_id(&dm)
        .send()
        .await
        .unwrap_err();
    let raw = err.raw_response().unwrap();
    assert_eq!(raw.status().as_u16(), 405, "GET of a delete marker by id");
    assert_eq!(header(raw, "x-amz-delete-marker"), Some("true"));
    assert_eq!(
        crate::common::code_of(&err).as_deref(),
        Some("MethodNotAllowed")
    );
    assert_eq!(get_version(&s3, B, key, &v1).await, b"first");
    assert!(list_all_keys(&s3, B).await.is_empty(), "deleted key listed");
    assert_eq!(
        all_versions(&s3, B).await.len(),
        3,
        "two versions and a marker"
    );

    // Restore v1 by copying it onto its own key: a new version on top of the marker.
    let copied = s3
        .copy_object()
        .bucket(B)
        .key(key)
        .copy_source(format!("{B}/{key}?versionId={v1}"))
        .send()
        .await
        .unwrap();
    assert_eq!(copied.copy_source_version_id(), Some(v1.as_str()));
    let v3 = copied
        .version_id()
        .expect("a copy makes a version")
        .to_owned();
    assert!(![&v1, &v2, &dm].contains(&&v3));
    assert_eq!(get(&s3, B, key).await, b"first");

    // Deleting v3 for good brings the marker back on top; deleting the marker undeletes v2.
    let gone = s3
        .delete_object()
        .bucket(B)
        .key(key)
        .version_id(&v3)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.version_id(), Some(v3.as_str()));
    assert_ne!(gone.delete_marker(), Some(true), "v3 is no marker");
    assert_marker_404(s3.get_object().bucket(B).key(key).send().await, &dm);
    assert_s3_err(
        s3.get_object()
            .bucket(B)
            .key(key)
            .version_id(&v3)
            .send()
            .await,
        404,
        Some("NoSuchVersion"),
    );
    let undelete = s3
        .delete_object()
        .bucket(B)
        .key(key)
        .version_id(&dm)
        .send()
        .await
        .unwrap();
    assert_eq!(undelete.delete_marker(), Some(true), "it was a marker");
    assert_eq!(undelete.version_id(), Some(dm.as_str()));
    assert_eq!(get(&s3, B, key).await, b"second");
    let listed = all_versions(&s3, B).await;
    assert_eq!(
        listed,
        vec![
            Listed {
                key: key.into(),
                version_id: v2.clone(),
                is_latest: true,
                delete_marker: false
            },
            Listed {
                key: key.into(),
                version_id: v1.clone(),
                is_latest: false,
                delete_marker: false
            },
        ]
    );

    // Suspended: writes replace the one `null` version in place; older versions stay.
    set_versioning(&s3, B, BucketVersioningStatus::Suspended).await;
    assert_eq!(
        versioning_status(&s3, B).await.as_deref(),
        Some("Suspended")
    );
    for body in [&b"third"[..], b"fourth"] {
        let out = s3
            .put_object()
            .bucket(B)
            .key(key)
            .body(body.to_vec().into())
            .send()
            .await
            .unwrap();
        assert!(
            matches!(out.version_id(), None | Some("null")),
            "suspended PUT gave version {:?}",
            out.version_id()
        );
    }
    assert_eq!(get_version(&s3, B, key, "null").await, b"fourth");
    let ids: Vec<(String, bool)> = all_versions(&s3, B)
        .await
        .into_iter()
        .map(|l| (l.version_id, l.is_latest))
        .collect();
    assert_eq!(
        ids,
        [
            ("null".to_owned(), true),
            (v2.clone(), false),
            (v1.clone(), false)
        ]
    );
    // A suspended DELETE makes a `null` marker, which replaces the `null` version.
    let out = s3.delete_object().bucket(B).key(key).send().await.unwrap();
    assert_eq!(out.delete_marker(), Some(true));
    assert_eq!(out.version_id(), Some("null"));
    let listed = all_versions(&s3, B).await;
    assert_eq!(listed.len(), 3, "{listed:?}");
    assert!(
        listed
            .iter()
            .any(|l| l.version_id == "null" && l.delete_marker && l.is_latest),
        "{listed:?}"
    );
    assert_eq!(get_version(&s3, B, key, &v1).await, b"first");

    // Enabled again: new ids again, the null marker becomes history.
    set_versioning(&s3, B, BucketVersioningStatus::Enabled).await;
    let v5 = put_version(&s3, B, key, b"fifth").await;
    assert_ne!(v5, "null");
    assert_eq!(all_versions(&s3, B).await.len(), 4);

    // Versioning cannot go back to "off", and nonsense is refused.
    let res = s3
        .put_bucket_versioning()
        .bucket(B)
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::from("Disabled"))
                .build(),
        )
        .send()
        .await;
    assert_s3_err(res, 400, Some("MalformedXML"));
    assert_eq!(versioning_status(&s3, B).await.as_deref(), Some("Enabled"));

    // DeleteBucket: refused while any version or marker is left.
    for l in all_versions(&s3, B).await {
        assert_s3_err(
            s3.delete_bucket().bucket(B).send().await,
            409,
            Some("BucketNotEmpty"),
        );
        s3.delete_object()
            .bucket(B)
            .key(&l.key)
            .version_id(&l.version_id)
            .send()
            .await
            .unwrap();
    }
    s3.delete_bucket().bucket(B).send().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_objects_removes_versions_by_id_and_reports_markers() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    versioned_bucket(&s3, B).await;
    let a1 = put_version(&s3, B, "a", b"a1").await;
    let b1 = put_version(&s3, B, "b", b"b1").await;
    let b2 = put_version(&s3, B, "b", b"b2").await;
    let c1 = put_version(&s3, B, "c", b"c1").await;
    let c_marker = delete_to_marker(&s3, B, "c").await;

    let id = |key: &str, version: Option<&str>| {
        ObjectIdentifier::builder()
            .key(key)
            .set_version_id(version.map(str::to_owned))
            .build()
            .unwrap()
    };
    let out = s3
        .delete_objects()
        .bucket(B)
        .delete(
            Delete::builder()
                .objects(id("a", None))
                .objects(id("b", Some(&b1)))
                .objects(id("c", Some(&c_marker)))
                .objects(id("never", Some("null")))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert!(out.errors().is_empty(), "{:?}", out.errors());
    let deleted: BTreeMap<&str, _> = out
        .deleted()
        .iter()
        .map(|d| (d.key().unwrap(), d))
        .collect();
    assert_eq!(deleted.len(), 4, "{deleted:?}");
    // No version named: a marker was made, and named.
    let a = deleted["a"];
    assert_eq!(a.delete_marker(), Some(true));
    let a_marker = a.delete_marker_version_id().expect("marker id").to_owned();
    assert_eq!(a.version_id(), None);
    // A version by id: gone for good, named.
    assert_eq!(deleted["b"].version_id(), Some(b1.as_str()));
    assert_ne!(deleted["b"].delete_marker(), Some(true));
    // A marker by id: gone, and it says it was a marker.
    assert_eq!(deleted["c"].version_id(), Some(c_marker.as_str()));
    assert_eq!(deleted["c"].delete_marker(), Some(true));

    assert_marker_404(s3.get_object().bucket(B).key("a").send().await, &a_marker);
    assert_eq!(get_version(&s3, B, "a", &a1).await, b"a1");
    assert_eq!(get(&s3, B, "b").await, b"b2");
    assert_s3_err(
        s3.get_object()
            .bucket(B)
            .key("b")
            .version_id(&b1)
            .send()
            .await,
        404,
        Some("NoSuchVersion"),
    );
    assert_eq!(
        get(&s3, B, "c").await,
        b"c1",
        "undeleted by removing its marker"
    );
    let mut listed: Vec<(String, String)> = all_versions(&s3, B)
        .await
        .into_iter()
        .map(|l| (l.key, l.version_id))
        .collect();
    listed.sort();
    let mut want = vec![
        ("a".to_owned(), a1),
        ("a".to_owned(), a_marker),
        ("b".to_owned(), b2),
        ("c".to_owned(), c1),
    ];
    want.sort();
    assert_eq!(listed, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unversioned_bucket_shows_no_version_ids_and_answers_to_null() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    create_bucket(&s3, B).await;
    let out = s3
        .put_object()
        .bucket(B)
        .key("k")
        .body(b"one".to_vec().into())
        .send()
        .await
        .unwrap();
    assert_eq!(out.version_id(), None, "no version id header");
    put(&s3, B, "k", b"two").await;
    let got = s3.get_object().bucket(B).key("k").send().await.unwrap();
    assert_eq!(got.version_id(), None);
    let head = s3.head_object().bucket(B).key("k").send().await.unwrap();
    assert_eq!(head.version_id(), None);
    // The object is the `null` version.
    let got = s3
        .get_object()
        .bucket(B)
        .key("k")
        .version_id("null")
        .send()
        .await
        .unwrap();
    assert_eq!(got.body.collect().await.unwrap().to_vec(), b"two");
    let listed = all_versions(&s3, B).await;
    assert_eq!(
        listed,
        [Listed {
            key: "k".into(),
            version_id: "null".into(),
            is_latest: true,
            delete_marker: false
        }]
    );
    // A made-up version id of an unversioned key.
    let res = s3
        .get_object()
        .bucket(B)
        .key("k")
        .version_id("AAAAAAAAAAAAAAAA")
        .send()
        .await;
    let err = res.unwrap_err();
    assert!(
        matches!(status_of(&err), 400 | 404),
        "{}",
        aws_sdk_s3::error::DisplayErrorContext(&err)
    );
    // DELETE: no marker, no version id; the key is gone.
    let del = s3.delete_object().bucket(B).key("k").send().await.unwrap();
    assert_eq!(del.delete_marker(), None);
    assert_eq!(del.version_id(), None);
    assert!(all_versions(&s3, B).await.is_empty());
    // DELETE versionId=null of an unversioned object removes it too.
    put(&s3, B, "n", b"x").await;
    s3.delete_object()
        .bucket(B)
        .key("n")
        .version_id("null")
        .send()
        .await
        .unwrap();
    assert!(list_all_keys(&s3, B).await.is_empty());
}

/// One expected entry of a listing: a version/marker, or a common prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Item {
    Entry(Listed),
    Prefix(String),
}

/// What AWS lists for `model` (each key's versions oldest first, `true` for a marker):
/// keys ascending, each key's newest first; with a delimiter, keys holding it after the
/// prefix roll up into one common prefix each, where the first such key would be.
fn expected(
    model: &BTreeMap<String, Vec<(String, bool)>>,
    prefix: &str,
    delimiter: Option<&str>,
) -> Vec<Item> {
    let mut out = Vec::new();
    for (key, versions) in model {
        let Some(rest) = key.strip_prefix(prefix) else {
            continue;
        };
        if let Some(d) = delimiter
            && let Some(i) = rest.find(d)
        {
            let p = format!("{prefix}{}", &rest[..i + d.len()]);
            if !out.contains(&Item::Prefix(p.clone())) {
                out.push(Item::Prefix(p));
            }
            continue;
        }
        for (i, (id, marker)) in versions.iter().rev().enumerate() {
            out.push(Item::Entry(Listed {
                key: key.clone(),
                version_id: id.clone(),
                is_latest: i == 0,
                delete_marker: *marker,
            }));
        }
    }
    out
}

/// Pages through ListObjectVersions `max_keys` at a time and checks the pages against
/// `want`: every page but the last full, each list in order, nothing lost or repeated.
async fn check_paging(
    s3: &Client,
    prefix: Option<&str>,
    delimiter: Option<&str>,
    max_keys: i32,
    want: &[Item],
) {
    let index = |item: &Item| {
        want.iter()
            .position(|w| w == item)
            .unwrap_or_else(|| panic!("listed but not expected: {item:?}"))
    };
    let mut got: Vec<Item> = Vec::new();
    let mut marker = (None, None);
    let mut pages = 0;
    loop {
        let page = list_versions_page(s3, B, prefix, delimiter, Some(max_keys), marker).await;
        pages += 1;
        let mut items: Vec<(usize, Item)> = Vec::new();
        for list in [
            page.versions
                .into_iter()
                .map(Item::Entry)
                .collect::<Vec<_>>(),
            page.markers.into_iter().map(Item::Entry).collect(),
            page.prefixes.into_iter().map(Item::Prefix).collect(),
        ] {
            let positions: Vec<usize> = list.iter().map(index).collect();
            assert!(
                positions.windows(2).all(|w| w[0] < w[1]),
                "page {pages}: a list out of AWS order"
            );
            items.extend(positions.into_iter().zip(list));
        }
        items.sort_by_key(|(i, _)| *i);
        let truncated = page.out.is_truncated() == Some(true);
        if truncated {
            assert_eq!(
                items.len(),
                usize::try_from(max_keys).unwrap(),
                "page {pages} not full"
            );
        } else {
            assert!(items.len() <= usize::try_from(max_keys).unwrap());
        }
        got.extend(items.into_iter().map(|(_, item)| item));
        if !truncated {
            break;
        }
        let key_marker = page
            .out
            .next_key_marker()
            .expect("a truncated page has a NextKeyMarker");
        marker = (
            Some(key_marker.to_owned()),
            // As boto3's paginator does: whatever the page said, as it said it.
            page.out.next_version_id_marker().map(str::to_owned),
        );
        assert!(pages < 1000, "paging does not end");
    }
    assert_eq!(got.len(), want.len(), "{prefix:?}/{delimiter:?}");
    assert!(got == want, "{prefix:?}/{delimiter:?}: listing differs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_object_versions_pages_thousands_of_versions_in_aws_order() {
    use futures::StreamExt as _;

    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    versioned_bucket(&s3, B).await;

    // (key, number of operations, every n-th is a DELETE making a marker; 0: none).
    let plan: &[(&str, usize, usize)] = &[
        ("a/1", 300, 0),
        ("a/2", 250, 50),
        ("b", 480, 0),
        ("b0", 2, 2),
        ("c/d/e", 150, 30),
        ("d", 700, 35),
        ("sp ace+ü", 3, 0),
        ("zz", 140, 7),
    ];
    let results: Vec<(String, Vec<(String, bool)>)> = futures::stream::iter(plan.iter())
        .map(|&(key, ops, every)| {
            let s3 = s3.clone();
            async move {
                let mut versions = Vec::with_capacity(ops);
                for i in 1..=ops {
                    if every > 0 && i % every == 0 {
                        versions.push((delete_to_marker(&s3, B, key).await, true));
                    } else {
                        let body = format!("{key}#{i}");
                        versions.push((put_version(&s3, B, key, body.as_bytes()).await, false));
                    }
                }
                (key.to_owned(), versions)
            }
        })
        .buffer_unordered(plan.len())
        .collect()
        .await;
    let model: BTreeMap<String, Vec<(String, bool)>> = results.into_iter().collect();
    let total: usize = model.values().map(Vec::len).sum();
    assert!(total > 2000);

    // Everything, 137 at a time and 1000 at a time.
    let all = expected(&model, "", None);
    assert_eq!(all.len(), total);
    check_paging(&s3, None, None, 137, &all).await;
    check_paging(&s3, None, None, 1000, &all).await;
    // A prefix; a delimiter rolling keys up into common prefixes (which count as entries).
    check_paging(&s3, Some("a/"), None, 137, &expected(&model, "a/", None)).await;
    let rolled = expected(&model, "", Some("/"));
    assert!(rolled.contains(&Item::Prefix("a/".into())));
    check_paging(&s3, None, Some("/"), 137, &rolled).await;
    check_paging(
        &s3,
        Some("c/"),
        Some("/"),
        5,
        &expected(&model, "c/", Some("/")),
    )
    .await;

    // A version-id marker resumes inside a key: after the 10th newest version of "d".
    let d: Vec<&(String, bool)> = model["d"].iter().rev().collect();
    let page = list_versions_page(
        &s3,
        B,
        None,
        None,
        Some(3),
        (Some("d".into()), Some(d[9].0.clone())),
    )
    .await;
    let mut ids: Vec<&str> = page
        .versions
        .iter()
        .chain(&page.markers)
        .map(|l| l.version_id.as_str())
        .collect();
    ids.sort_unstable();
    let mut want: Vec<&str> = d[10..13].iter().map(|(id, _)| id.as_str()).collect();
    want.sort_unstable();
    assert_eq!(ids, want);
    // A key marker alone starts after every version of that key.
    let page = list_versions_page(&s3, B, None, None, Some(1), (Some("d".into()), None)).await;
    let first = page.versions.iter().chain(&page.markers).next().unwrap();
    assert_eq!(first.key, "sp ace+ü");

    // encoding-type=url: keys come back percent-encoded.
    let out = s3
        .list_object_versions()
        .bucket(B)
        .prefix("sp")
        .encoding_type(EncodingType::Url)
        .send()
        .await
        .unwrap();
    assert_eq!(out.encoding_type(), Some(&EncodingType::Url));
    let keys: Vec<&str> = out.versions().iter().map(|v| v.key().unwrap()).collect();
    assert_eq!(keys, ["sp%20ace%2B%C3%BC"; 3]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boto3_versioning_round_trip() {
    use crate::clients::{require, run_ok, tool};
    if !require("python3 with boto3", "python3", &["-c", "import boto3"]) {
        return;
    }
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/integration/py/boto3_versioning.py");
    let mut cmd = tool(&env, &server, "python3");
    cmd.arg(&script);
    let out = run_ok(cmd);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("boto3 versioning ok"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        crate::common::bucket_names(&server.client())
            .await
            .is_empty()
    );
}

/// P3 for versions: the version ids the server hands out, a distinctive key and a
/// metadata value of a key with several versions and delete markers are nowhere on disk
/// (data dir, TMPDIR, logs) in clear, hex or base64 — while running and after a stop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p3_version_ids_keys_and_metadata_are_not_on_disk_in_clear() {
    use crate::common::markers::{assert_no_marker_anywhere, marker};

    let env = TestEnv::new();
    let mut server = env.start_durable();
    let s3 = server.client();
    versioned_bucket(&s3, B).await;
    let key = format!("patients/{}/consent.pdf", marker("vkey"));
    let meta = marker("vmeta");
    let mut markers: Vec<(&str, String)> = vec![("key", key.clone()), ("meta", meta.clone())];
    let mut ids = Vec::new();
    for round in 0..3 {
        for i in 0..2 {
            let out = s3
                .put_object()
                .bucket(B)
                .key(&key)
                .metadata("consent", &meta)
                .body(format!("version {round}.{i}").into_bytes().into())
                .send()
                .await
                .unwrap();
            ids.push(out.version_id().unwrap().to_owned());
        }
        ids.push(delete_to_marker(&s3, B, &key).await);
    }
    // Removing a version and a marker for good leaves no trace of their ids either.
    for gone in [ids[0].clone(), ids[2].clone()] {
        s3.delete_object()
            .bucket(B)
            .key(&key)
            .version_id(&gone)
            .send()
            .await
            .unwrap();
    }
    let listed = all_versions(&s3, B).await;
    assert_eq!(listed.len(), ids.len() - 2);
    assert_eq!(
        get_version(&s3, B, &key, &ids[4]).await,
        b"version 1.1",
        "a version written with the marker-laden metadata"
    );
    for id in &ids {
        markers.push(("version id", id.clone()));
    }
    assert_no_marker_anywhere(&env, &markers, "versions written");
    assert!(server.stop().success());
    assert_no_marker_anywhere(&env, &markers, "after a clean stop");

    // And the history survives the restart as it was.
    let server = env.start_durable_known(
        crate::common::ROOT_ACCESS_KEY,
        crate::common::ROOT_SECRET_KEY,
    );
    let s3 = server.client();
    assert_eq!(all_versions(&s3, B).await, listed);
    assert_eq!(get_version(&s3, B, &key, &ids[4]).await, b"version 1.1");
    let head = s3
        .head_object()
        .bucket(B)
        .key(&key)
        .version_id(&ids[4])
        .send()
        .await
        .unwrap();
    assert_eq!(head.metadata().unwrap()["consent"], meta);
    assert_marker_404(s3.get_object().bucket(B).key(&key).send().await, &ids[8]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_listings_skip_keys_whose_latest_is_a_delete_marker() {
    use futures::StreamExt as _;

    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    versioned_bucket(&s3, B).await;
    let keys: Vec<String> = (0..400).map(|i| format!("k{i:04}")).collect();
    crate::common::put_many(&s3, B, &keys, 8).await;
    // All but every 37th key deleted (long runs of markers between live keys); one live key
    // has older versions and one deleted key a version on top of an older marker.
    futures::stream::iter(keys.iter().enumerate().filter(|(i, _)| i % 37 != 0))
        .for_each_concurrent(8, |(_, k)| {
            let s3 = s3.clone();
            async move {
                delete_to_marker(&s3, B, k).await;
            }
        })
        .await;
    put_version(&s3, B, "k0037", b"again").await;
    put_version(&s3, B, "k0038", b"back").await;
    let live: Vec<String> = keys
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 37 == 0 || *i == 38)
        .map(|(_, k)| k.clone())
        .collect();
    assert_eq!(list_all_keys(&s3, B).await, live);
    // Small pages of V2 and V1 see the same keys.
    let mut got = Vec::new();
    let mut token = None;
    loop {
        let out = s3
            .list_objects_v2()
            .bucket(B)
            .max_keys(2)
            .set_continuation_token(token)
            .send()
            .await
            .unwrap();
        got.extend(out.contents().iter().map(|o| o.key().unwrap().to_owned()));
        if out.is_truncated() != Some(true) {
            break;
        }
        token = out.next_continuation_token().map(str::to_owned);
    }
    assert_eq!(got, live);
    let mut got = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let out = s3
            .list_objects()
            .bucket(B)
            .max_keys(3)
            .set_marker(marker)
            .send()
            .await
            .unwrap();
        got.extend(out.contents().iter().map(|o| o.key().unwrap().to_owned()));
        if out.is_truncated() != Some(true) {
            break;
        }
        marker = got.last().cloned();
    }
    assert_eq!(got, live);
    // 400 first versions, 389 markers, 2 more versions.
    assert_eq!(all_versions(&s3, B).await.len(), 400 + 389 + 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copies_multipart_uploads_and_the_null_version_take_their_place_in_history() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    create_bucket(&s3, B).await;
    // Written while unversioned: the `null` version, kept when versioning starts.
    put(&s3, B, "k", b"unversioned").await;
    set_versioning(&s3, B, BucketVersioningStatus::Enabled).await;
    let v1 = put_version(&s3, B, "k", b"one").await;
    assert_eq!(get_version(&s3, B, "k", "null").await, b"unversioned");

    // CompleteMultipartUpload makes a version and says which.
    let up = s3
        .create_multipart_upload()
        .bucket(B)
        .key("k")
        .send()
        .await
        .unwrap();
    let part = s3
        .upload_part()
        .bucket(B)
        .key("k")
        .upload_id(up.upload_id().unwrap())
        .part_number(1)
        .body(b"multi".to_vec().into())
        .send()
        .await
        .unwrap();
    let done = s3
        .complete_multipart_upload()
        .bucket(B)
        .key("k")
        .upload_id(up.upload_id().unwrap())
        .multipart_upload(
            aws_sdk_s3::types::CompletedMultipartUpload::builder()
                .parts(
                    aws_sdk_s3::types::CompletedPart::builder()
                        .part_number(1)
                        .e_tag(part.e_tag().unwrap())
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let v2 = done
        .version_id()
        .expect("Complete names its version")
        .to_owned();
    assert_eq!(get_version(&s3, B, "k", &v2).await, b"multi");

    // Copying the null version to another key: a version there, the source named.
    let copied = s3
        .copy_object()
        .bucket(B)
        .key("copy")
        .copy_source(format!("{B}/k?versionId=null"))
        .send()
        .await
        .unwrap();
    assert_eq!(copied.copy_source_version_id(), Some("null"));
    let c = copied.version_id().unwrap().to_owned();
    assert_eq!(get_version(&s3, B, "copy", &c).await, b"unversioned");
    // A delete marker cannot be copied; another key's version id is not this key's.
    let dm = delete_to_marker(&s3, B, "copy").await;
    let res = s3
        .copy_object()
        .bucket(B)
        .key("copy2")
        .copy_source(format!("{B}/copy?versionId={dm}"))
        .send()
        .await;
    let err = res.unwrap_err();
    assert!(matches!(status_of(&err), 400 | 405), "{err:?}");
    assert_s3_err(
        s3.get_object()
            .bucket(B)
            .key("k")
            .version_id(&c)
            .send()
            .await,
        404,
        Some("NoSuchVersion"),
    );
    assert_s3_err(
        s3.get_object()
            .bucket(B)
            .key("k")
            .version_id("not a version id!")
            .send()
            .await,
        400,
        Some("InvalidArgument"),
    );

    // History of "k", newest first, the null version oldest; paged one at a time (the
    // markers then name the null version too).
    let want = [v2.as_str(), v1.as_str(), "null"];
    let mut seen = Vec::new();
    let mut marker = (None, None);
    loop {
        let page = list_versions_page(&s3, B, Some("k"), None, Some(1), marker).await;
        seen.extend(page.versions.iter().map(|l| l.version_id.clone()));
        if page.out.is_truncated() != Some(true) {
            break;
        }
        marker = (
            page.out.next_key_marker().map(str::to_owned),
            page.out.next_version_id_marker().map(str::to_owned),
        );
    }
    assert_eq!(seen, want);
    // A version-id marker needs a key marker.
    let res = s3
        .list_object_versions()
        .bucket(B)
        .version_id_marker(&v1)
        .send()
        .await;
    assert_s3_err(res, 400, Some("InvalidArgument"));

    // Suspended, with the old null version deep in history: a write replaces it (it is
    // gone) and becomes the current null version; the others stay.
    set_versioning(&s3, B, BucketVersioningStatus::Suspended).await;
    put(&s3, B, "k", b"suspended").await;
    let ids: Vec<(String, bool)> = all_versions(&s3, B)
        .await
        .into_iter()
        .filter(|l| l.key == "k")
        .map(|l| (l.version_id, l.is_latest))
        .collect();
    assert_eq!(
        ids,
        [
            ("null".to_owned(), true),
            (v2.clone(), false),
            (v1.clone(), false)
        ]
    );
    assert_eq!(get_version(&s3, B, "k", "null").await, b"suspended");
    assert_eq!(get(&s3, B, "k").await, b"suspended");
}

/// Naming a version needs the `…Version` action (as in AWS): a user granted s3:GetObject,
/// s3:DeleteObject and s3:ListBucket on root's bucket reads, deletes (to a marker) and
/// lists current objects, but reads, deletes and lists versions only once granted
/// s3:GetObjectVersion, s3:DeleteObjectVersion and s3:ListBucketVersions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_requests_need_the_version_actions() {
    let env = TestEnv::new();
    let server = env.start_ephemeral_with(&["--users", "1"]);
    let root = server.client();
    let user = server.user_client(1);
    versioned_bucket(&root, B).await;
    let v1 = put_version(&root, B, "k", b"one").await;
    put_version(&root, B, "k", b"two").await;
    let arn = format!(
        "arn:aws:iam::{}:user/user1",
        server.vars["COFFER_ACCOUNT_ID"]
    );
    let grant = |actions: &[&str]| {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{arn}"}},"Action":{},"Resource":["arn:aws:s3:::{B}","arn:aws:s3:::{B}/*"]}}]}}"#,
            serde_json::to_string(actions).unwrap()
        )
    };
    root.put_bucket_policy()
        .bucket(B)
        .policy(grant(&[
            "s3:GetObject",
            "s3:DeleteObject",
            "s3:ListBucket",
            "s3:PutObject",
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(get(&user, B, "k").await, b"two");
    assert_s3_err(
        user.get_object()
            .bucket(B)
            .key("k")
            .version_id(&v1)
            .send()
            .await,
        403,
        Some("AccessDenied"),
    );
    assert_s3_err(
        user.head_object()
            .bucket(B)
            .key("k")
            .version_id(&v1)
            .send()
            .await,
        403,
        None,
    );
    assert_s3_err(
        user.list_object_versions().bucket(B).send().await,
        403,
        Some("AccessDenied"),
    );
    assert_s3_err(
        user.delete_object()
            .bucket(B)
            .key("k")
            .version_id(&v1)
            .send()
            .await,
        403,
        Some("AccessDenied"),
    );
    let res = user
        .delete_objects()
        .bucket(B)
        .delete(
            Delete::builder()
                .objects(
                    ObjectIdentifier::builder()
                        .key("k")
                        .version_id(&v1)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await;
    assert_s3_err(res, 403, Some("AccessDenied"));
    // Copying a named version reads it: s3:GetObjectVersion on the source.
    let res = user
        .copy_object()
        .bucket(B)
        .key("restored")
        .copy_source(format!("{B}/k?versionId={v1}"))
        .send()
        .await;
    assert_s3_err(res, 403, Some("AccessDenied"));
    assert_eq!(all_versions(&root, B).await.len(), 2, "nothing changed");
    // Without a version id: a delete marker, which s3:DeleteObject allows.
    delete_to_marker(&user, B, "k").await;

    root.put_bucket_policy()
        .bucket(B)
        .policy(grant(&[
            "s3:GetObject",
            "s3:GetObjectVersion",
            "s3:DeleteObjectVersion",
            "s3:ListBucketVersions",
            "s3:PutObject",
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(get_version(&user, B, "k", &v1).await, b"one");
    assert_eq!(all_versions(&user, B).await.len(), 3);
    user.delete_object()
        .bucket(B)
        .key("k")
        .version_id(&v1)
        .send()
        .await
        .expect("s3:DeleteObjectVersion allows it");
    assert_eq!(all_versions(&root, B).await.len(), 2);
}

/// An object ACL grant is the version's own (AWS): READ granted on the latest version
/// reads that version, never an older one named by id (which may hold anything), and a
/// grant put on an older version reads that one only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_acl_grant_covers_its_own_version_only() {
    let env = TestEnv::new();
    let server = env.start_ephemeral_with(&["--users", "1"]);
    let root = server.client();
    let user = server.user_client(1);
    let user_id = user
        .list_buckets()
        .send()
        .await
        .unwrap()
        .owner()
        .and_then(|o| o.id())
        .unwrap()
        .to_owned();
    versioned_bucket(&root, B).await;
    let old = put_version(&root, B, "k", b"an older, private version").await;
    let shared = root
        .put_object()
        .bucket(B)
        .key("k")
        .grant_read(format!("id=\"{user_id}\""))
        .body(b"the shared version".to_vec().into())
        .send()
        .await
        .unwrap()
        .version_id()
        .unwrap()
        .to_owned();
    assert_eq!(get(&user, B, "k").await, b"the shared version");
    assert_eq!(
        get_version(&user, B, "k", &shared).await,
        b"the shared version"
    );
    assert_s3_err(
        user.get_object()
            .bucket(B)
            .key("k")
            .version_id(&old)
            .send()
            .await,
        403,
        Some("AccessDenied"),
    );
    assert_s3_err(
        user.head_object()
            .bucket(B)
            .key("k")
            .version_id(&old)
            .send()
            .await,
        403,
        None,
    );
    // Nor through a copy of the older version into the user's own bucket.
    create_bucket(&user, "users-own").await;
    let res = user
        .copy_object()
        .bucket("users-own")
        .key("stolen")
        .copy_source(format!("{B}/k?versionId={old}"))
        .send()
        .await;
    assert_s3_err(res, 403, Some("AccessDenied"));
    // A grant on the older version (PutObjectAcl with its id) opens that one alone.
    let third = put_version(&root, B, "k", b"newest, private").await;
    root.put_object_acl()
        .bucket(B)
        .key("k")
        .version_id(&old)
        .grant_read(format!("id=\"{user_id}\""))
        .send()
        .await
        .unwrap();
    assert_eq!(
        get_version(&user, B, "k", &old).await,
        b"an older, private version"
    );
    assert_s3_err(
        user.get_object().bucket(B).key("k").send().await,
        403,
        Some("AccessDenied"),
    );
    assert_s3_err(
        user.get_object()
            .bucket(B)
            .key("k")
            .version_id(&third)
            .send()
            .await,
        403,
        Some("AccessDenied"),
    );
}

/// Versions keep their chunks: a delete marker frees nothing, an overwrite frees nothing,
/// a Suspended write frees the `null` version it replaces, and deleting the last version
/// by id frees the rest (no chunk of a deleted version is left behind).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_hold_their_chunks_until_deleted_for_good() {
    use std::time::Duration;

    use crate::common::{eventually, files_under, random_bytes};

    let env = TestEnv::new();
    let server = env.start_durable();
    let s3 = server.client();
    let chunks = || files_under(&env.data().join("chunks")).len();
    versioned_bucket(&s3, B).await;
    let before = chunks();
    let bodies: Vec<Vec<u8>> = (0..3).map(|_| random_bytes(1024 * 1024 + 7)).collect();
    let mut ids = Vec::new();
    for body in &bodies {
        ids.push(put_version(&s3, B, "k", body).await);
    }
    let three = chunks();
    assert!(
        three >= before + 3,
        "three distinct bodies, three chunks at least"
    );
    delete_to_marker(&s3, B, "k").await;
    assert_eq!(chunks(), three, "a delete marker frees nothing");
    for (id, body) in ids.iter().zip(&bodies) {
        assert!(get_version(&s3, B, "k", id).await == *body);
    }

    // Suspended: the second write replaces the first null version and frees its chunks.
    set_versioning(&s3, B, BucketVersioningStatus::Suspended).await;
    put(&s3, B, "k", &random_bytes(1024 * 1024 + 9)).await;
    let with_null = chunks();
    assert!(with_null > three);
    put(&s3, B, "k", &random_bytes(1024 * 1024 + 11)).await;
    assert!(
        eventually(Duration::from_secs(10), || chunks() == with_null).await,
        "the replaced null version's chunks are freed"
    );

    // Deleting every version and marker by id frees everything.
    for l in all_versions(&s3, B).await {
        s3.delete_object()
            .bucket(B)
            .key(&l.key)
            .version_id(&l.version_id)
            .send()
            .await
            .unwrap();
    }
    assert!(
        eventually(Duration::from_secs(10), || chunks() == before).await,
        "chunks left after every version went: {} (before: {before})",
        chunks()
    );
    s3.delete_bucket().bucket(B).send().await.unwrap();
}

/// A version id belongs to its key: naming it with another key finds nothing and changes
/// nothing (DELETE is a no-op, reads and copies are NoSuchVersion, lock settings refused).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_id_named_with_another_key_touches_nothing() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    s3.create_bucket()
        .bucket(B)
        .object_lock_enabled_for_bucket(true)
        .send()
        .await
        .unwrap();
    let a = put_version(&s3, B, "a", b"a").await;
    let b = put_version(&s3, B, "b", b"b").await;
    s3.delete_object()
        .bucket(B)
        .key("a")
        .version_id(&b)
        .send()
        .await
        .expect("deleting what is not there succeeds");
    let res = s3
        .delete_objects()
        .bucket(B)
        .delete(
            Delete::builder()
                .objects(
                    ObjectIdentifier::builder()
                        .key("b")
                        .version_id(&a)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert!(res.errors().is_empty(), "{:?}", res.errors());
    assert_eq!(get_version(&s3, B, "a", &a).await, b"a");
    assert_eq!(get_version(&s3, B, "b", &b).await, b"b");
    let res = s3
        .copy_object()
        .bucket(B)
        .key("c")
        .copy_source(format!("{B}/a?versionId={b}"))
        .send()
        .await;
    assert_s3_err(res, 404, Some("NoSuchVersion"));
    let res = s3
        .put_object_legal_hold()
        .bucket(B)
        .key("a")
        .version_id(&b)
        .legal_hold(
            aws_sdk_s3::types::ObjectLockLegalHold::builder()
                .status(aws_sdk_s3::types::ObjectLockLegalHoldStatus::On)
                .build(),
        )
        .send()
        .await;
    assert_s3_err(res, 404, Some("NoSuchVersion"));
    // b is not held: it may still go.
    s3.delete_object()
        .bucket(B)
        .key("b")
        .version_id(&b)
        .send()
        .await
        .unwrap();
    assert_eq!(all_versions(&s3, B).await.len(), 1);
}

/// 16 concurrent writes and 4 concurrent deletes of one key: every write is its own version
/// with its own id, every delete its own marker, and exactly one of them is the latest —
/// the one a plain GET sees.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_to_one_key_each_make_a_version() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    versioned_bucket(&s3, B).await;
    put_version(&s3, B, "k", b"seed").await;
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let s3 = s3.clone();
            tokio::spawn(async move {
                if i % 5 == 4 {
                    (delete_to_marker(&s3, B, "k").await, None)
                } else {
                    let body = format!("writer {i}").into_bytes();
                    (put_version(&s3, B, "k", &body).await, Some(body))
                }
            })
        })
        .collect();
    let mut written = BTreeMap::new();
    for t in tasks {
        let (id, body) = t.await.unwrap();
        assert!(
            written.insert(id, body).is_none(),
            "a version id given twice"
        );
    }
    let listed = all_versions(&s3, B).await;
    assert_eq!(listed.len(), 21);
    let latest: Vec<&Listed> = listed.iter().filter(|l| l.is_latest).collect();
    assert_eq!(latest.len(), 1, "{listed:?}");
    let latest = latest[0];
    for l in &listed {
        if let Some(body) = written.get(&l.version_id) {
            assert_eq!(l.delete_marker, body.is_none(), "{l:?}");
        }
    }
    match &written[&latest.version_id] {
        Some(body) => assert_eq!(&get(&s3, B, "k").await, body),
        None => assert_marker_404(
            s3.get_object().bucket(B).key("k").send().await,
            &latest.version_id,
        ),
    }
}
