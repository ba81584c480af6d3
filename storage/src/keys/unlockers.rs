//! `<data>/unlockers`: the master key, sealed so that the data directory alone opens nothing.
//!
//! # Design
//!
//! Three layers, each a random 32-byte key wrapped (AES-256-GCM-SIV) by the one above:
//!
//! ```text
//! unlocker secret ──KEK──▶ unlock key ──▶ master key ──▶ index key, bucket keys, records
//! (passphrase, key file,    (stable)       (rotatable)     (`keys`, the index)
//!  k-of-n shares)
//! ```
//!
//! Each unlocker turns its secret into a key-encryption key — Argon2id for a passphrase
//! (`passphrase.rs`), `blake3::derive_key` for a key file or a recombined share secret
//! (`recovery_shares.rs`) — and stores only the unlock key wrapped under it. The file holds
//! those wraps and the master key wrapped by the unlock key: nothing in it opens without an
//! unlocker's secret, so a stolen disk or backup of the directory discloses nothing.
//!
//! The unlock key is the indirection that lets unlockers come and go, and the master key
//! rotate, without the secrets of every unlocker at hand: adding an unlocker wraps the
//! unlock key once more; removing one deletes its wrap; `rotate-master` makes a new master
//! key, rewraps what the old one wrapped (`rotate.rs`) and wraps the new one under the same
//! unlock key, so every unlocker keeps working. The price: an unlocker removed today still
//! opens a copy of this file taken *before* its removal, and with it the unlock key; so
//! someone holding a removed unlocker's secret, an old copy of this file *and* a current
//! copy of the directory could read current data. (Changing the unlock key would need every
//! remaining unlocker's secret at once.)
//!
//! Interrupted rotations are resumable: the new master key is first recorded here (wrapped
//! like the old one) as `pending`, then the rotation runs, then `pending` replaces the
//! master key. Opening refuses a directory with a pending rotation until it is finished.
//!
//! A directory made before unlockers existed has a `keys` file and no `unlockers` file: its
//! key file (or `COFFER_MASTER_KEY`) is the master key itself, as before ([`DirState::Legacy`]).

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::keys::keyring::{MasterKey, cipher_from, random_bytes, random_key, unwrap, wrap};
use crate::keys::passphrase::{Argon2Params, Passphrase};
use crate::keys::recovery_shares::{self, Share};
use crate::keys::unlocker_file::{Entry, FILE, StoredKind, UnlockerFile, load, store};

const CONTEXT_KEY_UNLOCKER: &str = "coffer 2026-11 key file unlocker";
const CONTEXT_SHARES_UNLOCKER: &str = "coffer 2026-11 recovery shares unlocker";
const LABEL_UNLOCK_KEY: &[u8] = b"coffer unlock key\0";
const LABEL_MASTER_KEY: &[u8] = b"coffer master key\0";
const LABEL_PENDING_MASTER_KEY: &[u8] = b"coffer pending master key\0";

/// What a data directory holds, as far as keys go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DirState {
    /// Nothing yet: `coffer init` (or a first start with a key) sets it up.
    Fresh,
    /// Set up with unlockers: opened by any one of them.
    Sealed,
    /// Made before unlockers: its master key (from a key file or the environment) opens it
    /// directly.
    Legacy,
}

/// Tells what `root` holds.
///
/// # Errors
/// `Error::Io` if the directory cannot be inspected.
pub fn dir_state(root: &Path) -> Result<DirState> {
    let exists = |name: &str| -> Result<bool> {
        match std::fs::symlink_metadata(root.join(name)) {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(source) => Err(Error::Io {
                action: "inspect data directory",
                source,
            }),
        }
    };
    Ok(if exists(FILE)? {
        DirState::Sealed
    } else if exists(crate::keys::key_file::KEY_FILE)? {
        DirState::Legacy
    } else {
        DirState::Fresh
    })
}

/// A secret that opens a data directory.
#[derive(Debug)]
pub enum UnlockSecret {
    /// A passphrase.
    Passphrase(Passphrase),
    /// The key of a key-file unlocker (or, in a legacy directory, the master key): base64
    /// of 32 bytes in a file or in `COFFER_MASTER_KEY`.
    Key(MasterKey),
    /// Recovery shares as written down, at least k of one set.
    Shares(Vec<Zeroizing<String>>),
}

impl UnlockSecret {
    fn what(&self) -> &'static str {
        match self {
            UnlockSecret::Passphrase(_) => "passphrase",
            UnlockSecret::Key(_) => "key",
            UnlockSecret::Shares(_) => "recovery shares",
        }
    }
}

