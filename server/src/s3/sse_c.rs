//! SSE-C request headers: the one place they are parsed and checked.
//!
//! AWS's rules (S3 user guide, "Specifying server-side encryption with customer-provided
//! keys"; error texts as AWS returns them, as MinIO's cmd/api-errors.go and Ceph RGW's
//! rgw_crypt.cc reproduce them, all 400 InvalidArgument except plain HTTP):
//! the algorithm must be `AES256`, the key base64 of exactly 32 bytes, and the key MD5 the
//! base64 MD5 of those bytes; all three come together. SSE-C over plain HTTP is refused
//! (AWS requires HTTPS); Coffer allows it on loopback, where plain HTTP is its test mode.
//!
//! The key never leaves a [`CustomerKey`] (zeroized, redacted `Debug`), is never logged,
//! and never goes into an error message.

use base64::Engine as _;
use coffer_storage::{CustomerKey, ExternalKey};
use md5::{Digest as _, Md5};
use s3s::dto::SSECustomerAlgorithm;
use s3s::{S3Result, s3_error};
use zeroize::Zeroizing;

use crate::client::Client;

const AES256: &str = "AES256";

/// A checked SSE-C key and what responses echo about it.
pub(crate) struct SseC {
    /// Always [`ExternalKey::Customer`].
    pub(crate) key: ExternalKey,
    /// Base64 MD5 of the key, echoed as `x-amz-server-side-encryption-customer-key-MD5`.
    pub(crate) key_md5: String,
}

impl SseC {
    /// The algorithm header responses echo.
    pub(crate) fn algorithm() -> SSECustomerAlgorithm {
        AES256.to_owned()
    }
}

/// The three SSE-C headers of a request (or the copy-source ones).
#[derive(Clone, Copy)]
pub(crate) struct Headers<'a> {
    pub(crate) algorithm: Option<&'a str>,
    pub(crate) key: Option<&'a str>,
    pub(crate) key_md5: Option<&'a str>,
}

/// The [`Headers`] of an s3s input with the usual SSE-C fields.
macro_rules! headers_of {
    ($input:expr) => {
        $crate::s3::sse_c::Headers {
            algorithm: $input.sse_customer_algorithm.as_deref(),
            key: $input.sse_customer_key.as_deref(),
            key_md5: $input.sse_customer_key_md5.as_deref(),
        }
    };
}
pub(crate) use headers_of;

/// The copy-source [`Headers`] (`x-amz-copy-source-server-side-encryption-customer-*`).
macro_rules! copy_source_headers_of {
    ($input:expr) => {
        $crate::s3::sse_c::Headers {
            algorithm: $input.copy_source_sse_customer_algorithm.as_deref(),
            key: $input.copy_source_sse_customer_key.as_deref(),
            key_md5: $input.copy_source_sse_customer_key_md5.as_deref(),
        }
    };
}
pub(crate) use copy_source_headers_of;

/// Checks a request's SSE-C headers; `None` when it has none.
///
/// # Errors
/// `InvalidArgument` (AWS's texts) for a bad or partial set of headers, `InvalidRequest`
/// for SSE-C over plain HTTP beyond loopback.
pub(crate) fn parse(headers: &Headers<'_>, client: Option<&Client>) -> S3Result<Option<SseC>> {
    if headers.algorithm.is_none() && headers.key.is_none() && headers.key_md5.is_none() {
        return Ok(None);
    }
    // A client without a known connection is treated as remote plain HTTP: refused.
    if !client.is_some_and(|c| c.tls || c.peer.is_loopback()) {
        return Err(s3_error!(
            InvalidRequest,
            "Requests specifying Server Side Encryption with Customer provided keys must be made over a secure connection."
        ));
    }
    if headers.algorithm != Some(AES256) {
        return Err(s3_error!(
            InvalidArgument,
            "Requests specifying Server Side Encryption with Customer provided keys must provide a valid encryption algorithm."
        ));
    }
    let Some(text) = headers.key else {
        return Err(s3_error!(
            InvalidArgument,
            "Requests specifying Server Side Encryption with Customer provided keys must provide an appropriate secret key."
        ));
    };
    let decoded = Zeroizing::new(
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .unwrap_or_default(),
    );
    let mut bytes = Zeroizing::new([0u8; 32]);
    if decoded.len() != bytes.len() {
        return Err(s3_error!(
            InvalidArgument,
            "The secret key was invalid for the specified algorithm."
        ));
    }
    bytes.copy_from_slice(&decoded);
    let Some(given_md5) = headers.key_md5 else {
        return Err(s3_error!(
            InvalidArgument,
            "Requests specifying Server Side Encryption with Customer provided keys must provide the client calculated MD5 of the secret key."
        ));
    };
    let key_md5 = base64::engine::general_purpose::STANDARD.encode(Md5::digest(*bytes));
    if given_md5 != key_md5 {
        return Err(s3_error!(
            InvalidArgument,
            "The calculated MD5 hash of the key did not match the hash that was provided."
        ));
    }
    Ok(Some(SseC {
        key: ExternalKey::Customer(CustomerKey::from_bytes(bytes)),
        key_md5,
    }))
}

