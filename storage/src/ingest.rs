//! The upload path: body bytes → fixed-size chunks → keyed id, seal, chunk file.
//!
//! # Design
//!
//! [`ObjectWriter::write`] cuts the body into chunks of the store's chunk size. Each full
//! chunk goes to `spawn_blocking` (id, seal, write file) with at most two in flight, so one
//! chunk is sealed while the previous one is written, on the two cores. MD5 (the S3 `ETag`,
//! the slowest hash by far) runs beside them as one blocking task per chunk, chained: the
//! task for chunk n starts from the state chunk n−1's task returned. No thread waits idle
//! for body bytes, so a thousand slow uploads cannot exhaust the blocking pool that
//! sealing needs (which would deadlock every upload). Memory stays at a few chunks.
//!
//! A body no larger than the store's inline limit that ends before its first chunk is
//! full is not written to a file: [`ObjectWriter::finish`] seals it as that one chunk would
//! be and the commit puts it in the object record (see `records::InlineBody`). A small PUT
//! then costs one index commit, shared with other writers, instead of a chunk file, its
//! fsync and its directory entry. Multipart parts never go inline: their chunks are
//! concatenated into the completed object's list.
//!
//! Every chunk is registered in the in-flight registry before its file is checked or
//! written; the registrations live in a shared [`Claim`] that the chunk tasks and then the
//! [`StagedBody`] hold. Dropped uncommitted, it releases them, and the writer thread
//! removes files nothing references.

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::Bytes;
use md5::{Digest as _, Md5};
use tokio::task::JoinHandle;

use crate::chunks::buffers::Buffer;
use crate::chunks::chunk_id::ChunkId;
use crate::chunks::seal;
use crate::error::{Error, Result};
use crate::inflight::Claim;
use crate::keys::encryption::Encryption;
use crate::keys::keyring::BucketKeys;
use crate::records::{BucketId, ChunkRef, InlineBody};
use crate::store::Shared;

/// Chunk tasks in flight per upload: one sealing while one writes.
const CHUNKS_IN_FLIGHT: usize = 2;

/// Streams an object body into sealed chunk files. Get one from
/// [`Store::object_writer`](crate::Store::object_writer); [`finish`](ObjectWriter::finish)
/// it into a [`StagedBody`] to commit.
///
/// Dropping it (client disconnect, failed upload) releases its chunks: files that no
/// committed object references are deleted.
pub struct ObjectWriter {
    shared: Arc<Shared>,
    bucket: BucketId,
    keys: Arc<BucketKeys>,
    /// What the object's record will say about `keys`.
    encryption: Encryption,
    claim: Arc<Claim>,
    chunk_size: usize,
    /// Bodies up to this size go inline (0: never).
    inline_max: usize,
    /// The chunk being filled (from the store's buffer pool).
    pending: Option<Buffer>,
    len: u64,
    in_flight: VecDeque<JoinHandle<Result<ChunkRef>>>,
    chunks: Vec<ChunkRef>,
    /// MD5 of the chunks submitted so far: the running task, or the state if none runs.
    md5: Md5Chain,
}

/// The MD5 state, threaded through one blocking task per chunk.
enum Md5Chain {
    Idle(Box<Md5>),
    Running(JoinHandle<Box<Md5>>),
}

impl Md5Chain {
    /// Waits for the previous update and starts one over `chunk`.
    async fn update(&mut self, chunk: Bytes) -> Result<()> {
        let mut state = self.take().await?;
        *self = Md5Chain::Running(tokio::task::spawn_blocking(move || {
            state.update(&chunk);
            state
        }));
        Ok(())
    }

    async fn take(&mut self) -> Result<Box<Md5>> {
        match std::mem::replace(self, Md5Chain::Idle(Box::default())) {
            Md5Chain::Idle(state) => Ok(state),
            Md5Chain::Running(task) => task.await.map_err(Error::join),
        }
    }
}

