//! The download path: open only the chunks a range touches, one chunk ahead.
//!
//! A producer task reads and opens chunks in `spawn_blocking` and sends trimmed plaintext
//! into a channel of capacity 2; the [`ObjectReader`] is its receiving end. Dropping the
//! reader stops the producer at its next step.

use std::ops::Range;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::chunks::seal;
use crate::error::{Error, Result};
use crate::keys::encryption::{Encryption, ExternalKey};
use crate::keys::keyring::BucketKeys;
use crate::object::ObjectInfo;
use crate::records::{BucketId, ChunkRef, InlineBody};
use crate::store::Shared;

/// Opened chunks waiting for the consumer: one being consumed, one read ahead.
const READ_AHEAD: usize = 2;

/// Plaintext bytes of an object range, as a `Stream` of `Result<Bytes, Error>`.
///
/// `Send + Sync + Unpin + 'static`. A chunk that fails to open ends the stream with
/// `Error::Corrupt`; altered bytes are never yielded.
#[derive(Debug)]
pub struct ObjectReader {
    rx: mpsc::Receiver<Result<Bytes>>,
}

impl ObjectReader {
    /// The next piece of plaintext; `None` at the end of the range.
    pub async fn recv(&mut self) -> Option<Result<Bytes>> {
        self.rx.recv().await
    }
}

impl futures_core::Stream for ObjectReader {
    type Item = Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx)
    }
}

/// One step of the plan: a chunk and the part of its plaintext the range wants.
struct Piece {
    chunk: ChunkRef,
    trim: Range<usize>,
}

/// Where the plan's chunks are: files, or the one body kept in the record.
enum Source {
    Files,
    Inline(Arc<InlineBody>),
}

/// Starts reading `range` of `obj` (clamped to its size).
pub(crate) fn spawn(
    shared: &Arc<Shared>,
    obj: &ObjectInfo,
    range: Range<u64>,
    external: Option<ExternalKey>,
) -> ObjectReader {
    let (tx, rx) = mpsc::channel(READ_AHEAD);
    let (plan, source) = match &obj.inline {
        Some(inline) => {
            let whole = [ChunkRef {
                id: inline.id,
                len: u32::try_from(obj.size).unwrap_or(u32::MAX),
            }];
            (
                plan(&whole, obj.size, range),
                Source::Inline(inline.clone()),
            )
        }
        None => (plan(&obj.chunks, obj.size, range), Source::Files),
    };
    if !plan.is_empty() {
        let open = Open {
            bucket: obj.bucket,
            encryption: obj.encryption,
            external,
            source,
        };
        shared
            .runtime
            .spawn(produce(shared.clone(), open, plan, tx));
    }
    ObjectReader { rx }
}

fn plan(chunks: &[ChunkRef], size: u64, range: Range<u64>) -> Vec<Piece> {
    let end = range.end.min(size);
    let start = range.start.min(end);
    let mut pieces = Vec::new();
    if start == end {
        return pieces;
    }
    let mut offset = 0u64;
    for chunk in chunks {
        let chunk_end = offset + u64::from(chunk.len);
        if chunk_end > start && offset < end {
            let from = start.max(offset) - offset;
            let to = end.min(chunk_end) - offset;
            // Both are at most chunk.len, a u32.
            pieces.push(Piece {
                chunk: *chunk,
                trim: usize::try_from(from).unwrap_or(0)..usize::try_from(to).unwrap_or(0),
            });
        }
        if chunk_end >= end {
            break;
        }
        offset = chunk_end;
    }
    pieces
}

/// What opening the chunks takes: the bucket, the object's keys, where the chunks are.
struct Open {
    bucket: BucketId,
    encryption: Encryption,
    external: Option<ExternalKey>,
    source: Source,
}

async fn produce(
    shared: Arc<Shared>,
    open: Open,
    plan: Vec<Piece>,
    tx: mpsc::Sender<Result<Bytes>>,
) {
    let bucket = open.bucket;
    let keys = match shared
        .bucket_keys(&bucket)
        .await
        .and_then(|keys| keys.for_read(open.encryption, open.external.as_ref()))
    {
        Ok(keys) => keys,
        Err(e) => {
            let _ = tx.send(Err(e)).await;
            return;
        }
    };
    if let Source::Inline(inline) = &open.source {
        // At most `MAX_INLINE` bytes: opening them costs microseconds, no hand-off.
        for piece in plan {
            let opened = open_piece(&keys, inline.sealed.clone(), &piece);
            let failed = opened.is_err();
            if tx.send(opened).await.is_err() || failed {
                return;
            }
        }
        return;
    }
    for piece in plan {
        if tx.is_closed() {
            return;
        }
        let (shared, keys) = (shared.clone(), keys.clone());
        let opened =
            tokio::task::spawn_blocking(move || read_piece(&shared, &keys, &bucket, &piece))
                .await
                .map_err(Error::join)
                .and_then(|r| r);
        let failed = opened.is_err();
        if tx.send(opened).await.is_err() || failed {
            return;
        }
    }
}

fn read_piece(
    shared: &Shared,
    keys: &BucketKeys,
    bucket: &BucketId,
    piece: &Piece,
) -> Result<Bytes> {
    let id = piece.chunk.id;
    let mut sealed = shared.buffers.take();
    match shared.chunks.get_into(bucket, &id, &mut sealed) {
        Ok(()) => {}
        // The object was deleted or replaced while we read it.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            tracing::debug!(chunk = ?id, "chunk gone while reading");
            return Err(Error::NoSuchKey);
        }
        Err(source) => {
            return Err(Error::Io {
                action: "read chunk file",
                source,
            });
        }
    }
    open_piece(keys, sealed, piece)
}

fn open_piece<B>(keys: &BucketKeys, sealed: B, piece: &Piece) -> Result<Bytes>
where
    B: AsRef<[u8]> + AsMut<[u8]> + Send + 'static,
{
    let plain = seal::open(keys, &piece.chunk.id, sealed)?;
    if plain.len() != piece.chunk.len as usize || piece.trim.end > plain.len() {
        return Err(Error::Corrupt {
            what: "chunk length",
        });
    }
    Ok(plain.slice(piece.trim.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunks::chunk_id::ChunkId;

    fn chunks(lens: &[u32]) -> Vec<ChunkRef> {
        lens.iter()
            .map(|&len| ChunkRef {
                id: ChunkId([0; 32]),
                len,
            })
            .collect()
    }

    #[test]
    fn plan_touches_only_needed_chunks() {
        let c = chunks(&[10, 10, 5]);
        let trims = |r: Range<u64>| {
            plan(&c, 25, r)
                .into_iter()
                .map(|p| p.trim)
                .collect::<Vec<_>>()
        };
        assert_eq!(trims(0..25), vec![0..10, 0..10, 0..5]);
        assert_eq!(trims(9..11), vec![9..10, 0..1]);
        assert_eq!(trims(10..20), vec![0..10]);
        assert_eq!(trims(24..100), vec![4..5]);
        assert!(trims(5..5).is_empty());
        assert!(trims(30..40).is_empty());
    }

    #[test]
    fn reader_is_send_sync_unpin_static() {
        fn check<T: Send + Sync + Unpin + 'static>() {}
        check::<ObjectReader>();
    }
}
