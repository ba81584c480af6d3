//! Multipart upload state: upload, part and layout records, part-number keys and upload
//! ids, decoded from arbitrary bytes; what decodes must round-trip.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| coffer_storage::fuzzing::upload_records(data));
