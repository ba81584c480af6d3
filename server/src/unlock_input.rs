//! Reading unlock secrets: passphrases and recovery shares from a terminal, standard input
//! or a file; keys from `COFFER_MASTER_KEY` or a key file. Secrets never come from a flag
//! value (`ps` shows those), are zeroized after use and are never printed.
// The doc comments of the clap types are the `--help` text, read as plain text.
#![allow(clippy::doc_markdown)]

use std::io::{BufRead as _, IsTerminal as _};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use clap::Args;
use coffer_storage::{MasterKey, Passphrase, UnlockSecret};
use zeroize::Zeroizing;

use crate::config::MASTER_KEY_VAR;

/// How a command proves it holds one of the directory's unlockers. With none of these
/// flags and no COFFER_MASTER_KEY, the passphrase is asked for (or read from stdin).
#[derive(Debug, Args)]
pub(crate) struct ProofArgs {
    /// Unlock with this key file (base64 of 32 bytes, 0600). COFFER_MASTER_KEY, when set,
    /// is used instead.
    #[arg(long, env = "COFFER_MASTER_KEY_FILE", value_name = "PATH")]
    pub(crate) master_key_file: Option<PathBuf>,

    /// Unlock with the passphrase in this file (one line, not readable by group or others).
    #[arg(long, env = "COFFER_PASSPHRASE_FILE", value_name = "PATH")]
    pub(crate) passphrase_file: Option<PathBuf>,

    /// Unlock with recovery shares, typed at the terminal (or one per line on stdin).
    #[arg(long, conflicts_with_all = ["master_key_file", "passphrase_file"])]
    pub(crate) shares: bool,
}

impl ProofArgs {
    /// Reads the secret these flags name.
    pub(crate) fn read(&self) -> anyhow::Result<UnlockSecret> {
        if self.shares {
            return read_shares().map(UnlockSecret::Shares);
        }
        if let Some(key) = env_key(MASTER_KEY_VAR)? {
            return Ok(UnlockSecret::Key(key));
        }
        if let Some(path) = &self.master_key_file {
            return key_file(path).map(UnlockSecret::Key);
        }
        if let Some(path) = &self.passphrase_file {
            return passphrase_file(path).map(UnlockSecret::Passphrase);
        }
        ask_passphrase("Passphrase: ").map(UnlockSecret::Passphrase)
    }
}

/// A base64 key from environment variable `var`, if it is set and not empty.
pub(crate) fn env_key(var: &str) -> anyhow::Result<Option<MasterKey>> {
    match std::env::var(var) {
        Ok(text) if !text.is_empty() => {
            let text = Zeroizing::new(text);
            MasterKey::from_base64(&text)
                .map(Some)
                .with_context(|| format!("{var} must be the base64 of 32 bytes"))
        }
        Ok(_) | Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => {
            bail!("{var} is not valid UTF-8 (expected base64 of 32 bytes)")
        }
    }
}

/// A key file (0600, base64 of 32 bytes).
pub(crate) fn key_file(path: &Path) -> anyhow::Result<MasterKey> {
    MasterKey::from_file(path)
        .with_context(|| format!("could not read the key file {}", path.display()))
}

/// The passphrase in `path`: its first line. A regular file must not be readable by group
/// or others; a pipe or `/dev/fd/N` is taken as it is.
pub(crate) fn passphrase_file(path: &Path) -> anyhow::Result<Passphrase> {
    let meta = std::fs::metadata(path)
        .with_context(|| format!("could not read the passphrase file {}", path.display()))?;
    if meta.is_file() && meta.permissions().mode() & 0o077 != 0 {
        bail!(
            "the passphrase file {} is readable by group or others; chmod 600 it",
            path.display()
        );
    }
    let text = Zeroizing::new(
        std::fs::read_to_string(path)
            .with_context(|| format!("could not read the passphrase file {}", path.display()))?,
    );
    let line = text.lines().next().unwrap_or_default();
    Ok(Passphrase::new(Zeroizing::new(line.to_owned())))
}

/// Asks for a passphrase on the terminal without echo; reads one line of stdin when stdin
/// is not a terminal.
pub(crate) fn ask_passphrase(prompt: &str) -> anyhow::Result<Passphrase> {
    if std::io::stdin().is_terminal() {
        let text = Zeroizing::new(
            rpassword::prompt_password(prompt).context("could not read the passphrase")?,
        );
        return Ok(Passphrase::new(text));
    }
    let mut line = Zeroizing::new(String::new());
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("could not read the passphrase from stdin")?;
    if line.trim().is_empty() {
        bail!("no passphrase given (stdin was empty)");
    }
    Ok(Passphrase::new(line))
}

/// Asks twice for a new passphrase on a terminal (once from stdin otherwise).
pub(crate) fn ask_new_passphrase() -> anyhow::Result<Passphrase> {
    let first = ask_passphrase("New passphrase (10 characters or more): ")?;
    if std::io::stdin().is_terminal() {
        let again = ask_passphrase("Repeat it: ")?;
        if first.expose() != again.expose() {
            bail!("the two passphrases differ");
        }
    }
    first.check_new().context("passphrase refused")?;
    Ok(first)
}

/// Reads recovery shares: prompted one by one on a terminal (empty line to finish), else
/// one per line from stdin until its end.
pub(crate) fn read_shares() -> anyhow::Result<Vec<Zeroizing<String>>> {
    let mut shares = Vec::new();
    if std::io::stdin().is_terminal() {
        loop {
            let prompt = format!(
                "Recovery share {} (empty line when done): ",
                shares.len() + 1
            );
            let text = Zeroizing::new(
                rpassword::prompt_password(prompt).context("could not read a share")?,
            );
            if text.trim().is_empty() {
                break;
            }
            shares.push(text);
        }
    } else {
        for line in std::io::stdin().lock().lines() {
            let line = Zeroizing::new(line.context("could not read shares from stdin")?);
            if !line.trim().is_empty() {
                shares.push(Zeroizing::new(line.trim().to_owned()));
            }
        }
    }
    if shares.is_empty() {
        bail!("no recovery share given");
    }
    Ok(shares)
}
