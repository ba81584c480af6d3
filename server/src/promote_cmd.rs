//! `coffer promote`: makes a running standby (`serve --standby-of`) the writer of its
//! deployment. The server does it (it holds the index): through its admin socket, it takes
//! the chunk store's lease from the old primary, waits out the old primary's last renewal
//! while still following it, catches up, and then accepts writes. The old primary, if it
//! still runs, is fenced: its next write is refused.
// The doc comments of the clap types are the `--help` text, read as plain text.
#![allow(clippy::doc_markdown)]

use std::path::PathBuf;

use anyhow::{Context as _, bail};
use clap::Args;

use crate::admin_socket;

/// Flags of `coffer promote`.
#[derive(Debug, Args)]
pub(crate) struct PromoteArgs {
    /// Data directory of the running standby.
    #[arg(long, env = "COFFER_DATA", value_name = "DIR")]
    data: PathBuf,

    /// Print the outcome as one JSON object instead of plain words.
    #[arg(long)]
    json: bool,
}

/// Runs `coffer promote`.
pub(crate) async fn run(args: PromoteArgs) -> anyhow::Result<()> {
    let Some(report) = admin_socket::ask(&args.data, "promote", "")
        .await
        .context("the promotion failed")?
    else {
        bail!(
            "no server answers on {}: start it with --standby-of first",
            args.data.display()
        );
    };
    let text = if args.json {
        format!("{report}\n")
    } else {
        format!(
            "promoted: this server writes epoch {} now (took {:.1} s); restart it without --standby-of\n",
            report["epoch"],
            report["seconds"].as_f64().unwrap_or_default()
        )
    };
    crate::print_flushed(&text)
}
