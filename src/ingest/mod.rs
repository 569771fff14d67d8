//! Ingest: turning a stream of bytes from a client into an immutable, content-addressed object
//! and an asset of a lesson.
//!
//! Invariants:
//! - Memory does not grow with the size of a file: bytes are cut into parts as they arrive and at
//!   most a few parts are held at once (see `storage::PartSink`).
//! - The type of a file is decided from its first bytes before anything is stored
//!   (`domain::asset::sniff`); a refused file leaves nothing behind.
//! - The SHA-256 is computed while streaming. Objects are written under fresh keys; when the same
//!   bytes were already stored, the new copy is deleted and the asset points at the old one.
//! - A failed or refused upload aborts its multipart upload, so no half-written object remains.

pub mod hash;
mod parts;
pub mod tus;

use crate::db::Db;
use crate::db::assets::{AssetRecord, NewAsset, Recorded};
use crate::db::audit::Actor;
use crate::db::lessons::LessonRecord;
use crate::domain::Invalid;
use crate::domain::asset::{AssetRole, Disposition, Refused, SNIFF_LEN, Sniffed, sniff};
use crate::domain::filename::FileName;
use crate::domain::lesson::LessonKind;
use crate::domain::subtitle::{self, Broken, MAX_SUBTITLE_BYTES, SubtitleFormat};
use crate::storage::{ObjectStore, PartSink, StorageError};
use bytes::Bytes;
use futures::{Stream, StreamExt};
use hash::ResumableSha256;
use parts::Parts;

pub use crate::storage::{MIN_PART_SIZE, PART_SIZE};

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error(transparent)]
    Refused(#[from] Refused),
    #[error("the subtitle file cannot be read: {0}")]
    Subtitle(#[from] Broken),
    #[error("the file is larger than the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("no such lesson")]
    LessonNotFound,
    #[error("the lesson's files cannot change while it is in review or published")]
    Frozen,
    #[error("no such upload")]
    UploadNotFound,
    #[error("the upload has expired")]
    Expired,
    #[error("the upload is at offset {expected}, not at the offset given")]
    OffsetMismatch { expected: i64 },
    #[error("the upload is already complete")]
    AlreadyComplete,
    #[error("another request is writing this upload; retry shortly")]
    Locked,
    #[error("the checksum of the request body does not match Upload-Checksum")]
    ChecksumMismatch,
    #[error("the request body ended early: {0}")]
    BodyAborted(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("database failure")]
    Db(#[from] sqlx::Error),
}

/// Who is uploading: recorded in the audit log; `bypass_review` (operator tokens) lets files
/// change while a lesson is in review or live.
#[derive(Debug, Clone, Copy)]
pub struct Uploader<'a> {
    pub actor: &'a Actor,
    pub bypass_review: bool,
}

/// The ingest service.
#[derive(Clone, Debug)]
pub struct Ingest {
    pub db: Db,
    pub store: ObjectStore,
    pub max_bytes: u64,
    pub upload_expiry_ms: i64,
    pub lease_ms: i64,
}

/// A fresh, never reused object key.
pub fn new_object_key() -> String {
    format!("objects/{}", uuid::Uuid::now_v7())
}

/// Parses the role and filename of an upload and checks, before any byte arrives, that such a
/// file may be attached to `kind` lessons.
pub fn admit(
    role: &str,
    filename: &str,
    kind: LessonKind,
) -> Result<(AssetRole, FileName), IngestError> {
    let role = AssetRole::parse(role)?;
    let filename = FileName::parse(filename)?;
    crate::domain::asset::admit_name(filename.extension().as_deref(), role, kind)?;
    Ok((role, filename))
}

/// Parses the language given with an upload (`language`), which only a subtitle may carry.
pub fn admit_language(
    language: Option<&str>,
    role: AssetRole,
) -> Result<Option<String>, IngestError> {
    match language {
        None => Ok(None),
        Some(_) if role != AssetRole::Subtitle => Err(Invalid::new(
            "language",
            "only a subtitle has a language; leave it out for other roles",
        )
        .into()),
        Some(l) => Ok(Some(subtitle::language(l)?)),
    }
}

/// The language of a subtitle: the one given with the upload, else the one its filename names
/// (`subtitle::language_from_filename`), else its lesson's (when that is a tag of the subtitle
/// rule), else `zh`.
pub fn subtitle_language(
    given: Option<&str>,
    filename: &FileName,
    lesson: &LessonRecord,
) -> String {
    given
        .map(str::to_owned)
        .or_else(|| subtitle::language_from_filename(filename.as_str()))
        .or_else(|| subtitle::language(&lesson.language).ok())
        .unwrap_or_else(|| "zh".to_owned())
}

/// What a subtitle file was found to hold when it was read whole (see `subtitle::read`).
#[derive(Debug, Clone)]
pub struct CheckedSubtitle {
    pub format: SubtitleFormat,
    pub encoding: &'static str,
    pub cues: i64,
    pub language: String,
}

impl CheckedSubtitle {
    /// Reads `bytes`, the whole file, as the subtitle named `filename`.
    pub fn read(bytes: &[u8], filename: &FileName, language: String) -> Result<Self, IngestError> {
        let format = filename
            .extension()
            .as_deref()
            .and_then(SubtitleFormat::from_extension)
            .ok_or(Refused::NoExtension)?;
        let read = subtitle::read(format, bytes)?;
        Ok(Self {
            format,
            encoding: read.encoding,
            cues: read.cues.len() as i64,
            language,
        })
    }

    /// [`CheckedSubtitle::read`] on a blocking thread (a file of up to 8 MiB takes a few tens of
    /// milliseconds to decode and read, too long to hold an async worker).
    pub async fn read_blocking(
        bytes: Bytes,
        filename: &FileName,
        language: String,
    ) -> Result<Self, IngestError> {
        let name = filename.clone();
        tokio::task::spawn_blocking(move || Self::read(&bytes, &name, language))
            .await
            .unwrap_or_else(|_| {
                Err(Broken {
                    line: None,
                    reason: "the reader gave up on this file".to_owned(),
                }
                .into())
            })
    }

    /// The media type the file is stored with: its format, and the charset it was written in.
    pub fn content_type(&self) -> String {
        self.format.content_type(self.encoding)
    }

    pub fn record(&self) -> crate::db::subtitles::NewSubtitle<'_> {
        crate::db::subtitles::NewSubtitle {
            language: &self.language,
            format: self.format.as_str(),
            encoding: self.encoding,
            cues: self.cues,
        }
    }
}

