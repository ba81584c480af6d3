//! Which unlocker opens a durable data directory when `coffer serve` starts, if any.
//!
//! - A sealed directory (set up by `coffer init`, or by a first start with a key) opens
//!   with any of its unlockers given at start: `COFFER_MASTER_KEY`, `--master-key-file`,
//!   `--passphrase-file`, or the systemd credential `$CREDENTIALS_DIRECTORY/coffer-passphrase`.
//!   With none, the server starts sealed and waits for `coffer unlock`.
//! - A fresh directory is set up by a first start only when given a key
//!   (`COFFER_MASTER_KEY`, `--master-key-file`, `--master-key-in-data-dir`): that key
//!   becomes its one unlocker. Otherwise `coffer init` must run first.
//! - A directory made before unlockers opens with its master key, as before; one whose key
//!   sits inside it (`master.key`) only with `--master-key-in-data-dir`, warned about at
//!   every start.

use std::path::Path;

use anyhow::{Context as _, bail};
use coffer_storage::{DirState, MasterKey, NewUnlocker, UnlockSecret};

use crate::config::{MASTER_KEY_VAR, MasterKeySource};
use crate::unlock_input;

/// The systemd credential a passphrase is looked up under.
const CREDENTIAL_NAME: &str = "coffer-passphrase";

/// How the store can open.
pub(crate) enum AtStart {
    /// With this master key, now.
    Unlocked(MasterKey),
    /// Not before `coffer unlock`.
    Sealed,
}

/// Resolves `source` for the data directory `data`.
pub(crate) async fn resolve(data: &Path, source: &MasterKeySource) -> anyhow::Result<AtStart> {
    let state = coffer_storage::dir_state(data)
        .with_context(|| format!("could not inspect the data directory {}", data.display()))?;
    let secret = match source {
        MasterKeySource::Env => Some(UnlockSecret::Key(
            unlock_input::env_key(MASTER_KEY_VAR)?
                .with_context(|| format!("{MASTER_KEY_VAR} is empty"))?,
        )),
        MasterKeySource::File(path) => Some(UnlockSecret::Key(unlock_input::key_file(path)?)),
        MasterKeySource::PassphraseFile(path) => Some(UnlockSecret::Passphrase(
            unlock_input::passphrase_file(path)?,
        )),
        MasterKeySource::DataDir(path) => Some(UnlockSecret::Key(key_in_data_dir(path)?)),
        MasterKeySource::None => systemd_credential()?.map(UnlockSecret::Passphrase),
    };
    let secret = match (state, secret) {
        (DirState::Sealed, None) => return Ok(AtStart::Sealed),
        (DirState::Fresh, Some(UnlockSecret::Key(key))) => {
            set_up_with_key(data, &key).await?;
            UnlockSecret::Key(key)
        }
        (DirState::Fresh, _) => bail!(
            "the data directory {dir} is not set up: run `coffer init --data {dir} --passphrase --shares 2/3` first (or start with COFFER_MASTER_KEY or --master-key-file to set it up with that key)",
            dir = data.display()
        ),
        (DirState::Legacy, None) if data.join("master.key").exists() => bail!(
            "the data directory {dir} keeps its master key inside it ({dir}/master.key), where a stolen disk or backup discloses everything: move that file off the data disk and pass --master-key-file, or pass --master-key-in-data-dir to go on unsafely",
            dir = data.display()
        ),
        (DirState::Legacy, None) => bail!(
            "the data directory {} needs its master key: set {MASTER_KEY_VAR} or pass --master-key-file",
            data.display()
        ),
        (_, Some(secret)) => secret,
    };
    let dir = data.to_path_buf();
    let key = tokio::task::spawn_blocking(move || coffer_storage::unlock(&dir, secret))
        .await
        .context("the unlock task failed")?
        .with_context(|| format!("could not unlock the data directory {}", data.display()))?;
    Ok(AtStart::Unlocked(key))
}

/// First start with a key: the directory is set up with it as its one unlocker.
async fn set_up_with_key(data: &Path, key: &MasterKey) -> anyhow::Result<()> {
    let copy = MasterKey::from_base64(&key.to_base64()).context("copy the key")?;
    let dir = data.to_path_buf();
    tokio::task::spawn_blocking(move || coffer_storage::init(&dir, vec![NewUnlocker::Key(copy)]))
        .await
        .context("the set-up task failed")?
        .with_context(|| format!("could not set up the data directory {}", data.display()))?;
    tracing::info!(
        data = %data.display(),
        "set up the data directory; its master key is sealed by the key given (add a passphrase or recovery shares with `coffer keys add-unlocker`)"
    );
    Ok(())
}

/// `<data>/master.key`, created if missing, with the warning it deserves at every start.
fn key_in_data_dir(path: &Path) -> anyhow::Result<MasterKey> {
    // First start: the key file is created before the store makes the data directory, so
    // make it here, private from the start (P6).
    if let Some(dir) = path.parent() {
        use std::os::unix::fs::DirBuilderExt as _;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("could not create the data directory {}", dir.display()))?;
    }
    let (key, _created) = MasterKey::load_or_create(path)
        .with_context(|| format!("could not load or create the key {}", path.display()))?;
    tracing::warn!(
        path = %path.display(),
        "--master-key-in-data-dir: the key that opens this data directory is stored inside it, so a stolen disk, a disk sent for repair or a backup of the directory discloses every object. Set up a passphrase or recovery shares (`coffer keys add-unlocker`), remove this key's unlocker and delete the file"
    );
    Ok(key)
}

/// A passphrase passed as a systemd credential (`LoadCredential=coffer-passphrase:…`).
fn systemd_credential() -> anyhow::Result<Option<coffer_storage::Passphrase>> {
    let Some(dir) = std::env::var_os("CREDENTIALS_DIRECTORY") else {
        return Ok(None);
    };
    let path = Path::new(&dir).join(CREDENTIAL_NAME);
    if !path.exists() {
        return Ok(None);
    }
    unlock_input::passphrase_file(&path).map(Some)
}
