//! A request body into sealed chunks, verified before anything is committed.
//!
//! s3s leaves integrity to us (see the s3s notes §2.6 and §5): it never
//! checks the decoded length of aws-chunked bodies, `Content-MD5`, or the
//! `x-amz-checksum-*` values in headers or trailers, and it reports a bad
//! SHA-256 or chunk signature only as the last stream item. So the body is
//! streamed into storage while we count and hash it, and only after a clean
//! end of stream and every check passing does the caller commit. Anything
//! short of that drops the staged chunks, which storage then releases.

use super::Coffer;
use super::error_map::{content_sha256_mismatch, internal, storage_error};
use crate::limits::BODY_IDLE_TIMEOUT;
use crate::limits::UPLOAD_SLOT_WAIT;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use coffer_storage::{BucketInfo, Checksum, ChecksumAlgorithm, StagedBody};
use futures::StreamExt as _;
use s3s::checksum::ChecksumHasher;
use s3s::crypto::Checksum as _;
use s3s::dto::StreamingBlob;
use s3s::{S3Error, S3Result, s3_error};

/// What the request promised about its body.
#[derive(Default)]
pub(crate) struct Expectations {
    /// `Content-Length`, or the decoded length for aws-chunked bodies.
    pub content_length: Option<i64>,
    /// `Content-MD5`, base64 as sent.
    pub content_md5: Option<String>,
    /// `x-amz-checksum-*` header values, base64 as sent, keyed by algorithm.
    pub checksums: Vec<(ChecksumAlgorithm, String)>,
    /// `x-amz-checksum-algorithm` (or the trailer's algorithm).
    pub algorithm: Option<ChecksumAlgorithm>,
    /// Trailer headers of an aws-chunked body, readable after the end.
    pub trailers: Option<s3s::TrailingHeaders>,
}

impl Expectations {
    /// Gathers the header checksums given as the five optional input fields.
    pub(crate) fn with_checksum_fields(
        mut self,
        crc32: Option<String>,
        crc32c: Option<String>,
        crc64nvme: Option<String>,
        sha1: Option<String>,
        sha256: Option<String>,
    ) -> Self {
        for (alg, v) in ChecksumAlgorithm::ALL
            .into_iter()
            .zip([crc32, crc32c, crc64nvme, sha1, sha256])
        {
            if let Some(v) = v {
                self.checksums.push((alg, v));
            }
        }
        self
    }

    /// Adds the checksums signed into the query: the AWS JS SDK v3 presigner puts
    /// `x-amz-checksum-<alg>` (and `x-amz-sdk-checksum-algorithm`) there, and s3s reads
    /// only headers. The query is covered by the signature, so these are promises too.
    pub(crate) fn with_query_checksums(mut self, uri: &http::Uri) -> S3Result<Self> {
        let Some(query) = uri.query() else {
            return Ok(self);
        };
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query)
            .map_err(|_| s3_error!(InvalidURI, "Couldn't parse the specified URI."))?;
        for (name, value) in pairs {
            let name = name.to_ascii_lowercase();
            if let Some(alg) = name
                .strip_prefix("x-amz-checksum-")
                .and_then(|a| super::checksum::parse_algorithm(a).ok())
            {
                self.checksums.push((alg, value));
            } else if name == "x-amz-sdk-checksum-algorithm" && self.algorithm.is_none() {
                self.algorithm = Some(super::checksum::parse_algorithm(&value)?);
            }
        }
        Ok(self)
    }
}

/// The [`Expectations`] of a PutObject or UploadPart request (the two s3s input types name
/// these fields alike but share no trait): headers, then the signed query. `$algorithm` is
/// already parsed.
macro_rules! expectations_of {
    ($input:expr, $algorithm:expr, $trailers:expr, $uri:expr) => {
        $crate::s3::body::Expectations {
            content_length: $input.content_length,
            content_md5: $input.content_md5,
            algorithm: $algorithm,
            trailers: $trailers,
            ..Default::default()
        }
        .with_checksum_fields(
            $input.checksum_crc32,
            $input.checksum_crc32c,
            $input.checksum_crc64nvme,
            $input.checksum_sha1,
            $input.checksum_sha256,
        )
        .with_query_checksums($uri)?
    };
}
pub(crate) use expectations_of;

/// What a body becomes: an object's whole body may be kept inline in its record when
/// small; a multipart part never is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Destination {
    Object,
    Part,
}

/// A verified, staged body and the checksums to keep with it.
pub(crate) struct Ingested {
    pub staged: StagedBody,
    pub checksums: Vec<Checksum>,
}

