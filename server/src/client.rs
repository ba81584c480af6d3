//! What is known of the client behind a connection, carried on each of its requests (as a
//! request extension) to the access decision: policy conditions test `aws:SourceIp` and
//! `aws:SecureTransport`.

use std::net::IpAddr;

/// The client of one connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Client {
    /// Its address (the proxy's, behind a reverse proxy).
    pub(crate) peer: IpAddr,
    /// Whether the connection is TLS.
    pub(crate) tls: bool,
}
