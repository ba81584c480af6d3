//! Command line and environment: parsed by clap, validated once into [`Config`].
//!
//! A `--config` TOML file (`config_file.rs`) supplies the defaults of the `serve` flags, so
//! a flag beats its `COFFER_*` variable, which beats the file, which beats the built-in
//! default; relations between settings (`--tls-cert` needs `--tls-key`…) are checked here,
//! in [`Config::from_args`], because clap only sees the flags and variables.
//!
//! Secrets never pass through here as values: `COFFER_MASTER_KEY` and the root credential
//! are read from the environment where they are used (`main.rs`), so a `Config` can be
//! printed or logged without leaking anything.
// The doc comments of the clap types are the `--help` text, read as plain text.
#![allow(clippy::doc_markdown)]

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use coffer_storage::Durability;

use crate::guard::is_region_token;
use crate::s3::host::{Domain, DomainError};

/// Environment variable holding the base64 master key (takes precedence over a key file).
pub(crate) const MASTER_KEY_VAR: &str = "COFFER_MASTER_KEY";

/// Default port in durable mode (on 127.0.0.1).
const DEFAULT_PORT: u16 = 9000;
/// Default port in ephemeral mode: any free port (on 127.0.0.1).
const DEFAULT_EPHEMERAL_PORT: u16 = 0;

use crate::limits::{
    DEFAULT_CACHE_SIZE, DEFAULT_HEADER_TIMEOUT, DEFAULT_IDLE_TIMEOUT, DEFAULT_LEASE_SECS,
    DEFAULT_LIFECYCLE_INTERVAL_SECS, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
    DEFAULT_MAX_MEMORY, DEFAULT_POST_FORM_MAX, DEFAULT_SHIP_INTERVAL_SECS, Limits, MAX_CHUNK_SIZE,
    MAX_LIFECYCLE_INTERVAL_SECS, MAX_POST_FORM_MAX, MAX_PRESIGNED_EXPIRES_SECS, MAX_STARTUP_USERS,
    MIN_CHUNK_SIZE, MIN_MAX_MEMORY, MIN_POST_FORM_MAX,
};

/// Coffer: a self-hosted S3-compatible object server, private by default.
///
/// Every request must be signed (AWS SigV4); nothing can be made public; everything on disk
/// is encrypted.
#[derive(Debug, Parser)]
#[command(name = "coffer", version, about, long_about = None)]
pub(crate) struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub(crate) command: Command,

    /// How log lines on stderr look: `text` for people, `json` for log shippers (one JSON
    /// object per line: timestamp, level, fields, span). Either way no secret is logged,
    /// and no bucket name or object key at info or above.
    #[arg(
        long,
        global = true,
        env = "COFFER_LOG_FORMAT",
        value_name = "FORMAT",
        value_enum,
        default_value_t = LogFormat::Text
    )]
    pub(crate) log_format: LogFormat,
}

/// `--durability`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum DurabilityArg {
    /// fsync before acknowledging.
    Durable,
    /// No fsync: a power cut loses the last writes.
    Relaxed,
}

/// `--print-env`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum PrintEnv {
    /// `NAME=value` lines, each printed as soon as it is known (shells `export` them).
    Lines,
    /// One JSON object of the same names and values on one line, printed once the server
    /// is ready (harnesses parse it instead of scraping lines).
    Json,
}

/// `--exit-with-parent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ExitWithParent {
    /// On with --ephemeral when stdin is a pipe or socket (started by a program), off
    /// otherwise.
    Auto,
    /// Always watch stdin and the parent process.
    On,
    /// Never: run until SIGTERM or ctrl-c.
    Off,
}

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Default read rate of a scrub pass, scheduled or asked for with `coffer scrub`.
pub(crate) const DEFAULT_SCRUB_RATE_MIB: u64 = 16;

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Serve the S3 API.
    ///
    /// The root credential comes from COFFER_ROOT_ACCESS_KEY / COFFER_ROOT_SECRET_KEY, or is
    /// generated at the first start of a data directory and printed once on stdout. The
    /// data directory opens with one of its unlockers: COFFER_MASTER_KEY (base64),
    /// --master-key-file, --passphrase-file or $CREDENTIALS_DIRECTORY/coffer-passphrase;
    /// with none, the server starts sealed and answers 503 until `coffer unlock`. Once
    /// listening,
    /// stdout carries AWS_ENDPOINT_URL=… and AWS_REGION=… lines (plus AWS_ACCESS_KEY_ID and
    /// AWS_SECRET_ACCESS_KEY when the credential was generated).
    Serve(ServeArgs),
    /// Set up a data directory: its master key sealed by unlockers (passphrase, recovery
    /// shares, key file), never stored in clear.
    Init(crate::init_cmd::InitArgs),
    /// Unlock a sealed server (one started without an unlocker) through its local socket.
    Unlock(crate::unlock_socket::UnlockArgs),
    /// Manage the keys of a data directory: unlockers, master key rotation.
    Keys(crate::keys_cmd::KeysArgs),
    /// Recover the users of a stopped data directory: list users and keys, disable or
    /// enable a leaked key, or replace a lost root credential. While the server runs, use
    /// its IAM API instead.
    Users(crate::users_cmd::UsersArgs),
    /// Read and check the audit trail of a stopped data directory: `show` lists records
    /// (filtered), `verify` checks the hash chain and, given one, a checkpoint from the
    /// server log.
    Audit(crate::audit_cmd::AuditArgs),
    /// Probe a running server's health endpoint (for container HEALTHCHECKs, which have
    /// no curl in Coffer's image): exits 0 if it answers 200, 1 otherwise.
    Health(crate::health_cmd::HealthArgs),
    /// Check a stopped data directory end to end: every object version's and upload
    /// part's chunks exist, open under their bucket's keys and match their keyed ids;
    /// every refcount equals the references counted; no chunk file is orphaned; every
    /// bucket has its key share; the audit trail, if any, verifies. Objects under a
    /// customer key (SSE-C) or a KMS key are checked for presence and refcounts only, and
    /// reported as not verifiable here, not as corrupt. Buckets are named by id, chunks by
    /// keyed id: no names are printed. Exits 0 if clean, 1 if problems were found (or are
    /// left after --repair), 2 if the check could not run.
    Fsck(crate::fsck_cmd::FsckArgs),
    /// Scrub a running server now: read every chunk its object versions reference and
    /// check each seal and keyed id, paced to --rate, without stopping it (the server also
    /// scrubs on its own every --scrub-every). Asks through <data>/admin.sock. Exits 0 if
    /// clean, 1 if problems were found, 2 if no server runs there or the pass failed.
    Scrub(crate::scrub_cmd::ScrubArgs),
    /// The configuration file of `coffer serve --config`: `example` prints every key with
    /// its default, `check` validates a file (with the flags and COFFER_* variables given)
    /// and prints the effective settings and where each came from.
    Config(ConfigArgs),
    /// Back up a data directory, running or stopped, into a directory: one consistent
    /// snapshot of the index plus the chunks it references, still sealed (as unreadable as
    /// the data directory), incremental (only chunks not already there are copied). A running
    /// server makes the backup itself through <data>/admin.sock; a stopped directory is
    /// opened with its unlocker. The backup is a data directory: it opens with the same
    /// master key or unlockers. No names are printed.
    Backup(crate::backup_cmd::BackupArgs),
    /// Restore a backup into a new, empty data directory: a verified copy (opened with the
    /// master key or an unlocker, copied as a backup is, then checked as fsck checks).
    /// With --from s3://BUCKET[/PREFIX], rebuild it instead from the index a server with a
    /// remote chunk store ships beside its chunks: the key files, the newest snapshot and
    /// the logs after it (the chunks stay remote).
    Restore(crate::backup_cmd::RestoreArgs),
    /// Make a running standby (serve --standby-of) the writer: it takes the chunk store's
    /// lease, waits out the old primary's (which is then refused every write), catches up
    /// and accepts writes. Asks through <data>/admin.sock.
    Promote(crate::promote_cmd::PromoteArgs),
}

