//! Behaviour of `Auth::open`, `secret_for` and `decide` against an in-memory record store.

use std::collections::HashMap;
use std::sync::Mutex;

use zeroize::Zeroizing;

use super::*;
use crate::policy::Policy;

#[derive(Default)]
struct MemStore(Mutex<HashMap<String, Vec<u8>>>);

#[async_trait::async_trait]
impl RecordStore for MemStore {
    async fn get_record(&self, name: &str) -> Result<Option<Zeroizing<Vec<u8>>>, Error> {
        Ok(self
            .0
            .lock()
            .unwrap()
            .get(name)
            .cloned()
            .map(Zeroizing::new))
    }
    async fn put_record(&self, name: &str, value: Zeroizing<Vec<u8>>) -> Result<(), Error> {
        self.0
            .lock()
            .unwrap()
            .insert(name.to_owned(), value.to_vec());
        Ok(())
    }
}

fn provided(ak: &str, sk: &str) -> RootSource {
    RootSource::from_env_values(Some(ak.to_owned()), Some(sk.to_owned())).unwrap()
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

#[test]
fn p8_first_start_generates_once_then_reuses() {
    let store = Arc::new(MemStore::default());
    let (auth, generated) =
        block_on(Auth::open_in(store.clone(), RootSource::StoredOrGenerated)).unwrap();
    let root = generated.expect("first start generates a root");
    let secret = auth.secret_for(&root.access_key).unwrap();
    assert!(secret.ct_eq(&root.secret));

    let (auth2, again) =
        block_on(Auth::open_in(store.clone(), RootSource::StoredOrGenerated)).unwrap();
    assert!(again.is_none(), "the generated root is shown only once");
    assert!(
        auth2
            .secret_for(&root.access_key)
            .unwrap()
            .ct_eq(&root.secret)
    );
}

#[test]
fn record_is_kept_under_the_documented_name() {
    // The record handed to storage is postcard; storage seals it. Here we only check that
    // the crate hands over the record under the documented name.
    let store = Arc::new(MemStore::default());
    let _ = block_on(Auth::open_in(store.clone(), RootSource::StoredOrGenerated)).unwrap();
    assert!(store.0.lock().unwrap().contains_key("auth/credentials"));
}

#[test]
fn provided_root_replaces_a_different_stored_root() {
    let store = Arc::new(MemStore::default());
    let (_, generated) =
        block_on(Auth::open_in(store.clone(), RootSource::StoredOrGenerated)).unwrap();
    let old = generated.unwrap();

    let (auth, generated) = block_on(Auth::open_in(
        store.clone(),
        provided("operator-key", "a-long-enough-secret"),
    ))
    .unwrap();
    assert!(generated.is_none());
    assert!(auth.secret_for(&old.access_key).is_none());
    // Ownership survives the rotation: the principal is the same.
    assert_eq!(auth.principal_of("operator-key").unwrap(), ROOT_PRINCIPAL);
    assert_eq!(
        auth.secret_for("operator-key").unwrap().expose(),
        "a-long-enough-secret"
    );

    // And it persists: the next start without env values uses it.
    let (auth, generated) =
        block_on(Auth::open_in(store.clone(), RootSource::StoredOrGenerated)).unwrap();
    assert!(generated.is_none());
    assert!(auth.secret_for("operator-key").is_some());
}

#[test]
fn same_provided_root_does_not_rewrite() {
    let store = Arc::new(MemStore::default());
    let _ = block_on(Auth::open_in(
        store.clone(),
        provided("operator-key", "a-long-enough-secret"),
    ))
    .unwrap();
    store.0.lock().unwrap().clear();
    // Nothing stored now; opening again with the same values writes it again.
    let _ = block_on(Auth::open_in(
        store.clone(),
        provided("operator-key", "a-long-enough-secret"),
    ))
    .unwrap();
    let before = store.0.lock().unwrap().clone();
    let _ = block_on(Auth::open_in(
        store.clone(),
        provided("operator-key", "a-long-enough-secret"),
    ))
    .unwrap();
    assert_eq!(before, *store.0.lock().unwrap());
}

#[test]
fn corrupt_record_is_an_error() {
    let store = Arc::new(MemStore::default());
    store
        .0
        .lock()
        .unwrap()
        .insert("auth/credentials".to_owned(), vec![9, 9, 9]);
    let err = block_on(Auth::open_in(store.clone(), RootSource::StoredOrGenerated)).unwrap_err();
    assert!(matches!(err, Error::Corrupt));
}

#[test]
fn unknown_access_key_has_no_secret() {
    let store = Arc::new(MemStore::default());
    let (auth, _) = block_on(Auth::open_in(
        store.clone(),
        provided("operator-key", "a-long-enough-secret"),
    ))
    .unwrap();
    assert!(auth.secret_for("someone-else").is_none());
    assert!(auth.secret_for("").is_none());
}

fn opened() -> (Arc<MemStore>, Auth) {
    let store = Arc::new(MemStore::default());
    let (auth, _) = block_on(Auth::open_in(
        store.clone(),
        provided("operator-key", "a-long-enough-secret"),
    ))
    .unwrap();
    (store, auth)
}

#[test]
fn users_get_keys_that_name_them_until_disabled_or_deleted() {
    let (store, auth) = opened();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let alice = rt.block_on(auth.create_user("alice")).unwrap();
    assert!(alice.id.starts_with("AIDA"));
    assert_eq!(
        alice.arn,
        format!("arn:aws:iam::{}:user/alice", auth.account())
    );
    let key = rt.block_on(auth.create_access_key("alice")).unwrap();
    let who = auth.identify(&key.info.access_key).unwrap();
    assert_eq!(who.principal, alice.id);
    assert_eq!(who.name, "alice");
    assert!(!who.is_root);
    assert!(
        auth.secret_for(&key.info.access_key)
            .unwrap()
            .ct_eq(&key.secret)
    );

    // Two keys at most, as in AWS.
    rt.block_on(auth.create_access_key("alice")).unwrap();
    assert!(matches!(
        rt.block_on(auth.create_access_key("alice")),
        Err(Error::LimitExceeded(_))
    ));

    // Inactive: refused exactly like an unknown key; Active again: back.
    rt.block_on(auth.set_access_key_status("alice", &key.info.access_key, KeyStatus::Inactive))
        .unwrap();
    assert!(auth.secret_for(&key.info.access_key).is_none());
    assert!(auth.identify(&key.info.access_key).is_none());
    rt.block_on(auth.set_access_key_status("alice", &key.info.access_key, KeyStatus::Active))
        .unwrap();
    assert!(auth.identify(&key.info.access_key).is_some());

    // Everything survives a restart.
    let (again, _) = rt
        .block_on(Auth::open_in(store.clone(), RootSource::StoredOrGenerated))
        .unwrap();
    assert_eq!(again.account(), auth.account());
    assert_eq!(again.user("ALICE").unwrap(), alice);
    assert_eq!(again.access_keys("alice").unwrap().len(), 2);

    rt.block_on(auth.delete_access_key("alice", &key.info.access_key))
        .unwrap();
    assert!(auth.identify(&key.info.access_key).is_none());
}

#[test]
fn deleting_a_user_needs_its_keys_policies_and_buckets_gone_first() {
    let (_, auth) = opened();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(auth.create_user("scanner")).unwrap();
    assert!(matches!(
        rt.block_on(auth.create_user("Scanner")),
        Err(Error::EntityAlreadyExists(_))
    ));
    let key = rt.block_on(auth.create_access_key("scanner")).unwrap();
    rt.block_on(auth.put_user_policy(
        "scanner",
        "uploads",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:PutObject","Resource":"arn:aws:s3:::photos/*"}]}"#,
    ))
    .unwrap();
    assert_eq!(auth.user_policies("scanner").unwrap(), ["uploads"]);

    assert!(matches!(
        rt.block_on(auth.delete_user("scanner", false)),
        Err(Error::DeleteConflict(_))
    ));
    rt.block_on(auth.delete_access_key("scanner", &key.info.access_key))
        .unwrap();
    assert!(matches!(
        rt.block_on(auth.delete_user("scanner", false)),
        Err(Error::DeleteConflict(_))
    ));
    rt.block_on(auth.delete_user_policy("scanner", "uploads"))
        .unwrap();
    assert!(matches!(
        rt.block_on(auth.delete_user("scanner", true)),
        Err(Error::DeleteConflict(_))
    ));
    rt.block_on(auth.delete_user("scanner", false)).unwrap();
    assert!(matches!(
        auth.user("scanner"),
        Err(Error::NoSuchEntity { what: "user", .. })
    ));
}

#[test]
fn names_iam_refuses_are_refused() {
    let (_, auth) = opened();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    for bad in ["", "has space", "slash/y", &"x".repeat(65), "é"] {
        assert!(
            matches!(rt.block_on(auth.create_user(bad)), Err(Error::Invalid(_))),
            "{bad:?}"
        );
    }
    rt.block_on(auth.create_user("dr.smith+cam@clinic_1=a,b-c"))
        .unwrap();
}

#[test]
fn reset_root_replaces_roots_secret() {
    let (_, auth) = opened();
    assert_eq!(auth.root_access_key(), "operator-key");
    let fresh = block_on(auth.reset_root()).unwrap();
    assert!(auth.secret_for("operator-key").is_none());
    assert!(auth.identify(&fresh.access_key).unwrap().is_root);
    assert_eq!(auth.root_access_key(), fresh.access_key);
}

fn facts() -> RequestFacts {
    RequestFacts {
        source_ip: Some("192.0.2.7".parse().unwrap()),
        secure_transport: false,
        now: std::time::SystemTime::now(),
    }
}

fn s3(
    auth: &Auth,
    who: &Identity,
    action: &str,
    resource: &str,
    bucket: Option<BucketFacts<'_>>,
) -> Decision {
    auth.authorize(&AccessRequest {
        identity: who,
        action,
        resource,
        bucket,
        facts: &facts(),
        context: &policy::ConditionContext::new(),
    })
}

#[test]
fn owners_have_full_control_others_need_the_buckets_policy() {
    let (_, auth) = opened();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    for name in ["alice", "bob"] {
        rt.block_on(auth.create_user(name)).unwrap();
    }
    let alice_key = rt.block_on(auth.create_access_key("alice")).unwrap();
    let bob_key = rt.block_on(auth.create_access_key("bob")).unwrap();
    let alice = auth.identify(&alice_key.info.access_key).unwrap();
    let bob = auth.identify(&bob_key.info.access_key).unwrap();
    let root = auth.identify("operator-key").unwrap();
    let object = "arn:aws:s3:::photos/patients/0042/a.jpg";
    let owned = BucketFacts {
        owner: &alice.principal,
        policy: None,
        acl: &[],
        object_acl: &[],
    };

    assert!(s3(&auth, &alice, "s3:GetObject", object, Some(owned)).is_allowed());
    assert_eq!(
        s3(&auth, &bob, "s3:GetObject", object, Some(owned)),
        Decision::Deny(DenyReason::NotOwner)
    );
    assert!(s3(&auth, &root, "s3:DeleteObject", object, Some(owned)).is_allowed());
    assert!(s3(&auth, &bob, "s3:CreateBucket", "arn:aws:s3:::new", None).is_allowed());

    // An identity policy alone does not reach another user's bucket…
    rt.block_on(auth.put_user_policy(
        "bob",
        "all",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#,
    ))
    .unwrap();
    let bob = auth.identify(&bob_key.info.access_key).unwrap();
    assert!(!s3(&auth, &bob, "s3:GetObject", object, Some(owned)).is_allowed());

    // …the bucket's policy does, for what it names.
    let text = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{}"}},"Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/patients/0042/*"}}]}}"#,
        bob.arn
    );
    let policy = Policy::parse(&text, policy::PolicyKind::Bucket { bucket: "photos" }).unwrap();
    let shared = BucketFacts {
        owner: &alice.principal,
        policy: Some(&policy),
        acl: &[],
        object_acl: &[],
    };
    assert!(s3(&auth, &bob, "s3:GetObject", object, Some(shared)).is_allowed());
    assert!(!s3(&auth, &bob, "s3:PutObject", object, Some(shared)).is_allowed());
    assert!(
        !s3(
            &auth,
            &bob,
            "s3:GetObject",
            "arn:aws:s3:::photos/patients/0043/a.jpg",
            Some(shared)
        )
        .is_allowed()
    );

    // An identity Deny wins even on the user's own bucket.
    rt.block_on(auth.put_user_policy(
        "alice",
        "no-deletes",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:DeleteObject","Resource":"*"}]}"#,
    ))
    .unwrap();
    assert_eq!(
        s3(&auth, &alice, "s3:DeleteObject", object, Some(owned)),
        Decision::Deny(DenyReason::ExplicitDeny)
    );
    assert!(s3(&auth, &alice, "s3:PutObject", object, Some(owned)).is_allowed());
}

#[test]
fn iam_rights_come_from_identity_policies_only() {
    let (_, auth) = opened();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(auth.create_user("admin2")).unwrap();
    let key = rt.block_on(auth.create_access_key("admin2")).unwrap();
    let who = auth.identify(&key.info.access_key).unwrap();
    let target = format!("arn:aws:iam::{}:user/x", auth.account());
    assert_eq!(
        auth.authorize_admin(&who, "iam:CreateUser", &target, &facts()),
        Decision::Deny(DenyReason::NoAllow)
    );
    rt.block_on(auth.put_user_policy(
        "admin2",
        "iam",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:*","Resource":"*"}]}"#,
    ))
    .unwrap();
    assert!(
        auth.authorize_admin(&who, "iam:CreateUser", &target, &facts())
            .is_allowed()
    );
    // A policy that does not parse is refused when put, with IAM's error.
    assert!(matches!(
        rt.block_on(auth.put_user_policy("admin2", "bad", "{")),
        Err(Error::MalformedPolicy(_))
    ));
}

/// alice, bob and root, each with a key, identified.
fn alice_bob_root(auth: &Auth) -> (Identity, Identity, Identity) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut who = Vec::new();
    for name in ["alice", "bob"] {
        rt.block_on(auth.create_user(name)).unwrap();
        let key = rt.block_on(auth.create_access_key(name)).unwrap();
        who.push(auth.identify(&key.info.access_key).unwrap());
    }
    let bob = who.pop().unwrap();
    let alice = who.pop().unwrap();
    (alice, bob, auth.identify("operator-key").unwrap())
}

fn grant(grantee: acl::AclGrantee, permission: acl::AclPermission) -> acl::AclGrant {
    acl::AclGrant {
        grantee,
        permission,
    }
}

fn user(id: &str) -> acl::AclGrantee {
    acl::AclGrantee::CanonicalUser(id.to_owned())
}

#[test]
fn p2_public_acls_are_refused_before_anything_else() {
    use acl::{AclGrantee, AclPermission, AclRefusal, AclTarget};
    let (_, auth) = opened();
    let (alice, bob, _) = alice_bob_root(&auth);
    for canned in ["public-read", "public-read-write", "authenticated-read"] {
        for target in [AclTarget::Bucket, AclTarget::NewBucket, AclTarget::Object] {
            assert_eq!(
                auth.check_acl(target, &alice.principal, Some(canned), &[]),
                Err(AclRefusal::Public),
                "{canned}"
            );
        }
    }
    for uri in [
        "http://acs.amazonaws.com/groups/global/AllUsers",
        "https://acs.amazonaws.com/groups/global/AuthenticatedUsers",
    ] {
        // Even beside an acceptable grant to a real user.
        let grants = [
            grant(user(&bob.principal), AclPermission::Read),
            grant(AclGrantee::Group(uri.to_owned()), AclPermission::Read),
        ];
        assert_eq!(
            auth.check_acl(AclTarget::Bucket, &alice.principal, None, &grants),
            Err(AclRefusal::Public),
            "{uri}"
        );
        assert_eq!(
            acl::refuse_public(AclTarget::Object, None, &grants),
            Err(AclRefusal::Public)
        );
    }
    // Unsupported, refused as before.
    for grantee in [
        AclGrantee::Email("a@example.com".to_owned()),
        AclGrantee::Group("http://acs.amazonaws.com/groups/s3/LogDelivery".to_owned()),
    ] {
        assert_eq!(
            auth.check_acl(
                AclTarget::Bucket,
                &alice.principal,
                None,
                &[grant(grantee, AclPermission::Write)]
            ),
            Err(AclRefusal::Unsupported)
        );
    }
    for canned in ["log-delivery-write", "aws-exec-read", ""] {
        assert_eq!(
            auth.check_acl(AclTarget::Bucket, &alice.principal, Some(canned), &[]),
            Err(AclRefusal::Unsupported),
            "{canned:?}"
        );
    }
    // bucket-owner-full-control means something on objects only.
    assert!(
        auth.check_acl(
            AclTarget::Object,
            &alice.principal,
            Some("bucket-owner-full-control"),
            &[]
        )
        .is_ok()
    );
    assert!(
        auth.check_acl(
            AclTarget::Bucket,
            &alice.principal,
            Some("bucket-owner-full-control"),
            &[]
        )
        .is_err()
    );
}

#[test]
fn acls_may_name_existing_users_on_buckets_only() {
    use acl::{AclPermission, AclRefusal, AclTarget, UserGrant};
    let (_, auth) = opened();
    let (alice, bob, _) = alice_bob_root(&auth);
    // Private, and grants to the owner: nothing to keep.
    assert_eq!(
        auth.check_acl(AclTarget::Bucket, &alice.principal, Some("private"), &[]),
        Ok(Vec::new())
    );
    let owner_only = [grant(user(&alice.principal), AclPermission::FullControl)];
    for target in [AclTarget::Bucket, AclTarget::NewBucket, AclTarget::Object] {
        assert_eq!(
            auth.check_acl(target, &alice.principal, None, &owner_only),
            Ok(Vec::new())
        );
    }
    // Users, by principal: kept, once each.
    let grants = [
        grant(user(&alice.principal), AclPermission::FullControl),
        grant(user(&bob.principal), AclPermission::Read),
        grant(user(&bob.principal), AclPermission::Write),
        grant(user(&bob.principal), AclPermission::Read),
        grant(user(ROOT_PRINCIPAL), AclPermission::ReadAcp),
    ];
    let kept = auth
        .check_acl(AclTarget::Bucket, &alice.principal, None, &grants)
        .unwrap();
    let expected = [
        (bob.principal.as_str(), AclPermission::Read),
        (bob.principal.as_str(), AclPermission::Write),
        (ROOT_PRINCIPAL, AclPermission::ReadAcp),
    ]
    .map(|(p, permission)| UserGrant {
        principal: p.to_owned(),
        permission,
    });
    assert_eq!(kept, expected);
    assert_eq!(
        acl::decode_grants(&acl::encode_grants(&kept).unwrap()).unwrap(),
        kept
    );
    assert!(matches!(acl::decode_grants(b""), Err(Error::Corrupt)));
    // A user's name, or a made-up id, names nobody.
    for id in ["bob", "AIDANOSUCHUSER0000000", ""] {
        assert_eq!(
            auth.check_acl(
                AclTarget::Bucket,
                &alice.principal,
                None,
                &[grant(user(id), AclPermission::Read)]
            ),
            Err(AclRefusal::UnknownUser),
            "{id:?}"
        );
    }
    // New buckets cannot keep them yet.
    assert_eq!(
        auth.check_acl(
            AclTarget::NewBucket,
            &alice.principal,
            None,
            &[grant(user(&bob.principal), AclPermission::Read)]
        ),
        Err(AclRefusal::NotHere(AclTarget::NewBucket))
    );
    // Objects can, except WRITE, which S3 defines for buckets only.
    let on_object = [
        grant(user(&bob.principal), AclPermission::Read),
        grant(user(&alice.principal), AclPermission::FullControl),
    ];
    assert_eq!(
        auth.check_acl(AclTarget::Object, &alice.principal, None, &on_object),
        Ok(vec![UserGrant {
            principal: bob.principal.clone(),
            permission: AclPermission::Read,
        }])
    );
    assert_eq!(
        auth.check_acl(
            AclTarget::Object,
            &alice.principal,
            None,
            &[grant(user(&bob.principal), AclPermission::Write)]
        ),
        Err(AclRefusal::WriteOnObject)
    );
    assert_eq!(
        auth.check_acl(
            AclTarget::Object,
            &alice.principal,
            None,
            &[grant(user("AIDANOSUCHUSER0000000"), AclPermission::Read)]
        ),
        Err(AclRefusal::UnknownUser)
    );
}

#[test]
fn object_acl_grants_let_another_user_reach_that_object_only() {
    use acl::{AclPermission, UserGrant};
    let (_, auth) = opened();
    let (alice, bob, _) = alice_bob_root(&auth);
    let object = "arn:aws:s3:::photos/patients/0042/a.jpg";
    let bucket = "arn:aws:s3:::photos";
    let grants = |permission| {
        vec![UserGrant {
            principal: bob.principal.clone(),
            permission,
        }]
    };
    let cases: [(AclPermission, &[&str]); 4] = [
        (
            AclPermission::Read,
            &["s3:GetObject", "s3:GetObjectAttributes"],
        ),
        (AclPermission::ReadAcp, &["s3:GetObjectAcl"]),
        (AclPermission::WriteAcp, &["s3:PutObjectAcl"]),
        (
            AclPermission::FullControl,
            &[
                "s3:GetObject",
                "s3:GetObjectAttributes",
                "s3:GetObjectAcl",
                "s3:PutObjectAcl",
            ],
        ),
    ];
    let every = [
        "s3:GetObject",
        "s3:GetObjectAttributes",
        "s3:GetObjectAcl",
        "s3:PutObjectAcl",
        "s3:PutObject",
        "s3:DeleteObject",
        "s3:ListBucket",
        "s3:GetBucketAcl",
        "s3:AbortMultipartUpload",
    ];
    for (permission, allowed) in cases {
        let object_acl = grants(permission);
        let facts = BucketFacts {
            owner: &alice.principal,
            policy: None,
            acl: &[],
            object_acl: &object_acl,
        };
        for action in every {
            let resource = if action.contains("Bucket") {
                bucket
            } else {
                object
            };
            assert_eq!(
                s3(&auth, &bob, action, resource, Some(facts)).is_allowed(),
                allowed.contains(&action),
                "{permission:?} {action}"
            );
        }
        // Not someone else's grant.
        let mut carol = bob.clone();
        carol.principal = "AIDACAROL".to_owned();
        assert!(!s3(&auth, &carol, "s3:GetObject", object, Some(facts)).is_allowed());
        assert!(acl::object_acl_applies("s3:GetObject"));
        assert!(!acl::object_acl_applies("s3:PutObject"));
    }
    // Without the object's grants loaded: NotOwner, which is what asks for them.
    let bare = BucketFacts {
        owner: &alice.principal,
        policy: None,
        acl: &[],
        object_acl: &[],
    };
    assert_eq!(
        s3(&auth, &bob, "s3:GetObject", object, Some(bare)),
        Decision::Deny(DenyReason::NotOwner)
    );
    // An explicit Deny still wins over an object grant.
    let text = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Deny","Principal":{{"AWS":"{}"}},"Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*"}}]}}"#,
        bob.arn
    );
    let deny = Policy::parse(&text, policy::PolicyKind::Bucket { bucket: "photos" }).unwrap();
    let object_acl = grants(AclPermission::FullControl);
    let facts = BucketFacts {
        owner: &alice.principal,
        policy: Some(&deny),
        acl: &[],
        object_acl: &object_acl,
    };
    assert_eq!(
        s3(&auth, &bob, "s3:GetObject", object, Some(facts)),
        Decision::Deny(DenyReason::ExplicitDeny)
    );
    assert!(s3(&auth, &bob, "s3:GetObjectAcl", object, Some(facts)).is_allowed());
}

#[test]
fn grant_headers_parse_into_grants() {
    use acl::{AclGrantee, AclPermission, AclRefusal, parse_grant_header};
    assert_eq!(
        AclPermission::of_grant_header("x-amz-grant-read-acp"),
        Some(AclPermission::ReadAcp)
    );
    assert_eq!(AclPermission::of_grant_header("x-amz-acl"), None);
    assert_eq!(
        AclPermission::parse("FULL_CONTROL"),
        Some(AclPermission::FullControl)
    );
    let grants = parse_grant_header(
        r#"id="AIDA1", uri="http://acs.amazonaws.com/groups/global/AllUsers",emailAddress=a@b.c"#,
        AclPermission::Read,
    )
    .unwrap();
    assert_eq!(
        grants.iter().map(|g| g.grantee.clone()).collect::<Vec<_>>(),
        [
            user("AIDA1"),
            AclGrantee::Group("http://acs.amazonaws.com/groups/global/AllUsers".to_owned()),
            AclGrantee::Email("a@b.c".to_owned()),
        ]
    );
    for bad in ["garbage", "", "name=\"x\""] {
        assert_eq!(
            parse_grant_header(bad, AclPermission::Read),
            Err(AclRefusal::Malformed),
            "{bad:?}"
        );
    }
}

#[test]
fn acl_grants_let_another_user_in_as_aws_maps_them() {
    use acl::{AclPermission, UserGrant};
    let (_, auth) = opened();
    let (alice, bob, _) = alice_bob_root(&auth);
    let bucket = "arn:aws:s3:::photos";
    let object = "arn:aws:s3:::photos/patients/0042/a.jpg";
    let grants = |permission| {
        vec![UserGrant {
            principal: bob.principal.clone(),
            permission,
        }]
    };
    let cases: [(AclPermission, &[&str]); 5] = [
        (
            AclPermission::Read,
            &[
                "s3:ListBucket",
                "s3:ListBucketVersions",
                "s3:ListBucketMultipartUploads",
            ],
        ),
        (
            AclPermission::Write,
            &["s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
        ),
        (AclPermission::ReadAcp, &["s3:GetBucketAcl"]),
        (AclPermission::WriteAcp, &["s3:PutBucketAcl"]),
        (
            AclPermission::FullControl,
            &[
                "s3:ListBucket",
                "s3:ListBucketVersions",
                "s3:ListBucketMultipartUploads",
                "s3:PutObject",
                "s3:DeleteObject",
                "s3:AbortMultipartUpload",
                "s3:GetBucketAcl",
                "s3:PutBucketAcl",
            ],
        ),
    ];
    let every = [
        "s3:ListBucket",
        "s3:ListBucketVersions",
        "s3:ListBucketMultipartUploads",
        "s3:PutObject",
        "s3:DeleteObject",
        "s3:AbortMultipartUpload",
        "s3:GetBucketAcl",
        "s3:PutBucketAcl",
        "s3:GetObject",
        "s3:GetBucketPolicy",
        "s3:PutBucketPolicy",
        "s3:DeleteBucket",
        "s3:ListMultipartUploadParts",
    ];
    for (permission, allowed) in cases {
        let acl = grants(permission);
        let facts = BucketFacts {
            owner: &alice.principal,
            policy: None,
            acl: &acl,
            object_acl: &[],
        };
        for action in every {
            let resource = if action.contains("Object") || action.contains("Multipart") {
                object
            } else {
                bucket
            };
            assert_eq!(
                s3(&auth, &bob, action, resource, Some(facts)).is_allowed(),
                allowed.contains(&action),
                "{permission:?} {action}"
            );
        }
        // The grant is bob's: alice's other users get nothing from it.
        let mut carol = bob.clone();
        carol.principal = "AIDACAROL".to_owned();
        assert!(!s3(&auth, &carol, "s3:ListBucket", bucket, Some(facts)).is_allowed());
    }

    // An explicit Deny in the bucket policy still wins over a grant.
    let text = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Deny","Principal":{{"AWS":"{}"}},"Action":"s3:PutObject","Resource":"arn:aws:s3:::photos/*"}}]}}"#,
        bob.arn
    );
    let deny = Policy::parse(&text, policy::PolicyKind::Bucket { bucket: "photos" }).unwrap();
    let acl = grants(AclPermission::FullControl);
    let facts = BucketFacts {
        owner: &alice.principal,
        policy: Some(&deny),
        acl: &acl,
        object_acl: &[],
    };
    assert_eq!(
        s3(&auth, &bob, "s3:PutObject", object, Some(facts)),
        Decision::Deny(DenyReason::ExplicitDeny)
    );
    assert!(s3(&auth, &bob, "s3:DeleteObject", object, Some(facts)).is_allowed());
}
