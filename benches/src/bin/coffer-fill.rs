//! Fills a stopped data directory with many small objects straight through the storage
//! crate, to measure what depends on the number of objects (start-up time, fsck) without
//! spending an hour on durable PUTs. The bucket must exist (create it through the server, so
//! its owner is a real account); the objects are real, sealed, and read back over S3.
//!
//! `COFFER_MASTER_KEY=… coffer-fill --data DIR --bucket NAME --count 1000000 --size 100`

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use clap::Parser;
use coffer_storage::{
    DEFAULT_CHUNK_SIZE, DEFAULT_INLINE_MAX, Durability, MasterKey, ObjectMeta, Placement, Store,
    StoreConfig, UnlockSecret,
};

#[derive(Parser)]
struct Args {
    /// Data directory of a stopped server.
    #[arg(long)]
    data: PathBuf,
    /// Existing bucket to fill.
    #[arg(long)]
    bucket: String,
    /// Objects to write, named `fill/<n>`.
    #[arg(long, default_value_t = 1_000_000)]
    count: u64,
    /// Bytes per object (each body distinct).
    #[arg(long, default_value_t = 100)]
    size: usize,
    /// Writes in flight (the index group-commits them).
    #[arg(long, default_value_t = 256)]
    concurrency: u64,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    // COFFER_MASTER_KEY is a key unlocker: it unwraps the directory's master key.
    let unlocker = MasterKey::from_base64(&std::env::var("COFFER_MASTER_KEY")?)?;
    let key = coffer_storage::unlock(&args.data, UnlockSecret::Key(unlocker))?;
    let store = Store::open(StoreConfig {
        placement: Placement::directory(args.data.clone()),
        chunk_size: DEFAULT_CHUNK_SIZE,
        inline_max: DEFAULT_INLINE_MAX,
        durability: Durability::Relaxed,
        master_key: key,
    })
    .await?;
    let bucket = Arc::new(store.bucket(&args.bucket).await?);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for lane in 0..args.concurrency {
        let (store, bucket) = (store.clone(), bucket.clone());
        let (count, lanes, size) = (args.count, args.concurrency, args.size);
        tasks.push(tokio::spawn(async move {
            let mut n = lane;
            while n < count {
                let mut body = n.to_le_bytes().repeat(size / 8 + 1);
                body.truncate(size);
                let mut writer = store.object_writer(&bucket).await?;
                writer.write(Bytes::from(body)).await?;
                let staged = writer.finish().await?;
                store
                    .commit_object(&bucket, &format!("fill/{n}"), staged, ObjectMeta::default())
                    .await?;
                n += lanes;
                if lane == 0 && n % 100_000 < lanes {
                    eprintln!("{n} objects, {:?}", started.elapsed());
                }
            }
            Ok::<_, coffer_storage::Error>(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    store.shutdown().await;
    println!("wrote {} objects in {:?}", args.count, started.elapsed());
    Ok(())
}
