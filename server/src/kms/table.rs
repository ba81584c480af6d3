//! The KMS key table: keys, their states and aliases, as one sealed record holds them, and
//! every change KMS's actions make to it.
//!
//! Pure data and rules, no I/O and no clock of its own: each change that depends on time
//! takes `now_ms`, so the deletion schedule (7 days at least) is tested by passing a later
//! `now` to [`KeyTable::sweep`] rather than by waiting.
//!
//! A key's material (32 random bytes) lives only here: sealed on disk under the master key
//! (`Store::put_sealed`, rewrapped by `coffer keys rotate-master`), zeroized in memory when
//! the table is dropped. A key whose deletion date has passed is removed whole, material and
//! aliases, by [`KeyTable::sweep`].

use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::error::KeyError;
use crate::limits::KMS_MAX_KEYS;

/// Format version of the record.
const V1: u8 = 1;
/// Shortest and longest deletion window (AWS's).
pub(crate) const MIN_WINDOW_DAYS: u32 = 7;
/// See [`MIN_WINDOW_DAYS`].
pub(crate) const MAX_WINDOW_DAYS: u32 = 30;
/// Longest description (AWS's).
pub(crate) const MAX_DESCRIPTION: usize = 8192;
/// Longest alias name, `alias/` included (AWS's).
const MAX_ALIAS: usize = 256;
/// Alias prefix AWS keeps for its own keys.
const RESERVED_ALIAS: &str = "alias/aws/";
const DAY_MS: u64 = 86_400_000;

/// Where a key stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum KeyState {
    /// Usable.
    Enabled,
    /// Kept, but refused for every use until enabled again.
    Disabled,
    /// Refused for every use; destroyed at `deletion_ms` unless the deletion is cancelled.
    PendingDeletion {
        /// When the sweep may destroy it (ms since the epoch).
        deletion_ms: u64,
    },
}

impl KeyState {
    /// KMS's name for it.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            KeyState::Enabled => "Enabled",
            KeyState::Disabled => "Disabled",
            KeyState::PendingDeletion { .. } => "PendingDeletion",
        }
    }
}

/// The stored form (postcard, then sealed by the store).
#[derive(Clone, Default, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub(crate) struct KeyTable {
    version: u8,
    keys: Vec<KeyEntry>,
    aliases: Vec<AliasEntry>,
}

/// One key.
#[derive(Clone, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub(crate) struct KeyEntry {
    /// UUID-shaped random id.
    pub(crate) id: String,
    pub(crate) description: String,
    pub(crate) created_ms: u64,
    #[zeroize(skip)]
    pub(crate) state: KeyState,
    material: [u8; 32],
}

/// One alias: `alias/<name>` → a key id.
#[derive(Clone, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub(crate) struct AliasEntry {
    /// The whole name, `alias/…`.
    pub(crate) name: String,
    pub(crate) target: String,
    pub(crate) created_ms: u64,
}

/// How a request names a key, once ARNs are checked against this server's region and
/// account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum KeyRef {
    /// A key id.
    Id(String),
    /// An alias name, `alias/…`.
    Alias(String),
}

impl KeyRef {
    /// Parses a key id, key ARN, alias name or alias ARN. An ARN of another region or
    /// account names no key here.
    ///
    /// # Errors
    /// [`KeyError::NotFound`] for an ARN of elsewhere; [`KeyError::Invalid`] for an empty
    /// or over-long reference.
    pub(crate) fn parse(text: &str, region: &str, account: &str) -> Result<KeyRef, KeyError> {
        if text.is_empty() || text.len() > 2048 {
            return Err(KeyError::Invalid(
                "KeyId must be 1 to 2048 characters long.",
            ));
        }
        if let Some(rest) = text.strip_prefix("arn:aws:kms:") {
            let ours = format!("{region}:{account}:");
            let resource = rest.strip_prefix(&ours).ok_or(KeyError::NotFound)?;
            if let Some(id) = resource.strip_prefix("key/") {
                return Ok(KeyRef::Id(id.to_owned()));
            }
            if resource.starts_with("alias/") {
                return Ok(KeyRef::Alias(resource.to_owned()));
            }
            return Err(KeyError::NotFound);
        }
        if text.starts_with("alias/") {
            Ok(KeyRef::Alias(text.to_owned()))
        } else {
            Ok(KeyRef::Id(text.to_owned()))
        }
    }
}