impl std::fmt::Debug for ObjectWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectWriter")
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl ObjectWriter {
    pub(crate) fn new(
        shared: Arc<Shared>,
        bucket: BucketId,
        keys: Arc<BucketKeys>,
        encryption: Encryption,
        inline: bool,
    ) -> ObjectWriter {
        let chunk_size = shared.chunk_size;
        let inline_max = if inline { shared.inline_max } else { 0 };
        ObjectWriter {
            inline_max,
            claim: Arc::new(Claim::new(shared.clone(), bucket)),
            shared,
            bucket,
            keys,
            encryption,
            chunk_size,
            pending: None,
            len: 0,
            in_flight: VecDeque::with_capacity(CHUNKS_IN_FLIGHT),
            chunks: Vec::new(),
            md5: Md5Chain::Idle(Box::default()),
        }
    }

    /// Appends body bytes. Full chunks are hashed (keyed BLAKE3), sealed and written to the
    /// chunk store in `spawn_blocking`, pipelined (at most 2 chunks in flight); MD5 runs in a
    /// blocking task per chunk beside them. Waits when the pipeline is full (backpressure).
    ///
    /// # Errors
    /// `Error::Io` if a chunk file cannot be written; the writer is then unusable.
    pub async fn write(&mut self, mut data: Bytes) -> Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        self.len += data.len() as u64;
        while !data.is_empty() {
            if self.pending.is_none() && data.len() >= self.chunk_size {
                // A whole chunk in hand: no copy.
                let chunk = data.split_to(self.chunk_size);
                self.submit(chunk).await?;
                continue;
            }
            let pending = self
                .pending
                .get_or_insert_with(|| self.shared.buffers.take());
            let take = (self.chunk_size - pending.len()).min(data.len());
            pending.extend_from_slice(&data.split_to(take));
            if pending.len() == self.chunk_size
                && let Some(full) = self.pending.take()
            {
                self.submit(full.freeze()).await?;
            }
        }
        Ok(())
    }

    /// Bytes accepted so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether no bytes were accepted yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Flushes the last partial chunk and waits for every chunk write (durable if the store
    /// is `Durability::Immediate`) and for the MD5.
    ///
    /// # Errors
    /// `Error::Io` if a chunk file cannot be written.
    pub async fn finish(mut self) -> Result<StagedBody> {
        let pending = self.pending.take().filter(|p| !p.is_empty());
        if let Some(body) = pending {
            if self.in_flight.is_empty() && self.chunks.is_empty() && body.len() <= self.inline_max
            {
                return self.finish_inline(body.freeze()).await;
            }
            self.submit(body.freeze()).await?;
        }
        while let Some(task) = self.in_flight.pop_front() {
            self.chunks.push(task.await.map_err(Error::join)??);
        }
        let md5 = self.md5.take().await?.finalize().into();
        let ObjectWriter {
            bucket,
            claim,
            len,
            chunks,
            encryption,
            ..
        } = self;
        Ok(StagedBody {
            bucket,
            chunks,
            inline: None,
            encryption,
            size: len,
            md5,
            claim,
        })
    }

    /// The whole body is in `pending` and small: MD5, id and seal in one blocking task.
    async fn finish_inline(mut self, body: Bytes) -> Result<StagedBody> {
        let mut md5 = self.md5.take().await?;
        let keys = self.keys.clone();
        let (md5, inline) = tokio::task::spawn_blocking(move || {
            md5.update(&body);
            let id = ChunkId::of(&keys, &body);
            seal::seal(&keys, &id, &body)
                .map(|sealed| (md5.finalize().into(), InlineBody { id, sealed }))
        })
        .await
        .map_err(Error::join)??;
        Ok(StagedBody {
            bucket: self.bucket,
            chunks: Vec::new(),
            inline: Some(inline),
            encryption: self.encryption,
            size: self.len,
            md5,
            claim: self.claim.clone(),
        })
    }

    async fn submit(&mut self, chunk: Bytes) -> Result<()> {
        self.md5.update(chunk.clone()).await?;
        if self.in_flight.len() >= CHUNKS_IN_FLIGHT
            && let Some(oldest) = self.in_flight.pop_front()
        {
            self.chunks.push(oldest.await.map_err(Error::join)??);
        }
        let shared = self.shared.clone();
        let keys = self.keys.clone();
        let claim = self.claim.clone();
        let bucket = self.bucket;
        self.in_flight
            .push_back(tokio::task::spawn_blocking(move || {
                store_chunk(&shared, &keys, &claim, &bucket, &chunk)
            }));
        Ok(())
    }
}

/// Id, register, and — unless the file exists (deduplication) — seal and write.
fn store_chunk(
    shared: &Shared,
    keys: &BucketKeys,
    claim: &Claim,
    bucket: &BucketId,
    chunk: &[u8],
) -> Result<ChunkRef> {
    let len = u32::try_from(chunk.len()).map_err(|_| Error::BadConfig {
        what: "chunk larger than 4 GiB",
    })?;
    let id = ChunkId::of(keys, chunk);
    // Register before looking: from here on no delete can remove this chunk's file.
    claim.add(id);
    if shared.chunks.exists(bucket, &id)? {
        shared.chunks.note_deduplicated();
    } else {
        let mut sealed = shared.buffers.take();
        seal::seal_into(keys, &id, chunk, &mut sealed)?;
        shared.chunks.put(bucket, &id, &sealed)?;
    }
    Ok(ChunkRef { id, len })
}

/// A finished body whose chunks are on disk, waiting to be committed under a key.
///
/// Dropping it uncommitted (e.g. a checksum the server rejects) releases its chunks.
pub struct StagedBody {
    pub(crate) bucket: BucketId,
    pub(crate) chunks: Vec<ChunkRef>,
    /// The body itself, if small (then `chunks` is empty).
    pub(crate) inline: Option<InlineBody>,
    /// The keys the chunks are under.
    pub(crate) encryption: Encryption,
    size: u64,
    md5: [u8; 16],
    claim: Arc<Claim>,
}

impl std::fmt::Debug for StagedBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StagedBody")
            .field("size", &self.size)
            .field("chunks", &self.chunks.len())
            .finish_non_exhaustive()
    }
}

impl StagedBody {
    /// Body size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// MD5 of the body.
    pub fn md5(&self) -> [u8; 16] {
        self.md5
    }

    /// The commit is durable: the chunks are referenced, drop the registrations.
    pub(crate) fn committed(&self) {
        self.claim.committed();
    }
}
