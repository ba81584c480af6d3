//! A tiny HTTP/1.1 client over a raw TCP socket.
//!
//! The SDKs always sign and always send well-formed bodies; the auth and integrity tests need
//! to send exactly the bytes they choose (no `Authorization`, a body shorter than its
//! `Content-Length`, extra unsigned headers). One request per connection (`Connection: close`).

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

pub const RAW_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Debug, Clone)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The `<Code>` of an S3 XML error body, if any.
    pub fn s3_code(&self) -> Option<String> {
        let t = self.text();
        let start = t.find("<Code>")? + "<Code>".len();
        let end = t[start..].find("</Code>")? + start;
        Some(t[start..end].to_owned())
    }
}

/// What came back on a raw connection.
#[derive(Debug)]
pub enum RawOutcome {
    Response(RawResponse),
    /// The server closed the connection without a complete response header.
    Closed {
        bytes: Vec<u8>,
    },
}

/// Build a request head (request line + headers + blank line). `Host` (unless `headers`
/// has one: a virtual-hosted name) and `Connection: close` are added; add `Content-Length`
/// yourself via `headers` when needed.
pub fn request_head(
    addr: SocketAddr,
    method: &str,
    path_and_query: &str,
    headers: &[(&str, &str)],
) -> Vec<u8> {
    let mut head = keep_alive_head(addr, method, path_and_query, headers);
    head.truncate(head.len() - 2);
    head.extend_from_slice(b"Connection: close\r\n\r\n");
    head
}

/// [`request_head`] without `Connection: close`, for a connection that carries more than
/// one request ([`Conn`]).
pub fn keep_alive_head(
    addr: SocketAddr,
    method: &str,
    path_and_query: &str,
    headers: &[(&str, &str)],
) -> Vec<u8> {
    let mut head = format!("{method} {path_and_query} HTTP/1.1\r\n");
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        let _ = write!(head, "Host: {addr}\r\n");
    }
    for (k, v) in headers {
        let _ = write!(head, "{k}: {v}\r\n");
    }
    head.push_str("\r\n");
    head.into_bytes()
}

/// One keep-alive connection, read one response at a time: for tests of what the server
/// does with the connection after a response (`Expect: 100-continue`, refusals).
pub struct Conn {
    stream: TcpStream,
    /// Bytes read past the last response.
    buf: Vec<u8>,
}

/// What the next read on a [`Conn`] found.
#[derive(Debug)]
pub enum Next {
    /// A whole response (interim `100 Continue` responses included, as they come).
    Response(RawResponse),
    /// The server closed the connection cleanly (EOF) before a response began.
    Closed,
    /// The connection was reset.
    Reset,
}

impl Conn {
    pub async fn open(addr: SocketAddr) -> Conn {
        let stream = TcpStream::connect(addr).await.expect("connect");
        Conn::on(stream)
    }

    fn on(stream: TcpStream) -> Conn {
        stream.set_nodelay(true).expect("nodelay");
        Conn {
            stream,
            buf: Vec::new(),
        }
    }

    /// Writes `bytes`; a write error (the server closed) is returned, not a panic.
    pub async fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes).await
    }

    /// Reads the next response (head and `Content-Length` body), waiting at most `wait`;
    /// `None` when nothing complete arrived in time (the server is waiting for us).
    pub async fn next(&mut self, wait: Duration, is_head: bool) -> Option<Next> {
        let read = async {
            let mut chunk = vec![0u8; 64 * 1024];
            loop {
                if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = parse_response(&self.buf[..end + 4], true)?;
                    let len = if is_head || head.status < 200 {
                        0
                    } else {
                        head.header("content-length")
                            .and_then(|v| v.parse::<usize>().ok())
                            .unwrap_or(0)
                    };
                    if self.buf.len() >= end + 4 + len {
                        let rest = self.buf.split_off(end + 4 + len);
                        let body = self.buf[end + 4..].to_vec();
                        self.buf = rest;
                        return Some(Next::Response(RawResponse { body, ..head }));
                    }
                }
                match self.stream.read(&mut chunk).await {
                    Ok(0) if self.buf.is_empty() => return Some(Next::Closed),
                    Ok(0) => return None,
                    Err(_) => return Some(Next::Reset),
                    Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                }
            }
        };
        tokio::time::timeout(wait, read).await.ok().flatten()
    }
}

/// Send a complete request with `body` (adding `Content-Length` unless the caller set it,
/// or for GET/HEAD/DELETE without a body) and read the response.
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path_and_query: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> RawResponse {
    let mut all: Vec<(&str, &str)> = headers.to_vec();
    let len = body.len().to_string();
    let has_len = headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-length"));
    let needs_len = !body.is_empty() || matches!(method, "PUT" | "POST");
    if needs_len && !has_len {
        all.push(("Content-Length", &len));
    }
    let mut bytes = request_head(addr, method, path_and_query, &all);
    bytes.extend_from_slice(body);
    match exchange(addr, &bytes, false, method == "HEAD").await {
        RawOutcome::Response(r) => r,
        RawOutcome::Closed { bytes } => panic!(
            "{method} {path_and_query}: connection closed without a response ({} bytes: {:?})",
            bytes.len(),
            String::from_utf8_lossy(&bytes)
        ),
    }
}

