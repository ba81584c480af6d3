//! `coffer keys …`: offline key management of a data directory.
//!
//! - `list-unlockers`, `add-unlocker`, `remove-unlocker`: the unlockers that open the
//!   directory's sealed master key. Adding or removing one rewrites only `<data>/unlockers`;
//!   either needs one of the *other* unlockers' secrets, and the last one is never removed.
//! - `rotate-master`: a new master key rewraps the index key, every bucket key and the
//!   sealed records; no object is rewritten. In a sealed directory any one unlocker suffices
//!   and every unlocker keeps working; in a directory made before unlockers, the old and new
//!   master keys are given as before.
//!
//! The server must be stopped (the index file is locked while it runs). Keys are read from
//! the environment or from 0600 files, never from flag values, and never printed.
// The doc comments of the clap types are the `--help` text, read as plain text.
#![allow(clippy::doc_markdown)]

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::{Args, Subcommand};
use coffer_storage::{DirState, MasterKey, UnlockerKind};

use crate::config::MASTER_KEY_VAR;
use crate::init_cmd::{Argon2Args, Wanted, new_unlockers, parse_k_of_n, print_shares};
use crate::unlock_input::{ProofArgs, env_key};

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
    /// Sealed directory: prove one unlocker (COFFER_MASTER_KEY, --master-key-file,
    /// --passphrase-file, --shares, or the passphrase asked for); every unlocker keeps
    /// working. Directory made before unlockers: the old key comes from COFFER_MASTER_KEY,
    /// --master-key-file or <DIR>/master.key, the new one from COFFER_NEW_MASTER_KEY or
    /// --new-master-key-file (generated, 0600, if missing). Rewraps the index key, every
    /// bucket key and the sealed records; rewrites no object. If interrupted, run it again.
    RotateMaster(RotateArgs),
    /// List the unlockers of a data directory (no secret needed).
    ListUnlockers(ListArgs),
    /// Add an unlocker, proven by an existing one.
    AddUnlocker(AddArgs),
    /// Remove an unlocker, proven by another one; the last is never removed.
    RemoveUnlocker(RemoveArgs),
}

#[derive(Debug, Args)]
struct RotateArgs {
    /// Data directory (the server must not be running on it).
    #[arg(long, env = "COFFER_DATA", value_name = "DIR")]
    data: PathBuf,

    /// The unlocker (or, before unlockers, the old master key) that opens it.
    #[command(flatten)]
    proof: ProofArgs,

    /// Directories made before unlockers: the file holding the new base64 master key;
    /// generated (0600) if it does not exist. Ignored if COFFER_NEW_MASTER_KEY is set.
    #[arg(long, env = "COFFER_NEW_MASTER_KEY_FILE", value_name = "PATH")]
    new_master_key_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct ListArgs {
    /// Data directory.
    #[arg(long, env = "COFFER_DATA", value_name = "DIR")]
    data: PathBuf,
}

#[derive(Debug, Args)]
struct AddArgs {
    /// Data directory (the server may be running: only <DIR>/unlockers is rewritten, and it
    /// is read at the next start or unlock).
    #[arg(long, env = "COFFER_DATA", value_name = "DIR")]
    data: PathBuf,

    /// An existing unlocker.
    #[command(flatten)]
    proof: ProofArgs,

    /// Add a passphrase, typed at the terminal (twice).
    #[arg(long, conflicts_with = "new_passphrase_file")]
    new_passphrase: bool,

    /// Add a passphrase read from this file (first line, 0600).
    #[arg(long, value_name = "PATH")]
    new_passphrase_file: Option<PathBuf>,

    /// Add k-of-n recovery shares (e.g. 2/3), printed once on stdout.
    #[arg(long, value_name = "K/N", value_parser = parse_k_of_n)]
    new_shares: Option<(u8, u8)>,

    /// Add a key file's key; the file is generated (0600) if missing.
    #[arg(long, value_name = "PATH")]
    new_key_file: Option<PathBuf>,

    /// Cost of a new passphrase's stretching.
    #[command(flatten)]
    cost: Argon2Args,
}

#[derive(Debug, Args)]
struct RemoveArgs {
    /// Data directory.
    #[arg(long, env = "COFFER_DATA", value_name = "DIR")]
    data: PathBuf,

