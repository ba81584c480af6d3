//! P7: TLS. With `--tls-cert`/`--tls-key` Coffer serves HTTPS (HTTP/1.1 and h2 by ALPN) to
//! clients that verify it against a CA made in the test; SIGHUP swaps the certificate without
//! dropping open connections; plain HTTP on a non-loopback address is refused at start
//! unless `--insecure-http` is given, and then warned about.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_s3::Client;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::{Credentials, Region};
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::common::raw::{self, RawOutcome};
use crate::common::{Expect, Server, TestEnv, create_bucket, get, put, wait_child};

/// A test CA.
struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl Ca {
    fn new() -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "Coffer test CA");
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        Ca { issuer }
    }

    fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// A server certificate for `localhost` and 127.0.0.1: (cert PEM, key PEM, cert DER).
    fn leaf(&self, name: &str) -> (String, String, CertificateDer<'static>) {
        let mut params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem(), cert.der().clone())
    }
}

/// Writes the PEM files of `leaf` into the env's scratch dir (replacing them atomically).
fn write_leaf(env: &TestEnv, cert_pem: &str, key_pem: &str) -> (PathBuf, PathBuf) {
    let dir = env.scratch();
    let cert = dir.join("server.crt");
    let key = dir.join("server.key");
    for (path, text) in [(&cert, cert_pem), (&key, key_pem)] {
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, path).unwrap();
    }
    (cert, key)
}

fn start_tls(env: &TestEnv, listen: &str, cert: &Path, key: &Path) -> Server {
    let server = env.start(
        &[
            "serve",
            "--ephemeral",
            "--listen",
            listen,
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
        &[],
        &Expect::PrintedCredentials,
    );
    assert!(
        server.endpoint.starts_with("https://"),
        "endpoint {}",
        server.endpoint
    );
    server
}

/// aws-sdk-s3 over HTTPS, trusting only `ca_pem` (no system roots).
fn https_client(server: &Server, ca_pem: Option<&str>) -> Client {
    let mut trust = TrustStore::empty().with_native_roots(false);
    if let Some(pem) = ca_pem {
        trust = trust.with_pem_certificate(pem.as_bytes().to_vec());
    }
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .tls_context(
            TlsContext::builder()
                .with_trust_store(trust)
                .build()
                .unwrap(),
        )
        .build_https();
    let cfg = aws_sdk_s3::Config::builder()
        .behavior_version_latest()
        .endpoint_url(&server.endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            &server.access_key,
            &server.secret_key,
            None,
            None,
            "test",
        ))
        .force_path_style(true)
        .retry_config(RetryConfig::disabled())
        .http_client(http)
        .build();
    Client::from_conf(cfg)
}

/// A rustls client connection trusting `ca`, offering `alpn`.
async fn connect(server: &Server, ca: &Ca, alpn: &[&[u8]]) -> TlsStream<TcpStream> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.issuer.der().clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap()
}

fn peer_leaf(stream: &TlsStream<TcpStream>) -> CertificateDer<'static> {
    stream.get_ref().1.peer_certificates().unwrap()[0]
        .clone()
        .into_owned()
}

