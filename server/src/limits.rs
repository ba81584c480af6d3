//! Every size, time and count limit the server applies to what clients send, in one place.
//!
//! A client controls how much memory, how many connections and how much time a request
//! costs; each of those is bounded by a constant here or by a setting in [`Limits`] (from the
//! command line, validated in `config.rs`). README's "Security model" lists them and how to
//! tune the configurable ones; keep the two in step.

use std::time::Duration;

// ---- Bodies ----

/// Largest single PUT body (AWS's limit).
pub(crate) const MAX_PUT_BODY: u64 = 5 << 30;
/// Room for aws-chunked framing on a 5 GiB streaming PUT: chunk headers with signatures
/// take ~90 bytes per chunk, and clients use chunks of 8 KiB or more (~1.1%).
pub(crate) const MAX_CHUNKED_FRAMING: u64 = MAX_PUT_BODY / 64;
/// Largest body of any other request (XML documents).
pub(crate) const MAX_OTHER_BODY: u64 = 4 << 20;
/// Largest XML request body s3s buffers (a 10,000-part Complete with checksums is ~2 MiB).
pub(crate) const XML_MAX_BODY: usize = 4 << 20;
/// Largest aws-chunked chunk: s3s holds a whole chunk in memory before checking its
/// signature, so a larger announced size is refused before it is read. SDKs use 64 KiB to
/// 8 MiB.
pub(crate) const MAX_AWS_CHUNK: u64 = 16 << 20;
/// Longest aws-chunked chunk header line (`size;chunk-signature=<64 hex>`), as s3s allows.
pub(crate) const MAX_AWS_CHUNK_HEADER: usize = 1024;
/// A client that stops sending a body for this long loses the request; otherwise a
/// stalled upload would pin a connection and its buffers forever.
pub(crate) const BODY_IDLE_TIMEOUT: Duration = Duration::from_mins(1);
/// How long an upload waits for one of the `--max-uploads` slots before `SlowDown`.
pub(crate) const UPLOAD_SLOT_WAIT: Duration = Duration::from_secs(30);
/// Largest source of a server-side copy (AWS's limit for CopyObject).
pub(crate) const MAX_COPY_SOURCE: u64 = 5 << 30;
/// User metadata per object (AWS: 2 KB).
pub(crate) const USER_METADATA_MAX: usize = 2 * 1024;
/// Page size limit and default of every listing (ListObjects, ListParts, ListMultipartUploads).
pub(crate) const MAX_KEYS: i32 = 1000;
/// Clock skew tolerated on signed requests (P1: 15 minutes).
pub(crate) const MAX_SKEW_SECS: u32 = 900;
/// Rules in one bucket CORS configuration (AWS's limit).
pub(crate) const CORS_MAX_RULES: usize = 100;
/// Size of one bucket CORS configuration, counted as the text of its rules (AWS: 64 KB).
pub(crate) const CORS_MAX_CONFIG: usize = 64 << 10;
/// Keys in one DeleteObjects request (AWS's limit).
pub(crate) const MAX_DELETE_KEYS: usize = 1000;

// ---- IAM and STS query API ----

/// Largest IAM or STS request body: a form of a few parameters, at most a 2 KiB policy
/// (URL-encoded, so up to three times that) and a 10 KiB one to spare. Read whole before
/// the signature is checked, since the signature covers its hash.
pub(crate) const IAM_MAX_BODY: u64 = 128 << 10;
/// `MaxItems` of IAM listings: default and largest (AWS's).
pub(crate) const IAM_DEFAULT_ITEMS: usize = 100;
/// See [`IAM_DEFAULT_ITEMS`].
pub(crate) const IAM_MAX_ITEMS: usize = 1000;

// ---- KMS JSON API ----