/// An unlocker to add.
#[derive(Debug)]
pub enum NewUnlocker {
    /// A passphrase, stretched with these Argon2id parameters.
    Passphrase(Passphrase, Argon2Params),
    /// A key file's key.
    Key(MasterKey),
    /// A fresh k-of-n split; the shares are returned once, in [`Added::shares`].
    Shares {
        /// Shares needed (k).
        threshold: u8,
        /// Shares made (n).
        count: u8,
    },
}

/// What adding an unlocker made.
#[derive(Debug)]
pub struct Added {
    /// The new unlocker's id.
    pub id: u32,
    /// For a share unlocker: the share texts, to print once and never again.
    pub shares: Vec<Zeroizing<String>>,
}

/// An unlocker as `list-unlockers` shows it: no secret in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnlockerInfo {
    /// Its id (for `remove-unlocker`).
    pub id: u32,
    /// What kind it is.
    pub kind: UnlockerKind,
}

/// The kind of an unlocker, with its public parameters.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UnlockerKind {
    /// A passphrase and the Argon2id parameters it is stretched with.
    Passphrase(Argon2Params),
    /// A key file (or `COFFER_MASTER_KEY`).
    Key,
    /// k-of-n recovery shares.
    Shares {
        /// k.
        threshold: u8,
        /// n.
        count: u8,
    },
}

/// The unlock key and the master key(s) of an opened unlockers file.
struct Opened {
    file: UnlockerFile,
    unlock_key: Zeroizing<[u8; 32]>,
    /// The entry that opened it.
    by: u32,
}

/// Sets up a fresh data directory with `first` unlockers (at least one): makes the unlock
/// key and the master key and writes `<root>/unlockers` (0600). Creates `root` (0700).
///
/// # Errors
/// `Error::AlreadyInitialized`; `Error::BadConfig` for no unlocker; the errors of each
/// unlocker's set-up (`WeakArgon2`, `WeakPassphrase`, bad k-of-n).
pub fn init(root: &Path, first: Vec<NewUnlocker>) -> Result<Vec<Added>> {
    if dir_state(root)? != DirState::Fresh {
        return Err(Error::AlreadyInitialized);
    }
    if first.is_empty() {
        return Err(Error::BadConfig {
            what: "at least one unlocker is needed",
        });
    }
    let unlock_key = random_key()?;
    let master = random_key()?;
    let mut file = UnlockerFile {
        master: wrap(&cipher_from(&unlock_key), LABEL_MASTER_KEY, b"", &*master)?,
        pending: None,
        next_id: 1,
        unlockers: Vec::new(),
    };
    let mut added = Vec::new();
    for new in first {
        added.push(add_entry(&mut file, &unlock_key, new)?);
    }
    if !root.exists() {
        use std::os::unix::fs::DirBuilderExt as _;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(root)
            .map_err(Error::io("create data directory"))?;
        // The mode above is filtered by the umask; make it exactly 0700 regardless.
        std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o700))
            .map_err(Error::io("chmod data directory"))?;
    }
    store(root, &file)?;
    Ok(added)
}

/// Opens the directory's master key with `secret`. Reads only: nothing on disk changes,
/// whatever the outcome.
///
/// In a [`DirState::Legacy`] directory a [`UnlockSecret::Key`] is the master key itself
/// (checked later, when the store opens).
///
/// # Errors
/// `Error::NoMatchingUnlocker`, `TooFewShares`, `BadRecoveryShare`, `MixedShareSets`;
/// `NotInitialized`; `RotationIncomplete` if a rotation must be finished first.
pub fn unlock(root: &Path, secret: UnlockSecret) -> Result<MasterKey> {
    match dir_state(root)? {
        DirState::Fresh => Err(Error::NotInitialized),
        DirState::Legacy => match secret {
            UnlockSecret::Key(key) => Ok(key),
            _ => Err(Error::LegacyDirectory),
        },
        DirState::Sealed => {
            let opened = open(root, &secret)?;
            if opened.file.pending.is_some() {
                return Err(Error::RotationIncomplete);
            }
            open_master(&opened.unlock_key, LABEL_MASTER_KEY, &opened.file.master)
        }
    }
}

/// Lists the unlockers (no secret needed: the list holds none).
///
/// # Errors
/// `NotInitialized` (or `LegacyDirectory`); `Corrupt` for a damaged file.
pub fn list_unlockers(root: &Path) -> Result<Vec<UnlockerInfo>> {
    require_sealed(root)?;
    Ok(load(root)?
        .unlockers
        .iter()
        .map(|e| UnlockerInfo {
            id: e.id,
            kind: match &e.kind {
                StoredKind::Passphrase { params, .. } => UnlockerKind::Passphrase(*params),
                StoredKind::Key => UnlockerKind::Key,
                StoredKind::Shares {
                    threshold, count, ..
                } => UnlockerKind::Shares {
                    threshold: *threshold,
                    count: *count,
                },
            },
        })
        .collect())
}