/// Checks a write's SSE-C headers, which may not come with `x-amz-server-side-encryption`.
///
/// # Errors
/// As [`parse`]; `InvalidArgument` for both kinds of encryption at once.
pub(crate) fn parse_write(
    headers: &Headers<'_>,
    sse: Option<&s3s::dto::ServerSideEncryption>,
    client: Option<&Client>,
) -> S3Result<Option<SseC>> {
    let parsed = parse(headers, client)?;
    if parsed.is_some() && sse.is_some() {
        return Err(s3_error!(
            InvalidArgument,
            "Server Side Encryption with Customer provided key is incompatible with the encryption method specified"
        ));
    }
    Ok(parsed)
}

/// Whether a part request brings a key exactly when its upload was created with one.
///
/// # Errors
/// `CustomerKeyRequired` / `CustomerKeyNotApplicable`; whether the key is the upload's
/// is checked by storage when the part is committed.
pub(crate) fn matches_upload(
    upload: coffer_storage::Encryption,
    customer: Option<&SseC>,
) -> coffer_storage::Result<()> {
    match (upload.is_customer(), customer.is_some()) {
        (true, false) => Err(coffer_storage::Error::CustomerKeyRequired),
        (false, true) => Err(coffer_storage::Error::CustomerKeyNotApplicable),
        _ => Ok(()),
    }
}

/// The request's SSE-C key, if any (for storage calls).
pub(crate) fn key_of(sse: Option<&SseC>) -> Option<&ExternalKey> {
    sse.map(|s| &s.key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr};

    const LOCAL: Client = Client {
        peer: IpAddr::V4(Ipv4Addr::LOCALHOST),
        tls: false,
    };

    fn b64(bytes: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    fn parse_code(h: &Headers<'_>, client: Option<&Client>) -> Option<String> {
        match parse(h, client) {
            Ok(_) => None,
            Err(e) => Some(e.code().as_str().to_owned()),
        }
    }

    #[test]
    fn checks_as_aws_does() {
        let key = b64(&[7u8; 32]);
        let md5 = b64(&Md5::digest([7u8; 32]));
        let good = Headers {
            algorithm: Some("AES256"),
            key: Some(&key),
            key_md5: Some(&md5),
        };
        let sse = parse(&good, Some(&LOCAL)).unwrap().unwrap();
        assert_eq!(sse.key_md5, md5);
        let none = Headers {
            algorithm: None,
            key: None,
            key_md5: None,
        };
        assert!(parse(&none, None).unwrap().is_none());

        let short = b64(&[7u8; 16]);
        let wrong_md5 = b64(&[0u8; 16]);
        for (h, code) in [
            (
                Headers {
                    algorithm: Some("aws:kms"),
                    ..good
                },
                "InvalidArgument",
            ),
            (
                Headers {
                    algorithm: None,
                    ..good
                },
                "InvalidArgument",
            ),
            (Headers { key: None, ..good }, "InvalidArgument"),
            (
                Headers {
                    key: Some(&short),
                    ..good
                },
                "InvalidArgument",
            ),
            (
                Headers {
                    key: Some("not base64!"),
                    ..good
                },
                "InvalidArgument",
            ),
            (
                Headers {
                    key_md5: None,
                    ..good
                },
                "InvalidArgument",
            ),
            (
                Headers {
                    key_md5: Some(&wrong_md5),
                    ..good
                },
                "InvalidArgument",
            ),
        ] {
            assert_eq!(parse_code(&h, Some(&LOCAL)).as_deref(), Some(code));
        }
    }

    #[test]
    fn plain_http_only_on_loopback() {
        let key = b64(&[7u8; 32]);
        let md5 = b64(&Md5::digest([7u8; 32]));
        let good = Headers {
            algorithm: Some("AES256"),
            key: Some(&key),
            key_md5: Some(&md5),
        };
        let remote = Client {
            peer: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            tls: false,
        };
        let remote_tls = Client {
            tls: true,
            ..remote
        };
        assert_eq!(
            parse_code(&good, Some(&remote)).as_deref(),
            Some("InvalidRequest")
        );
        assert_eq!(parse_code(&good, None).as_deref(), Some("InvalidRequest"));
        assert!(parse(&good, Some(&remote_tls)).unwrap().is_some());
    }

    #[test]
    fn key_never_in_debug_or_errors() {
        let key = b64(&[9u8; 32]);
        let h = Headers {
            algorithm: Some("AES256"),
            key: Some(&key),
            key_md5: Some("x"),
        };
        let Err(e) = parse(&h, Some(&LOCAL)) else {
            panic!("md5 mismatch accepted")
        };
        assert!(!format!("{e:?}").contains(&key));
    }
}
