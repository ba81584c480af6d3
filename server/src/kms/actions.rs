//! The KMS actions: each parses its JSON parameters, asks [`Auth::authorize_admin`] for
//! `kms:<Action>` (on the key's ARN, or `*` for CreateKey and the listings, as AWS), then
//! reads or changes the key table.
//!
//! Authorisation comes before the key is looked up: a caller without the right gets
//! `AccessDeniedException` whether or not the key exists, so it cannot probe for keys.

use coffer_auth::{Auth, Decision, Identity, RequestFacts};
use serde_json::{Map, Value, json};

use super::error::{KeyError, KmsError};
use super::key_store::{KmsKeys, ms_since_epoch, time_from_ms};
use super::table::{KeyEntry, KeyRef, KeyState, KeyTable, MAX_WINDOW_DAYS};
use crate::limits::{KMS_DEFAULT_ITEMS, KMS_MAX_ITEMS};

/// What an action runs with.
pub(super) struct Call<'a> {
    pub(super) auth: &'a Auth,
    pub(super) keys: &'a KmsKeys,
    pub(super) caller: &'a Identity,
    pub(super) facts: &'a RequestFacts,
    pub(super) params: &'a Map<String, Value>,
}

/// The actions served: each has its arm in [`run`].
pub(super) const ACTIONS: &[&str] = &[
    "CreateKey",
    "DescribeKey",
    "ListKeys",
    "CreateAlias",
    "ListAliases",
    "EnableKey",
    "DisableKey",
    "ScheduleKeyDeletion",
    "CancelKeyDeletion",
    "DeleteAlias",
    "UpdateAlias",
    "GetKeyPolicy",
    "GetKeyRotationStatus",
    "ListResourceTags",
];

/// Runs `action` (one of [`ACTIONS`]).
pub(super) async fn run(call: &Call<'_>, action: &str) -> Result<Value, KmsError> {
    match action {
        "CreateKey" => create_key(call).await,
        "DescribeKey" => describe_key(call),
        "ListKeys" => list_keys(call),
        "CreateAlias" => create_alias(call).await,
        "ListAliases" => list_aliases(call),
        "EnableKey" => set_enabled(call, "kms:EnableKey", true).await,
        "DisableKey" => set_enabled(call, "kms:DisableKey", false).await,
        "ScheduleKeyDeletion" => schedule_deletion(call).await,
        "CancelKeyDeletion" => cancel_deletion(call).await,
        "DeleteAlias" => delete_alias(call).await,
        "UpdateAlias" => update_alias(call).await,
        "GetKeyPolicy" => get_key_policy(call),
        "GetKeyRotationStatus" => {
            // Coffer does not rotate KMS key material (an object's keys derive from it).
            call.key_for("kms:GetKeyRotationStatus")?;
            Ok(json!({ "KeyRotationEnabled": false }))
        }
        "ListResourceTags" => {
            // Tags are refused at creation, so every key has none.
            call.key_for("kms:ListResourceTags")?;
            Ok(json!({ "Tags": [], "Truncated": false }))
        }
        _ => Err(KmsError::client(
            "UnknownOperationException",
            "The action is not served by this endpoint.",
        )),
    }
}

