//! `coffer serve`: opens the store (durable, ephemeral or in memory), builds the request
//! guard, binds the listener, announces the endpoint and serves until told to stop.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use coffer_auth::{Auth, GeneratedRoot, ROOT_ACCESS_KEY_VAR, ROOT_SECRET_KEY_VAR, RootSource};
use coffer_storage::{Durability, IndexLocation, MasterKey, Placement, Store, StoreConfig};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use zeroize::Zeroizing;

use crate::announce::{self, Announcer};
use crate::config::{self, Config, Mode};
use crate::guard::{self, health::Readiness};
use crate::metrics::Metrics;
use crate::seal_gate::Gate;
use crate::stop::Stop;
use crate::unlock_at_start::{self, AtStart};
use crate::{
    admin_socket, audit_cmd, audit_trail, bucket_logging, ephemeral, iam, kms, listener,
    metrics_listener, remote_store, s3, scrub_task, tls, unlock_socket,
};

/// `coffer serve`: serves until `stop` completes, announcing the endpoint and credentials
/// through `announcer`.
pub(crate) async fn serve(cfg: Config, stop: Stop, announcer: Announcer) -> anyhow::Result<()> {
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
            let ops = Ops::start(&cfg, Some(dir.path()), announcer).await;
            let placement = Placement::Directory {
                root: dir.path().to_path_buf(),
                index: IndexLocation::Memory,
            };
            let result = match ops {
                Ok(ops) => serve_throwaway(&cfg, placement, &ops, stop).await,
                Err(error) => Err(error),
            };
            ephemeral::remove_dir(dir);
            result?;
        }
        Mode::InMemory { max_bytes } => {
            let ops = Ops::start(&cfg, None, announcer).await?;
            let placement = Placement::Memory {
                max_bytes: *max_bytes,
            };
            serve_throwaway(&cfg, placement, &ops, stop).await?;
        }
        Mode::Durable { data, master_key } => {
            let ops = Ops::start(&cfg, Some(data), announcer).await?;
            if cfg.chunk_store.standby {
                // A first start fetches the primary's key files, so the unlock below can
                // open them; the index is restored once unlocked (`open_store`).
                let (wanted, dir) = (cfg.chunk_store.clone(), data.clone());
                tokio::task::spawn_blocking(move || remote_store::prepare_copy(&wanted, &dir))
                    .await
                    .context("preparing the standby")??;
            }
            match unlock_at_start::resolve(data, master_key).await? {
                AtStart::Unlocked(key) => {
                    let store = open_store(&cfg, Placement::directory(data), key)
                        .await
                        .with_context(|| {
                            format!("could not open the data directory {}", data.display())
                        })?;
                    let result = serve_open(&cfg, &store, Some(data), &ops, stop).await;
                    store.shutdown().await;
                    result?;
                }
                AtStart::Sealed => serve_sealed(&cfg, data, &ops, stop).await?,
            }
        }
    }
    tracing::info!("stopped");
    Ok(())
}

/// `serve` in ephemeral or in-memory mode: a fresh store with a fresh master key.
async fn serve_throwaway(
    cfg: &Config,
    placement: Placement,
    ops: &Ops,
    stop: Stop,
) -> anyhow::Result<()> {
    let master_key = MasterKey::generate().context("could not generate a master key")?;
    let root = match &placement {
        Placement::Directory { root, .. } | Placement::Remote { root, .. } => Some(root.clone()),
        Placement::Memory { .. } => None,
    };
    let store = open_store(cfg, placement, master_key)
        .await
        .context("could not open the throwaway store")?;
    let result = serve_open(cfg, &store, root.as_deref(), ops, stop).await;
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
    /// Periodic sweeps started with the store, ended with serving.
    background: Arc<Background>,
}

/// What building the guard reports to: the metrics, the announcements, the task list.
#[derive(Clone, Copy)]
struct Outlets<'a> {
    metrics: &'a Arc<Metrics>,
    announcer: &'a Announcer,
    background: &'a Background,
}