/// Write `bytes`, optionally shut down our write half (so the server sees EOF), then read
/// A browser form upload (POST Object) of `body`, built with `boundary=xyz` (as
/// [`super::sign::form_body`] builds it), to `bucket`.
pub async fn post_form(addr: SocketAddr, bucket: &str, body: &[u8]) -> RawResponse {
    request(
        addr,
        "POST",
        &format!("/{bucket}"),
        &[("Content-Type", "multipart/form-data; boundary=xyz")],
        body,
    )
    .await
}

/// until the server closes the connection (at most [`RAW_TIMEOUT`]).
pub async fn exchange(
    addr: SocketAddr,
    bytes: &[u8],
    shutdown_write: bool,
    is_head: bool,
) -> RawOutcome {
    exchange_from(None, addr, bytes, shutdown_write, is_head).await
}

/// [`request`] from a chosen local address (any of 127.0.0.0/8 works on loopback), so a
/// test can play several clients.
pub async fn request_from(
    source: std::net::IpAddr,
    addr: SocketAddr,
    method: &str,
    path_and_query: &str,
    headers: &[(&str, &str)],
) -> RawResponse {
    let bytes = request_head(addr, method, path_and_query, headers);
    match exchange_from(Some(source), addr, &bytes, false, method == "HEAD").await {
        RawOutcome::Response(r) => r,
        RawOutcome::Closed { bytes } => panic!(
            "{method} {path_and_query}: connection closed without a response ({} bytes)",
            bytes.len()
        ),
    }
}

async fn exchange_from(
    source: Option<std::net::IpAddr>,
    addr: SocketAddr,
    bytes: &[u8],
    shutdown_write: bool,
    is_head: bool,
) -> RawOutcome {
    let fut = async {
        let mut stream = match source {
            None => TcpStream::connect(addr).await.expect("connect"),
            Some(ip) => {
                let socket = tokio::net::TcpSocket::new_v4().expect("socket");
                socket.bind(SocketAddr::new(ip, 0)).expect("bind source");
                socket.connect(addr).await.expect("connect")
            }
        };
        stream.set_nodelay(true).expect("nodelay");
        // The server may answer (and close) before reading all we send: ignore write errors.
        let _ = stream.write_all(bytes).await;
        if shutdown_write {
            let _ = stream.shutdown().await;
        }
        let mut buf = Vec::new();
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        buf
    };
    let buf = tokio::time::timeout(RAW_TIMEOUT, fut)
        .await
        .expect("raw HTTP exchange timed out (server neither answered nor closed)");
    match parse_response(&buf, is_head) {
        Some(r) => RawOutcome::Response(r),
        None => RawOutcome::Closed { bytes: buf },
    }
}

fn parse_response(buf: &[u8], is_head: bool) -> Option<RawResponse> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&buf[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let status: u16 = status_line.split_whitespace().nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let rest = &buf[end + 4..];
    let chunked = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.to_ascii_lowercase().contains("chunked")
    });
    let body = if is_head {
        // Whatever follows the head of a HEAD response is a protocol violation; keep it so
        // tests can assert it is empty.
        rest.to_vec()
    } else if chunked {
        decode_chunked(rest)
    } else if let Some(len) = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok())
    {
        rest[..len.min(rest.len())].to_vec()
    } else {
        rest.to_vec()
    };
    Some(RawResponse {
        status,
        headers,
        body,
    })
}

fn decode_chunked(mut rest: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(pos) = rest.windows(2).position(|w| w == b"\r\n") {
        let size_str = String::from_utf8_lossy(&rest[..pos]);
        let size_str = size_str.split(';').next().unwrap_or("").trim().to_owned();
        let Ok(size) = usize::from_str_radix(&size_str, 16) else {
            break;
        };
        rest = &rest[pos + 2..];
        if size == 0 || rest.len() < size {
            out.extend_from_slice(&rest[..size.min(rest.len())]);
            break;
        }
        out.extend_from_slice(&rest[..size]);
        rest = rest.get(size + 2..).unwrap_or(&[]);
    }
    out
}

/// Split an absolute `http://host:port/path?query` URL into its path-and-query.
pub fn path_and_query(url: &str) -> String {
    let uri: http::Uri = url.parse().expect("valid URL");
    uri.path_and_query()
        .map_or_else(|| "/".to_owned(), |pq| pq.as_str().to_owned())
}
