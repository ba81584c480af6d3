//! Fuzz-style properties of the request-side parsers Coffer owns: the authentication
//! screen's reading of queries and headers ([`super::auth_params::screen`]) and the form
//! field scanner ([`super::form_fields`]). The server is a binary crate, so cargo-fuzz
//! cannot link these; proptest drives them instead, on arbitrary and adversarial input.
//!
//! Properties: nothing panics; the scanner holds what it was given and no more, does
//! bounded work per byte, and reads the same fields however the body is cut into frames;
//! a well-formed form reads back its own fields; the screen either refuses or gives an
//! answer consistent with the request (a presigned link within the lifetime cap, scopes in
//! our region, anonymous only without any signature).
//!
//! Case counts are small by default, for CI; `PROPTEST_CASES=100000` runs them long (see
//! "Fuzzing" in the README).

use std::fmt::Write as _;

use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use proptest::prelude::*;

use super::auth_params::{AUTH_PARAMS, AuthForm, check_form_credential, screen};
use super::form_fields::{FieldScanner, Scan, boundary};
use crate::limits::Limits;

const REGION: &str = "us-east-1";

/// `cases` by default; `PROPTEST_CASES` when set.
fn config(cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(cases);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ---- form fields ----

/// Boundaries that overlap themselves and the delimiter's own bytes, and arbitrary ones.
fn boundary_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[-a]{1,4}",
        "[-\\r\\n ab]{1,6}",
        "[ -~]{1,70}",
        Just("xyz".to_owned()),
    ]
}

/// Bytes near the grammar: delimiters, header pieces, line ends and arbitrary bytes.
fn form_body(boundary: &str) -> impl Strategy<Value = Vec<u8>> + use<> {
    let piece = prop_oneof![
        Just(format!("--{boundary}\r\n").into_bytes()),
        Just(format!("\r\n--{boundary}\r\n").into_bytes()),
        Just(format!("--{boundary}").into_bytes()),
        Just(b"\r\n".to_vec()),
        Just(b"\r\n\r\n".to_vec()),
        Just(b"Content-Disposition: form-data; name=\"".to_vec()),
        Just(b"\"; filename=\"f\"".to_vec()),
        Just(b"\"\r\n\r\n".to_vec()),
        Just(b"file".to_vec()),
        Just(b"Content-Type: text/plain\r\n".to_vec()),
        "[a-zA-Z-]{0,8}".prop_map(String::into_bytes),
        prop::collection::vec(any::<u8>(), 0..16),
    ];
    prop::collection::vec(piece, 0..24).prop_map(|p| p.concat())
}

/// Cut points: where a body is split into frames.
fn cuts() -> impl Strategy<Value = Vec<prop::sample::Index>> {
    prop::collection::vec(any::<prop::sample::Index>(), 0..12)
}

/// The frames `cuts` makes of `body`, in order (empty frames included).
fn frames<'a>(body: &'a [u8], cuts: &[prop::sample::Index]) -> Vec<&'a [u8]> {
    let mut at: Vec<usize> = cuts.iter().map(|c| c.index(body.len() + 1)).collect();
    at.sort_unstable();
    let mut out = Vec::new();
    let mut from = 0;
    for to in at.into_iter().chain([body.len()]) {
        out.push(&body[from..to]);
        from = to;
    }
    out
}

/// Feeds `frames` until the scanner knows; checks what holds after every push.
fn scan_frames(boundary: &str, frames: &[&[u8]]) -> Scan {
    let mut scanner = FieldScanner::new(boundary);
    let mut pushed = 0;
    let mut last = Scan::NeedMore;
    for (n, frame) in frames.iter().enumerate() {
        pushed += frame.len();
        last = scanner.push(frame);
        // It keeps what it was given (to hand on to s3s), and nothing more.
        assert_eq!(scanner.len(), pushed);
        let held: usize = scanner
            .fields()
            .iter()
            .map(|(k, v)| k.len() + v.len())
            .sum();
        assert!(held <= pushed, "fields hold {held} bytes of {pushed}");
        // Bounded work: each byte looked at a few times, plus a delimiter's length of
        // overlap per push (a search resumes just before the end of the last one).
        let per_push = boundary.len() + 8;
        assert!(
            scanner.examined <= 4 * pushed + (n + 1) * per_push,
            "examined {} bytes for {pushed} in {} pushes",
            scanner.examined,
            n + 1
        );
        if last != Scan::NeedMore {
            break;
        }
    }
    last
}

/// A field name s3s and the scanner both accept.
fn field_name() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9_-]{1,12}".prop_filter("not the file part", |n| !n.eq_ignore_ascii_case("file"))
}

