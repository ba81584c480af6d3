//! Hot paths of the upload and download pipelines on one 4 MiB chunk: keyed BLAKE3 (chunk
//! id), AES-256-GCM-SIV seal and open. Budget (design.md): ~10 GB/s, ~4.5 GB/s, ~4.1 GB/s.

// A bench is a tool run by hand: failing loudly on setup is right, and the criterion
// macros generate undocumented items.
#![allow(clippy::expect_used, missing_docs)]

use std::hint::black_box;

use coffer_storage::hot_paths::{BucketKeys, ChunkId, open, seal};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const CHUNK: usize = 4 << 20;

fn chunk_paths(c: &mut Criterion) {
    let keys = BucketKeys::random().expect("OS randomness");
    let plaintext: Vec<u8> = (0..CHUNK).map(|i| (i % 251).to_le_bytes()[0]).collect();
    let id = ChunkId::of(&keys, &plaintext);
    let sealed = seal(&keys, &id, &plaintext).expect("seal");

    let mut group = c.benchmark_group("chunk_4MiB");
    group.throughput(Throughput::Bytes(CHUNK as u64));
    group.sample_size(20);
    group.bench_function("chunk_id", |b| {
        b.iter(|| ChunkId::of(black_box(&keys), black_box(&plaintext)));
    });
    group.bench_function("seal", |b| {
        b.iter(|| seal(black_box(&keys), black_box(&id), black_box(&plaintext)));
    });
    group.bench_function("open", |b| {
        b.iter_batched(
            || sealed.clone(),
            |sealed| open(black_box(&keys), black_box(&id), sealed),
            criterion::BatchSize::LargeInput,
        );
    });
    group.finish();
}

criterion_group!(benches, chunk_paths);
criterion_main!(benches);