/// Adds an unlocker, proven by `with` (any existing unlocker). Rewrites only the
/// unlockers file (atomically); no data.
///
/// # Errors
/// As [`unlock`] for `with`; the set-up errors of `new`.
pub fn add_unlocker(root: &Path, with: &UnlockSecret, new: NewUnlocker) -> Result<Added> {
    require_sealed(root)?;
    let mut opened = open(root, with)?;
    let added = add_entry(&mut opened.file, &opened.unlock_key, new)?;
    store(root, &opened.file)?;
    Ok(added)
}

/// Removes unlocker `id`, proven by `with`, which must open the directory through a
/// *different* unlocker (so whoever removes one shows they keep another).
///
/// # Errors
/// `Error::LastUnlocker`, `Error::NoSuchUnlocker`, or as [`unlock`] for `with`
/// (`NoMatchingUnlocker` when `with` opens only the unlocker being removed).
pub fn remove_unlocker(root: &Path, with: &UnlockSecret, id: u32) -> Result<()> {
    require_sealed(root)?;
    let file = load(root)?;
    if !file.unlockers.iter().any(|e| e.id == id) {
        return Err(Error::NoSuchUnlocker { id });
    }
    if file.unlockers.len() == 1 {
        return Err(Error::LastUnlocker);
    }
    let mut opened = open_except(file, with, Some(id))?;
    opened.file.unlockers.retain(|e| e.id != id);
    debug_assert_ne!(opened.by, id);
    store(root, &opened.file)
}

/// A master key rotation under way in a sealed directory: the unlockers file opened, the
/// current master key, and a new one once recorded as pending. The rewrapping of what the
/// master key wraps belongs to the index; `crate::rotation` runs the steps in order.
pub(crate) struct Rotating {
    opened: Opened,
    old: MasterKey,
}

impl Rotating {
    /// Opens the sealed directory `root` with `with`.
    ///
    /// # Errors
    /// As [`unlock`]; `Error::LegacyDirectory` or `Error::NotInitialized` if not sealed.
    pub(crate) fn open(root: &Path, with: &UnlockSecret) -> Result<Rotating> {
        require_sealed(root)?;
        let opened = open(root, with)?;
        let old = open_master(&opened.unlock_key, LABEL_MASTER_KEY, &opened.file.master)?;
        Ok(Rotating { opened, old })
    }

    /// The master key being replaced.
    pub(crate) fn old(&self) -> &MasterKey {
        &self.old
    }

    /// Whether an interrupted rotation already recorded its new key.
    pub(crate) fn resuming(&self) -> bool {
        self.opened.file.pending.is_some()
    }

    /// The new master key: the one an interrupted rotation recorded, or a fresh one,
    /// recorded as pending (durably) before anything is rewrapped under it, so a crash
    /// from here on resumes.
    pub(crate) fn record_new(&mut self, root: &Path) -> Result<MasterKey> {
        if let Some(pending) = &self.opened.file.pending {
            return open_master(&self.opened.unlock_key, LABEL_PENDING_MASTER_KEY, pending);
        }
        let new = MasterKey::from_bytes(random_key()?);
        let cipher = cipher_from(&self.opened.unlock_key);
        self.opened.file.pending =
            Some(wrap(&cipher, LABEL_PENDING_MASTER_KEY, b"", new.expose())?);
        store(root, &self.opened.file)?;
        Ok(new)
    }

    /// Makes `new` the master key every unlocker opens (under the same unlock key).
    pub(crate) fn finish(mut self, root: &Path, new: &MasterKey) -> Result<()> {
        self.opened.file.master = wrap(
            &cipher_from(&self.opened.unlock_key),
            LABEL_MASTER_KEY,
            b"",
            new.expose(),
        )?;
        self.opened.file.pending = None;
        store(root, &self.opened.file)
    }
}

fn require_sealed(root: &Path) -> Result<()> {
    match dir_state(root)? {
        DirState::Sealed => Ok(()),
        DirState::Legacy => Err(Error::LegacyDirectory),
        DirState::Fresh => Err(Error::NotInitialized),
    }
}

fn open_master(unlock_key: &[u8; 32], label: &[u8], wrapped: &[u8]) -> Result<MasterKey> {
    let bytes =
        unwrap(&cipher_from(unlock_key), label, b"", wrapped).map_err(|_| Error::Corrupt {
            what: "unlockers file",
        })?;
    let mut key = Zeroizing::new([0u8; 32]);
    if bytes.len() != key.len() {
        return Err(Error::Corrupt {
            what: "unlockers file",
        });
    }
    key.copy_from_slice(&bytes);
    Ok(MasterKey::from_bytes(key))
}

