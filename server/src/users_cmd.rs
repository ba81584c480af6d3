//! `coffer users …`: recovery of the user directory of a STOPPED data directory.
//!
//! Day-to-day administration goes through the IAM API of the running server. These
//! commands are for when that is not possible: root's secret is lost (`reset-root`), or a
//! leaked key must be disabled while the server is down (`disable-key`). They open the
//! directory with any one of its unlockers, as `coffer keys` does, change the sealed
//! directory record and shut the store down cleanly, so the change is durable before the
//! command returns. Secrets are never printed, except the new root credential, once.
// The doc comments of the clap types are the `--help` text, read as plain text.
#![allow(clippy::doc_markdown)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use coffer_auth::{Auth, KeyStatus, ROOT_ACCESS_KEY_VAR, ROOT_SECRET_KEY_VAR, RootSource};
use coffer_storage::{
    DEFAULT_CHUNK_SIZE, DEFAULT_INLINE_MAX, DirState, Durability, IndexLocation, Store,
    StoreConfig, UnlockSecret,
};

use crate::iam::iso8601;
use crate::unlock_input::ProofArgs;

/// Flags of `coffer users`.
#[derive(Debug, Args)]
pub(crate) struct UsersArgs {
    /// What to do.
    #[command(subcommand)]
    command: UsersCommand,
}

/// Recovery commands on a stopped data directory. While the server runs, manage users
/// with the IAM API instead (aws iam … --endpoint-url …).
#[derive(Debug, Subcommand)]
enum UsersCommand {
    /// List the account id, root's access key id, and one line per user: name, id,
    /// created, and each access key id with its status. No secret is printed.
    ///
    /// Output is tab-separated: "account <ID>", "root <ACCESS_KEY_ID>", then
    /// "user <NAME> <ID> <CREATED> <KEY>:<STATUS>,…" ("-" when the user has no key).
    List(DirArgs),
    /// Set a user's access key Inactive: every request signed with it is refused from the
    /// next start on. Root's key cannot be disabled (use reset-root).
    DisableKey(KeyArgs),
    /// Set a user's access key Active again.
    EnableKey(KeyArgs),
    /// Replace root's credential with a generated one, printed once on stdout as
    /// AWS_ACCESS_KEY_ID=… and AWS_SECRET_ACCESS_KEY=… lines. The old root key stops
    /// working; buckets root owns stay root's.
    ///
    /// A server started with COFFER_ROOT_ACCESS_KEY and COFFER_ROOT_SECRET_KEY replaces
    /// the stored root with those at start: unset them to use the new credential.
    ResetRoot(DirArgs),
}

#[derive(Debug, Args)]
pub(crate) struct DirArgs {
    /// Data directory. The server must be stopped: its index is locked while it runs.
    #[arg(long, env = "COFFER_DATA", value_name = "DIR")]
    pub(crate) data: PathBuf,

    /// The unlocker that opens it.
    #[command(flatten)]
    pub(crate) proof: ProofArgs,
}

#[derive(Debug, Args)]
struct KeyArgs {
    #[command(flatten)]
    dir: DirArgs,

    /// The access key id, as `coffer users list` shows it.
    #[arg(value_name = "ACCESS_KEY_ID")]
    access_key: String,
}

/// Runs `coffer users …`.
pub(crate) async fn run(args: UsersArgs) -> anyhow::Result<()> {
    let (dir, change) = match &args.command {
        UsersCommand::List(dir) => (dir, Change::None),
        UsersCommand::DisableKey(k) => (&k.dir, Change::Key(&k.access_key, KeyStatus::Inactive)),
        UsersCommand::EnableKey(k) => (&k.dir, Change::Key(&k.access_key, KeyStatus::Active)),
        UsersCommand::ResetRoot(dir) => (dir, Change::ResetRoot),
    };
    let store = open_store(dir, ", or make the change through its IAM API").await?;
    // The store is shut down whatever happened, so every change made is on disk.
    let result = with_store(&store, &dir.data, change).await;
    store.shutdown().await;
    result
}

/// What a command changes.
enum Change<'a> {
    /// Nothing (`list`).
    None,
    /// Set this user key's status.
    Key(&'a str, KeyStatus),
    /// A new root credential.
    ResetRoot,
}

async fn with_store(store: &Store, data: &Path, change: Change<'_>) -> anyhow::Result<()> {
    let (auth, generated) = Auth::open(store, RootSource::StoredOrGenerated)
        .await
        .context("could not load the user directory")?;
    if let Some(root) = generated {
        // Never served before: the root just generated is stored; showing it now is the
        // only way anyone ever gets it.
        crate::print_root(&root)?;
        eprintln!(
            "coffer: {} had no user directory yet; generated a root credential (printed above on stdout, this once)",
            data.display()
        );
    }
    match change {
        Change::None => list(&auth),
        Change::Key(access_key, status) => set_status(&auth, access_key, status).await,
        Change::ResetRoot => reset_root(&auth, data).await,
    }
}

/// Opens the stopped data directory `dir.data` with the unlocker `dir.proof` names. If a
/// server holds it, the error says so and adds `instead` (what to do meanwhile).
pub(crate) async fn open_store(dir: &DirArgs, instead: &str) -> anyhow::Result<Store> {
    open_dir(dir, instead, Sweep::AtOpen).await
}

