//! `coffer keys …`: offline key management of a data directory.
//!
//! `coffer keys rotate-master` rewraps the index key, every bucket key and the sealed
//! records under a new master key; no object is rewritten. The server must be stopped
//! (the index file is locked while it runs). Keys are read from the environment or from
//! 0600 files, never from flag values, and never printed.
// The doc comments of the clap types are the `--help` text, read as plain text.
#![allow(clippy::doc_markdown)]

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::{Args, Subcommand};
use coffer_storage::MasterKey;
use zeroize::Zeroizing;

use crate::config::MASTER_KEY_VAR;

/// Environment variable holding the new base64 master key for a rotation.
const NEW_MASTER_KEY_VAR: &str = "COFFER_NEW_MASTER_KEY";

/// Flags of `coffer keys`.
#[derive(Debug, Args)]
pub(crate) struct KeysArgs {
    /// What to do.
    #[command(subcommand)]
    command: KeysCommand,
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Rotate the master key of a stopped data directory.
    ///
    /// The old key comes from COFFER_MASTER_KEY (base64), --master-key-file, or
    /// <DIR>/master.key. The new key comes from COFFER_NEW_MASTER_KEY (base64) or
    /// --new-master-key-file; if that file does not exist, a new key is generated into it
    /// (0600). Rewraps the index key, every bucket key and the sealed records; rewrites no
    /// object. Afterwards only the new key opens the directory. If interrupted, run it again
    /// with the same keys.
    RotateMaster(RotateArgs),
}

#[derive(Debug, Args)]
struct RotateArgs {
    /// Data directory (the server must not be running on it).
    #[arg(long, env = "COFFER_DATA", value_name = "DIR")]
    data: PathBuf,

    /// File holding the current (old) base64 master key. Ignored if COFFER_MASTER_KEY is set.
    #[arg(long, env = "COFFER_MASTER_KEY_FILE", value_name = "PATH")]
    master_key_file: Option<PathBuf>,

    /// File holding the new base64 master key; generated (0600) if it does not exist.
    /// Ignored if COFFER_NEW_MASTER_KEY is set.
    #[arg(long, env = "COFFER_NEW_MASTER_KEY_FILE", value_name = "PATH")]
    new_master_key_file: Option<PathBuf>,
}

/// Runs `coffer keys …`.
pub(crate) async fn run(args: KeysArgs) -> anyhow::Result<()> {
    match args.command {
        KeysCommand::RotateMaster(args) => rotate(args).await,
    }
}

async fn rotate(args: RotateArgs) -> anyhow::Result<()> {
    let old = old_key(&args.data, args.master_key_file.as_deref())?;
    let (new, new_file) = new_key(args.new_master_key_file.as_deref())?;
    let data = args.data.clone();
    let done =
        tokio::task::spawn_blocking(move || coffer_storage::rotate_master_key(&data, &old, &new))
            .await
            .context("the rotation task failed")?
            .with_context(|| {
                format!(
                    "could not rotate the master key of {} (is a server running on it?)",
                    args.data.display()
                )
            })?;
    eprintln!(
        "coffer: rotated the master key of {}: rewrapped the index key, {} bucket key(s) and {} sealed record(s); no object was rewritten. The old key no longer opens this directory.",
        args.data.display(),
        done.bucket_keys,
        done.sealed_records
    );
    let in_data = args.data.join("master.key");
    if std::env::var_os(MASTER_KEY_VAR).is_none_or(|v| v.is_empty())
        && args.master_key_file.is_none()
    {
        eprintln!(
            "coffer: {} still holds the OLD key, which no longer opens the data; keep it only for older backups",
            in_data.display()
        );
    }
    if let Some(path) = new_file {
        eprintln!(
            "coffer: the new master key is in {}; keep it apart from the data and start with --master-key-file {}",
            path.display(),
            path.display()
        );
    }
    Ok(())
}

fn env_key(var: &str) -> anyhow::Result<Option<MasterKey>> {
    match std::env::var(var) {
        Ok(text) if !text.is_empty() => {
            let text = Zeroizing::new(text);
            MasterKey::from_base64(&text)
                .map(Some)
                .with_context(|| format!("{var} must be the base64 of 32 bytes"))
        }
        Ok(_) | Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => {
            anyhow::bail!("{var} is not valid UTF-8 (expected base64 of 32 bytes)")
        }
    }
}

fn old_key(data: &Path, file: Option<&Path>) -> anyhow::Result<MasterKey> {
    if let Some(key) = env_key(MASTER_KEY_VAR)? {
        return Ok(key);
    }
    let path = file.map_or_else(|| data.join("master.key"), Path::to_path_buf);
    MasterKey::from_file(&path).with_context(|| {
        format!(
            "could not read the current master key {} (set {MASTER_KEY_VAR} or pass --master-key-file)",
            path.display()
        )
    })
}

/// The new key, and the file it is in (if it came from one).
fn new_key(file: Option<&Path>) -> anyhow::Result<(MasterKey, Option<PathBuf>)> {
    if let Some(key) = env_key(NEW_MASTER_KEY_VAR)? {
        return Ok((key, None));
    }
    let Some(path) = file else {
        anyhow::bail!(
            "no new master key: set {NEW_MASTER_KEY_VAR}, or pass --new-master-key-file PATH (generated there if it does not exist)"
        );
    };
    let (key, _created) = MasterKey::load_or_create(path).with_context(|| {
        format!(
            "could not load or create the new master key {}",
            path.display()
        )
    })?;
    Ok((key, Some(path.to_path_buf())))
}
