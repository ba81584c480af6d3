//! `coffer`: the Coffer S3 server binary.
//!
//! `main` parses the command line, sets up logging, opens the sealed store and the
//! credentials, binds the listener, prints the `AWS_*` lines a client needs, and serves
//! until SIGTERM or ctrl-c. A durable server given no unlocker serves sealed (503) until
//! `coffer unlock` opens its store.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod activity;
mod admin_socket;
mod announce;
mod audit_cmd;
mod audit_trail;
mod audit_view;
mod backup_cmd;
mod bucket_logging;
mod client;
mod config;
mod config_cmd;
mod config_file;
mod config_keys;
mod ephemeral;
mod fsck_cmd;
mod guard;
mod health_cmd;
mod iam;
mod init_cmd;
mod keys_cmd;
mod kms;
mod limits;
mod listener;
mod metrics;
mod metrics_listener;
mod per_address;
mod s3;
mod scrub_cmd;
mod scrub_task;
mod seal_gate;
mod stop;
mod telemetry;
mod tls;
mod unlock_at_start;
mod unlock_input;
mod unlock_socket;
mod users_cmd;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use coffer_auth::{Auth, GeneratedRoot, ROOT_ACCESS_KEY_VAR, ROOT_SECRET_KEY_VAR, RootSource};
use coffer_storage::{Durability, IndexLocation, MasterKey, Placement, Store, StoreConfig};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use zeroize::Zeroizing;

use announce::Announcer;
pub(crate) use announce::print_flushed;
use config::{Command, Config, MASTER_KEY_VAR, Mode};
use guard::health::Readiness;
use metrics::Metrics;
use seal_gate::Gate;
use unlock_at_start::AtStart;

