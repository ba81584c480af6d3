//! Failed authentication: guessing is slowed down per client address (its failures get 503
//! SlowDown) while valid signatures and other clients are served as usual, and a failure
//! never tells whether the access key exists.

use std::net::IpAddr;
use std::time::Duration;

use crate::common::raw::RawResponse;
use crate::common::{TestEnv, create_bucket, put, signed_get_from};
use crate::public_access::{assert_still_private, snapshot};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_signature_failures_from_one_address_are_slowed_down() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let s3 = server.client();
    create_bucket(&s3, "clinic").await;
    put(&s3, "clinic", "scan.jpg", b"patient scan").await;
    let before = snapshot(&server).await;

    let attacker: IpAddr = "127.0.0.2".parse().unwrap();
    let bystander: IpAddr = "127.0.0.3".parse().unwrap();
    let (ak, sk) = (server.access_key.clone(), server.secret_key.clone());

    let mut statuses = Vec::new();
    for i in 0..40 {
        let guess = format!("guessed-secret-number-{i:04}-xxxxxxxx");
        let resp = signed_get_from(&server, attacker, &ak, &guess, "/clinic/scan.jpg").await;
        statuses.push(resp.status);
        if resp.status == 503 {
            assert_eq!(resp.s3_code().as_deref(), Some("SlowDown"));
            break;
        }
        assert_eq!(resp.status, 403, "guess {i}: {}", resp.text());
    }
    assert_eq!(
        statuses.last(),
        Some(&503),
        "never slowed down: {statuses:?}"
    );
    assert!(statuses.len() > 5, "slowed down too early: {statuses:?}");

    // A valid signature is served even from the slowed address (a clinic behind one NAT
    // keeps working while one tablet is misconfigured)...
    let resp = signed_get_from(&server, attacker, &ak, &sk, "/clinic/scan.jpg").await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    // ...and so is another address, and the SDK on 127.0.0.1.
    let resp = signed_get_from(&server, bystander, &ak, &sk, "/clinic/scan.jpg").await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.body, b"patient scan");
    assert_eq!(snapshot(&server).await, before);
    assert_still_private(&server, "clinic", "scan.jpg").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_login_does_not_reveal_whether_the_access_key_exists() {
    let env = TestEnv::new();
    let server = env.start_ephemeral();
    let source: IpAddr = "127.0.0.1".parse().unwrap();

    let known = signed_get_from(
        &server,
        source,
        &server.access_key,
        "wrong-secret-for-a-known-key-000",
        "/",
    )
    .await;
    let unknown = signed_get_from(
        &server,
        source,
        "CFUNKNOWNACCESSKEY01",
        "wrong-secret-for-a-known-key-000",
        "/",
    )
    .await;
    assert_eq!(known.status, 403);
    assert_eq!(unknown.status, 403);
    assert_eq!(known.s3_code().as_deref(), Some("SignatureDoesNotMatch"));
    assert_eq!(unknown.s3_code().as_deref(), Some("SignatureDoesNotMatch"));
    // Same body apart from the request id.
    let strip = |r: &RawResponse| {
        let t = r.text();
        match (t.find("<RequestId>"), t.find("</RequestId>")) {
            (Some(a), Some(b)) => format!("{}{}", &t[..a], &t[b..]),
            _ => t,
        }
    };
    assert_eq!(strip(&known), strip(&unknown));
    assert!(
        !known.text().contains(&server.access_key) && !unknown.text().contains("CFUNKNOWN"),
        "error bodies echo the access key"
    );

    // Timing: unknown keys are not answered measurably faster (no early exit). Compare
    // medians of a few tries each; a generous bound keeps this stable on a busy machine.
    let mut times = [Vec::new(), Vec::new()];
    for _ in 0..5 {
        for (i, key) in [server.access_key.as_str(), "CFUNKNOWNACCESSKEY01"]
            .into_iter()
            .enumerate()
        {
            let t = std::time::Instant::now();
            let r = signed_get_from(
                &server,
                source,
                key,
                "wrong-secret-for-a-known-key-000",
                "/",
            )
            .await;
            times[i].push(t.elapsed());
            assert!(r.status == 403 || r.status == 503, "{}", r.status);
        }
    }
    for t in &mut times {
        t.sort();
    }
    let (known_t, unknown_t) = (times[0][2], times[1][2]);
    assert!(
        unknown_t + Duration::from_millis(50) >= known_t / 2,
        "unknown key answered much faster: {unknown_t:?} vs {known_t:?}"
    );
}
