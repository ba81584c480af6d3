//! `coffer init`: set up a data directory sealed by unlockers, and the choice of new
//! unlockers that `coffer keys add-unlocker` shares with it.
// The doc comments of the clap types are the `--help` text, read as plain text.
#![allow(clippy::doc_markdown)]

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use clap::Args;
use coffer_storage::{Added, Argon2Params, MasterKey, NewUnlocker};

use crate::unlock_input;

/// Flags of `coffer init`.
///
/// Recommended for a clinic: `--passphrase --shares 2/3` (a passphrase typed at boot, and
/// three recovery shares for three staff, any two of which open the data if the passphrase
/// is lost). For containers: `--key-file /run/secrets/coffer.key`.
#[derive(Debug, Args)]
pub(crate) struct InitArgs {
    /// Data directory to set up (created 0700; must not be set up already).
    #[arg(long, env = "COFFER_DATA", value_name = "DIR")]
    data: PathBuf,

    /// Add a passphrase unlocker, typed at the terminal (twice), or one line of stdin.
    #[arg(long, conflicts_with = "passphrase_file")]
    passphrase: bool,

    /// Add a passphrase unlocker with the passphrase in this file (first line, 0600).
    #[arg(long, value_name = "PATH")]
    passphrase_file: Option<PathBuf>,

    /// Add k-of-n recovery shares, e.g. 2/3: printed once on stdout, to write down.
    #[arg(long, value_name = "K/N", value_parser = parse_k_of_n)]
    shares: Option<(u8, u8)>,

    /// Add a key-file unlocker with the key in this file; generated (0600) if missing.
    #[arg(long, value_name = "PATH")]
    key_file: Option<PathBuf>,

    /// Cost of the passphrase stretching.
    #[command(flatten)]
    cost: Argon2Args,
}

/// Argon2id cost of a new passphrase.
#[derive(Debug, Args)]
pub(crate) struct Argon2Args {
    /// Argon2id memory in MiB (at least 64) [default: 256, about 1 s with 4 passes].
    #[arg(long, value_name = "MIB", default_value_t = Argon2Params::DEFAULT.memory_kib >> 10)]
    argon2_memory_mib: u32,

    /// Argon2id passes (at least 1).
    #[arg(long, value_name = "N", default_value_t = Argon2Params::DEFAULT.passes)]
    argon2_passes: u32,
}

impl Argon2Args {
    fn params(&self) -> anyhow::Result<Argon2Params> {
        let params = Argon2Params {
            memory_kib: self.argon2_memory_mib.saturating_mul(1024),
            passes: self.argon2_passes,
            lanes: 1,
        };
        params
            .check()
            .context("--argon2-memory-mib / --argon2-passes")?;
        Ok(params)
    }
}

/// "2/3", "2-of-3" or "2of3" → (2, 3).
pub(crate) fn parse_k_of_n(text: &str) -> Result<(u8, u8), String> {
    let bad = || format!("{text:?} is not K/N (for example 2/3)");
    let (k, n) = text
        .split_once('/')
        .or_else(|| text.split_once("-of-"))
        .or_else(|| text.split_once("of"))
        .ok_or_else(bad)?;
    let k: u8 = k.trim().parse().map_err(|_| bad())?;
    let n: u8 = n.trim().parse().map_err(|_| bad())?;
    if k < 2 || n < k {
        return Err(format!("{text}: need 2 <= K <= N <= 255"));
    }
    Ok((k, n))
}

/// Which unlockers to make.
pub(crate) struct Wanted<'a> {
    /// Ask for a passphrase.
    pub(crate) ask_passphrase: bool,
    /// Or take it from this file.
    pub(crate) passphrase_file: Option<&'a Path>,
    /// k-of-n shares.
    pub(crate) shares: Option<(u8, u8)>,
    /// A key file (generated if missing).
    pub(crate) key_file: Option<&'a Path>,
}

/// Reads or makes the secrets of the wanted unlockers.
pub(crate) fn new_unlockers(
    wanted: &Wanted<'_>,
    cost: &Argon2Args,
) -> anyhow::Result<Vec<NewUnlocker>> {
    let mut out = Vec::new();
    let passphrase = match (wanted.ask_passphrase, wanted.passphrase_file) {
        (_, Some(path)) => Some(unlock_input::passphrase_file(path)?),
        (true, None) => Some(unlock_input::ask_new_passphrase()?),
        (false, None) => None,
    };
    if let Some(passphrase) = passphrase {
        passphrase.check_new().context("passphrase refused")?;
        out.push(NewUnlocker::Passphrase(passphrase, cost.params()?));
    }
    if let Some((threshold, count)) = wanted.shares {
        out.push(NewUnlocker::Shares { threshold, count });
    }
    if let Some(path) = wanted.key_file {
        let (key, created) = MasterKey::load_or_create(path)
            .with_context(|| format!("could not load or create the key file {}", path.display()))?;
        if created {
            eprintln!(
                "coffer: generated the key file {} (0600); keep it off the data disk",
                path.display()
            );
        }
        out.push(NewUnlocker::Key(key));
    }
    if out.is_empty() {
        bail!(
            "choose at least one unlocker: --passphrase (or --passphrase-file), --shares K/N, --key-file PATH; a clinic would use --passphrase --shares 2/3"
        );
    }
    Ok(out)
}

/// Prints new recovery shares on stdout, once, with what to do with them on stderr.
pub(crate) fn print_shares(added: &[Added]) -> anyhow::Result<()> {
    for a in added.iter().filter(|a| !a.shares.is_empty()) {
        let count = a.shares.len();
        let mut out = std::io::stdout().lock();
        for (i, share) in a.shares.iter().enumerate() {
            let line = zeroize::Zeroizing::new(format!(
                "recovery share {}/{count}: {}\n",
                i + 1,
                share.as_str()
            ));
            out.write_all(line.as_bytes())
                .context("could not print the recovery shares")?;
        }
        out.flush().context("could not print the recovery shares")?;
        eprintln!(
            "coffer: the {count} recovery shares above (unlocker {}) are shown only this once. Give each to a different person, on paper; none of them is stored anywhere.",
            a.id
        );
    }
    Ok(())
}

/// `coffer init`.
pub(crate) async fn run(args: InitArgs) -> anyhow::Result<()> {
    let unlockers = new_unlockers(
        &Wanted {
            ask_passphrase: args.passphrase,
            passphrase_file: args.passphrase_file.as_deref(),
            shares: args.shares,
            key_file: args.key_file.as_deref(),
        },
        &args.cost,
    )?;
    let data = args.data.clone();
    let added = tokio::task::spawn_blocking(move || coffer_storage::init(&data, unlockers))
        .await
        .context("the set-up task failed")?
        .with_context(|| format!("could not set up {}", args.data.display()))?;
    print_shares(&added)?;
    eprintln!(
        "coffer: set up {} with {} unlocker(s); its master key is stored only sealed by them. Start it with `coffer serve --data {}`, then `coffer unlock --data {}` (or give an unlocker at start).",
        args.data.display(),
        added.len(),
        args.data.display(),
        args.data.display()
    );
    Ok(())
}