/// Flags of `coffer config`.
#[derive(Debug, Args)]
pub(crate) struct ConfigArgs {
    /// What to do.
    #[command(subcommand)]
    pub(crate) action: ConfigAction,
}

/// `coffer config example | check`.
#[derive(Debug, Subcommand)]
// Built once per process from the command line; boxing would only add noise.
#[allow(clippy::large_enum_variant)]
pub(crate) enum ConfigAction {
    /// Print a commented configuration file with every key and its default value.
    Example,
    /// Validate the settings `coffer serve` would run with (the same flags, COFFER_*
    /// variables and --config file) and print each one with its source; opens nothing.
    /// Exits 0 if they are valid, 2 if not.
    Check(ServeArgs),
}

/// Flags of `coffer serve`. Every flag can also be set by the `COFFER_…` variable shown,
/// and in the --config file.
#[derive(Debug, Args)]
#[allow(clippy::struct_excessive_bools)] // independent command-line switches, not a state machine
pub(crate) struct ServeArgs {
    /// Read settings from this TOML file (`coffer config example` prints every key with its
    /// default). A flag, or its COFFER_* variable, overrides the file. The file holds no
    /// secret: key and passphrase files are named by path, and the master key and root
    /// credential come only from the environment.
    #[arg(long, env = "COFFER_CONFIG", value_name = "PATH")]
    pub(crate) config: Option<PathBuf>,

    /// Data directory (created 0700 if missing). Durable mode: writes are fsynced.
    /// Excludes --ephemeral.
    #[arg(long, env = "COFFER_DATA", value_name = "DIR")]
    pub(crate) data: Option<PathBuf>,

    /// Throwaway server for tests: temporary data removed on exit, in-memory index, a fresh
    /// master key and generated credentials printed on stdout. Listens on a free loopback
    /// port unless --listen is given.
    #[arg(long, env = "COFFER_EPHEMERAL")]
    pub(crate) ephemeral: bool,

    /// Throwaway server with no files at all: index, sealed chunks and keys in memory
    /// (sealed as on disk), for CI runners without a writable or fast disk. Otherwise as
    /// --ephemeral, except that there is no audit trail (it is made of files), so bucket
    /// logging is off too. Bounded by --max-memory.
    #[arg(long, env = "COFFER_IN_MEMORY")]
    pub(crate) in_memory: bool,

    /// With --in-memory: the most memory the stored data may take (sealed chunks plus the
    /// index), e.g. 512MiB or 2GiB. Past it, writes get 503 SlowDown and nothing is stored;
    /// reads and deletes go on, and deleting frees room.
    #[arg(long, env = "COFFER_MAX_MEMORY", value_name = "SIZE", default_value = DEFAULT_MAX_MEMORY)]
    pub(crate) max_memory: String,

    /// With --ephemeral: also create N plain users (user1…userN), each with one access key,
    /// printed on stdout as COFFER_USER_<i>_NAME, COFFER_USER_<i>_ACCESS_KEY_ID and
    /// COFFER_USER_<i>_SECRET_ACCESS_KEY, with COFFER_ACCOUNT_ID for their ARNs (the "alt
    /// user" conformance suites need). Users own
    /// their own buckets and reach others' only through bucket policies.
    #[arg(long, env = "COFFER_USERS", value_name = "N", default_value_t = 0)]
    pub(crate) users: usize,

    /// Accept any printable COFFER_ROOT_SECRET_KEY, however short (`test`, as other local
    /// S3s take), for a test suite's fixed fixtures. Only with a loopback --listen: a weak
    /// secret must never guard a reachable server.
    #[arg(long, env = "COFFER_TEST_CREDENTIALS")]
    pub(crate) test_credentials: bool,

