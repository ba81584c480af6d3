//! S3 server access logging (PutBucketLogging): a bucket's requests, delivered as AWS
//! server access log lines into a target bucket of the same owner.
//!
//! The lines come from the audit trail, which already records every request
//! (`audit_trail.rs`): [`config`] is what a bucket asks for (stored typed), [`line`] one
//! record in AWS's format, and [`delivery`] the background task that writes the log
//! objects. Only outcome records are delivered; a request's intent record says nothing a
//! log reader can use.

pub(crate) mod config;
pub(crate) mod delivery;
pub(crate) mod line;

pub(crate) use config::{DateSource, KeyFormat, LoggingConfig, MAX_PREFIX_LEN};
pub(crate) use delivery::Delivery;
