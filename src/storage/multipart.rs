//! Writing a stream of bytes as the parts of an S3 multipart upload with bounded memory.

use super::{ObjectStore, StorageError};
use bytes::{Bytes, BytesMut};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use tokio::task::JoinHandle;

/// A part already written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Part {
    pub number: i32,
    pub etag: String,
    pub size: i64,
}

/// How many parts may be on their way to the store at once. Two keep the network busy while the
/// next part fills, and bound memory to about three parts per upload.
const IN_FLIGHT: usize = 2;

/// Size of the parts an upload is cut into (every part but the last).
pub const PART_SIZE: usize = 8 * 1024 * 1024;
/// The smallest part S3 accepts (except for the last part of an upload).
pub const MIN_PART_SIZE: usize = 5 * 1024 * 1024;

/// How many idle part buffers a store keeps: enough for two uploads at once (a part filling, two
/// on their way, one coming back), 64 MiB at most. Beyond that, concurrent uploads allocate their
/// own and free them.
const KEEP_BUFFERS: usize = 8;

/// The part buffers of one store, shared by every upload through it.
///
/// Each upload used to reserve its own few 8 MiB buffers and free them at its end (a tus upload,
/// at the end of every PATCH). Memory freed that way stays with the allocator, on whichever
/// worker thread ran the upload: the resident set grew from one upload to the next (61 → 131 MiB
/// before the second upload of the storage benchmark) though the heap itself stayed flat. Kept
/// here, the same few buffers serve every upload of the process's life.
#[derive(Clone, Default)]
pub struct PartBuffers(Arc<Mutex<Vec<BytesMut>>>);

impl std::fmt::Debug for PartBuffers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PartBuffers({} idle)", self.idle())
    }
}

impl PartBuffers {
    /// An empty buffer with room for one whole part.
    pub fn take(&self) -> BytesMut {
        let spare = self.0.lock().unwrap_or_else(|e| e.into_inner()).pop();
        spare.unwrap_or_else(|| BytesMut::with_capacity(PART_SIZE))
    }

    /// Keeps `buf` for another part if it is a part buffer and fewer than [`KEEP_BUFFERS`] wait.
    pub fn give_back(&self, mut buf: BytesMut) {
        if buf.capacity() != PART_SIZE {
            return;
        }
        buf.clear();
        let mut spare = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if spare.len() < KEEP_BUFFERS {
            spare.push(buf);
        }
    }

    /// How many buffers wait to be filled.
    pub fn idle(&self) -> usize {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

/// Sends parts of one multipart upload, a bounded number at a time, in order of part number.
pub struct PartSink {
    store: ObjectStore,
    key: String,
    upload_id: String,
    parts: Vec<Part>,
    in_flight: VecDeque<JoinHandle<Result<(Part, Bytes), StorageError>>>,
}

impl PartSink {
    /// Continues upload `upload_id` of `key`, whose parts so far are `parts`.
    pub fn new(store: ObjectStore, key: String, upload_id: String, parts: Vec<Part>) -> Self {
        Self {
            store,
            key,
            upload_id,
            parts,
            in_flight: VecDeque::new(),
        }
    }

    fn next_number(&self) -> i32 {
        let done = self.parts.last().map_or(0, |p| p.number);
        done + 1 + self.in_flight.len() as i32
    }

    /// Queues `body` as the next part, first waiting for the oldest part if too many are on the way.
    ///
    /// A stored part's buffer goes back to the store's [`ObjectStore::part_buffer`] pool as soon
    /// as nothing else holds it, to be filled again by this upload or the next.
    pub async fn send(&mut self, body: BytesMut) -> Result<(), StorageError> {
        if self.in_flight.len() >= IN_FLIGHT {
            self.finish_oldest().await?;
        }
        let number = self.next_number();
        let body: Bytes = body.freeze();
        let size = body.len() as i64;
        let (store, key, upload_id) =
            (self.store.clone(), self.key.clone(), self.upload_id.clone());
        self.in_flight.push_back(tokio::spawn(async move {
            let etag = store
                .upload_part(&key, &upload_id, number, body.clone())
                .await?;
            Ok((Part { number, etag, size }, body))
        }));
        Ok(())
    }

    /// Waits for the oldest part; gives its buffer back to the pool if nothing else holds it.
    async fn finish_oldest(&mut self) -> Result<(), StorageError> {
        let Some(handle) = self.in_flight.pop_front() else {
            return Ok(());
        };
        let (part, body) = handle
            .await
            .map_err(|e| StorageError::new("upload part", e))??;
        self.parts.push(part);
        if let Ok(buf) = body.try_into_mut() {
            self.store.buffers.give_back(buf);
        }
        Ok(())
    }

    /// Waits for every queued part and returns all parts written.
    pub async fn flush(&mut self) -> Result<&[Part], StorageError> {
        while !self.in_flight.is_empty() {
            self.finish_oldest().await?;
        }
        Ok(&self.parts)
    }

    /// Flushes, then completes the multipart upload.
    pub async fn complete(&mut self) -> Result<(), StorageError> {
        self.flush().await?;
        self.store
            .complete_multipart(&self.key, &self.upload_id, &self.parts)
            .await
    }

    /// The S3 multipart upload this writes to (what to abort if the upload fails).
    pub fn upload_id(&self) -> &str {
        &self.upload_id
    }
}

impl Drop for PartSink {
    fn drop(&mut self) {
        for handle in &self.in_flight {
            handle.abort();
        }
    }
}
