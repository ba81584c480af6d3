//! `coffer audit …`: reading and checking the audit trail of a STOPPED data directory (a
//! running server serves it to auditors instead: `iam/audit_api.rs`).
//!
//! The trail (`<data>/audit/`) is sealed under a key kept as a sealed record of the index,
//! so these commands open the directory with one of its unlockers, as `coffer users` does,
//! and refuse a directory a server is running on. `show` streams records (constant memory
//! however long the trail); `verify` checks the whole hash chain and, given one, that the
//! trail still reaches a checkpoint taken from the server log.
// The doc comments of the clap types are the `--help` text, read as plain text.
#![allow(clippy::doc_markdown)]

use std::io::Write as _;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use coffer_audit::{Checkpoint, Filter, Reader, Timeline};
use zeroize::Zeroizing;

use crate::audit_trail::AUDIT_KEY_RECORD;
use std::time::{Duration, SystemTime};

use crate::audit_view::{json_line, parse_time, text_line};
use crate::iam::iso8601;
use crate::users_cmd::DirArgs;

/// The trail's folder under the data directory (or the ephemeral temporary directory).
pub(crate) const AUDIT_DIR: &str = "audit";

/// Flags of `coffer audit`.
#[derive(Debug, Args)]
pub(crate) struct AuditArgs {
    /// What to do.
    #[command(subcommand)]
    command: AuditCommand,
}

/// Read and check the audit trail: one record per request the server answered (who, what,
/// which bucket and key, result, bytes, time, address). The server must be stopped.
#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Check every record of the trail: each opens under the trail's key, the sequence runs
    /// without a gap, and each carries the hash of the one before. Prints the segments and
    /// records checked, the sequence they start from and the checkpoint where the trail
    /// ends; exits non-zero naming the segment and record where it is broken.
    ///
    /// Once --audit-retention has removed old records, the trail starts later than
    /// sequence 1: it verifies only if the sealed anchor expiry left says so, and says
    /// from which sequence it verifies.
    ///
    /// A trail cut short at its end still verifies: pass a checkpoint the server logged
    /// ("audit checkpoint" lines, kept outside the data directory) to catch that.
    Verify(VerifyArgs),
    /// Print the requests whose records pass every filter given, one per line in the
    /// order they were answered, tab-separated: time of arrival, request id, user
    /// ("anonymous" if unsigned), access key, source address, operation, bucket, key,
    /// version, status, error code, bytes in, bytes out, duration in µs ("-" for an empty
    /// field). With --json, one JSON object per line instead.
    ///
    /// A change is recorded twice, its intent before it is made and its outcome after; the
    /// two show as one line. A change whose outcome was never recorded (the server stopped
    /// in between) shows last, with status "unfinished" ("phase": "Intent" in JSON): it
    /// may or may not have been made.
    Show(ShowArgs),
}

#[derive(Debug, Args)]
struct VerifyArgs {
    #[command(flatten)]
    dir: DirArgs,

    /// A checkpoint from the server log (coffer-audit:<sequence>:<hash>): the trail must
    /// reach it with the same hash.
    #[arg(long, value_name = "CHECKPOINT")]
    checkpoint: Option<String>,
}

#[derive(Debug, Args)]
struct ShowArgs {
    #[command(flatten)]
    dir: DirArgs,

    /// Records at or after this time: RFC 3339 (2026-01-31T08:00:00Z) or milliseconds
    /// since the Unix epoch.
    #[arg(long, value_name = "TIME")]
    since: Option<String>,

    /// Records before this time (same forms as --since).
    #[arg(long, value_name = "TIME")]
    until: Option<String>,

    /// Records of this user ("root", a user name, or "anonymous").
    #[arg(long, value_name = "USER")]
    user: Option<String>,

    /// Records naming this bucket.
    #[arg(long, value_name = "BUCKET")]
    bucket: Option<String>,

    /// Records naming this object key.
    #[arg(long, value_name = "KEY")]
    key: Option<String>,

    /// Records of this operation (GetObject, PutObject, iam:CreateUser, Unknown…).
    #[arg(long, value_name = "OP")]
    op: Option<String>,

    /// Records answered with this HTTP status.
    #[arg(long, value_name = "N")]
    status: Option<u16>,

    /// One JSON object per line.
    #[arg(long)]
    json: bool,
}

