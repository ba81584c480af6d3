//! DeleteObject and DeleteObjects (idempotent, as in S3): a key (a delete marker in a
//! versioned bucket) or one version for good, which Object Lock may refuse.

use super::Coffer;
use super::bucket_access::resolve_bucket;
use super::error_map::storage_error;
use super::versioning::{match_condition, version_ref};
use crate::limits::MAX_DELETE_KEYS;
use coffer_storage::{DeleteOptions, DeleteOutcome, Precondition, VersionRef};
use s3s::dto::{
    DeleteObjectInput, DeleteObjectOutput, DeleteObjectsInput, DeleteObjectsOutput, DeletedObject,
    Error as KeyError,
};
use s3s::{S3Request, S3Response, S3Result, s3_error};

pub(crate) async fn delete_object(
    coffer: &Coffer,
    req: S3Request<DeleteObjectInput>,
) -> S3Result<S3Response<DeleteObjectOutput>> {
    let input = req.input;
    refuse_mfa(input.mfa.as_deref())?;
    let version = version_ref(input.version_id.as_deref())?;
    if input.if_match_size.is_some() || input.if_match_last_modified_time.is_some() {
        return Err(s3_error!(
            NotImplemented,
            "Conditional deletes on size or modification time are not supported."
        ));
    }
    if version.is_some() && input.if_match.is_some() {
        return Err(s3_error!(
            NotImplemented,
            "If-Match together with a version id is not supported."
        ));
    }
    let bucket = resolve_bucket(coffer, &input.bucket).await?;
    // The access layer refused the bypass header to callers without
    // s3:BypassGovernanceRetention.
    let options = DeleteOptions {
        version,
        condition: input.if_match.as_ref().map(match_condition),
        bypass_governance: input.bypass_governance_retention.unwrap_or(false),
    };
    // Deleting what is not there succeeds: S3 deletes are idempotent.
    let outcome = coffer
        .store
        .delete_object_with(&bucket, &input.key, options)
        .await
        .map_err(storage_error)?;
    Ok(S3Response::new(DeleteObjectOutput {
        delete_marker: outcome.delete_marker.then_some(true),
        version_id: outcome.version_id,
        ..Default::default()
    }))
}

pub(crate) async fn delete_objects(
    coffer: &Coffer,
    req: S3Request<DeleteObjectsInput>,
) -> S3Result<S3Response<DeleteObjectsOutput>> {
    let input = req.input;
    refuse_mfa(input.mfa.as_deref())?;
    let objects = input.delete.objects;
    if objects.is_empty() || objects.len() > MAX_DELETE_KEYS {
        return Err(s3_error!(
            MalformedXML,
            "The XML you provided was not well-formed or did not validate against our published schema."
        ));
    }
    let mut targets: Vec<(String, Option<VersionRef>)> = Vec::with_capacity(objects.len());
    let mut conditions: Vec<Option<Precondition>> = Vec::with_capacity(objects.len());
    for o in objects {
        // Refused as DeleteObject refuses its headers: a condition ignored would delete
        // what the client asked to keep.
        if o.size.is_some() || o.last_modified_time.is_some() {
            return Err(s3_error!(
                NotImplemented,
                "Conditional deletes on size or modification time are not supported."
            ));
        }
        let version = version_ref(o.version_id.as_deref())?;
        if version.is_some() && o.e_tag.is_some() {
            return Err(s3_error!(
                NotImplemented,
                "An ETag together with a version id is not supported."
            ));
        }
        conditions.push(
            o.e_tag
                .as_ref()
                .map(|e| Precondition::IfMatch(e.value().to_owned())),
        );
        targets.push((o.key, version));
    }
    let bucket = resolve_bucket(coffer, &input.bucket).await?;
    let quiet = input.delete.quiet.unwrap_or(false);
    let bypass_governance = input.bypass_governance_retention.unwrap_or(false);
    let outcomes = if conditions.iter().all(Option::is_none) {
        // One index transaction for the whole batch.
        coffer
            .store
            .delete_versions(&bucket, targets.clone(), bypass_governance)
            .await
            .map_err(storage_error)?
    } else {
        // A key with an ETag is deleted only if it still has it (AWS's conditional
        // delete), each in its own transaction, in the order the client listed them.
        let mut outcomes = Vec::with_capacity(targets.len());
        for ((key, version), condition) in targets.iter().zip(conditions) {
            let options = DeleteOptions {
                version: *version,
                condition,
                bypass_governance,
            };
            outcomes.push(coffer.store.delete_object_with(&bucket, key, options).await);
        }
        outcomes
    };
    let (mut deleted, mut errors) = (Vec::new(), Vec::new());
    for ((key, version), outcome) in targets.into_iter().zip(outcomes) {
        match outcome {
            Ok(outcome) => {
                if !quiet {
                    deleted.push(deleted_entry(key, version.is_some(), outcome));
                }
            }
            // Each key's refusal is reported for that key; the others went.
            Err(e) => {
                let err = storage_error(e);
                errors.push(KeyError {
                    code: Some(err.code().as_str().to_owned()),
                    key: Some(key),
                    message: err.message().map(str::to_owned),
                    version_id: version.map(|v| v.to_string()),
                });
            }
        }
    }
    Ok(S3Response::new(DeleteObjectsOutput {
        deleted: (!quiet).then_some(deleted),
        errors: (!errors.is_empty()).then_some(errors),
        ..Default::default()
    }))
}

/// A `<Deleted>` entry as AWS writes it: a version deleted for good names it; a delete
/// marker made names the marker.
fn deleted_entry(key: String, named_version: bool, outcome: DeleteOutcome) -> DeletedObject {
    if named_version {
        DeletedObject {
            key: Some(key),
            version_id: outcome.version_id,
            delete_marker: outcome.delete_marker.then_some(true),
            delete_marker_version_id: None,
        }
    } else {
        DeletedObject {
            key: Some(key),
            version_id: None,
            delete_marker: outcome.delete_marker.then_some(true),
            delete_marker_version_id: outcome
                .delete_marker
                .then_some(outcome.version_id)
                .flatten(),
        }
    }
}

/// MFA delete (`x-amz-mfa`) is not built: a request that counts on it is refused rather than
/// run without the second factor it asked for.
fn refuse_mfa(mfa: Option<&str>) -> S3Result<()> {
    if mfa.is_some() {
        return Err(s3_error!(NotImplemented, "MFA delete is not supported."));
    }
    Ok(())
}
