//! Random markers for at-rest and privacy tests (P3): a marker goes through some API field,
//! and no file the server writes may then hold it raw, as hex or as base64.

use base64::Engine as _;

use super::{TestEnv, files_under, random_bytes};

/// A fresh marker: `tag-` and 16 random hex digits (valid in bucket names too).
pub fn marker(tag: &str) -> String {
    format!("{tag}-{}", hex::encode(random_bytes(8)))
}

/// The marker and its hex and base64 forms (three alignments, standard and URL alphabets).
pub fn needles(marker: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let b64url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let shifted = |prefix: &[u8]| {
        let text = b64.encode([prefix, marker].concat());
        text.as_bytes()[4..4 + (marker.len() * 4 / 3).saturating_sub(4)].to_vec()
    };
    vec![
        ("raw", marker.to_vec()),
        ("hex", hex::encode(marker).into_bytes()),
        ("HEX", hex::encode_upper(marker).into_bytes()),
        (
            "base64",
            b64.encode(marker).trim_end_matches('=').as_bytes().to_vec(),
        ),
        ("base64+1", shifted(b"x")),
        ("base64+2", shifted(b"xy")),
        ("base64url", b64url.encode(marker).into_bytes()),
    ]
}

/// Every file the server writes: the data dir, its TMPDIR and its logs.
#[track_caller]
pub fn assert_no_marker_anywhere(env: &TestEnv, markers: &[(&str, String)], when: &str) {
    let mut files = files_under(&env.data());
    assert!(
        files.iter().any(|f| f.ends_with("index.redb")),
        "no index file"
    );
    files.extend(files_under(&env.tmp()));
    files.extend(files_under(&env.root().join("logs")));
    for file in files {
        let bytes = std::fs::read(&file).unwrap_or_default();
        for (field, marker) in markers {
            for (form, needle) in needles(marker.as_bytes()) {
                assert!(
                    !bytes.windows(needle.len()).any(|w| w == needle.as_slice()),
                    "P3 ({when}): the {form} form of the {field} marker is in {}",
                    file.display()
                );
            }
        }
    }
}
