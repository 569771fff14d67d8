//! Resumable uploads (tus 1.0: core, creation, termination, checksum, expiration) on top of S3
//! multipart uploads, with all state in SQL.
//!
//! Each upload owns one S3 multipart upload. A request's bytes are cut into parts; what is too
//! short to be a part yet (S3 parts must be at least 5 MiB, except the last) is kept as a small
//! "tail" object and prepended to the next request's bytes. A request commits its progress (new
//! offset, parts, tail, hash state) in one SQL update at its end, so an upload is always at a
//! consistent offset: a request that fails, is refused for its checksum, or dies with its process
//! leaves the upload where it was, and the client resumes from the offset HEAD reports.

use super::hash::ResumableSha256;
use super::parts::Parts;
use super::{
    CheckedSubtitle, Ingest, IngestError, MIN_PART_SIZE, Uploader, admit, admit_language,
    disposition, new_object_key, subtitle_language,
};
use crate::db::assets::{AssetRecord, NewAsset};
use crate::db::uploads::{Progress, UploadRecord};
use crate::db::{new_id, now_ms};
use crate::domain::asset::{AssetRole, SNIFF_LEN, sniff};
use crate::domain::filename::FileName;
use crate::domain::subtitle::MAX_SUBTITLE_BYTES;
use crate::storage::{Part, PartSink};
use bytes::Bytes;
use futures::{Stream, StreamExt};
use sha1::Digest;

/// A checksum the client sent for one request body (`Upload-Checksum`).
#[derive(Debug, Clone)]
pub enum Checksum {
    Sha1(Vec<u8>),
    Sha256(Vec<u8>),
}

enum BodyHasher {
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
}

impl BodyHasher {
    fn for_checksum(c: &Checksum) -> Self {
        match c {
            Checksum::Sha1(_) => Self::Sha1(sha1::Sha1::new()),
            Checksum::Sha256(_) => Self::Sha256(sha2::Sha256::new()),
        }
    }

    fn update(&mut self, data: &[u8]) {
        match self {
            Self::Sha1(h) => h.update(data),
            Self::Sha256(h) => h.update(data),
        }
    }

    fn matches(self, c: &Checksum) -> bool {
        match (self, c) {
            (Self::Sha1(h), Checksum::Sha1(want)) => h.finalize().as_slice() == want.as_slice(),
            (Self::Sha256(h), Checksum::Sha256(want)) => h.finalize().as_slice() == want.as_slice(),
            _ => false,
        }
    }
}

/// What a PATCH achieved.
#[derive(Debug)]
pub enum Patched {
    /// The upload is at this offset and waits for more.
    Partial { offset: i64, expires_at: i64 },
    /// The upload is complete and became this asset.
    Complete { asset: Box<AssetRecord> },
}

impl Ingest {
    /// Creates an upload of `length` bytes that will become a `role` asset named `filename` of
    /// the lesson `lesson_id`; a subtitle may be given its `language`.
    pub async fn create_upload(
        &self,
        lesson_id: &str,
        role: &str,
        filename: &str,
        language: Option<&str>,
        length: u64,
    ) -> Result<UploadRecord, IngestError> {
        if length > self.max_bytes {
            return Err(IngestError::TooLarge {
                limit: self.max_bytes,
            });
        }
        if length == 0 {
            return Err(crate::domain::asset::Refused::Empty.into());
        }
        let lesson = self
            .db
            .lesson(lesson_id)
            .await?
            .ok_or(IngestError::LessonNotFound)?;
        let kind = lesson.kind;
        let (role, filename) = admit(role, filename, kind)?;
        let language = admit_language(language, role)?;
        if role == AssetRole::Subtitle && length > MAX_SUBTITLE_BYTES {
            return Err(IngestError::TooLarge {
                limit: MAX_SUBTITLE_BYTES,
            });
        }
        let key = new_object_key();
        let multipart_id = self
            .store
            .create_multipart(&key, "application/octet-stream")
            .await?;
        let now = now_ms();
        let record = UploadRecord {
            id: uuid::Uuid::new_v4().simple().to_string(),
            lesson_id: lesson.id,
            role: role.as_str().to_owned(),
            filename: filename.as_str().to_owned(),
            length: length as i64,
            received: 0,
            object_key: key,
            multipart_id,
            parts: "[]".into(),
            tail_key: None,
            hash_state: ResumableSha256::new().encode(),
            content_type: None,
            disposition: None,
            lease_token: None,
            lease_until: None,
            expires_at: now + self.upload_expiry_ms,
            created_at: now,
            asset_id: None,
            language,
        };
        self.db.insert_upload(&record).await?;
        Ok(record)
    }