    /// Create this bucket at start if it is missing (owned by root), so tests find their
    /// fixtures ready. Repeatable, or comma-separated in COFFER_BUCKETS. A bucket that
    /// already exists is left as it is.
    #[arg(
        long = "bucket",
        env = "COFFER_BUCKETS",
        value_name = "NAME",
        value_delimiter = ','
    )]
    pub(crate) buckets: Vec<String>,

    /// With --bucket: create the fixture buckets with versioning enabled (as
    /// PutBucketVersioning Enabled would), for tests of versions and delete markers.
    #[arg(long, env = "COFFER_VERSIONING")]
    pub(crate) versioning: bool,

    /// How the endpoint, region and generated credentials are printed on stdout: `lines`
    /// (NAME=value, for shells) or `json` (one object on one line once ready, for test
    /// harnesses).
    #[arg(
        long,
        env = "COFFER_PRINT_ENV",
        value_name = "FORMAT",
        value_enum,
        default_value_t = PrintEnv::Lines
    )]
    pub(crate) print_env: PrintEnv,

    /// Stop when whatever started the server goes away: its stdin (a pipe) reaches end of
    /// file, or its parent process exits. So a test run that dies, or a wrapper (a
    /// coproc, `cargo run`) that is killed, leaves no server behind.
    #[arg(
        long,
        env = "COFFER_EXIT_WITH_PARENT",
        value_name = "WHEN",
        value_enum,
        default_value_t = ExitWithParent::Auto
    )]
    pub(crate) exit_with_parent: ExitWithParent,

    /// Address to listen on [default: 127.0.0.1:9000; with --ephemeral 127.0.0.1:0].
    /// Plain HTTP is served only on loopback unless --insecure-http is given.
    #[arg(long, env = "COFFER_LISTEN", value_name = "ADDR")]
    pub(crate) listen: Option<SocketAddr>,

    /// Unlock with a key file: base64 of 32 bytes, not readable by group or others (on
    /// removable media or a secrets mount). A fresh data directory is set up with it as its
    /// unlocker. Ignored if COFFER_MASTER_KEY is set, and in --ephemeral mode.
    #[arg(long, env = "COFFER_MASTER_KEY_FILE", value_name = "PATH")]
    pub(crate) master_key_file: Option<PathBuf>,

    /// Unlock with the passphrase in this file (one line; not readable by group or others),
    /// e.g. /dev/fd/3 or a systemd credential. Without any unlocker the server looks for
    /// $CREDENTIALS_DIRECTORY/coffer-passphrase, and failing that starts sealed: it answers
    /// 503 until `coffer unlock`.
    #[arg(long, env = "COFFER_PASSPHRASE_FILE", value_name = "PATH")]
    pub(crate) passphrase_file: Option<PathBuf>,

    /// Keep the master key in <DATA>/master.key, created at first start (the old default).
    /// Unsafe: anyone with a copy of the data directory, a stolen disk or a backup, reads
    /// everything. Warned about at every start.
    #[arg(long, env = "COFFER_MASTER_KEY_IN_DATA_DIR")]
    pub(crate) master_key_in_data_dir: bool,

    /// When a write is acknowledged. `durable`: after its chunk files, their directories
    /// and the index commit are fsynced, so it survives a power cut or a kernel crash.
    /// `relaxed`: nothing is fsynced; a process crash loses nothing, but a power cut or a
    /// kernel crash loses the last seconds of acknowledged writes (the index stays
    /// consistent). For test suites and scratch data, never for patient data. --ephemeral is
    /// always relaxed.
    #[arg(
        long,
        env = "COFFER_DURABILITY",
        value_name = "MODE",
        value_enum,
        default_value_t = DurabilityArg::Durable
    )]
    pub(crate) durability: DurabilityArg,

    /// Size of the chunks object bodies are cut into, in bytes (64 KiB to 64 MiB).
    #[arg(long, env = "COFFER_CHUNK_SIZE", value_name = "BYTES", default_value_t = coffer_storage::DEFAULT_CHUNK_SIZE)]
    pub(crate) chunk_size: usize,

    /// Allow plain HTTP on a non-loopback address. Credentials and data then cross the
    /// network readable by anyone on the path; a warning is logged at every start.
    #[arg(long, env = "COFFER_INSECURE_HTTP")]
    pub(crate) insecure_http: bool,

    /// Serve HTTPS with this PEM certificate chain (leaf first). Needs --tls-key. SIGHUP
    /// reloads both files without dropping connections.
    #[arg(long, env = "COFFER_TLS_CERT", value_name = "PATH")]
    pub(crate) tls_cert: Option<PathBuf>,

    /// PEM private key of --tls-cert.
    #[arg(long, env = "COFFER_TLS_KEY", value_name = "PATH")]
    pub(crate) tls_key: Option<PathBuf>,

    /// Serve buckets virtual-hosted style under this DNS name: a request for
    /// `<bucket>.NAME[:port]` addresses that bucket, as most SDKs send by default. A request
    /// to NAME itself, to an IP address or to any other name stays path-style
    /// (`NAME/<bucket>/<key>`). Repeatable, or comma-separated in COFFER_DOMAIN. Needs a DNS
    /// wildcard record `*.NAME`, and with TLS a certificate that also covers `*.NAME`.
    #[arg(
        long = "domain",
        env = "COFFER_DOMAIN",
        value_name = "NAME",
        value_delimiter = ','
    )]
    pub(crate) domains: Vec<String>,

    /// Region reported to clients (AWS_REGION). Requests signed for another region are
    /// refused with an error naming this one, as AWS does.
    #[arg(
        long,
        env = "COFFER_REGION",
        value_name = "REGION",
        default_value = "us-east-1"
    )]
    pub(crate) region: String,

    /// Seconds to wait for open connections to finish on SIGTERM / ctrl-c.
    #[arg(
        long,
        env = "COFFER_SHUTDOWN_GRACE",
        value_name = "SECS",
        default_value_t = 30
    )]
    pub(crate) shutdown_grace: u64,

    /// Seconds between online scrub passes, which read every stored chunk and check its
    /// seal and keyed id while serving (findings in the log and metrics; `coffer fsck`
    /// repairs). The first pass starts an hour after start, or sooner if this is shorter.
    /// 0: never.
    #[arg(
        long,
        env = "COFFER_SCRUB_EVERY",
        value_name = "SECS",
        default_value_t = 7 * 24 * 3600
    )]
    pub(crate) scrub_every: u64,

    /// Most MiB per second the scrub reads, so it never crowds out clients. 0: unpaced.
    #[arg(
        long,
        env = "COFFER_SCRUB_RATE",
        value_name = "MIB_PER_SEC",
        default_value_t = DEFAULT_SCRUB_RATE_MIB
    )]
    pub(crate) scrub_rate: u64,

    /// Most client connections served at once; further clients wait in the accept queue.
    #[arg(
        long,
        env = "COFFER_MAX_CONNECTIONS",
        value_name = "N",
        default_value_t = DEFAULT_MAX_CONNECTIONS
    )]
    pub(crate) max_connections: usize,

    /// Most connections from one client address at once (IPv6: one /64); a further one is
    /// closed at once, so one address cannot hold every slot. Raise it for a reverse proxy
    /// or a clinic behind one NAT.
    #[arg(
        long,
        env = "COFFER_MAX_CONNECTIONS_PER_ADDRESS",
        value_name = "N",
        default_value_t = DEFAULT_MAX_CONNECTIONS_PER_ADDRESS
    )]
    pub(crate) max_connections_per_address: usize,

    /// Seconds a new connection has to send a complete request head (also bounds each later
    /// request head); a silent connection is closed after it.
    #[arg(
        long,
        env = "COFFER_HEADER_TIMEOUT",
        value_name = "SECS",
        default_value_t = DEFAULT_HEADER_TIMEOUT.as_secs()
    )]
    pub(crate) header_timeout: u64,

    /// Seconds a connection may stay open with no request in progress (HTTP/1 keep-alive,
    /// or HTTP/2 with no open stream) before it is closed.
    #[arg(
        long,
        env = "COFFER_IDLE_TIMEOUT",
        value_name = "SECS",
        default_value_t = DEFAULT_IDLE_TIMEOUT.as_secs()
    )]
    pub(crate) idle_timeout: u64,

    /// Do not keep the audit trail. It is on by default, in durable and ephemeral mode
    /// alike (see README "Audit"; HIPAA's audit controls expect it); turn it off only for
    /// throwaway servers and benchmarks.
    #[arg(long, env = "COFFER_NO_AUDIT")]
    pub(crate) no_audit: bool,

    /// How long audit records are kept: a whole number and a unit, y (365 days), d, h, m
    /// or s, such as 6y, 180d or 90s; the default, 6y, is HIPAA's documentation period.
    /// Checked at start and hourly: a segment file of the trail whose every record is
    /// older is removed whole, and a sealed anchor in the audit folder records where the
    /// trail now starts, so `coffer audit verify` still checks what remains and refuses a
    /// trail whose start was removed any other way.
    #[arg(
        long,
        env = "COFFER_AUDIT_RETENTION",
        value_name = "DURATION",
        default_value = "6y"
    )]
    pub(crate) audit_retention: String,
    /// Seconds between deliveries of server access logs (PutBucketLogging) into their
    /// target buckets; a log line appears within about this long of its request (1 to 3600).
    #[arg(
        long,
        env = "COFFER_BUCKET_LOG_INTERVAL",
        value_name = "SECS",
        default_value_t = 60
    )]
    pub(crate) bucket_log_interval: u64,

    /// Most object bodies (PutObject, UploadPart, UploadPartCopy) received at once. Each
    /// holds a few chunks of memory while it streams; further uploads wait up to 30 s, then
    /// get 503 SlowDown, which SDKs retry.
    #[arg(
        long,
        env = "COFFER_MAX_UPLOADS",
        value_name = "N",
        default_value_t = 32
    )]
    pub(crate) max_uploads: usize,

    /// Multipart uploads not completed within this many seconds are aborted (their parts
    /// freed) by a background sweep [default: 7 days].
    #[arg(
        long,
        env = "COFFER_MULTIPART_MAX_AGE",
        value_name = "SECS",
        default_value_t = 7 * 24 * 3600
    )]
    pub(crate) multipart_max_age: u64,

    /// Keep sealed chunks in a remote S3-compatible bucket (AWS S3, Ceph RGW, Garage,
    /// another Coffer) instead of DATA/chunks: s3://BUCKET or s3://BUCKET/PREFIX. Only
    /// sealed bytes under random and keyed names go there; the index and keys stay in the
    /// data directory. Chosen at a data directory's first start and remembered in
    /// DATA/chunk-store.toml. Credentials come from COFFER_CHUNK_STORE_ACCESS_KEY and
    /// COFFER_CHUNK_STORE_SECRET_KEY.
    #[arg(long, env = "COFFER_CHUNK_STORE", value_name = "S3_URL")]
    pub(crate) chunk_store: Option<String>,

    /// The remote chunk store's endpoint, http(s)://HOST[:PORT] (required with
    /// --chunk-store on first start; remembered after).
    #[arg(long, env = "COFFER_CHUNK_STORE_ENDPOINT", value_name = "URL")]
    pub(crate) chunk_store_endpoint: Option<String>,

    /// The region requests to the remote chunk store are signed for.
    #[arg(
        long,
        env = "COFFER_CHUNK_STORE_REGION",
        value_name = "REGION",
        default_value = "us-east-1"
    )]
    pub(crate) chunk_store_region: String,

    /// With a remote chunk store: the memory kept for recently written and read sealed
    /// chunks, e.g. 256MiB or 2GiB (0: none); hot reads are served from it.
    #[arg(long, env = "COFFER_CACHE_SIZE", value_name = "SIZE", default_value = DEFAULT_CACHE_SIZE)]
    pub(crate) cache_size: String,

    /// With a remote chunk store: how often, in seconds, the index changes since the last
    /// shipment are shipped, sealed, beside the chunks (1 to 3600). A crash of this
    /// machine loses at most this much for a restore elsewhere; a standby follows this
    /// often.
    #[arg(
        long,
        env = "COFFER_SHIP_INTERVAL",
        value_name = "SECS",
        default_value_t = DEFAULT_SHIP_INTERVAL_SECS
    )]
    pub(crate) ship_interval: u64,

    /// With a remote chunk store: ship each commit's index changes before acknowledging
    /// it, so a restore elsewhere loses nothing acknowledged (one more remote write per
    /// group commit).
    #[arg(long, env = "COFFER_SHIP_EACH_COMMIT")]
    pub(crate) ship_each_commit: bool,

    /// With a remote chunk store: how long, in seconds, the lease that makes this server
    /// the only writer lasts without renewal (2 to 600). It is renewed every third of
    /// that; a promotion waits it out.
    #[arg(
        long,
        env = "COFFER_LEASE_DURATION",
        value_name = "SECS",
        default_value_t = DEFAULT_LEASE_SECS
    )]
    pub(crate) lease_duration: u64,

    /// Serve as a standby of the server whose chunk store is at s3://BUCKET[/PREFIX]
    /// (with --chunk-store-endpoint): an empty --data is restored from the index shipped
    /// there, then follows it every --ship-interval and serves reads; writes get 503 until
    /// `coffer promote` makes it the writer.
    #[arg(
        long,
        env = "COFFER_STANDBY_OF",
        value_name = "S3_URL",
        conflicts_with = "chunk_store"
    )]
    pub(crate) standby_of: Option<String>,

    /// With --standby-of, when several servers ship under that location: which one to
    /// follow (the 32-digit id in its DATA/chunk-store.toml).
    #[arg(long, env = "COFFER_DEPLOYMENT", value_name = "ID")]
    pub(crate) deployment: Option<String>,

    /// How often, in seconds, a background sweep applies buckets' lifecycle rules
    /// (expirations and aborted uploads), 1 to 86400. Rules count days to midnight UTC, so
    /// an action is taken within this long after it becomes due [default: 3600].
    #[arg(
        long,
        env = "COFFER_LIFECYCLE_INTERVAL",
        value_name = "SECS",
        default_value_t = DEFAULT_LIFECYCLE_INTERVAL_SECS
    )]
    pub(crate) lifecycle_interval: u64,

    /// Largest browser form upload (POST Object), in bytes, form fields included. The whole
    /// form is held in memory before its signature can be checked, so keep it small
    /// [default: 64 MiB; at most 5 GiB].
    #[arg(
        long,
        env = "COFFER_POST_FORM_MAX_SIZE",
        value_name = "BYTES",
        default_value_t = DEFAULT_POST_FORM_MAX
    )]
    pub(crate) post_form_max_size: u64,

    /// Longest validity, in seconds, accepted for a presigned URL (X-Amz-Expires); longer
    /// ones are refused [default and maximum: 604800, 7 days, as on AWS].
    #[arg(
        long,
        env = "COFFER_PRESIGNED_MAX_EXPIRY",
        value_name = "SECS",
        default_value_t = MAX_PRESIGNED_EXPIRES_SECS
    )]
    pub(crate) presigned_max_expiry: u64,

    /// Serve Prometheus metrics (GET /metrics) and the health probes (/health/live,
    /// /health/ready) on this separate plain-HTTP address; off unless given. The flag alone
    /// means 127.0.0.1:9477. Metrics carry no bucket names, keys or user names, but they
    /// show traffic, so a non-loopback address needs --metrics-allow-remote. Once
    /// listening, stdout carries COFFER_METRICS_URL=http://…/metrics.
    #[arg(
        long,
        env = "COFFER_METRICS_LISTEN",
        value_name = "ADDR",
        num_args = 0..=1,
        default_missing_value = DEFAULT_METRICS_LISTEN
    )]
    pub(crate) metrics_listen: Option<SocketAddr>,

    /// Allow --metrics-listen on a non-loopback address (say, for a Prometheus in another
    /// container). The listener has no TLS and no authentication: firewall it.
    #[arg(long, env = "COFFER_METRICS_ALLOW_REMOTE")]
    pub(crate) metrics_allow_remote: bool,
}

