//! Key files: `<data>/keys`, `<data>/unlockers`, sealed records and recovery share texts
//! from arbitrary bytes under a fixed master key; and secrets of any length wrapped under
//! that key, so the checks behind the AEAD are reached too.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;

const MASTER: [u8; 32] = [3; 32];

#[derive(Arbitrary, Debug)]
enum Input {
    File(Vec<u8>),
    Secret(Vec<u8>),
}

fuzz_target!(|input: Input| match input {
    Input::File(bytes) => coffer_storage::fuzzing::key_files(&MASTER, &bytes),
    Input::Secret(secret) => coffer_storage::fuzzing::wrapped_secrets(&MASTER, &secret),
});
