//! Writing a stream of bytes as the parts of an S3 multipart upload with bounded memory.

use super::{ObjectStore, StorageError};
use bytes::{Bytes, BytesMut};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
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
    /// Returns the buffer of the part that finished to make room, emptied, when nothing else holds
    /// it any more: the caller fills it again (see `ingest::parts`), so an upload of any size
    /// allocates its few part buffers once instead of one per part. Allocating and freeing an
    /// 8 MiB buffer per part left the allocator holding tens of MiB per upload.
    pub async fn send(&mut self, body: BytesMut) -> Result<Option<BytesMut>, StorageError> {
        let mut spare = None;
        if self.in_flight.len() >= IN_FLIGHT {
            spare = self.finish_oldest().await?;
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
        Ok(spare)
    }

    /// Waits for the oldest part; returns its buffer, emptied, if nothing else still holds it.
    async fn finish_oldest(&mut self) -> Result<Option<BytesMut>, StorageError> {
        let Some(handle) = self.in_flight.pop_front() else {
            return Ok(None);
        };
        let (part, body) = handle
            .await
            .map_err(|e| StorageError::new("upload part", e))??;
        self.parts.push(part);
        Ok(body.try_into_mut().ok().map(|mut buf| {
            buf.clear();
            buf
        }))
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