impl Ops {
    fn outlets(&self) -> Outlets<'_> {
        Outlets {
            metrics: &self.metrics,
            announcer: &self.announce,
            background: &self.background,
        }
    }
}

/// Tasks that run as long as the server serves, aborted when it stops (a process exit
/// would end them anyway; a server run in process must not leave them behind).
#[derive(Default)]
pub(crate) struct Background(std::sync::Mutex<Vec<tokio::task::AbortHandle>>);

impl Background {
    pub(crate) fn keep<T>(&self, task: &tokio::task::JoinHandle<T>) {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(task.abort_handle());
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let tasks = self
            .0
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for task in tasks.drain(..) {
            task.abort();
        }
    }
}

impl Ops {
    /// Readiness of the data in `root` (none in memory), and the metrics listener, started
    /// before the store opens so that a sealed or slow start is visible (live, not ready).
    /// Prints `COFFER_METRICS_URL=…` on stdout once it listens.
    async fn start(
        cfg: &Config,
        root: Option<&std::path::Path>,
        announcer: Announcer,
    ) -> anyhow::Result<Ops> {
        let metrics = Arc::new(Metrics::default());
        let announce = Arc::new(announcer);
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
                background: Arc::default(),
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
            background: Arc::default(),
        })
    }
}

impl Drop for Ops {
    fn drop(&mut self) {
        if let Some(listener) = self.listener.take() {
            listener.abort();
        }
        self.scrub.stop();
    }
}

/// The root credential's source: the harness's fixed one (in process), else the
/// environment.
fn root_source(cfg: &Config) -> anyhow::Result<RootSource> {
    let strength = if cfg.harness.test_credentials {
        coffer_auth::SecretStrength::LoopbackTests
    } else {
        coffer_auth::SecretStrength::Strong
    };
    let (access_key, secret) = match &cfg.harness.root_credential {
        Some((access_key, secret)) => (Some(access_key.clone()), Some(secret.expose().to_owned())),
        None => (
            std::env::var(ROOT_ACCESS_KEY_VAR).ok(),
            std::env::var(ROOT_SECRET_KEY_VAR).ok(),
        ),
    };
    Ok(RootSource::from_env_values_with(
        access_key, secret, strength,
    )?)
}

