//! The KMS keys of a data directory: the [`KeyTable`] kept in one sealed record of the
//! store, read from memory, changed one at a time (change a copy, store it sealed, swap).
//!
//! This is the door the S3 object path uses for SSE-KMS: [`KmsKeys::usable`] resolves a key
//! id, key ARN or alias and gives the key's working key, or refuses a disabled key
//! ([`KeyError::Disabled`]), one pending deletion ([`KeyError::InvalidState`]) and a missing
//! or destroyed one ([`KeyError::NotFound`]). [`KmsKeys::s3_default`] is the key SSE-KMS
//! uses when a request names none (AWS's `aws/s3`), made on first use.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use coffer_storage::Store;
use zeroize::Zeroizing;

use super::error::KeyError;
use super::table::{KeyRef, KeyTable, UsableKey};
use crate::limits::KMS_SWEEP_INTERVAL;

/// Name of the sealed record (also its associated data).
const RECORD: &str = "kms/keys";
/// The alias of the key SSE-KMS uses when a request names none, as AWS names its own.
pub(crate) const S3_DEFAULT_ALIAS: &str = "alias/aws/s3";
/// That key's description (AWS's words for its own).
const S3_DEFAULT_DESCRIPTION: &str =
    "Default key that protects my S3 objects when no other key is defined";

/// The keys. Cheap to clone.
#[derive(Clone)]
pub(crate) struct KmsKeys {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    /// The server's region and the deployment's account, for ARNs.
    region: String,
    account: String,
    current: RwLock<Arc<KeyTable>>,
    changes: tokio::sync::Mutex<()>,
    /// Working keys already derived, by key id, so a GET does not read a share file. Only
    /// ever used after the table says the key may be used; emptied at every change of the
    /// table and before a share is removed, so a destroyed key's working key does not
    /// outlive its share in memory for longer than the change that destroys it.
    working: std::sync::Mutex<HashMap<String, Zeroizing<[u8; 32]>>>,
}

