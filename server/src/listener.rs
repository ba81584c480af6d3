//! Accepting connections and serving HTTP/1.1 and h2 on them, over TLS when configured,
//! with connection caps, idle reclaiming and graceful shutdown (s3s notes §1.7, §8.19).
//!
//! # Design
//! A connection costs a slot, a socket and a task whether or not it sends anything, so none
//! is kept for nothing: a connection that has not sent a whole request head within the
//! header timeout (including the bytes hyper reads to tell HTTP/1 from h2, which it reads
//! with no deadline of its own), or that has had no request in progress for the idle
//! timeout (an HTTP/1 keep-alive or an h2 connection that answers pings but opens no
//! stream), is shut down gracefully. h2 peers that stop answering pings are dropped by
//! hyper's keep-alive. Each client address may hold only its share of the connections, so
//! one address cannot lock every other client out.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio_rustls::TlsAcceptor;

use crate::activity::{Activity, Idle};
use crate::client::Client;
use crate::limits::{
    ACCEPT_ERROR_BACKOFF, CLOSE_GRACE, H2_KEEPALIVE_INTERVAL, H2_KEEPALIVE_TIMEOUT, Limits,
    MAX_H1_BUF, MAX_H2_HEADER_LIST, MAX_H2_STREAMS, TLS_HANDSHAKE_TIMEOUT,
};
use crate::per_address::AddressSlots;
use crate::seal_gate::Gate;

/// Binds `addr`.
pub(crate) async fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

/// Serves `gate` on `listener` (through `tls` when given) until `shutdown` completes, then
/// stops accepting and waits up to `grace` for open connections to finish.
///
/// At most `limits.max_connections` connections are served at once (beyond that, new
/// clients wait in the kernel's accept queue), and at most
/// `limits.max_connections_per_address` from one client address (beyond that, a new
/// connection from it is closed at once).
pub(crate) async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    gate: Gate,
    limits: Limits,
    grace: Duration,
    shutdown: impl Future<Output = ()>,
) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(MAX_H1_BUF);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(MAX_H2_HEADER_LIST)
        .max_concurrent_streams(MAX_H2_STREAMS)
        .keep_alive_interval(Some(H2_KEEPALIVE_INTERVAL))
        .keep_alive_timeout(H2_KEEPALIVE_TIMEOUT);

    let builder = Arc::new(builder);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let per_address = AddressSlots::new(limits.max_connections_per_address);
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::pin!(shutdown);

    loop {
        // Take a slot before accepting: at the cap we stop accepting.
        let permit = tokio::select! {
            permit = Arc::clone(&slots).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break, // never closed
            },
            () = &mut shutdown => break,
        };
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(ACCEPT_ERROR_BACKOFF).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Some(mine) = per_address.try_acquire(peer.ip()) else {
            tracing::debug!("refused a connection: its address holds its share already");
            drop(tcp);
            continue;
        };
        // Small responses (errors, HEAD) must not wait for Nagle.
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(%error, "could not set TCP_NODELAY");
        }
        let activity = Activity::new();
        let client = Client {
            peer: peer.ip(),
            tls: tls.is_some(),
        };
        let guard = gate.for_connection(client, Arc::clone(&activity));
        let (builder, tls, stop) = (Arc::clone(&builder), tls.clone(), stop_rx.clone());
        tokio::spawn(async move {
            match tls {
                None => serve_one(tcp, &builder, guard, &activity, limits, stop, grace).await,
                Some(acceptor) => {
                    match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                        Ok(Ok(stream)) => {
                            serve_one(stream, &builder, guard, &activity, limits, stop, grace)
                                .await;
                        }
                        Ok(Err(error)) => tracing::debug!(%error, "TLS handshake failed"),
                        Err(_) => tracing::debug!("TLS handshake timed out"),
                    }
                }
            }
            drop((mine, permit));
        });
    }

    drop(listener);
    let _ = stop_tx.send(true);
    let open = limits.max_connections - slots.available_permits();
    if open > 0 {
        tracing::info!(
            open,
            grace_secs = grace.as_secs(),
            "waiting for open connections"
        );
    }
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    if tokio::time::timeout(grace, slots.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!("shutdown grace period over; closing remaining connections");
    }
}

/// Serves one connection until it ends, closing it gracefully when it idles past the
/// limits or the server stops (then it has `grace` to finish).
async fn serve_one<I>(
    io: I,
    builder: &auto::Builder<TokioExecutor>,
    guard: Gate,
    activity: &Activity,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
    grace: Duration,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let conn = builder.serve_connection(TokioIo::new(io), guard);
    tokio::pin!(conn);
    // Check often enough to close within a fraction of the shortest limit.
    let tick = (limits.header_timeout.min(limits.idle_timeout) / 4)
        .clamp(Duration::from_millis(50), Duration::from_secs(1));
    // Once asked to close: the moment after which the connection is dropped.
    let mut close_by: Option<Instant> = None;
    loop {
        tokio::select! {
            served = conn.as_mut() => {
                if let Err(error) = served {
                    tracing::debug!(%error, "connection ended with an error");
                }
                return;
            }
            // A closed channel means the server is going away too.
            _ = stop.changed(), if close_by.is_none() => {
                conn.as_mut().graceful_shutdown();
                close_by = Some(Instant::now() + grace);
            }
            () = tokio::time::sleep(tick), if close_by.is_none() => {
                let reason = match activity.idle_for(Instant::now()) {
                    Idle::BeforeFirstRequest(d) if d >= limits.header_timeout => Some("no request"),
                    Idle::BetweenRequests(d) if d >= limits.idle_timeout => Some("idle"),
                    _ => None,
                };
                if let Some(reason) = reason {
                    tracing::debug!(reason, "closing an idle connection");
                    conn.as_mut().graceful_shutdown();
                    close_by = Some(Instant::now() + CLOSE_GRACE);
                }
            }
            () = sleep_until_opt(close_by) => {
                tracing::debug!("connection did not close in time; dropping it");
                return;
            }
        }
    }
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