impl Ingest {
    /// Stores `body` as a `role` asset of `lesson` named `filename`. `declared_len` is the
    /// request's `Content-Length`, if it sent one.
    #[expect(
        clippy::too_many_arguments,
        reason = "each is a distinct fact of the upload"
    )]
    pub async fn upload<S, E>(
        &self,
        lesson: &LessonRecord,
        role: AssetRole,
        filename: &FileName,
        language: Option<&str>,
        declared_len: Option<u64>,
        body: S,
        by: Uploader<'_>,
    ) -> Result<AssetRecord, IngestError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let kind = lesson.kind;
        if declared_len.is_some_and(|n| n > self.max_bytes) {
            return Err(IngestError::TooLarge {
                limit: self.max_bytes,
            });
        }
        let mut body = Counted::new(body, self.max_bytes);
        // The first bytes decide the type; the chunks read for them are then stored like the rest.
        let mut head = Vec::with_capacity(SNIFF_LEN);
        let mut first: Vec<Bytes> = Vec::new();
        while head.len() < SNIFF_LEN {
            let Some(chunk) = body.next_chunk().await? else {
                break;
            };
            head.extend_from_slice(&chunk[..chunk.len().min(SNIFF_LEN - head.len())]);
            first.push(chunk);
        }
        let mut sniffed = sniff(&head, filename.extension().as_deref(), role, kind)?;
        // A subtitle is read whole before anything is stored, so a broken one leaves nothing
        // behind; it is small (at most MAX_SUBTITLE_BYTES).
        let mut checked = None;
        if role == AssetRole::Subtitle {
            if declared_len.is_some_and(|n| n > MAX_SUBTITLE_BYTES) {
                return Err(IngestError::TooLarge {
                    limit: MAX_SUBTITLE_BYTES,
                });
            }
            let mut whole: Vec<u8> = first.iter().flat_map(|c| c.iter().copied()).collect();
            loop {
                if whole.len() as u64 > MAX_SUBTITLE_BYTES {
                    return Err(IngestError::TooLarge {
                        limit: MAX_SUBTITLE_BYTES,
                    });
                }
                match body.next_chunk().await? {
                    Some(chunk) => whole.extend_from_slice(&chunk),
                    None => break,
                }
            }
            let language = subtitle_language(language, filename, lesson);
            let whole = Bytes::from(whole);
            let subtitle =
                CheckedSubtitle::read_blocking(whole.clone(), filename, language).await?;
            sniffed.content_type = subtitle.content_type();
            checked = Some(subtitle);
            first = vec![whole];
        }
        let key = new_object_key();
        let mut hasher = ResumableSha256::new();
        let mut first = first.into_iter();
        // The multipart upload starts only when a first part is full; a smaller file is one PUT.
        let mut sink: Option<PartSink> = None;
        let stored = async {
            let mut parts = Parts::new(self.store.part_buffers());
            loop {
                let chunk = match first.next() {
                    Some(chunk) => chunk,
                    None => match body.next_chunk().await? {
                        Some(chunk) => chunk,
                        None => break,
                    },
                };
                hasher.update(&chunk);
                for part in parts.push(&chunk) {
                    let s = match &mut sink {
                        Some(s) => s,
                        None => {
                            let id = self
                                .store
                                .create_multipart(&key, &sniffed.content_type)
                                .await?;
                            sink.insert(PartSink::new(
                                self.store.clone(),
                                key.clone(),
                                id,
                                Vec::new(),
                            ))
                        }
                    };
                    s.send(part).await?;
                }
            }
            match &mut sink {
                None => {
                    self.store
                        .put(&key, parts.copy_rest(), &sniffed.content_type)
                        .await?
                }
                Some(s) => {
                    if let Some(rest) = parts.take_rest() {
                        s.send(rest).await?;
                    }
                    s.complete().await?;
                }
            }
            Ok::<(), IngestError>(())
        }
        .await;
        if let Err(e) = stored {
            if let Some(s) = sink.take() {
                let upload_id = s.upload_id().to_owned();
                drop(s);
                if let Err(abort) = self.store.abort_multipart(&key, &upload_id).await {
                    tracing::warn!(error = %abort, %key, "could not abort a failed upload");
                }
            }
            return Err(e);
        }
        self.record(
            lesson,
            role,
            filename,
            &sniffed,
            &hasher,
            body.seen as i64,
            &key,
            checked.as_ref(),
            by,
        )
        .await
    }

    /// Records a stored object as an asset, deleting the object again if its bytes were already
    /// stored or the lesson went away meanwhile.
    #[expect(
        clippy::too_many_arguments,
        reason = "each is a distinct fact of the new asset"
    )]
    async fn record(
        &self,
        lesson: &LessonRecord,
        role: AssetRole,
        filename: &FileName,
        sniffed: &Sniffed,
        hasher: &ResumableSha256,
        size: i64,
        key: &str,
        subtitle: Option<&CheckedSubtitle>,
        by: Uploader<'_>,
    ) -> Result<AssetRecord, IngestError> {
        let sha256 = hex::encode(hasher.finalize());
        let new = NewAsset {
            lesson_id: &lesson.id,
            role: role.as_str(),
            filename: filename.as_str(),
            content_type: &sniffed.content_type,
            disposition: disposition(sniffed.download),
            sha256: &sha256,
            size,
            object_key: key,
            actor: by.actor,
            bypass_review: by.bypass_review,
            subtitle: subtitle.map(CheckedSubtitle::record),
        };
        let recorded = self.db.record_asset(&new).await?;
        self.settle(recorded, key).await
    }

    /// Deletes what a recording left over and turns its outcome into a result.
    async fn settle(&self, recorded: Recorded, key: &str) -> Result<AssetRecord, IngestError> {
        match recorded {
            Recorded::Asset {
                asset,
                duplicate_object,
            } => {
                if let Some(dup) = duplicate_object {
                    self.delete_quietly(&dup).await;
                }
                Ok(*asset)
            }
            Recorded::LessonGone => {
                self.delete_quietly(key).await;
                Err(IngestError::LessonNotFound)
            }
            Recorded::Frozen => {
                self.delete_quietly(key).await;
                Err(IngestError::Frozen)
            }
        }
    }

    async fn delete_quietly(&self, key: &str) {
        if let Err(e) = self.store.delete(key).await {
            tracing::warn!(error = %e, %key, "could not delete an unneeded object");
        }
    }
}

pub fn disposition(download: bool) -> Disposition {
    Disposition::for_download(download)
}

/// A request body that counts its bytes and refuses to go past a limit.
struct Counted<S> {
    inner: S,
    seen: u64,
    limit: u64,
}

impl<S, E> Counted<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    fn new(inner: S, limit: u64) -> Self {
        Self {
            inner,
            seen: 0,
            limit,
        }
    }

    /// The next chunk of the body; `None` at its end.
    async fn next_chunk(&mut self) -> Result<Option<Bytes>, IngestError> {
        match self.inner.next().await {
            None => Ok(None),
            Some(Err(e)) => Err(IngestError::BodyAborted(e.to_string())),
            Some(Ok(chunk)) => {
                self.seen += chunk.len() as u64;
                metrics::counter!("lectern_upload_bytes_total", "protocol" => "stream")
                    .increment(chunk.len() as u64);
                if self.seen > self.limit {
                    return Err(IngestError::TooLarge { limit: self.limit });
                }
                Ok(Some(chunk))
            }
        }
    }
}
