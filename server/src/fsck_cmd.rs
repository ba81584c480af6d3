//! `coffer fsck`: checking a STOPPED data directory end to end (issue 13), and with
//! `--repair` fixing what can be fixed. The checks themselves are the storage crate's
//! (`Store::fsck`); this adds the audit trail (`coffer_audit::verify`, as `coffer audit
//! verify` runs it), the report in plain words or JSON, and the exit code.
//!
//! The report names buckets by their random id and chunks by their keyed id, never a bucket
//! name or an object key: it can be pasted into a ticket or kept in a log (P6).
// The doc comments of the clap types are the `--help` text, read as plain text.
#![allow(clippy::doc_markdown)]

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;
use coffer_storage::{Finding, FsckMode, FsckReport};
use zeroize::Zeroizing;

use crate::audit_cmd::AUDIT_DIR;
use crate::audit_trail::AUDIT_KEY_RECORD;
use crate::users_cmd::{DirArgs, Sweep};

/// Exit code: the directory is consistent (after repairs, with --repair).
pub(crate) const CLEAN: u8 = 0;
/// Exit code: problems found, or left after --repair.
pub(crate) const PROBLEMS: u8 = 1;
/// Exit code: fsck could not run (no such directory, wrong unlocker, server running, I/O).
pub(crate) const COULD_NOT_RUN: u8 = 2;

/// Flags of `coffer fsck`.
#[derive(Debug, Args)]
pub(crate) struct FsckArgs {
    #[command(flatten)]
    dir: DirArgs,

    /// Also repair: set every chunk refcount to the number of references found, remove
    /// chunk files nothing references and key shares of no bucket. A chunk any object
    /// version or upload part references is never removed. Missing or corrupt chunks
    /// cannot be repaired (there is nothing to rebuild them from) and stay reported.
    #[arg(long)]
    repair: bool,

    /// Print the report as one JSON object instead of plain words.
    #[arg(long)]
    json: bool,
}

/// What the audit trail check found.
enum AuditCheck {
    /// No trail in this directory.
    Absent,
    /// The chain verified: this many records.
    Intact { records: u64 },
    /// It did not verify, or could not be read: why.
    Broken(String),
}

/// Runs `coffer fsck`; the exit code says clean (0), problems (1) or could not run (2).
pub(crate) async fn run(args: FsckArgs) -> ExitCode {
    match check(&args).await {
        Ok((report, audit)) => {
            let clean = report.is_clean() && !matches!(audit, AuditCheck::Broken(_));
            let text = if args.json {
                json(&report, &audit)
            } else {
                plain(&report, &audit)
            };
            if let Err(error) = crate::print_flushed(&text) {
                eprintln!("coffer: error: {error:#}");
                return ExitCode::from(COULD_NOT_RUN);
            }
            ExitCode::from(if clean { CLEAN } else { PROBLEMS })
        }
        Err(error) => {
            eprintln!("coffer: error: {error:#}");
            ExitCode::from(COULD_NOT_RUN)
        }
    }
}

async fn check(args: &FsckArgs) -> anyhow::Result<(FsckReport, AuditCheck)> {
    // Unswept: the tidying pass after open would remove orphans before fsck reports them.
    let store = crate::users_cmd::open_dir(&args.dir, "", Sweep::Never).await?;
    let mode = if args.repair {
        FsckMode::Repair
    } else {
        FsckMode::Check
    };
    let report = store.fsck(mode).await.context("fsck could not finish");
    // The store stays open (its lock held, so no server starts) until the trail is read.
    let audit = match &report {
        Ok(_) => audit(&store, &args.dir.data).await,
        Err(_) => AuditCheck::Absent,
    };
    store.shutdown().await;
    Ok((report?, audit))
}

async fn audit(store: &coffer_storage::Store, data: &std::path::Path) -> AuditCheck {
    let trail = data.join(AUDIT_DIR);
    let stored = match store.get_sealed(AUDIT_KEY_RECORD).await {
        Err(error) => return AuditCheck::Broken(format!("its key does not open: {error}")),
        Ok(None) => return AuditCheck::Absent,
        Ok(Some(stored)) => stored,
    };
    if stored.len() != 32 {
        return AuditCheck::Broken("the stored audit key is not 32 bytes long".to_owned());
    }
    let mut key = Zeroizing::new([0u8; 32]);
    key.copy_from_slice(&stored);
    let verified =
        tokio::task::spawn_blocking(move || coffer_audit::verify(&trail, &key, None)).await;
    match verified {
        Ok(Ok(report)) => AuditCheck::Intact {
            records: report.records,
        },
        Ok(Err(error)) => AuditCheck::Broken(error.to_string()),
        Err(error) => AuditCheck::Broken(format!("the check stopped: {error}")),
    }
}