impl KmsKeys {
    /// Loads the keys of `store` (none at first), for ARNs in `region` and `account`.
    ///
    /// # Errors
    /// [`KeyError::Storage`], [`KeyError::Corrupt`].
    pub(crate) async fn open(
        store: Store,
        region: &str,
        account: &str,
    ) -> Result<KmsKeys, KeyError> {
        let table = match store
            .get_sealed(RECORD)
            .await
            .map_err(|source| KeyError::Storage {
                action: "read the sealed KMS keys",
                source,
            })? {
            Some(bytes) => KeyTable::decode(&bytes)?,
            None => KeyTable::default(),
        };
        Ok(KmsKeys {
            inner: Arc::new(Inner {
                store,
                region: region.to_owned(),
                account: account.to_owned(),
                current: RwLock::new(Arc::new(table)),
                changes: tokio::sync::Mutex::new(()),
                working: std::sync::Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The table as it is now.
    pub(crate) fn table(&self) -> Arc<KeyTable> {
        // A poisoned lock only means a panic elsewhere while swapping an Arc.
        match self.inner.current.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The deployment's account id.
    pub(crate) fn account(&self) -> &str {
        &self.inner.account
    }

    /// `arn:aws:kms:<region>:<account>:key/<id>`.
    pub(crate) fn key_arn(&self, id: &str) -> String {
        format!(
            "arn:aws:kms:{}:{}:key/{id}",
            self.inner.region, self.inner.account
        )
    }

    /// `arn:aws:kms:<region>:<account>:alias/<name>` for `alias/<name>`.
    pub(crate) fn alias_arn(&self, alias: &str) -> String {
        format!(
            "arn:aws:kms:{}:{}:{alias}",
            self.inner.region, self.inner.account
        )
    }

    /// Parses a key id, key ARN, alias or alias ARN.
    ///
    /// # Errors
    /// As [`KeyRef::parse`].
    pub(crate) fn parse(&self, text: &str) -> Result<KeyRef, KeyError> {
        KeyRef::parse(text, &self.inner.region, &self.inner.account)
    }

    /// The key `key` names (id, ARN or alias), if it may be used now, with its material.
    ///
    /// # Errors
    /// [`KeyError::NotFound`], [`KeyError::Disabled`], [`KeyError::InvalidState`] (pending
    /// deletion), [`KeyError::Invalid`] for a malformed reference.
    pub(crate) async fn usable(&self, key: &str) -> Result<UsableKey, KeyError> {
        self.usable_ref(&self.parse(key)?).await
    }

    async fn usable_ref(&self, key: &KeyRef) -> Result<UsableKey, KeyError> {
        let stored = self.table().usable(key)?;
        if let Some(material) = self.working_cache().get(&stored.id).cloned() {
            return Ok(UsableKey {
                id: stored.id.clone(),
                material,
            });
        }
        let material = self
            .inner
            .store
            .kms_key(key_id_bytes(&stored.id)?, &stored.material)
            .await
            .map_err(|source| KeyError::Storage {
                action: "read a KMS key share",
                source,
            })?;
        self.working_cache()
            .insert(stored.id.clone(), material.clone());
        Ok(UsableKey {
            id: stored.id.clone(),
            material,
        })
    }

    fn working_cache(&self) -> std::sync::MutexGuard<'_, HashMap<String, Zeroizing<[u8; 32]>>> {
        // A poisoned lock only means a panic elsewhere during a map operation.
        self.inner
            .working
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The key SSE-KMS uses when a request names none ([`S3_DEFAULT_ALIAS`]), made (with
    /// its alias) the first time it is needed, as AWS makes its `aws/s3` key.
    ///
    /// # Errors
    /// As [`KmsKeys::usable`] and [`KmsKeys::create`].
    pub(crate) async fn s3_default(&self, now_ms: u64) -> Result<UsableKey, KeyError> {
        let alias = KeyRef::Alias(S3_DEFAULT_ALIAS.to_owned());
        if self.table().find(&alias).is_err() {
            self.create(S3_DEFAULT_DESCRIPTION, now_ms, Some(S3_DEFAULT_ALIAS))
                .await?;
        }
        self.usable_ref(&alias).await
    }

    /// Makes a new Enabled key (random id and material; its share durable first) and
    /// returns its id. With `managed_alias`, the key is one Coffer manages under that
    /// reserved alias: if the alias appeared meanwhile, no key is made and its key's id is
    /// returned.
    ///
    /// # Errors
    /// [`KeyError::Random`], [`KeyError::Storage`], and the table's refusals.
    pub(crate) async fn create(
        &self,
        description: &str,
        now_ms: u64,
        managed_alias: Option<&str>,
    ) -> Result<String, KeyError> {
        let mut id_bytes = [0u8; 16];
        getrandom::fill(&mut id_bytes).map_err(|_| KeyError::Random)?;
        // A version 4 UUID's layout, as KMS's key ids have.
        id_bytes[6] = (id_bytes[6] & 0x0f) | 0x40;
        id_bytes[8] = (id_bytes[8] & 0x3f) | 0x80;
        let id = key_id_text(id_bytes);
        let mut material = Zeroizing::new([0u8; 32]);
        getrandom::fill(&mut *material).map_err(|_| KeyError::Random)?;
        // The share is durable before the commit that makes the key exist.
        self.create_share(&id).await?;
        let made = self
            .change(|table| {
                if let Some(alias) = managed_alias
                    && let Ok(existing) = table.find(&KeyRef::Alias(alias.to_owned()))
                {
                    return Ok(existing.id.clone());
                }
                table.create(id.clone(), description, &material, now_ms)?;
                if let Some(alias) = managed_alias {
                    table.alias_managed_key(alias, &id, now_ms)?;
                }
                Ok(id.clone())
            })
            .await;
        // A change refused before the commit, or one that made no key, leaves a share of no
        // key: remove it. After another store error the commit may have landed, so the
        // share stays (a stray one is harmless).
        let may_have_landed = matches!(
            &made,
            Err(KeyError::Storage { source, .. })
                if !matches!(source, coffer_storage::Error::CommitRefused { .. })
        );
        let unused = match &made {
            Ok(made_id) => *made_id != id,
            Err(_) => !may_have_landed,
        };
        if unused {
            let _ = self.remove_share(&id).await;
        }
        made
    }

    /// Creates the share of new key `id`, before its record is committed.
    async fn create_share(&self, id: &str) -> Result<(), KeyError> {
        self.inner
            .store
            .create_kms_share(key_id_bytes(id)?)
            .await
            .map_err(|source| KeyError::Storage {
                action: "write a KMS key share",
                source,
            })
    }

    /// Destroys the share of key `id`: what is sealed under the key cannot be opened again.
    pub(crate) async fn remove_share(&self, id: &str) -> Result<(), KeyError> {
        self.working_cache().remove(id);
        self.inner
            .store
            .remove_kms_share(key_id_bytes(id)?)
            .await
            .map_err(|source| KeyError::Storage {
                action: "remove a KMS key share",
                source,
            })
    }

    /// Applies `change` to a copy of the table, stores it sealed, then makes it current. A
    /// change that fails leaves everything as it was.
    pub(crate) async fn change<T>(
        &self,
        change: impl FnOnce(&mut KeyTable) -> Result<T, KeyError>,
    ) -> Result<T, KeyError> {
        let _one_at_a_time = self.inner.changes.lock().await;
        let mut table = (*self.table()).clone();
        let out = change(&mut table)?;
        self.inner
            .store
            .put_sealed(RECORD, table.encode()?)
            .await
            .map_err(|source| KeyError::Storage {
                action: "write the sealed KMS keys",
                source,
            })?;
        let fresh = Arc::new(table);
        match self.inner.current.write() {
            Ok(mut guard) => *guard = fresh,
            Err(poisoned) => *poisoned.into_inner() = fresh,
        }
        self.working_cache().clear();
        Ok(out)
    }

    /// Destroys the keys whose deletion date is at or before `now` (see
    /// [`KeyTable::sweep`]); returns how many.
    ///
    /// # Errors
    /// [`KeyError::Storage`].
    pub(crate) async fn sweep(&self, now: SystemTime) -> Result<usize, KeyError> {
        let now_ms = ms_since_epoch(now);
        if self.table().next_deletion().is_none_or(|due| due > now_ms) {
            return Ok(0);
        }
        let gone = self.change(|table| Ok(table.sweep(now_ms))).await?;
        // After the commit: a crash before this leaves a share with no key, harmless.
        for id in &gone {
            self.remove_share(id).await?;
        }
        Ok(gone.len())
    }
}

/// Sweeps once now — awaited before the server serves, so no request ever finds a key past
/// its deletion date — then every [`KMS_SWEEP_INTERVAL`] in a task of its own, which the
/// caller ends when serving ends.
pub(crate) async fn start_sweeping(keys: KmsKeys) -> tokio::task::JoinHandle<()> {
    sweep_and_log(&keys).await;
    tokio::spawn(async move {
        let first = tokio::time::Instant::now() + KMS_SWEEP_INTERVAL;
        let mut tick = tokio::time::interval_at(first, KMS_SWEEP_INTERVAL);
        loop {
            tick.tick().await;
            sweep_and_log(&keys).await;
        }
    })
}

async fn sweep_and_log(keys: &KmsKeys) {
    match keys.sweep(SystemTime::now()).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(destroyed = n, "KMS keys past their deletion date destroyed"),
        Err(error) => {
            tracing::warn!(%error, "KMS keys past their deletion date could not be destroyed yet");
        }
    }
}

/// The 16 bytes of a UUID-shaped key id (they name its share file, and object records
/// keep them).
///
/// # Errors
/// [`KeyError::NotFound`] for an id of another shape: no key here has it.
pub(crate) fn key_id_bytes(id: &str) -> Result<[u8; 16], KeyError> {
    let bytes = hex::decode(id.replace('-', "")).map_err(|_| KeyError::NotFound)?;
    <[u8; 16]>::try_from(bytes.as_slice()).map_err(|_| KeyError::NotFound)
}

/// A key id as KMS writes it: `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`.
pub(crate) fn key_id_text(bytes: [u8; 16]) -> String {
    let h = hex::encode(bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// Milliseconds since the epoch (0 before it).
pub(crate) fn ms_since_epoch(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The time `ms` milliseconds after the epoch.
pub(crate) fn time_from_ms(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

#[cfg(test)]
mod tests {
    use coffer_storage::{
        DEFAULT_CHUNK_SIZE, DEFAULT_INLINE_MAX, Durability, MasterKey, Placement, StoreConfig,
    };

    use super::*;

    const K1: &str = "00112233-4455-4677-8899-aabbccddeeff";
    const MASTER_A: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const MASTER_B: &str = "HxwdHhscGRoXGBUWExQREg8QDQ4LDAkKBwgFBgMEAQI=";

    async fn open_store(root: &std::path::Path, master: &str) -> Store {
        Store::open(StoreConfig {
            placement: Placement::directory(root.to_path_buf()),
            chunk_size: DEFAULT_CHUNK_SIZE,
            inline_max: DEFAULT_INLINE_MAX,
            durability: Durability::Relaxed,
            master_key: MasterKey::from_base64(master).unwrap(),
        })
        .await
        .unwrap()
    }

    async fn new_key(keys: &KmsKeys, id: &str, material: u8) {
        keys.create_share(id).await.unwrap();
        keys.change(|t| t.create(id.into(), "", &[material; 32], 0).map(|_| ()))
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn keys_survive_a_restart_and_a_master_key_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let store = open_store(dir.path(), MASTER_A).await;
        let keys = KmsKeys::open(store.clone(), "eu-west-1", "123456789012")
            .await
            .unwrap();
        new_key(&keys, K1, 5).await;
        keys.change(|t| t.create_alias("alias/study-7", &KeyRef::Id(K1.into()), 0))
            .await
            .unwrap();
        store.shutdown().await;
        drop((keys, store));
        let (a, b) = (
            MasterKey::from_base64(MASTER_A).unwrap(),
            MasterKey::from_base64(MASTER_B).unwrap(),
        );
        coffer_storage::rotate_master_key(dir.path(), &a, &b).unwrap();
        let store = open_store(dir.path(), MASTER_B).await;
        let keys = KmsKeys::open(store.clone(), "eu-west-1", "123456789012")
            .await
            .unwrap();
        let key = keys
            .usable("arn:aws:kms:eu-west-1:123456789012:alias/study-7")
            .await
            .unwrap();
        assert_eq!(key.id, K1);
        // The working key is the material combined with the share, not the material.
        assert_ne!(*key.material, [5; 32]);
        assert_eq!(*keys.usable(K1).await.unwrap().material, *key.material);
        store.shutdown().await;
    }

    #[tokio::test]
    async fn the_sweep_destroys_keys_once_their_date_has_passed() {
        let dir = tempfile::tempdir().unwrap();
        let store = open_store(dir.path(), MASTER_A).await;
        let keys = KmsKeys::open(store.clone(), "eu-west-1", "123456789012")
            .await
            .unwrap();
        new_key(&keys, K1, 5).await;
        // Used once, its working key is kept in memory...
        let working = keys.usable(K1).await.unwrap().material;
        assert_eq!(*keys.usable(K1).await.unwrap().material, *working);
        assert_eq!(keys.working_cache().len(), 1);
        let start = SystemTime::now();
        let (_, when) = keys
            .change(|t| t.schedule_deletion(&KeyRef::Id(K1.into()), 7, ms_since_epoch(start)))
            .await
            .unwrap();
        assert!(matches!(
            keys.usable(K1).await,
            Err(KeyError::InvalidState(_))
        ));
        let share = dir.path().join("kms-shares").join(K1.replace('-', ""));
        assert!(share.exists());
        assert_eq!(keys.sweep(start).await.unwrap(), 0);
        assert_eq!(keys.sweep(time_from_ms(when)).await.unwrap(), 1);
        assert!(matches!(keys.usable(K1).await, Err(KeyError::NotFound)));
        // ...until the key changes state: nothing of a destroyed key stays in memory.
        assert!(keys.working_cache().is_empty());
        // Its share is gone: a copy of the index taken before opens nothing under it.
        assert!(!share.exists());
        // Destroyed in the stored record too, not only in memory.
        let reopened = KmsKeys::open(store.clone(), "eu-west-1", "123456789012")
            .await
            .unwrap();
        assert!(reopened.table().keys().is_empty());
        store.shutdown().await;
    }
}
