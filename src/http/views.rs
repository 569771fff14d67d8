//! Wire types: how records look in JSON. Domain and database types never reach the wire directly.

use crate::db::assets::AssetRecord;
use crate::db::lessons::LessonRecord;
use crate::db::texts::ExtractionRow;
use crate::domain::asset::ExtractionStatus;
use crate::domain::lesson::{LessonStatus, RevisionState};
use crate::domain::time::rfc3339;
use serde::Serialize;

/// Unix milliseconds as an HTTP-date (RFC 9110 §5.6.7), e.g. for `Upload-Expires`.
pub fn http_date(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    t.format(&format).unwrap_or_default()
}

/// Raw bytes (a file, a range of one) in the OpenAPI document: a binary string of the body's
/// media type, rather than the array of numbers `Vec<u8>` would be.
pub struct Binary;

impl utoipa::PartialSchema for Binary {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .into()
    }
}

impl utoipa::ToSchema for Binary {}

/// A file of a lesson.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AssetView {
    pub id: String,
    pub lesson_id: String,
    pub role: crate::domain::asset::AssetRole,
    /// The name it was uploaded with (served in `Content-Disposition`, never used as a path).
    pub filename: String,
    /// Bytes.
    pub size: i64,
    /// The type sniffed from its first bytes.
    pub content_type: String,
    /// Hex SHA-256 of the bytes; also the `ETag` of its content.
    pub sha256: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    /// Where its bytes are served (`GET`, with ranges).
    pub content_url: String,
    /// Whether its text was extracted for search, and if not why (a document or subtitle whose
    /// extraction is recorded). Given for one asset or one lesson, left out of listings.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub text: Option<TextView>,
    /// What media processing made of a video or audio master, ready to use. Given for one
    /// lesson, left out of listings and for other files.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub media: Option<AssetMediaView>,
}

/// The ready renditions of a master, with where to play or fetch them.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AssetMediaView {
    /// The HLS master playlist (`application/vnd.apple.mpegurl`), when an HLS variant is ready.
    #[schema(required)]
    pub hls_url: Option<String>,
    pub renditions: Vec<ReadyRenditionView>,
}

/// A ready rendition of a master.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReadyRenditionView {
    pub kind: crate::domain::media::RenditionKind,
    #[schema(required)]
    pub content_type: Option<String>,
    /// Bytes (an HLS variant: all its files).
    #[schema(required)]
    pub size: Option<i64>,
    /// Bits per second (average).
    #[schema(required)]
    pub bit_rate: Option<i64>,
    #[schema(required)]
    pub width: Option<i64>,
    #[schema(required)]
    pub height: Option<i64>,
    #[schema(required)]
    pub duration_ms: Option<i64>,
    /// An HLS variant's playlist, or a file's download (a redirect to a presigned URL).
    pub url: String,
}

/// Whether an asset's text could be extracted for search.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TextStatus {
    /// All of the text is indexed.
    Ok,
    /// The text is indexed except what `error` says was left out (a PDF page over the
    /// extraction's budget, say).
    Partial,
    /// No text could be read; `error` says why.
    Failed,
}

/// The outcome of extracting an asset's text for search.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TextView {
    pub status: TextStatus,
    /// Why it failed, such as a file over the extraction's memory budget, or what was left
    /// out of a partial text; `null` when neither.
    #[schema(required)]
    pub error: Option<String>,
    /// How many pages, chunks or cues were found.
    pub segments: i64,
}

impl AssetView {
    /// Adds what `extractions` (looked up by the assets' SHA-256) say of the asset's text.
    pub fn with_text(mut self, extractions: &[ExtractionRow]) -> Self {
        self.text = extractions
            .iter()
            .find(|e| e.sha256 == self.sha256)
            .map(|e| TextView {
                status: match (e.status, &e.error) {
                    (ExtractionStatus::Ok, None) => TextStatus::Ok,
                    (ExtractionStatus::Ok, Some(_)) => TextStatus::Partial,
                    (ExtractionStatus::Failed, _) => TextStatus::Failed,
                },
                error: e.error.clone(),
                segments: e.segments,
            });
        self
    }

    /// Adds the ready renditions (looked up by the assets' SHA-256) of a video or audio master.
    pub fn with_media(mut self, renditions: &[crate::db::media::RenditionRecord]) -> Self {
        let processed = self.role == crate::domain::asset::AssetRole::Master
            && (self.content_type.starts_with("video/") || self.content_type.starts_with("audio/"));
        if !processed {
            return self;
        }
        let mine: Vec<_> = renditions
            .iter()
            .filter(|r| r.source_sha256 == self.sha256)
            .collect();
        if mine.is_empty() {
            return self;
        }
        let base = format!("/api/v1/assets/{}/media", self.id);
        self.media = Some(AssetMediaView {
            hls_url: mine
                .iter()
                .any(|r| r.kind.hls().is_some())
                .then(|| format!("{base}/hls/master.m3u8")),
            renditions: mine
                .iter()
                .map(|r| ReadyRenditionView {
                    kind: r.kind,
                    content_type: r.content_type.clone(),
                    size: r.size,
                    bit_rate: r.bit_rate,
                    width: r.width,
                    height: r.height,
                    duration_ms: r.duration_ms,
                    url: match r.kind.hls() {
                        Some(v) => format!("{base}/hls/{}.m3u8", v.name()),
                        None => format!("{base}/{}/file", r.kind.as_str()),
                    },
                })
                .collect(),
        });
        self
    }
}