/// Serves an open store (kept under `root`, or in memory) until a shutdown signal.
async fn serve_open(
    cfg: &Config,
    store: &Store,
    root: Option<&std::path::Path>,
    ops: &Ops,
    stop: Stop,
) -> anyhow::Result<()> {
    let (guard, generated, trail) = build_guard(cfg, store, root, ops.outlets()).await?;
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
        serve_gate(cfg, tcp, tls, gate, ops, stop).await;
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
async fn serve_sealed(
    cfg: &Config,
    data: &std::path::Path,
    ops: &Ops,
    stop: Stop,
) -> anyhow::Result<()> {
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
        let background = Arc::clone(&ops.background);
        let scrub = Arc::clone(&ops.scrub);
        tokio::spawn(async move {
            // The gate opens before `coffer unlock` hears "ok", so a client that starts
            // as soon as the unlock returns is served, not told the server is sealed.
            let store = socket
                .serve_until(|secret| async {
                    let outlets = Outlets {
                        metrics: &metrics,
                        announcer: &announcer,
                        background: &background,
                    };
                    let (store, guard, trail) = try_unlock(&cfg, &data, secret, outlets).await?;
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
    serve_gate(cfg, tcp, tls, gate.clone(), ops, stop).await;
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
    outlets: Outlets<'_>,
) -> Result<(Store, guard::Guard, Option<Recording>), String> {
    let dir = data.to_path_buf();
    let key = tokio::task::spawn_blocking(move || coffer_storage::unlock(&dir, secret))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    let store = open_store(cfg, Placement::directory(data), key)
        .await
        .map_err(|e| format!("could not open the data directory: {e:#}"))?;
    match build_guard(cfg, &store, Some(data), outlets).await {
        Ok((guard, generated, trail)) => {
            if let Err(e) = announce_root(cfg, outlets.announcer, generated.as_ref()) {
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

/// A standby's users, keys and policies are the primary's: read again as its index
/// follows (and, once promoted, its own changes are read back, harmlessly).
async fn follow_credentials(auth: Auth, every: std::time::Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(error) = auth.refresh().await {
            tracing::warn!(%error, "could not read the followed user directory");
        }
    }
}

/// Opens the credentials and the audit trail (`<root>/audit`; none in memory), starts
/// delivering bucket logs from it, and builds the request guard around the S3 service,
/// counting requests in `metrics`.
async fn build_guard(
    cfg: &Config,
    store: &Store,
    root: Option<&std::path::Path>,
    outlets: Outlets<'_>,
) -> anyhow::Result<(guard::Guard, Option<GeneratedRoot>, Option<Recording>)> {
    let Outlets {
        metrics,
        announcer,
        background,
    } = outlets;
    let (auth, generated) = Auth::open(store, root_source(cfg)?)
        .await
        .context("could not load the credentials")?;
    if store
        .shipping()
        .is_some_and(|s| s.role == coffer_storage::Role::Standby)
    {
        background.keep(&tokio::spawn(follow_credentials(
            auth.clone(),
            cfg.chunk_store.ship_interval,
        )));
    }
    create_startup_users(&auth, cfg.harness.users, announcer).await?;
    create_startup_buckets(store, &cfg.harness.buckets, cfg.harness.versioning).await?;
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
    background.keep(&kms::start_sweeping(kms_keys.clone()).await);
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
    background.keep(&tokio::spawn(s3::sweep_expired_uploads(
        store.clone(),
        cfg.multipart_max_age,
    )));
    background.keep(&tokio::spawn(s3::sweep_lifecycle(
        store.clone(),
        cfg.lifecycle_interval,
    )));
    let guard = guard::Guard::new(svc, cfg.limits, &cfg.region)
        .with_cors(s3::cors::BucketCors::new(store.clone(), &cfg.domains))
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

/// Serves `gate` until `stop`, from which on the server reports not ready (the metrics
/// listener keeps answering while open requests finish).
async fn serve_gate(
    cfg: &Config,
    tcp: TcpListener,
    tls: Option<TlsAcceptor>,
    gate: Gate,
    ops: &Ops,
    stop: Stop,
) {
    let stop = async {
        stop.await;
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
    // A data directory's chunks may be in a remote store (`remote_store.rs`); reading its
    // record and setting the client up touch the disk, off the async threads.
    let placement = match placement {
        Placement::Directory { root, index } => {
            let wanted = cfg.chunk_store.clone();
            let key = MasterKey::from_base64(&master_key.to_base64())?;
            tokio::task::spawn_blocking(move || {
                if wanted.standby && !root.join("index.redb").exists() {
                    let report = remote_store::restore_index(&root, &key)?;
                    tracing::info!(
                        epoch = report.position.epoch,
                        seq = report.position.seq,
                        logs = report.logs,
                        "restored the shipped index; following it"
                    );
                }
                remote_store::placement(&wanted, &root, index)
            })
            .await
            .context("choosing the chunk store")??
        }
        other => other,
    };
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
pub(crate) fn print_root(root: &GeneratedRoot) -> anyhow::Result<()> {
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
/// announced: a test finds its fixtures there. With `versioning` (`--versioning`), each one
/// created now has versioning enabled, as PutBucketVersioning would. An existing bucket (a
/// durable restart) is left as it is, whoever owns it.
async fn create_startup_buckets(
    store: &Store,
    names: &[String],
    versioning: bool,
) -> anyhow::Result<()> {
    for name in names {
        match store.create_bucket(name, coffer_auth::ROOT_PRINCIPAL).await {
            Ok(_) if versioning => store
                .set_versioning(name, coffer_storage::Versioning::Enabled)
                .await
                .with_context(|| format!("could not enable versioning in {name:?}"))?,
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
