//! Accepting connections and serving HTTP/1.1 and h2 on them, over TLS when configured,
//! with a connection cap and graceful shutdown (s3s notes §1.7, §9.7).

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;

use crate::seal_gate::Gate;

/// Time a client has to send a complete request head (slowloris).
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// HTTP/1 read buffer cap, which bounds the request head.
const MAX_H1_BUF: usize = 256 << 10;
/// HTTP/2 header list cap.
const MAX_H2_HEADER_LIST: u32 = 64 << 10;
/// HTTP/2 streams per connection.
const MAX_H2_STREAMS: u32 = 128;
/// Time a client has to complete the TLS handshake. It runs inside the connection's own
/// task, so a slow client delays nobody else.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause after an accept error (EMFILE and friends) so the loop does not spin.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(50);

/// Binds `addr`.
pub(crate) async fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

/// Serves `gate` on `listener` (through `tls` when given) until `shutdown` completes, then
/// stops accepting and waits up to `grace` for open connections to finish.
///
/// At most `max_connections` connections are served at once; beyond that, new clients wait
/// in the kernel's accept queue.
pub(crate) async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    gate: Gate,
    max_connections: usize,
    grace: Duration,
    shutdown: impl Future<Output = ()>,
) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(MAX_H1_BUF);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(MAX_H2_HEADER_LIST)
        .max_concurrent_streams(MAX_H2_STREAMS);

    let builder = Arc::new(builder);
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(max_connections));
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
        // Small responses (errors, HEAD) must not wait for Nagle.
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(%error, "could not set TCP_NODELAY");
        }
        let (builder, watcher, guard) = (
            Arc::clone(&builder),
            graceful.watcher(),
            gate.for_peer(peer.ip()),
        );
        let tls = tls.clone();
        tokio::spawn(async move {
            let served = match tls {
                None => {
                    let conn = builder.serve_connection(TokioIo::new(tcp), guard);
                    watcher.watch(conn.into_owned()).await
                }
                Some(acceptor) => {
                    match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                        Ok(Ok(stream)) => {
                            let conn = builder.serve_connection(TokioIo::new(stream), guard);
                            watcher.watch(conn.into_owned()).await
                        }
                        Ok(Err(error)) => {
                            tracing::debug!(%error, "TLS handshake failed");
                            Ok(())
                        }
                        Err(_) => {
                            tracing::debug!("TLS handshake timed out");
                            Ok(())
                        }
                    }
                }
            };
            if let Err(error) = served {
                tracing::debug!(%error, "connection ended with an error");
            }
            drop(permit);
        });
    }

    drop(listener);
    let open = graceful.count();
    if open > 0 {
        tracing::info!(
            open,
            grace_secs = grace.as_secs(),
            "waiting for open connections"
        );
    }
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(grace) => {
            tracing::warn!("shutdown grace period over; closing remaining connections");
        }
    }
}
