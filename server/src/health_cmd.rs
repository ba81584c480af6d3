//! `coffer health`: probes a running server's `/health/ready` (or `/health/live`) over plain
//! HTTP and exits 0 on a 200, 1 otherwise. Coffer's container image has no curl; this is
//! its HEALTHCHECK.

use std::net::SocketAddr;

use anyhow::Context;
use clap::Args;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::guard::health::{LIVE_PATH, READY_PATH};
use crate::limits::HEALTH_PROBE_TIMEOUT;

/// Flags of `coffer health`.
#[derive(Debug, Args)]
pub(crate) struct HealthArgs {
    /// Address of the server's plain-HTTP S3 listener, or of its --metrics-listen address
    /// (use that one when the S3 listener serves TLS only).
    #[arg(
        long,
        env = "COFFER_HEALTH_ADDR",
        value_name = "ADDR",
        default_value = "127.0.0.1:9000"
    )]
    addr: SocketAddr,

    /// Probe liveness (the process answers) instead of readiness (it can serve now).
    #[arg(long)]
    live: bool,
}

/// Runs `coffer health`.
///
/// # Errors
/// The server cannot be reached in time, or answers anything but 200.
pub(crate) async fn run(args: HealthArgs) -> anyhow::Result<()> {
    let path = if args.live { LIVE_PATH } else { READY_PATH };
    let status = tokio::time::timeout(HEALTH_PROBE_TIMEOUT, status_of(args.addr, path))
        .await
        .with_context(|| {
            format!(
                "{} did not answer within {HEALTH_PROBE_TIMEOUT:?}",
                args.addr
            )
        })??;
    anyhow::ensure!(status == 200, "{path} on {} answered {status}", args.addr);
    println!("{}", if args.live { "live" } else { "ready" });
    Ok(())
}

/// The status code of `GET path` on `addr`.
async fn status_of(addr: SocketAddr, path: &str) -> anyhow::Result<u16> {
    let mut tcp = tokio::net::TcpStream::connect(addr)
        .await
        .with_context(|| format!("could not connect to {addr}"))?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    tcp.write_all(request.as_bytes())
        .await
        .context("could not send the probe")?;
    // The status line is all we need; the answer is a few dozen bytes.
    let mut head = Vec::with_capacity(256);
    let mut buf = [0u8; 256];
    while !head.windows(2).any(|w| w == b"\r\n") && head.len() < 4096 {
        let n = tcp
            .read(&mut buf)
            .await
            .context("could not read the answer")?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    parse_status(&head).context("the answer is not HTTP")
}

/// The status of an HTTP/1 status line (`HTTP/1.1 200 OK`).
fn parse_status(head: &[u8]) -> Option<u16> {
    let line = head.split(|b| *b == b'\r').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut parts = line.split(' ');
    parts.next()?.strip_prefix("HTTP/")?;
    parts.next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines() {
        assert_eq!(parse_status(b"HTTP/1.1 200 OK\r\n"), Some(200));
        assert_eq!(
            parse_status(b"HTTP/1.1 503 Service Unavailable\r\nx"),
            Some(503)
        );
        assert_eq!(parse_status(b"SSH-2.0-OpenSSH\r\n"), None);
        assert_eq!(parse_status(b""), None);
    }
}