/// `--metrics-listen` given without an address.
pub(crate) const DEFAULT_METRICS_LISTEN: &str = "127.0.0.1:9477";

/// Where the data lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Mode {
    /// A data directory, durable writes.
    Durable {
        /// The data directory.
        data: PathBuf,
        /// Where the master key comes from.
        master_key: MasterKeySource,
    },
    /// A temporary directory removed on exit, relaxed durability, a fresh master key.
    Ephemeral,
    /// No files: everything in memory, at most `max_bytes` of it; a fresh master key.
    InMemory {
        /// `--max-memory`.
        max_bytes: u64,
    },
}

impl Mode {
    /// The mode `args` ask for. `master_key_env_set`: whether `COFFER_MASTER_KEY` is set.
    fn from_args(args: &ServeArgs, master_key_env_set: bool) -> Result<Mode, ConfigError> {
        Ok(match (&args.data, args.ephemeral, args.in_memory) {
            (Some(data), false, false) => {
                let master_key = if master_key_env_set {
                    MasterKeySource::Env
                } else if let Some(path) = &args.master_key_file {
                    MasterKeySource::File(path.clone())
                } else if let Some(path) = &args.passphrase_file {
                    MasterKeySource::PassphraseFile(path.clone())
                } else if args.master_key_in_data_dir {
                    MasterKeySource::DataDir(data.join("master.key"))
                } else {
                    MasterKeySource::None
                };
                Mode::Durable {
                    data: data.clone(),
                    master_key,
                }
            }
            (None, true, false) => Mode::Ephemeral,
            (None, false, true) => Mode::InMemory {
                max_bytes: max_memory(&args.max_memory)?,
            },
            (None, false, false) => return Err(ConfigError::NoMode),
            _ => return Err(ConfigError::DataAndEphemeral),
        })
    }

    /// A server whose data goes away when it stops (`--ephemeral`, `--in-memory`).
    pub(crate) fn is_throwaway(&self) -> bool {
        !matches!(self, Mode::Durable { .. })
    }
}

/// `--max-memory`: bytes, or a number with a binary unit.
fn max_memory(text: &str) -> Result<u64, ConfigError> {
    byte_size(text, MIN_MAX_MEMORY).ok_or(ConfigError::MaxMemory)
}

/// Bytes, or a number with a binary unit (`512MiB`, `2G`), at least `min`.
fn byte_size(text: &str, min: u64) -> Option<u64> {
    let text = text.trim();
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    let shift = match unit.trim() {
        "" | "B" => 0,
        "KiB" | "K" => 10,
        "MiB" | "M" => 20,
        "GiB" | "G" => 30,
        "TiB" | "T" => 40,
        _ => return None,
    };
    number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(1 << shift))
        .filter(|&bytes| bytes >= min)
}

/// Which unlocker opens a durable store at start, in order of precedence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum MasterKeySource {
    /// `COFFER_MASTER_KEY` is set (read where it is used, never kept here).
    Env,
    /// `--master-key-file`.
    File(PathBuf),
    /// `--passphrase-file`.
    PassphraseFile(PathBuf),
    /// `<data>/master.key`, created at first start (`--master-key-in-data-dir`).
    DataDir(PathBuf),
    /// None given: a systemd credential if there is one, else start sealed.
    None,
}