    /// Id of the unlocker to remove (see list-unlockers).
    #[arg(long, value_name = "N")]
    id: u32,

    /// Another unlocker, proving you keep a way in.
    #[command(flatten)]
    proof: ProofArgs,
}

/// Runs `coffer keys …`.
pub(crate) async fn run(args: KeysArgs) -> anyhow::Result<()> {
    match args.command {
        KeysCommand::RotateMaster(args) => rotate(args).await,
        KeysCommand::ListUnlockers(args) => list(&args),
        KeysCommand::AddUnlocker(args) => add(args).await,
        KeysCommand::RemoveUnlocker(args) => remove(args).await,
    }
}

fn list(args: &ListArgs) -> anyhow::Result<()> {
    let unlockers = coffer_storage::list_unlockers(&args.data)
        .with_context(|| format!("could not list the unlockers of {}", args.data.display()))?;
    for u in unlockers {
        let what = match u.kind {
            UnlockerKind::Passphrase(p) => format!(
                "passphrase (Argon2id, {} MiB, {} pass(es), {} lane(s))",
                p.memory_kib >> 10,
                p.passes,
                p.lanes
            ),
            UnlockerKind::Key => "key file".to_owned(),
            UnlockerKind::Shares { threshold, count } => {
                format!("recovery shares, {threshold} of {count}")
            }
            _ => "unknown".to_owned(),
        };
        println!("{}\t{what}", u.id);
    }
    Ok(())
}

async fn add(args: AddArgs) -> anyhow::Result<()> {
    let proof = args.proof.read()?;
    let new = new_unlockers(
        &Wanted {
            ask_passphrase: args.new_passphrase,
            passphrase_file: args.new_passphrase_file.as_deref(),
            shares: args.new_shares,
            key_file: args.new_key_file.as_deref(),
        },
        &args.cost,
    )?;
    if new.len() != 1 {
        anyhow::bail!("add one unlocker at a time");
    }
    let data = args.data.clone();
    let added = tokio::task::spawn_blocking(move || {
        new.into_iter()
            .map(|n| coffer_storage::add_unlocker(&data, &proof, n))
            .collect::<Result<Vec<_>, _>>()
    })
    .await
    .context("the key task failed")?
    .with_context(|| format!("could not add an unlocker to {}", args.data.display()))?;
    print_shares(&added)?;
    for a in &added {
        eprintln!("coffer: added unlocker {}", a.id);
    }
    Ok(())
}

async fn remove(args: RemoveArgs) -> anyhow::Result<()> {
    let proof = args.proof.read()?;
    let data = args.data.clone();
    let id = args.id;
    tokio::task::spawn_blocking(move || coffer_storage::remove_unlocker(&data, &proof, id))
        .await
        .context("the key task failed")?
        .with_context(|| {
            format!(
                "could not remove unlocker {id} from {}",
                args.data.display()
            )
        })?;
    eprintln!(
        "coffer: removed unlocker {id}. Copies of {} made before now still list it: keep them as safe as the data.",
        args.data.join("unlockers").display()
    );
    Ok(())
}

async fn rotate(args: RotateArgs) -> anyhow::Result<()> {
    if coffer_storage::dir_state(&args.data)? == DirState::Sealed {
        return rotate_sealed(args).await;
    }
    let old = old_key(&args.data, args.proof.master_key_file.as_deref())?;
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
        && args.proof.master_key_file.is_none()
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

/// The master key of a directory made before unlockers: COFFER_MASTER_KEY, else `file`,
/// else `<data>/master.key`.
pub(crate) fn old_key(data: &Path, file: Option<&Path>) -> anyhow::Result<MasterKey> {
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

async fn rotate_sealed(args: RotateArgs) -> anyhow::Result<()> {
    let proof = args.proof.read()?;
    let data = args.data.clone();
    let done = tokio::task::spawn_blocking(move || coffer_storage::rotate_sealed(&data, &proof))
        .await
        .context("the rotation task failed")?
        .with_context(|| {
            format!(
                "could not rotate the master key of {} (is a server running on it?)",
                args.data.display()
            )
        })?;
    eprintln!(
        "coffer: rotated the master key of {}: rewrapped the index key, {} bucket key(s) and {} sealed record(s); no object was rewritten. Every unlocker still opens it.",
        args.data.display(),
        done.bucket_keys,
        done.sealed_records
    );
    Ok(())
}