    /// The upload `id`, if it exists and has not expired. An expired one is cleaned up on sight.
    pub async fn upload_status(&self, id: &str) -> Result<UploadRecord, IngestError> {
        let upload = self
            .db
            .upload(id)
            .await?
            .ok_or(IngestError::UploadNotFound)?;
        if upload.expires_at < now_ms() && upload.lease_until.is_none_or(|t| t < now_ms()) {
            self.discard(&upload).await?;
            return Err(IngestError::Expired);
        }
        Ok(upload)
    }

    /// Terminates upload `id`: its parts and tail are deleted and it is forgotten.
    pub async fn terminate_upload(&self, id: &str) -> Result<(), IngestError> {
        let upload = self.upload_status(id).await?;
        let token = new_id();
        if !self
            .db
            .lease_upload(id, &token, now_ms() + self.lease_ms)
            .await?
        {
            return Err(IngestError::Locked);
        }
        self.discard(&upload).await
    }

    /// Aborts an upload's multipart upload, deletes its tail and its row.
    async fn discard(&self, upload: &UploadRecord) -> Result<(), IngestError> {
        if upload.asset_id.is_none() {
            if let Err(e) = self
                .store
                .abort_multipart(&upload.object_key, &upload.multipart_id)
                .await
            {
                tracing::warn!(error = %e, upload = %upload.id, "could not abort a multipart upload");
            }
            if let Some(tail) = &upload.tail_key {
                self.delete_quietly(tail).await;
            }
        }
        self.db.delete_upload(&upload.id).await?;
        Ok(())
    }

    /// Discards every expired upload; returns how many.
    pub async fn expire_uploads(&self) -> Result<usize, IngestError> {
        let expired = self.db.expired_uploads(100).await?;
        for upload in &expired {
            self.discard(upload).await?;
        }
        Ok(expired.len())
    }

