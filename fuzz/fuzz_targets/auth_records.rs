//! What coffer-auth reads back from disk: the user directory's plaintext (the seal around
//! it is fuzzed by `key_files`), stored bucket grants, and stored policy documents.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
enum Input {
    Directory(Vec<u8>),
    Grants(Vec<u8>),
    Policy(String),
}

fuzz_target!(|input: Input| match input {
    Input::Directory(bytes) => coffer_auth::fuzzing::directory_record(&bytes),
    Input::Grants(bytes) => coffer_auth::fuzzing::grants(&bytes),
    Input::Policy(text) => coffer_auth::fuzzing::policy(&text),
});