/// Field values with line ends, dashes and boundary look-alikes in them.
fn field_value(boundary: &str) -> impl Strategy<Value = String> + use<> {
    let piece = prop_oneof![
        Just(format!("--{boundary}")),
        Just(format!("\r\n--{boundary}")),
        Just(format!("--{boundary}--")),
        Just("\r\n".to_owned()),
        "[ -~]{0,12}",
        "\\PC{0,4}",
    ];
    prop::collection::vec(piece, 0..6).prop_map(|p| p.concat())
}

fn well_formed() -> impl Strategy<Value = (String, Vec<(String, String)>)> {
    boundary_text().prop_flat_map(|b| {
        let fields = prop::collection::vec((field_name(), field_value(&b)), 0..5);
        (Just(b), fields)
    })
}

/// The form's bytes; `None` if a value holds the delimiter line itself (then the field
/// really does end there, and the form says something else).
fn encode_form(boundary: &str, fields: &[(String, String)], lead: bool) -> Option<Vec<u8>> {
    let delimiter = format!("\r\n--{boundary}\r\n");
    let mut out = String::new();
    if lead {
        out.push_str("\r\n");
    }
    let _ = write!(out, "--{boundary}\r\n");
    for (name, value) in fields {
        let probe = format!("\r\n{value}{delimiter}");
        if probe.find(&delimiter) != Some(2 + value.len()) {
            return None;
        }
        let _ = write!(
            out,
            "Content-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}{delimiter}"
        );
    }
    out.push_str("Content-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\nDATA");
    let _ = write!(out, "\r\n--{boundary}--\r\n");
    Some(out.into_bytes())
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn form_scans_agree_however_the_body_is_cut(
        (b, body) in boundary_text().prop_flat_map(|b| (Just(b.clone()), form_body(&b))),
        cuts in cuts(),
    ) {
        let whole = scan_frames(&b, &[&body]);
        let cut = scan_frames(&b, &frames(&body, &cuts));
        prop_assert_eq!(&cut, &whole);
        let bytewise: Vec<&[u8]> = body.chunks(1).collect();
        prop_assert_eq!(scan_frames(&b, &bytewise), whole);
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_scanner(
        b in boundary_text(),
        body in prop::collection::vec(any::<u8>(), 0..512),
        cuts in cuts(),
    ) {
        let whole = scan_frames(&b, &[&body]);
        prop_assert_eq!(scan_frames(&b, &frames(&body, &cuts)), whole);
    }

    #[test]
    fn a_well_formed_form_reads_back_its_fields(
        (b, fields) in well_formed(),
        lead in any::<bool>(),
        cuts in cuts(),
    ) {
        let Some(body) = encode_form(&b, &fields, lead) else {
            return Ok(());
        };
        let want = || Scan::Fields(
            fields.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.clone())).collect(),
        );
        prop_assert_eq!(scan_frames(&b, &[&body]), want());
        prop_assert_eq!(scan_frames(&b, &frames(&body, &cuts)), want());
    }

    #[test]
    fn content_type_boundaries_are_never_empty(content_type in "\\PC{0,80}|multipart/form-data;[ -~]{0,40}") {
        if let Some(found) = boundary(&content_type) {
            prop_assert!(!found.is_empty());
            prop_assert!(content_type.contains(found));
        }
    }
}

// ---- the authentication screen ----

/// Query pieces: authentication names in every spelling, SigV2 names, odd encodings.
fn query_text() -> impl Strategy<Value = String> {
    let name = prop_oneof![
        prop::sample::select(
            AUTH_PARAMS
                .into_iter()
                .chain([
                    "x-amz-signature",
                    "X-AMZ-EXPIRES",
                    "X-Amz%2DExpires",
                    "Signature",
                    "awsaccesskeyid",
                    "x-amz-meta-a",
                    "prefix",
                    "",
                ])
                .collect::<Vec<_>>()
        )
        .prop_map(str::to_owned),
        "[a-zA-Z%0-9+_.-]{0,10}",
    ];
    let value = prop_oneof![
        Just("AWS4-HMAC-SHA256".to_owned()),
        Just("AWS4-ECDSA-P256-SHA256".to_owned()),
        Just("AK%2F20250101%2Fus-east-1%2Fs3%2Faws4_request".to_owned()),
        Just("AK%2F20250101%2Feu-west-1%2Fs3%2Faws4_request".to_owned()),
        Just("AK%2F20250101%2Fus-east-1%2Fiam%2Faws4_request".to_owned()),
        Just("20250101T000000Z".to_owned()),
        Just("host".to_owned()),
        Just("host%3Bx-amz-meta-a".to_owned()),
        "[0-9]{1,25}",
        "[a-zA-Z%0-9+=_./-]{0,16}",
    ];
    let pair = (name, prop::option::of(value)).prop_map(|(n, v)| match v {
        Some(v) => format!("{n}={v}"),
        None => n,
    });
    prop::collection::vec(pair, 0..12).prop_map(|p| p.join("&"))
}

