//! Refusals of what a write can ask for that Coffer does not have yet.
//!
//! Refusing with `NotImplemented` is better than storing an object that
//! silently lacks what the client asked for. PutObject, CopyObject,
//! CreateMultipartUpload and the copy-part path all ask the same questions,
//! so the answers live here once. (Encryption headers are `sealing.rs`'s.)

use s3s::dto::CopySource;
use s3s::{S3Result, s3_error};

/// What a request asks for, reduced to the questions we refuse on.
#[derive(Default)]
pub(crate) struct Asks {
    pub append: bool,
}

/// `NotImplemented` for the first feature asked for that is not built.
pub(crate) fn refuse(asks: &Asks) -> S3Result<()> {
    let missing = if asks.append {
        "Appending writes are not supported."
    } else {
        return Ok(());
    };
    Err(s3_error!(NotImplemented, "{missing}"))
}

/// The bucket, key and version of a copy source (CopyObject, UploadPartCopy).
pub(crate) fn copy_source(
    source: &CopySource,
) -> S3Result<(&str, &str, Option<coffer_storage::VersionRef>)> {
    match source {
        CopySource::Bucket {
            bucket,
            key,
            version_id,
        } => {
            let version = super::versioning::version_ref(version_id.as_deref())?;
            Ok((bucket, key, version))
        }
        _ => Err(s3_error!(
            NotImplemented,
            "Access point copy sources are not supported."
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_asked_passes() {
        refuse(&Asks::default()).unwrap();
    }

    #[test]
    fn each_missing_feature_is_not_implemented() {
        let e = refuse(&Asks { append: true }).unwrap_err();
        assert_eq!(*e.code(), s3s::S3ErrorCode::NotImplemented);
    }
}
