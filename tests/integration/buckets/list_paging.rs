//! ListBuckets paging (issue 16): `max-buckets`, `continuation-token`, `prefix` and
//! `bucket-region` with the aws SDK and the aws CLI, the opacity of the tokens, and AWS's
//! error for every value it refuses.

use crate::clients::require;
use crate::common::iam_cli::{aws_as, aws_ok};
use crate::common::{TestEnv, assert_s3_err, bucket_names, create_bucket};
/// The caller's bucket names on one ListBuckets page, and its continuation token.
fn page_of(
    out: &aws_sdk_s3::operation::list_buckets::ListBucketsOutput,
) -> (Vec<String>, Option<String>) {
    let names = out
        .buckets()
        .iter()
        .map(|b| b.name().unwrap_or_default().to_owned())
        .collect();
    (names, out.continuation_token().map(str::to_owned))
}

/// Issue 16: ListBuckets pages as AWS does (`max-buckets`, `continuation-token`, `prefix`,
/// `bucket-region`), its tokens say nothing of the names and continue only the listing that
/// gave them, and every out-of-range value gets AWS's error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_buckets_pages_with_opaque_tokens_prefix_and_region() {
    let env = TestEnv::new();
    let server = env.start_ephemeral_with(&["--users", "1"]);
    let s3 = server.client();
    let user = server.user_client(1);
    let ours = ["pg-a", "pg-b", "pg-c", "pg-d", "zz-other"];
    for name in ours {
        create_bucket(&s3, name).await;
    }
    create_bucket(&user, "user-only").await;

    // Pages of two, in name order; a token while more remain, none on the last page.
    let (mut seen, mut token, mut pages) = (Vec::new(), None, 0);
    loop {
        let out = s3
            .list_buckets()
            .max_buckets(2)
            .set_continuation_token(token.clone())
            .send()
            .await
            .unwrap();
        let (names, next) = page_of(&out);
        assert!(names.len() <= 2, "page {names:?}");
        pages += 1;
        seen.extend(names);
        if let Some(t) = &next {
            // Opaque: no bucket name in the token, as text or once decoded.
            let raw = base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, t)
                .unwrap_or_default();
            for name in ours {
                assert!(!t.contains(name), "{name} in token {t}");
                assert!(!raw.windows(name.len()).any(|w| w == name.as_bytes()));
            }
        }
        match next {
            Some(t) => token = Some(t),
            None => break,
        }
    }
    assert_eq!(seen, ours);
    assert_eq!(pages, 3);

    // The SDK's paginator follows the tokens.
    let mut pages = s3.list_buckets().max_buckets(3).into_paginator().send();
    let mut all = Vec::new();
    while let Some(page) = pages.next().await {
        all.extend(page_of(&page.unwrap()).0);
    }
    assert_eq!(all, ours);

    // Prefix: echoed, and paging within it.
    let first = s3
        .list_buckets()
        .prefix("pg-")
        .max_buckets(3)
        .send()
        .await
        .unwrap();
    assert_eq!(first.prefix(), Some("pg-"));
    let (names, next) = page_of(&first);
    assert_eq!(names, ["pg-a", "pg-b", "pg-c"]);
    let rest = s3
        .list_buckets()
        .prefix("pg-")
        .continuation_token(next.clone().expect("more under pg-"))
        .send()
        .await
        .unwrap();
    assert_eq!(page_of(&rest), (vec!["pg-d".to_owned()], None));

    // No paging parameter: every bucket, no token; the server's region: the same.
    let plain = s3.list_buckets().send().await.unwrap();
    assert_eq!(page_of(&plain), (ours.map(str::to_owned).to_vec(), None));
    let here = s3
        .list_buckets()
        .bucket_region(server.region.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(page_of(&here).0, ours);

    // Another user sees only their own, and cannot continue our listing with our token.
    assert_eq!(bucket_names(&user).await, ["user-only"]);
    assert_s3_err(
        user.list_buckets()
            .continuation_token(next.clone().unwrap())
            .send()
            .await,
        400,
        Some("InvalidArgument"),
    );

    // Every value AWS refuses.
    for n in [0, -1, 10_001] {
        assert_s3_err(
            s3.list_buckets().max_buckets(n).send().await,
            400,
            Some("InvalidArgument"),
        );
    }
    let elsewhere = if server.region == "eu-west-3" {
        "us-west-2"
    } else {
        "eu-west-3"
    };
    assert_s3_err(
        s3.list_buckets().bucket_region(elsewhere).send().await,
        400,
        Some("InvalidArgument"),
    );
    let mut altered = next.unwrap();
    let flipped = if altered.ends_with('A') { 'B' } else { 'A' };
    altered.pop();
    altered.push(flipped);
    for bad in ["not-a-token", "", altered.as_str()] {
        assert_s3_err(
            s3.list_buckets().continuation_token(bad).send().await,
            400,
            Some("InvalidArgument"),
        );
    }
}

/// Issue 16: the aws CLI pages ListBuckets by itself (`--page-size`), by hand
/// (`--max-buckets`, `--continuation-token`) and through its own tokens (`--max-items`,
/// `--starting-token`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_cli_pages_list_buckets() {
    if !require("the aws CLI", "aws", &["--version"]) {
        return;
    }
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    let ours = ["cli-a", "cli-b", "cli-c"];
    for name in ours {
        create_bucket(&s3, name).await;
    }
    let names = |out: &serde_json::Value| -> Vec<String> {
        out["Buckets"]
            .as_array()
            .expect("Buckets")
            .iter()
            .map(|b| b["Name"].as_str().expect("Name").to_owned())
            .collect()
    };
    let list = |args: &[&str]| {
        let mut all = vec!["s3api", "list-buckets"];
        all.extend_from_slice(args);
        aws_ok(&env, &server, None, &all)
    };
    // One bucket a request: the CLI follows the tokens to the end.
    assert_eq!(names(&list(&["--page-size", "1"])), ours);
    // By hand: one page, its token, the next page.
    let first = list(&["--max-buckets", "2"]);
    assert_eq!(names(&first), ["cli-a", "cli-b"]);
    let token = first["ContinuationToken"]
        .as_str()
        .expect("a token")
        .to_owned();
    let second = list(&["--max-buckets", "2", "--continuation-token", &token]);
    assert_eq!(names(&second), ["cli-c"]);
    assert!(second.get("ContinuationToken").is_none(), "{second}");
    // The CLI's own paging tokens, with a prefix.
    let first = list(&["--prefix", "cli-", "--max-items", "2", "--page-size", "1"]);
    assert_eq!(names(&first), ["cli-a", "cli-b"]);
    assert_eq!(first["Prefix"], "cli-");
    let next = first["NextToken"].as_str().expect("NextToken").to_owned();
    let rest = list(&["--prefix", "cli-", "--starting-token", &next]);
    assert_eq!(names(&rest), ["cli-c"]);
    let out = aws_as(
        &env,
        &server,
        None,
        &["s3api", "list-buckets", "--max-buckets", "10001"],
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("(InvalidArgument)"),
        "{out:?}"
    );
}
