//! Logging: `tracing` to stderr, filtered by `COFFER_LOG` (or `RUST_LOG`).
//!
//! The default silences s3s: at `debug` it logs whole requests, including the
//! `Authorization` header and presigned query strings, and it logs every client
//! error (4xx) at `error`, with malformed XML bodies included (s3s notes §8.11).
//! Our own layers log each request once, and internal failures with their cause.

use tracing_subscriber::EnvFilter;

/// Filter used when neither variable is set (or the value does not parse).
const DEFAULT_FILTER: &str = "info,s3s=off";

/// Installs the global subscriber. Call once, first thing in `main`.
pub(crate) fn init() {
    let (filter, bad) = match std::env::var("COFFER_LOG").or_else(|_| std::env::var("RUST_LOG")) {
        Ok(text) => match EnvFilter::try_new(&text) {
            Ok(filter) => (filter, false),
            Err(_) => (EnvFilter::new(DEFAULT_FILTER), true),
        },
        Err(_) => (EnvFilter::new(DEFAULT_FILTER), false),
    };
    // Ignore "already set": only tests could install a second subscriber.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
    if bad {
        tracing::warn!(
            default = DEFAULT_FILTER,
            "COFFER_LOG / RUST_LOG does not parse; using the default filter"
        );
    }
}
