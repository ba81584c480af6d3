//! Versioning helpers shared by the versioning, Object Lock, conditional-write and privacy
//! tests: turn versioning on, write and read versions by id, and list every version.

use aws_sdk_s3::Client;
use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};

/// PutBucketVersioning with `status` (`Enabled` or `Suspended`).
pub async fn set_versioning(s3: &Client, bucket: &str, status: BucketVersioningStatus) {
    s3.put_bucket_versioning()
        .bucket(bucket)
        .versioning_configuration(VersioningConfiguration::builder().status(status).build())
        .send()
        .await
        .unwrap_or_else(|e| panic!("put bucket versioning: {}", DisplayErrorContext(&e)));
}

/// A new bucket with versioning Enabled.
pub async fn versioned_bucket(s3: &Client, bucket: &str) {
    super::create_bucket(s3, bucket).await;
    set_versioning(s3, bucket, BucketVersioningStatus::Enabled).await;
}

/// PutObject; the version id the server gave it (panics without one).
pub async fn put_version(s3: &Client, bucket: &str, key: &str, body: &[u8]) -> String {
    let out = s3
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(body.to_vec()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("put {key:?}: {}", DisplayErrorContext(&e)));
    out.version_id()
        .unwrap_or_else(|| panic!("put {key:?} in a versioned bucket returned no version id"))
        .to_owned()
}

/// The body of one version, by id.
pub async fn get_version(s3: &Client, bucket: &str, key: &str, version: &str) -> Vec<u8> {
    let out = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .version_id(version)
        .send()
        .await
        .unwrap_or_else(|e| panic!("get {key:?} version {version}: {}", DisplayErrorContext(&e)));
    assert_eq!(
        out.version_id(),
        Some(version),
        "GET by version id answers with that id"
    );
    out.body.collect().await.expect("read body").to_vec()
}

/// DeleteObject without a version id; the delete marker's version id.
pub async fn delete_to_marker(s3: &Client, bucket: &str, key: &str) -> String {
    let out = s3
        .delete_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("delete {key:?}: {}", DisplayErrorContext(&e)));
    assert_eq!(
        out.delete_marker(),
        Some(true),
        "DELETE makes a delete marker"
    );
    out.version_id()
        .expect("a delete marker has a version id")
        .to_owned()
}

/// One entry of ListObjectVersions, versions and delete markers alike.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Listed {
    pub key: String,
    pub version_id: String,
    pub is_latest: bool,
    pub delete_marker: bool,
}

/// One page: its versions and delete markers (each list in the server's order) and its
/// common prefixes.
pub struct VersionPage {
    pub versions: Vec<Listed>,
    pub markers: Vec<Listed>,
    pub prefixes: Vec<String>,
    pub out: aws_sdk_s3::operation::list_object_versions::ListObjectVersionsOutput,
}

pub async fn list_versions_page(
    s3: &Client,
    bucket: &str,
    prefix: Option<&str>,
    delimiter: Option<&str>,
    max_keys: Option<i32>,
    markers: (Option<String>, Option<String>),
) -> VersionPage {
    let out = s3
        .list_object_versions()
        .bucket(bucket)
        .set_prefix(prefix.map(str::to_owned))
        .set_delimiter(delimiter.map(str::to_owned))
        .set_max_keys(max_keys)
        .set_key_marker(markers.0)
        .set_version_id_marker(markers.1)
        .send()
        .await
        .unwrap_or_else(|e| panic!("list object versions: {}", DisplayErrorContext(&e)));
    let versions = out
        .versions()
        .iter()
        .map(|v| Listed {
            key: v.key().expect("version key").to_owned(),
            version_id: v.version_id().expect("version id").to_owned(),
            is_latest: v.is_latest().expect("IsLatest"),
            delete_marker: false,
        })
        .collect();
    let markers = out
        .delete_markers()
        .iter()
        .map(|v| Listed {
            key: v.key().expect("marker key").to_owned(),
            version_id: v.version_id().expect("marker version id").to_owned(),
            is_latest: v.is_latest().expect("IsLatest"),
            delete_marker: true,
        })
        .collect();
    let prefixes = out
        .common_prefixes()
        .iter()
        .map(|p| p.prefix().expect("prefix").to_owned())
        .collect();
    VersionPage {
        versions,
        markers,
        prefixes,
        out,
    }
}

/// Every version and delete marker of the bucket (one page of up to 1000 at a time), in
/// the server's order within each list.
pub async fn all_versions(s3: &Client, bucket: &str) -> Vec<Listed> {
    let mut all = Vec::new();
    let mut marker = (None, None);
    loop {
        let page = list_versions_page(s3, bucket, None, None, None, marker).await;
        all.extend(page.versions);
        all.extend(page.markers);
        if page.out.is_truncated() != Some(true) {
            return all;
        }
        marker = (
            page.out.next_key_marker().map(str::to_owned),
            page.out.next_version_id_marker().map(str::to_owned),
        );
    }
}
