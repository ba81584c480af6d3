//! Logging: `tracing` to stderr, filtered by `COFFER_LOG` (or `RUST_LOG`).
//!
//! The default keeps s3s at `warn`: at `debug` it logs whole requests, including the
//! `Authorization` header and presigned query strings (s3s notes §8.11).

use tracing_subscriber::EnvFilter;

/// Filter used when neither variable is set (or the value does not parse).
const DEFAULT_FILTER: &str = "info,s3s=warn";

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
        .try_init();
    if bad {
        tracing::warn!(
            default = DEFAULT_FILTER,
            "COFFER_LOG / RUST_LOG does not parse; using the default filter"
        );
    }
}