/// A key that may be used now, with its material. Zeroized on drop; no `Debug`.
pub(crate) struct UsableKey {
    /// Its id.
    pub(crate) id: String,
    /// The 32 bytes that wrap object keys (from [`KmsKeys::usable`](super::KmsKeys::usable):
    /// the stored material combined with the key's share).
    pub(crate) material: Zeroizing<[u8; 32]>,
}

impl KeyTable {
    /// Decodes a stored table.
    ///
    /// # Errors
    /// [`KeyError::Corrupt`] for an unknown version or bytes that do not decode.
    pub(crate) fn decode(bytes: &[u8]) -> Result<KeyTable, KeyError> {
        match bytes.first() {
            Some(&V1) => postcard::from_bytes(bytes).map_err(|_| KeyError::Corrupt),
            _ => Err(KeyError::Corrupt),
        }
    }

    /// The stored form.
    pub(crate) fn encode(&self) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        let mut copy = self.clone();
        copy.version = V1;
        postcard::to_allocvec(&copy)
            .map(Zeroizing::new)
            .map_err(|_| KeyError::Corrupt)
    }

    /// Every key, oldest first.
    pub(crate) fn keys(&self) -> &[KeyEntry] {
        &self.keys
    }

    /// Every alias, sorted by name.
    pub(crate) fn aliases(&self) -> &[AliasEntry] {
        &self.aliases
    }

    /// The key `key` names (by id or alias), whatever its state.
    ///
    /// # Errors
    /// [`KeyError::NotFound`].
    pub(crate) fn find(&self, key: &KeyRef) -> Result<&KeyEntry, KeyError> {
        let id = match key {
            KeyRef::Id(id) => id.as_str(),
            KeyRef::Alias(name) => self
                .aliases
                .iter()
                .find(|a| a.name == *name)
                .map(|a| a.target.as_str())
                .ok_or(KeyError::NotFound)?,
        };
        self.keys
            .iter()
            .find(|k| k.id == id)
            .ok_or(KeyError::NotFound)
    }

    fn find_mut(&mut self, key: &KeyRef) -> Result<&mut KeyEntry, KeyError> {
        let id = self.find(key)?.id.clone();
        self.keys
            .iter_mut()
            .find(|k| k.id == id)
            .ok_or(KeyError::NotFound)
    }

    /// The key `key` names, if it may be used: the one door the object path goes through.
    ///
    /// # Errors
    /// [`KeyError::NotFound`], [`KeyError::Disabled`], or [`KeyError::InvalidState`] for a
    /// key pending deletion.
    pub(crate) fn usable(&self, key: &KeyRef) -> Result<UsableKey, KeyError> {
        let entry = self.find(key)?;
        match entry.state {
            KeyState::Enabled => Ok(UsableKey {
                id: entry.id.clone(),
                material: Zeroizing::new(entry.material),
            }),
            KeyState::Disabled => Err(KeyError::Disabled),
            KeyState::PendingDeletion { .. } => {
                Err(KeyError::InvalidState("The key is pending deletion."))
            }
        }
    }

    /// Adds an Enabled key with id `id` and `material`.
    ///
    /// # Errors
    /// [`KeyError::Invalid`] for a description over [`MAX_DESCRIPTION`] characters,
    /// [`KeyError::LimitExceeded`] past [`KMS_MAX_KEYS`].
    pub(crate) fn create(
        &mut self,
        id: String,
        description: &str,
        material: &[u8; 32],
        now_ms: u64,
    ) -> Result<&KeyEntry, KeyError> {
        if description.chars().count() > MAX_DESCRIPTION {
            return Err(KeyError::Invalid(
                "Description must be at most 8192 characters long.",
            ));
        }
        if self.keys.len() >= KMS_MAX_KEYS {
            return Err(KeyError::LimitExceeded);
        }
        self.keys.push(KeyEntry {
            id,
            description: description.to_owned(),
            created_ms: now_ms,
            state: KeyState::Enabled,
            material: *material,
        });
        self.keys.last().ok_or(KeyError::Corrupt)
    }

    /// Enables a Disabled (or Enabled) key.
    ///
    /// # Errors
    /// [`KeyError::NotFound`]; [`KeyError::InvalidState`] for a key pending deletion.
    pub(crate) fn enable(&mut self, key: &KeyRef) -> Result<(), KeyError> {
        let entry = self.find_mut(key)?;
        if matches!(entry.state, KeyState::PendingDeletion { .. }) {
            return Err(KeyError::InvalidState(
                "The key is pending deletion: cancel the deletion first.",
            ));
        }
        entry.state = KeyState::Enabled;
        Ok(())
    }

    /// Disables an Enabled (or Disabled) key.
    ///
    /// # Errors
    /// [`KeyError::NotFound`]; [`KeyError::InvalidState`] for a key pending deletion.
    pub(crate) fn disable(&mut self, key: &KeyRef) -> Result<(), KeyError> {
        let entry = self.find_mut(key)?;
        if matches!(entry.state, KeyState::PendingDeletion { .. }) {
            return Err(KeyError::InvalidState("The key is pending deletion."));
        }
        entry.state = KeyState::Disabled;
        Ok(())
    }

    /// Schedules a key's destruction `days` days after `now_ms`; returns the key id and the
    /// deletion date.
    ///
    /// # Errors
    /// [`KeyError::Invalid`] for a window outside 7–30 days, [`KeyError::NotFound`],
    /// [`KeyError::InvalidState`] for a key already pending deletion.
    pub(crate) fn schedule_deletion(
        &mut self,
        key: &KeyRef,
        days: u32,
        now_ms: u64,
    ) -> Result<(String, u64), KeyError> {
        if !(MIN_WINDOW_DAYS..=MAX_WINDOW_DAYS).contains(&days) {
            return Err(KeyError::Invalid(
                "PendingWindowInDays must be between 7 and 30.",
            ));
        }
        let entry = self.find_mut(key)?;
        if matches!(entry.state, KeyState::PendingDeletion { .. }) {
            return Err(KeyError::InvalidState(
                "The key is already pending deletion.",
            ));
        }
        let deletion_ms = now_ms.saturating_add(u64::from(days) * DAY_MS);
        entry.state = KeyState::PendingDeletion { deletion_ms };
        Ok((entry.id.clone(), deletion_ms))
    }

    /// Cancels a scheduled deletion: the key is kept, Disabled (as AWS does). Returns its id.
    ///
    /// # Errors
    /// [`KeyError::NotFound`]; [`KeyError::InvalidState`] for a key not pending deletion.
    pub(crate) fn cancel_deletion(&mut self, key: &KeyRef) -> Result<String, KeyError> {
        let entry = self.find_mut(key)?;
        if !matches!(entry.state, KeyState::PendingDeletion { .. }) {
            return Err(KeyError::InvalidState("The key is not pending deletion."));
        }
        entry.state = KeyState::Disabled;
        Ok(entry.id.clone())
    }

    /// Points new alias `name` at the key `target` names (by id).
    ///
    /// # Errors
    /// [`KeyError::Invalid`] for a name AWS refuses (or one under `alias/aws/`),
    /// [`KeyError::AlreadyExists`], [`KeyError::NotFound`], [`KeyError::InvalidState`] for a
    /// target pending deletion, [`KeyError::LimitExceeded`] past [`KMS_MAX_KEYS`] aliases.
    pub(crate) fn create_alias(
        &mut self,
        name: &str,
        target: &KeyRef,
        now_ms: u64,
    ) -> Result<(), KeyError> {
        check_alias(name)?;
        if matches!(target, KeyRef::Alias(_)) {
            return Err(KeyError::Invalid(
                "TargetKeyId must be a key id or key ARN, not an alias.",
            ));
        }
        if self.aliases.iter().any(|a| a.name == name) {
            return Err(KeyError::AlreadyExists);
        }
        let entry = self.find(target)?;
        if matches!(entry.state, KeyState::PendingDeletion { .. }) {
            return Err(KeyError::InvalidState("The key is pending deletion."));
        }
        if self.aliases.len() >= KMS_MAX_KEYS {
            return Err(KeyError::LimitExceeded);
        }
        let alias = AliasEntry {
            name: name.to_owned(),
            target: entry.id.clone(),
            created_ms: now_ms,
        };
        let at = self.aliases.partition_point(|a| a.name.as_str() < name);
        self.aliases.insert(at, alias);
        Ok(())
    }

    /// Removes alias `name`; the key stays.
    ///
    /// # Errors
    /// [`KeyError::Invalid`] for a name AWS refuses (or one under `alias/aws/`),
    /// [`KeyError::NotFound`].
    pub(crate) fn delete_alias(&mut self, name: &str) -> Result<(), KeyError> {
        check_alias(name)?;
        let at = self
            .aliases
            .iter()
            .position(|a| a.name == name)
            .ok_or(KeyError::NotFound)?;
        self.aliases.remove(at);
        Ok(())
    }

    /// Points existing alias `name` at the key `target` names (by id).
    ///
    /// # Errors
    /// As [`KeyTable::create_alias`], but [`KeyError::NotFound`] when the alias does not
    /// exist.
    pub(crate) fn update_alias(
        &mut self,
        name: &str,
        target: &KeyRef,
        now_ms: u64,
    ) -> Result<(), KeyError> {
        check_alias(name)?;
        if !self.aliases.iter().any(|a| a.name == name) {
            return Err(KeyError::NotFound);
        }
        let mut trial = self.clone();
        trial.aliases.retain(|a| a.name != name);
        trial.create_alias(name, target, now_ms)?;
        *self = trial;
        Ok(())
    }

    /// Points reserved alias `name` (under `alias/aws/`) at key `id`, which Coffer manages
    /// (AWS's `aws/s3`); no client may create such an alias.
    ///
    /// # Errors
    /// [`KeyError::AlreadyExists`], [`KeyError::NotFound`].
    pub(crate) fn alias_managed_key(
        &mut self,
        name: &str,
        id: &str,
        now_ms: u64,
    ) -> Result<(), KeyError> {
        if self.aliases.iter().any(|a| a.name == name) {
            return Err(KeyError::AlreadyExists);
        }
        let target = self.find(&KeyRef::Id(id.to_owned()))?.id.clone();
        let at = self.aliases.partition_point(|a| a.name.as_str() < name);
        self.aliases.insert(
            at,
            AliasEntry {
                name: name.to_owned(),
                target,
                created_ms: now_ms,
            },
        );
        Ok(())
    }

    /// Whether key `id` is one Coffer manages (a reserved alias points at it).
    pub(crate) fn is_managed(&self, id: &str) -> bool {
        self.aliases
            .iter()
            .any(|a| a.target == id && a.name.starts_with(RESERVED_ALIAS))
    }

    /// Destroys every key whose deletion date is at or before `now_ms`, with its aliases;
    /// returns their ids. Their material is zeroized as the entries drop.
    pub(crate) fn sweep(&mut self, now_ms: u64) -> Vec<String> {
        let due = |k: &KeyEntry| matches!(k.state, KeyState::PendingDeletion { deletion_ms } if deletion_ms <= now_ms);
        let gone: Vec<String> = self
            .keys
            .iter()
            .filter(|k| due(k))
            .map(|k| k.id.clone())
            .collect();
        if !gone.is_empty() {
            self.keys.retain(|k| !due(k));
            self.aliases.retain(|a| !gone.contains(&a.target));
        }
        gone
    }

    /// The earliest deletion date of a key pending deletion.
    pub(crate) fn next_deletion(&self) -> Option<u64> {
        self.keys
            .iter()
            .filter_map(|k| match k.state {
                KeyState::PendingDeletion { deletion_ms } => Some(deletion_ms),
                _ => None,
            })
            .min()
    }
}