impl From<&AssetRecord> for AssetView {
    fn from(a: &AssetRecord) -> Self {
        Self {
            id: a.id.clone(),
            lesson_id: a.lesson_id.clone(),
            role: a.role,
            filename: a.filename.clone(),
            size: a.size,
            content_type: a.content_type.clone(),
            sha256: a.sha256.clone(),
            created_at: rfc3339(a.created_at),
            content_url: format!("/api/v1/assets/{}/content", a.id),
            text: None,
            media: None,
        }
    }
}

/// A lesson with its files. Its live fields: an editor's changes wait on the working revision
/// (`/revisions`) until published.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LessonView {
    pub id: String,
    pub title: String,
    pub description: String,
    pub kind: crate::domain::lesson::LessonKind,
    pub tags: Vec<String>,
    /// 主讲人.
    #[schema(required)]
    pub lecturer: Option<String>,
    #[schema(required)]
    pub series: Option<String>,
    /// A GB/T 2260 region code.
    #[schema(required, pattern = "^[0-9]{6}$")]
    pub region_code: Option<String>,
    #[schema(required, format = Date)]
    pub recorded_on: Option<String>,
    /// A BCP 47 language tag.
    pub language: String,
    pub status: LessonStatus,
    /// Grows with every change of the live fields; sent as the `ETag` `"v<version>"`.
    pub version: i64,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
    #[schema(required, format = DateTime)]
    pub published_at: Option<String>,
    /// The owning organisation (`null` for lessons made by an operator outside any).
    #[schema(required)]
    pub org_id: Option<String>,
    /// The subtree it is published to; the owner's when `null`.
    #[schema(required)]
    pub scope_org_id: Option<String>,
    /// A scheduled publication.
    #[schema(required, format = DateTime)]
    pub publish_at: Option<String>,
    /// A scheduled withdrawal.
    #[schema(required, format = DateTime)]
    pub withdraw_at: Option<String>,
    /// Who receives it inside its scope: a narrower subtree, or named platforms (neither: the
    /// whole scope).
    pub audience: AudienceView,
    pub assets: Vec<AssetView>,
}

/// Who receives a lesson inside its scope.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AudienceView {
    /// A subtree of the scope; `null`: the whole scope.
    #[schema(required)]
    pub org_id: Option<String>,
    /// Named platforms only, when not empty.
    pub platforms: Vec<String>,
}

impl LessonView {
    /// A lesson with its assets and what was extracted from their text.
    pub fn detail(d: crate::services::catalog::LessonDetail) -> Self {
        let mut view = Self::new(d.lesson, &d.assets);
        view.assets = view
            .assets
            .into_iter()
            .map(|a| a.with_text(&d.extractions).with_media(&d.renditions))
            .collect();
        view
    }

    pub fn new(l: LessonRecord, assets: &[AssetRecord]) -> Self {
        Self {
            assets: assets
                .iter()
                .filter(|a| a.lesson_id == l.id)
                .map(AssetView::from)
                .collect(),
            id: l.id,
            title: l.title,
            description: l.description,
            kind: l.kind,
            tags: l.tags,
            lecturer: l.lecturer,
            series: l.series,
            region_code: l.region_code,
            recorded_on: l.recorded_on,
            language: l.language,
            status: l.status,
            version: l.version,
            created_at: rfc3339(l.created_at),
            updated_at: rfc3339(l.updated_at),
            published_at: l.published_at.map(rfc3339),
            org_id: l.org_id,
            scope_org_id: l.scope_org_id,
            publish_at: l.publish_at.map(rfc3339),
            withdraw_at: l.withdraw_at.map(rfc3339),
            audience: AudienceView {
                org_id: l.audience_org_id,
                platforms: l.platforms,
            },
        }
    }
}

