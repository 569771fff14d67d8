//! Cutting a byte stream into S3 parts of exactly [`PART_SIZE`] bytes.
//!
//! Each part is filled in an allocation reserved once at its final size: no buffer ever doubles,
//! so what an upload holds is a fixed number of parts (the one filling plus those in flight, see
//! `storage::PartSink`), whatever the size of the file or of the request's chunks. A part's buffer
//! comes back from the sink when the part is stored ([`Parts::recycle`]) and is filled again, so
//! an upload allocates those few buffers once, not once per part.

use super::PART_SIZE;
use bytes::BytesMut;

#[derive(Debug, Default)]
pub struct Parts {
    current: BytesMut,
    spare: Vec<BytesMut>,
}

/// Spare buffers kept for the next parts: as many as can come back while parts are in flight.
const MAX_SPARE: usize = 2;

impl Parts {
    /// Appends `data`; returns the parts it completed (usually none, sometimes one).
    pub fn push(&mut self, mut data: &[u8]) -> Vec<BytesMut> {
        let mut full = Vec::new();
        while !data.is_empty() {
            if self.current.capacity() == 0 {
                self.current = self
                    .spare
                    .pop()
                    .unwrap_or_else(|| BytesMut::with_capacity(PART_SIZE));
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

    /// Takes back the buffer of a stored part (see `storage::PartSink::send`) to fill again.
    pub fn recycle(&mut self, buf: Option<BytesMut>) {
        if let Some(mut buf) = buf
            && buf.capacity() == PART_SIZE
            && self.spare.len() < MAX_SPARE
        {
            buf.clear();
            self.spare.push(buf);
        }
    }

    /// The bytes after the last complete part, leaving the cutter empty.
    pub fn take_rest(&mut self) -> BytesMut {
        std::mem::take(&mut self.current)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_have_the_exact_size_and_keep_every_byte_in_order() {
        let data: Vec<u8> = (0..PART_SIZE * 2 + 1234).map(|i| (i % 251) as u8).collect();
        let mut parts = Parts::default();
        let mut out = Vec::new();
        for chunk in data.chunks(PART_SIZE / 3 + 7) {
            for part in parts.push(chunk) {
                assert_eq!(part.len(), PART_SIZE);
                assert_eq!(part.capacity(), PART_SIZE, "no part outgrew its allocation");
                out.extend_from_slice(&part);
            }
        }
        let rest = parts.take_rest();
        assert_eq!(rest.len(), 1234);
        out.extend_from_slice(&rest);
        assert_eq!(out, data);
        // One chunk larger than two parts.
        let mut parts = Parts::default();
        assert_eq!(parts.push(&data).len(), 2);
    }

    #[test]
    fn a_recycled_buffer_is_filled_again_and_only_whole_part_buffers_are_kept() {
        let mut parts = Parts::default();
        let data = vec![7u8; PART_SIZE];
        let first = parts.push(&data).pop().expect("one part");
        let ptr = first.as_ptr();
        parts.recycle(Some(first));
        parts.recycle(Some(BytesMut::with_capacity(16)));
        assert_eq!(parts.spare.len(), 1, "a buffer of another size is not kept");
        let second = parts.push(&data).pop().expect("one part");
        assert_eq!(
            second.as_ptr(),
            ptr,
            "the part was filled in the recycled buffer"
        );
        assert_eq!(&second[..], &data[..]);
        for _ in 0..5 {
            parts.recycle(Some(BytesMut::with_capacity(PART_SIZE)));
        }
        assert_eq!(parts.spare.len(), MAX_SPARE);
    }
}