/// The validated configuration of `coffer serve`.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    /// Durable or ephemeral.
    pub(crate) mode: Mode,
    /// Address to bind.
    pub(crate) listen: SocketAddr,
    /// `true` when serving plain HTTP beyond loopback was explicitly allowed and is in use.
    pub(crate) insecure_http: bool,
    /// Certificate and key to serve HTTPS with; `None` for plain HTTP.
    pub(crate) tls: Option<crate::tls::TlsFiles>,
    /// Whether writes are fsynced before they are acknowledged (ephemeral: never).
    pub(crate) durability: Durability,
    /// Chunk size in bytes.
    pub(crate) chunk_size: usize,
    /// Region name.
    pub(crate) region: String,
    /// Domains whose subdomains name buckets (virtual-hosted style); empty: path-style only.
    pub(crate) domains: Vec<Domain>,
    /// How long to wait for connections at shutdown.
    pub(crate) shutdown_grace: Duration,
    /// Time between scrub passes (`None`: never), and its read rate in bytes/s (0: unpaced).
    pub(crate) scrub_every: Option<Duration>,
    pub(crate) scrub_bytes_per_sec: u64,
    /// Bodies received at once.
    pub(crate) max_uploads: usize,
    /// Whether requests are recorded in the audit trail.
    pub(crate) audit: bool,
    /// Age past which audit records are removed (a segment at a time).
    pub(crate) audit_retention: Duration,
    /// How often bucket logs are delivered.
    pub(crate) bucket_log_interval: Duration,
    /// Age at which unfinished multipart uploads are aborted.
    pub(crate) multipart_max_age: Duration,
    /// How often lifecycle rules are applied.
    pub(crate) lifecycle_interval: Duration,
    /// Where chunks go, if not to the data directory (`--chunk-store`).
    pub(crate) chunk_store: crate::remote_store::Wanted,
    /// What clients may make the server spend.
    pub(crate) limits: Limits,
    /// What a test harness asked for.
    pub(crate) harness: Harness,
    /// Where metrics and probes are served, if anywhere.
    pub(crate) metrics_listen: Option<SocketAddr>,
}

/// What a test suite starting the server asks of it: fixtures, the ready line, its tie to
/// the harness, weak fixed credentials.
#[derive(Debug, Clone)]
pub(crate) struct Harness {
    /// Plain users to create at start (ephemeral mode).
    pub(crate) users: usize,
    /// Buckets to create at start if missing.
    pub(crate) buckets: Vec<String>,
    /// Whether those buckets are created versioned.
    pub(crate) versioning: bool,
    /// Whether a short root secret is accepted (loopback only).
    pub(crate) test_credentials: bool,
    /// How the endpoint lines are printed.
    pub(crate) print_env: PrintEnv,
    /// Whether the server stops when its parent or its stdin goes away.
    pub(crate) exit_with_parent: bool,
    /// A fixed root credential given in process ([`crate::in_process`]); the binary reads
    /// `COFFER_ROOT_*` from its environment instead.
    pub(crate) root_credential: Option<(String, coffer_auth::Secret)>,
}

impl Harness {
    /// From the harness flags of `args`.
    fn from_args(
        args: &ServeArgs,
        throwaway: bool,
        loopback: bool,
    ) -> Result<Harness, ConfigError> {
        if args.test_credentials && !loopback {
            return Err(ConfigError::TestCredentialsBeyondLoopback);
        }
        Ok(Harness {
            users: startup_users(args.users)?,
            buckets: startup_buckets(args.buckets.clone())?,
            versioning: args.versioning,
            test_credentials: args.test_credentials,
            print_env: args.print_env,
            exit_with_parent: match args.exit_with_parent {
                ExitWithParent::On => true,
                ExitWithParent::Off => false,
                ExitWithParent::Auto => throwaway && crate::stop::stdin_is_pipe(),
            },
            root_credential: None,
        })
    }
}

/// A configuration that cannot be served. Each message names the setting and the fix.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum ConfigError {
    /// Neither `--data` nor `--ephemeral`.
    #[error(
        "no data directory: pass --data DIR (or COFFER_DATA) to keep data, or --ephemeral for a throwaway server"
    )]
    NoMode,
    /// More than one of a data directory, `--ephemeral` and `--in-memory`.
    #[error(
        "--data (or data.dir), --ephemeral and --in-memory exclude each other: keep one, or override the file's with the flag you mean"
    )]
    DataAndEphemeral,
    /// `--users` without `--ephemeral` or `--in-memory`.
    #[error(
        "--users needs --ephemeral or --in-memory: on a durable server, create users with the IAM API (aws iam create-user)"
    )]
    UsersNeedEphemeral,
    /// `--max-memory` is not a size in range.
    #[error(
        "--max-memory must be a size from 16MiB up, such as 512MiB or 2GiB (a number of bytes, or with KiB, MiB, GiB or TiB)"
    )]
    MaxMemory,
    /// `--cache-size` is not a size.
    #[error("--cache-size must be a size such as 256MiB or 2GiB (0: no cache)")]
    CacheSize,
    /// `--ship-interval` out of range.
    #[error("--ship-interval must be 1 to 3600 seconds")]
    ShipInterval,
    /// `--lease-duration` out of range.
    #[error("--lease-duration must be 2 to 600 seconds")]
    LeaseDuration,
    /// `--chunk-store` is not an s3:// location.
    #[error("--chunk-store must be s3://BUCKET or s3://BUCKET/PREFIX")]
    ChunkStore,
    /// `--chunk-store` with `--in-memory`.
    #[error(
        "--chunk-store needs a data directory (--data or --ephemeral) for the index it keeps beside the remote chunks, not --in-memory"
    )]
    ChunkStoreInMemory,
    /// Only one of `--tls-cert` and `--tls-key`.
    #[error(
        "--tls-cert and --tls-key go together: give both (tls.cert and tls.key in the config file), or neither"
    )]
    TlsHalf,
    /// `--insecure-http` with a certificate.
    #[error(
        "--insecure-http and --tls-cert exclude each other: with a certificate nothing is served in plain HTTP; drop --insecure-http"
    )]
    InsecureWithTls,
    /// `--metrics-allow-remote` without `--metrics-listen`.
    #[error("--metrics-allow-remote needs --metrics-listen ADDR")]
    MetricsAllowRemoteAlone,
    /// P7: plain HTTP on a non-loopback address without `--insecure-http`.
    #[error(
        "--listen {0} is not a loopback address, and plain HTTP is served only on loopback: add --tls-cert and --tls-key, or pass --insecure-http"
    )]
    PlainHttpBeyondLoopback(SocketAddr),
    /// `--test-credentials` on a listener beyond loopback.
    #[error(
        "--test-credentials accepts weak secrets, so it needs a loopback --listen (127.0.0.1 or [::1])"
    )]
    TestCredentialsBeyondLoopback,
    /// A `--bucket` that S3 would not accept as a bucket name.
    #[error(
        "--bucket {0:?} is not a valid bucket name: 3 to 63 lower-case letters, digits, dots and hyphens, starting and ending with a letter or digit"
    )]
    BucketName(String),
    /// `--users` above its limit.
    #[error("--users must be at most {MAX_STARTUP_USERS}")]
    TooManyUsers,
    /// Chunk size out of range.
    #[error("--chunk-size must be between 65536 (64 KiB) and 67108864 (64 MiB) bytes")]
    ChunkSize,
    /// Region empty or with odd characters.
    #[error("--region must be 1 to 32 characters of a-z, 0-9 and '-'")]
    Region,
    /// A `--domain` that is not a DNS name.
    #[error(
        "--domain {name:?} cannot be used: {why}; give the name clients use, such as files.clinic.example"
    )]
    Domain {
        /// The value given.
        name: String,
        /// What is wrong with it.
        why: DomainError,
    },
    /// Zero connections.
    #[error("--max-connections must be at least 1")]
    MaxConnections,
    /// Per-address connections out of range.
    #[error("--max-connections-per-address must be between 1 and --max-connections")]
    MaxConnectionsPerAddress,
    /// Timeouts out of range.
    #[error("--header-timeout and --idle-timeout must be between 1 and 3600 seconds")]
    Timeout,
    /// Zero concurrent uploads.
    #[error("--max-uploads must be at least 1")]
    MaxUploads,
    /// Absurd grace period.
    #[error("--shutdown-grace must be at most 3600 seconds")]
    ShutdownGrace,
    /// Multipart expiry of zero.
    #[error("--multipart-max-age must be at least 1 second")]
    MultipartMaxAge,
    /// Lifecycle interval out of range.
    #[error("--lifecycle-interval must be between 1 and 86400 seconds")]
    LifecycleInterval,
    /// Form upload cap out of range.
    #[error("--post-form-max-size must be between 1024 bytes and 5 GiB")]
    PostFormMaxSize,
    /// Presigned expiry cap out of range.
    #[error("--presigned-max-expiry must be between 1 and 604800 seconds (7 days)")]
    PresignedMaxExpiry,
    /// `--audit-retention` not a duration, zero, or too long.
    #[error(
        "--audit-retention {value:?} cannot be used: {why}; give a whole number and a unit, y (365 days), d, h, m or s, such as 6y, 180d or 90s"
    )]
    AuditRetention {
        /// The value given.
        value: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// Bucket log interval out of range.
    #[error("--bucket-log-interval must be between 1 and 3600 seconds")]
    BucketLogInterval,
    /// Metrics on a non-loopback address without `--metrics-allow-remote`.
    #[error(
        "--metrics-listen {0} is not a loopback address, and the metrics listener has no TLS or authentication: use 127.0.0.1, or pass --metrics-allow-remote and firewall the port"
    )]
    MetricsBeyondLoopback(SocketAddr),
}