fn open(root: &Path, secret: &UnlockSecret) -> Result<Opened> {
    open_except(load(root)?, secret, None)
}

/// Finds the entry `secret` opens (skipping `except`) and unwraps the unlock key.
fn open_except(file: UnlockerFile, secret: &UnlockSecret, except: Option<u32>) -> Result<Opened> {
    let mut candidates = file.unlockers.iter().filter(|e| Some(e.id) != except);
    let mut found = None;
    match secret {
        UnlockSecret::Passphrase(passphrase) => {
            for entry in candidates {
                if let StoredKind::Passphrase { params, salt } = &entry.kind {
                    let kek = passphrase.stretch(*params, salt)?;
                    if let Some(key) = try_entry(entry, &kek) {
                        found = Some((entry.id, key));
                        break;
                    }
                }
            }
        }
        UnlockSecret::Key(key) => {
            let kek = Zeroizing::new(blake3::derive_key(CONTEXT_KEY_UNLOCKER, key.expose()));
            found = candidates
                .filter(|e| matches!(e.kind, StoredKind::Key))
                .find_map(|e| try_entry(e, &kek).map(|k| (e.id, k)));
        }
        UnlockSecret::Shares(texts) => {
            let shares = texts
                .iter()
                .enumerate()
                .map(|(i, t)| Share::from_text(t, i + 1))
                .collect::<Result<Vec<Share>>>()?;
            let first = shares
                .first()
                .ok_or(Error::TooFewShares { have: 0, need: 2 })?;
            let entry = candidates
                .find(|e| matches!(&e.kind, StoredKind::Shares { set, .. } if *set == first.set));
            if let Some(entry) = entry {
                let secret = recovery_shares::combine(&shares)?;
                let kek = Zeroizing::new(blake3::derive_key(CONTEXT_SHARES_UNLOCKER, &*secret));
                found = try_entry(entry, &kek).map(|k| (entry.id, k));
            } else if shares.len() < usize::from(first.threshold) {
                // Say "too few" before "no match" when both are true: it is the likelier fix.
                return Err(Error::TooFewShares {
                    have: shares.len(),
                    need: usize::from(first.threshold),
                });
            }
        }
    }
    let (by, unlock_key) = found.ok_or(Error::NoMatchingUnlocker {
        what: secret.what(),
    })?;
    Ok(Opened {
        file,
        unlock_key,
        by,
    })
}

fn try_entry(entry: &Entry, kek: &[u8; 32]) -> Option<Zeroizing<[u8; 32]>> {
    let bytes = unwrap(
        &cipher_from(kek),
        LABEL_UNLOCK_KEY,
        &entry.id.to_le_bytes(),
        &entry.wrapped,
    )
    .ok()?;
    let mut key = Zeroizing::new([0u8; 32]);
    (bytes.len() == key.len()).then(|| {
        key.copy_from_slice(&bytes);
        key
    })
}

fn add_entry(file: &mut UnlockerFile, unlock_key: &[u8; 32], new: NewUnlocker) -> Result<Added> {
    let id = file.next_id;
    let (kind, kek, shares) = match new {
        NewUnlocker::Passphrase(passphrase, params) => {
            passphrase.check_new()?;
            let salt = random_bytes::<16>()?;
            let kek = passphrase.stretch(params, &salt)?;
            (StoredKind::Passphrase { params, salt }, kek, Vec::new())
        }
        NewUnlocker::Key(key) => (
            StoredKind::Key,
            Zeroizing::new(blake3::derive_key(CONTEXT_KEY_UNLOCKER, key.expose())),
            Vec::new(),
        ),
        NewUnlocker::Shares { threshold, count } => {
            let secret = random_key()?;
            let shares = recovery_shares::split(&secret, threshold, count)?;
            let set = shares.first().map(|s| s.set).unwrap_or_default();
            (
                StoredKind::Shares {
                    set,
                    threshold,
                    count,
                },
                Zeroizing::new(blake3::derive_key(CONTEXT_SHARES_UNLOCKER, &*secret)),
                shares.iter().map(Share::to_text).collect(),
            )
        }
    };
    let wrapped = wrap(
        &cipher_from(&kek),
        LABEL_UNLOCK_KEY,
        &id.to_le_bytes(),
        unlock_key,
    )?;
    file.unlockers.push(Entry { id, kind, wrapped });
    file.next_id = id.checked_add(1).ok_or(Error::Corrupt {
        what: "unlockers file",
    })?;
    Ok(Added { id, shares })
}