fn header_pairs() -> impl Strategy<Value = Vec<(String, String)>> {
    let auth = prop_oneof![
        Just(
            "AWS4-HMAC-SHA256 Credential=AK/20250101/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=ff"
                .to_owned()
        ),
        Just("AWS AK:sig".to_owned()),
        Just("AWS4-ECDSA-P256-SHA256 Credential=x".to_owned()),
        "AWS4-HMAC-SHA256 [ -~]{0,60}",
        "[ -~]{0,40}",
    ];
    let pair = prop_oneof![
        auth.prop_map(|v| ("authorization".to_owned(), v)),
        prop::sample::select(vec!["20250101T000000Z", "2025", ""])
            .prop_map(|v| ("x-amz-date".to_owned(), v.to_owned())),
        prop::sample::select(vec![
            "UNSIGNED-PAYLOAD",
            "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD",
            "zz"
        ])
        .prop_map(|v| ("x-amz-content-sha256".to_owned(), v.to_owned())),
        prop::sample::select(vec!["multipart/form-data; boundary=x", "text/plain"])
            .prop_map(|v| ("content-type".to_owned(), v.to_owned())),
        "[ -~]{0,20}".prop_map(|v| ("x-amz-meta-a".to_owned(), v)),
    ];
    prop::collection::vec(pair, 0..6)
}

fn request(query: &str, headers: &[(String, String)]) -> Option<(Uri, HeaderMap)> {
    let uri: Uri = format!("/b/k?{query}").parse().ok()?;
    let mut map = HeaderMap::new();
    for (k, v) in headers {
        map.append(
            HeaderName::from_bytes(k.as_bytes()).ok()?,
            HeaderValue::from_str(v).ok()?,
        );
    }
    Some((uri, map))
}

/// Runs the screen and checks its answer is consistent with the request.
fn screen_consistently(method: &Method, uri: &Uri, headers: &HeaderMap) {
    let limits = Limits::default();
    let result = screen(method, uri, headers, &limits, REGION);
    assert_eq!(screen(method, uri, headers, &limits, REGION), result);
    // The names as s3s reads them: decoded.
    let names: Vec<String> =
        serde_urlencoded::from_str::<Vec<(String, String)>>(uri.query().unwrap_or(""))
            .unwrap_or_default()
            .into_iter()
            .map(|(name, _)| name)
            .collect();
    let signed_query = names.iter().any(|n| n == "X-Amz-Signature");
    match result {
        Ok(AuthForm::Presigned { scope, expires }) => {
            assert!(expires <= limits.presigned_max_secs);
            assert_eq!(scope.region, REGION);
            assert!(signed_query);
            assert!(headers.get("authorization").is_none());
        }
        Ok(AuthForm::Header(scope)) => {
            assert_eq!(scope.region, REGION);
            assert_eq!(headers.get_all("authorization").iter().count(), 1);
        }
        Ok(AuthForm::Form) => assert_eq!(method, Method::POST),
        Ok(AuthForm::Anonymous) => {
            assert!(headers.get("authorization").is_none());
            assert!(
                !names
                    .iter()
                    .any(|n| n.eq_ignore_ascii_case("x-amz-signature"))
            );
        }
        Ok(AuthForm::Admin(_)) | Err(_) => {}
    }
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn the_screen_refuses_or_answers_consistently(
        method in prop::sample::select(vec![Method::GET, Method::PUT, Method::POST]),
        query in query_text(),
        headers in header_pairs(),
    ) {
        if let Some((uri, map)) = request(&query, &headers) {
            screen_consistently(&method, &uri, &map);
        }
    }

    #[test]
    fn arbitrary_query_strings_never_panic_the_screen(query in "[ -~]{0,300}") {
        if let Ok(uri) = format!("/b?{query}").parse::<Uri>() {
            screen_consistently(&Method::GET, &uri, &HeaderMap::new());
        }
    }

    #[test]
    fn form_credentials_never_panic(credential in "\\PC{0,60}|[a-z]{0,4}/[0-9]{8}/[ -~]{0,12}/s3/aws4_request") {
        let _ = check_form_credential(&credential, REGION);
    }
}

#[test]
fn a_huge_query_of_distinct_amz_names_is_screened() {
    // The repeat check compares each `x-amz-*` name with those before it; the URI limit
    // bounds how many there can be. 4,000 distinct names: still an answer, not a hang.
    let query: Vec<String> = (0..4_000).map(|i| format!("x-amz-p{i}=v")).collect();
    let uri: Uri = format!("/b?{}", query.join("&"))
        .parse()
        .expect("a valid uri");
    let started = std::time::Instant::now();
    screen_consistently(&Method::GET, &uri, &HeaderMap::new());
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}
