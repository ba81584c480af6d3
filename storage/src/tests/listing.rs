//! Listing against a `BTreeSet` model across ~3000 keys: prefix, delimiter (one and several
//! bytes), `start_after` (also inside a common prefix), `max_keys` (including 0), paging.

use std::collections::BTreeSet;

use super::*;

fn keys() -> BTreeSet<String> {
    let alphabet = ["a", "b", "/", "c", "é", "/", "\0", "."];
    let bytes = body(77, 4600 * 9);
    let mut keys = BTreeSet::new();
    for chunk in bytes.chunks(9) {
        let len = 1 + usize::from(chunk[0]) % 8;
        let key: String = chunk[1..=len]
            .iter()
            .map(|b| alphabet[usize::from(*b) % alphabet.len()])
            .collect();
        keys.insert(key);
    }
    keys.extend(["a//b".to_owned(), "..".to_owned(), "z".to_owned()]);
    keys
}

/// What S3 would return, by brute force.
fn model(keys: &BTreeSet<String>, p: &ListParams) -> (Vec<(bool, String)>, bool) {
    let delimiter = p.delimiter.as_deref().filter(|d| !d.is_empty());
    let mut all: Vec<(bool, String)> = Vec::new();
    for key in keys.iter().filter(|k| k.starts_with(&p.prefix)) {
        let entry = match delimiter.and_then(|d| key[p.prefix.len()..].find(d).map(|at| (at, d))) {
            Some((at, d)) => (true, key[..p.prefix.len() + at + d.len()].to_owned()),
            None => (false, key.clone()),
        };
        if let Some(sa) = &p.start_after
            && entry.1 <= *sa
        {
            continue;
        }
        if all.last() != Some(&entry) {
            all.push(entry);
        }
    }
    let truncated = all.len() > p.max_keys;
    all.truncate(p.max_keys);
    (all, truncated)
}

fn flatten(page: &ListPage) -> Vec<(bool, String)> {
    page.entries
        .iter()
        .map(|e| (matches!(e, ListEntry::CommonPrefix(_)), e.key().to_owned()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_matches_model() {
    let (_dir, store) = ephemeral().await;
    let bucket = store.create_bucket("b", "o").await.unwrap();
    let other = store.create_bucket("other", "o").await.unwrap();
    let keys = keys();
    assert!((2800..4000).contains(&keys.len()), "{}", keys.len());

    // Zero-length objects, committed concurrently (group commit keeps this fast).
    let mut tasks = tokio::task::JoinSet::new();
    for key in keys.clone() {
        let (store, bucket) = (store.clone(), bucket.clone());
        tasks.spawn(async move {
            let staged = store
                .object_writer(&bucket)
                .await
                .unwrap()
                .finish()
                .await
                .unwrap();
            store
                .commit_object(&bucket, &key, staged, ObjectMeta::default())
                .await
                .unwrap();
        });
    }
    tasks.join_all().await;
    // Another bucket's keys must never leak into this one's listing.
    put(&store, &other, "a", b"x", 1).await;

    let prefixes = ["", "a", "a/", "b/", "é", "/", "a/b/", "zz"];
    let delimiters = [None, Some("/"), Some("//"), Some("a"), Some("")];
    let starts = [
        None,
        Some(""),
        Some("a"),
        Some("a/"),
        Some("a/b"),
        Some("b/c/"),
        Some("/a"),
        Some("é/"),
    ];
    let maxes = [0, 1, 5, 100, 5000];
    let mut checked = 0;
    for prefix in prefixes {
        for delimiter in delimiters {
            for start_after in starts {
                for max_keys in maxes {
                    let params = ListParams {
                        prefix: prefix.to_owned(),
                        delimiter: delimiter.map(str::to_owned),
                        start_after: start_after.map(str::to_owned),
                        max_keys,
                    };
                    let page = store.list_objects(&bucket, params.clone()).await.unwrap();
                    let (want, truncated) = model(&keys, &params);
                    assert_eq!(flatten(&page), want, "{params:?}");
                    assert_eq!(page.is_truncated, truncated, "{params:?}");
                    assert_eq!(page.last, want.last().map(|e| e.1.clone()), "{params:?}");
                    checked += 1;
                }
            }
        }
    }
    assert_eq!(checked, 8 * 5 * 8 * 5);

    // Paging with `last` as start_after walks the whole listing exactly once.
    for (prefix, delimiter) in [
        ("", None),
        ("", Some("/")),
        ("a", Some("/")),
        ("b", Some("//")),
    ] {
        let full = ListParams {
            prefix: prefix.into(),
            delimiter: delimiter.map(Into::into),
            start_after: None,
            max_keys: usize::MAX,
        };
        let (want, _) = model(&keys, &full);
        let mut got = Vec::new();
        let mut start_after = None;
        loop {
            let page = store
                .list_objects(
                    &bucket,
                    ListParams {
                        start_after: start_after.clone(),
                        max_keys: 37,
                        ..full.clone()
                    },
                )
                .await
                .unwrap();
            got.extend(flatten(&page));
            if !page.is_truncated {
                break;
            }
            start_after = page.last;
        }
        assert_eq!(got, want);
    }

    let summary = store
        .list_objects(
            &other,
            ListParams {
                max_keys: 10,
                ..ListParams::default()
            },
        )
        .await
        .unwrap();
    match &summary.entries[..] {
        [ListEntry::Object(o)] => {
            assert_eq!((o.key.as_str(), o.size), ("a", 1));
            assert_eq!(o.etag, hex::encode(<md5::Md5 as md5::Digest>::digest(b"x")));
        }
        other => panic!("{other:?}"),
    }
}
