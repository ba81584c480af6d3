//! Integration tests: the real `coffer` binary driven by real clients (aws-sdk-s3, raw
//! HTTP, the aws CLI, boto3), one private server per test.
//!
//! Each module proves one area of the issue-2 slice; `common` is the harness.

// Test code fails loudly on purpose: unwrap/expect/panic are how a test reports.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::missing_panics_doc,
    clippy::too_many_lines,
    clippy::cast_possible_truncation,
    clippy::cast_precision_loss,
    clippy::cast_possible_wrap,
    // Test futures live once on the test's stack; boxing them buys nothing.
    clippy::large_futures,
    clippy::doc_markdown,
    clippy::duration_suboptimal_units,
    missing_docs
)]

mod common;

mod acl_grants;
mod at_rest;
mod audit;
mod audit_retention;
mod auth;
mod backup;
mod bucket_logging;
mod buckets;
mod checksum_forms;
mod clients;
mod conditional_writes;
mod config_file;
mod copy;
mod cors;
mod crash;
mod examples;
mod expect_continue;
mod failed_auth;
mod file_modes;
mod form_upload;
mod front_door;
mod fsck;
mod full_disk;
mod health_metrics;
mod iam;
mod in_memory;
mod integrity;
mod kms;
mod lifecycle;
mod limits;
mod list;
mod logs;
mod multipart;
mod object_attributes;
mod object_lock;
mod objects;
mod presigned;
mod public_access;
mod region;
mod remote_chunks;
mod sdk_clients;
mod shipping;
mod sse_c;
mod sse_kms;
mod storage;
mod tagging;
mod test_kit;
mod tls;
mod unlock;
mod users;
mod users_cmd;
mod versioning;
mod virtual_hosts;
