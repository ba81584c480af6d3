//! The screen's decisions, and a property test that its reading of a query agrees with
//! s3s's own (the 136-year presigned link came from the two disagreeing).

use super::*;
use http::{HeaderValue, StatusCode};

/// The server's `--region` in these tests.
const REGION: &str = "us-east-1";
const SIG: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn sigv4(signed: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential=CFKEY/20250101/us-east-1/s3/aws4_request, SignedHeaders={signed}, Signature={SIG}"
    )
}

fn screen_of(method: &str, uri: &str, headers: &[(&str, &str)]) -> Result<AuthForm, Refusal> {
    let method: Method = method.parse().unwrap();
    let uri: Uri = uri.parse().unwrap();
    let mut map = HeaderMap::new();
    for (k, v) in headers {
        map.append(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    screen(&method, &uri, &map, &Limits::default(), REGION)
}

fn signed_headers(auth: &str, extra: &[(&'static str, &'static str)]) -> Vec<(String, String)> {
    let mut h = vec![
        ("authorization".to_owned(), auth.to_owned()),
        ("x-amz-date".to_owned(), "20250101T000000Z".to_owned()),
        (
            "x-amz-content-sha256".to_owned(),
            "UNSIGNED-PAYLOAD".to_owned(),
        ),
    ];
    h.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    h
}

fn header_req(
    method: &str,
    uri: &str,
    auth: &str,
    extra: &[(&'static str, &'static str)],
) -> Result<AuthForm, Refusal> {
    let h = signed_headers(auth, extra);
    let refs: Vec<(&str, &str)> = h.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    screen_of(method, uri, &refs)
}

const DEFAULT_SIGNED: &str = "host;x-amz-content-sha256;x-amz-date";
const PRESIGNED: &str = "/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=CFKEY%2F20250101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20250101T000000Z&X-Amz-SignedHeaders=host&X-Amz-Signature=ff";

#[test]
fn a_signature_for_another_region_is_refused_naming_ours() {
    let auth = sigv4(DEFAULT_SIGNED).replace("/us-east-1/", "/eu-west-3/");
    assert_eq!(
        header_req("GET", "/b/k", &auth, &[]),
        Err(Refusal::header_wrong_region(REGION, "eu-west-3"))
    );
    let presigned =
        format!("{PRESIGNED}&X-Amz-Expires=60").replace("%2Fus-east-1%2F", "%2Feu-west-3%2F");
    let refused = screen_of("GET", &presigned, &[]).unwrap_err();
    assert_eq!(
        refused,
        Refusal::credential_wrong_region(REGION, "eu-west-3")
    );
    assert_eq!(
        refused.message(),
        "Error parsing the X-Amz-Credential parameter; the region 'eu-west-3' is wrong; expecting 'us-east-1'"
    );
    // An empty region is wrong too (s3s would take it for "no region", as for SigV2).
    let empty = sigv4(DEFAULT_SIGNED).replace("/us-east-1/", "//");
    assert!(matches!(
        header_req("GET", "/b/k", &empty, &[]),
        Err(Refusal {
            wrong_region: Some(_),
            ..
        })
    ));
    assert!(check_form_credential("CFKEY/20250101/us-east-1/s3/aws4_request", REGION).is_ok());
    assert_eq!(
        check_form_credential("CFKEY/20250101/eu-west-3/s3/aws4_request", REGION),
        Err(Refusal::credential_wrong_region(REGION, "eu-west-3"))
    );
    // A malformed credential is s3s's to refuse.
    assert!(check_form_credential("nonsense", REGION).is_ok());
}

#[test]
fn ordinary_signed_requests_pass() {
    let r = header_req("GET", "/b/k", &sigv4(DEFAULT_SIGNED), &[]);
    assert!(
        matches!(r, Ok(AuthForm::Header(ref s)) if s.access_key == "CFKEY" && s.region == "us-east-1")
    );
    assert_eq!(screen_of("GET", "/b/k", &[]), Ok(AuthForm::Anonymous));
    assert!(matches!(
        screen_of("GET", &format!("{PRESIGNED}&X-Amz-Expires=60"), &[]),
        Ok(AuthForm::Presigned { expires: 60, .. })
    ));
}

#[test]
fn iam_and_sts_signatures_go_to_the_iam_api_whatever_their_region() {
    // IAM clients sign for us-east-1 (or their configured region) and send no payload hash.
    for (service, want) in [("iam", AdminService::Iam), ("sts", AdminService::Sts)] {
        let auth =
            sigv4("host;x-amz-date").replace("/us-east-1/s3/", &format!("/eu-west-3/{service}/"));
        let headers = [
            ("authorization", auth.as_str()),
            ("x-amz-date", "20250101T000000Z"),
        ];
        match screen_of("POST", "/", &headers) {
            Ok(AuthForm::Admin(AdminAuth::Header(sig))) => {
                assert_eq!(sig.service, want);
                assert_eq!(sig.scope.access_key, "CFKEY");
                assert_eq!(sig.scope.region, "eu-west-3");
                assert_eq!(sig.date, "20250101");
                assert_eq!(sig.signed_headers, "host;x-amz-date");
                assert_eq!(sig.signature, SIG);
            }
            other => panic!("{service}: {other:?}"),
        }
    }
    let presigned = format!("{PRESIGNED}&X-Amz-Expires=60").replace("%2Fs3%2F", "%2Fiam%2F");
    assert_eq!(
        screen_of("GET", &presigned, &[]),
        Ok(AuthForm::Admin(AdminAuth::Presigned))
    );
    // Repeats are refused before the service is looked at.
    let auth = sigv4("host;x-amz-date").replace("/s3/", "/iam/");
    assert_eq!(
        screen_of(
            "POST",
            "/",
            &[("authorization", &auth), ("authorization", &auth)]
        ),
        Err(Refusal::REPEATED_AUTH)
    );
}

#[test]
fn p1_sigv2_is_refused_in_every_spelling() {
    let r = screen_of("GET", "/b/k", &[("authorization", "AWS AKID:c2lnbmF0dXJl")]);
    assert_eq!(r, Err(Refusal::SIGV2));
    assert_eq!(r.unwrap_err().status, StatusCode::FORBIDDEN);
    for q in [
        "/b/k?AWSAccessKeyId=A&Expires=1&Signature=x",
        "/b/k?Signatur%65=x",
        "/b/k?signature=x",
        "/b/k?awsaccesskeyid=x",
    ] {
        assert_eq!(screen_of("GET", q, &[]), Err(Refusal::SIGV2), "{q}");
    }
}

#[test]
fn case_variant_and_repeated_auth_parameters_are_refused() {
    // The reported attack: a lower-case twin carrying the value the guard used to read.
    let twin = format!("{PRESIGNED}&x-amz-expires=60&X-Amz-Expires=4294967295");
    assert_eq!(
        screen_of("GET", &twin, &[]),
        Err(Refusal::CASE_VARIANT_PARAM)
    );
    let twice = format!("{PRESIGNED}&X-Amz-Expires=60&X-Amz-Expires=4294967295");
    assert_eq!(screen_of("GET", &twice, &[]), Err(Refusal::REPEATED_AUTH));
    let encoded = format!("{PRESIGNED}&X-Amz-Expires=60&X-Amz-%45xpires=61");
    assert_eq!(screen_of("GET", &encoded, &[]), Err(Refusal::REPEATED_AUTH));
    let two_checksums = "/b/k?x-amz-checksum-crc32=a&X-Amz-Checksum-Crc32=b";
    assert_eq!(
        screen_of("PUT", two_checksums, &[]),
        Err(Refusal::REPEATED_AMZ_HEADER)
    );
    // Two Authorization headers.
    let auth = sigv4(DEFAULT_SIGNED);
    let r = screen_of(
        "GET",
        "/b/k",
        &[
            ("authorization", &auth),
            ("authorization", &auth),
            ("x-amz-date", "20250101T000000Z"),
            ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
        ],
    );
    assert_eq!(r, Err(Refusal::REPEATED_AUTH));
    // Two x-amz-meta headers of one name.
    let r = header_req(
        "PUT",
        "/b/k",
        &sigv4("host;x-amz-content-sha256;x-amz-date;x-amz-meta-a"),
        &[("x-amz-meta-a", "1"), ("x-amz-meta-a", "2")],
    );
    assert_eq!(r, Err(Refusal::REPEATED_AMZ_HEADER));
}

#[test]
fn the_object_attributes_list_may_come_as_several_lines() {
    // aws-sdk-s3 sends GetObjectAttributes' names one per line; s3s reads every line.
    let r = header_req(
        "GET",
        "/b/k?attributes",
        &sigv4("host;x-amz-content-sha256;x-amz-date;x-amz-object-attributes"),
        &[
            ("x-amz-object-attributes", "ETag"),
            ("x-amz-object-attributes", "ObjectSize"),
        ],
    );
    assert!(r.is_ok(), "{r:?}");
}

#[test]
fn header_and_query_signatures_together_are_refused() {
    // The reported attack: X-Amz-Credential in the query of a header-signed request made the
    // guard check headers against the query's (attacker-chosen) signed list.
    let uri = "/b/k?X-Amz-Credential=x&X-Amz-SignedHeaders=host%3Bx-amz-meta-a";
    let r = header_req("PUT", uri, &sigv4(DEFAULT_SIGNED), &[("x-amz-meta-a", "1")]);
    assert_eq!(r, Err(Refusal::TWO_AUTH_MECHANISMS));
    let both = format!("{PRESIGNED}&X-Amz-Expires=60");
    let r = header_req("GET", &both, &sigv4(DEFAULT_SIGNED), &[]);
    assert_eq!(r, Err(Refusal::TWO_AUTH_MECHANISMS));
    // Part of a presigned URL, with no signature: refused, not anonymous.
    assert_eq!(
        screen_of("GET", "/b/k?X-Amz-Credential=x", &[]),
        Err(Refusal::INCOMPLETE_PRESIGNED)
    );
}

#[test]
fn presigned_expiry_is_capped() {
    let ok = format!("{PRESIGNED}&X-Amz-Expires=604800");
    assert!(screen_of("GET", &ok, &[]).is_ok());
    for bad in ["604801", "-1", "4294967295", "1e3", ""] {
        let uri = format!("{PRESIGNED}&X-Amz-Expires={bad}");
        assert_eq!(screen_of("GET", &uri, &[]), Err(Refusal::EXPIRES), "{bad}");
    }
    assert_eq!(
        screen_of("GET", PRESIGNED, &[]),
        Err(Refusal::INCOMPLETE_PRESIGNED)
    );
    let hour = Limits {
        presigned_max_secs: 3600,
        ..Limits::default()
    };
    let uri: Uri = format!("{PRESIGNED}&X-Amz-Expires=3601").parse().unwrap();
    assert_eq!(
        screen(&Method::GET, &uri, &HeaderMap::new(), &hour, REGION),
        Err(Refusal::EXPIRES)
    );
}

#[test]
fn only_aws4_hmac_sha256_for_s3_is_accepted() {
    for (alg, want) in [
        ("AWS4-HMAC-SHA512", Refusal::UNSUPPORTED_AUTHORIZATION),
        ("AWS4-ECDSA-P256-SHA256", Refusal::SIGV4A),
        ("Bearer", Refusal::UNSUPPORTED_AUTHORIZATION),
    ] {
        let auth = sigv4(DEFAULT_SIGNED).replacen("AWS4-HMAC-SHA256", alg, 1);
        assert_eq!(header_req("GET", "/b/k", &auth, &[]), Err(want), "{alg}");
    }
    let sigv4a = Refusal::SIGV4A;
    assert_eq!(sigv4a.status, StatusCode::NOT_IMPLEMENTED);
    let garbage = header_req("GET", "/b/k", "AWS4-HMAC-SHA256 garbage", &[]);
    assert_eq!(garbage, Err(Refusal::MALFORMED_AUTHORIZATION));
    let ec2 = sigv4(DEFAULT_SIGNED).replace("/s3/", "/ec2/");
    assert_eq!(
        header_req("GET", "/b/k", &ec2, &[]),
        Err(Refusal::WRONG_SERVICE)
    );
    // Presigned: the algorithm parameter too.
    let sha512 = format!("{PRESIGNED}&X-Amz-Expires=60").replace("HMAC-SHA256", "HMAC-SHA512");
    assert_eq!(
        screen_of("GET", &sha512, &[]),
        Err(Refusal::PRESIGNED_ALGORITHM)
    );
}

#[test]
fn header_signatures_need_date_and_payload_hash() {
    let auth = sigv4(DEFAULT_SIGNED);
    let no_date = screen_of(
        "GET",
        "/b/k",
        &[
            ("authorization", &auth),
            ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
        ],
    );
    assert_eq!(no_date, Err(Refusal::NO_DATE));
    assert_eq!(no_date.unwrap_err().status, StatusCode::FORBIDDEN);
    let bad_date = screen_of(
        "GET",
        "/b/k",
        &[
            ("authorization", &auth),
            ("x-amz-date", "yesterday"),
            ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
        ],
    );
    assert_eq!(bad_date, Err(Refusal::NO_DATE));
    let no_sha = screen_of(
        "GET",
        "/b/k",
        &[("authorization", &auth), ("x-amz-date", "20250101T000000Z")],
    );
    assert_eq!(no_sha, Err(Refusal::MISSING_CONTENT_SHA256));
    let bad_sha = screen_of(
        "GET",
        "/b/k",
        &[
            ("authorization", &auth),
            ("x-amz-date", "20250101T000000Z"),
            ("x-amz-content-sha256", "yes"),
        ],
    );
    assert_eq!(bad_sha, Err(Refusal::BAD_CONTENT_SHA256));
}

#[test]
fn p1_unsigned_amz_headers_are_refused() {
    // An unsigned x-amz-copy-source would turn a PUT into a copy (notes §8.0).
    let auth = sigv4(DEFAULT_SIGNED);
    assert_eq!(
        header_req("PUT", "/b/k", &auth, &[("x-amz-copy-source", "/o/s")]),
        Err(Refusal::UNSIGNED_HEADER)
    );
    assert_eq!(
        header_req("PUT", "/b/k", &auth, &[("x-amz-meta-a", "1")]),
        Err(Refusal::UNSIGNED_HEADER)
    );
    assert!(header_req("PUT", "/b/k", &auth, &[("content-type", "a/b")]).is_ok());
    let with_meta = sigv4("host;x-amz-content-sha256;x-amz-date;x-amz-meta-a");
    assert!(header_req("PUT", "/b/k", &with_meta, &[("x-amz-meta-a", "1")]).is_ok());
    // Header auth must sign x-amz-content-sha256; a presigned URL need not.
    let no_sha = sigv4("host;x-amz-date");
    assert_eq!(
        header_req("GET", "/b/k", &no_sha, &[]),
        Err(Refusal::UNSIGNED_HEADER)
    );
    let presigned = format!("{PRESIGNED}&X-Amz-Expires=60");
    assert!(
        screen_of(
            "PUT",
            &presigned,
            &[("x-amz-content-sha256", "UNSIGNED-PAYLOAD")]
        )
        .is_ok()
    );
    assert_eq!(
        screen_of("PUT", &presigned, &[("x-amz-meta-x", "1")]),
        Err(Refusal::UNSIGNED_HEADER)
    );
}

#[test]
fn forms_are_recognised_as_s3s_does() {
    let form = [("content-type", "multipart/form-data; boundary=x")];
    assert_eq!(screen_of("POST", "/b", &form), Ok(AuthForm::Form));
    let upper = [("content-type", "Multipart/Form-Data;boundary=x")];
    assert_eq!(screen_of("POST", "/b", &upper), Ok(AuthForm::Form));
    // A form is signed by its policy; anything else on it is refused.
    let with_auth = [
        ("content-type", "multipart/form-data; boundary=x"),
        ("authorization", "AWS4-HMAC-SHA256 x"),
    ];
    assert_eq!(
        screen_of("POST", "/b", &with_auth),
        Err(Refusal::FORM_EXTRA_AUTH)
    );
    assert_eq!(
        screen_of("POST", "/b?X-Amz-Signature=1", &form),
        Err(Refusal::FORM_EXTRA_AUTH)
    );
    let sigv2 = [
        ("content-type", "multipart/form-data; boundary=x"),
        ("authorization", "AWS a:b"),
    ];
    assert_eq!(screen_of("POST", "/b", &sigv2), Err(Refusal::SIGV2));
}

/// s3s's view of a query, observed through a real s3s service: which access key it asked
/// the secret for (it asks only once it has parsed a whole presigned URL and found it
/// unexpired), or none.
mod s3s_view {
    use std::sync::{Arc, Mutex};

    use s3s::auth::{S3Auth, SecretKey};
    use s3s::service::{S3Service, S3ServiceBuilder};
    use s3s::{S3, S3Result};

    struct NoOps;
    impl S3 for NoOps {}

    #[derive(Clone, Default)]
    pub(super) struct Recorder(pub(super) Arc<Mutex<Vec<String>>>);

    #[async_trait::async_trait]
    impl S3Auth for Recorder {
        async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
            self.0.lock().unwrap().push(access_key.to_owned());
            Ok(SecretKey::from("not-the-secret-0123456789"))
        }
    }

    pub(super) fn service(recorder: Recorder) -> S3Service {
        let mut b = S3ServiceBuilder::new(NoOps);
        b.set_auth(recorder);
        b.build()
    }
}

mod agreement {
    use super::*;
    use proptest::prelude::*;

    /// Name spellings an attacker might mix: exact, lower, upper, percent-encoded.
    fn name_variants(exact: &'static str) -> Vec<String> {
        let enc = format!("{}%{:02X}{}", &exact[..6], exact.as_bytes()[6], &exact[7..]);
        vec![
            exact.to_owned(),
            exact.to_ascii_lowercase(),
            exact.to_ascii_uppercase(),
            enc,
        ]
    }

    fn param() -> impl Strategy<Value = (String, String)> {
        let cred = |ak: &str| format!("{ak}%2F{{day}}%2Fus-east-1%2Fs3%2Faws4_request");
        prop_oneof![
            (
                prop::sample::select(name_variants("X-Amz-Credential")),
                prop::sample::select(vec!["AKA", "AKB"])
            )
                .prop_map(move |(n, ak)| (n, cred(ak))),
            (
                prop::sample::select(name_variants("X-Amz-Expires")),
                prop::sample::select(vec!["30", "600", "4294967295"])
            )
                .prop_map(|(n, v)| (n, v.to_owned())),
            prop::sample::select(name_variants("X-Amz-Signature"))
                .prop_map(|n| (n, "ab".repeat(32))),
            prop::sample::select(name_variants("X-Amz-Algorithm"))
                .prop_map(|n| (n, "AWS4-HMAC-SHA256".to_owned())),
            prop::sample::select(name_variants("X-Amz-Date"))
                .prop_map(|n| (n, "{date}".to_owned())),
            prop::sample::select(name_variants("X-Amz-SignedHeaders"))
                .prop_map(|n| (n, "host".to_owned())),
            Just(("prefix".to_owned(), "a".to_owned())),
        ]
    }

    /// A full, correctly spelled presigned URL, then a shuffle of extra parameters.
    fn query() -> impl Strategy<Value = Vec<(String, String)>> {
        let base = vec![
            ("X-Amz-Algorithm".to_owned(), "AWS4-HMAC-SHA256".to_owned()),
            (
                "X-Amz-Credential".to_owned(),
                "AKA%2F{day}%2Fus-east-1%2Fs3%2Faws4_request".to_owned(),
            ),
            ("X-Amz-Date".to_owned(), "{date}".to_owned()),
            ("X-Amz-Expires".to_owned(), "600".to_owned()),
            ("X-Amz-SignedHeaders".to_owned(), "host".to_owned()),
            ("X-Amz-Signature".to_owned(), "ab".repeat(32)),
        ];
        (
            prop::sample::subsequence(base.clone(), 0..=base.len()),
            prop::collection::vec(param(), 0..4),
        )
            .prop_flat_map(|(mut kept, extra)| {
                kept.extend(extra);
                Just(kept).prop_shuffle()
            })
    }

    /// The guard's reading of `pairs` (signed 100 s ago), and the access keys s3s asked the
    /// secret for when it read the same query.
    fn both_views(pairs: &[(String, String)]) -> (Result<AuthForm, Refusal>, Vec<String>) {
        let then = time::OffsetDateTime::now_utc() - time::Duration::seconds(100);
        let date = format!(
            "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
            then.year(),
            u8::from(then.month()),
            then.day(),
            then.hour(),
            then.minute(),
            then.second()
        );
        let q: Vec<String> = pairs
            .iter()
            .map(|(n, v)| {
                format!(
                    "{n}={}",
                    v.replace("{day}", &date[..8]).replace("{date}", &date)
                )
            })
            .collect();
        let uri = format!("/bucket/key?{}", q.join("&"));
        let ours = screen(
            &Method::GET,
            &uri.parse().unwrap(),
            &HeaderMap::new(),
            &Limits::default(),
            REGION,
        );
        let recorder = s3s_view::Recorder::default();
        let svc = s3s_view::service(recorder.clone());
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let req = http::Request::get(uri.as_str())
            .header("host", "127.0.0.1")
            .body(s3s::Body::empty())
            .unwrap();
        let _ = rt.block_on(svc.call(req));
        let asked = recorder.0.lock().unwrap().clone();
        (ours, asked)
    }

    #[test]
    fn the_s3s_view_sees_a_whole_presigned_url() {
        let pairs: Vec<(String, String)> = [
            ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
            (
                "X-Amz-Credential",
                "AKA%2F{day}%2Fus-east-1%2Fs3%2Faws4_request",
            ),
            ("X-Amz-Date", "{date}"),
            ("X-Amz-Expires", "600"),
            ("X-Amz-SignedHeaders", "host"),
            ("X-Amz-Signature", &"ab".repeat(32)),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        let (ours, asked) = both_views(&pairs);
        assert!(
            matches!(ours, Ok(AuthForm::Presigned { expires: 600, .. })),
            "{ours:?}"
        );
        assert_eq!(asked, vec!["AKA".to_owned()]);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn guard_reads_the_query_as_s3s_does(pairs in query()) {
            let (ours, asked) = both_views(&pairs);
            match ours {
                // s3s asks for the secret only if the Expires it read is at least 100.
                Ok(AuthForm::Presigned { scope, expires }) => {
                    if expires >= 100 {
                        prop_assert_eq!(asked, vec![scope.access_key]);
                    } else {
                        prop_assert!(asked.is_empty());
                    }
                }
                // s3s saw no presigned URL either.
                Ok(AuthForm::Anonymous) => prop_assert!(asked.is_empty()),
                Ok(other) => prop_assert!(false, "unexpected {:?}", other),
                Err(_) => {}
            }
        }
    }
}
