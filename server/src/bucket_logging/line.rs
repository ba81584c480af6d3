//! One audit record as a line of AWS's server access log format
//! (<https://docs.aws.amazon.com/AmazonS3/latest/userguide/LogFormat.html>): 26
//! space-separated fields, `-` for what the record does not carry.
//!
//! ```text
//! owner bucket [06/Feb/2019:00:00:38 +0000] ip requester request-id REST.GET.OBJECT key
//! "GET /bucket/key HTTP/1.1" status error-code bytes-sent object-size total-ms turn-around-ms
//! "referer" "user-agent" version-id host-id signature-version cipher-suite auth-type host
//! tls-version access-point-arn acl-required
//! ```
//!
//! The trail keeps no request line, headers, TLS details or turn-around time, so those
//! fields are `-` (the request line is rebuilt from the operation). Every unquoted field is
//! one token and no quoted field holds a quote, whatever the record holds, so each line
//! splits the way AWS's parsers expect.

use std::fmt::Write as _;

use coffer_audit::Record;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::config::Utc;

/// What a key keeps unencoded: RFC 3986's unreserved characters and `/`, as in AWS's logs.
const KEY_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

/// What is known of the request's account besides the record.
pub(crate) struct Context<'a> {
    /// The owner of the logged bucket (its canonical id: the principal).
    pub(crate) bucket_owner: &'a str,
    /// The deployment's account id, for requester ARNs.
    pub(crate) account: &'a str,
}

/// The log line of `record` (no newline).
pub(crate) fn format(record: &Record, cx: &Context<'_>) -> String {
    let op = operation(&record.operation);
    let bucket = record.bucket.as_deref().unwrap_or_default();
    let key = record.key.as_deref().map(encode_key);
    let mut uri = format!("{} /{}", op.method, token(bucket));
    if let Some(key) = &key {
        uri.push('/');
        uri.push_str(key);
    }
    if let Some(query) = op.query {
        uri.push('?');
        uri.push_str(query);
    }
    uri.push_str(" HTTP/1.1");
    let requester = record.caller.as_ref().map_or_else(
        || "-".to_owned(),
        |c| {
            if c.user == "root" {
                format!("arn:aws:iam::{}:root", cx.account)
            } else {
                format!("arn:aws:iam::{}:user/{}", cx.account, c.user)
            }
        },
    );
    // AWS gives the object's size; the trail knows it only when a whole object was sent.
    let object_size = (record.operation == "GetObject" && record.status == 200)
        .then_some(record.bytes_out)
        .filter(|n| *n > 0);
    let mut line = String::with_capacity(256);
    let _ = write!(
        line,
        "{owner} {bucket} [{time}] {ip} {requester} {id} {op} {key} \"{uri}\" {status} {error} {sent} {size} {total} - \"-\" \"-\" {version} - {sig} - - - - - -",
        owner = token(cx.bucket_owner),
        bucket = token(bucket),
        time = log_time(record.time_ms),
        ip = token(&record.source),
        requester = token(&requester),
        id = token(&record.request_id),
        op = op.name,
        key = key.as_deref().unwrap_or("-"),
        uri = uri.replace('"', "%22"),
        status = record.status,
        error = token(record.error_code.as_deref().unwrap_or_default()),
        sent = if record.bytes_out == 0 {
            "-".to_owned()
        } else {
            record.bytes_out.to_string()
        },
        size = object_size.map_or_else(|| "-".to_owned(), |n| n.to_string()),
        total = record.duration_us / 1000,
        version = token(record.version_id.as_deref().unwrap_or_default()),
        // Every signed request Coffer serves is SigV4 (SigV2 is refused).
        sig = if record.caller.is_some() {
            "SigV4"
        } else {
            "-"
        },
    );
    line
}

/// `[06/Feb/2019:00:00:38 +0000]`'s inside.
fn log_time(ms: u64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let t = Utc::from_ms(ms);
    let month = MONTHS
        .get(usize::from(t.month.saturating_sub(1)))
        .copied()
        .unwrap_or("Jan");
    format!(
        "{:02}/{month}/{:04}:{:02}:{:02}:{:02} +0000",
        t.day, t.year, t.hour, t.minute, t.second
    )
}

/// An object key as AWS logs it: URL-encoded, `/` kept.
fn encode_key(key: &str) -> String {
    utf8_percent_encode(key, KEY_SET).to_string()
}