/// Streams `body` into `bucket`'s chunk store and verifies it against `exp`.
///
/// Waits for one of the `--max-uploads` slots first: the body is not read
/// until then, so waiting costs no memory.
pub(crate) async fn ingest(
    coffer: &Coffer,
    bucket: &BucketInfo,
    body: Option<StreamingBlob>,
    exp: Expectations,
    key: Option<&coffer_storage::ExternalKey>,
    destination: Destination,
) -> S3Result<Ingested> {
    let _slot = tokio::time::timeout(UPLOAD_SLOT_WAIT, coffer.uploads.acquire())
        .await
        .map_err(|_| s3_error!(SlowDown, "Too many uploads in progress. Please retry."))?
        .map_err(|_| s3_error!(ServiceUnavailable, "The server is shutting down."))?;
    let store = &coffer.store;
    let content_md5 = exp.content_md5.as_deref().map(decode_md5).transpose()?;
    let wanted = wanted_algorithms(&exp);
    let mut hasher = hasher_for(&wanted);
    let writer = match destination {
        Destination::Object => store.object_writer_with(bucket, key).await,
        Destination::Part => store.part_writer_with(bucket, key).await,
    };
    let mut writer = writer.map_err(storage_error)?;

    if let Some(mut body) = body {
        loop {
            let frame = tokio::time::timeout(BODY_IDLE_TIMEOUT, body.next())
                .await
                .map_err(|_| {
                    s3_error!(
                        RequestTimeout,
                        "Your socket connection to the server was not read from or written to within the timeout period."
                    )
                })?;
            let Some(frame) = frame else { break };
            let data: Bytes = frame.map_err(|e| stream_error(&*e))?;
            hasher.update(&data);
            writer.write(data).await.map_err(storage_error)?;
        }
    }

    let received = writer.len();
    if let Some(declared) = exp.content_length
        && u64::try_from(declared).ok() != Some(received)
    {
        return Err(incomplete_body());
    }
    let staged = writer.finish().await.map_err(storage_error)?;

    if let Some(md5) = content_md5
        && staged.md5() != md5
    {
        return Err(s3_error!(
            BadDigest,
            "The Content-MD5 you specified did not match what we received."
        ));
    }

    let computed = hasher.finalize();
    let computed = computed_values(&computed);
    for (alg, sent) in &exp.checksums {
        verify(*alg, sent, &computed)?;
    }
    if let Some(trailers) = exp.trailers.as_ref().and_then(s3s::TrailingHeaders::take) {
        for alg in ChecksumAlgorithm::ALL {
            let name = format!("x-amz-checksum-{}", alg.as_str().to_ascii_lowercase());
            if let Some(v) = trailers.get(name.as_str()) {
                let sent = v.to_str().map_err(|_| bad_checksum(alg))?;
                verify(alg, sent, &computed)?;
            }
        }
    }

    let checksums = computed
        .into_iter()
        .filter_map(|(algorithm, v)| v.map(|value| Checksum { algorithm, value }))
        .collect();
    Ok(Ingested { staged, checksums })
}

/// Algorithms to compute: those sent as headers plus the one named by
/// `x-amz-checksum-algorithm` / the trailer.
fn wanted_algorithms(exp: &Expectations) -> Vec<ChecksumAlgorithm> {
    let mut wanted: Vec<ChecksumAlgorithm> = exp.checksums.iter().map(|(a, _)| *a).collect();
    if let Some(alg) = exp.algorithm
        && !wanted.contains(&alg)
    {
        wanted.push(alg);
    }
    wanted
}

fn hasher_for(wanted: &[ChecksumAlgorithm]) -> ChecksumHasher {
    use s3s::crypto::{Crc32, Crc32c, Crc64Nvme, Sha1, Sha256};
    let mut h = ChecksumHasher::default();
    for alg in wanted {
        match alg {
            ChecksumAlgorithm::Crc32 => h.crc32 = Some(Crc32::new()),
            ChecksumAlgorithm::Crc32c => h.crc32c = Some(Crc32c::new()),
            ChecksumAlgorithm::Crc64Nvme => h.crc64nvme = Some(Crc64Nvme::new()),
            ChecksumAlgorithm::Sha1 => h.sha1 = Some(Sha1::new()),
            ChecksumAlgorithm::Sha256 => h.sha256 = Some(Sha256::new()),
        }
    }
    h
}

fn computed_values(c: &s3s::dto::Checksum) -> [(ChecksumAlgorithm, Option<String>); 5] {
    [
        (ChecksumAlgorithm::Crc32, c.checksum_crc32.clone()),
        (ChecksumAlgorithm::Crc32c, c.checksum_crc32c.clone()),
        (ChecksumAlgorithm::Crc64Nvme, c.checksum_crc64nvme.clone()),
        (ChecksumAlgorithm::Sha1, c.checksum_sha1.clone()),
        (ChecksumAlgorithm::Sha256, c.checksum_sha256.clone()),
    ]
}