/// Largest KMS request body: a JSON object of a few parameters, the longest being an
/// 8192-character description (JSON-escaped, so up to six bytes a character) and room to
/// spare. Read whole before the signature is checked, since the signature covers its hash.
pub(crate) const KMS_MAX_BODY: u64 = 64 << 10;
/// KMS keys (and, separately, aliases) one deployment may hold. The table is one sealed
/// record rewritten whole at each change, so it stays small.
pub(crate) const KMS_MAX_KEYS: usize = 10_000;
/// `Limit` of ListKeys and ListAliases: default and largest (AWS's).
pub(crate) const KMS_DEFAULT_ITEMS: usize = 100;
/// See [`KMS_DEFAULT_ITEMS`].
pub(crate) const KMS_MAX_ITEMS: usize = 1000;
/// How often keys past their deletion date are looked for and destroyed (also at start).
pub(crate) const KMS_SWEEP_INTERVAL: Duration = Duration::from_hours(1);
/// Longest `x-amz-server-side-encryption-context` header (base64): AWS allows a context of
/// up to 8 KiB; its base64 is a third longer.
pub(crate) const SSE_KMS_CONTEXT_MAX: usize = 11 << 10;

// ---- In-memory mode ----

/// `--max-memory` by default: what an in-memory server may hold (sealed chunks plus its
/// index). A test suite's fixtures fit; a CI runner (7 GiB and more) keeps its headroom.
pub(crate) const DEFAULT_MAX_MEMORY: &str = "1GiB";
/// The smallest `--max-memory`: a few chunks and an index.
pub(crate) const MIN_MAX_MEMORY: u64 = 16 << 20;
/// Default memory for recently used sealed chunks of a remote chunk store (`--cache-size`).
pub(crate) const DEFAULT_CACHE_SIZE: &str = "256MiB";
/// How often a primary ships its index changes, and a standby looks for them.
pub(crate) const DEFAULT_SHIP_INTERVAL_SECS: u64 = 5;
/// How long the writer's lease on a remote chunk store lasts without renewal.
pub(crate) const DEFAULT_LEASE_SECS: u64 = 10;

// ---- Presigned URLs ----

/// Longest validity AWS allows for a presigned URL: 7 days.
pub(crate) const MAX_PRESIGNED_EXPIRES_SECS: u64 = 604_800;

// ---- Lifecycle ----

/// How often lifecycle rules are applied by default, in seconds (hourly).
pub(crate) const DEFAULT_LIFECYCLE_INTERVAL_SECS: u64 = 3600;
/// The longest `--lifecycle-interval`: a day, the unit rules count in.
pub(crate) const MAX_LIFECYCLE_INTERVAL_SECS: u64 = 86_400;

// ---- Browser form uploads ----

/// Default cap on a browser form upload (the whole form is held in memory by s3s).
pub(crate) const DEFAULT_POST_FORM_MAX: u64 = 64 << 20;
/// Smallest and largest accepted `--post-form-max-size`.
pub(crate) const MIN_POST_FORM_MAX: u64 = 1 << 10;
/// See [`MIN_POST_FORM_MAX`].
pub(crate) const MAX_POST_FORM_MAX: u64 = 5 << 30;
/// Browser form uploads held in memory at once (each up to the form cap).
pub(crate) const FORM_UPLOADS_AT_ONCE: usize = 4;
/// Forms one client address may have in progress at once (reading fields or buffered).
pub(crate) const FORMS_PER_ADDRESS: usize = 2;
/// Most bytes of form fields read before the file part (AWS allows 20 KB of policy).
pub(crate) const FORM_FIELDS_MAX: usize = 64 << 10;
/// Time a form has to deliver its fields (policy, signature…) before it gets a slot.
pub(crate) const FORM_FIELDS_DEADLINE: Duration = Duration::from_secs(10);
/// Time a browser form upload has to arrive whole and be stored, once it holds a slot.
pub(crate) const FORM_DEADLINE: Duration = Duration::from_mins(2);

// ---- Failed signatures ----

/// Signature failures an address may accumulate before its failures are slowed down.
pub(crate) const THROTTLE_BURST: f64 = 20.0;
/// Failures forgiven per second.
pub(crate) const THROTTLE_LEAK_PER_SEC: f64 = 0.5;
/// Most addresses tracked at once.
pub(crate) const THROTTLE_MAX_TRACKED: usize = 4096;
/// How long a failure from a throttled address waits before its `503 SlowDown` goes out.
pub(crate) const THROTTLE_FAILURE_DELAY: Duration = Duration::from_millis(100);