fn plain(report: &FsckReport, audit: &AuditCheck) -> String {
    let c = &report.counts;
    let mut lines = vec![
        format!(
            "checked {} buckets, {} objects, {} older versions, {} upload parts",
            c.buckets, c.objects, c.versions, c.parts
        ),
        format!(
            "{} chunks referenced, {} chunk files; {} chunks opened and their ids checked ({} bytes)",
            c.chunks_referenced, c.chunk_files, c.chunks_verified, c.bytes_verified
        ),
    ];
    if c.customer_key > 0 {
        lines.push(format!(
            "{} object versions or parts are under a customer key (SSE-C): their chunks are present and counted, but not verifiable without the customer's key",
            c.customer_key
        ));
    }
    if c.kms_key > 0 {
        lines.push(format!(
            "{} object versions or parts are under a KMS key (SSE-KMS): their chunks are present and counted; their seals are not opened offline",
            c.kms_key
        ));
    }
    if c.temp_files > 0 {
        lines.push(format!(
            "{} temporary files of interrupted writes (harmless; removed when the server starts)",
            c.temp_files
        ));
    }
    lines.push(match audit {
        AuditCheck::Absent => "audit trail: none in this directory".to_owned(),
        AuditCheck::Intact { records } => format!("audit trail: intact, {records} records"),
        AuditCheck::Broken(why) => format!("audit trail: BROKEN: {why}"),
    });
    if !report.findings.is_empty() {
        lines.push(format!("{} problems found:", report.findings.len()));
        lines.extend(report.findings.iter().map(|f| format!("  {f}")));
    }
    if let Some(repairs) = report.repairs {
        lines.push(match repairs.refused {
            Some(why) => format!("nothing repaired: {why}"),
            None => format!(
                "repaired: {} refcounts set, {} orphaned chunk files removed, {} stray key shares removed",
                repairs.refcounts, repairs.orphans_removed, repairs.shares_removed
            ),
        });
    }
    let left = report.remaining().count() + usize::from(matches!(audit, AuditCheck::Broken(_)));
    lines.push(if left == 0 {
        "result: clean".to_owned()
    } else {
        let hint = if report.repairs.is_none() && report.findings.iter().any(Finding::repairable) {
            " (run with --repair to fix refcounts and orphans)"
        } else {
            ""
        };
        format!("result: {left} problems{hint}")
    });
    lines.join("\n") + "\n"
}

/// One finding as JSON: its kind, words, whether `--repair` fixes it, and the bucket and
/// chunk ids it concerns (also `coffer scrub --json`'s).
pub(crate) fn finding_json(f: &Finding) -> serde_json::Value {
    let mut v = serde_json::json!({
        "kind": f.kind(),
        "text": f.to_string(),
        "repairable": f.repairable(),
    });
    if let Some(bucket) = f.bucket() {
        v["bucket"] = hex::encode(bucket).into();
    }
    if let Some(chunk) = f.chunk() {
        v["chunk"] = hex::encode(chunk.as_bytes()).into();
    }
    if let Finding::Refcount {
        stored, counted, ..
    } = f
    {
        v["stored"] = (*stored).into();
        v["counted"] = (*counted).into();
    }
    v
}

fn json(report: &FsckReport, audit: &AuditCheck) -> String {
    let c = &report.counts;
    let findings: Vec<serde_json::Value> = report.findings.iter().map(finding_json).collect();
    let audit = match audit {
        AuditCheck::Absent => serde_json::json!({"state": "absent"}),
        AuditCheck::Intact { records } => {
            serde_json::json!({"state": "intact", "records": records})
        }
        AuditCheck::Broken(why) => serde_json::json!({"state": "broken", "why": why}),
    };
    let repairs = report.repairs.map(|r| {
        serde_json::json!({
            "refcounts": r.refcounts,
            "orphans_removed": r.orphans_removed,
            "shares_removed": r.shares_removed,
            "refused": r.refused,
        })
    });
    let value = serde_json::json!({
        "counts": {
            "buckets": c.buckets,
            "objects": c.objects,
            "versions": c.versions,
            "parts": c.parts,
            "customer_key": c.customer_key,
            "kms_key": c.kms_key,
            "chunks_referenced": c.chunks_referenced,
            "chunks_verified": c.chunks_verified,
            "bytes_verified": c.bytes_verified,
            "chunk_files": c.chunk_files,
            "temp_files": c.temp_files,
        },
        "audit": audit,
        "findings": findings,
        "repairs": repairs,
        "remaining": report.remaining().count(),
    });
    format!("{value}\n")
}
