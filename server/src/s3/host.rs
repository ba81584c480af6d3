//! Virtual-hosted-style addressing: which bucket, if any, a `Host` header names.
//!
//! With `--domain files.clinic.example`, `Host: scans.files.clinic.example:9000` addresses
//! bucket `scans`; `Host: files.clinic.example`, an IP address, or any other name is
//! path-style (`/bucket/key`), as without `--domain`.
//!
//! # Design
//! s3s's own parsers (`SingleDomain`, `MultiDomain`) compare the whole header, port
//! included, and take any host they do not recognise for a bucket name (s3s notes §1.3):
//! behind a port, or reached by a name the operator did not configure, every request would
//! go to the wrong bucket or fail. [`DomainHost`] strips the port, compares names without
//! regard to case, prefers the longest configured domain (so `a.example` and
//! `b.a.example` can both be served), and answers path-style for anything it does not
//! know. The signature is unaffected: s3s verifies it against the `Host` and path the
//! client sent, so a request signed for one style does not verify in the other.

use std::borrow::Cow;
use std::net::IpAddr;

use s3s::S3Result;
use s3s::host::{S3Host, VirtualHost};

/// Longest DNS name (RFC 1035).
const MAX_NAME: usize = 253;
/// Longest DNS label (RFC 1035).
const MAX_LABEL: usize = 63;

/// A `--domain` value: a DNS name, lower-case, without a trailing dot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Domain(String);

/// Why a `--domain` value is not a DNS name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum DomainError {
    /// Nothing given.
    #[error("it is empty")]
    Empty,
    /// An address: buckets cannot be subdomains of it.
    #[error("it is an IP address; virtual-hosted style needs a DNS name")]
    IpAddress,
    /// Not `label.label…` of letters, digits and inner hyphens.
    #[error(
        "it is not a DNS name (labels of 1 to 63 letters, digits and inner '-', 253 characters at most, no port)"
    )]
    NotDnsName,
}

impl Domain {
    /// Validates `name` as a DNS name (not an IP address, no port).
    ///
    /// # Errors
    /// [`DomainError`] says what is wrong.
    pub(crate) fn parse(name: &str) -> Result<Domain, DomainError> {
        let name = name.trim();
        let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
        if name.is_empty() {
            return Err(DomainError::Empty);
        }
        let bracketed = name.strip_prefix('[').and_then(|n| n.strip_suffix(']'));
        if name.parse::<IpAddr>().is_ok() || bracketed.is_some_and(|n| n.parse::<IpAddr>().is_ok())
        {
            return Err(DomainError::IpAddress);
        }
        let label_ok = |label: &str| {
            (1..=MAX_LABEL).contains(&label.len())
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        };
        if name.len() > MAX_NAME || !name.split('.').all(label_ok) {
            return Err(DomainError::NotDnsName);
        }
        // `10.0.0` or `1.2.3.4.5`: a top label of digits only is never a DNS name, and
        // resolvers read such names as addresses.
        if name
            .rsplit('.')
            .next()
            .is_some_and(|top| top.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(DomainError::IpAddress);
        }
        Ok(Domain(name))
    }

    /// The name.
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

/// The `S3Host` of a server with `--domain`s: see the module docs.
pub(crate) struct DomainHost {
    /// Longest first, so the most specific domain wins.
    domains: Vec<Domain>,
}

impl DomainHost {
    /// Serves buckets under each of `domains`.
    pub(crate) fn new(domains: &[Domain]) -> DomainHost {
        let mut domains = domains.to_vec();
        domains.sort_by_key(|d| std::cmp::Reverse(d.0.len()));
        domains.dedup();
        DomainHost { domains }
    }

    /// The bucket `host` names, or `None` for path-style: for requests s3s does not route
    /// (CORS preflights).
    pub(crate) fn bucket_of_host(&self, host: &str) -> Option<String> {
        self.bucket_of(host).map(|(_, bucket)| bucket)
    }

