//! `coffer backup` and `coffer restore` (issue 13).
//!
//! `coffer backup --data DIR --to OUT` asks the server running on `DIR` for a backup through
//! its admin socket (`admin_socket.rs`); with no server running, it opens `DIR` itself (with
//! an unlocker, as `coffer fsck` does) and makes the same backup. Either way the storage
//! crate's `Store::backup` does the work: a consistent snapshot, still sealed, incremental
//! (see its module doc). `OUT` is then a data directory of its own.
//!
//! `coffer restore --from OUT --data NEWDIR` makes a verified copy: it opens the backup
//! under the master key (or an unlocker), copies it into the empty `NEWDIR` the same way,
//! and runs fsck's check on the result. `coffer serve --data OUT` would serve the backup
//! in place too; restore keeps the backup untouched by the server that then runs.
//!
//! Output names no bucket or object (P6): counts, bytes and seconds only.
// The doc comments of the clap types are the `--help` text, read as plain text.
#![allow(clippy::doc_markdown)]

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context as _, bail};
use clap::Args;
use coffer_storage::{BackupReport, FsckMode};

use crate::admin_socket;
use crate::audit_cmd::AUDIT_DIR;
use crate::unlock_input::ProofArgs;
use crate::users_cmd::{DirArgs, Sweep, open_dir};

/// Flags of `coffer backup`.
#[derive(Debug, Args)]
pub(crate) struct BackupArgs {
    /// Data directory to back up, running or stopped. A running server makes the backup
    /// itself (no unlocker needed); a stopped directory is opened with its unlocker.
    #[command(flatten)]
    dir: DirArgs,

    /// Backup directory: created if missing, updated incrementally if it holds an earlier
    /// backup of the same data directory. Must be outside the data directory.
    #[arg(long, value_name = "DIR")]
    to: PathBuf,

    /// Print the report as one JSON object instead of plain words.
    #[arg(long)]
    json: bool,
}

/// Flags of `coffer restore`.
#[derive(Debug, Args)]
pub(crate) struct RestoreArgs {
    /// The backup directory (what `coffer backup --to` wrote), or s3://BUCKET[/PREFIX]:
    /// the remote chunk store of a server that ships its index there.
    #[arg(long, value_name = "DIR|S3_URL")]
    from: String,

    /// With --from s3://…: the remote's endpoint, http(s)://HOST[:PORT]. Credentials
    /// come from COFFER_CHUNK_STORE_ACCESS_KEY and COFFER_CHUNK_STORE_SECRET_KEY.
    #[arg(long, env = "COFFER_CHUNK_STORE_ENDPOINT", value_name = "URL")]
    chunk_store_endpoint: Option<String>,

    /// With --from s3://…: the region requests are signed for.
    #[arg(
        long,
        env = "COFFER_CHUNK_STORE_REGION",
        value_name = "REGION",
        default_value = "us-east-1"
    )]
    chunk_store_region: String,

    /// With --from s3://…, when several servers ship under that location: which one (the
    /// 32-digit id in its DATA/chunk-store.toml).
    #[arg(long, value_name = "ID")]
    deployment: Option<String>,

    /// The new data directory: must not exist, or be empty.
    #[arg(long, value_name = "DIR")]
    data: PathBuf,

    /// The unlocker that opens the backup (the data directory's own).
    #[command(flatten)]
    proof: ProofArgs,

    /// Print the report as one JSON object instead of plain words.
    #[arg(long)]
    json: bool,
}

/// Runs `coffer backup`.
pub(crate) async fn run_backup(args: BackupArgs) -> anyhow::Result<()> {
    let to = std::path::absolute(&args.to)
        .with_context(|| format!("could not resolve --to {}", args.to.display()))?;
    let started = Instant::now();
    let (report, mode) = if let Some(report) = ask_server(&args.dir.data, &to).await? {
        (report, "online")
    } else {
        let store = open_dir(
            &args.dir,
            ", or back it up while it serves (its admin socket did not answer)",
            Sweep::Never,
        )
        .await?;
        let made = store.backup(to, vec![AUDIT_DIR.to_owned()]).await;
        store.shutdown().await;
        let report = made.context("the backup failed")?;
        let json = report_json(&report, started.elapsed().as_secs_f64());
        (serde_json::from_str(&json)?, "offline")
    };
    finish(report, mode, args.json)
}