/// The longest `--audit-retention` taken: 1000 years, far past any record-keeping rule,
/// and still a time the clock can subtract.
const MAX_AUDIT_RETENTION_SECS: u64 = 1000 * 365 * 24 * 3600;

/// `--audit-retention`: a whole number and a unit (y = 365 days, d, h, m, s).
fn audit_retention(text: &str) -> Result<Duration, ConfigError> {
    let refuse = |why| ConfigError::AuditRetention {
        value: text.to_owned(),
        why,
    };
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    let number: u64 = number
        .parse()
        .map_err(|_| refuse("it does not start with a whole number"))?;
    let unit_secs: u64 = match unit {
        "y" => 365 * 24 * 3600,
        "d" => 24 * 3600,
        "h" => 3600,
        "m" => 60,
        "s" => 1,
        "" => return Err(refuse("it has no unit")),
        _ => return Err(refuse("its unit is not y, d, h, m or s")),
    };
    if number == 0 {
        return Err(refuse("zero would remove records as they are written"));
    }
    number
        .checked_mul(unit_secs)
        .filter(|secs| *secs <= MAX_AUDIT_RETENTION_SECS)
        .map(Duration::from_secs)
        .ok_or_else(|| refuse("it is longer than 1000 years"))
}

/// `--bucket` names, each a valid S3 bucket name (as s3s routes them).
fn startup_buckets(names: Vec<String>) -> Result<Vec<String>, ConfigError> {
    match names.iter().find(|n| !s3s::path::check_bucket_name(n)) {
        Some(bad) => Err(ConfigError::BucketName(bad.clone())),
        None => Ok(names),
    }
}

/// `--users`, within its limit.
fn startup_users(users: usize) -> Result<usize, ConfigError> {
    if users > MAX_STARTUP_USERS {
        return Err(ConfigError::TooManyUsers);
    }
    Ok(users)
}

/// The numeric flags, each within its range.
fn check_bounds(args: &ServeArgs) -> Result<(), ConfigError> {
    if args.max_connections == 0 {
        return Err(ConfigError::MaxConnections);
    }
    if !(1..=args.max_connections).contains(&args.max_connections_per_address) {
        return Err(ConfigError::MaxConnectionsPerAddress);
    }
    if ![args.header_timeout, args.idle_timeout]
        .iter()
        .all(|t| (1..=3600).contains(t))
    {
        return Err(ConfigError::Timeout);
    }
    if args.max_uploads == 0 {
        return Err(ConfigError::MaxUploads);
    }
    if args.shutdown_grace > 3600 {
        return Err(ConfigError::ShutdownGrace);
    }
    if args.multipart_max_age == 0 {
        return Err(ConfigError::MultipartMaxAge);
    }
    if args.in_memory && args.chunk_store.is_some() {
        return Err(ConfigError::ChunkStoreInMemory);
    }
    if !(1..=3600).contains(&args.ship_interval) {
        return Err(ConfigError::ShipInterval);
    }
    if !(2..=600).contains(&args.lease_duration) {
        return Err(ConfigError::LeaseDuration);
    }
    if args.standby_of.is_some() && args.in_memory {
        return Err(ConfigError::ChunkStoreInMemory);
    }
    if let Some(location) = args.chunk_store.as_ref().or(args.standby_of.as_ref()) {
        coffer_remote::Location::parse(location).map_err(|_| ConfigError::ChunkStore)?;
    }
    if !(1..=MAX_LIFECYCLE_INTERVAL_SECS).contains(&args.lifecycle_interval) {
        return Err(ConfigError::LifecycleInterval);
    }
    if !(MIN_POST_FORM_MAX..=MAX_POST_FORM_MAX).contains(&args.post_form_max_size) {
        return Err(ConfigError::PostFormMaxSize);
    }
    if !(1..=MAX_PRESIGNED_EXPIRES_SECS).contains(&args.presigned_max_expiry) {
        return Err(ConfigError::PresignedMaxExpiry);
    }
    if !(1..=3600).contains(&args.bucket_log_interval) {
        return Err(ConfigError::BucketLogInterval);
    }
    Ok(())
}

/// Settings that need or exclude one another. Not clap's `requires`/`conflicts_with`: those
/// see only flags and variables, and one half of a pair may come from the config file.
fn check_relations(args: &ServeArgs) -> Result<(), ConfigError> {
    if args.users > 0 && !args.ephemeral && !args.in_memory {
        return Err(ConfigError::UsersNeedEphemeral);
    }
    if args.tls_cert.is_some() != args.tls_key.is_some() {
        return Err(ConfigError::TlsHalf);
    }
    if args.insecure_http && args.tls_cert.is_some() {
        return Err(ConfigError::InsecureWithTls);
    }
    if args.metrics_allow_remote && args.metrics_listen.is_none() {
        return Err(ConfigError::MetricsAllowRemoteAlone);
    }
    Ok(())
}

impl ConfigError {
    /// The clap id of the setting at fault, when there is one: the config file loader
    /// names the file's key when that setting came from the file.
    pub(crate) fn setting(&self) -> Option<&'static str> {
        Some(match self {
            ConfigError::PlainHttpBeyondLoopback(_) => "listen",
            ConfigError::TooManyUsers | ConfigError::UsersNeedEphemeral => "users",
            ConfigError::MaxMemory => "max_memory",
            ConfigError::CacheSize => "cache_size",
            ConfigError::ShipInterval => "ship_interval",
            ConfigError::LeaseDuration => "lease_duration",
            ConfigError::ChunkStore | ConfigError::ChunkStoreInMemory => "chunk_store",
            ConfigError::ChunkSize => "chunk_size",
            ConfigError::Region => "region",
            ConfigError::Domain { .. } => "domains",
            ConfigError::BucketName(_) => "buckets",
            ConfigError::TestCredentialsBeyondLoopback => "test_credentials",
            ConfigError::MaxConnections => "max_connections",
            ConfigError::MaxConnectionsPerAddress => "max_connections_per_address",
            ConfigError::MaxUploads => "max_uploads",
            ConfigError::ShutdownGrace => "shutdown_grace",
            ConfigError::MultipartMaxAge => "multipart_max_age",
            ConfigError::LifecycleInterval => "lifecycle_interval",
            ConfigError::PostFormMaxSize => "post_form_max_size",
            ConfigError::PresignedMaxExpiry => "presigned_max_expiry",
            ConfigError::AuditRetention { .. } => "audit_retention",
            ConfigError::BucketLogInterval => "bucket_log_interval",
            ConfigError::MetricsBeyondLoopback(_) => "metrics_listen",
            ConfigError::InsecureWithTls => "insecure_http",
            ConfigError::MetricsAllowRemoteAlone => "metrics_allow_remote",
            // Two settings at fault, or none: the message names the flags.
            ConfigError::NoMode
            | ConfigError::DataAndEphemeral
            | ConfigError::TlsHalf
            | ConfigError::Timeout => return None,
        })
    }
}