    /// Appends `body` to upload `id` at `offset` (tus PATCH).
    pub async fn patch_upload<S, E>(
        &self,
        id: &str,
        offset: i64,
        checksum: Option<Checksum>,
        body: S,
        by: Uploader<'_>,
    ) -> Result<Patched, IngestError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let upload = self.upload_status(id).await?;
        if upload.asset_id.is_some() {
            return Err(IngestError::AlreadyComplete);
        }
        if offset != upload.received {
            return Err(IngestError::OffsetMismatch {
                expected: upload.received,
            });
        }
        let token = new_id();
        if !self
            .db
            .lease_upload(id, &token, now_ms() + self.lease_ms)
            .await?
        {
            return Err(IngestError::Locked);
        }
        let result = self.write_patch(&upload, &token, checksum, body, by).await;
        if !matches!(
            result,
            Ok(Patched::Complete { .. }) | Err(IngestError::Refused(_) | IngestError::Subtitle(_))
        ) {
            self.db.release_upload(id, &token).await?;
        }
        result
    }

    async fn write_patch<S, E>(
        &self,
        upload: &UploadRecord,
        token: &str,
        checksum: Option<Checksum>,
        mut body: S,
        by: Uploader<'_>,
    ) -> Result<Patched, IngestError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let corrupt = |what: &'static str| {
            IngestError::Storage(crate::storage::StorageError::corrupt_state(what))
        };
        let mut hasher =
            ResumableSha256::decode(&upload.hash_state).ok_or_else(|| corrupt("hash state"))?;
        let parts: Vec<Part> =
            serde_json::from_str(&upload.parts).map_err(|_| corrupt("part list"))?;
        // Sniffing needs the file's first bytes, which are at hand only while no part was written.
        let at_start = parts.is_empty();
        let mut sink = PartSink::new(
            self.store.clone(),
            upload.object_key.clone(),
            upload.multipart_id.clone(),
            parts,
        );
        let mut content_type = upload.content_type.clone();
        // The first bytes of the file, gathered until they can be sniffed.
        let mut head = Vec::new();
        // The bytes after the last part: the old tail, then this request's bytes.
        let mut cutter = Parts::new(self.store.part_buffers());
        if let Some(tail) = &upload.tail_key {
            let tail = self.store.get_bytes(tail).await?;
            if content_type.is_none() && at_start {
                head.extend_from_slice(&tail[..tail.len().min(SNIFF_LEN)]);
            }
            for part in cutter.push(&tail) {
                sink.send(part).await?;
            }
        }
        let mut download =
            upload.disposition == Some(crate::domain::asset::Disposition::Attachment);
        let mut body_hasher = checksum.as_ref().map(BodyHasher::for_checksum);
        let mut received = upload.received;
        let mut renewed_at = now_ms();
        let mut aborted = None;

        loop {
            let chunk = match body.next().await {
                None => break,
                Some(Ok(chunk)) => chunk,
                Some(Err(e)) => {
                    aborted = Some(e.to_string());
                    break;
                }
            };
            if received + chunk.len() as i64 > upload.length {
                return Err(crate::domain::Invalid::new(
                    "body",
                    format!("goes past Upload-Length ({} bytes)", upload.length),
                )
                .into());
            }
            received += chunk.len() as i64;
            metrics::counter!("lectern_upload_bytes_total", "protocol" => "tus")
                .increment(chunk.len() as u64);
            if let Some(h) = body_hasher.as_mut() {
                h.update(&chunk);
            }
            hasher.update(&chunk);
            if content_type.is_none() && at_start {
                head.extend_from_slice(&chunk[..chunk.len().min(SNIFF_LEN - head.len())]);
                if head.len() == SNIFF_LEN {
                    let s = self.sniff_upload(upload, &head).await?;
                    content_type = Some(s.0);
                    download = s.1;
                }
            }
            for part in cutter.push(&chunk) {
                sink.send(part).await?;
            }
            if now_ms() - renewed_at > self.lease_ms / 3 {
                if !self
                    .db
                    .lease_upload(&upload.id, token, now_ms() + self.lease_ms)
                    .await?
                {
                    return Err(IngestError::Locked);
                }
                renewed_at = now_ms();
            }
        }

        if let (Some(c), Some(h)) = (&checksum, body_hasher) {
            // A body cut short cannot be checked against its checksum: keep nothing of it.
            if let Some(reason) = &aborted {
                return Err(IngestError::BodyAborted(reason.clone()));
            }
            if !h.matches(c) {
                return Err(IngestError::ChecksumMismatch);
            }
        }
        let complete = received == upload.length;
        if content_type.is_none() && at_start && complete {
            let s = self.sniff_upload(upload, &head).await?;
            content_type = Some(s.0);
            download = s.1;
        }

        if complete {
            if let Some(rest) = cutter.take_rest() {
                sink.send(rest).await?;
            }
            sink.complete().await?;
            let sha256 = hex::encode(hasher.finalize());
            let mut content_type = content_type.ok_or_else(|| corrupt("content type"))?;
            // A subtitle is read whole once all of it is stored, before it becomes an asset; a
            // broken one is discarded with its upload (the completing PATCH answers why).
            let checked = if upload.role == AssetRole::Subtitle.as_str() {
                match self.check_subtitle(upload).await {
                    Ok(checked) => {
                        content_type = checked.content_type();
                        Some(checked)
                    }
                    Err(e) => {
                        self.delete_quietly(&upload.object_key).await;
                        if let Some(tail) = &upload.tail_key {
                            self.delete_quietly(tail).await;
                        }
                        self.db.delete_upload(&upload.id).await?;
                        return Err(e);
                    }
                }
            } else {
                None
            };
            let new = NewAsset {
                lesson_id: &upload.lesson_id,
                role: &upload.role,
                filename: &upload.filename,
                content_type: &content_type,
                disposition: disposition(download),
                sha256: &sha256,
                size: upload.length,
                object_key: &upload.object_key,
                actor: by.actor,
                bypass_review: by.bypass_review,
                subtitle: checked.as_ref().map(CheckedSubtitle::record),
            };
            let recorded = self
                .db
                .complete_upload(&upload.id, token, &new)
                .await?
                .ok_or(IngestError::Locked)?;
            let asset = self.settle(recorded, &upload.object_key).await;
            if let Some(tail) = &upload.tail_key {
                self.delete_quietly(tail).await;
            }
            if asset.is_err() {
                self.db.delete_upload(&upload.id).await?;
            }
            return Ok(Patched::Complete {
                asset: Box::new(asset?),
            });
        }

        // Not complete: what can be a part becomes one, the rest is the new tail.
        let mut new_tail = None;
        if cutter.rest_len() >= MIN_PART_SIZE {
            if let Some(rest) = cutter.take_rest() {
                sink.send(rest).await?;
            }
        } else if cutter.rest_len() > 0 {
            let key = format!("uploads/{}/tail-{}", upload.id, new_id());
            self.store
                .put(&key, cutter.copy_rest(), "application/octet-stream")
                .await?;
            new_tail = Some(key);
        }
        let parts = serde_json::to_string(sink.flush().await?).map_err(|_| corrupt("part list"))?;
        let expires_at = now_ms() + self.upload_expiry_ms;
        let progress = Progress {
            received,
            parts: &parts,
            tail_key: new_tail.as_deref(),
            hash_state: &hasher.encode(),
            content_type: content_type.as_deref(),
            disposition: content_type.as_ref().map(|_| disposition(download)),
            expires_at,
        };
        if !self
            .db
            .commit_upload_progress(&upload.id, token, upload.received, &progress)
            .await?
        {
            if let Some(t) = &new_tail {
                self.delete_quietly(t).await;
            }
            return Err(IngestError::Locked);
        }
        if let (Some(old), true) = (&upload.tail_key, upload.tail_key != new_tail) {
            self.delete_quietly(old).await;
        }
        if let Some(reason) = aborted {
            return Err(IngestError::BodyAborted(reason));
        }
        Ok(Patched::Partial {
            offset: received,
            expires_at,
        })
    }

    /// Reads a completed subtitle upload's bytes back from object storage and checks them.
    async fn check_subtitle(&self, upload: &UploadRecord) -> Result<CheckedSubtitle, IngestError> {
        let lesson = self
            .db
            .lesson(&upload.lesson_id)
            .await?
            .ok_or(IngestError::LessonNotFound)?;
        let name = FileName::parse(&upload.filename)?;
        let bytes = self.store.get_bytes(&upload.object_key).await?;
        let language = subtitle_language(upload.language.as_deref(), &name, &lesson);
        CheckedSubtitle::read_blocking(bytes, &name, language).await
    }

    /// Sniffs an upload's first bytes; a refused upload is discarded whole.
    async fn sniff_upload(
        &self,
        upload: &UploadRecord,
        head: &[u8],
    ) -> Result<(String, bool), IngestError> {
        let lesson = self.db.lesson(&upload.lesson_id).await?;
        let kind = match &lesson {
            Some(l) => l.kind,
            None => {
                self.discard(upload).await?;
                return Err(IngestError::LessonNotFound);
            }
        };
        let role = AssetRole::parse(&upload.role)?;
        let name = FileName::parse(&upload.filename)?;
        match sniff(head, name.extension().as_deref(), role, kind) {
            Ok(s) => Ok((s.content_type, s.download)),
            Err(refused) => {
                self.discard(upload).await?;
                Err(refused.into())
            }
        }
    }
}