/// Whether opening a stopped directory sweeps what a crash left behind, as a server start
/// does, or leaves it for `coffer fsck` to see.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Sweep {
    /// As `Store::open`.
    AtOpen,
    /// As `Store::open_unswept`.
    Never,
}

/// [`open_store`], choosing whether the open sweeps.
pub(crate) async fn open_dir(dir: &DirArgs, instead: &str, sweep: Sweep) -> anyhow::Result<Store> {
    let data = &dir.data;
    let master_key = master_key_of(dir).await?;
    // Chunks kept remotely stay there: the directory's record says where (and the
    // credentials come from the environment, as for `serve`).
    let dir = data.clone();
    let placement = tokio::task::spawn_blocking(move || {
        crate::remote_store::placement(
            &crate::remote_store::Wanted::default(),
            &dir,
            IndexLocation::File,
        )
    })
    .await
    .context("choosing the chunk store")??;
    let cfg = StoreConfig {
        placement,
        // Only the size of new chunks; these commands write none.
        chunk_size: DEFAULT_CHUNK_SIZE,
        inline_max: DEFAULT_INLINE_MAX,
        durability: Durability::Immediate,
        master_key,
    };
    match sweep {
        Sweep::AtOpen => Store::open(cfg).await,
        Sweep::Never => Store::open_unswept(cfg).await,
    }
    .map_err(|error| {
        if error.is_in_use() {
            anyhow::anyhow!(
                "the data directory {} is in use: a server is running on it (its index is locked). Stop the server first{instead}. Nothing was changed.",
                data.display()
            )
        } else {
            anyhow::Error::new(error)
                .context(format!("could not open the data directory {}", data.display()))
        }
    })
}

/// The master key of the stopped data directory `dir.data`, from the unlocker `dir.proof`
/// names.
pub(crate) async fn master_key_of(dir: &DirArgs) -> anyhow::Result<coffer_storage::MasterKey> {
    let data = &dir.data;
    let state = coffer_storage::dir_state(data)
        .with_context(|| format!("could not inspect the data directory {}", data.display()))?;
    let secret = match state {
        // Refused before the store would create an empty directory.
        DirState::Fresh => bail!(
            "{} is not a Coffer data directory (no unlockers, no key file): check --data",
            data.display()
        ),
        DirState::Legacy => UnlockSecret::Key(crate::keys_cmd::old_key(
            data,
            dir.proof.master_key_file.as_deref(),
        )?),
        DirState::Sealed => dir.proof.read()?,
    };
    let root = data.clone();
    tokio::task::spawn_blocking(move || coffer_storage::unlock(&root, secret))
        .await
        .context("the unlock task failed")?
        .with_context(|| format!("could not unlock the data directory {}", data.display()))
}

fn list(auth: &Auth) -> anyhow::Result<()> {
    let mut out = format!(
        "account\t{}\nroot\t{}\n",
        auth.account(),
        auth.root_access_key()
    );
    for user in auth.users() {
        let keys = auth
            .access_keys(&user.name)
            .context("could not list a user's access keys")?;
        let keys = if keys.is_empty() {
            "-".to_owned()
        } else {
            keys.iter()
                .map(|k| format!("{}:{}", k.access_key, k.status.as_str()))
                .collect::<Vec<_>>()
                .join(",")
        };
        // Writing to a String cannot fail.
        let _ = writeln!(
            out,
            "user\t{}\t{}\t{}\t{keys}",
            user.name,
            user.id,
            iso8601(user.created)
        );
    }
    crate::print_flushed(&out)
}

async fn set_status(auth: &Auth, access_key: &str, status: KeyStatus) -> anyhow::Result<()> {
    let Some(user) = auth.user_of_key(access_key) else {
        if access_key == auth.root_access_key() {
            bail!(
                "{access_key} is root's access key, which cannot be disabled or enabled: replace it with `coffer users reset-root`"
            );
        }
        bail!("no user has the access key {access_key} (see `coffer users list`)");
    };
    auth.set_access_key_status(&user, access_key, status)
        .await
        .context("could not change the key's status")?;
    eprintln!(
        "coffer: access key {access_key} of user {user} is now {}; the server applies it when it next starts",
        status.as_str()
    );
    Ok(())
}

async fn reset_root(auth: &Auth, data: &Path) -> anyhow::Result<()> {
    let old = auth.root_access_key();
    let root = auth
        .reset_root()
        .await
        .context("could not replace the root credential")?;
    crate::print_root(&root)?;
    eprintln!(
        "coffer: replaced the root credential of {}: the old root key {old} no longer works. The new one is printed above on stdout, this once; store it now.",
        data.display()
    );
    let overridden = [ROOT_ACCESS_KEY_VAR, ROOT_SECRET_KEY_VAR]
        .iter()
        .any(|var| std::env::var_os(var).is_some_and(|v| !v.is_empty()));
    if overridden {
        eprintln!(
            "coffer: {ROOT_ACCESS_KEY_VAR}/{ROOT_SECRET_KEY_VAR} are set here: a server started with them replaces this root with theirs, so unset them where the server starts"
        );
    }
    Ok(())
}