/// Runs `coffer restore`.
pub(crate) async fn run_restore(args: RestoreArgs) -> anyhow::Result<()> {
    let empty = match std::fs::read_dir(&args.data) {
        Ok(mut entries) => entries.next().is_none(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
        Err(e) => {
            return Err(e).with_context(|| format!("could not read {}", args.data.display()));
        }
    };
    if !empty {
        bail!(
            "{} is not empty: restore into a new directory (nothing was changed)",
            args.data.display()
        );
    }
    if args.from.starts_with("s3://") {
        return restore_shipped(args).await;
    }
    let started = Instant::now();
    let from = DirArgs {
        data: PathBuf::from(args.from),
        proof: args.proof,
    };
    let store = open_dir(&from, "", Sweep::Never).await?;
    let made = store
        .backup(args.data.clone(), vec![AUDIT_DIR.to_owned()])
        .await;
    store.shutdown().await;
    let report = made.context("the copy failed")?;
    let restored = DirArgs {
        data: args.data,
        proof: from.proof,
    };
    let store = open_dir(&restored, "", Sweep::Never).await?;
    let fsck = store.fsck(FsckMode::Check).await;
    store.shutdown().await;
    let fsck = fsck.context("fsck of the restored directory could not finish")?;
    let mut value: serde_json::Value =
        serde_json::from_str(&report_json(&report, started.elapsed().as_secs_f64()))?;
    value["fsck_problems"] = fsck.findings.len().into();
    finish(value, "restore", args.json)?;
    if !fsck.is_clean() {
        bail!(
            "fsck found {} problems in the restored directory: run `coffer fsck --data {}` for the list",
            fsck.findings.len(),
            restored.data.display()
        );
    }
    Ok(())
}

/// `coffer restore --from s3://…`: the key files, then (unlocked) the newest shipped
/// snapshot and the logs after it. Nothing is opened for writing: a server that still runs
/// keeps its lease, and the restored directory takes it only when it is served.
async fn restore_shipped(args: RestoreArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let wanted = crate::remote_store::Wanted {
        location: Some(args.from.clone()),
        endpoint: args.chunk_store_endpoint.clone(),
        region: args.chunk_store_region.clone(),
        deployment: args.deployment.clone(),
        ..crate::remote_store::Wanted::default()
    };
    let data = args.data.clone();
    tokio::task::spawn_blocking(move || crate::remote_store::prepare_copy(&wanted, &data))
        .await
        .context("the restore task failed")??;
    let dir = DirArgs {
        data: args.data.clone(),
        proof: args.proof,
    };
    let key = crate::users_cmd::master_key_of(&dir).await?;
    let data = args.data.clone();
    let report =
        tokio::task::spawn_blocking(move || crate::remote_store::restore_index(&data, &key))
            .await
            .context("the restore task failed")??;
    let seconds = started.elapsed().as_secs_f64();
    let value = serde_json::json!({
        "mode": "restore from shipped index",
        "seconds": seconds,
        "epoch": report.position.epoch,
        "seq": report.position.seq,
        "snapshot_bytes": report.snapshot_bytes,
        "logs": report.logs,
        "changes": report.changes,
    });
    let text = if args.json {
        format!("{value}\n")
    } else {
        format!(
            "restored: snapshot of {} bytes and {} logs ({} changes) of epoch {}, in {seconds:.2} s\n",
            report.snapshot_bytes, report.logs, report.changes, report.position.epoch
        )
    };
    crate::print_flushed(&text)
}

/// Asks the server running on `data` for a backup into `to`. `None`: no server answers.
async fn ask_server(data: &Path, to: &Path) -> anyhow::Result<Option<serde_json::Value>> {
    let to = to
        .to_str()
        .context("the backup directory's path is not UTF-8")?;
    admin_socket::ask(data, "backup", to)
        .await
        .context("the server could not make the backup")
}

/// The report as one JSON object (also what the admin socket answers).
pub(crate) fn report_json(r: &BackupReport, seconds: f64) -> String {
    serde_json::json!({
        "seconds": seconds,
        "buckets": r.buckets,
        "index_entries": r.index_entries,
        "index_bytes": r.index_bytes,
        "chunks_referenced": r.chunks_referenced,
        "chunks_copied": r.chunks_copied,
        "bytes_copied": r.bytes_copied,
        "chunks_present": r.chunks_present,
        "chunks_missing": r.chunks_missing,
        "chunks_removed": r.chunks_removed,
        "shares_copied": r.shares_copied,
        "shares_missing": r.shares_missing,
        "files_copied": r.files_copied,
        "unreadable_records": r.unreadable_records,
        "complete": r.is_complete(),
    })
    .to_string()
}

/// Prints the report; fails if the data directory was found damaged.
fn finish(mut report: serde_json::Value, mode: &str, json: bool) -> anyhow::Result<()> {
    report["mode"] = mode.into();
    let n = |k: &str| report[k].as_u64().unwrap_or(0);
    let text = if json {
        format!("{report}\n")
    } else {
        let seconds = report["seconds"].as_f64().unwrap_or(0.0);
        #[allow(clippy::cast_precision_loss)]
        let rate = n("bytes_copied") as f64 / seconds.max(1e-6) / 1e6;
        let mut lines = vec![
            format!(
                "{mode}: {} buckets, {} chunks referenced; index copied ({} entries, {} bytes)",
                n("buckets"),
                n("chunks_referenced"),
                n("index_entries"),
                n("index_bytes")
            ),
            format!(
                "chunks: {} copied ({} bytes, {rate:.0} MB/s), {} already there, {} no longer referenced removed",
                n("chunks_copied"),
                n("bytes_copied"),
                n("chunks_present"),
                n("chunks_removed")
            ),
            format!(
                "key shares copied: {}; other files copied: {}; {seconds:.2} s",
                n("shares_copied"),
                n("files_copied")
            ),
        ];
        if let Some(problems) = report["fsck_problems"].as_u64() {
            lines.push(if problems == 0 {
                "fsck of the restored directory: clean".to_owned()
            } else {
                format!("fsck of the restored directory: {problems} problems")
            });
        }
        lines.join("\n") + "\n"
    };
    crate::print_flushed(&text)?;
    if report["complete"] != serde_json::Value::Bool(true) {
        bail!(
            "the data directory is damaged ({} chunks and {} key shares missing, {} records unreadable): the backup holds what was there; run `coffer fsck`",
            n("chunks_missing"),
            n("shares_missing"),
            n("unreadable_records")
        );
    }
    Ok(())
}
