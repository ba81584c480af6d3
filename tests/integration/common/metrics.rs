//! Reading a server's Prometheus metrics (`--metrics-listen`), for the health, metrics
//! and scrub tests.

use std::net::SocketAddr;

use super::Server;
use super::raw;

/// The metrics listener's address, from the `COFFER_METRICS_URL` line.
pub fn metrics_addr(server: &Server) -> SocketAddr {
    let url = &server.vars["COFFER_METRICS_URL"];
    let hostport = url
        .strip_prefix("http://")
        .and_then(|rest| rest.strip_suffix("/metrics"))
        .unwrap_or_else(|| panic!("COFFER_METRICS_URL={url}"));
    hostport.parse().expect("ip:port")
}

pub async fn scrape(server: &Server) -> String {
    let resp = raw::request(metrics_addr(server), "GET", "/metrics", &[], b"").await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(
        resp.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    resp.text()
}

/// The value of the sample `series` (name and labels, exactly as rendered), if present and
/// a whole number (every series the tests read is a count).
pub fn sample(text: &str, series: &str) -> Option<u64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}
