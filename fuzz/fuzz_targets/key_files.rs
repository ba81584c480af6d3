//! Key files: `<data>/keys`, `<data>/unlockers`, sealed records and recovery share texts
//! from arbitrary bytes under a fixed master key; and secrets of any length wrapped under
//! that key, so the checks behind the AEAD are reached too; and recovery shares split from
//! a secret, their texts edited, parsed and combined.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;

const MASTER: [u8; 32] = [3; 32];

#[derive(Arbitrary, Debug)]
enum Input {
    File(Vec<u8>),
    Secret(Vec<u8>),
    Shares {
        secret: [u8; 32],
        threshold: u8,
        count: u8,
        edits: Vec<(u16, u8)>,
    },
}

fuzz_target!(|input: Input| match input {
    Input::File(bytes) => coffer_storage::fuzzing::key_files(&MASTER, &bytes),
    Input::Secret(secret) => coffer_storage::fuzzing::wrapped_secrets(&MASTER, &secret),
    Input::Shares {
        secret,
        threshold,
        count,
        edits,
    } => {
        // Up to 32 shares (0 and 1 included, which split refuses): a 255-share set costs
        // 255^2 field inversions to combine, and at ~100 runs/s the fuzzer learns nothing.
        coffer_storage::fuzzing::recovery_shares(&secret, threshold % 17, count % 33, &edits);
    }
});
