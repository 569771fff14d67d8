//! Cutting a byte stream into S3 parts of exactly [`PART_SIZE`] bytes.
//!
//! Each part is filled in a buffer reserved at its final size: no buffer ever doubles, so what an
//! upload holds is a fixed number of parts (the one filling plus those in flight, see
//! `storage::PartSink`), whatever the size of the file or of the request's chunks. The buffers
//! come from the store's pool ([`PartBuffers`]) and go back to it when their part is stored, so
//! the process allocates those few buffers once, not once per part or per upload.

use crate::storage::{PART_SIZE, PartBuffers};
use bytes::{Bytes, BytesMut};

#[derive(Debug)]
pub struct Parts {
    current: BytesMut,
    buffers: PartBuffers,
}

impl Parts {
    /// A cutter that fills buffers from `buffers`.
    pub fn new(buffers: PartBuffers) -> Self {
        Self {
            current: BytesMut::new(),
            buffers,
        }
    }

    /// Appends `data`; returns the parts it completed (usually none, sometimes one).
    pub fn push(&mut self, mut data: &[u8]) -> Vec<BytesMut> {
        let mut full = Vec::new();
        while !data.is_empty() {
            if self.current.capacity() == 0 {
                self.current = self.buffers.take();
            }
            let take = (PART_SIZE - self.current.len()).min(data.len());
            self.current.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.current.len() == PART_SIZE {
                full.push(std::mem::take(&mut self.current));
            }
        }
        full
    }

    /// How many bytes there are after the last complete part.
    pub fn rest_len(&self) -> usize {
        self.current.len()
    }

    /// The bytes after the last complete part, if any, as a part buffer to send as the last part;
    /// the cutter is left empty.
    pub fn take_rest(&mut self) -> Option<BytesMut> {
        (!self.current.is_empty()).then(|| std::mem::take(&mut self.current))
    }

    /// The bytes after the last complete part, copied to an allocation of their own size (for a
    /// small file or a tail stored as one object); the part buffer stays in the pool.
    pub fn copy_rest(&mut self) -> Bytes {
        let rest = Bytes::copy_from_slice(&self.current);
        self.current.clear();
        rest
    }
}

impl Drop for Parts {
    fn drop(&mut self) {
        if self.current.capacity() > 0 {
            self.buffers.give_back(std::mem::take(&mut self.current));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_have_the_exact_size_and_keep_every_byte_in_order() {
        let data: Vec<u8> = (0..PART_SIZE * 2 + 1234).map(|i| (i % 251) as u8).collect();
        let mut parts = Parts::new(PartBuffers::default());
        let mut out = Vec::new();
        for chunk in data.chunks(PART_SIZE / 3 + 7) {
            for part in parts.push(chunk) {
                assert_eq!(part.len(), PART_SIZE);
                assert_eq!(part.capacity(), PART_SIZE, "no part outgrew its allocation");
                out.extend_from_slice(&part);
            }
        }
        assert_eq!(parts.rest_len(), 1234);
        let rest = parts.take_rest().expect("a rest");
        assert_eq!(rest.len(), 1234);
        assert!(parts.take_rest().is_none(), "taken once");
        out.extend_from_slice(&rest);
        assert_eq!(out, data);
        // One chunk larger than two parts.
        let mut parts = Parts::new(PartBuffers::default());
        assert_eq!(parts.push(&data).len(), 2);
    }

    #[test]
    fn buffers_come_from_the_pool_and_go_back_to_it() {
        let pool = PartBuffers::default();
        let data = vec![7u8; PART_SIZE];
        let mut parts = Parts::new(pool.clone());
        let first = parts.push(&data).pop().expect("one part");
        let ptr = first.as_ptr();
        pool.give_back(first);
        pool.give_back(BytesMut::with_capacity(16));
        assert_eq!(pool.idle(), 1, "a buffer of another size is not kept");
        let second = parts.push(&data).pop().expect("one part");
        assert_eq!(
            second.as_ptr(),
            ptr,
            "the part was filled in the pooled buffer"
        );
        assert_eq!(&second[..], &data[..]);
        pool.give_back(second);

        // A small file is copied out; its buffer stays in the pool, also when the cutter is dropped.
        let mut parts = Parts::new(pool.clone());
        assert!(parts.push(b"small").is_empty());
        assert_eq!(pool.idle(), 0);
        assert_eq!(&parts.copy_rest()[..], b"small");
        drop(parts);
        assert_eq!(pool.idle(), 1);
        let mut parts = Parts::new(pool.clone());
        parts.push(b"x");
        assert_eq!(
            parts.take_rest().map(|b| b.as_ptr()),
            Some(ptr),
            "the same buffer again"
        );

        for _ in 0..20 {
            pool.give_back(BytesMut::with_capacity(PART_SIZE));
        }
        assert_eq!(pool.idle(), 8, "the pool keeps a bounded number");
    }
}