/// One unsigned HTTP/1.1 request on a kept-alive connection; returns the status.
async fn http1_request(stream: &mut TlsStream<TcpStream>) -> u16 {
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map_or(0, |v| v.trim().parse().unwrap());
            if buf.len() >= end + 4 + len {
                let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
                return status;
            }
        }
        assert!(Instant::now() < deadline, "no response");
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk))
            .await
            .expect("read timed out")
            .unwrap();
        assert!(n > 0, "connection closed");
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn signal(pid: u32, sig: &str) {
    let status = std::process::Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p7_tls_serves_verified_clients_over_http1_and_h2() {
    let env = TestEnv::new();
    let ca = Ca::new();
    let (cert_pem, key_pem, _) = ca.leaf("coffer-test");
    let (cert, key) = write_leaf(&env, &cert_pem, &key_pem);
    let server = start_tls(&env, "127.0.0.1:0", &cert, &key);

    // A real client that verifies the certificate against the test CA.
    let s3 = https_client(&server, Some(&ca.pem()));
    create_bucket(&s3, "clinic").await;
    put(&s3, "clinic", "scan.jpg", b"over tls").await;
    assert_eq!(get(&s3, "clinic", "scan.jpg").await, b"over tls");

    // A client that does not trust the CA refuses the connection.
    let untrusting = https_client(&server, None);
    let err = untrusting.list_buckets().send().await.unwrap_err();
    assert!(
        aws_sdk_s3::error::DisplayErrorContext(&err)
            .to_string()
            .to_ascii_lowercase()
            .contains("certificate"),
        "{}",
        aws_sdk_s3::error::DisplayErrorContext(&err)
    );

    // ALPN: h2 when offered, HTTP/1.1 otherwise.
    let mut h2 = connect(&server, &ca, &[b"h2", b"http/1.1"]).await;
    assert_eq!(h2.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    h2.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0")
        .await
        .unwrap();
    let mut frame = [0u8; 9];
    tokio::time::timeout(Duration::from_secs(10), h2.read_exact(&mut frame))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(frame[3], 0x4, "the server's first h2 frame is SETTINGS");
    let mut h1 = connect(&server, &ca, &[b"http/1.1"]).await;
    assert_eq!(h1.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    assert_eq!(http1_request(&mut h1).await, 403, "unsigned over TLS");

    // Plain HTTP to the TLS port gets no HTTP response.
    let head = raw::request_head(server.addr, "GET", "/", &[]);
    match raw::exchange(server.addr, &head, true, false).await {
        RawOutcome::Closed { .. } => {}
        RawOutcome::Response(r) => panic!("plain HTTP answered: {} {}", r.status, r.text()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p7_sighup_reloads_the_certificate_without_dropping_connections() {
    let env = TestEnv::new();
    let ca = Ca::new();
    let (first_pem, first_key, first_der) = ca.leaf("first");
    let (cert, key) = write_leaf(&env, &first_pem, &first_key);
    let server = start_tls(&env, "127.0.0.1:0", &cert, &key);

    let mut open = connect(&server, &ca, &[b"http/1.1"]).await;
    assert_eq!(peer_leaf(&open), first_der);
    assert_eq!(http1_request(&mut open).await, 403);

    // Replace the files and send SIGHUP: new connections get the new certificate.
    let (second_pem, second_key, second_der) = ca.leaf("second");
    write_leaf(&env, &second_pem, &second_key);
    signal(server.pid(), "-HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let fresh = connect(&server, &ca, &[b"http/1.1"]).await;
        if peer_leaf(&fresh) == second_der {
            break;
        }
        assert!(Instant::now() < deadline, "certificate not reloaded");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The connection opened before the reload still works.
    assert_eq!(http1_request(&mut open).await, 403);
    let s3 = https_client(&server, Some(&ca.pem()));
    s3.list_buckets().send().await.unwrap();

    // A broken replacement is refused and the current certificate stays.
    std::fs::write(&key, "not a key").unwrap();
    signal(server.pid(), "-HUP");
    let log_has_failure = crate::common::eventually(Duration::from_secs(10), || {
        std::fs::read_to_string(&server.log)
            .unwrap_or_default()
            .contains("reload failed")
    })
    .await;
    assert!(log_has_failure, "no reload failure logged");
    let fresh = connect(&server, &ca, &[b"http/1.1"]).await;
    assert_eq!(peer_leaf(&fresh), second_der);
    assert_eq!(http1_request(&mut open).await, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p7_non_loopback_needs_tls_or_insecure_http() {
    let env = TestEnv::new();

    // Plain HTTP on all interfaces: refused at start, with the fix in the message.
    let (mut cmd, log) = env.command(&["serve", "--ephemeral", "--listen", "0.0.0.0:0"], &[]);
    let mut child = cmd.spawn().unwrap();
    let status = wait_child(&mut child, Duration::from_secs(20));
    assert_eq!(status.code(), Some(2));
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("--tls-cert") && text.contains("--insecure-http"),
        "{text}"
    );

    // With --insecure-http it starts, and warns.
    let server = env.start(
        &[
            "serve",
            "--ephemeral",
            "--listen",
            "0.0.0.0:0",
            "--insecure-http",
        ],
        &[],
        &Expect::PrintedCredentials,
    );
    assert!(server.endpoint.starts_with("http://"));
    let warned = std::fs::read_to_string(&server.log)
        .unwrap()
        .contains("--insecure-http");
    assert!(warned, "no warning about plain HTTP beyond loopback");
    drop(server);

    // With TLS it starts, and the printed endpoint is https.
    let ca = Ca::new();
    let (cert_pem, key_pem, _) = ca.leaf("coffer-test");
    let (cert, key) = write_leaf(&env, &cert_pem, &key_pem);
    let server = start_tls(&env, "0.0.0.0:0", &cert, &key);
    https_client(&server, Some(&ca.pem()))
        .list_buckets()
        .send()
        .await
        .unwrap();
}