    /// The configured domain and bucket `host` names, or `None` for path-style.
    fn bucket_of(&self, host: &str) -> Option<(&str, String)> {
        let name = strip_port(host)?;
        let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
        for domain in &self.domains {
            if name == domain.0 {
                return None;
            }
            let bucket = name
                .strip_suffix(domain.0.as_str())
                .and_then(|rest| rest.strip_suffix('.'))
                .filter(|bucket| !bucket.is_empty());
            if let Some(bucket) = bucket {
                return Some((domain.as_str(), bucket.to_owned()));
            }
        }
        None
    }
}

/// The name part of a `Host` value (`name` or `name:port`); `None` for an IPv6 literal or
/// anything else that cannot be a bucket's name.
fn strip_port(host: &str) -> Option<&str> {
    if host.starts_with('[') {
        return None;
    }
    match host.rsplit_once(':') {
        None => Some(host),
        Some((name, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => {
            Some(name)
        }
        Some(_) => None,
    }
}

impl S3Host for DomainHost {
    fn parse_host_header<'a>(&'a self, host: &'a str) -> S3Result<VirtualHost<'a>> {
        Ok(match self.bucket_of(host) {
            Some((domain, bucket)) => VirtualHost::new(domain).with_bucket(Cow::Owned(bucket)),
            // Path-style: s3s reads the bucket from the path, as with no S3Host at all.
            None => VirtualHost::new(host),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(domains: &[&str]) -> DomainHost {
        let domains: Vec<Domain> = domains.iter().map(|d| Domain::parse(d).unwrap()).collect();
        DomainHost::new(&domains)
    }

    fn bucket(h: &DomainHost, header: &str) -> Option<String> {
        let vh = h.parse_host_header(header).unwrap();
        vh.bucket().map(str::to_owned)
    }

    #[test]
    fn a_bucket_under_the_domain_with_or_without_a_port() {
        let h = host(&["files.clinic.example"]);
        for header in [
            "scans.files.clinic.example",
            "scans.files.clinic.example:9000",
            "scans.files.clinic.example.",
            "scans.files.clinic.example.:443",
        ] {
            assert_eq!(bucket(&h, header).as_deref(), Some("scans"), "{header}");
        }
        let vh = h
            .parse_host_header("scans.files.clinic.example:9000")
            .unwrap();
        assert_eq!(vh.domain(), "files.clinic.example");
    }

    #[test]
    fn names_are_compared_without_case() {
        let h = host(&["Files.Clinic.Example"]);
        assert_eq!(
            bucket(&h, "SCANS.files.CLINIC.example:9000").as_deref(),
            Some("scans")
        );
    }

    #[test]
    fn the_domain_itself_an_ip_or_another_name_is_path_style() {
        let h = host(&["files.clinic.example"]);
        for header in [
            "files.clinic.example",
            "files.clinic.example:9000",
            "FILES.clinic.example.",
            "127.0.0.1",
            "127.0.0.1:9000",
            "[::1]",
            "[::1]:9000",
            "localhost",
            "localhost:9000",
            // Unknown hosts are never taken for buckets (s3s's own parsers would).
            "scans.other.example",
            "scans.other.example:9000",
            "clinic.example",
            "xfiles.clinic.example",
            ".files.clinic.example",
            "scans.files.clinic.example:port",
            "",
        ] {
            assert_eq!(bucket(&h, header), None, "{header:?}");
        }
    }

    #[test]
    fn bucket_names_with_dots() {
        let h = host(&["files.clinic.example"]);
        assert_eq!(
            bucket(&h, "2024.scans.files.clinic.example:9000").as_deref(),
            Some("2024.scans")
        );
    }

    #[test]
    fn the_longest_domain_wins() {
        for order in [["example", "files.example"], ["files.example", "example"]] {
            let h = host(&order);
            assert_eq!(bucket(&h, "b.files.example").as_deref(), Some("b"));
            // Exactly a configured domain: path-style, even though it sits under another.
            assert_eq!(bucket(&h, "files.example"), None);
            assert_eq!(bucket(&h, "b.other.example").as_deref(), Some("b.other"));
            assert_eq!(bucket(&h, "example"), None);
        }
    }

    #[test]
    fn domains_are_dns_names() {
        assert_eq!(
            Domain::parse("Files.Clinic.Example.").unwrap().as_str(),
            "files.clinic.example"
        );
        assert!(Domain::parse("localhost").is_ok());
        assert!(Domain::parse("s3-1.example").is_ok());
        for (bad, why) in [
            ("", DomainError::Empty),
            (" ", DomainError::Empty),
            (".", DomainError::Empty),
            ("127.0.0.1", DomainError::IpAddress),
            ("10.0.0", DomainError::IpAddress),
            ("::1", DomainError::IpAddress),
            ("[::1]", DomainError::IpAddress),
            ("files.example:9000", DomainError::NotDnsName),
            ("https://files.example", DomainError::NotDnsName),
            ("files..example", DomainError::NotDnsName),
            ("-files.example", DomainError::NotDnsName),
            ("files-.example", DomainError::NotDnsName),
            ("*.files.example", DomainError::NotDnsName),
            ("fil es.example", DomainError::NotDnsName),
        ] {
            assert_eq!(Domain::parse(bad), Err(why), "{bad:?}");
        }
        let long_label = format!("{}.example", "a".repeat(64));
        assert_eq!(Domain::parse(&long_label), Err(DomainError::NotDnsName));
        let long_name = ["abcdefghi"; 26].join(".");
        assert_eq!(Domain::parse(&long_name), Err(DomainError::NotDnsName));
    }
}
