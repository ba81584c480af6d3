//! Issue 9, part 3: a bucket ACL may grant another Coffer user (named by its principal id,
//! the `Owner/ID` ListBuckets reports) what AWS's ACL permissions mean on a bucket, in the
//! document form and the `x-amz-grant-*` header form; `private` takes it back. An object
//! ACL may grant another user READ, READ_ACP, WRITE_ACP or FULL_CONTROL on that object.
//! Guards against grants that reach further than their permission or their object, object
//! grants that survive an overwrite, a grant to nobody being kept, and P2: the AllUsers
//! group is still refused and the refusal changes nothing.

use aws_sdk_s3::Client;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    AccessControlPolicy, BucketCannedAcl, Grant, Grantee, ObjectCannedAcl, Owner, Permission, Type,
};

use crate::common::{Server, TestEnv, assert_s3_err, contents, create_bucket, put, status_of};
use crate::public_access::assert_still_private;

const ALL_USERS: &str = "http://acs.amazonaws.com/groups/global/AllUsers";

/// The caller's principal id, as ListBuckets reports it.
async fn own_id(s3: &Client) -> String {
    let out = s3.list_buckets().send().await.unwrap();
    out.owner().and_then(|o| o.id()).unwrap().to_owned()
}

async fn seeded() -> (TestEnv, Server, Client, Client) {
    let env = TestEnv::new();
    let server = env.start_ephemeral_with(&["--users", "2"]);
    let (owner, other) = (server.user_client(1), server.user_client(2));
    create_bucket(&owner, "photos").await;
    put(&owner, "photos", "scan.jpg", b"patient 42").await;
    (env, server, owner, other)
}

/// What `s3` (another user) may do in `photos`: list, get, put, get the ACL.
async fn reach(s3: &Client) -> [bool; 4] {
    let served = |status: Option<u16>| match status {
        None => true,
        Some(403) => false,
        Some(other) => panic!("unexpected status {other}"),
    };
    let list = s3.list_objects_v2().bucket("photos").send().await;
    let get = s3
        .get_object()
        .bucket("photos")
        .key("scan.jpg")
        .send()
        .await;
    let put = s3
        .put_object()
        .bucket("photos")
        .key("from-other.txt")
        .body(ByteStream::from_static(b"written by user2"))
        .send()
        .await;
    let acl = s3.get_bucket_acl().bucket("photos").send().await;
    [
        served(list.err().map(|e| status_of(&e))),
        served(get.err().map(|e| status_of(&e))),
        served(put.err().map(|e| status_of(&e))),
        served(acl.err().map(|e| status_of(&e))),
    ]
}

fn user_grant(id: &str, permission: Permission) -> Grant {
    Grant::builder()
        .grantee(
            Grantee::builder()
                .r#type(Type::CanonicalUser)
                .id(id)
                .build()
                .unwrap(),
        )
        .permission(permission)
        .build()
}

fn document(owner_id: &str, grants: Vec<Grant>) -> AccessControlPolicy {
    AccessControlPolicy::builder()
        .owner(Owner::builder().id(owner_id).build())
        .set_grants(Some(grants))
        .build()
}

