//! The cost of the sealed index: the same redb workload on a plain `FileBackend` and on
//! the sealing backend over it (issue 4). 100 000 object-like keys (bucket id ‖ path,
//! ~100-byte records), inserted in one durable transaction into a fresh file, and scanned
//! in order from a freshly opened database (redb's page cache empty, so every page goes
//! through the backend — and, sealed, through the cipher — once).
//!
//! `cargo bench -p coffer-benches --bench index`; the ratio sealed/plain is the cost.
//! Measured 2026-11-25 (2 shared cores, AES-NI): insert 253 ms plain / 299 ms sealed
//! (1.18×); cold ordered scan 14.7 ms / 23.4 ms (1.59×).

// A bench is a tool run by hand: failing loudly on setup is right, and the criterion
// macros generate undocumented items.
#![allow(clippy::expect_used, clippy::unwrap_used, missing_docs)]

use std::hint::black_box;
use std::path::Path;

use coffer_storage::hot_paths::{IndexCipher, SealedBackend};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use redb::{Database, ReadableDatabase as _, TableDefinition};

const TABLE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("objects");
const KEYS: u32 = 100_000;

#[derive(Clone, Copy, Debug)]
enum Kind {
    Plain,
    Sealed,
}

fn open(path: &Path, kind: Kind) -> Database {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .expect("open bench file");
    let backend = redb::backends::FileBackend::new(file).expect("file backend");
    let builder = Database::builder();
    match kind {
        Kind::Plain => builder.create_with_backend(backend),
        Kind::Sealed => {
            builder.create_with_backend(SealedBackend::new(backend, IndexCipher::new(&[0x42; 32])))
        }
    }
    .expect("open database")
}

fn key(i: u32) -> Vec<u8> {
    let mut k = vec![0x17; 16];
    k.extend_from_slice(format!("patients/p-{:06}/visit-{}/scan.jpg", i, i % 7).as_bytes());
    k
}

fn insert_all(db: &Database) {
    let value = [0xabu8; 100];
    let txn = db.begin_write().unwrap();
    {
        let mut table = txn.open_table(TABLE).unwrap();
        // Not in key order: a hash-like permutation, as uploads arrive.
        for n in 0..KEYS {
            let i = n.wrapping_mul(2_654_435_761) % KEYS;
            table.insert(key(i).as_slice(), value.as_slice()).unwrap();
        }
    }
    txn.commit().unwrap();
}

fn scan_all(db: &Database) -> usize {
    let txn = db.begin_read().unwrap();
    let table = txn.open_table(TABLE).unwrap();
    let mut n = 0;
    for entry in table.range::<&[u8]>(..).unwrap() {
        let (k, v) = entry.unwrap();
        n += k.value().len() + v.value().len();
    }
    n
}

fn index(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut group = c.benchmark_group("index_100k");
    group.sample_size(10);
    for kind in [Kind::Plain, Kind::Sealed] {
        let name = format!("{kind:?}").to_lowercase();
        let path = dir.path().join(format!("{name}.redb"));
        group.bench_function(format!("insert_{name}"), |b| {
            b.iter_batched(
                || {
                    let _ = std::fs::remove_file(&path);
                    open(&path, kind)
                },
                |db| {
                    insert_all(&db);
                    db
                },
                BatchSize::PerIteration,
            );
        });
        // A populated file for the scans.
        let _ = std::fs::remove_file(&path);
        insert_all(&open(&path, kind));
        group.bench_function(format!("scan_{name}"), |b| {
            b.iter_batched(
                || open(&path, kind),
                |db| {
                    black_box(scan_all(&db));
                    db
                },
                BatchSize::PerIteration,
            );
        });
    }
    group.finish();
}

criterion_group!(benches, index);
criterion_main!(benches);
