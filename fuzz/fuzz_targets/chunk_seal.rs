//! Sealed chunk framing: arbitrary bytes opened as a chunk file under a fixed key (never
//! opens: that would be a forgery), seal-then-open of arbitrary plaintext (comes back
//! exactly; one flipped bit anywhere is refused, P5), and the names of the chunk tree
//! the sweep and scrub parse.
#![no_main]

use std::sync::LazyLock;

use arbitrary::Arbitrary;
use coffer_storage::fuzzing::{self, BucketKeys};
use libfuzzer_sys::fuzz_target;

static KEYS: LazyLock<BucketKeys> = LazyLock::new(|| fuzzing::bucket_keys(&[7; 32]));

#[derive(Arbitrary, Debug)]
enum Input {
    Open { id: [u8; 32], sealed: Vec<u8> },
    RoundTrip { plain: Vec<u8> },
    Flip { plain: Vec<u8>, at: usize, bit: u8 },
    Name(String),
}

fuzz_target!(|input: Input| {
    match input {
        Input::Open { id, sealed } => {
            assert!(
                fuzzing::open_chunk(&KEYS, id, sealed).is_err(),
                "forged chunk opened"
            );
        }
        Input::RoundTrip { plain } => fuzzing::chunk_round_trip(&KEYS, &plain, None),
        Input::Flip { plain, at, bit } => {
            fuzzing::chunk_round_trip(&KEYS, &plain, Some((at, bit)));
        }
        Input::Name(name) => fuzzing::chunk_tree_name(&name),
    }
});
