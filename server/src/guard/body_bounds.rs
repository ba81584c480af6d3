//! Body sizes, decided before s3s reads a byte, and aws-chunked chunks bounded as they pass.
//!
//! s3s buffers a whole aws-chunked chunk before checking its signature, and the chunk header
//! may announce up to 4 GiB (s3s notes §8.12, §8.18): one 512 MiB chunk once raised server
//! RSS by 500 MiB. So every streaming upload must announce its lengths
//! (`Content-Length`, `x-amz-decoded-content-length`), and [`AwsChunkBound`] reads each
//! chunk header as the body streams through and fails the body at a header announcing more
//! than [`MAX_AWS_CHUNK`] — before s3s sees that header, so nothing is allocated for it.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, TRANSFER_ENCODING};
use http::{HeaderMap, Method};
use http_body::{Body, Frame, SizeHint};

use super::auth_params::AuthForm;
use super::refusal::Refusal;
use crate::limits::{
    Limits, MAX_AWS_CHUNK, MAX_AWS_CHUNK_HEADER, MAX_CHUNKED_FRAMING, MAX_OTHER_BODY, MAX_PUT_BODY,
};

/// What the body of a request that passed needs on its way to s3s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyPlan {
    /// Nothing: s3s bounds it (or there is none).
    AsIs,
    /// An aws-chunked upload: wrap it in [`AwsChunkBound`].
    AwsChunked,
    /// A browser form upload, within the form cap.
    Form,
}

/// Checks the announced lengths. `body_may_have_data` is false when the transport already
/// knows the body is empty.
pub(crate) fn check(
    method: &Method,
    headers: &HeaderMap,
    auth: &AuthForm,
    body_may_have_data: bool,
    limits: &Limits,
) -> Result<BodyPlan, Refusal> {
    let length = headers
        .get(CONTENT_LENGTH)
        .map(|value| {
            value
                .to_str()
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .ok_or(Refusal::BAD_LENGTH)
        })
        .transpose()?;
    // HTTP/1 `Transfer-Encoding: chunked`, or an HTTP/2 body of unknown length.
    let unannounced =
        length.is_none() && (body_may_have_data || headers.contains_key(TRANSFER_ENCODING));

    if *auth == AuthForm::Form {
        return match length {
            None => Err(Refusal::NEEDS_LENGTH),
            Some(length) if length > limits.form_cap => Err(Refusal::TOO_LARGE),
            Some(_) => Ok(BodyPlan::Form),
        };
    }
    let streaming = headers
        .get("x-amz-content-sha256")
        .is_some_and(|v| v.as_bytes().starts_with(b"STREAMING-"));
    if streaming {
        let Some(length) = length else {
            return Err(Refusal::NEEDS_DECODED_LENGTH);
        };
        let decoded = headers
            .get("x-amz-decoded-content-length")
            .ok_or(Refusal::NEEDS_DECODED_LENGTH)?
            .to_str()
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .ok_or(Refusal::BAD_DECODED_LENGTH)?;
        if decoded > MAX_PUT_BODY || length > MAX_PUT_BODY + MAX_CHUNKED_FRAMING {
            return Err(Refusal::TOO_LARGE);
        }
        return Ok(BodyPlan::AwsChunked);
    }
    if unannounced {
        return Err(Refusal::NEEDS_LENGTH);
    }
    let cap = if method == Method::PUT {
        MAX_PUT_BODY
    } else {
        MAX_OTHER_BODY
    };
    if length.is_some_and(|length| length > cap) {
        return Err(Refusal::TOO_LARGE);
    }
    Ok(BodyPlan::AsIs)
}

/// Why [`AwsChunkBound`] stopped a body. The texts are matched by `s3/body.rs` (s3s wraps
/// this error in its own, so only the text gets through).
#[derive(Debug, thiserror::Error)]
pub(crate) enum BoundError {
    /// The connection failed.
    #[error("body: {0}")]
    Transport(#[source] hyper::Error),
    /// A chunk header announced more than [`MAX_AWS_CHUNK`].
    #[error("{}", CHUNK_TOO_LARGE)]
    ChunkTooLarge,
    /// A chunk header that is not `hex-size[;…]\r\n`, or longer than s3s allows.
    #[error("{}", CHUNK_MALFORMED)]
    Malformed,
}

/// The `Display` of [`BoundError::ChunkTooLarge`].
pub(crate) const CHUNK_TOO_LARGE: &str = "AwsChunkBound: chunk larger than allowed";
/// The `Display` of [`BoundError::Malformed`].
pub(crate) const CHUNK_MALFORMED: &str = "AwsChunkBound: malformed chunk header";

/// Where in the aws-chunked framing the next byte is.
#[derive(Debug)]
enum State {
    /// Reading a chunk header line; the bytes so far.
    Header(Vec<u8>),
    /// Inside a chunk's data: bytes left, then its CRLF.
    Data(u64),
    /// After the last (empty) chunk: trailers, which s3s bounds itself.
    Trailer,
}

/// An aws-chunked body whose chunk headers are checked as they stream past.
pub(crate) struct AwsChunkBound<B> {
    inner: B,
    state: State,
    ready: VecDeque<Bytes>,
    failed: bool,
}

impl<B> AwsChunkBound<B> {
    /// Bounds the chunks of `inner`.
    pub(crate) fn new(inner: B) -> AwsChunkBound<B> {
        AwsChunkBound {
            inner,
            state: State::Header(Vec::new()),
            ready: VecDeque::new(),
            failed: false,
        }
    }

