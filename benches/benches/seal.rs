//! Hot paths of the upload and download pipelines on one 4 MiB chunk: keyed BLAKE3 (chunk
//! id), AES-256-GCM-SIV seal and open, each beside the bare primitive on the same bytes
//! (`primitive_*`), so a gap between them is ours and the rest is the machine's.

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
    group.bench_function("primitive_blake3_keyed", |b| {
        b.iter(|| blake3::keyed_hash(black_box(&[7; 32]), black_box(&plaintext)));
    });
    group.bench_function("primitive_aes256gcmsiv_in_place", |b| {
        use aes_gcm_siv::aead::{AeadInOut as _, KeyInit as _};
        let cipher = aes_gcm_siv::Aes256GcmSiv::new(&[7; 32].into());
        let mut buffer = plaintext.clone();
        b.iter(|| {
            cipher
                .encrypt_inout_detached(&[1; 12].into(), b"", buffer.as_mut_slice().into())
                .expect("encrypt")
        });
    });
    group.finish();
}

criterion_group!(benches, chunk_paths);
criterion_main!(benches);
