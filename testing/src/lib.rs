//! A throwaway Coffer S3 server inside a Rust test, with no binary to build or find.
//!
//! [`TestServer::start`] runs the real server (the `coffer serve --in-memory` path: real
//! SigV4, checksums, multipart rules, sealed storage) in the test's own tokio runtime,
//! listening on a free 127.0.0.1 port, and hands back its endpoint, credentials and a ready
//! `aws_sdk_s3::Client`. Nothing touches the disk; dropping the server stops it.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let server = coffer_testing::TestServer::builder()
//!     .bucket("fixtures")
//!     .start()
//!     .await?;
//! let s3 = server.client();
//! s3.put_object()
//!     .bucket("fixtures")
//!     .key("hello.txt")
//!     .body(b"hello"[..].to_vec().into())
//!     .send()
//!     .await?;
//! server.stop().await?;
//! # Ok(())
//! # }
//! ```
//!
//! The test needs a multi-threaded runtime (`#[tokio::test(flavor = "multi_thread")]`):
//! the server's store runs blocking work beside the requests.

use std::collections::BTreeMap;

use aws_sdk_s3::config::{Credentials, Region};
use coffer_server::in_process::{self, Running, StartError};

/// Why a test server could not start or stop cleanly.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server did not start (bad flags, or a failure before it was ready).
    #[error("the test server did not start: {0}")]
    Start(#[from] StartError),
    /// The server started but did not announce what a client needs.
    #[error("the test server did not announce {0}")]
    Missing(&'static str),
    /// The server reported an error as it stopped.
    #[error("the test server failed as it stopped: {0}")]
    Stop(String),
}

/// How to start a [`TestServer`]: `coffer serve --in-memory --listen 127.0.0.1:0` plus
/// what is asked here.
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct Builder {
    buckets: Vec<String>,
    versioning: bool,
    users: usize,
    max_memory: Option<String>,
    on_disk: bool,
    root: Option<(String, String)>,
    flags: Vec<String>,
}

impl Builder {
    /// Creates this bucket before the server is ready (repeatable).
    pub fn bucket(mut self, name: impl Into<String>) -> Builder {
        self.buckets.push(name.into());
        self
    }

    /// Creates the [`Builder::bucket`] buckets with versioning enabled (`--versioning`).
    pub fn versioning(mut self) -> Builder {
        self.versioning = true;
        self
    }

    /// Also creates `n` plain users with one access key each (see [`TestServer::user`]).
    pub fn users(mut self, n: usize) -> Builder {
        self.users = n;
        self
    }

    /// The most memory the stored data may take (`--max-memory`, e.g. `"64MiB"`; 1 GiB if
    /// not set). Past it, writes get `503 SlowDown`.
    pub fn max_memory(mut self, size: impl Into<String>) -> Builder {
        self.max_memory = Some(size.into());
        self
    }

    /// Keeps the data in a temporary directory (`--ephemeral`) instead of memory: for data
    /// larger than memory.
    pub fn on_disk(mut self) -> Builder {
        self.on_disk = true;
        self
    }

    /// A fixed root credential instead of a generated one, for reproducible fixtures. The
    /// secret is held to the server's rule (40 characters as AWS's, or at least 16 mixed
    /// ones); add the flag `--test-credentials` for a short one such as `test`.
    pub fn credentials(
        mut self,
        access_key: impl Into<String>,
        secret: impl Into<String>,
    ) -> Builder {
        self.root = Some((access_key.into(), secret.into()));
        self
    }

    /// Any other `coffer serve` flag, as on its command line (`--region`, `--domain`,
    /// `--chunk-size`…).
    pub fn flag(mut self, flag: impl Into<String>) -> Builder {
        self.flags.push(flag.into());
        self
    }

    /// Starts the server and returns once it serves.
    ///
    /// # Errors
    /// [`Error::Start`] for flags the server refuses or a failed start.
    pub async fn start(self) -> Result<TestServer, Error> {
        let mode = if self.on_disk {
            "--ephemeral"
        } else {
            "--in-memory"
        };
        let mut flags: Vec<String> = vec![mode.into(), "--listen".into(), "127.0.0.1:0".into()];
        for bucket in self.buckets {
            flags.extend(["--bucket".into(), bucket]);
        }
        if self.versioning {
            flags.push("--versioning".into());
        }
        if self.users > 0 {
            flags.extend(["--users".into(), self.users.to_string()]);
        }
        if let Some(size) = self.max_memory {
            flags.extend(["--max-memory".into(), size]);
        }
        flags.extend(self.flags);
        let running = in_process::start(&flags, self.root.clone()).await?;
        let var = |name: &'static str| {
            running
                .vars()
                .get(name)
                .cloned()
                .ok_or(Error::Missing(name))
        };
        let endpoint = var("AWS_ENDPOINT_URL")?;
        let region = var("AWS_REGION")?;
        let (access_key, secret_key) = match self.root {
            Some(root) => root,
            None => (var("AWS_ACCESS_KEY_ID")?, var("AWS_SECRET_ACCESS_KEY")?),
        };
        let client = client(&endpoint, &region, &access_key, &secret_key);
        Ok(TestServer {
            vars: running.vars().clone(),
            running: Some(running),
            endpoint,
            region,
            access_key,
            secret_key,
            client,
        })
    }
}