/// The bucket's grants as its owner reads them: (id, display name, permission).
async fn grants(owner: &Client) -> Vec<(String, String, String)> {
    let acl = owner
        .get_bucket_acl()
        .bucket("photos")
        .send()
        .await
        .unwrap();
    acl.grants()
        .iter()
        .map(|g| {
            let who = g.grantee().unwrap();
            (
                who.id().unwrap_or_default().to_owned(),
                who.display_name().unwrap_or_default().to_owned(),
                g.permission().unwrap().as_str().to_owned(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bucket_acl_grants_another_user_exactly_its_permission() {
    let (_env, _server, owner, other) = seeded().await;
    let owner_id = own_id(&owner).await;
    let other_id = own_id(&other).await;
    assert!(other_id.starts_with("AIDA"), "{other_id}");
    assert_ne!(owner_id, other_id);
    let owner_only = vec![(owner_id.clone(), "user1".to_owned(), "FULL_CONTROL".into())];
    assert_eq!(grants(&owner).await, owner_only);
    assert_eq!(reach(&other).await, [false; 4], "no grant yet");

    // READ, document form: list only.
    owner
        .put_bucket_acl()
        .bucket("photos")
        .access_control_policy(document(
            &owner_id,
            vec![
                user_grant(&owner_id, Permission::FullControl),
                user_grant(&other_id, Permission::Read),
            ],
        ))
        .send()
        .await
        .unwrap();
    let mut with_read = owner_only.clone();
    with_read.push((other_id.clone(), "user2".to_owned(), "READ".into()));
    assert_eq!(grants(&owner).await, with_read);
    assert_eq!(reach(&other).await, [true, false, false, false], "READ");
    other.head_bucket().bucket("photos").send().await.unwrap();

    // Back to private: refused again.
    owner
        .put_bucket_acl()
        .bucket("photos")
        .acl(BucketCannedAcl::Private)
        .send()
        .await
        .unwrap();
    assert_eq!(grants(&owner).await, owner_only);
    assert_eq!(reach(&other).await, [false; 4], "private again");

    // READ, header form: the same.
    owner
        .put_bucket_acl()
        .bucket("photos")
        .grant_read(format!("id=\"{other_id}\""))
        .send()
        .await
        .unwrap();
    assert_eq!(grants(&owner).await, with_read);
    assert_eq!(
        reach(&other).await,
        [true, false, false, false],
        "READ header"
    );

    // WRITE replaces READ: put and delete, but no listing, no reading.
    owner
        .put_bucket_acl()
        .bucket("photos")
        .grant_write(format!("id=\"{other_id}\""))
        .send()
        .await
        .unwrap();
    assert_eq!(reach(&other).await, [false, false, true, false], "WRITE");
    other
        .delete_object()
        .bucket("photos")
        .key("from-other.txt")
        .send()
        .await
        .unwrap();

    // READ_ACP and WRITE_ACP: the ACL itself; WRITE_ACP lets user2 take it back.
    owner
        .put_bucket_acl()
        .bucket("photos")
        .grant_read_acp(format!("id=\"{other_id}\""))
        .grant_write_acp(format!("id=\"{other_id}\""))
        .send()
        .await
        .unwrap();
    assert_eq!(reach(&other).await, [false, false, false, true], "ACP");
    other
        .put_bucket_acl()
        .bucket("photos")
        .acl(BucketCannedAcl::Private)
        .send()
        .await
        .unwrap();
    assert_eq!(grants(&owner).await, owner_only);
    assert_eq!(
        reach(&other).await,
        [false; 4],
        "user2 dropped its own grants"
    );

    // FULL_CONTROL: all of a bucket's ACL permissions — still not GetObject, as on AWS.
    owner
        .put_bucket_acl()
        .bucket("photos")
        .grant_full_control(format!("id=\"{other_id}\""))
        .send()
        .await
        .unwrap();
    assert_eq!(
        reach(&other).await,
        [true, false, true, true],
        "FULL_CONTROL"
    );
    // Objects user2 wrote belong to the bucket owner.
    assert_eq!(
        crate::common::get(&owner, "photos", "from-other.txt").await,
        b"written by user2"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bucket_grants_to_nobody_or_to_everyone_are_refused_and_change_nothing() {
    let (_env, server, owner, other) = seeded().await;
    let owner_id = own_id(&owner).await;
    let other_id = own_id(&other).await;
    owner
        .put_bucket_acl()
        .bucket("photos")
        .grant_read(format!("id=\"{other_id}\""))
        .send()
        .await
        .unwrap();
    let acl_before = grants(&owner).await;
    let before = contents(&owner).await;

    // An id that names no Coffer user (a user name is not an id).
    for id in ["AIDANOSUCHUSER000000", "user2"] {
        assert_s3_err(
            owner
                .put_bucket_acl()
                .bucket("photos")
                .grant_write(format!("id=\"{id}\""))
                .send()
                .await,
            400,
            Some("InvalidArgument"),
        );
        assert_s3_err(
            owner
                .put_bucket_acl()
                .bucket("photos")
                .access_control_policy(document(&owner_id, vec![user_grant(id, Permission::Write)]))
                .send()
                .await,
            400,
            Some("InvalidArgument"),
        );
    }

    // P2: AllUsers, even beside a valid user grant, in both forms.
    let everyone = Grant::builder()
        .grantee(
            Grantee::builder()
                .r#type(Type::Group)
                .uri(ALL_USERS)
                .build()
                .unwrap(),
        )
        .permission(Permission::Read)
        .build();
    let refused = owner
        .put_bucket_acl()
        .bucket("photos")
        .access_control_policy(document(
            &owner_id,
            vec![user_grant(&other_id, Permission::Write), everyone],
        ))
        .send()
        .await
        .unwrap_err();
    assert_eq!(status_of(&refused), 403);
    assert_eq!(refused.code(), Some("AccessDenied"));
    assert_eq!(
        refused.message(),
        Some("public access is disabled in Coffer")
    );
    let refused = owner
        .put_bucket_acl()
        .bucket("photos")
        .grant_write(format!("id=\"{other_id}\""))
        .grant_read(format!("uri=\"{ALL_USERS}\""))
        .send()
        .await
        .unwrap_err();
    assert_eq!(status_of(&refused), 403);
    assert_eq!(refused.code(), Some("AccessDenied"));

    assert_eq!(
        grants(&owner).await,
        acl_before,
        "a refused ACL changed the ACL"
    );
    assert_eq!(
        contents(&owner).await,
        before,
        "a refused request changed data"
    );
    assert_eq!(reach(&other).await, [true, false, false, false]);
    assert_still_private(&server, "photos", "scan.jpg").await;
}

/// Whether `s3` may read `key` in `photos` (GET and HEAD agree).
async fn can_read(s3: &Client, key: &str) -> bool {
    let get = s3.get_object().bucket("photos").key(key).send().await;
    let head = s3.head_object().bucket("photos").key(key).send().await;
    let status = |e: Option<u16>| match e {
        None => true,
        Some(403) => false,
        Some(other) => panic!("unexpected status {other}"),
    };
    let got = status(get.as_ref().err().map(status_of));
    let headed = status(head.err().map(|e| status_of(&e)));
    assert_eq!(got, headed, "GET and HEAD disagree on {key}");
    if got {
        let body = get.unwrap().body.collect().await.unwrap().into_bytes();
        assert!(!body.is_empty());
    }
    got
}

/// The object's grants as `s3` reads them: (id, permission).
async fn object_acl(s3: &Client, key: &str) -> Vec<(String, String)> {
    let acl = s3
        .get_object_acl()
        .bucket("photos")
        .key(key)
        .send()
        .await
        .unwrap();
    acl.grants()
        .iter()
        .map(|g| {
            (
                g.grantee().unwrap().id().unwrap_or_default().to_owned(),
                g.permission().unwrap().as_str().to_owned(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_acl_grants_let_another_user_read_that_object_only() {
    let (_env, server, owner, other) = seeded().await;
    let owner_id = own_id(&owner).await;
    let other_id = own_id(&other).await;
    put(&owner, "photos", "second.jpg", b"patient 43").await;

    // Header form on PutObject: user2 may GET and HEAD it, nothing else.
    owner
        .put_object()
        .bucket("photos")
        .key("shared.jpg")
        .grant_read(format!("id=\"{other_id}\""))
        .body(ByteStream::from_static(b"for user2"))
        .send()
        .await
        .unwrap();
    assert!(can_read(&other, "shared.jpg").await);
    assert!(!can_read(&other, "scan.jpg").await);
    assert!(!can_read(&other, "second.jpg").await);
    assert_eq!(
        reach(&other).await,
        [false; 4],
        "list, get, put, bucket ACL"
    );
    assert_s3_err(
        other
            .get_object_acl()
            .bucket("photos")
            .key("shared.jpg")
            .send()
            .await,
        403,
        Some("AccessDenied"),
    );
    assert_s3_err(
        other
            .put_object()
            .bucket("photos")
            .key("shared.jpg")
            .body(ByteStream::from_static(b"overwrite"))
            .send()
            .await,
        403,
        Some("AccessDenied"),
    );
    assert_eq!(
        object_acl(&owner, "shared.jpg").await,
        [
            (owner_id.clone(), "FULL_CONTROL".to_owned()),
            (other_id.clone(), "READ".to_owned()),
        ]
    );

    // PutObjectAcl, document form, on another object: READ and READ_ACP.
    owner
        .put_object_acl()
        .bucket("photos")
        .key("second.jpg")
        .access_control_policy(document(
            &owner_id,
            vec![
                user_grant(&owner_id, Permission::FullControl),
                user_grant(&other_id, Permission::Read),
                user_grant(&other_id, Permission::ReadAcp),
            ],
        ))
        .send()
        .await
        .unwrap();
    assert!(can_read(&other, "second.jpg").await);
    assert_eq!(object_acl(&other, "second.jpg").await.len(), 3);
    // READ_ACP does not let it change the ACL.
    assert_s3_err(
        other
            .put_object_acl()
            .bucket("photos")
            .key("second.jpg")
            .acl(ObjectCannedAcl::Private)
            .send()
            .await,
        403,
        Some("AccessDenied"),
    );
    // A copy source it may read; the copy itself goes to a bucket it owns, and the copy
    // does not carry the source's grants.
    create_bucket(&other, "mine").await;
    other
        .copy_object()
        .copy_source("photos/second.jpg")
        .bucket("mine")
        .key("copied.jpg")
        .send()
        .await
        .unwrap();
    assert_eq!(
        crate::common::get(&other, "mine", "copied.jpg").await,
        b"patient 43"
    );

    // `private` takes it back.
    owner
        .put_object_acl()
        .bucket("photos")
        .key("second.jpg")
        .acl(ObjectCannedAcl::Private)
        .send()
        .await
        .unwrap();
    assert!(!can_read(&other, "second.jpg").await);
    assert_eq!(object_acl(&owner, "second.jpg").await.len(), 1);

    // WRITE_ACP header form: user2 may replace the ACL, then (with READ) read.
    owner
        .put_object_acl()
        .bucket("photos")
        .key("second.jpg")
        .grant_write_acp(format!("id=\"{other_id}\""))
        .send()
        .await
        .unwrap();
    assert!(!can_read(&other, "second.jpg").await);
    other
        .put_object_acl()
        .bucket("photos")
        .key("second.jpg")
        .grant_full_control(format!("id=\"{other_id}\""))
        .send()
        .await
        .unwrap();
    assert!(can_read(&other, "second.jpg").await);

    // An overwrite by the owner without grants makes the object private again.
    put(&owner, "photos", "shared.jpg", b"new version").await;
    assert!(!can_read(&other, "shared.jpg").await);

    // Multipart: grants given at creation reach the completed object.
    let upload = owner
        .create_multipart_upload()
        .bucket("photos")
        .key("big.bin")
        .grant_read(format!("id=\"{other_id}\""))
        .send()
        .await
        .unwrap();
    let part = owner
        .upload_part()
        .bucket("photos")
        .key("big.bin")
        .upload_id(upload.upload_id().unwrap())
        .part_number(1)
        .body(ByteStream::from_static(b"one part"))
        .send()
        .await
        .unwrap();
    owner
        .complete_multipart_upload()
        .bucket("photos")
        .key("big.bin")
        .upload_id(upload.upload_id().unwrap())
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
    assert!(can_read(&other, "big.bin").await);
    // CopyObject by the owner with a grant header: the copy is readable too.
    owner
        .copy_object()
        .copy_source("photos/scan.jpg")
        .bucket("photos")
        .key("scan-copy.jpg")
        .grant_read(format!("id=\"{other_id}\""))
        .send()
        .await
        .unwrap();
    assert!(can_read(&other, "scan-copy.jpg").await);
    assert!(!can_read(&other, "scan.jpg").await);
    assert_still_private(&server, "photos", "scan.jpg").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_grants_to_nobody_or_to_everyone_are_refused_and_change_nothing() {
    let (_env, server, owner, other) = seeded().await;
    let owner_id = own_id(&owner).await;
    let other_id = own_id(&other).await;
    let before = contents(&owner).await;
    for id in ["AIDANOSUCHUSER000000", "user2"] {
        assert_s3_err(
            owner
                .put_object_acl()
                .bucket("photos")
                .key("scan.jpg")
                .grant_read(format!("id=\"{id}\""))
                .send()
                .await,
            400,
            Some("InvalidArgument"),
        );
        assert_s3_err(
            owner
                .put_object()
                .bucket("photos")
                .key("new.jpg")
                .grant_read(format!("id=\"{id}\""))
                .body(ByteStream::from_static(b"x"))
                .send()
                .await,
            400,
            Some("InvalidArgument"),
        );
    }
    // P2: AllUsers, even beside a valid user grant, on every form.
    let refused = owner
        .put_object_acl()
        .bucket("photos")
        .key("scan.jpg")
        .grant_read(format!("id=\"{other_id}\", uri=\"{ALL_USERS}\""))
        .send()
        .await
        .unwrap_err();
    assert_eq!(status_of(&refused), 403);
    assert_eq!(refused.code(), Some("AccessDenied"));
    let everyone = Grant::builder()
        .grantee(
            Grantee::builder()
                .r#type(Type::Group)
                .uri(ALL_USERS)
                .build()
                .unwrap(),
        )
        .permission(Permission::Read)
        .build();
    assert_s3_err(
        owner
            .put_object_acl()
            .bucket("photos")
            .key("scan.jpg")
            .access_control_policy(document(
                &owner_id,
                vec![user_grant(&other_id, Permission::Read), everyone],
            ))
            .send()
            .await,
        403,
        Some("AccessDenied"),
    );
    assert_s3_err(
        owner
            .put_object()
            .bucket("photos")
            .key("new.jpg")
            .grant_read(format!("id=\"{other_id}\""))
            .acl(ObjectCannedAcl::PublicRead)
            .body(ByteStream::from_static(b"x"))
            .send()
            .await,
        403,
        Some("AccessDenied"),
    );
    assert_eq!(
        contents(&owner).await,
        before,
        "a refused request changed data"
    );
    assert_eq!(object_acl(&owner, "scan.jpg").await.len(), 1);
    assert!(!can_read(&other, "scan.jpg").await);
    assert_still_private(&server, "photos", "scan.jpg").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_upload_grant_field_sets_the_new_objects_grants() {
    let (_env, server, _owner, other) = seeded().await;
    let other_id = own_id(&other).await;
    let root = server.client();
    create_bucket(&root, "forms").await;
    let grant = format!("id={other_id}");
    let fields = crate::common::sign::post_form_v4(
        &server.access_key,
        &server.secret_key,
        "forms",
        &[("x-amz-grant-read", &grant)],
        std::time::SystemTime::now(),
    );
    let body = crate::common::sign::form_body("form.txt", &fields, b"consent form");
    let resp = crate::common::raw::request(
        server.addr,
        "POST",
        "/forms",
        &[("Content-Type", "multipart/form-data; boundary=xyz")],
        &body,
    )
    .await;
    assert!(matches!(resp.status, 200 | 204), "{}", resp.text());
    assert_eq!(
        crate::common::get(&other, "forms", "form.txt").await,
        b"consent form"
    );
    put(&root, "forms", "plain.txt", b"not shared").await;
    assert_s3_err(
        other
            .get_object()
            .bucket("forms")
            .key("plain.txt")
            .send()
            .await,
        403,
        Some("AccessDenied"),
    );
}