impl Call<'_> {
    /// Refuses unless the caller may do `action` (`kms:CreateKey`) on `resource`.
    fn allow(&self, action: &str, resource: &str) -> Result<(), KmsError> {
        match self
            .auth
            .authorize_admin(self.caller, action, resource, self.facts)
        {
            Decision::Allow => Ok(()),
            Decision::Deny(reason) => Err(KmsError::denied(format!(
                "User: {} is not authorized to perform: {action} on resource: {resource} ({})",
                self.caller.arn,
                reason.message()
            ))),
        }
    }

    /// String parameter `name`, if given.
    fn text(&self, name: &'static str) -> Result<Option<&str>, KmsError> {
        match self.params.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(KmsError::client(
                "SerializationException",
                format!("{name} must be a string."),
            )),
        }
    }

    fn required(&self, name: &'static str) -> Result<&str, KmsError> {
        self.text(name)?.ok_or_else(|| {
            KmsError::validation(format!(
                "1 validation error detected: Value null at '{name}' failed to satisfy constraint: Member must not be null"
            ))
        })
    }

    /// Integer parameter `name`, if given.
    fn number(&self, name: &'static str) -> Result<Option<u64>, KmsError> {
        match self.params.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n
                .as_u64()
                .map(Some)
                .ok_or_else(|| KmsError::validation(format!("{name} must be a positive integer."))),
            Some(_) => Err(KmsError::client(
                "SerializationException",
                format!("{name} must be a number."),
            )),
        }
    }

    /// `KeyId` resolved to the key's id and ARN, after checking the caller may do
    /// `action` on it. A key that does not exist is checked as the ARN the caller named, so
    /// a refusal looks the same either way.
    fn key_for(&self, action: &str) -> Result<(KeyRef, String), KmsError> {
        let text = self.required("KeyId")?;
        let reference = self.keys.parse(text);
        let found = reference
            .as_ref()
            .map_err(|_| KeyError::NotFound)
            .and_then(|r| self.keys.table().find(r).map(|k| k.id.clone()));
        let arn = match (&found, &reference) {
            (Err(_), Ok(KeyRef::Alias(alias))) => self.keys.alias_arn(alias),
            (Ok(id), _) | (Err(_), Ok(KeyRef::Id(id))) => self.keys.key_arn(id),
            (Err(_), Err(_)) => self.keys.key_arn("*"),
        };
        self.allow(action, &arn)?;
        let id = found.map_err(|_| reference.err().unwrap_or(KeyError::NotFound))?;
        Ok((KeyRef::Id(id), arn))
    }

    /// `Limit` (1–1000, default 100) and `Marker` of a listing.
    fn page(&self) -> Result<(usize, Option<&str>), KmsError> {
        let limit = match self.number("Limit")? {
            None => KMS_DEFAULT_ITEMS,
            Some(n) => usize::try_from(n)
                .ok()
                .filter(|n| (1..=KMS_MAX_ITEMS).contains(n))
                .ok_or_else(|| KmsError::validation("Limit must be between 1 and 1000."))?,
        };
        Ok((limit, self.text("Marker")?))
    }
}

/// Refuses parameters that ask for what Coffer's keys are not: anything but symmetric
/// encryption keys made by KMS itself, in one region.
fn check_create_params(call: &Call<'_>) -> Result<(), KmsError> {
    if call
        .text("KeyUsage")?
        .is_some_and(|u| u != "ENCRYPT_DECRYPT")
    {
        return Err(KmsError::unsupported(
            "Only KeyUsage ENCRYPT_DECRYPT is supported: Coffer's KMS keys wrap object keys.",
        ));
    }
    for spec in ["KeySpec", "CustomerMasterKeySpec"] {
        if call.text(spec)?.is_some_and(|s| s != "SYMMETRIC_DEFAULT") {
            return Err(KmsError::unsupported(
                "Only the SYMMETRIC_DEFAULT key spec is supported.",
            ));
        }
    }
    if call.text("Origin")?.is_some_and(|o| o != "AWS_KMS") {
        return Err(KmsError::unsupported(
            "Only Origin AWS_KMS is supported: key material cannot be imported.",
        ));
    }
    if call.params.get("MultiRegion").and_then(Value::as_bool) == Some(true) {
        return Err(KmsError::unsupported(
            "Multi-Region keys are not supported.",
        ));
    }
    if call.text("Policy")?.is_some() {
        return Err(KmsError::unsupported(
            "Key policies are not supported: access to Coffer's KMS keys is decided by identity policies (kms:* actions).",
        ));
    }
    // Tags could hold personal data and would be stored without being used: refused
    // rather than silently dropped.
    if call
        .params
        .get("Tags")
        .is_some_and(|t| t.as_array().is_none_or(|a| !a.is_empty()))
    {
        return Err(KmsError::unsupported("Tags are not supported on KMS keys."));
    }
    Ok(())
}

async fn create_key(call: &Call<'_>) -> Result<Value, KmsError> {
    call.allow("kms:CreateKey", "*")?;
    check_create_params(call)?;
    let description = call.text("Description")?.unwrap_or("");
    let now = ms_since_epoch(call.facts.now);
    let id = call.keys.create(description, now, None).await?;
    let table = call.keys.table();
    let entry = table.find(&KeyRef::Id(id))?;
    Ok(json!({ "KeyMetadata": key_metadata(call.keys, &table, entry) }))
}

fn describe_key(call: &Call<'_>) -> Result<Value, KmsError> {
    let (key, _) = call.key_for("kms:DescribeKey")?;
    let table = call.keys.table();
    let entry = table.find(&key)?;
    Ok(json!({ "KeyMetadata": key_metadata(call.keys, &table, entry) }))
}