/// A field that must stay one token: `-` when empty; spaces, quotes, brackets, `%`,
/// control and non-ASCII characters percent-encoded (record fields are names Coffer checked,
/// but a line that splits wrong is worse than an odd-looking field).
fn token(text: &str) -> String {
    if text.is_empty() {
        return "-".to_owned();
    }
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_graphic() && !matches!(b, b'"' | b'[' | b']' | b'%') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// An operation as AWS logs it.
struct Operation {
    /// `REST.GET.OBJECT`…
    name: String,
    /// The request line's method.
    method: &'static str,
    /// The request line's subresource, if the operation has one.
    query: Option<&'static str>,
}

/// AWS's name of our operation `op` (s3s's names): `REST.<METHOD>.<RESOURCE>`. An operation
/// not in the table keeps a name in the same shape, from its verb and the rest of its name
/// (`GetBucketTagging` → `REST.GET.BUCKET_TAGGING`).
fn operation(op: &str) -> Operation {
    let known = |method, resource: &str, query| Operation {
        name: format!("REST.{method}.{resource}"),
        method,
        query,
    };
    match op {
        "GetObject" => known("GET", "OBJECT", None),
        "HeadObject" => known("HEAD", "OBJECT", None),
        "PutObject" => known("PUT", "OBJECT", None),
        "PostObject" => known("POST", "OBJECT", None),
        // AWS names copies by what they do, not by their method.
        "CopyObject" => Operation {
            name: "REST.COPY.OBJECT".to_owned(),
            method: "PUT",
            query: None,
        },
        "DeleteObject" => known("DELETE", "OBJECT", None),
        "DeleteObjects" => known("POST", "MULTI_OBJECT_DELETE", Some("delete")),
        "ListObjects" | "ListObjectsV2" => known("GET", "BUCKET", None),
        "ListObjectVersions" => known("GET", "BUCKETVERSIONS", Some("versions")),
        "HeadBucket" => known("HEAD", "BUCKET", None),
        "CreateBucket" => known("PUT", "BUCKET", None),
        "DeleteBucket" => known("DELETE", "BUCKET", None),
        "GetBucketLocation" => known("GET", "LOCATION", Some("location")),
        "CreateMultipartUpload" => known("POST", "UPLOADS", Some("uploads")),
        "UploadPart" => known("PUT", "PART", None),
        "UploadPartCopy" => Operation {
            name: "REST.COPY.PART".to_owned(),
            method: "PUT",
            query: None,
        },
        "CompleteMultipartUpload" => known("POST", "UPLOAD", None),
        "AbortMultipartUpload" => known("DELETE", "UPLOAD", None),
        "ListParts" => known("GET", "UPLOAD", None),
        "ListMultipartUploads" => known("GET", "UPLOADS", Some("uploads")),
        "GetBucketAcl" | "GetObjectAcl" => known("GET", "ACL", Some("acl")),
        "PutBucketAcl" | "PutObjectAcl" => known("PUT", "ACL", Some("acl")),
        "GetBucketPolicy" => known("GET", "BUCKETPOLICY", Some("policy")),
        "PutBucketPolicy" => known("PUT", "BUCKETPOLICY", Some("policy")),
        "DeleteBucketPolicy" => known("DELETE", "BUCKETPOLICY", Some("policy")),
        "GetBucketVersioning" => known("GET", "VERSIONING", Some("versioning")),
        "PutBucketVersioning" => known("PUT", "VERSIONING", Some("versioning")),
        "GetBucketLogging" => known("GET", "LOGGING_STATUS", Some("logging")),
        "PutBucketLogging" => known("PUT", "LOGGING_STATUS", Some("logging")),
        "GetObjectLockConfiguration" => {
            known("GET", "OBJECT_LOCK_CONFIGURATION", Some("object-lock"))
        }
        "PutObjectLockConfiguration" => {
            known("PUT", "OBJECT_LOCK_CONFIGURATION", Some("object-lock"))
        }
        "GetObjectRetention" => known("GET", "RETENTION", Some("retention")),
        "PutObjectRetention" => known("PUT", "RETENTION", Some("retention")),
        "GetObjectLegalHold" => known("GET", "LEGAL_HOLD", Some("legal-hold")),
        "PutObjectLegalHold" => known("PUT", "LEGAL_HOLD", Some("legal-hold")),
        other => fallback(other),
    }
}

fn fallback(op: &str) -> Operation {
    let (method, rest) = [
        ("Get", "GET"),
        ("List", "GET"),
        ("Head", "HEAD"),
        ("Put", "PUT"),
        ("Create", "PUT"),
        ("Delete", "DELETE"),
        ("Post", "POST"),
        ("Complete", "POST"),
    ]
    .into_iter()
    .find_map(|(verb, method)| op.strip_prefix(verb).map(|rest| (method, rest)))
    .unwrap_or(("UNKNOWN", op));
    let mut resource = String::new();
    for (i, c) in rest.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            resource.push('_');
        }
        if c.is_ascii_alphanumeric() {
            resource.push(c.to_ascii_uppercase());
        }
    }
    if resource.is_empty() {
        resource.push_str("UNKNOWN");
    }
    Operation {
        name: format!("REST.{method}.{resource}"),
        method: if method == "UNKNOWN" { "GET" } else { method },
        query: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use coffer_audit::{Caller, Phase};

    fn record() -> Record {
        Record {
            phase: Phase::Outcome,
            // 2019-02-06T00:00:38.250Z
            time_ms: 1_549_411_238_250,
            request_id: "3E57427F3EXAMPLE".into(),
            caller: Some(Caller {
                user: "camera".into(),
                access_key: "AKIAEXAMPLE".into(),
            }),
            source: "192.0.2.3".into(),
            operation: "GetObject".into(),
            bucket: Some("photos".into()),
            key: Some("2019/jane doe+\"x\".jpg".into()),
            version_id: None,
            status: 200,
            error_code: None,
            bytes_in: 0,
            bytes_out: 113,
            duration_us: 7_900,
        }
    }

    const CX: Context<'static> = Context {
        bucket_owner: "AIDAOWNER",
        account: "123456789012",
    };

    /// AWS's line, split as its documentation's parsers split it.
    fn fields(line: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut rest = line;
        while !rest.is_empty() {
            let (field, tail) = match rest.as_bytes()[0] {
                b'"' => {
                    let end = rest[1..].find('"').unwrap() + 1;
                    (&rest[1..end], &rest[end + 1..])
                }
                b'[' => {
                    let end = rest.find(']').unwrap();
                    (&rest[1..end], &rest[end + 1..])
                }
                _ => {
                    let end = rest.find(' ').unwrap_or(rest.len());
                    (&rest[..end], &rest[end..])
                }
            };
            out.push(field.to_owned());
            rest = tail.strip_prefix(' ').unwrap_or(tail);
        }
        out
    }

    #[test]
    fn a_get_is_an_aws_line() {
        let line = format(&record(), &CX);
        assert_eq!(
            line,
            "AIDAOWNER photos [06/Feb/2019:00:00:38 +0000] 192.0.2.3 \
             arn:aws:iam::123456789012:user/camera 3E57427F3EXAMPLE REST.GET.OBJECT \
             2019/jane%20doe%2B%22x%22.jpg \"GET /photos/2019/jane%20doe%2B%22x%22.jpg HTTP/1.1\" \
             200 - 113 113 7 - \"-\" \"-\" - - SigV4 - - - - - -"
        );
        assert_eq!(fields(&line).len(), 26, "{line}");
    }

    #[test]
    fn refused_anonymous_and_root_requests() {
        let mut r = record();
        r.caller = None;
        r.operation = "PutObject".into();
        r.status = 403;
        r.error_code = Some("AccessDenied".into());
        r.bytes_out = 243;
        let f = fields(&format(&r, &CX));
        assert_eq!(f.len(), 26);
        assert_eq!(f[4], "-", "anonymous requester");
        assert_eq!(f[6], "REST.PUT.OBJECT");
        assert_eq!(f[9], "403");
        assert_eq!(f[10], "AccessDenied");
        assert_eq!(f[12], "-", "no object size");
        assert_eq!(f[19], "-", "no signature");

        r.caller = Some(Caller {
            user: "root".into(),
            access_key: "AKIAROOT".into(),
        });
        r.operation = "ListObjectsV2".into();
        r.key = None;
        r.version_id = Some("3HL4kqtJlcpXroDTDmjVBH40Nrjfkd".into());
        let f = fields(&format(&r, &CX));
        assert_eq!(f[4], "arn:aws:iam::123456789012:root");
        assert_eq!(f[6], "REST.GET.BUCKET");
        assert_eq!(f[7], "-");
        assert_eq!(f[8], "GET /photos HTTP/1.1");
        assert_eq!(f[17], "3HL4kqtJlcpXroDTDmjVBH40Nrjfkd");
    }

    #[test]
    fn operations_map_to_aws_names_with_a_sane_fallback() {
        for (op, name, method) in [
            ("GetObject", "REST.GET.OBJECT", "GET"),
            ("HeadObject", "REST.HEAD.OBJECT", "HEAD"),
            ("PutObject", "REST.PUT.OBJECT", "PUT"),
            ("CopyObject", "REST.COPY.OBJECT", "PUT"),
            ("DeleteObject", "REST.DELETE.OBJECT", "DELETE"),
            ("ListObjectsV2", "REST.GET.BUCKET", "GET"),
            ("CreateMultipartUpload", "REST.POST.UPLOADS", "POST"),
            ("PutBucketLogging", "REST.PUT.LOGGING_STATUS", "PUT"),
            ("GetBucketTagging", "REST.GET.BUCKET_TAGGING", "GET"),
            ("DeleteBucketCors", "REST.DELETE.BUCKET_CORS", "DELETE"),
            ("Unknown", "REST.UNKNOWN.UNKNOWN", "GET"),
            ("", "REST.UNKNOWN.UNKNOWN", "GET"),
            ("weird op!", "REST.UNKNOWN.WEIRDOP", "GET"),
        ] {
            let o = operation(op);
            assert_eq!((o.name.as_str(), o.method), (name, method), "{op}");
        }
    }

    #[test]
    fn every_field_stays_one_token() {
        let mut r = record();
        r.bucket = Some("a b".into());
        r.request_id = "x\"y] z".into();
        r.source = String::new();
        r.error_code = Some("Bad Code".into());
        r.version_id = Some("v 1".into());
        let line = format(&r, &CX);
        let f = fields(&line);
        assert_eq!(f.len(), 26, "{line}");
        assert_eq!(f[1], "a%20b");
        assert_eq!(f[3], "-");
        assert_eq!(f[5], "x%22y%5D%20z");
        assert!(!line.contains('\n'));
    }
}
