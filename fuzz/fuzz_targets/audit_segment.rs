//! Audit segments: a trail directory built from structured-but-arbitrary input — segments
//! with any numbers and headers, frames holding real records sealed in sequence, arbitrary
//! plaintext sealed under the trail key (so the entry decoder behind the AEAD is reached),
//! raw bytes, torn tails, an anchor — then verified, read from any sequence, and opened for
//! appending. Also the segment, entry and anchor decoders on the raw bytes. Nothing may
//! panic; damage is an error.
#![no_main]

use std::path::Path;
use std::sync::LazyLock;

use arbitrary::Arbitrary;
use coffer_audit::fuzzing;
use coffer_audit::{AuditLog, Caller, Checkpoint, Filter, Phase, Reader, Record};
use libfuzzer_sys::fuzz_target;

const KEY: [u8; 32] = [5; 32];

/// One directory per process, emptied before each run; in memory where there is a tmpfs.
static DIR: LazyLock<tempfile::TempDir> = LazyLock::new(|| {
    tempfile::Builder::new()
        .prefix("coffer-fuzz-audit")
        .tempdir_in("/dev/shm")
        .or_else(|_| tempfile::tempdir())
        .expect("a temporary directory")
});

/// A number: what an honest writer would use, any value, or one near the top.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum Number {
    Next,
    Value(u64),
    NearMax(u8),
}

impl Number {
    fn or(self, honest: u64) -> u64 {
        match self {
            Number::Next => honest,
            Number::Value(v) => v,
            Number::NearMax(n) => u64::MAX - u64::from(n),
        }
    }
}

#[derive(Arbitrary, Debug)]
struct RecordIn {
    intent: bool,
    time_ms: u64,
    request_id: String,
    caller: Option<(String, String)>,
    operation: String,
    bucket: Option<String>,
    key: Option<String>,
    status: u16,
    bytes: u64,
}

impl RecordIn {
    fn record(self) -> Record {
        Record {
            phase: if self.intent {
                Phase::Intent
            } else {
                Phase::Outcome
            },
            time_ms: self.time_ms,
            request_id: self.request_id,
            caller: self
                .caller
                .map(|(user, access_key)| Caller { user, access_key }),
            source: "127.0.0.1".to_owned(),
            operation: self.operation,
            bucket: self.bucket,
            key: self.key,
            version_id: None,
            status: self.status,
            error_code: None,
            bytes_in: self.bytes,
            bytes_out: 0,
            duration_us: 1,
        }
    }
}

#[derive(Arbitrary, Debug)]
enum FrameIn {
    /// A record sealed in sequence, carrying the chain: what the writer appends.
    Record(RecordIn),
    /// Any plaintext sealed under the trail key, at any sequence.
    Plain { sequence: Number, plain: Vec<u8> },
    /// Raw bytes.
    Raw(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
struct SegmentIn {
    number: Number,
    first: Number,
    chain_ok: bool,
    frames: Vec<FrameIn>,
    tail: Vec<u8>,
}

#[derive(Arbitrary, Debug)]
enum AnchorIn {
    Real {
        segment: Number,
        first: Number,
        counts: [u64; 3],
    },
    Plain(Vec<u8>),
    Raw(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
struct Input {
    segments: Vec<SegmentIn>,
    anchor: Option<AnchorIn>,
    from: u64,
    checkpoint: Option<(Number, bool)>,
    append: Option<RecordIn>,
    raw: Vec<u8>,
}

fn empty(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

fuzz_target!(|input: Input| {
    fuzzing::decode_bytes(&KEY, &input.raw);

    let dir = DIR.path();
    empty(dir);
    let (mut number, mut next, mut chain) = (0u64, 1u64, [0u8; 32]);
    let mut first_header = None;
    for segment in input.segments.into_iter().take(4) {
        number = segment.number.or(number.wrapping_add(1));
        next = segment.first.or(next);
        if !segment.chain_ok {
            chain = [1; 32];
        }
        first_header.get_or_insert((number, next, chain));
        let mut bytes = fuzzing::header(next, chain);
        for frame in segment.frames.into_iter().take(16) {
            match frame {
                FrameIn::Record(record) => {
                    let plain = fuzzing::entry(chain, record.record());
                    let sealed = fuzzing::seal(&KEY, next, &plain);
                    bytes.extend(fuzzing::frame(next, &sealed));
                    chain = fuzzing::chain(&KEY, &chain, next, &sealed);
                    next = next.wrapping_add(1);
                }
                FrameIn::Plain { sequence, plain } => {
                    let sequence = sequence.or(next);
                    let sealed = fuzzing::seal(&KEY, sequence, &plain);
                    bytes.extend(fuzzing::frame(sequence, &sealed));
                }
                FrameIn::Raw(raw) => bytes.extend(raw),
            }
        }
        bytes.extend(segment.tail);
        let name = format!("segment-{number:016x}.audit");
        std::fs::write(dir.join(name), bytes).expect("write a segment");
    }
    if let Some(anchor) = input.anchor {
        let bytes = match anchor {
            AnchorIn::Real {
                segment,
                first,
                counts,
            } => {
                let (s, f, c) = first_header.unwrap_or((1, 1, [0; 32]));
                let plain = fuzzing::anchor_plain(segment.or(s), first.or(f), c, counts);
                fuzzing::anchor_file(&KEY, &plain)
            }
            AnchorIn::Plain(plain) => fuzzing::anchor_file(&KEY, &plain),
            AnchorIn::Raw(raw) => raw,
        };
        std::fs::write(dir.join(coffer_audit::ANCHOR_FILE), bytes).expect("write the anchor");
    }

    let checkpoint = input.checkpoint.map(|(sequence, right)| Checkpoint {
        sequence: sequence.or(next.wrapping_sub(1)),
        chain: if right { chain } else { [2; 32] },
    });
    let _ = coffer_audit::verify(dir, &KEY, checkpoint);
    if let Ok(reader) = Reader::open_from(dir, &KEY, Filter::default(), input.from) {
        // A reader ends at the end of the trail or at the first damage; the bound only
        // turns a reader that never ends into a finding instead of a hang.
        let mut count = 0u32;
        for item in reader {
            count += 1;
            assert!(count < 1_000, "a reader did not end");
            if item.is_err() {
                break;
            }
        }
    }
    if let Ok(mut log) = AuditLog::open(dir, &KEY) {
        let _ = log.checkpoint();
        if let Some(record) = input.append {
            let _ = log.append(&record.record());
            let _ = log.checkpoint();
        }
    }
});
