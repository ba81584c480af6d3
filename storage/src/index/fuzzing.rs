//! Decoders of the index's stored bytes, for `fuzz/` (feature `fuzzing` only).

use std::fmt::Debug;

use serde::Serialize;

use crate::records::{
    self, BucketRecord, ObjectHead, ObjectRecord, Record, VersionHead, VersionRecord,
};
use crate::version::{ObjectLockConfig, VersionRef, Versioning};

use super::settings::SettingRecord;
use super::uploads::{self, LayoutRecord, PartRecord, UploadRecord};
use super::versions;

/// Decodes `bytes` as a `T`; if that works, encoding and decoding again gives it back.
fn round_trip<T: Record + Serialize + PartialEq + Debug>(bytes: &[u8]) -> Option<T> {
    let value = records::decode::<T>(bytes, "fuzzed record").ok()?;
    let again = records::decode::<T>(&records::encode(&value), "fuzzed record");
    assert!(
        again.as_ref().is_ok_and(|v| *v == value),
        "decode(encode(x)) != x: {value:?} came back as {again:?}"
    );
    Some(value)
}

/// Every decoder of the object, version, bucket and setting tables, on `bytes`.
pub(crate) fn index_records(bytes: &[u8]) {
    round_trip::<BucketRecord>(bytes);
    round_trip::<ObjectLockConfig>(bytes);
    round_trip::<SettingRecord<'static>>(bytes);
    if let Some(object) = round_trip::<ObjectRecord>(bytes) {
        // Listing reads only the head: it must agree with the whole record.
        let head = records::decode_prefix::<ObjectHead>(bytes, "fuzzed head").map(|(h, _)| h);
        assert!(
            head.as_ref().is_ok_and(|h| h.size == object.size
                && h.etag == object.etag
                && h.modified_ms == object.modified_ms
                && h.version == object.version),
            "object head disagrees with its record"
        );
    } else {
        let _ = records::decode_prefix::<ObjectHead>(bytes, "fuzzed head");
    }
    if let Some(version) = round_trip::<VersionRecord>(bytes) {
        let head = records::decode_prefix::<VersionHead>(bytes, "fuzzed head").map(|(h, _)| h);
        let agrees = match (&version, &head) {
            (VersionRecord::Object(o), Ok(VersionHead::Object(h))) => h.version == o.version,
            (VersionRecord::DeleteMarker(m), Ok(VersionHead::DeleteMarker(h))) => m == h,
            _ => false,
        };
        assert!(agrees, "version head disagrees with its record");
    } else {
        let _ = records::decode_prefix::<VersionHead>(bytes, "fuzzed head");
    }
    let _ = Versioning::from_byte(Some(bytes));
    // The `versions` table's keys: bucket id ‖ escaped key ‖ 00 00 ‖ inverted sequence.
    if let Some((bucket, _)) = bytes.split_first_chunk::<16>()
        && let Ok(key) = versions::key_of_version(bucket, bytes)
    {
        let mut again = versions::versions_prefix(bucket, &key);
        again.extend_from_slice(&[0; 8]);
        assert_eq!(
            versions::key_of_version(bucket, &again).ok().as_deref(),
            Some(key.as_str()),
            "version key does not round-trip"
        );
    }
    if let Ok(text) = std::str::from_utf8(bytes)
        && let Ok(version) = VersionRef::parse(text)
    {
        assert_eq!(VersionRef::parse(&version.to_string()).ok(), Some(version));
    }
}

/// Every decoder of the multipart tables, on `bytes`.
pub(crate) fn upload_records(bytes: &[u8]) {
    round_trip::<UploadRecord>(bytes);
    round_trip::<PartRecord>(bytes);
    round_trip::<LayoutRecord>(bytes);
    let _ = uploads::part_number_of(bytes);
}
