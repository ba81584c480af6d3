//! A remote chunk store for tests: a durable Coffer on loopback, or the Ceph RGW that
//! `scripts/ceph-single-node start` prints (`COFFER_TEST_CEPH_*`), with a prefix per test;
//! and a primary keeping its chunks there.

use aws_sdk_s3::Client;

use super::{Expect, ROOT_ACCESS_KEY, ROOT_SECRET_KEY, Server, TestEnv, create_bucket};

/// The remote bucket on a Coffer remote (scripts/ceph-single-node makes `coffer-chunks`).
pub const REMOTE_BUCKET: &str = "clinic-chunk-store";

/// A durable Coffer: the remote chunk store, which keeps what it stored across a restart.
pub fn start_remote(env: &TestEnv, port: Option<u16>) -> Server {
    let data = env.data();
    let listen = format!("127.0.0.1:{}", port.unwrap_or(0));
    env.start(
        &[
            "serve",
            "--data",
            data.to_str().expect("utf-8 path"),
            "--listen",
            &listen,
        ],
        &[
            ("COFFER_ROOT_ACCESS_KEY", ROOT_ACCESS_KEY),
            ("COFFER_ROOT_SECRET_KEY", ROOT_SECRET_KEY),
        ],
        &Expect::Known {
            access_key: ROOT_ACCESS_KEY.to_owned(),
            secret_key: ROOT_SECRET_KEY.to_owned(),
        },
    )
}

/// Where a test's chunks go: a bucket and a prefix of their own on a Coffer or Ceph remote.
pub struct RemoteStore {
    pub endpoint: String,
    pub access_key: String,
    pub secret_key: String,
    pub bucket: String,
    /// One per test, so tests sharing a Ceph bucket never see each other's chunks.
    pub prefix: String,
    /// The Coffer remote, if it is one (its environment kept alive with it).
    pub server: Option<(TestEnv, Server)>,
}

impl RemoteStore {
    pub fn client(&self) -> Client {
        crate::common::s3_client(&self.endpoint, &self.access_key, &self.secret_key, None)
    }

    pub fn location(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.prefix)
    }

    /// The names of the chunks under the test's prefix (not the index shipped beside them).
    pub async fn chunk_keys(&self) -> Vec<String> {
        let mut keys = self.keys().await;
        keys.retain(|k| !k.contains("/index/"));
        keys
    }

    /// The names of every object under the test's prefix.
    pub async fn keys(&self) -> Vec<String> {
        let all = crate::common::list_all_keys(&self.client(), &self.bucket).await;
        let mine = format!("{}/", self.prefix);
        all.into_iter().filter(|k| k.starts_with(&mine)).collect()
    }
}

/// A Ceph RGW from the environment (scripts/ceph-single-node), else a durable Coffer.
pub async fn remote_store() -> RemoteStore {
    let mut id = [0u8; 6];
    getrandom::fill(&mut id).unwrap();
    let prefix = format!("t{}", hex::encode(id));
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    if let (Some(endpoint), Some(access_key), Some(secret_key)) = (
        var("COFFER_TEST_CEPH_ENDPOINT"),
        var("COFFER_TEST_CEPH_ACCESS_KEY"),
        var("COFFER_TEST_CEPH_SECRET_KEY"),
    ) {
        return RemoteStore {
            endpoint,
            access_key,
            secret_key,
            bucket: "coffer-chunks".to_owned(),
            prefix,
            server: None,
        };
    }
    let remote_env = TestEnv::new();
    let server = start_remote(&remote_env, None);
    create_bucket(&server.client(), REMOTE_BUCKET).await;
    RemoteStore {
        endpoint: server.endpoint.clone(),
        access_key: server.access_key.clone(),
        secret_key: server.secret_key.clone(),
        bucket: REMOTE_BUCKET.to_owned(),
        prefix,
        server: Some((remote_env, server)),
    }
}

/// The primary, durable, keeping its chunks on `remote`.
pub fn start_primary(env: &TestEnv, remote: &RemoteStore, flags: &[&str]) -> Server {
    let location = remote.location();
    let mut args = vec!["--chunk-store", &location];
    args.extend_from_slice(flags);
    serve_on_remote(env, remote, env.master_key(), &args)
}

/// `coffer serve --data <env's> --listen 127.0.0.1:0 --chunk-store-endpoint <remote's>`
/// and `args`, with the remote's credentials and `master_key` (a copy of another env's data
/// directory opens with that env's key).
pub fn serve_on_remote(
    env: &TestEnv,
    remote: &RemoteStore,
    master_key: &str,
    args: &[&str],
) -> Server {
    let data = env.data();
    let mut all = vec![
        "serve",
        "--data",
        data.to_str().expect("utf-8 path"),
        "--listen",
        "127.0.0.1:0",
        "--chunk-store-endpoint",
        &remote.endpoint,
    ];
    all.extend_from_slice(args);
    env.start(
        &all,
        &[
            ("COFFER_ROOT_ACCESS_KEY", ROOT_ACCESS_KEY),
            ("COFFER_ROOT_SECRET_KEY", ROOT_SECRET_KEY),
            ("COFFER_CHUNK_STORE_ACCESS_KEY", &remote.access_key),
            ("COFFER_CHUNK_STORE_SECRET_KEY", &remote.secret_key),
            ("COFFER_MASTER_KEY", master_key),
        ],
        &Expect::Known {
            access_key: ROOT_ACCESS_KEY.to_owned(),
            secret_key: ROOT_SECRET_KEY.to_owned(),
        },
    )
}