/// AWS's rules: `alias/` then 1–250 of `A-Z a-z 0-9 / _ -`, not under `alias/aws/`.
fn check_alias(name: &str) -> Result<(), KeyError> {
    let Some(rest) = name.strip_prefix("alias/") else {
        return Err(KeyError::Invalid("AliasName must begin with alias/."));
    };
    let chars_ok = rest
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/_-".contains(&b));
    if rest.is_empty() || name.len() > MAX_ALIAS || !chars_ok {
        return Err(KeyError::Invalid(
            "AliasName must be alias/ followed by 1 to 250 letters, digits, /, _ or -.",
        ));
    }
    if name.starts_with(RESERVED_ALIAS) {
        return Err(KeyError::Invalid(
            "Alias names that begin with alias/aws/ are reserved.",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_800_000_000_000;

    fn table_with_key(id: &str) -> KeyTable {
        let mut table = KeyTable::default();
        table.create(id.into(), "study 7", &[7; 32], NOW).unwrap();
        table
    }

    fn id(s: &str) -> KeyRef {
        KeyRef::Id(s.into())
    }

    #[test]
    fn references_parse_ids_arns_and_aliases() {
        let p = |t| KeyRef::parse(t, "eu-west-1", "123456789012");
        assert_eq!(p("abc").unwrap(), id("abc"));
        assert_eq!(
            p("arn:aws:kms:eu-west-1:123456789012:key/abc").unwrap(),
            id("abc")
        );
        assert_eq!(
            p("arn:aws:kms:eu-west-1:123456789012:alias/x").unwrap(),
            KeyRef::Alias("alias/x".into())
        );
        assert_eq!(p("alias/x").unwrap(), KeyRef::Alias("alias/x".into()));
        assert!(matches!(
            p("arn:aws:kms:us-east-1:123456789012:key/abc"),
            Err(KeyError::NotFound)
        ));
        assert!(matches!(p(""), Err(KeyError::Invalid(_))));
    }

    #[test]
    fn states_decide_whether_a_key_is_usable() {
        let mut t = table_with_key("k1");
        assert_eq!(*t.usable(&id("k1")).unwrap().material, [7; 32]);
        t.disable(&id("k1")).unwrap();
        assert!(matches!(t.usable(&id("k1")), Err(KeyError::Disabled)));
        t.enable(&id("k1")).unwrap();
        assert!(t.usable(&id("k1")).is_ok());
        let (_, when) = t.schedule_deletion(&id("k1"), 7, NOW).unwrap();
        assert_eq!(when, NOW + 7 * DAY_MS);
        assert!(matches!(
            t.usable(&id("k1")),
            Err(KeyError::InvalidState(_))
        ));
        // While pending: no enable, no disable, no second schedule.
        assert!(matches!(
            t.enable(&id("k1")),
            Err(KeyError::InvalidState(_))
        ));
        assert!(matches!(
            t.disable(&id("k1")),
            Err(KeyError::InvalidState(_))
        ));
        assert!(matches!(
            t.schedule_deletion(&id("k1"), 7, NOW),
            Err(KeyError::InvalidState(_))
        ));
        // Cancelling leaves it Disabled, as AWS does.
        t.cancel_deletion(&id("k1")).unwrap();
        assert_eq!(t.find(&id("k1")).unwrap().state, KeyState::Disabled);
        assert!(matches!(
            t.cancel_deletion(&id("k1")),
            Err(KeyError::InvalidState(_))
        ));
        assert!(matches!(t.usable(&id("nope")), Err(KeyError::NotFound)));
    }

    #[test]
    fn deletion_window_is_7_to_30_days() {
        let mut t = table_with_key("k1");
        for bad in [0, 6, 31] {
            assert!(matches!(
                t.schedule_deletion(&id("k1"), bad, NOW),
                Err(KeyError::Invalid(_))
            ));
        }
        t.schedule_deletion(&id("k1"), 30, NOW).unwrap();
    }

    #[test]
    fn sweep_destroys_due_keys_with_their_aliases() {
        let mut t = table_with_key("k1");
        t.create("k2".into(), "", &[9; 32], NOW).unwrap();
        t.create_alias("alias/patient-1", &id("k1"), NOW).unwrap();
        t.create_alias("alias/keep", &id("k2"), NOW).unwrap();
        let (_, when) = t.schedule_deletion(&id("k1"), 7, NOW).unwrap();
        assert_eq!(t.next_deletion(), Some(when));
        assert!(t.sweep(when - 1).is_empty());
        assert!(t.find(&id("k1")).is_ok());
        assert_eq!(t.sweep(when), ["k1"]);
        assert!(matches!(t.find(&id("k1")), Err(KeyError::NotFound)));
        assert!(matches!(
            t.usable(&KeyRef::Alias("alias/patient-1".into())),
            Err(KeyError::NotFound)
        ));
        // Gone from the stored form too: no material of k1 survives an encode.
        let bytes = t.encode().unwrap();
        assert!(!bytes.windows(32).any(|w| w == [7; 32]));
        let again = KeyTable::decode(&bytes).unwrap();
        assert_eq!(again.keys().len(), 1);
        assert_eq!(
            *again
                .usable(&KeyRef::Alias("alias/keep".into()))
                .unwrap()
                .material,
            [9; 32]
        );
        assert_eq!(again.next_deletion(), None);
    }

    #[test]
    fn aliases_move_and_go_but_reserved_ones_stay() {
        let mut t = table_with_key("k1");
        t.create("k2".into(), "", &[9; 32], NOW).unwrap();
        t.create_alias("alias/patient-1", &id("k1"), NOW).unwrap();
        let alias = KeyRef::Alias("alias/patient-1".into());
        t.update_alias("alias/patient-1", &id("k2"), NOW).unwrap();
        assert_eq!(t.find(&alias).unwrap().id, "k2");
        // A failed move changes nothing.
        assert!(matches!(
            t.update_alias("alias/patient-1", &id("nope"), NOW),
            Err(KeyError::NotFound)
        ));
        assert_eq!(t.find(&alias).unwrap().id, "k2");
        assert!(matches!(
            t.update_alias("alias/none", &id("k1"), NOW),
            Err(KeyError::NotFound)
        ));
        t.delete_alias("alias/patient-1").unwrap();
        assert!(matches!(t.find(&alias), Err(KeyError::NotFound)));
        assert!(t.find(&id("k2")).is_ok(), "the key stays");
        // Coffer's own alias is not the client's to move or remove.
        t.alias_managed_key("alias/aws/s3", "k1", NOW).unwrap();
        assert!(t.is_managed("k1") && !t.is_managed("k2"));
        assert!(matches!(
            t.delete_alias("alias/aws/s3"),
            Err(KeyError::Invalid(_))
        ));
        assert!(matches!(
            t.update_alias("alias/aws/s3", &id("k2"), NOW),
            Err(KeyError::Invalid(_))
        ));
    }

    #[test]
    fn aliases_follow_aws_rules() {
        let mut t = table_with_key("k1");
        for bad in ["patient", "alias/", "alias/aws/x", "alias/a b", "alias/é"] {
            assert!(
                matches!(
                    t.create_alias(bad, &id("k1"), NOW),
                    Err(KeyError::Invalid(_))
                ),
                "{bad}"
            );
        }
        let long = format!("alias/{}", "a".repeat(251));
        assert!(matches!(
            t.create_alias(&long, &id("k1"), NOW),
            Err(KeyError::Invalid(_))
        ));
        t.create_alias("alias/b", &id("k1"), NOW).unwrap();
        t.create_alias("alias/a", &id("k1"), NOW).unwrap();
        assert!(matches!(
            t.create_alias("alias/a", &id("k1"), NOW),
            Err(KeyError::AlreadyExists)
        ));
        assert!(matches!(
            t.create_alias("alias/c", &id("missing"), NOW),
            Err(KeyError::NotFound)
        ));
        assert!(matches!(
            t.create_alias("alias/c", &KeyRef::Alias("alias/a".into()), NOW),
            Err(KeyError::Invalid(_))
        ));
        let names: Vec<&str> = t.aliases().iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["alias/a", "alias/b"]);
        assert_eq!(t.find(&KeyRef::Alias("alias/b".into())).unwrap().id, "k1");
    }

    #[test]
    fn garbage_does_not_decode() {
        for bytes in [&[][..], &[2, 0][..], &[1, 9, 9, 9][..]] {
            assert!(matches!(KeyTable::decode(bytes), Err(KeyError::Corrupt)));
        }
    }
}