/// A revision of a lesson's fields and where it stands in review.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RevisionView {
    pub lesson_id: String,
    pub number: i64,
    pub state: RevisionState,
    /// The lesson's fields in this revision.
    #[schema(value_type = Object)]
    pub fields: serde_json::Value,
    pub author_id: Option<String>,
    pub scope_org_id: Option<String>,
    /// The organisations that must approve, the lesson's owner first.
    pub chain: Vec<String>,
    pub approvals: Vec<ApprovalView>,
    /// The level awaiting a decision, while submitted.
    pub next_level: Option<String>,
    pub submitted_by: Option<String>,
    pub submitted_at: Option<String>,
    pub decided_at: Option<String>,
    /// The reviewer's comment on a rejection.
    pub comment: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl RevisionView {
    pub fn new(
        r: crate::db::workflow::RevisionRecord,
        approvals: Vec<crate::db::workflow::ApprovalRecord>,
    ) -> Self {
        let chain = r.chain();
        let next_level = (r.state == RevisionState::Submitted)
            .then(|| crate::db::workflow::next_level(&chain, &approvals).cloned())
            .flatten();
        Self {
            fields: serde_json::from_str(&r.fields).unwrap_or_default(),
            lesson_id: r.lesson_id,
            number: r.number,
            state: r.state,
            author_id: r.author_id,
            scope_org_id: r.scope_org_id,
            chain,
            approvals: approvals.into_iter().map(ApprovalView::from).collect(),
            next_level,
            submitted_by: r.submitted_by,
            submitted_at: r.submitted_at.map(rfc3339),
            decided_at: r.decided_at.map(rfc3339),
            comment: r.comment,
            created_at: rfc3339(r.created_at),
            updated_at: rfc3339(r.updated_at),
        }
    }
}

/// An approval of one level of a revision.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ApprovalView {
    /// The organisation whose level was approved.
    pub org_id: String,
    /// The reviewer (an account id, or the label of an operator token).
    pub reviewer_id: String,
    /// When, in Unix milliseconds.
    pub at: i64,
}

impl From<crate::db::workflow::ApprovalRecord> for ApprovalView {
    fn from(a: crate::db::workflow::ApprovalRecord) -> Self {
        Self {
            org_id: a.org_id,
            reviewer_id: a.reviewer_id,
            at: a.at,
        }
    }
}

/// How a submission stands after a review step.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReviewStateView {
    pub revision: i64,
    pub state: RevisionState,
    /// The level awaiting a decision, while submitted.
    pub next_level: Option<String>,
    pub approvals: Vec<ApprovalView>,
}

impl From<crate::db::workflow::ReviewState> for ReviewStateView {
    fn from(r: crate::db::workflow::ReviewState) -> Self {
        Self {
            revision: r.revision,
            state: r.state,
            next_level: r.next_level,
            approvals: r.approvals.into_iter().map(ApprovalView::from).collect(),
        }
    }
}

/// A list without pages.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Items<T> {
    pub items: Vec<T>,
}

/// One field that differs between two revisions.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FieldChangeView {
    pub field: String,
    pub from: serde_json::Value,
    pub to: serde_json::Value,
}

/// What changed between two revisions.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CompareView {
    pub from: i64,
    pub to: i64,
    pub changes: Vec<FieldChangeView>,
}

/// An organisation named in a listing.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrgRefView {
    pub id: String,
    pub name: String,
}

/// A submission in the reviewer's queue.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct QueueItemView {
    pub lesson_id: String,
    pub title: String,
    pub kind: crate::domain::lesson::LessonKind,
    pub org_id: Option<String>,
    /// The level awaiting the caller's decision.
    pub level: OrgRefView,
    pub revision: RevisionView,
}

impl From<crate::services::review::QueueItem> for QueueItemView {
    fn from(q: crate::services::review::QueueItem) -> Self {
        Self {
            lesson_id: q.lesson.id,
            title: q.lesson.title,
            kind: q.lesson.kind,
            org_id: q.lesson.org_id,
            level: OrgRefView {
                id: q.level.id,
                name: q.level.name,
            },
            revision: RevisionView::new(q.revision, q.approvals),
        }
    }
}

/// A lesson recommended upward to an organisation, and what became of it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RecommendationView {
    pub id: String,
    pub lesson_id: String,
    pub from_org_id: String,
    pub to_org_id: String,
    pub recommended_by: String,
    pub note: String,
    pub state: crate::domain::lesson::RecommendationState,
    pub decided_by: Option<String>,
    pub decision_comment: Option<String>,
    /// Unix milliseconds.
    pub created_at: i64,
    pub decided_at: Option<i64>,
}

impl From<crate::db::workflow::RecommendationRecord> for RecommendationView {
    fn from(r: crate::db::workflow::RecommendationRecord) -> Self {
        Self {
            id: r.id,
            lesson_id: r.lesson_id,
            from_org_id: r.from_org_id,
            to_org_id: r.to_org_id,
            recommended_by: r.recommended_by,
            note: r.note,
            state: r.state,
            decided_by: r.decided_by,
            decision_comment: r.decision_comment,
            created_at: r.created_at,
            decided_at: r.decided_at,
        }
    }
}

/// One page of a listing.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    #[schema(required)]
    pub next_cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_formatted_for_the_wire() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(
            http_date(1_700_000_000_000),
            "Tue, 14 Nov 2023 22:13:20 GMT"
        );
    }
}