// ---- Connections ----

/// Default `--max-connections`.
pub(crate) const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// Default `--max-connections-per-address`.
pub(crate) const DEFAULT_MAX_CONNECTIONS_PER_ADDRESS: usize = 64;
/// Default `--header-timeout`: time a client has to send a complete request head, counted
/// from the connection's first moment (a silent connection is closed after it).
pub(crate) const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Default `--idle-timeout`: a connection with no request in progress for this long is closed.
pub(crate) const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_mins(1);
/// HTTP/1 read buffer cap, which bounds the request head.
pub(crate) const MAX_H1_BUF: usize = 256 << 10;
/// HTTP/2 header list cap.
pub(crate) const MAX_H2_HEADER_LIST: u32 = 64 << 10;
/// HTTP/2 streams per connection.
pub(crate) const MAX_H2_STREAMS: u32 = 64;
/// HTTP/2 keep-alive: a ping after this much silence…
pub(crate) const H2_KEEPALIVE_INTERVAL: Duration = Duration::from_secs(20);
/// …that must be answered within this, or the connection is closed.
pub(crate) const H2_KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(10);
/// Time a client has to complete the TLS handshake.
pub(crate) const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Time a connection asked to close (idle) gets to finish its last response.
pub(crate) const CLOSE_GRACE: Duration = Duration::from_secs(5);
/// Pause after an accept error (EMFILE and friends) so the loop does not spin.
pub(crate) const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(50);
/// Client addresses tracked for the per-address caps (connections, forms); beyond it, new
/// addresses are refused until some leave.
pub(crate) const MAX_TRACKED_ADDRESSES: usize = 65_536;

// ---- Health and metrics ----

/// Distinct operation labels the metrics keep; a further one counts as `Other`. S3 has
/// about a hundred operations, so only a classification bug could reach it.
pub(crate) const METRICS_MAX_OPERATIONS: usize = 200;
/// Connections the metrics listener serves at once (scrapers and probes; it is loopback
/// by default); further ones wait in the accept queue.
pub(crate) const METRICS_MAX_CONNECTIONS: usize = 8;
/// Time a metrics or probe connection has to send its request head, and to finish.
pub(crate) const METRICS_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a readiness check of the data directory's writability is reused: a probe every
/// second costs one small unsynced temp file every few seconds at most.
pub(crate) const READY_DISK_CHECK_EVERY: Duration = Duration::from_secs(5);
/// Time `coffer health` waits for the server's answer.
pub(crate) const HEALTH_PROBE_TIMEOUT: Duration = Duration::from_secs(5);

// ---- Users ----

/// Most plain users `--users` creates at start (each is a sealed directory entry).
pub(crate) const MAX_STARTUP_USERS: usize = 100;

// ---- Chunks (storage) ----

/// Smallest and largest `--chunk-size`.
pub(crate) const MIN_CHUNK_SIZE: usize = 64 << 10;
/// See [`MIN_CHUNK_SIZE`].
pub(crate) const MAX_CHUNK_SIZE: usize = 64 << 20;

/// The limits set on the command line, validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    /// Largest browser form upload body, in bytes.
    pub(crate) form_cap: u64,
    /// Longest `X-Amz-Expires` of a presigned URL, in seconds (at most 7 days).
    pub(crate) presigned_max_secs: u64,
    /// Connections served at once.
    pub(crate) max_connections: usize,
    /// Connections served at once from one client address (IPv6: one /64).
    pub(crate) max_connections_per_address: usize,
    /// Time to the end of a request head, from the connection's start or the previous
    /// response.
    pub(crate) header_timeout: Duration,
    /// Time a connection may stay open with no request in progress.
    pub(crate) idle_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            form_cap: DEFAULT_POST_FORM_MAX,
            presigned_max_secs: MAX_PRESIGNED_EXPIRES_SECS,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_connections_per_address: DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
        }
    }
}

/// Records of requests refused while the server is sealed, kept in memory until the unlock
/// opens the audit trail (its key is sealed with the data); past this many, further ones
/// are only counted (and the count logged at the unlock).
pub(crate) const SEALED_RECORDS_MAX: usize = 10_000;