fn list_keys(call: &Call<'_>) -> Result<Value, KmsError> {
    call.allow("kms:ListKeys", "*")?;
    let (limit, marker) = call.page()?;
    let table = call.keys.table();
    let all = table.keys();
    let start = start_at(all.iter().map(|k| k.id.as_str()), marker)?;
    let page: Vec<Value> = all[start..]
        .iter()
        .take(limit)
        .map(|k| json!({ "KeyId": k.id, "KeyArn": call.keys.key_arn(&k.id) }))
        .collect();
    Ok(listing(
        "Keys",
        page,
        all.get(start + limit).map(|k| k.id.as_str()),
    ))
}

async fn create_alias(call: &Call<'_>) -> Result<Value, KmsError> {
    let name = call.required("AliasName")?.to_owned();
    call.allow("kms:CreateAlias", &call.keys.alias_arn(&name))?;
    let target = call.required("TargetKeyId")?;
    let target = call.keys.parse(target)?;
    let arn = match &target {
        KeyRef::Id(id) => call.keys.key_arn(id),
        KeyRef::Alias(alias) => call.keys.alias_arn(alias),
    };
    // AWS asks for CreateAlias on the key too.
    call.allow("kms:CreateAlias", &arn)?;
    let now = ms_since_epoch(call.facts.now);
    call.keys
        .change(|table| table.create_alias(&name, &target, now))
        .await?;
    Ok(json!({}))
}

async fn delete_alias(call: &Call<'_>) -> Result<Value, KmsError> {
    let name = call.required("AliasName")?.to_owned();
    call.allow("kms:DeleteAlias", &call.keys.alias_arn(&name))?;
    // AWS asks for DeleteAlias on the key too.
    let target = call
        .keys
        .table()
        .find(&KeyRef::Alias(name.clone()))
        .map(|k| k.id.clone());
    if let Ok(id) = &target {
        call.allow("kms:DeleteAlias", &call.keys.key_arn(id))?;
    }
    call.keys.change(|table| table.delete_alias(&name)).await?;
    Ok(json!({}))
}

async fn update_alias(call: &Call<'_>) -> Result<Value, KmsError> {
    let name = call.required("AliasName")?.to_owned();
    call.allow("kms:UpdateAlias", &call.keys.alias_arn(&name))?;
    let target = call.keys.parse(call.required("TargetKeyId")?)?;
    if let KeyRef::Id(id) = &target {
        call.allow("kms:UpdateAlias", &call.keys.key_arn(id))?;
    }
    let now = ms_since_epoch(call.facts.now);
    call.keys
        .change(|table| table.update_alias(&name, &target, now))
        .await?;
    Ok(json!({}))
}

/// The key policy Coffer's keys behave as if they had: AWS's default, which hands every
/// decision to the account's identity policies. Terraform and `aws kms get-key-policy` read
/// it; setting one is refused at CreateKey.
fn get_key_policy(call: &Call<'_>) -> Result<Value, KmsError> {
    call.key_for("kms:GetKeyPolicy")?;
    if call.text("PolicyName")?.is_some_and(|n| n != "default") {
        return Err(KmsError::client(
            "NotFoundException",
            "The only key policy is named default.",
        ));
    }
    let policy = json!({
        "Version": "2012-10-17",
        "Id": "key-default-1",
        "Statement": [{
            "Sid": "Enable IAM User Permissions",
            "Effect": "Allow",
            "Principal": { "AWS": format!("arn:aws:iam::{}:root", call.keys.account()) },
            "Action": "kms:*",
            "Resource": "*",
        }],
    });
    Ok(json!({ "Policy": policy.to_string(), "PolicyName": "default" }))
}

fn list_aliases(call: &Call<'_>) -> Result<Value, KmsError> {
    call.allow("kms:ListAliases", "*")?;
    let (limit, marker) = call.page()?;
    let table = call.keys.table();
    let only = match call.text("KeyId")? {
        Some(text) => Some(table.find(&call.keys.parse(text)?)?.id.clone()),
        None => None,
    };
    let all: Vec<_> = table
        .aliases()
        .iter()
        .filter(|a| only.as_ref().is_none_or(|id| *id == a.target))
        .collect();
    let start = start_at(all.iter().map(|a| a.name.as_str()), marker)?;
    let page: Vec<Value> = all[start..]
        .iter()
        .take(limit)
        .map(|a| {
            let created = epoch_seconds(a.created_ms);
            json!({
                "AliasName": a.name,
                "AliasArn": call.keys.alias_arn(&a.name),
                "TargetKeyId": a.target,
                "CreationDate": created,
                "LastUpdatedDate": created,
            })
        })
        .collect();
    Ok(listing(
        "Aliases",
        page,
        all.get(start + limit).map(|a| a.name.as_str()),
    ))
}