/// Runs `coffer audit …`.
pub(crate) async fn run(args: AuditArgs) -> anyhow::Result<()> {
    // Filters are checked before the directory is opened.
    let (dir, filter) = match &args.command {
        AuditCommand::Verify(v) => (&v.dir, None),
        AuditCommand::Show(s) => (&s.dir, Some(filter(s)?)),
    };
    let checkpoint = match &args.command {
        AuditCommand::Verify(VerifyArgs {
            checkpoint: Some(text),
            ..
        }) => Some(text.parse::<Checkpoint>().with_context(|| {
            format!("--checkpoint {text} is not an audit checkpoint (coffer-audit:<sequence>:<hash>, as the server logs it)")
        })?),
        _ => None,
    };
    let store = crate::users_cmd::open_store(
        dir,
        ", or read the trail from the running server with ReadAuditTrail (README, \"Audit\")",
    )
    .await?;
    let key = store.get_sealed(AUDIT_KEY_RECORD).await;
    // The store stays open (its lock held, so no server starts) until the trail is read.
    let trail = dir.data.join(AUDIT_DIR);
    let result = match key {
        Err(error) => Err(anyhow::Error::new(error).context("could not read the audit key")),
        Ok(None) => Err(anyhow::anyhow!(
            "{} has no audit trail yet: no server has served on it since auditing began",
            dir.data.display()
        )),
        Ok(Some(stored)) if stored.len() != 32 => {
            Err(anyhow::anyhow!("the stored audit key is not 32 bytes long"))
        }
        Ok(Some(stored)) => {
            let mut key = Zeroizing::new([0u8; 32]);
            key.copy_from_slice(&stored);
            tokio::task::spawn_blocking(move || match filter {
                None => verify(&trail, &key, checkpoint),
                Some(filter) => show(
                    &trail,
                    &key,
                    filter,
                    matches!(&args.command, AuditCommand::Show(s) if s.json),
                ),
            })
            .await
            .context("the audit task failed")
            .and_then(|r| r)
        }
    };
    store.shutdown().await;
    result
}

fn verify(
    trail: &std::path::Path,
    key: &[u8; 32],
    checkpoint: Option<Checkpoint>,
) -> anyhow::Result<()> {
    let report =
        coffer_audit::verify(trail, key, checkpoint).context("audit trail verification failed")?;
    let at = |ms: u64| iso8601(SystemTime::UNIX_EPOCH + Duration::from_millis(ms));
    let start = match report.expired {
        None => "verified from sequence 1, the start of the trail".to_owned(),
        Some(expired) => format!(
            "verified from sequence {}: the {} records before it ({} segments), all older than {}, were removed by --audit-retention on {}, as the trail's sealed anchor attests",
            report.first,
            expired.records,
            expired.segments,
            at(expired.cutoff_ms),
            at(expired.removed_at_ms),
        ),
    };
    crate::print_flushed(&format!(
        "audit trail intact: {} records in {} segments{}\n{start}\nlast checkpoint: {}\n",
        report.records,
        report.segments,
        if checkpoint.is_some() {
            ", reaching the checkpoint given"
        } else {
            ""
        },
        report.last
    ))
}

fn show(trail: &std::path::Path, key: &[u8; 32], filter: Filter, json: bool) -> anyhow::Result<()> {
    let reader = Reader::open(trail, key, filter).context("could not read the audit trail")?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for item in Timeline::new(reader) {
        let (sequence, record) =
            item.context("could not read the audit trail (run `coffer audit verify`)")?;
        let line = if json {
            json_line(sequence, &record)?
        } else {
            text_line(&record)
        };
        out.write_all(line.as_bytes())
            .and_then(|()| out.write_all(b"\n"))
            .context("could not write to stdout")?;
    }
    out.flush().context("could not write to stdout")
}

fn filter(args: &ShowArgs) -> anyhow::Result<Filter> {
    Ok(Filter {
        since_ms: args
            .since
            .as_deref()
            .map(|t| parse_time("--since", t))
            .transpose()?,
        until_ms: args
            .until
            .as_deref()
            .map(|t| parse_time("--until", t))
            .transpose()?,
        user: args.user.clone(),
        bucket: args.bucket.clone(),
        key: args.key.clone(),
        operation: args.op.clone(),
        status: args.status,
    })
}
