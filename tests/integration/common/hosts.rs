//! A server reached by name: `coffer serve --domain coffer.test`, and clients that resolve
//! `coffer.test` and every `<bucket>.coffer.test` to 127.0.0.1 in the test itself (no real
//! DNS), so they address buckets virtual-hosted style as they would in production.

use std::net::{IpAddr, Ipv4Addr};

use aws_sdk_s3::Client;
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::client::dns::{DnsFuture, ResolveDns, ResolveDnsError};

use super::{Expect, Server, TestEnv, s3_config};

/// The `--domain` of these tests (`.test` is reserved: it never resolves for real).
pub const TEST_DOMAIN: &str = "coffer.test";

/// Whether `name` is [`TEST_DOMAIN`] or a name under it.
pub fn is_test_name(name: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == TEST_DOMAIN
        || name
            .strip_suffix(TEST_DOMAIN)
            .is_some_and(|rest| rest.ends_with('.'))
}

/// Resolves [`TEST_DOMAIN`] and the names under it to 127.0.0.1, and nothing else.
#[derive(Debug, Clone)]
pub struct LoopbackResolver;

impl ResolveDns for LoopbackResolver {
    fn resolve_dns<'a>(&'a self, name: &'a str) -> DnsFuture<'a> {
        DnsFuture::ready(if is_test_name(name) {
            Ok(vec![IpAddr::V4(Ipv4Addr::LOCALHOST)])
        } else {
            Err(ResolveDnsError::new(std::io::Error::other(format!(
                "{name} is not a test name"
            ))))
        })
    }
}

impl TestEnv {
    /// `coffer serve --ephemeral --listen 127.0.0.1:0 --domain coffer.test`.
    pub fn start_with_domain(&self) -> Server {
        self.start(
            &[
                "serve",
                "--ephemeral",
                "--listen",
                "127.0.0.1:0",
                "--domain",
                TEST_DOMAIN,
            ],
            &[],
            &Expect::PrintedCredentials,
        )
    }
}

impl Server {
    /// `http://coffer.test:<port>`: the endpoint a client configured by name uses.
    pub fn domain_endpoint(&self) -> String {
        format!("http://{TEST_DOMAIN}:{}", self.addr.port())
    }

    /// `<bucket>.coffer.test:<port>`: the `Host` of a virtual-hosted request.
    pub fn bucket_host(&self, bucket: &str) -> String {
        format!("{bucket}.{TEST_DOMAIN}:{}", self.addr.port())
    }

    /// An aws-sdk-s3 client as an application configures it for a named server: endpoint
    /// `http://coffer.test:<port>` and the SDK's default addressing, virtual-hosted style.
    pub fn virtual_hosted_client(&self) -> Client {
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(Provider::Rustls(CryptoMode::Ring))
            .build_with_resolver(LoopbackResolver);
        let cfg = s3_config(
            &self.domain_endpoint(),
            &self.access_key,
            &self.secret_key,
            None,
        )
        .force_path_style(false)
        .http_client(http);
        Client::from_conf(cfg.build())
    }
}
