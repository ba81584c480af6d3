//! ListObjectsV2 and ListObjects (v1): byte order, prefixes, delimiters, paging across
//! thousands of keys, start-after, URL encoding, fetch-owner, markers.

use std::collections::BTreeSet;

use aws_sdk_s3::Client;
use aws_sdk_s3::types::EncodingType;

use crate::common::{TestEnv, create_bucket, list_all_keys, put, put_many};

const TREE: [&str; 7] = [
    "docs/x.pdf",
    "photos/2024/a.jpg",
    "photos/2024/b.jpg",
    "photos/2025/c.jpg",
    "photos/top.jpg",
    "readme",
    "photos/2024/sub/deep.jpg",
];

async fn tree_bucket(s3: &Client) {
    create_bucket(s3, "tree").await;
    for k in TREE {
        put(s3, "tree", k, k.as_bytes()).await;
    }
}

fn keys_of(out: &aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Output) -> Vec<String> {
    out.contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect()
}

fn prefixes_of(cps: &[aws_sdk_s3::types::CommonPrefix]) -> Vec<String> {
    cps.iter()
        .filter_map(|p| p.prefix().map(str::to_owned))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_v2_prefix_delimiter_common_prefixes_max_keys() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    tree_bucket(&s3).await;

    let out = s3.list_objects_v2().bucket("tree").send().await.unwrap();
    let mut all: Vec<String> = TREE.iter().map(|s| (*s).to_owned()).collect();
    all.sort();
    assert_eq!(keys_of(&out), all, "byte order");
    assert_eq!(out.key_count(), Some(7));
    assert_eq!(out.is_truncated(), Some(false));
    for o in out.contents() {
        assert_eq!(o.size(), Some(o.key().unwrap().len() as i64));
        assert_eq!(
            o.e_tag(),
            Some(crate::common::etag_of(o.key().unwrap().as_bytes()).as_str())
        );
        assert!(o.last_modified().is_some());
    }

    let out = s3
        .list_objects_v2()
        .bucket("tree")
        .prefix("photos/")
        .delimiter("/")
        .send()
        .await
        .unwrap();
    assert_eq!(keys_of(&out), ["photos/top.jpg"]);
    assert_eq!(
        prefixes_of(out.common_prefixes()),
        ["photos/2024/", "photos/2025/"]
    );
    assert_eq!(out.key_count(), Some(3), "KeyCount counts prefixes too");

    let out = s3
        .list_objects_v2()
        .bucket("tree")
        .delimiter("/")
        .send()
        .await
        .unwrap();
    assert_eq!(keys_of(&out), ["readme"]);
    assert_eq!(prefixes_of(out.common_prefixes()), ["docs/", "photos/"]);

    let out = s3
        .list_objects_v2()
        .bucket("tree")
        .prefix("photos/2024/")
        .send()
        .await
        .unwrap();
    assert_eq!(
        keys_of(&out),
        [
            "photos/2024/a.jpg",
            "photos/2024/b.jpg",
            "photos/2024/sub/deep.jpg"
        ]
    );
    let out = s3
        .list_objects_v2()
        .bucket("tree")
        .prefix("nothing-here/")
        .send()
        .await
        .unwrap();
    assert!(keys_of(&out).is_empty());
    assert_eq!(out.key_count(), Some(0));

    // max-keys counts keys and common prefixes together; paging with a delimiter
    // yields each prefix once.
    let mut seen_keys = Vec::new();
    let mut seen_prefixes = Vec::new();
    let mut token = None;
    let mut pages = 0;
    loop {
        let out = s3
            .list_objects_v2()
            .bucket("tree")
            .delimiter("/")
            .max_keys(1)
            .set_continuation_token(token.clone())
            .send()
            .await
            .unwrap();
        pages += 1;
        assert!(
            out.contents().len() + out.common_prefixes().len() <= 1,
            "max-keys=1 exceeded"
        );
        seen_keys.extend(keys_of(&out));
        seen_prefixes.extend(prefixes_of(out.common_prefixes()));
        if out.is_truncated() == Some(true) {
            token = Some(out.next_continuation_token().unwrap().to_owned());
        } else {
            break;
        }
        assert!(pages < 10, "paging does not end");
    }
    assert_eq!(seen_prefixes, ["docs/", "photos/"]);
    assert_eq!(seen_keys, ["readme"]);

    let out = s3
        .list_objects_v2()
        .bucket("tree")
        .max_keys(0)
        .send()
        .await
        .unwrap();
    assert!(out.contents().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_v2_pages_2500_keys_in_byte_order_with_continuation_tokens() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    create_bucket(&s3, "many").await;

    // Keys whose byte order differs from naive number or case order.
    let mut keys: Vec<String> = (0..2490).map(|i| format!("p{}/{i}", i % 7)).collect();
    keys.extend(
        ["A", "a", "Z", "_", "a-", "a/", "a0", "é", "z", "~"]
            .iter()
            .map(|s| (*s).to_owned()),
    );
    put_many(&s3, "many", &keys, 32).await;
    let expected: Vec<String> = keys
        .iter()
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(expected.len(), 2500);

    // Default page size (1000 max).
    let mut got = Vec::new();
    let mut token = None;
    let mut pages = 0;
    loop {
        let out = s3
            .list_objects_v2()
            .bucket("many")
            .set_continuation_token(token.clone())
            .send()
            .await
            .unwrap();
        pages += 1;
        assert!(out.contents().len() <= 1000);
        got.extend(keys_of(&out));
        if out.is_truncated() == Some(true) {
            token = Some(out.next_continuation_token().unwrap().to_owned());
        } else {
            break;
        }
    }
    assert_eq!(pages, 3);
    assert!(
        got == expected,
        "paged listing differs from the sorted key set"
    );

    // max-keys above 1000 is capped at 1000.
    let out = s3
        .list_objects_v2()
        .bucket("many")
        .max_keys(5000)
        .send()
        .await
        .unwrap();
    assert_eq!(out.contents().len(), 1000);
    assert_eq!(out.is_truncated(), Some(true));

    // An odd page size.
    let mut got = Vec::new();
    let mut token = None;
    loop {
        let out = s3
            .list_objects_v2()
            .bucket("many")
            .max_keys(333)
            .set_continuation_token(token.clone())
            .send()
            .await
            .unwrap();
        assert!(out.contents().len() <= 333);
        got.extend(keys_of(&out));
        match (out.is_truncated(), out.next_continuation_token()) {
            (Some(true), Some(t)) => token = Some(t.to_owned()),
            _ => break,
        }
    }
    assert!(
        got == expected,
        "333-key pages differ from the sorted key set"
    );
    assert!(list_all_keys(&s3, "many").await == expected);

    // start-after skips everything up to and including the given key.
    let pivot = &expected[1234];
    let out = s3
        .list_objects_v2()
        .bucket("many")
        .start_after(pivot)
        .max_keys(10)
        .send()
        .await
        .unwrap();
    assert_eq!(keys_of(&out), expected[1235..1245].to_vec());
    assert_eq!(out.start_after(), Some(pivot.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_v2_encoding_type_url_and_fetch_owner() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    create_bucket(&s3, "enc").await;
    let special = "dir one/a+b %41 &<>\"'é~.txt";
    put(&s3, "enc", special, b"x").await;

    let out = s3
        .list_objects_v2()
        .bucket("enc")
        .encoding_type(EncodingType::Url)
        .send()
        .await
        .unwrap();
    assert_eq!(out.encoding_type(), Some(&EncodingType::Url));
    let returned = out.contents()[0].key().unwrap().to_owned();
    assert_ne!(returned, special, "key came back unencoded");
    assert!(
        !returned.contains(' ') && !returned.contains('<'),
        "not URL-encoded: {returned:?}"
    );
    // S3 uses form encoding: a space may come back as '+', a '+' as %2B.
    let decoded = percent_encoding::percent_decode_str(&returned.replace('+', " "))
        .decode_utf8()
        .unwrap()
        .into_owned();
    assert_eq!(decoded, special);

    // Without fetch-owner, V2 omits the owner; with it, every entry has one.
    let out = s3.list_objects_v2().bucket("enc").send().await.unwrap();
    assert!(
        out.contents()[0].owner().is_none(),
        "owner without fetch-owner"
    );
    assert_eq!(out.contents()[0].key(), Some(special));
    let out = s3
        .list_objects_v2()
        .bucket("enc")
        .fetch_owner(true)
        .send()
        .await
        .unwrap();
    let owner = out.contents()[0].owner().expect("owner with fetch-owner");
    assert!(owner.id().is_some_and(|id| !id.is_empty()), "{owner:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_v1_marker_and_next_marker_with_delimiter() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    tree_bucket(&s3).await;
    let mut all: Vec<String> = TREE.iter().map(|s| (*s).to_owned()).collect();
    all.sort();

    let out = s3.list_objects().bucket("tree").send().await.unwrap();
    let keys: Vec<String> = out
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect();
    assert_eq!(keys, all);
    assert_eq!(out.is_truncated(), Some(false));

    // Paging without a delimiter: marker = last key of the page.
    let mut got = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let out = s3
            .list_objects()
            .bucket("tree")
            .max_keys(2)
            .set_marker(marker.clone())
            .send()
            .await
            .unwrap();
        let page: Vec<String> = out
            .contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_owned))
            .collect();
        assert!(page.len() <= 2);
        got.extend(page.clone());
        if out.is_truncated() == Some(true) {
            marker = Some(
                out.next_marker()
                    .map_or_else(|| page.last().unwrap().clone(), str::to_owned),
            );
        } else {
            break;
        }
    }
    assert_eq!(got, all);

    // With a delimiter, a truncated page must carry NextMarker.
    let mut keys = Vec::new();
    let mut prefixes = Vec::new();
    let mut marker: Option<String> = None;
    let mut pages = 0;
    loop {
        let out = s3
            .list_objects()
            .bucket("tree")
            .prefix("photos/")
            .delimiter("/")
            .max_keys(1)
            .set_marker(marker.clone())
            .send()
            .await
            .unwrap();
        pages += 1;
        keys.extend(
            out.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned)),
        );
        prefixes.extend(prefixes_of(out.common_prefixes()));
        if out.is_truncated() == Some(true) {
            let next = out
                .next_marker()
                .expect("NextMarker is required when a delimiter is given");
            marker = Some(next.to_owned());
        } else {
            break;
        }
        assert!(pages < 10, "paging does not end");
    }
    assert_eq!(prefixes, ["photos/2024/", "photos/2025/"]);
    assert_eq!(keys, ["photos/top.jpg"]);

    let out = s3
        .list_objects()
        .bucket("tree")
        .marker("photos/2024/b.jpg")
        .send()
        .await
        .unwrap();
    assert_eq!(out.marker(), Some("photos/2024/b.jpg"));
    let keys: Vec<&str> = out.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(
        keys,
        [
            "photos/2024/sub/deep.jpg",
            "photos/2025/c.jpg",
            "photos/top.jpg",
            "readme"
        ]
    );
}
