//! Index records (buckets, objects and their listing heads, versions, delete markers,
//! Object Lock configurations, bucket settings), version keys and version ids, decoded
//! from arbitrary bytes; what decodes must round-trip.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| coffer_storage::fuzzing::index_records(data));
