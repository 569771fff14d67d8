//! Uploads: the business steps of putting a file on a lesson, whole (one streamed request) or
//! resumable (tus). Each step decides through `visibility` (via [`catalog::editable_lesson`])
//! before `ingest` sees a byte; `ingest` then stores the bytes and records the asset, with its
//! audit entry and change-log append, in one transaction (`db::assets::record_asset`), and checks
//! again that the lesson's files may still change when an upload completes.
//!
//! Invariants: a caller who may not change a lesson's files cannot create, read the progress of,
//! append to or terminate an upload of it. An upload of a lesson the caller may not read is
//! answered with the same 404 as a missing one. The protocol (headers, tus) is the adapter's;
//! this module takes parsed values.

use super::{Acting, ServiceError, catalog};
use crate::db::assets::AssetRecord;
use crate::db::uploads::UploadRecord;
use crate::ingest::tus::{Checksum, Patched};
use crate::ingest::{Ingest, IngestError, Uploader, admit, admit_language};
use bytes::Bytes;
use futures::Stream;

/// Why an upload step was not taken: a refusal of the catalogue (permission, frozen files), or
/// one of ingest (size, type, offset, checksum, expiry).
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error(transparent)]
    Service(#[from] ServiceError),
    #[error(transparent)]
    Ingest(#[from] IngestError),
}

impl From<sqlx::Error> for UploadError {
    fn from(e: sqlx::Error) -> Self {
        Self::Service(e.into())
    }
}

pub type Result<T, E = UploadError> = std::result::Result<T, E>;

fn uploader(acting: &Acting) -> Uploader<'_> {
    Uploader {
        actor: &acting.actor,
        bypass_review: catalog::is_operator(&acting.caller),
    }
}

/// Stores `body` as a `role` asset named `filename` of lesson `lesson_id`, streaming it; a
/// subtitle is read and checked before it is stored, in `language` when one is given (see
/// `ingest::subtitle_language`). `declared_len` is the request's `Content-Length`, when it sent
/// one (refused at once when over the limit).
#[expect(
    clippy::too_many_arguments,
    reason = "each is a distinct fact of the upload"
)]
pub async fn upload_asset<S, E>(
    ingest: &Ingest,
    acting: &Acting,
    lesson_id: &str,
    role: &str,
    filename: &str,
    language: Option<&str>,
    declared_len: Option<u64>,
    body: S,
) -> Result<AssetRecord>
where
    S: Stream<Item = std::result::Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let lesson = catalog::editable_lesson(&ingest.db, acting, lesson_id).await?;
    let kind = lesson.kind;
    let (role, filename) = admit(role, filename, kind)?;
    let language = admit_language(language, role)?;
    Ok(ingest
        .upload(
            &lesson,
            role,
            &filename,
            language.as_deref(),
            declared_len,
            body,
            uploader(acting),
        )
        .await?)
}

/// Creates a resumable upload of `length` bytes that will become a `role` asset named
/// `filename` of lesson `lesson_id` (a subtitle in `language`, when given).
pub async fn create(
    ingest: &Ingest,
    acting: &Acting,
    lesson_id: &str,
    role: &str,
    filename: &str,
    language: Option<&str>,
    length: u64,
) -> Result<UploadRecord> {
    catalog::editable_lesson(&ingest.db, acting, lesson_id).await?;
    Ok(ingest
        .create_upload(lesson_id, role, filename, language, length)
        .await?)
}

/// An upload the caller may write to: only [`writable`] makes one, after the permission check.
#[derive(Debug)]
pub struct Writable(UploadRecord);

impl Writable {
    /// How the upload stands.
    pub fn record(&self) -> &UploadRecord {
        &self.0
    }
}

/// Upload `id`, if the caller may change its lesson's files.
pub async fn writable(ingest: &Ingest, acting: &Acting, id: &str) -> Result<Writable> {
    let upload = ingest.upload_status(id).await?;
    catalog::editable_lesson(&ingest.db, acting, &upload.lesson_id).await?;
    Ok(Writable(upload))
}

/// Appends `body` to `upload` at `offset`, checked against `checksum` when given. The last bytes
/// turn the upload into an asset.
pub async fn append<S, E>(
    ingest: &Ingest,
    acting: &Acting,
    upload: Writable,
    offset: i64,
    checksum: Option<Checksum>,
    body: S,
) -> Result<Patched>
where
    S: Stream<Item = std::result::Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    Ok(ingest
        .patch_upload(&upload.0.id, offset, checksum, body, uploader(acting))
        .await?)
}

/// Terminates `upload`: its bytes are deleted and it is gone.
pub async fn terminate(ingest: &Ingest, upload: Writable) -> Result<()> {
    Ok(ingest.terminate_upload(&upload.0.id).await?)
}