fn verify(
    alg: ChecksumAlgorithm,
    sent: &str,
    computed: &[(ChecksumAlgorithm, Option<String>)],
) -> S3Result<()> {
    let ours = computed
        .iter()
        .find(|(a, _)| *a == alg)
        .and_then(|(_, v)| v.as_deref());
    if ours == Some(sent.trim()) {
        Ok(())
    } else {
        Err(bad_checksum(alg))
    }
}

fn bad_checksum(alg: ChecksumAlgorithm) -> S3Error {
    S3Error::with_message(
        s3s::S3ErrorCode::BadDigest,
        format!("The {alg} you specified did not match the calculated checksum."),
    )
}

fn decode_md5(text: &str) -> S3Result<[u8; 16]> {
    BASE64
        .decode(text.trim())
        .ok()
        .and_then(|v| <[u8; 16]>::try_from(v.as_slice()).ok())
        .ok_or_else(|| s3_error!(InvalidDigest, "The Content-MD5 you specified is not valid."))
}

fn incomplete_body() -> S3Error {
    s3_error!(
        IncompleteBody,
        "You did not provide the number of bytes specified by the Content-Length HTTP header."
    )
}

/// Maps a body stream failure. The s3s error types are private, so their
/// `Display` text is all we can match on (s3s notes §2.6).
fn stream_error(err: &(dyn std::error::Error + Send + Sync + 'static)) -> S3Error {
    let text = err.to_string();
    if text.contains(crate::guard::CHUNK_TOO_LARGE) {
        s3_error!(
            InvalidRequest,
            "An aws-chunked chunk may be at most 16 MiB; send smaller chunks."
        )
    } else if text.contains(crate::guard::CHUNK_MALFORMED) {
        s3_error!(InvalidRequest, "The aws-chunked body is malformed.")
    } else if text.contains("Sha256Mismatch") {
        content_sha256_mismatch()
    } else if text.contains("SignatureMismatch") {
        s3_error!(
            SignatureDoesNotMatch,
            "The request signature we calculated does not match the signature you provided."
        )
    } else if text.contains("ChunkMetaTooLarge") || text.contains("FormatError") {
        s3_error!(InvalidRequest, "The aws-chunked body is malformed.")
    } else if text.contains("Incomplete") || text.contains("LengthMismatch") {
        incomplete_body()
    } else if let Some(io) = err.downcast_ref::<std::io::Error>() {
        internal(std::io::Error::new(io.kind(), io.to_string()))
    } else {
        // hyper reports a client that hung up mid-body this way.
        incomplete_body()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_must_be_sixteen_base64_bytes() {
        assert!(decode_md5("1B2M2Y8AsgTpgAmY7PhCfg==").is_ok());
        let e = decode_md5("not base64!").unwrap_err();
        assert_eq!(*e.code(), s3s::S3ErrorCode::InvalidDigest);
        let e = decode_md5("AAAA").unwrap_err();
        assert_eq!(*e.code(), s3s::S3ErrorCode::InvalidDigest);
    }

    #[test]
    fn unknown_algorithm_in_the_query_is_refused() {
        let uri: http::Uri = "/b/k?x-amz-sdk-checksum-algorithm=MD4".parse().unwrap();
        let e = Expectations::default()
            .with_query_checksums(&uri)
            .err()
            .unwrap();
        assert_eq!(*e.code(), s3s::S3ErrorCode::InvalidRequest);
        let uri: http::Uri = "/b/k?x-amz-sdk-checksum-algorithm=crc32c&x-amz-checksum-sha1=x"
            .parse()
            .unwrap();
        let exp = Expectations::default().with_query_checksums(&uri).unwrap();
        assert_eq!(
            wanted_algorithms(&exp),
            [ChecksumAlgorithm::Sha1, ChecksumAlgorithm::Crc32c]
        );
    }

    #[test]
    fn crc32_of_known_input_verifies() {
        let mut h = hasher_for(&[ChecksumAlgorithm::Crc32]);
        h.update(b"123456789");
        let values = computed_values(&h.finalize());
        // CRC32 of "123456789" is 0xCBF43926.
        let expected = BASE64.encode([0xCB, 0xF4, 0x39, 0x26]);
        verify(ChecksumAlgorithm::Crc32, &expected, &values).unwrap();
        assert!(verify(ChecksumAlgorithm::Crc32, "AAAAAA==", &values).is_err());
    }

    #[test]
    fn stream_errors_map_to_s3_codes() {
        let e = std::io::Error::other("UploadStreamError: Sha256Mismatch");
        assert_eq!(
            stream_error(&e).code().as_str(),
            "XAmzContentSHA256Mismatch"
        );
        let e = std::io::Error::other("AwsChunkedStreamError: SignatureMismatch");
        assert_eq!(
            *stream_error(&e).code(),
            s3s::S3ErrorCode::SignatureDoesNotMatch
        );
    }
}
