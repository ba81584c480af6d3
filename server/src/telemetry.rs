//! Logging: `tracing` to stderr, filtered by `COFFER_LOG` (or `RUST_LOG`), as text lines or
//! (`--log-format json`) one JSON object per line. The format changes the shape only: the
//! same events and fields, so the privacy rules (P6) hold alike.
//!
//! The default silences s3s: at `debug` it logs whole requests, including the
//! `Authorization` header and presigned query strings, and it logs every client
//! error (4xx) at `error`, with malformed XML bodies included (s3s notes §8.11).
//! Our own layers log each request once, and internal failures with their cause.
//!
//! A filter the operator sets that does not name `s3s` keeps it off too (`debug` alone does
//! not turn on s3s's request dumps, which carry bucket names and keys, P6); naming it
//! (`COFFER_LOG=debug,s3s=debug`) is the explicit opt-in.

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Filter used when neither variable is set (or the value does not parse).
const DEFAULT_FILTER: &str = "info,s3s=off";

/// Installs the global subscriber, writing `format`. Call once, first thing in `main`.
pub(crate) fn init(format: LogFormat) {
    let (filter, bad) = match std::env::var("COFFER_LOG").or_else(|_| std::env::var("RUST_LOG")) {
        Ok(text) => match EnvFilter::try_new(operator_filter(&text)) {
            Ok(filter) => (filter, false),
            Err(_) => (EnvFilter::new(DEFAULT_FILTER), true),
        },
        Err(_) => (EnvFilter::new(DEFAULT_FILTER), false),
    };
    // Ignore "already set": only tests could install a second subscriber.
    let _ = match format {
        LogFormat::Text => tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init(),
        // The request span's id rides on every line; the span list would repeat it.
        LogFormat::Json => tracing_subscriber::fmt()
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .try_init(),
    };
    if bad {
        tracing::warn!(
            default = DEFAULT_FILTER,
            "COFFER_LOG / RUST_LOG does not parse; using the default filter"
        );
    }
}

/// The operator's filter, with s3s kept off unless the filter names it.
fn operator_filter(text: &str) -> String {
    if text.contains("s3s") {
        text.to_owned()
    } else if text.trim().is_empty() {
        DEFAULT_FILTER.to_owned()
    } else {
        format!("{text},s3s=off")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p6_s3s_stays_off_unless_named() {
        assert_eq!(operator_filter("debug"), "debug,s3s=off");
        assert_eq!(operator_filter("trace"), "trace,s3s=off");
        assert_eq!(operator_filter("info,s3s=debug"), "info,s3s=debug");
        assert_eq!(operator_filter(""), DEFAULT_FILTER);
        assert!(EnvFilter::try_new(operator_filter("coffer=debug")).is_ok());
    }
}