impl Config {
    /// Validates `args`. `master_key_env_set` says whether `COFFER_MASTER_KEY` is set.
    pub(crate) fn from_args(
        args: ServeArgs,
        master_key_env_set: bool,
    ) -> Result<Config, ConfigError> {
        check_bounds(&args)?;
        check_relations(&args)?;
        let mode = Mode::from_args(&args, master_key_env_set)?;
        let durability = match (&mode, args.durability) {
            (Mode::Durable { .. }, DurabilityArg::Durable) => Durability::Immediate,
            _ => Durability::Relaxed,
        };
        let default_port = if mode.is_throwaway() {
            DEFAULT_EPHEMERAL_PORT
        } else {
            DEFAULT_PORT
        };
        let listen = args
            .listen
            .unwrap_or(SocketAddr::from((Ipv4Addr::LOCALHOST, default_port)));
        let loopback = listen.ip().to_canonical().is_loopback();
        let harness = Harness::from_args(&args, mode.is_throwaway(), loopback)?;
        // P7: plain HTTP only on loopback, unless explicitly allowed.
        let tls = match (args.tls_cert, args.tls_key) {
            (Some(cert), Some(key)) => Some(crate::tls::TlsFiles { cert, key }),
            // check_relations refused one without the other.
            _ => None,
        };
        if !loopback && tls.is_none() && !args.insecure_http {
            return Err(ConfigError::PlainHttpBeyondLoopback(listen));
        }

        if !(MIN_CHUNK_SIZE..=MAX_CHUNK_SIZE).contains(&args.chunk_size) {
            return Err(ConfigError::ChunkSize);
        }
        if !is_region_token(&args.region) {
            return Err(ConfigError::Region);
        }
        if let Some(metrics) = args.metrics_listen
            && !metrics.ip().to_canonical().is_loopback()
            && !args.metrics_allow_remote
        {
            return Err(ConfigError::MetricsBeyondLoopback(metrics));
        }
        let domains = args
            .domains
            .iter()
            .map(|name| {
                Domain::parse(name).map_err(|why| ConfigError::Domain {
                    name: name.clone(),
                    why,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        // The trail is a directory of segment files: an in-memory server has none.
        let audit = !args.no_audit && !matches!(mode, Mode::InMemory { .. });
        Ok(Config {
            mode,
            listen,
            insecure_http: !loopback && tls.is_none(),
            tls,
            durability,
            chunk_size: args.chunk_size,
            region: args.region,
            domains,
            shutdown_grace: Duration::from_secs(args.shutdown_grace),
            scrub_every: (args.scrub_every > 0).then(|| Duration::from_secs(args.scrub_every)),
            scrub_bytes_per_sec: args.scrub_rate.saturating_mul(1024 * 1024),
            max_uploads: args.max_uploads,
            audit,
            audit_retention: audit_retention(&args.audit_retention)?,
            bucket_log_interval: Duration::from_secs(args.bucket_log_interval),
            multipart_max_age: Duration::from_secs(args.multipart_max_age),
            lifecycle_interval: Duration::from_secs(args.lifecycle_interval),
            chunk_store: crate::remote_store::Wanted {
                location: args.chunk_store.clone().or_else(|| args.standby_of.clone()),
                endpoint: args.chunk_store_endpoint.clone(),
                region: args.chunk_store_region.clone(),
                cache_bytes: byte_size(&args.cache_size, 0).ok_or(ConfigError::CacheSize)?,
                ship_interval: Duration::from_secs(args.ship_interval),
                ship_each_commit: args.ship_each_commit,
                lease: Duration::from_secs(args.lease_duration),
                standby: args.standby_of.is_some(),
                deployment: args.deployment.clone(),
            },
            harness,
            metrics_listen: args.metrics_listen,
            limits: Limits {
                form_cap: args.post_form_max_size,
                presigned_max_secs: args.presigned_max_expiry,
                max_connections: args.max_connections,
                max_connections_per_address: args.max_connections_per_address,
                header_timeout: Duration::from_secs(args.header_timeout),
                idle_timeout: Duration::from_secs(args.idle_timeout),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serve_args(flags: &[&str]) -> Result<ServeArgs, clap::Error> {
        let mut command_line = vec!["coffer", "serve"];
        command_line.extend_from_slice(flags);
        Cli::try_parse_from(command_line).map(|cli| match cli.command {
            Command::Serve(parsed) => parsed,
            _ => unreachable!("parsed a serve command line"),
        })
    }

    fn config(flags: &[&str]) -> Result<Config, ConfigError> {
        Config::from_args(serve_args(flags).unwrap(), false)
    }

    #[test]
    fn cli_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn needs_data_or_ephemeral() {
        assert_eq!(config(&[]).unwrap_err(), ConfigError::NoMode);
        assert!(config(&[]).unwrap_err().to_string().contains("--ephemeral"));
        assert_eq!(
            config(&["--data", "/tmp/x", "--ephemeral"]).unwrap_err(),
            ConfigError::DataAndEphemeral
        );
        assert_eq!(
            config(&["--data", "/tmp/x", "--users", "1"]).unwrap_err(),
            ConfigError::UsersNeedEphemeral
        );
    }

    #[test]
    fn defaults() {
        let c = config(&["--data", "/srv/coffer"]).unwrap();
        assert_eq!(c.listen, "127.0.0.1:9000".parse().unwrap());
        assert_eq!(c.region, "us-east-1");
        assert_eq!(c.chunk_size, 4 << 20);
        assert_eq!(c.limits, Limits::default());
        assert_eq!(c.multipart_max_age, Duration::from_hours(7 * 24));
        assert_eq!(c.audit_retention, Duration::from_hours(6 * 365 * 24));
        assert_eq!(c.bucket_log_interval, Duration::from_mins(1));
        assert_eq!(
            config(&["--ephemeral", "--presigned-max-expiry", "604801"]).unwrap_err(),
            ConfigError::PresignedMaxExpiry
        );
        assert_eq!(
            config(&["--ephemeral", "--post-form-max-size", "100"]).unwrap_err(),
            ConfigError::PostFormMaxSize
        );
        assert!(!c.insecure_http);
        assert_eq!(
            c.mode,
            Mode::Durable {
                data: "/srv/coffer".into(),
                master_key: MasterKeySource::None,
            }
        );
        let e = config(&["--ephemeral"]).unwrap();
        assert_eq!(e.mode, Mode::Ephemeral);
        assert_eq!(e.listen, "127.0.0.1:0".parse().unwrap());
    }

    #[test]
    fn master_key_precedence() {
        let args = serve_args(&["--data", "/d", "--master-key-file", "/k"]).unwrap();
        let c = Config::from_args(args, true).unwrap();
        assert!(matches!(
            c.mode,
            Mode::Durable {
                master_key: MasterKeySource::Env,
                ..
            }
        ));
        let c = config(&["--data", "/d", "--passphrase-file", "/p"]).unwrap();
        assert!(matches!(
            c.mode,
            Mode::Durable { master_key: MasterKeySource::PassphraseFile(p), .. } if p == std::path::Path::new("/p")
        ));
        let c = config(&["--data", "/d", "--master-key-in-data-dir"]).unwrap();
        assert!(matches!(
            c.mode,
            Mode::Durable { master_key: MasterKeySource::DataDir(p), .. } if p == std::path::Path::new("/d/master.key")
        ));
        let c = config(&["--data", "/d", "--master-key-file", "/k"]).unwrap();
        assert!(matches!(
            c.mode,
            Mode::Durable { master_key: MasterKeySource::File(p), .. } if p == std::path::Path::new("/k")
        ));
    }

    #[test]
    fn p7_plain_http_beyond_loopback_is_refused() {
        let err = config(&["--data", "/d", "--listen", "0.0.0.0:9000"]).unwrap_err();
        assert!(matches!(err, ConfigError::PlainHttpBeyondLoopback(_)));
        let text = err.to_string();
        assert!(
            text.contains("--insecure-http") && text.contains("--tls-cert"),
            "{text}"
        );
        assert!(config(&["--ephemeral", "--listen", "192.168.1.5:0"]).is_err());
        assert!(config(&["--ephemeral", "--listen", "[::]:0"]).is_err());

        let ok = config(&[
            "--data",
            "/d",
            "--listen",
            "0.0.0.0:9000",
            "--insecure-http",
        ])
        .unwrap();
        assert!(ok.insecure_http);
        let tls = config(&[
            "--data",
            "/d",
            "--listen",
            "0.0.0.0:9000",
            "--tls-cert",
            "/c.pem",
            "--tls-key",
            "/k.pem",
        ])
        .unwrap();
        assert!(!tls.insecure_http);
        assert_eq!(
            tls.tls,
            Some(crate::tls::TlsFiles {
                cert: "/c.pem".into(),
                key: "/k.pem".into()
            })
        );
        for half in ["--tls-cert", "--tls-key"] {
            assert_eq!(
                config(&["--ephemeral", half, "/c.pem"]).unwrap_err(),
                ConfigError::TlsHalf
            );
        }
        let both = ["--tls-cert", "/c.pem", "--tls-key", "/k.pem"];
        assert_eq!(
            config(&[&["--ephemeral", "--insecure-http"][..], &both].concat()).unwrap_err(),
            ConfigError::InsecureWithTls
        );
        for lo in [
            "127.0.0.1:9000",
            "127.8.9.10:1",
            "[::1]:9000",
            "[::ffff:127.0.0.1]:1",
        ] {
            let c = config(&["--data", "/d", "--listen", lo]).unwrap();
            assert!(!c.insecure_http, "{lo}");
        }
    }

    #[test]
    fn limits_are_checked() {
        assert_eq!(
            config(&["--ephemeral", "--chunk-size", "1000"]).unwrap_err(),
            ConfigError::ChunkSize
        );
        assert_eq!(
            config(&["--ephemeral", "--chunk-size", "134217728"]).unwrap_err(),
            ConfigError::ChunkSize
        );
        assert!(config(&["--ephemeral", "--chunk-size", "65536"]).is_ok());
        assert_eq!(
            config(&["--ephemeral", "--region", "US East"]).unwrap_err(),
            ConfigError::Region
        );
        assert_eq!(
            config(&["--ephemeral", "--region", ""]).unwrap_err(),
            ConfigError::Region
        );
        assert_eq!(
            config(&["--ephemeral", "--max-connections", "0"]).unwrap_err(),
            ConfigError::MaxConnections
        );
        assert_eq!(
            config(&["--ephemeral", "--max-uploads", "0"]).unwrap_err(),
            ConfigError::MaxUploads
        );
        assert_eq!(
            config(&["--ephemeral", "--multipart-max-age", "0"]).unwrap_err(),
            ConfigError::MultipartMaxAge
        );
        assert_eq!(
            config(&["--ephemeral", "--bucket-log-interval", "0"]).unwrap_err(),
            ConfigError::BucketLogInterval
        );
        assert_eq!(
            config(&["--ephemeral", "--bucket-log-interval", "1"])
                .unwrap()
                .bucket_log_interval,
            Duration::from_secs(1)
        );
        assert!(serve_args(&["--ephemeral", "--listen", "not-an-address"]).is_err());
    }

    #[test]
    fn audit_retention_is_a_number_and_a_unit() {
        // `=` so clap takes "-1d" as the value, not as a flag.
        let retention = |v: &str| config(&["--ephemeral", &format!("--audit-retention={v}")]);
        for (text, secs) in [
            ("6y", 6 * 365 * 86_400),
            ("180d", 180 * 86_400),
            ("12h", 43_200),
            ("30m", 1_800),
            ("90s", 90),
            ("1000y", MAX_AUDIT_RETENTION_SECS),
        ] {
            assert_eq!(
                retention(text).unwrap().audit_retention,
                Duration::from_secs(secs),
                "{text}"
            );
        }
        for (bad, why) in [
            ("0d", "zero"),
            ("0", "no unit"),
            ("6", "no unit"),
            ("", "whole number"),
            ("y", "whole number"),
            ("-1d", "whole number"),
            ("1.5y", "unit"),
            ("6 years", "unit"),
            ("6Y", "unit"),
            ("1001y", "1000 years"),
            ("99999999999999999999s", "whole number"),
            ("18446744073709551615y", "1000 years"),
        ] {
            let err = retention(bad).unwrap_err();
            let text = err.to_string();
            assert!(
                matches!(err, ConfigError::AuditRetention { .. })
                    && text.starts_with("--audit-retention")
                    && text.contains(why),
                "{bad}: {text}"
            );
        }
    }

    #[test]
    fn metrics_are_off_unless_asked_and_loopback_unless_allowed() {
        assert_eq!(config(&["--ephemeral"]).unwrap().metrics_listen, None);
        assert_eq!(
            config(&["--ephemeral", "--metrics-listen"])
                .unwrap()
                .metrics_listen,
            Some("127.0.0.1:9477".parse().unwrap())
        );
        assert_eq!(
            config(&["--ephemeral", "--metrics-listen", "[::1]:0"])
                .unwrap()
                .metrics_listen,
            Some("[::1]:0".parse().unwrap())
        );
        let remote = config(&["--ephemeral", "--metrics-listen", "0.0.0.0:9477"]).unwrap_err();
        assert_eq!(
            remote,
            ConfigError::MetricsBeyondLoopback("0.0.0.0:9477".parse().unwrap())
        );
        assert!(remote.to_string().contains("--metrics-allow-remote"));
        let allowed = config(&[
            "--ephemeral",
            "--metrics-listen",
            "0.0.0.0:9477",
            "--metrics-allow-remote",
        ])
        .unwrap();
        assert_eq!(
            allowed.metrics_listen,
            Some("0.0.0.0:9477".parse().unwrap())
        );
        assert_eq!(
            config(&["--ephemeral", "--metrics-allow-remote"]).unwrap_err(),
            ConfigError::MetricsAllowRemoteAlone
        );
    }

    #[test]
    fn log_format_is_text_unless_json() {
        let parse = |args: &[&str]| Cli::try_parse_from(args).map(|cli| cli.log_format);
        assert_eq!(
            parse(&["coffer", "serve", "--ephemeral"]).unwrap(),
            LogFormat::Text
        );
        assert_eq!(
            parse(&["coffer", "serve", "--ephemeral", "--log-format", "json"]).unwrap(),
            LogFormat::Json
        );
        assert_eq!(
            parse(&[
                "coffer",
                "--log-format",
                "json",
                "audit",
                "show",
                "--data",
                "d"
            ])
            .unwrap(),
            LogFormat::Json
        );
        assert!(parse(&["coffer", "serve", "--ephemeral", "--log-format", "xml"]).is_err());
    }

    #[test]
    fn domains_are_dns_names() {
        let c = config(&[
            "--ephemeral",
            "--domain",
            "Files.Clinic.Example",
            "--domain",
            "localhost",
        ])
        .unwrap();
        let names: Vec<&str> = c.domains.iter().map(Domain::as_str).collect();
        assert_eq!(names, ["files.clinic.example", "localhost"]);
        assert!(config(&["--ephemeral"]).unwrap().domains.is_empty());
        let c = config(&["--ephemeral", "--domain", "a.example,b.example"]).unwrap();
        assert_eq!(c.domains.len(), 2);
        for (bad, why) in [
            ("127.0.0.1", DomainError::IpAddress),
            ("", DomainError::Empty),
            ("files.example:9000", DomainError::NotDnsName),
        ] {
            let err = config(&["--ephemeral", "--domain", bad]).unwrap_err();
            assert_eq!(
                err,
                ConfigError::Domain {
                    name: bad.to_owned(),
                    why
                }
            );
            assert!(err.to_string().starts_with("--domain"), "{err}");
        }
    }
}
