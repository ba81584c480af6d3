//! What one connection is doing, so the listener can close it when it sits idle.
//!
//! A connection that never sends a request, an HTTP/1 keep-alive connection left open, and
//! an HTTP/2 connection that answers pings but opens no stream all hold a slot and a socket
//! for nothing. The guard marks each request busy from its head until its response body has
//! gone out ([`Activity::begin`], [`Tracked`]); the listener asks [`Activity::idle_for`]
//! and closes the connection gracefully past the limits.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

/// Requests in progress on one connection, and since when it has had none.
pub(crate) struct Activity {
    in_flight: AtomicUsize,
    requests: AtomicU64,
    idle_since: Mutex<Instant>,
}

/// Whether a connection may be closed, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Idle {
    /// A request is in progress.
    Busy,
    /// No request yet, for this long.
    BeforeFirstRequest(Duration),
    /// No request since the last one ended, for this long.
    BetweenRequests(Duration),
}

impl Activity {
    /// A connection that opened now.
    pub(crate) fn new() -> Arc<Activity> {
        Arc::new(Activity {
            in_flight: AtomicUsize::new(0),
            requests: AtomicU64::new(0),
            idle_since: Mutex::new(Instant::now()),
        })
    }

    /// Marks a request in progress until the returned guard drops.
    pub(crate) fn begin(self: &Arc<Self>) -> Busy {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        self.requests.fetch_add(1, Ordering::Relaxed);
        Busy {
            activity: Arc::clone(self),
        }
    }

    /// How idle the connection is at `now`.
    pub(crate) fn idle_for(&self, now: Instant) -> Idle {
        if self.in_flight.load(Ordering::SeqCst) > 0 {
            return Idle::Busy;
        }
        let since = *self
            .idle_since
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let idle = now.saturating_duration_since(since);
        if self.requests.load(Ordering::Relaxed) == 0 {
            Idle::BeforeFirstRequest(idle)
        } else {
            Idle::BetweenRequests(idle)
        }
    }
}

/// One request in progress; its end is stamped when this drops.
pub(crate) struct Busy {
    activity: Arc<Activity>,
}

impl Drop for Busy {
    fn drop(&mut self) {
        // Stamp first, so the listener never sees zero requests with an old stamp.
        *self
            .activity
            .idle_since
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Instant::now();
        self.activity.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A response body that keeps its request busy until it has been sent (or dropped).
pub(crate) struct Tracked<B> {
    inner: B,
    _busy: Busy,
}

impl<B> Tracked<B> {
    /// `inner`, keeping `busy` alive as long as it streams.
    pub(crate) fn new(inner: B, busy: Busy) -> Tracked<B> {
        Tracked { inner, _busy: busy }
    }
}

impl<B: Body<Data = Bytes> + Unpin> Body for Tracked<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
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

    #[test]
    fn idle_time_counts_from_the_start_then_from_the_last_request() {
        let a = Activity::new();
        let t0 = Instant::now();
        assert!(matches!(
            a.idle_for(t0 + Duration::from_secs(3)),
            Idle::BeforeFirstRequest(d) if d >= Duration::from_secs(3)
        ));
        let busy = a.begin();
        assert_eq!(a.idle_for(t0 + Duration::from_secs(100)), Idle::Busy);
        let second = a.begin();
        drop(busy);
        assert_eq!(a.idle_for(Instant::now()), Idle::Busy);
        drop(second);
        assert!(matches!(
            a.idle_for(Instant::now() + Duration::from_secs(1)),
            Idle::BetweenRequests(d) if d >= Duration::from_secs(1)
        ));
    }
}
