//! What callers see of buckets and objects.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::checksum::Checksum;
use crate::records::{BucketId, BucketRecord, ChunkRef, InlineBody, ObjectRecord};
use crate::version::{ObjectLock, Versioning};

/// A bucket.
#[derive(Clone, Debug)]
pub struct BucketInfo {
    /// Bucket name.
    pub name: String,
    /// Owner, as given at creation.
    pub owner: String,
    /// Creation time, millisecond precision.
    pub created: SystemTime,
    pub(crate) id: BucketId,
}

impl BucketInfo {
    pub(crate) fn from_record(name: String, record: BucketRecord) -> BucketInfo {
        BucketInfo {
            name,
            owner: record.owner,
            created: time_from_ms(record.created_ms),
            id: record.id,
        }
    }
}

/// Object metadata kept as given (the server validates it).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ObjectMeta {
    /// `Content-Type`.
    pub content_type: Option<String>,
    /// `Content-Encoding`.
    pub content_encoding: Option<String>,
    /// `Content-Disposition`.
    pub content_disposition: Option<String>,
    /// `Content-Language`.
    pub content_language: Option<String>,
    /// `Cache-Control`.
    pub cache_control: Option<String>,
    /// `Expires`, stored as given (HTTP date text).
    pub expires: Option<String>,
    /// `x-amz-meta-*`: names lower-case, sorted.
    pub user: Vec<(String, String)>,
    /// Checksums of the whole object, verified (or derived from its parts) by the server.
    pub checksums: Vec<Checksum>,
    /// ACL grants to principals other than the bucket owner (empty: private). Overwriting
    /// an object replaces them with the new object's, as AWS resets an object's ACL.
    pub grants: Vec<ObjectGrant>,
    /// The object's tag set (key, value), in the order given; sealed in the index like the
    /// rest of the metadata. The server checks AWS's limits.
    pub tags: Vec<(String, String)>,
}

/// A permission an object ACL grants. Stored as its variant index: never reorder, only
/// append.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ObjectPermission {
    /// `READ`: read the object's data and metadata.
    Read,
    /// `READ_ACP`: read the object's ACL.
    ReadAcp,
    /// `WRITE_ACP`: replace the object's ACL.
    WriteAcp,
    /// `FULL_CONTROL`: all of the above.
    FullControl,
}

/// One grant of an object ACL: a principal id (as given; the server checks it names a
/// user) and what it may do.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ObjectGrant {
    /// The grantee's principal id.
    pub grantee: String,
    /// What the grant allows.
    pub permission: ObjectPermission,
}

/// An object as committed.
#[derive(Clone, Debug)]
pub struct ObjectInfo {
    /// Object key.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
    /// Lower-case hex MD5 (or `md5-N` for multipart), no quotes.
    pub etag: String,
    /// Millisecond precision.
    pub last_modified: SystemTime,
    /// Metadata.
    pub meta: ObjectMeta,
    /// The version's id (`null` for the null version); `None` in a bucket that never had
    /// versioning, where S3 shows no version ids.
    pub version_id: Option<String>,
    /// Whether this is the key's current version.
    pub is_current: bool,
    /// Object Lock state of this version.
    pub lock: ObjectLock,
    /// Which keys the body is under (SSE-C or the bucket's).
    pub encryption: crate::keys::encryption::Encryption,
    pub(crate) bucket: BucketId,
    pub(crate) seq: u64,
    pub(crate) modified_ms: u64,
    pub(crate) chunks: Arc<[ChunkRef]>,
    /// The body, if it lives in the record (then `chunks` is empty).
    pub(crate) inline: Option<Arc<InlineBody>>,
}

impl ObjectInfo {
    pub(crate) fn from_record(
        bucket: BucketId,
        key: String,
        record: ObjectRecord,
        state: Versioning,
        is_current: bool,
    ) -> ObjectInfo {
        let version_id = if record.version.null && state == Versioning::Unversioned {
            None
        } else {
            Some(record.version.id_text())
        };
        ObjectInfo {
            key,
            size: record.size,
            etag: record.etag,
            last_modified: time_from_ms(record.modified_ms),
            meta: record.meta,
            version_id,
            is_current,
            lock: record.lock,
            encryption: record.encryption,
            bucket,
            seq: record.version.seq,
            modified_ms: record.modified_ms,
            chunks: record.chunks.into(),
            inline: record.inline.map(Arc::new),
        }
    }
}

/// Milliseconds since the Unix epoch, now.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

pub(crate) fn time_from_ms(ms: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_millis(ms)
}
