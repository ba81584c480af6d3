//! Issue 9, part 3: a bucket ACL may grant another Coffer user (named by its principal id,
//! the `Owner/ID` ListBuckets reports) what AWS's ACL permissions mean on a bucket, in the
//! document form and the `x-amz-grant-*` header form; `private` takes it back. Guards
//! against grants that reach further than their permission, a grant to nobody being kept,
//! and P2: the AllUsers group is still refused and the refusal changes nothing.

use aws_sdk_s3::Client;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    AccessControlPolicy, BucketCannedAcl, Grant, Grantee, Owner, Permission, Type,
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
async fn grants_to_nobody_to_everyone_or_on_objects_are_refused_and_change_nothing() {
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

    // Object ACLs naming another user: not yet, in any form.
    assert_s3_err(
        owner
            .put_object_acl()
            .bucket("photos")
            .key("scan.jpg")
            .grant_read(format!("id=\"{other_id}\""))
            .send()
            .await,
        501,
        Some("NotImplemented"),
    );
    assert_s3_err(
        owner
            .put_object()
            .bucket("photos")
            .key("shared.jpg")
            .grant_read(format!("id=\"{other_id}\""))
            .body(ByteStream::from_static(b"shared"))
            .send()
            .await,
        501,
        Some("NotImplemented"),
    );

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