async fn set_enabled(call: &Call<'_>, action: &str, enabled: bool) -> Result<Value, KmsError> {
    let (key, _) = call.key_for(action)?;
    call.keys
        .change(|table| {
            if enabled {
                table.enable(&key)
            } else {
                table.disable(&key)
            }
        })
        .await?;
    Ok(json!({}))
}

async fn schedule_deletion(call: &Call<'_>) -> Result<Value, KmsError> {
    let (key, arn) = call.key_for("kms:ScheduleKeyDeletion")?;
    let days = match call.number("PendingWindowInDays")? {
        None => MAX_WINDOW_DAYS,
        Some(n) => u32::try_from(n).unwrap_or(u32::MAX),
    };
    let now = ms_since_epoch(call.facts.now);
    let (_, deletion_ms) = call
        .keys
        .change(|table| table.schedule_deletion(&key, days, now))
        .await?;
    tracing::info!("a KMS key was scheduled for deletion");
    Ok(json!({
        "KeyId": arn,
        "DeletionDate": epoch_seconds(deletion_ms),
        "KeyState": "PendingDeletion",
        "PendingWindowInDays": days,
    }))
}

async fn cancel_deletion(call: &Call<'_>) -> Result<Value, KmsError> {
    let (key, arn) = call.key_for("kms:CancelKeyDeletion")?;
    call.keys
        .change(|table| table.cancel_deletion(&key))
        .await?;
    Ok(json!({ "KeyId": arn }))
}

/// DescribeKey's `KeyMetadata`.
fn key_metadata(keys: &KmsKeys, table: &KeyTable, entry: &KeyEntry) -> Value {
    let mut m = json!({
        "AWSAccountId": keys.account(),
        "KeyId": entry.id,
        "Arn": keys.key_arn(&entry.id),
        "CreationDate": epoch_seconds(entry.created_ms),
        "Enabled": entry.state == KeyState::Enabled,
        "Description": entry.description,
        "KeyUsage": "ENCRYPT_DECRYPT",
        "KeyState": entry.state.as_str(),
        "Origin": "AWS_KMS",
        "KeyManager": if table.is_managed(&entry.id) { "AWS" } else { "CUSTOMER" },
        "CustomerMasterKeySpec": "SYMMETRIC_DEFAULT",
        "KeySpec": "SYMMETRIC_DEFAULT",
        "EncryptionAlgorithms": ["SYMMETRIC_DEFAULT"],
        "MultiRegion": false,
    });
    if let (KeyState::PendingDeletion { deletion_ms }, Some(o)) = (entry.state, m.as_object_mut()) {
        o.insert("DeletionDate".into(), epoch_seconds(deletion_ms));
    }
    m
}

/// Where a page starts: at the item named by `marker` (the `NextMarker` of the page before).
fn start_at<'a>(
    mut names: impl Iterator<Item = &'a str>,
    marker: Option<&str>,
) -> Result<usize, KmsError> {
    match marker {
        None => Ok(0),
        Some(m) => names.position(|n| n == m).ok_or_else(|| {
            KmsError::client(
                "InvalidMarkerException",
                "The marker does not name a place in this listing.",
            )
        }),
    }
}

fn listing(field: &str, page: Vec<Value>, next: Option<&str>) -> Value {
    let mut out = Map::new();
    out.insert(field.into(), Value::Array(page));
    out.insert("Truncated".into(), Value::Bool(next.is_some()));
    if let Some(next) = next {
        out.insert("NextMarker".into(), Value::String(next.to_owned()));
    }
    Value::Object(out)
}

/// A time as KMS's JSON writes it: seconds since the epoch, with milliseconds.
fn epoch_seconds(ms: u64) -> Value {
    let at = time_from_ms(ms);
    let secs = at
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    serde_json::Number::from_f64((secs * 1000.0).round() / 1000.0)
        .map_or(Value::Null, Value::Number)
}
