//! Coffer's sealed chunks in a remote S3-compatible store: AWS S3, Ceph RGW, Garage, MinIO,
//! or another Coffer.
//!
//! [`S3Chunks`] is the [`RemoteChunks`] of `coffer-storage` over an S3 bucket and prefix.
//! The remote sees sealed bytes under `<prefix>/<deployment>/<bucket id hex>/<chunk id
//! hex>`: a random deployment id, a random bucket id and a keyed hash. No object key,
//! bucket name, size of an object or metadata is ever sent; which objects share content
//! cannot be told without the key.
//!
//! # Design
//! Storage calls its chunk store from blocking threads (sealing and file I/O already run
//! there), so the calls here block: each runs on this client's own small runtime and the
//! caller waits for it, which also works from a thread that belongs to no runtime. The
//! SDK retries with backoff, and every call has a deadline ([`DEADLINE`]): a remote that is
//! down or slow fails the request (`503`) instead of holding it.
//!
//! A chunk is written with `If-None-Match: *`: its name is its content's keyed hash, so an
//! object already there is the same chunk, and a `412` is success. A store that ignores the
//! header (older S3 servers) overwrites it with equal content, which is as good.

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use aws_credential_types::Credentials;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{BehaviorVersion, Region};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
pub use coffer_storage::RemoteChunks;
use coffer_storage::When;
use zeroize::Zeroizing;

/// The longest any one call may take, retries included.
pub const DEADLINE: Duration = Duration::from_secs(30);
/// The longest one attempt may take (a chunk is at most 64 MiB).
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(20);
/// The longest a connection may take to open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// The longest a probe (readiness, start-up) waits for an answer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);
/// Attempts per call, the first included.
const ATTEMPTS: u32 = 4;
/// Threads of the client's own runtime.
const THREADS: usize = 2;

/// Why a remote chunk store cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The location is not `s3://BUCKET[/PREFIX]`.
    #[error(
        "the chunk store must be given as s3://BUCKET or s3://BUCKET/PREFIX (bucket: 3 to 63 lower-case letters, digits, '.' and '-')"
    )]
    BadLocation,
    /// The endpoint is not an `http://` or `https://` URL.
    #[error("the chunk store's endpoint must be an http:// or https:// URL")]
    BadEndpoint,
    /// The client's runtime could not start.
    #[error("could not start the chunk store's client: {0}")]
    Runtime(#[source] io::Error),
}

/// Where the chunks go: a bucket, and a prefix inside it (`""`: the bucket's root).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    /// The remote bucket.
    pub bucket: String,
    /// Names start with it (no leading or trailing `/`).
    pub prefix: String,
}

impl Location {
    /// Parses `s3://BUCKET` or `s3://BUCKET/PREFIX`.
    ///
    /// # Errors
    /// [`Error::BadLocation`].
    pub fn parse(text: &str) -> Result<Location, Error> {
        let rest = text.strip_prefix("s3://").ok_or(Error::BadLocation)?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
        let prefix = prefix.trim_matches('/');
        if !bucket_ok || prefix.contains("//") || prefix.len() > 512 {
            return Err(Error::BadLocation);
        }
        Ok(Location {
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
        })
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.prefix.is_empty() {
            write!(f, "s3://{}", self.bucket)
        } else {
            write!(f, "s3://{}/{}", self.bucket, self.prefix)
        }
    }
}

/// How to reach the remote.
pub struct Settings {
    /// Bucket and prefix.
    pub location: Location,
    /// `http(s)://host[:port]` of the S3 endpoint.
    pub endpoint: String,
    /// The region to sign for.
    pub region: String,
    /// The access key id.
    pub access_key: String,
    /// The secret key.
    pub secret_key: Zeroizing<String>,
    /// This deployment's random id: every name goes under it.
    pub deployment: String,
}

/// A remote S3 bucket holding sealed chunks (see the crate docs).
pub struct S3Chunks {
    client: Client,
    bucket: String,
    /// `<prefix>/<deployment>/`, or `<deployment>/` at the bucket's root.
    base: String,
    runtime: Option<tokio::runtime::Runtime>,
}

