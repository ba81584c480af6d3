//! `coffer scrub`: one scrub pass of a RUNNING server, now, instead of waiting for the
//! next scheduled one (`--scrub-every`). The server does the reading (it holds the index
//! and the keys) through its admin socket; this prints what the pass found and exits as
//! `coffer fsck` does. A stopped directory is checked with `coffer fsck` instead, which
//! also checks refcounts, orphans and key shares.
//!
//! The report names buckets by their random id and chunks by their keyed id (P6).
// The doc comments of the clap types are the `--help` text, read as plain text.
#![allow(clippy::doc_markdown)]

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;
use clap::Args;
use coffer_storage::ScrubReport;

use crate::admin_socket;
use crate::config::DEFAULT_SCRUB_RATE_MIB;
use crate::fsck_cmd::{CLEAN, COULD_NOT_RUN, PROBLEMS, finding_json};

/// Flags of `coffer scrub`.
#[derive(Debug, Args)]
pub(crate) struct ScrubArgs {
    /// Data directory of the running server.
    #[arg(long, env = "COFFER_DATA", value_name = "DIR")]
    data: PathBuf,

    /// Most MiB per second the pass reads, so clients keep the disk (0: as fast as it
    /// goes).
    #[arg(long, value_name = "MIB_PER_SEC", default_value_t = DEFAULT_SCRUB_RATE_MIB)]
    rate: u64,

    /// Print the report as one JSON object instead of plain words.
    #[arg(long)]
    json: bool,
}

/// Runs `coffer scrub`; exits 0 if the pass found nothing, 1 if it found problems, 2 if it
/// could not run.
pub(crate) async fn run(args: ScrubArgs) -> ExitCode {
    match ask(&args).await {
        Ok(report) => {
            let problems = report["findings"].as_array().map_or(0, Vec::len);
            let text = if args.json {
                format!("{report}\n")
            } else {
                plain(&report)
            };
            if let Err(error) = crate::print_flushed(&text) {
                eprintln!("coffer: error: {error:#}");
                return ExitCode::from(COULD_NOT_RUN);
            }
            ExitCode::from(if problems == 0 { CLEAN } else { PROBLEMS })
        }
        Err(error) => {
            eprintln!("coffer: error: {error:#}");
            ExitCode::from(COULD_NOT_RUN)
        }
    }
}

async fn ask(args: &ScrubArgs) -> anyhow::Result<serde_json::Value> {
    let rate = args.rate.saturating_mul(1024 * 1024).to_string();
    match admin_socket::ask(&args.data, "scrub", &rate).await {
        Ok(Some(report)) => Ok(report),
        Ok(None) => bail!(
            "no server runs on {} (its admin socket did not answer); check a stopped directory with `coffer fsck --data {}`",
            args.data.display(),
            args.data.display()
        ),
        Err(error) => Err(error.context("the scrub did not finish")),
    }
}

/// The pass's report as one JSON object (what the admin socket answers).
pub(crate) fn report_json(r: &ScrubReport, seconds: f64) -> String {
    let findings: Vec<serde_json::Value> = r.findings.iter().map(finding_json).collect();
    serde_json::json!({
        "seconds": seconds,
        "versions": r.versions,
        "chunks_verified": r.chunks_verified,
        "findings": findings,
    })
    .to_string()
}

fn plain(report: &serde_json::Value) -> String {
    let n = |k: &str| report[k].as_u64().unwrap_or(0);
    let mut lines = vec![format!(
        "scrubbed {} object versions: {} chunks opened and their ids checked in {:.2} s",
        n("versions"),
        n("chunks_verified"),
        report["seconds"].as_f64().unwrap_or(0.0)
    )];
    let findings = report["findings"].as_array().map_or(&[][..], Vec::as_slice);
    if findings.is_empty() {
        lines.push("result: clean".to_owned());
    } else {
        lines.push(format!("{} problems found:", findings.len()));
        lines.extend(
            findings
                .iter()
                .map(|f| format!("  {}", f["text"].as_str().unwrap_or("?"))),
        );
        lines.push(format!(
            "result: {} problems (stop the server and run `coffer fsck` for the whole picture)",
            findings.len()
        ));
    }
    lines.join("\n") + "\n"
}