    /// Takes in `data`, queueing what may go on to s3s.
    fn feed(&mut self, mut data: Bytes) -> Result<(), BoundError> {
        while !data.is_empty() {
            match &mut self.state {
                State::Trailer => {
                    self.ready.push_back(data);
                    return Ok(());
                }
                State::Data(left) => {
                    // Pass data (and the CRLF that ends it, counted as 2 more) straight on.
                    let take = usize::try_from(*left).unwrap_or(usize::MAX).min(data.len());
                    self.ready.push_back(data.split_to(take));
                    *left -= take as u64;
                    if *left == 0 {
                        self.state = State::Header(Vec::new());
                    }
                }
                State::Header(line) => {
                    let end = data.iter().position(|b| *b == b'\n');
                    let take = end.map_or(data.len(), |e| e + 1);
                    line.extend_from_slice(&data.split_to(take));
                    // A CRLF left over from the previous chunk's data comes first: skip it.
                    if line.as_slice() == b"\r\n" {
                        self.ready.push_back(Bytes::from(std::mem::take(line)));
                        continue;
                    }
                    if line.len() > MAX_AWS_CHUNK_HEADER + 2 {
                        return Err(BoundError::Malformed);
                    }
                    if end.is_none() {
                        continue;
                    }
                    let size = chunk_size(line).ok_or(BoundError::Malformed)?;
                    if size > MAX_AWS_CHUNK {
                        return Err(BoundError::ChunkTooLarge);
                    }
                    self.ready.push_back(Bytes::from(std::mem::take(line)));
                    self.state = if size == 0 {
                        State::Trailer
                    } else {
                        State::Data(size)
                    };
                }
            }
        }
        Ok(())
    }
}

/// The size of a chunk header line `hex-size[;chunk-signature=…]\r\n`.
fn chunk_size(line: &[u8]) -> Option<u64> {
    let line = line.strip_suffix(b"\r\n")?;
    let hex = line.split(|b| *b == b';').next()?;
    let hex = std::str::from_utf8(hex).ok()?;
    if hex.is_empty() || hex.len() > 16 {
        return None;
    }
    u64::from_str_radix(hex, 16).ok()
}

impl<B> Body for AwsChunkBound<B>
where
    B: Body<Data = Bytes, Error = hyper::Error> + Unpin,
{
    type Data = Bytes;
    type Error = BoundError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoundError>>> {
        let this = self.get_mut();
        loop {
            if let Some(bytes) = this.ready.pop_front() {
                return Poll::Ready(Some(Ok(Frame::data(bytes))));
            }
            if this.failed {
                return Poll::Ready(None);
            }
            match std::task::ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
                None => return Poll::Ready(None),
                Some(Err(e)) => return Poll::Ready(Some(Err(BoundError::Transport(e)))),
                // HTTP trailers (not aws-chunked ones) are not expected: dropped.
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data()
                        && let Err(e) = this.feed(data)
                    {
                        this.failed = true;
                        this.ready.clear();
                        return Poll::Ready(Some(Err(e)));
                    }
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.ready.is_empty() && (self.failed || self.inner.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        let queued: u64 = self.ready.iter().map(|b| b.len() as u64).sum();
        let inner = self.inner.size_hint();
        let mut hint = SizeHint::new();
        hint.set_lower(inner.lower() + queued);
        if let Some(upper) = inner.upper() {
            hint.set_upper(upper + queued);
        }
        hint
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                http::HeaderValue::from_str(v).unwrap(),
            );
        }
        map
    }

    fn plan(method: &str, pairs: &[(&str, &str)], has_data: bool) -> Result<BodyPlan, Refusal> {
        let scope = super::super::auth_params::Scope {
            access_key: "a".into(),
            region: "r".into(),
        };
        check(
            &method.parse().unwrap(),
            &headers(pairs),
            &AuthForm::Header(scope),
            has_data,
            &Limits::default(),
        )
    }

    #[test]
    fn body_size_caps() {
        let five_gib = (5u64 << 30).to_string();
        let over = ((5u64 << 30) + 1).to_string();
        assert_eq!(
            plan("PUT", &[("content-length", &five_gib)], true),
            Ok(BodyPlan::AsIs)
        );
        assert_eq!(
            plan("PUT", &[("content-length", &over)], true),
            Err(Refusal::TOO_LARGE)
        );
        assert_eq!(
            plan("POST", &[("content-length", "4194305")], true),
            Err(Refusal::TOO_LARGE)
        );
        assert_eq!(
            plan("POST", &[("content-length", "4194304")], true),
            Ok(BodyPlan::AsIs)
        );
        assert_eq!(
            plan("GET", &[("content-length", "x1")], false),
            Err(Refusal::BAD_LENGTH)
        );
        assert_eq!(plan("GET", &[], false), Ok(BodyPlan::AsIs));
    }

    #[test]
    fn unannounced_bodies_are_refused() {
        assert_eq!(plan("PUT", &[], true), Err(Refusal::NEEDS_LENGTH));
        assert_eq!(
            plan("PUT", &[("transfer-encoding", "chunked")], false),
            Err(Refusal::NEEDS_LENGTH)
        );
        assert_eq!(Refusal::NEEDS_LENGTH.status.as_u16(), 411);
    }

    #[test]
    fn streaming_uploads_announce_both_lengths() {
        let s = ("x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER");
        assert_eq!(
            plan("PUT", &[s, ("x-amz-decoded-content-length", "10")], true),
            Err(Refusal::NEEDS_DECODED_LENGTH)
        );
        assert_eq!(
            plan("PUT", &[s, ("content-length", "100")], true),
            Err(Refusal::NEEDS_DECODED_LENGTH)
        );
        let over = ((5u64 << 30) + 1).to_string();
        assert_eq!(
            plan(
                "PUT",
                &[
                    s,
                    ("content-length", "100"),
                    ("x-amz-decoded-content-length", &over)
                ],
                true
            ),
            Err(Refusal::TOO_LARGE)
        );
        assert_eq!(
            plan(
                "PUT",
                &[
                    s,
                    ("content-length", "100"),
                    ("x-amz-decoded-content-length", "ten")
                ],
                true
            ),
            Err(Refusal::BAD_DECODED_LENGTH)
        );
        assert_eq!(
            plan(
                "PUT",
                &[
                    s,
                    ("content-length", "100"),
                    ("x-amz-decoded-content-length", "10")
                ],
                true
            ),
            Ok(BodyPlan::AwsChunked)
        );
    }

    fn feed_all(pieces: &[&[u8]]) -> Result<Vec<u8>, String> {
        let mut b = AwsChunkBound::new(());
        for p in pieces {
            b.feed(Bytes::copy_from_slice(p))
                .map_err(|e| e.to_string())?;
        }
        Ok(b.ready.iter().flat_map(|x| x.iter().copied()).collect())
    }

    #[test]
    fn chunks_pass_through_unchanged_however_they_are_cut() {
        let body =
            b"5;chunk-signature=abc\r\nhello\r\n3\r\nabc\r\n0\r\nx-amz-checksum-crc32:AAAA\r\n\r\n";
        assert_eq!(feed_all(&[body]).unwrap(), body);
        for cut in 1..body.len() {
            let (a, b) = body.split_at(cut);
            assert_eq!(feed_all(&[a, b]).unwrap(), body, "cut at {cut}");
        }
        let bytes: Vec<&[u8]> = body.chunks(1).collect();
        assert_eq!(feed_all(&bytes).unwrap(), body);
    }

    #[test]
    fn oversized_chunk_headers_are_refused_before_s3s_sees_them() {
        let ok = format!("{:x}\r\n", 16u64 << 20);
        assert!(feed_all(&[ok.as_bytes()]).is_ok());
        let big = format!("{:x};chunk-signature=abc\r\n", (16u64 << 20) + 1);
        let e = feed_all(&[big.as_bytes()]).unwrap_err();
        assert_eq!(e, CHUNK_TOO_LARGE);
        // The header bytes were held back.
        let mut b = AwsChunkBound::new(());
        assert!(b.feed(Bytes::from(big)).is_err());
        assert!(b.ready.is_empty());
        // A second chunk that is too big, after a good one.
        let two = format!("2\r\nhi\r\n{:x}\r\n", 1u64 << 32);
        assert_eq!(feed_all(&[two.as_bytes()]).unwrap_err(), CHUNK_TOO_LARGE);
    }

    #[test]
    fn malformed_headers_are_refused() {
        assert_eq!(feed_all(&[b"zz\r\n"]).unwrap_err(), CHUNK_MALFORMED);
        let long = vec![b'1'; 2000];
        assert_eq!(feed_all(&[&long]).unwrap_err(), CHUNK_MALFORMED);
        assert_eq!(feed_all(&[b"\r\n"]).unwrap(), b"\r\n");
    }
}