#[tokio::main]
async fn main() -> ExitCode {
    stop::note_parent();
    // Before logging starts, and before anything is opened: a bad config file stops here.
    let config_file::Parsed { cli, origin } = match config_file::parse() {
        Ok(parsed) => parsed,
        Err(config_file::ParseError::Clap(error)) => error.exit(),
        Err(config_file::ParseError::File(error)) => {
            eprintln!("coffer: {error}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(cli.log_format);
    let result = match cli.command {
        Command::Serve(args) => {
            let master_key_set = std::env::var_os(MASTER_KEY_VAR).is_some_and(|v| !v.is_empty());
            match origin.validate(args, master_key_set) {
                Ok(cfg) => serve(cfg).await,
                Err(error) => {
                    eprintln!("coffer: {error}");
                    return ExitCode::from(2);
                }
            }
        }
        Command::Init(args) => init_cmd::run(args).await,
        Command::Unlock(args) => unlock_socket::run(args).await,
        Command::Keys(args) => keys_cmd::run(args).await,
        Command::Users(args) => users_cmd::run(args).await,
        Command::Audit(args) => audit_cmd::run(args).await,
        Command::Health(args) => health_cmd::run(args).await,
        Command::Backup(args) => backup_cmd::run_backup(args).await,
        Command::Restore(args) => backup_cmd::run_restore(args).await,
        // Its own exit codes: 1 is "problems found", not "failed to run".
        Command::Fsck(args) => return fsck_cmd::run(args).await,
        Command::Scrub(args) => return scrub_cmd::run(args).await,
        Command::Config(args) => return config_cmd::run(args.action, &origin),
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
    // Checked now, so a bad credential stops the start rather than a later unlock.
    root_source(&cfg)?;
    if cfg.harness.test_credentials {
        tracing::warn!(
            "--test-credentials: the root secret may be weak; for a test suite on loopback, never for real data"
        );
    }
    match &cfg.mode {
        Mode::Ephemeral => {
            let dir = ephemeral::create_dir()
                .context("could not create a temporary directory for --ephemeral")?;
            let ops = Ops::start(&cfg, Some(dir.path())).await;
            let placement = Placement::Directory {
                root: dir.path().to_path_buf(),
                index: IndexLocation::Memory,
            };
            let result = match ops {
                Ok(ops) => serve_throwaway(&cfg, placement, &ops).await,
                Err(error) => Err(error),
            };
            ephemeral::remove_dir(dir);
            result?;
        }
        Mode::InMemory { max_bytes } => {
            let ops = Ops::start(&cfg, None).await?;
            let placement = Placement::Memory {
                max_bytes: *max_bytes,
            };
            serve_throwaway(&cfg, placement, &ops).await?;
        }
        Mode::Durable { data, master_key } => {
            let ops = Ops::start(&cfg, Some(data)).await?;
            match unlock_at_start::resolve(data, master_key).await? {
                AtStart::Unlocked(key) => {
                    let store = open_store(&cfg, Placement::directory(data), key)
                        .await
                        .with_context(|| {
                            format!("could not open the data directory {}", data.display())
                        })?;
                    let result = serve_open(&cfg, &store, Some(data), &ops).await;
                    store.shutdown().await;
                    result?;
                }
                AtStart::Sealed => serve_sealed(&cfg, data, &ops).await?,
            }
        }
    }
    tracing::info!("stopped");
    Ok(())
}

/// `serve` in ephemeral or in-memory mode: a fresh store with a fresh master key.
async fn serve_throwaway(cfg: &Config, placement: Placement, ops: &Ops) -> anyhow::Result<()> {
    let master_key = MasterKey::generate().context("could not generate a master key")?;
    let root = match &placement {
        Placement::Directory { root, .. } => Some(root.clone()),
        Placement::Memory { .. } => None,
    };
    let store = open_store(cfg, placement, master_key)
        .await
        .context("could not open the throwaway store")?;
    let result = serve_open(cfg, &store, root.as_deref(), ops).await;
    store.shutdown().await;
    result
}

/// What operators watch: the metrics, the readiness the probes report, and the metrics
/// listener if `--metrics-listen` asked for one (stopped when this is dropped).
struct Ops {
    metrics: Arc<Metrics>,
    /// What goes to stdout, in the `--print-env` format.
    announce: Arc<Announcer>,
    readiness: Arc<Readiness>,
    /// The online scrub, started once the store is open.
    scrub: Arc<scrub_task::Scrub>,
    listener: Option<tokio::task::JoinHandle<()>>,
}

impl Ops {
    /// Readiness of the data in `root` (none in memory), and the metrics listener, started
    /// before the store opens so that a sealed or slow start is visible (live, not ready).
    /// Prints `COFFER_METRICS_URL=…` on stdout once it listens.
    async fn start(cfg: &Config, root: Option<&std::path::Path>) -> anyhow::Result<Ops> {
        let metrics = Arc::new(Metrics::default());
        let announce = Arc::new(Announcer::new(cfg.harness.print_env));
        let readiness = Readiness::new(root.map(std::path::Path::to_path_buf));
        let scrub = scrub_task::Scrub::new(cfg.scrub_every, cfg.scrub_bytes_per_sec);
        // Also with scheduled passes off: `coffer scrub` runs them on demand.
        metrics.watch_scrub(Arc::clone(&scrub.progress));
        let Some(addr) = cfg.metrics_listen else {
            return Ok(Ops {
                metrics,
                announce,
                readiness,
                scrub,
                listener: None,
            });
        };
        let tcp = listener::bind(addr)
            .await
            .with_context(|| format!("could not listen on --metrics-listen {addr}"))?;
        let local = tcp
            .local_addr()
            .context("could not read the metrics listener's address")?;
        announce.vars(vec![announce::var(
            "COFFER_METRICS_URL",
            format!("http://{}/metrics", client_addr(local)),
        )])?;
        tracing::info!(listen = %local, "serving metrics and health probes");
        if !local.ip().to_canonical().is_loopback() {
            tracing::warn!(
                listen = %local,
                "metrics beyond loopback (--metrics-allow-remote): anyone who reaches this port reads traffic volumes; firewall it"
            );
        }
        let listener = tokio::spawn(metrics_listener::serve(
            tcp,
            Arc::clone(&metrics),
            Arc::clone(&readiness),
        ));
        Ok(Ops {
            metrics,
            announce,
            readiness,
            scrub,
            listener: Some(listener),
        })
    }
}

impl Drop for Ops {
    fn drop(&mut self) {
        if let Some(listener) = self.listener.take() {
            listener.abort();
        }
    }
}

/// The root credential's source, from the environment.
fn root_source(cfg: &Config) -> anyhow::Result<RootSource> {
    let strength = if cfg.harness.test_credentials {
        coffer_auth::SecretStrength::LoopbackTests
    } else {
        coffer_auth::SecretStrength::Strong
    };
    Ok(RootSource::from_env_values_with(
        std::env::var(ROOT_ACCESS_KEY_VAR).ok(),
        std::env::var(ROOT_SECRET_KEY_VAR).ok(),
        strength,
    )?)
}

/// Serves an open store (kept under `root`, or in memory) until a shutdown signal.
async fn serve_open(
    cfg: &Config,
    store: &Store,
    root: Option<&std::path::Path>,
    ops: &Ops,
) -> anyhow::Result<()> {
    let (guard, generated, trail) =
        build_guard(cfg, store, root, &ops.metrics, &ops.announce).await?;
    // `coffer backup` reaches a running durable server here; removed when serving ends.
    let _admin = match (&cfg.mode, root) {
        (Mode::Durable { .. }, Some(root)) => {
            Some(admin_socket::start(root, store.clone(), Arc::clone(&ops.scrub)).await?)
        }
        _ => None,
    };
    let served = async {
        let (tcp, tls, local) = listen(cfg).await?;
        // Ready once bound: connections queue in the kernel until the accept loop runs,
        // and a client that read the endpoint line must find the server ready.
        ops.readiness.opened(store);
        ops.scrub.start(store);
        announce_endpoint(&ops.announce, local, tls.is_some(), &cfg.region)?;
        announce_root(cfg, &ops.announce, generated.as_ref())?;
        ops.announce.ready()?;
        tracing::info!(listen = %local, tls = tls.is_some(), "serving");
        let gate = Gate::open_with(guard, Arc::clone(&ops.readiness));
        serve_gate(cfg, tcp, tls, gate, ops).await;
        anyhow::Ok(())
    }
    .await;
    // Every request has been answered: make the trail durable and log where it ends.
    if let Some(recording) = trail {
        recording.close().await;
    }
    served
}

/// Serves sealed (503) until `coffer unlock` opens the store, then serves it, until a
/// shutdown signal.
async fn serve_sealed(cfg: &Config, data: &std::path::Path, ops: &Ops) -> anyhow::Result<()> {
    let socket = unlock_socket::bind(data).await?;
    let (tcp, tls, local) = listen(cfg).await?;
    announce_endpoint(&ops.announce, local, tls.is_some(), &cfg.region)?;
    ops.announce.ready()?;
    tracing::warn!(
        listen = %local,
        socket = %socket.path().display(),
        "sealed: no unlocker was given, so every request gets 503 until `coffer unlock --data {}` supplies a passphrase, recovery shares or a key",
        data.display()
    );
    let gate = Gate::sealed(Arc::clone(&ops.readiness));
    let unlocking = {
        let (cfg, gate, data) = (cfg.clone(), gate.clone(), data.to_path_buf());
        let (metrics, readiness) = (Arc::clone(&ops.metrics), Arc::clone(&ops.readiness));
        let announcer = Arc::clone(&ops.announce);
        let scrub = Arc::clone(&ops.scrub);
        tokio::spawn(async move {
            // The gate opens before `coffer unlock` hears "ok", so a client that starts
            // as soon as the unlock returns is served, not told the server is sealed.
            let store = socket
                .serve_until(|secret| async {
                    let (store, guard, trail) =
                        try_unlock(&cfg, &data, secret, &metrics, &announcer).await?;
                    gate.open_audited(guard, trail.as_ref().map(|r| &r.trail))
                        .await;
                    readiness.opened(&store);
                    scrub.start(&store);
                    Ok((store, trail))
                })
                .await;
            tracing::info!("unsealed: serving");
            let admin = admin_socket::start(&data, store.0.clone(), scrub)
                .await
                .inspect_err(|error| {
                    tracing::warn!("no admin socket, so no online backups: {error:#}");
                })
                .ok();
            (store, admin)
        })
    };
    serve_gate(cfg, tcp, tls, gate.clone(), ops).await;
    if gate.is_sealed() {
        tracing::info!("stopping while still sealed: the data was never opened");
    }
    if unlocking.is_finished() {
        if let Ok(((store, trail), admin)) = unlocking.await {
            drop(admin);
            if let Some(recording) = trail {
                recording.close().await;
            }
            store.shutdown().await;
        }
    } else {
        unlocking.abort();
    }
    Ok(())
}

/// One unlock attempt: the secret must open the directory, the store and the credentials.
/// The error text goes back to `coffer unlock`.
async fn try_unlock(
    cfg: &Config,
    data: &std::path::Path,
    secret: coffer_storage::UnlockSecret,
    metrics: &Arc<Metrics>,
    announcer: &Announcer,
) -> Result<(Store, guard::Guard, Option<Recording>), String> {
    let dir = data.to_path_buf();
    let key = tokio::task::spawn_blocking(move || coffer_storage::unlock(&dir, secret))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    let store = open_store(cfg, Placement::directory(data), key)
        .await
        .map_err(|e| format!("could not open the data directory: {e:#}"))?;
    match build_guard(cfg, &store, Some(data), metrics, announcer).await {
        Ok((guard, generated, trail)) => {
            if let Err(e) = announce_root(cfg, announcer, generated.as_ref()) {
                if let Some(recording) = trail {
                    recording.close().await;
                }
                store.shutdown().await;
                return Err(format!("{e:#}"));
            }
            Ok((store, guard, trail))
        }
        Err(error) => {
            store.shutdown().await;
            Err(format!("{error:#}"))
        }
    }
}

/// The audit trail and the bucket log delivery that reads it.
struct Recording {
    trail: audit_trail::AuditTrail,
    delivery: bucket_logging::Delivery,
}

impl Recording {
    /// Makes every record durable, then delivers the bucket logs they hold (a last pass)
    /// and stops delivering.
    async fn close(self) {
        self.trail.close().await;
        self.delivery.stop().await;
    }
}

/// Opens the credentials and the audit trail (`<root>/audit`; none in memory), starts
/// delivering bucket logs from it, and builds the request guard around the S3 service,
/// counting requests in `metrics`.
async fn build_guard(
    cfg: &Config,
    store: &Store,
    root: Option<&std::path::Path>,
    metrics: &Arc<Metrics>,
    announcer: &Announcer,
) -> anyhow::Result<(guard::Guard, Option<GeneratedRoot>, Option<Recording>)> {
    let (auth, generated) = Auth::open(store, root_source(cfg)?)
        .await
        .context("could not load the credentials")?;
    create_startup_users(&auth, cfg.harness.users, announcer).await?;
    create_startup_buckets(store, &cfg.harness.buckets).await?;
    let trail = if let (true, Some(root)) = (cfg.audit, root) {
        // Relaxed (and ephemeral) servers do not wait for the trail's fsync either: its
        // segments are flushed with the chunk tree's file system once a second.
        let durable = cfg.durability == Durability::Immediate;
        let trail = audit_trail::AuditTrail::open(
            store,
            &root.join(audit_cmd::AUDIT_DIR),
            durable,
            cfg.audit_retention,
        )
        .await
        .context("could not open the audit trail")?;
        Some(trail)
    } else if root.is_none() {
        tracing::info!("in memory: no audit trail, and no bucket logging");
        None
    } else {
        tracing::warn!("the audit trail is off (--no-audit): requests are not recorded");
        None
    };
    let kms_keys = kms::KmsKeys::open(store.clone(), &cfg.region, &auth.account())
        .await
        .context("could not load the KMS keys")?;
    // Keys past their deletion date are destroyed now, before serving, then hourly.
    kms::start_sweeping(kms_keys.clone()).await;
    let iam = iam::Iam::new(
        auth.clone(),
        store.clone(),
        &cfg.region,
        cfg.tls.is_some(),
        trail.clone(),
        Some(kms_keys.clone()),
    )
    .context("could not set up the IAM API")?;
    let svc = s3::build_service(
        store.clone(),
        auth.clone(),
        kms_keys,
        &s3::ServiceOptions {
            region: cfg.region.clone(),
            post_form_cap: cfg.limits.form_cap,
            max_uploads: cfg.max_uploads,
            domains: &cfg.domains,
            bucket_logging: cfg.audit,
        },
    )
    .context("could not set up the S3 service")?;
    tokio::spawn(s3::sweep_expired_uploads(
        store.clone(),
        cfg.multipart_max_age,
    ));
    let guard = guard::Guard::new(svc, cfg.limits, &cfg.region)
        .with_iam(iam)
        .with_metrics(Arc::clone(metrics));
    let Some(trail) = trail else {
        return Ok((guard, generated, None));
    };
    let Some(source) = trail.source() else {
        anyhow::bail!("the audit trail has no directory to deliver bucket logs from");
    };
    let delivery = bucket_logging::Delivery::start(
        store.clone(),
        auth,
        source.dir.clone(),
        source.key.clone(),
        cfg.region.clone(),
        cfg.bucket_log_interval,
    )
    .await
    .context("could not start delivering bucket logs")?;
    metrics.watch_audit(trail.gauge());
    let recording = Recording { trail, delivery };
    Ok((
        guard.with_audit(recording.trail.clone()),
        generated,
        Some(recording),
    ))
}

/// Loads TLS (if configured) and binds the listener.
async fn listen(cfg: &Config) -> anyhow::Result<(TcpListener, Option<TlsAcceptor>, SocketAddr)> {
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
    Ok((tcp, tls, local))
}

/// Serves `gate` until a shutdown signal, from which on the server reports not ready (the
/// metrics listener keeps answering while open requests finish).
async fn serve_gate(
    cfg: &Config,
    tcp: TcpListener,
    tls: Option<TlsAcceptor>,
    gate: Gate,
    ops: &Ops,
) {
    let stop = async {
        stop::requested(cfg.harness.exit_with_parent).await;
        ops.readiness.stopping();
    };
    listener::serve(tcp, tls, gate, cfg.limits, cfg.shutdown_grace, stop).await;
}

/// Opens the store at `placement` with `master_key`: a durable one with the configured
/// durability, a throwaway one relaxed.
async fn open_store(
    cfg: &Config,
    placement: Placement,
    master_key: MasterKey,
) -> anyhow::Result<Store> {
    if cfg.durability == Durability::Relaxed && !cfg.mode.is_throwaway() {
        tracing::warn!(
            "--durability relaxed: writes are acknowledged before they are on disk; a power cut or kernel crash loses the last ones"
        );
    }
    Ok(Store::open(StoreConfig {
        placement,
        chunk_size: cfg.chunk_size,
        inline_max: coffer_storage::DEFAULT_INLINE_MAX,
        durability: cfg.durability,
        master_key,
    })
    .await?)
}

/// Announces the endpoint and region once the listener is bound.
fn announce_endpoint(
    announcer: &Announcer,
    local: SocketAddr,
    https: bool,
    region: &str,
) -> anyhow::Result<()> {
    let scheme = if https { "https" } else { "http" };
    announcer.vars(vec![
        announce::var(
            "AWS_ENDPOINT_URL",
            format!("{scheme}://{}", client_addr(local)),
        ),
        announce::var("AWS_REGION", region),
    ])
}

/// Prints a generated root credential on stdout, this once (with a note on stderr in
/// durable mode). A secret the operator supplied is never echoed.
fn announce_root(
    cfg: &Config,
    announcer: &Announcer,
    generated: Option<&GeneratedRoot>,
) -> anyhow::Result<()> {
    let Some(root) = generated else {
        return Ok(());
    };
    announcer.vars(root_vars(root))?;
    if matches!(cfg.mode, Mode::Durable { .. }) {
        eprintln!(
            "coffer: generated a root credential for this data directory (printed above on stdout). \
             It is shown only this once; store it now. To choose your own, set {ROOT_ACCESS_KEY_VAR} and {ROOT_SECRET_KEY_VAR}."
        );
    }
    Ok(())
}

/// A root credential on stdout, flushed, as `AWS_ACCESS_KEY_ID=…` and
/// `AWS_SECRET_ACCESS_KEY=…` lines (what `coffer users reset-root` prints).
fn print_root(root: &GeneratedRoot) -> anyhow::Result<()> {
    Announcer::new(config::PrintEnv::Lines).vars(root_vars(root))
}

/// A root credential as the variables clients read.
fn root_vars(root: &GeneratedRoot) -> Vec<(String, Zeroizing<String>)> {
    vec![
        announce::var("AWS_ACCESS_KEY_ID", root.access_key.as_str()),
        announce::var("AWS_SECRET_ACCESS_KEY", root.secret.expose()),
    ]
}

/// Creates `count` plain users (`--users`), one access key each, and prints their
/// credentials on stdout beside root's, before the endpoint line test harnesses wait for.
async fn create_startup_users(
    auth: &Auth,
    count: usize,
    announcer: &Announcer,
) -> anyhow::Result<()> {
    if count == 0 {
        return Ok(());
    }
    let mut vars = vec![announce::var("COFFER_ACCOUNT_ID", auth.account())];
    for i in 1..=count {
        let name = format!("user{i}");
        auth.create_user(&name)
            .await
            .with_context(|| format!("could not create {name}"))?;
        let key = auth
            .create_access_key(&name)
            .await
            .with_context(|| format!("could not create a key for {name}"))?;
        vars.push(announce::var(
            format!("COFFER_USER_{i}_NAME"),
            name.as_str(),
        ));
        vars.push(announce::var(
            format!("COFFER_USER_{i}_ACCESS_KEY_ID"),
            key.info.access_key.as_str(),
        ));
        vars.push(announce::var(
            format!("COFFER_USER_{i}_SECRET_ACCESS_KEY"),
            key.secret.expose(),
        ));
    }
    announcer.vars(vars)
}

/// Creates the `--bucket` buckets that are missing, owned by root, before the server is
/// announced: a test finds its fixtures there. An existing bucket (a durable restart) is
/// left as it is, whoever owns it.
async fn create_startup_buckets(store: &Store, names: &[String]) -> anyhow::Result<()> {
    for name in names {
        match store.create_bucket(name, coffer_auth::ROOT_PRINCIPAL).await {
            Ok(_) | Err(coffer_storage::Error::BucketAlreadyExists { .. }) => {}
            Err(e) => {
                return Err(e).with_context(|| format!("could not create the bucket {name:?}"));
            }
        }
    }
    Ok(())
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