impl std::fmt::Debug for S3Chunks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The bucket and base are configuration; the credentials never show.
        f.debug_struct("S3Chunks")
            .field("bucket", &self.bucket)
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl Drop for S3Chunks {
    fn drop(&mut self) {
        // Dropping a runtime from async code panics; letting it go in the background does
        // not, and no call is running once the store is gone.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

fn remote_error<E, R>(what: &str, err: &SdkError<E, R>) -> io::Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let detail = match err {
        SdkError::ServiceError(service) => format!(
            "{} ({})",
            service.err().code().unwrap_or("an error"),
            service.err().message().unwrap_or("no message")
        ),
        SdkError::TimeoutError(_) => "timed out".to_owned(),
        SdkError::DispatchFailure(_) => "could not reach it".to_owned(),
        other => other.to_string(),
    };
    io::Error::other(format!("{what}: {detail}"))
}

/// The HTTP status of a failed call, if it got a response.
fn status_of<E>(err: &SdkError<E, HttpResponse>) -> Option<u16> {
    err.raw_response().map(|r| r.status().as_u16())
}

impl S3Chunks {
    /// A client for `settings`. Nothing is sent until the first call.
    ///
    /// # Errors
    /// [`Error::BadEndpoint`], [`Error::Runtime`].
    pub fn connect(settings: &Settings) -> Result<S3Chunks, Error> {
        if !(settings.endpoint.starts_with("http://") || settings.endpoint.starts_with("https://"))
        {
            return Err(Error::BadEndpoint);
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(THREADS)
            .thread_name("coffer-remote")
            .enable_all()
            .build()
            .map_err(Error::Runtime)?;
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
            ))
            .build_https();
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(&settings.endpoint)
            .region(Region::new(settings.region.clone()))
            .credentials_provider(Credentials::new(
                settings.access_key.clone(),
                settings.secret_key.as_str(),
                None,
                None,
                "coffer-chunk-store",
            ))
            .force_path_style(true)
            .retry_config(RetryConfig::standard().with_max_attempts(ATTEMPTS))
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(CONNECT_TIMEOUT)
                    .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                    .operation_timeout(DEADLINE)
                    .build(),
            )
            .http_client(http)
            .build();
        let base = [
            settings.location.prefix.as_str(),
            settings.deployment.as_str(),
        ]
        .iter()
        .filter(|part| !part.is_empty())
        .fold(String::new(), |base, part| format!("{base}{part}/"));
        Ok(S3Chunks {
            client: Client::from_conf(config),
            bucket: settings.location.bucket.clone(),
            base,
            runtime: Some(runtime),
        })
    }

    /// Runs `call` on the client's runtime and waits for it.
    fn run<T: Send + 'static>(
        &self,
        call: impl Future<Output = io::Result<T>> + Send + 'static,
    ) -> io::Result<T> {
        let Some(runtime) = &self.runtime else {
            return Err(io::Error::other("the chunk store's client has stopped"));
        };
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        runtime.spawn(async move {
            let _ = tx.send(call.await);
        });
        rx.recv()
            .map_err(|_| io::Error::other("a chunk store call ended without an answer"))?
    }

    fn key(&self, name: &str) -> String {
        format!("{}{name}", self.base)
    }
}

impl RemoteChunks for S3Chunks {
    fn probe(&self) -> io::Result<()> {
        let (client, bucket, prefix) =
            (self.client.clone(), self.bucket.clone(), self.base.clone());
        self.run(async move {
            let listing = client
                .list_objects_v2()
                .bucket(bucket)
                .prefix(prefix)
                .max_keys(1)
                .send();
            match tokio::time::timeout(PROBE_TIMEOUT, listing).await {
                Ok(answer) => answer.map(|_| ()).map_err(|e| remote_error("list", &e)),
                Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "no answer in time")),
            }
        })
    }

    fn put(&self, name: &str, sealed: &[u8]) -> io::Result<()> {
        let (client, bucket, key) = (self.client.clone(), self.bucket.clone(), self.key(name));
        let body = ByteStream::from(sealed.to_vec());
        self.run(async move {
            match client
                .put_object()
                .bucket(bucket)
                .key(key)
                .if_none_match("*")
                .body(body)
                .send()
                .await
            {
                Ok(_) => Ok(()),
                // There already: the same chunk (its name is its content's keyed hash).
                Err(e) if status_of(&e) == Some(412) => Ok(()),
                Err(e) => Err(remote_error("store a chunk", &e)),
            }
        })
    }

    fn get(&self, name: &str) -> io::Result<Option<Vec<u8>>> {
        let (client, bucket, key) = (self.client.clone(), self.bucket.clone(), self.key(name));
        self.run(async move {
            let out = match client.get_object().bucket(bucket).key(key).send().await {
                Ok(out) => out,
                Err(e) if status_of(&e) == Some(404) => return Ok(None),
                Err(e) => return Err(remote_error("read a chunk", &e)),
            };
            let bytes = out
                .body
                .collect()
                .await
                .map_err(|e| io::Error::other(format!("read a chunk: {e}")))?;
            Ok(Some(bytes.into_bytes().to_vec()))
        })
    }

    fn size(&self, name: &str) -> io::Result<Option<u64>> {
        let (client, bucket, key) = (self.client.clone(), self.bucket.clone(), self.key(name));
        self.run(async move {
            match client.head_object().bucket(bucket).key(key).send().await {
                Ok(out) => Ok(Some(
                    out.content_length()
                        .and_then(|n| u64::try_from(n).ok())
                        .unwrap_or(0),
                )),
                Err(e) if status_of(&e) == Some(404) => Ok(None),
                Err(e) => Err(remote_error("look a chunk up", &e)),
            }
        })
    }

    fn delete(&self, name: &str) -> io::Result<()> {
        let (client, bucket, key) = (self.client.clone(), self.bucket.clone(), self.key(name));
        self.run(async move {
            match client.delete_object().bucket(bucket).key(key).send().await {
                Ok(_) => Ok(()),
                Err(e) if status_of(&e) == Some(404) => Ok(()),
                Err(e) => Err(remote_error("remove a chunk", &e)),
            }
        })
    }

    fn put_when(&self, name: &str, bytes: &[u8], when: When) -> io::Result<Option<()>> {
        let (client, bucket, key) = (self.client.clone(), self.bucket.clone(), self.key(name));
        let body = ByteStream::from(bytes.to_vec());
        self.run(async move {
            let request = client.put_object().bucket(bucket).key(key).body(body);
            let request = match when {
                When::Always => request,
                When::Absent => request.if_none_match("*"),
            };
            match request.send().await {
                Ok(_) => Ok(Some(())),
                // 409: a conditional write raced another one (AWS answers either).
                Err(e) if matches!(status_of(&e), Some(412 | 409)) => Ok(None),
                Err(e) => Err(remote_error("write", &e)),
            }
        })
    }

    fn list(&self, prefix: &str) -> io::Result<Vec<(String, u64)>> {
        self.list_under(prefix, false).map(|(objects, _)| objects)
    }
}