/// A Coffer server running in this test's runtime. Dropping it stops the server; call
/// [`TestServer::stop`] to wait until it has stopped.
#[derive(Debug)]
pub struct TestServer {
    running: Option<Running>,
    vars: BTreeMap<String, String>,
    endpoint: String,
    region: String,
    access_key: String,
    secret_key: String,
    client: aws_sdk_s3::Client,
}

/// A plain user's credentials (see [`Builder::users`]).
#[derive(Debug, Clone)]
pub struct User {
    /// The user's name (`user1`, `user2`, …).
    pub name: String,
    /// Its access key id.
    pub access_key: String,
    /// Its secret access key.
    pub secret_key: String,
}

impl TestServer {
    /// A server with default settings: in memory, no buckets, a generated root credential.
    ///
    /// # Errors
    /// As [`Builder::start`].
    pub async fn start() -> Result<TestServer, Error> {
        Builder::default().start().await
    }

    /// A server configured step by step.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// The endpoint, e.g. `http://127.0.0.1:40123`.
    #[must_use]
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The region the server signs in (`us-east-1` unless `--region` was given).
    #[must_use]
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The root access key id.
    #[must_use]
    pub fn access_key(&self) -> &str {
        &self.access_key
    }

    /// The root secret access key.
    #[must_use]
    pub fn secret_key(&self) -> &str {
        &self.secret_key
    }

    /// A client signed as root, path-style, with the SDK's default retries.
    #[must_use]
    pub fn client(&self) -> aws_sdk_s3::Client {
        self.client.clone()
    }

    /// A client for `access_key`/`secret_key` (a user's, or a wrong one).
    #[must_use]
    pub fn client_as(&self, access_key: &str, secret_key: &str) -> aws_sdk_s3::Client {
        client(&self.endpoint, &self.region, access_key, secret_key)
    }

    /// The `i`th plain user (from 1) of [`Builder::users`].
    #[must_use]
    pub fn user(&self, i: usize) -> Option<User> {
        let var = |what: &str| self.vars.get(&format!("COFFER_USER_{i}_{what}")).cloned();
        Some(User {
            name: var("NAME")?,
            access_key: var("ACCESS_KEY_ID")?,
            secret_key: var("SECRET_ACCESS_KEY")?,
        })
    }

    /// What `coffer serve --print-env` would have printed, by name.
    #[must_use]
    pub fn vars(&self) -> &BTreeMap<String, String> {
        &self.vars
    }

    /// Stops the server and waits until it has (open requests answered, memory freed).
    ///
    /// # Errors
    /// [`Error::Stop`] if the server reported a failure as it stopped.
    pub async fn stop(mut self) -> Result<(), Error> {
        match self.running.take() {
            Some(running) => running.stop().await.map_err(Error::Stop),
            None => Ok(()),
        }
    }
}

/// A path-style S3 client for the server.
fn client(endpoint: &str, region: &str, access_key: &str, secret_key: &str) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::Config::builder()
        .behavior_version_latest()
        .endpoint_url(endpoint)
        .region(Region::new(region.to_owned()))
        .credentials_provider(Credentials::new(
            access_key,
            secret_key,
            None,
            None,
            "coffer-testing",
        ))
        .force_path_style(true)
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    aws_sdk_s3::Client::from_conf(config)
}
