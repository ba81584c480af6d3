//! `coffer`: the Coffer S3 server binary.
//!
//! `main` parses the command line, sets up logging, opens the sealed store and the
//! credentials, binds the listener, prints the `AWS_*` lines a client needs, and serves
//! until SIGTERM or ctrl-c.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod activity;
mod config;
mod ephemeral;
mod guard;
mod keys_cmd;
mod limits;
mod listener;
mod per_address;
mod s3;
mod telemetry;
mod tls;

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use coffer_auth::{Auth, GeneratedRoot, ROOT_ACCESS_KEY_VAR, ROOT_SECRET_KEY_VAR, RootSource};
use coffer_storage::{Durability, IndexLocation, MasterKey, Store, StoreConfig};
use tempfile::TempDir;
use zeroize::Zeroizing;

use config::{Cli, Command, Config, MASTER_KEY_VAR, MasterKeySource, Mode};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init();
    let result = match cli.command {
        Command::Serve(args) => {
            let master_key_set = std::env::var_os(MASTER_KEY_VAR).is_some_and(|v| !v.is_empty());
            match Config::from_args(args, master_key_set) {
                Ok(cfg) => serve(cfg).await,
                Err(error) => {
                    eprintln!("coffer: {error}");
                    return ExitCode::from(2);
                }
            }
        }
        Command::Keys(args) => keys_cmd::run(args).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("coffer: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// `coffer serve`.
async fn serve(cfg: Config) -> anyhow::Result<()> {
    if cfg.insecure_http {
        tracing::warn!(
            listen = %cfg.listen,
            "serving plain HTTP beyond loopback (--insecure-http): credentials and data cross the network readable by anyone on the path"
        );
    }
    let root = RootSource::from_env_values(
        std::env::var(ROOT_ACCESS_KEY_VAR).ok(),
        std::env::var(ROOT_SECRET_KEY_VAR).ok(),
    )?;

    let (store, temp_dir) = open_store(&cfg).await?;
    let result = serve_store(&cfg, &store, root).await;
    store.shutdown().await;
    if let Some(dir) = temp_dir {
        ephemeral::remove_dir(dir);
    }
    result?;
    tracing::info!("stopped");
    Ok(())
}

/// Everything between opening and closing the store, so that the store is shut down (and
/// the ephemeral directory removed) on every path out.
async fn serve_store(cfg: &Config, store: &Store, root: RootSource) -> anyhow::Result<()> {
    let (auth, generated) = Auth::open(store, root)
        .await
        .context("could not load the credentials")?;
    let svc = s3::build_service(
        store.clone(),
        auth,
        cfg.region.clone(),
        cfg.limits.form_cap,
        cfg.max_uploads,
        &cfg.domains,
    )
    .context("could not set up the S3 service")?;
    tokio::spawn(s3::sweep_expired_uploads(
        store.clone(),
        cfg.multipart_max_age,
    ));
    let tls = match &cfg.tls {
        Some(files) => {
            let tls = std::sync::Arc::new(
                tls::Tls::load(files.clone()).context("could not load the TLS certificate")?,
            );
            tokio::spawn(tls::reload_on_sighup(std::sync::Arc::clone(&tls)));
            Some(tls.acceptor())
        }
        None => None,
    };

    let tcp = listener::bind(cfg.listen)
        .await
        .with_context(|| format!("could not listen on {}", cfg.listen))?;
    let local = tcp
        .local_addr()
        .context("could not read the bound address")?;
    announce(local, tls.is_some(), &cfg.region, generated.as_ref())?;
    if generated.is_some() && matches!(cfg.mode, Mode::Durable { .. }) {
        eprintln!(
            "coffer: generated a root credential for this data directory (printed above on stdout). \
             It is shown only this once; store it now. To choose your own, set {ROOT_ACCESS_KEY_VAR} and {ROOT_SECRET_KEY_VAR}."
        );
    }
    tracing::info!(listen = %local, tls = tls.is_some(), "serving");

    listener::serve(
        tcp,
        tls,
        guard::Guard::new(svc, cfg.limits, &cfg.region),
        cfg.limits,
        cfg.shutdown_grace,
        shutdown_signal(),
    )
    .await;
    Ok(())
}

/// Opens the store for the configured mode; in ephemeral mode also returns the temporary
/// directory to remove at exit.
async fn open_store(cfg: &Config) -> anyhow::Result<(Store, Option<TempDir>)> {
    // ---- coffer-storage: opening. ----
    match &cfg.mode {
        Mode::Durable { data, master_key } => {
            let master_key = load_master_key(master_key)?;
            let store = Store::open(StoreConfig {
                root: data.clone(),
                chunk_size: cfg.chunk_size,
                durability: Durability::Immediate,
                index: IndexLocation::File,
                master_key,
            })
            .await
            .with_context(|| format!("could not open the data directory {}", data.display()))?;
            Ok((store, None))
        }
        Mode::Ephemeral => {
            let dir = ephemeral::create_dir()
                .context("could not create a temporary directory for --ephemeral")?;
            let master_key = MasterKey::generate().context("could not generate a master key")?;
            let store = Store::open(StoreConfig {
                root: dir.path().to_path_buf(),
                chunk_size: cfg.chunk_size,
                durability: Durability::Relaxed,
                index: IndexLocation::Memory,
                master_key,
            })
            .await
            .context("could not open the ephemeral store")?;
            Ok((store, Some(dir)))
        }
    }
}

/// The master key of a durable store, from the configured source.
fn load_master_key(source: &MasterKeySource) -> anyhow::Result<MasterKey> {
    match source {
        MasterKeySource::Env => {
            let text = Zeroizing::new(std::env::var(MASTER_KEY_VAR).with_context(|| {
                format!("{MASTER_KEY_VAR} is not valid UTF-8 (expected base64 of 32 bytes)")
            })?);
            MasterKey::from_base64(text.trim())
                .with_context(|| format!("{MASTER_KEY_VAR} must be the base64 of 32 bytes"))
        }
        MasterKeySource::File(path) => MasterKey::from_file(path)
            .with_context(|| format!("could not read the master key file {}", path.display())),
        MasterKeySource::DataDir(path) => {
            // First start: the key file is created before the store makes the
            // data directory, so make it here, private from the start (P6).
            if let Some(dir) = path.parent() {
                use std::os::unix::fs::DirBuilderExt as _;
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(dir)
                    .with_context(|| {
                        format!("could not create the data directory {}", dir.display())
                    })?;
            }
            let (key, created) = MasterKey::load_or_create(path).with_context(|| {
                format!("could not load or create the master key {}", path.display())
            })?;
            if created {
                tracing::warn!(
                    path = %path.display(),
                    "created a master key inside the data directory; anyone with a copy of the directory can read it. \
                     Move it elsewhere and pass --master-key-file, or set COFFER_MASTER_KEY"
                );
            } else {
                tracing::warn!(
                    path = %path.display(),
                    "the master key lives inside the data directory; keep it elsewhere (--master-key-file or COFFER_MASTER_KEY)"
                );
            }
            Ok(key)
        }
    }
}

/// Prints the client settings on stdout, flushed, once the listener is bound. A secret the
/// operator supplied is never echoed; a generated one is printed this once.
fn announce(
    local: SocketAddr,
    https: bool,
    region: &str,
    generated: Option<&GeneratedRoot>,
) -> anyhow::Result<()> {
    let mut lines = Zeroizing::new(format!(
        "AWS_ENDPOINT_URL={}://{}\nAWS_REGION={region}\n",
        if https { "https" } else { "http" },
        client_addr(local)
    ));
    if let Some(root) = generated {
        lines.push_str("AWS_ACCESS_KEY_ID=");
        lines.push_str(&root.access_key);
        lines.push_str("\nAWS_SECRET_ACCESS_KEY=");
        lines.push_str(root.secret.expose());
        lines.push('\n');
    }
    let mut out = std::io::stdout().lock();
    out.write_all(lines.as_bytes())
        .and_then(|()| out.flush())
        .context("could not write the endpoint lines to stdout")
}

/// The address a local client should use: a wildcard bind is reached through loopback.
fn client_addr(local: SocketAddr) -> SocketAddr {
    let mut addr = local;
    if local.ip().is_unspecified() {
        addr.set_ip(match local {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    addr
}

/// Completes on SIGTERM or ctrl-c (SIGINT).
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::warn!(%error, "cannot listen for ctrl-c");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sig) => {
                sig.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("shutting down");
}