/// Objects (name after the base, size) and, with `folders`, the names of the next level
/// down (`Delimiter: /`), both relative to the base.
type Listing = (Vec<(String, u64)>, Vec<String>);

impl S3Chunks {
    /// Every page of a listing under `prefix` (after the base).
    fn list_under(&self, prefix: &str, folders: bool) -> io::Result<Listing> {
        let (client, bucket) = (self.client.clone(), self.bucket.clone());
        let (base, full) = (self.base.clone(), self.key(prefix));
        self.run(async move {
            let (mut objects, mut children) = (Vec::new(), Vec::new());
            let mut token: Option<String> = None;
            loop {
                let page = client
                    .list_objects_v2()
                    .bucket(bucket.clone())
                    .prefix(full.clone())
                    .set_delimiter(folders.then(|| "/".to_owned()))
                    .set_continuation_token(token.take())
                    .send()
                    .await
                    .map_err(|e| remote_error("list", &e))?;
                for object in page.contents() {
                    let Some(name) = object.key().and_then(|k| k.strip_prefix(&base)) else {
                        continue;
                    };
                    let size = object.size().and_then(|n| u64::try_from(n).ok());
                    objects.push((name.to_owned(), size.unwrap_or(0)));
                }
                children.extend(page.common_prefixes().iter().filter_map(|p| {
                    let child = p.prefix()?.strip_prefix(&base)?.strip_suffix('/')?;
                    Some(child.to_owned())
                }));
                match page.next_continuation_token() {
                    Some(next) if page.is_truncated() == Some(true) => {
                        token = Some(next.to_owned());
                    }
                    _ => return Ok((objects, children)),
                }
            }
        })
    }
}

/// The deployments under `settings.location` that ship their index (a lease is there): what a standby or a restore may follow. `settings.deployment` is not used.
///
/// # Errors
/// As [`S3Chunks::connect`]; a remote failure as [`Error::Runtime`].
pub fn shipped_deployments(settings: &Settings) -> Result<Vec<String>, Error> {
    let root = S3Chunks::connect(&Settings {
        location: settings.location.clone(),
        endpoint: settings.endpoint.clone(),
        region: settings.region.clone(),
        access_key: settings.access_key.clone(),
        secret_key: settings.secret_key.clone(),
        deployment: String::new(),
    })?;
    let (_, children) = root.list_under("", true).map_err(Error::Runtime)?;
    let mut shipped = Vec::new();
    for child in children {
        let is_id = child.len() == 32 && child.bytes().all(|b| b.is_ascii_hexdigit());
        if is_id
            && !root
                .list(&format!("{child}/index/lease/"))
                .map_err(Error::Runtime)?
                .is_empty()
        {
            shipped.push(child);
        }
    }
    Ok(shipped)
}

/// A shareable [`S3Chunks`], as storage takes it.
///
/// # Errors
/// As [`S3Chunks::connect`].
pub fn connect_shared(settings: &Settings) -> Result<Arc<dyn RemoteChunks>, Error> {
    Ok(Arc::new(S3Chunks::connect(settings)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations() {
        let at = Location::parse("s3://clinic-chunks/coffer/main/").unwrap();
        assert_eq!(at.bucket, "clinic-chunks");
        assert_eq!(at.prefix, "coffer/main");
        assert_eq!(at.to_string(), "s3://clinic-chunks/coffer/main");
        assert_eq!(Location::parse("s3://abc").unwrap().prefix, "");
        for bad in [
            "clinic",
            "s3://",
            "s3://AB",
            "s3://a_b/x",
            "http://x/y",
            "s3://abc/a//b",
        ] {
            assert!(Location::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn endpoints_must_be_urls() {
        let settings = Settings {
            location: Location::parse("s3://abc").unwrap(),
            endpoint: "127.0.0.1:9000".to_owned(),
            region: "us-east-1".to_owned(),
            access_key: "a".to_owned(),
            secret_key: Zeroizing::new("s".to_owned()),
            deployment: "d".to_owned(),
        };
        assert!(matches!(
            S3Chunks::connect(&settings),
            Err(Error::BadEndpoint)
        ));
    }
}
