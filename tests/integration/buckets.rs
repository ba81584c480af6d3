//! Bucket operations with AWS semantics and error codes: create, list, head, location,
//! delete, the naming/ownership/emptiness errors, and the small answers tools ask for
//! (ownership controls, website, acceleration, request payment). ListBuckets paging is in
//! `list_paging`.

mod list_paging;

use aws_sdk_s3::error::ProvideErrorMetadata as _;

use crate::clients::require;
use crate::common::iam_cli::{aws_ok, user_with_key};
use crate::common::{
    TestEnv, assert_s3_err, bucket_names, code_of, create_bucket, put, s3_config, status_of,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bucket_lifecycle_create_list_head_location_delete() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();

    assert!(
        bucket_names(&s3).await.is_empty(),
        "fresh server has no buckets"
    );

    for name in ["alpha-photos", "beta.scans", "0-invoices"] {
        create_bucket(&s3, name).await;
    }
    let mut names = bucket_names(&s3).await;
    names.sort();
    assert_eq!(names, ["0-invoices", "alpha-photos", "beta.scans"]);
    let listed = s3.list_buckets().send().await.unwrap();
    for b in listed.buckets() {
        assert!(
            b.creation_date().is_some(),
            "CreationDate for {:?}",
            b.name()
        );
    }

    s3.head_bucket()
        .bucket("alpha-photos")
        .send()
        .await
        .unwrap();

    let loc = s3
        .get_bucket_location()
        .bucket("alpha-photos")
        .send()
        .await
        .unwrap();
    // us-east-1 is reported as an empty LocationConstraint by AWS; accept the explicit name too.
    let c = loc.location_constraint().map(|c| c.as_str().to_owned());
    assert!(
        matches!(c.as_deref(), None | Some("" | "us-east-1")),
        "location constraint {c:?}"
    );

    s3.delete_bucket()
        .bucket("beta.scans")
        .send()
        .await
        .unwrap();
    let mut names = bucket_names(&s3).await;
    names.sort();
    assert_eq!(names, ["0-invoices", "alpha-photos"]);
    assert_s3_err(
        s3.head_bucket().bucket("beta.scans").send().await,
        404,
        None,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_bucket_names_are_refused_with_invalid_bucket_name() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();

    let too_long = "a".repeat(64);
    let bad = [
        "ab",              // shorter than 3
        too_long.as_str(), // longer than 63
        "Upper-case",      // uppercase
        "under_score",     // underscore
        "-leading-dash",   // must start with letter or digit
        "trailing-dash-",  // must end with letter or digit
        "double..dot",     // adjacent dots
        "192.168.5.4",     // IP-address form
    ];
    for name in bad {
        let res = s3.create_bucket().bucket(name).send().await;
        assert_s3_err(res, 400, Some("InvalidBucketName"));
    }
    assert!(bucket_names(&s3).await.is_empty(), "no bucket was created");

    // Boundaries that are valid.
    let max = "b".repeat(63);
    for name in ["abc", max.as_str(), "a.b-c.d1"] {
        create_bucket(&s3, name).await;
    }
    assert_eq!(bucket_names(&s3).await.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recreating_own_bucket_gives_bucket_already_owned_by_you() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();

    create_bucket(&s3, "mine").await;
    put(&s3, "mine", "keep.txt", b"still here").await;
    let res = s3.create_bucket().bucket("mine").send().await;
    assert_s3_err(res, 409, Some("BucketAlreadyOwnedByYou"));
    // The failed re-create did not reset the bucket.
    assert_eq!(
        crate::common::get(&s3, "mine", "keep.txt").await,
        b"still here"
    );
    assert_eq!(bucket_names(&s3).await, ["mine"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_non_empty_bucket_gives_bucket_not_empty() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();

    create_bucket(&s3, "full").await;
    put(&s3, "full", "a/b/c.jpg", b"x").await;
    let res = s3.delete_bucket().bucket("full").send().await;
    assert_s3_err(res, 409, Some("BucketNotEmpty"));
    assert_eq!(crate::common::get(&s3, "full", "a/b/c.jpg").await, b"x");

    s3.delete_object()
        .bucket("full")
        .key("a/b/c.jpg")
        .send()
        .await
        .unwrap();
    s3.delete_bucket().bucket("full").send().await.unwrap();
    assert!(bucket_names(&s3).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_bucket_gives_no_such_bucket_everywhere() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    let b = "does-not-exist";

    // HEAD has no body, so only the status can say it.
    let head = s3.head_bucket().bucket(b).send().await;
    assert_eq!(status_of(head.as_ref().unwrap_err()), 404);

    assert_s3_err(
        s3.list_objects_v2().bucket(b).send().await,
        404,
        Some("NoSuchBucket"),
    );
    assert_s3_err(
        s3.list_objects().bucket(b).send().await,
        404,
        Some("NoSuchBucket"),
    );
    assert_s3_err(
        s3.delete_bucket().bucket(b).send().await,
        404,
        Some("NoSuchBucket"),
    );
    assert_s3_err(
        s3.get_bucket_location().bucket(b).send().await,
        404,
        Some("NoSuchBucket"),
    );
    assert_s3_err(
        s3.put_object()
            .bucket(b)
            .key("k")
            .body(b"x".to_vec().into())
            .send()
            .await,
        404,
        Some("NoSuchBucket"),
    );
    assert_s3_err(
        s3.get_object().bucket(b).key("k").send().await,
        404,
        Some("NoSuchBucket"),
    );
    assert!(bucket_names(&s3).await.is_empty(), "nothing was created");
}

/// `x-amz-expected-bucket-owner` (issue 19): a client that names the owner it expects gets
/// 403 when the bucket's owner (the id ListBuckets reports) is another, on every operation,
/// copy sources included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expected_bucket_owner_must_be_the_owner() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    create_bucket(&s3, "owned").await;
    put(&s3, "owned", "k", b"scan").await;
    let listed = s3.list_buckets().send().await.expect("ListBuckets");
    let me = listed
        .owner()
        .and_then(|o| o.id())
        .expect("ListBuckets names the owner")
        .to_owned();
    let stranger = "999999999999";

    // The right owner: served.
    s3.head_bucket()
        .bucket("owned")
        .expected_bucket_owner(&me)
        .send()
        .await
        .expect("HeadBucket with the right owner");
    s3.get_object()
        .bucket("owned")
        .key("k")
        .expected_bucket_owner(&me)
        .send()
        .await
        .expect("GetObject with the right owner");

    // Another owner: 403 on reads, writes, lists and deletes, and nothing changes.
    assert_s3_err(
        s3.get_object()
            .bucket("owned")
            .key("k")
            .expected_bucket_owner(stranger)
            .send()
            .await,
        403,
        Some("AccessDenied"),
    );
    assert_s3_err(
        s3.put_object()
            .bucket("owned")
            .key("k")
            .body(b"replaced".to_vec().into())
            .expected_bucket_owner(stranger)
            .send()
            .await,
        403,
        Some("AccessDenied"),
    );
    assert_s3_err(
        s3.list_objects_v2()
            .bucket("owned")
            .expected_bucket_owner(stranger)
            .send()
            .await,
        403,
        Some("AccessDenied"),
    );
    assert_s3_err(
        s3.delete_bucket()
            .bucket("owned")
            .expected_bucket_owner(stranger)
            .send()
            .await,
        403,
        Some("AccessDenied"),
    );
    assert_s3_err(
        s3.copy_object()
            .bucket("owned")
            .key("copy")
            .copy_source("owned/k")
            .expected_source_bucket_owner(stranger)
            .send()
            .await,
        403,
        Some("AccessDenied"),
    );
    assert_eq!(crate::common::get(&s3, "owned", "k").await, b"scan");
    assert_eq!(crate::common::list_all_keys(&s3, "owned").await, ["k"]);
}

/// Default encryption: every bucket reports SSE-S3 (Coffer never stores plaintext); an
/// AES256 configuration is kept and returned, deleting it goes back to the default, and a
/// configuration refused (dual-layer KMS, a foreign key) changes nothing. KMS defaults
/// applied to writes: `sse_kms.rs`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bucket_default_encryption_is_sse_s3_and_refusals_change_nothing() {
    use aws_sdk_s3::types::{
        ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
        ServerSideEncryptionRule,
    };
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    create_bucket(&s3, "scans").await;
    let algorithm =
        |out: &aws_sdk_s3::operation::get_bucket_encryption::GetBucketEncryptionOutput| {
            let rule = &out.server_side_encryption_configuration().unwrap().rules()[0];
            (
                rule.apply_server_side_encryption_by_default()
                    .unwrap()
                    .sse_algorithm()
                    .clone(),
                rule.bucket_key_enabled(),
            )
        };
    let fresh = s3
        .get_bucket_encryption()
        .bucket("scans")
        .send()
        .await
        .unwrap();
    assert_eq!(
        algorithm(&fresh),
        (ServerSideEncryption::Aes256, Some(false))
    );

    let config = |sse: ServerSideEncryption, key: Option<&str>| {
        ServerSideEncryptionConfiguration::builder()
            .rules(
                ServerSideEncryptionRule::builder()
                    .apply_server_side_encryption_by_default(
                        ServerSideEncryptionByDefault::builder()
                            .sse_algorithm(sse)
                            .set_kms_master_key_id(key.map(str::to_owned))
                            .build()
                            .unwrap(),
                    )
                    .bucket_key_enabled(true)
                    .build(),
            )
            .build()
            .unwrap()
    };
    s3.put_bucket_encryption()
        .bucket("scans")
        .server_side_encryption_configuration(config(ServerSideEncryption::Aes256, None))
        .send()
        .await
        .unwrap();
    let set = s3
        .get_bucket_encryption()
        .bucket("scans")
        .send()
        .await
        .unwrap();
    assert_eq!(algorithm(&set), (ServerSideEncryption::Aes256, Some(true)));

    // Dual-layer SSE-KMS is not built; a KMS key of another account is none of ours.
    let dsse = s3
        .put_bucket_encryption()
        .bucket("scans")
        .server_side_encryption_configuration(config(ServerSideEncryption::AwsKmsDsse, None))
        .send()
        .await;
    assert_s3_err(dsse, 501, Some("NotImplemented"));
    let foreign = s3
        .put_bucket_encryption()
        .bucket("scans")
        .server_side_encryption_configuration(config(
            ServerSideEncryption::AwsKms,
            Some("arn:aws:kms:us-east-1:999999999999:key/00000000-0000-4000-8000-000000000000"),
        ))
        .send()
        .await;
    assert_s3_err(foreign, 400, Some("InvalidArgument"));
    // The refused configurations changed nothing.
    let kept = s3
        .get_bucket_encryption()
        .bucket("scans")
        .send()
        .await
        .unwrap();
    assert_eq!(algorithm(&kept), (ServerSideEncryption::Aes256, Some(true)));

    s3.delete_bucket_encryption()
        .bucket("scans")
        .send()
        .await
        .unwrap();
    let back = s3
        .get_bucket_encryption()
        .bucket("scans")
        .send()
        .await
        .unwrap();
    assert_eq!(
        algorithm(&back),
        (ServerSideEncryption::Aes256, Some(false))
    );
    let missing = s3
        .get_bucket_encryption()
        .bucket("no-such-bucket")
        .send()
        .await;
    assert_s3_err(missing, 404, Some("NoSuchBucket"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acceleration_and_request_payment_answer_as_a_plain_aws_bucket() {
    // Sync and backup tools ask both before they start; a plain AWS bucket has no
    // acceleration (an empty configuration) and is paid for by its owner.
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    create_bucket(&s3, "plain").await;
    let accel = s3
        .get_bucket_accelerate_configuration()
        .bucket("plain")
        .send()
        .await
        .expect("accelerate configuration");
    assert!(accel.status().is_none());
    let payment = s3
        .get_bucket_request_payment()
        .bucket("plain")
        .send()
        .await
        .expect("request payment");
    assert_eq!(
        payment.payer(),
        Some(&aws_sdk_s3::types::Payer::BucketOwner)
    );
    assert_s3_err(
        s3.get_bucket_accelerate_configuration()
            .bucket("missing")
            .send()
            .await,
        404,
        Some("NoSuchBucket"),
    );
    assert_s3_err(
        s3.get_bucket_request_payment()
            .bucket("missing")
            .send()
            .await,
        404,
        Some("NoSuchBucket"),
    );
}

/// Issue 16: every bucket is `BucketOwnerEnforced` and says so; setting it again is a no-op,
/// any other setting (on the bucket or at CreateBucket) and removing the controls are refused,
/// and what AWS does not know is `MalformedXML`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ownership_controls_are_bucket_owner_enforced() {
    use aws_sdk_s3::types::{ObjectOwnership, OwnershipControls, OwnershipControlsRule};
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    create_bucket(&s3, "owned").await;
    let rule = |o: ObjectOwnership| {
        OwnershipControlsRule::builder()
            .object_ownership(o)
            .build()
            .unwrap()
    };
    let controls = |rules: Vec<OwnershipControlsRule>| {
        OwnershipControls::builder()
            .set_rules(Some(rules))
            .build()
            .unwrap()
    };
    let get = || async {
        let out = s3
            .get_bucket_ownership_controls()
            .bucket("owned")
            .send()
            .await
            .expect("GetBucketOwnershipControls");
        let rules = out.ownership_controls().unwrap().rules().to_vec();
        assert_eq!(rules, [rule(ObjectOwnership::BucketOwnerEnforced)]);
    };
    get().await;
    let put = |rules: Vec<OwnershipControlsRule>| {
        s3.put_bucket_ownership_controls()
            .bucket("owned")
            .ownership_controls(controls(rules))
            .send()
    };
    put(vec![rule(ObjectOwnership::BucketOwnerEnforced)])
        .await
        .expect("BucketOwnerEnforced again");
    for loosened in [
        ObjectOwnership::ObjectWriter,
        ObjectOwnership::BucketOwnerPreferred,
    ] {
        let err = put(vec![rule(loosened)]).await.unwrap_err();
        assert_eq!(status_of(&err), 403);
        let message = err.as_service_error().and_then(|e| e.message());
        assert!(
            message.is_some_and(|m| m.contains("BucketOwnerEnforced")),
            "{message:?}"
        );
    }
    for malformed in [
        vec![rule(ObjectOwnership::from("Nonsense"))],
        vec![
            rule(ObjectOwnership::BucketOwnerEnforced),
            rule(ObjectOwnership::BucketOwnerEnforced),
        ],
        vec![],
    ] {
        assert_s3_err(put(malformed).await, 400, Some("MalformedXML"));
    }
    assert_s3_err(
        s3.delete_bucket_ownership_controls()
            .bucket("owned")
            .send()
            .await,
        403,
        Some("AccessDenied"),
    );
    get().await;

    // CreateBucket's header: the enforced setting is fine, another refused before creating.
    s3.create_bucket()
        .bucket("enforced")
        .object_ownership(ObjectOwnership::BucketOwnerEnforced)
        .send()
        .await
        .expect("create with BucketOwnerEnforced");
    assert_s3_err(
        s3.create_bucket()
            .bucket("writer-owned")
            .object_ownership(ObjectOwnership::ObjectWriter)
            .send()
            .await,
        403,
        Some("AccessDenied"),
    );
    assert_eq!(bucket_names(&s3).await, ["enforced", "owned"]);

    assert_s3_err(
        s3.get_bucket_ownership_controls()
            .bucket("missing")
            .send()
            .await,
        404,
        Some("NoSuchBucket"),
    );
    assert_s3_err(
        s3.put_bucket_ownership_controls()
            .bucket("missing")
            .ownership_controls(controls(vec![rule(ObjectOwnership::BucketOwnerEnforced)]))
            .send()
            .await,
        404,
        Some("NoSuchBucket"),
    );
}

/// Issue 16: website hosting would mean anonymous reads, so PutBucketWebsite is refused and
/// says why; the reads answer as AWS does for a bucket without a website.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn website_hosting_is_refused_and_reads_answer_as_a_bucket_without_one() {
    use aws_sdk_s3::types::{IndexDocument, WebsiteConfiguration};
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    create_bucket(&s3, "site").await;
    let website = WebsiteConfiguration::builder()
        .index_document(
            IndexDocument::builder()
                .suffix("index.html")
                .build()
                .unwrap(),
        )
        .build();
    let err = s3
        .put_bucket_website()
        .bucket("site")
        .website_configuration(website)
        .send()
        .await
        .unwrap_err();
    assert_eq!(status_of(&err), 403);
    assert_eq!(code_of(&err).as_deref(), Some("AccessDenied"));
    let message = err.as_service_error().and_then(|e| e.message());
    assert!(
        message.is_some_and(|m| m.contains("anonymous reads") && m.contains("websites")),
        "{message:?}"
    );
    assert_s3_err(
        s3.get_bucket_website().bucket("site").send().await,
        404,
        Some("NoSuchWebsiteConfiguration"),
    );
    s3.delete_bucket_website()
        .bucket("site")
        .send()
        .await
        .expect("DeleteBucketWebsite with none to delete");
    assert_s3_err(
        s3.get_bucket_website().bucket("missing").send().await,
        404,
        Some("NoSuchBucket"),
    );
    assert_s3_err(
        s3.delete_bucket_website().bucket("missing").send().await,
        404,
        Some("NoSuchBucket"),
    );
}

/// Issue 16: GetBucketOwnershipControls needs `s3:GetBucketOwnershipControls`, AWS's action
/// for it (it used to be checked as `s3:PutBucketOwnershipControls`): a bucket policy that
/// grants another user that action alone lets it read the controls, not set them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_ownership_controls_needs_the_get_action() {
    use aws_sdk_s3::types::{ObjectOwnership, OwnershipControls, OwnershipControlsRule};
    if !require("the aws CLI", "aws", &["--version"]) {
        return;
    }
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    create_bucket(&s3, "shared").await;
    let (ak, sk) = user_with_key(&env, &server, "reader");
    let me = aws_ok(
        &env,
        &server,
        Some((&ak, &sk)),
        &["sts", "get-caller-identity"],
    );
    let arn = me["Arn"].as_str().expect("Arn");
    s3.put_bucket_policy()
        .bucket("shared")
        .policy(format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{arn}"}},"Action":"s3:GetBucketOwnershipControls","Resource":"arn:aws:s3:::shared"}}]}}"#
        ))
        .send()
        .await
        .expect("bucket policy");
    let reader = aws_sdk_s3::Client::from_conf(
        s3_config(&server.endpoint, &ak, &sk, None)
            .region(aws_sdk_s3::config::Region::new(server.region.clone()))
            .build(),
    );
    reader
        .get_bucket_ownership_controls()
        .bucket("shared")
        .send()
        .await
        .expect("allowed by s3:GetBucketOwnershipControls");
    let rule = OwnershipControlsRule::builder()
        .object_ownership(ObjectOwnership::BucketOwnerEnforced)
        .build()
        .unwrap();
    assert_s3_err(
        reader
            .put_bucket_ownership_controls()
            .bucket("shared")
            .ownership_controls(OwnershipControls::builder().rules(rule).build().unwrap())
            .send()
            .await,
        403,
        Some("AccessDenied"),
    );
}
