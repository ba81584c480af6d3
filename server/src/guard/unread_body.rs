//! Answers to requests whose body was never read say so: `Connection: close`.
//!
//! Refusals decided from the headers (signature, size, policy) are sent without reading the
//! body, which is what `Expect: 100-continue` is for: hyper sends `100 Continue` only when
//! the body is first read, so the client never sends it. But hyper then cannot reuse the
//! connection (the body may still come), and closes it after the answer *without saying
//! so*: a client that pooled the connection sent its next request into a socket that was
//! closing, and saw it fail. So an HTTP/1 answer to a request whose body was not read to
//! its end carries `Connection: close`; the client then opens a new connection for its
//! next request, as the protocol asks (RFC 9110 §10.1.1, RFC 9112 §9.6).

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::CONNECTION;
use http::{HeaderValue, Response, Version};
use http_body::{Body, Frame, SizeHint};

/// The body of every request the guard handles.
pub(crate) type RequestBody = Watched<hyper::body::Incoming>;

/// A request body that records whether it was read to its end.
pub(crate) struct Watched<B> {
    inner: B,
    read: Arc<AtomicBool>,
}

/// Whether a [`Watched`] body was read to its end (kept by the guard while the body goes
/// on to s3s).
#[derive(Clone)]
pub(crate) struct ReadToEnd(Arc<AtomicBool>);

impl<B: Body> Watched<B> {
    /// Watches `inner`.
    pub(crate) fn new(inner: B) -> (Watched<B>, ReadToEnd) {
        let read = Arc::new(AtomicBool::new(inner.is_end_stream()));
        let watched = Watched {
            inner,
            read: Arc::clone(&read),
        };
        (watched, ReadToEnd(read))
    }
}

impl ReadToEnd {
    /// Marks `resp` `Connection: close` when it answers an HTTP/1 request whose body was
    /// not read to its end. (HTTP/2 ends the stream instead; it has no such header.)
    pub(crate) fn close_if_unread(
        &self,
        version: Version,
        mut resp: Response<s3s::Body>,
    ) -> Response<s3s::Body> {
        let http1 = matches!(version, Version::HTTP_10 | Version::HTTP_11);
        if http1 && !self.0.load(Ordering::Relaxed) {
            resp.headers_mut()
                .insert(CONNECTION, HeaderValue::from_static("close"));
        }
        resp
    }
}

impl<B> Body for Watched<B>
where
    B: Body<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        // A reader that knows the length may stop after the last frame without asking for
        // more: the end counts once the inner body says it is there.
        let ended = match &polled {
            Poll::Ready(None) => true,
            Poll::Ready(Some(Ok(_))) => this.inner.is_end_stream(),
            Poll::Ready(Some(Err(_))) | Poll::Pending => false,
        };
        if ended {
            this.read.store(true, Ordering::Relaxed);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt as _, Full};

    fn answer() -> Response<s3s::Body> {
        Response::new(s3s::Body::empty())
    }

    #[tokio::test]
    async fn only_an_unread_body_closes_the_connection() {
        let (body, read) = Watched::new(Full::new(Bytes::from_static(b"data")));
        let resp = read.close_if_unread(Version::HTTP_11, answer());
        assert_eq!(resp.headers()[CONNECTION], "close");
        // HTTP/2 has no Connection header.
        let resp = read.close_if_unread(Version::HTTP_2, answer());
        assert!(resp.headers().get(CONNECTION).is_none());

        let collected = body.collect().await.unwrap().to_bytes();
        assert_eq!(collected, "data");
        let resp = read.close_if_unread(Version::HTTP_11, answer());
        assert!(resp.headers().get(CONNECTION).is_none());

        let (_, read) = Watched::new(Full::new(Bytes::new()));
        let resp = read.close_if_unread(Version::HTTP_11, answer());
        assert!(resp.headers().get(CONNECTION).is_none());
    }
}
