//! `GET /api/v1/me/learning`: the signed-in member's learning archive (我的学习档案), and
//! `GET /api/v1/me/learning.csv`, the same as a spreadsheet. Adapters over `services::learning`.

use crate::http::AppState;
use crate::http::error::{AppError, Problem};
use crate::http::extract::Writer;
use crate::services::learning::{self, Archive};
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::ToSchema;

/// One lesson of the archive.
#[derive(Debug, Serialize, ToSchema)]
pub struct LearnedView {
    pub lesson_id: String,
    /// `null` when the lesson is gone or no longer readable (its record still counts).
    #[schema(required)]
    pub title: Option<String>,
    /// Where it was learned: `library` (Lectern's own player) or a platform's id.
    pub source: String,
    /// The platform's name when `source` is a platform; `null` for the library.
    #[schema(required)]
    pub source_name: Option<String>,
    /// How much of the lesson has been played, 0–100.
    #[schema(minimum = 0, maximum = 100)]
    pub covered_percent: i64,
    /// Time spent on it, milliseconds.
    pub time_ms: i64,
    pub completed: bool,
    #[schema(required, format = DateTime)]
    pub completed_at: Option<String>,
    #[schema(format = DateTime)]
    pub first_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

/// One quarter of the archive.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuarterView {
    pub year: i32,
    #[schema(minimum = 1, maximum = 4)]
    pub quarter: u8,
    pub time_ms: i64,
    /// Lessons first learned in the quarter.
    pub completed: i64,
    /// Lessons played in the quarter.
    pub lessons: i64,
}

/// A series the member's organisations require, and where the member is with it.
#[derive(Debug, Serialize, ToSchema)]
pub struct RequiredView {
    pub series: String,
    /// The organisation that requires it.
    pub org_name: String,
    /// Published lessons of the series.
    pub lessons: i64,
    /// Of them, completed by the member on any channel.
    pub completed: i64,
    /// Every one completed.
    pub done: bool,
}

/// The signed-in member's learning archive.
#[derive(Debug, Serialize, ToSchema)]
pub struct ArchiveView {
    /// The series the member's organisations require: done or missing.
    pub required: Vec<RequiredView>,
    /// Time spent on every lesson and channel, milliseconds.
    pub time_ms: i64,
    /// Lessons learned.
    pub completed: i64,
    /// Newest first.
    pub quarters: Vec<QuarterView>,
    /// Most recently played first.
    pub lessons: Vec<LearnedView>,
}

impl From<Archive> for ArchiveView {
    fn from(a: Archive) -> Self {
        let at = crate::domain::time::rfc3339;
        Self {
            required: a
                .required
                .iter()
                .map(|r| RequiredView {
                    done: r.done(),
                    series: r.series.clone(),
                    org_name: r.org_name.clone(),
                    lessons: r.lessons,
                    completed: r.completed,
                })
                .collect(),
            time_ms: a.time_ms,
            completed: a.completed,
            quarters: a
                .quarters
                .into_iter()
                .map(|q| QuarterView {
                    year: q.year,
                    quarter: q.quarter,
                    time_ms: q.time_ms,
                    completed: q.completed,
                    lessons: q.lessons,
                })
                .collect(),
            lessons: a
                .lessons
                .into_iter()
                .map(|l| LearnedView {
                    completed: l.completed_at.is_some(),
                    completed_at: l.completed_at.map(at),
                    first_at: at(l.first_at),
                    updated_at: at(l.updated_at),
                    lesson_id: l.lesson_id,
                    title: l.title,
                    source: l.source,
                    source_name: l.source_name,
                    covered_percent: l.covered_percent,
                    time_ms: l.time_ms,
                })
                .collect(),
        }
    }
}

/// One source of a lesson's learning, in counts.
#[derive(Debug, Serialize, ToSchema)]
pub struct SourceLearningView {
    /// `library` (Lectern's own player) or a platform's id.
    pub source: String,
    /// The platform's name; `null` for the library.
    #[schema(required)]
    pub source_name: Option<String>,
    pub learners: i64,
    pub completed: i64,
    pub time_ms: i64,
}

/// How a lesson is learned, in counts only (no member is named).
#[derive(Debug, Serialize, ToSchema)]
pub struct LessonLearningView {
    pub lesson_id: String,
    /// Accounts with a record of it, on any channel.
    pub learners: i64,
    /// Records that count it as learned (one per account and channel).
    pub completed: i64,
    pub time_ms: i64,
    pub sources: Vec<SourceLearningView>,
}

#[utoipa::path(
    get,
    path = "/api/v1/lessons/{id}/learning",
    tag = "lessons",
    summary = "How a lesson is learned, in counts only: learners, completions and time, per channel — for its editors and reviewers and its organisation's administrators (no member's record is shown to them)",
    params(("id" = String, Path, description = "the lesson")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "the counts", body = LessonLearningView),
        (status = 403, description = "not the lesson's editor, reviewer or administrator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such lesson the caller may read", body = Problem, content_type = "application/problem+json")
    )
)]
pub async fn get_lesson_learning(
    State(state): State<AppState>,
    Writer(acting): Writer,
    crate::http::extract::Path(id): crate::http::extract::Path<String>,
) -> Result<axum::Json<LessonLearningView>, AppError> {
    let l = learning::lesson_learning(&state.db, &acting, &id).await?;
    Ok(axum::Json(LessonLearningView {
        lesson_id: l.lesson_id,
        learners: l.learners,
        completed: l.completed,
        time_ms: l.time_ms,
        sources: l
            .sources
            .into_iter()
            .map(|(t, name)| SourceLearningView {
                source: t.source,
                source_name: name,
                learners: t.learners,
                completed: t.completed,
                time_ms: t.time_ms,
            })
            .collect(),
    }))
}

#[utoipa::path(
    get,
    path = "/api/v1/me/learning",
    tag = "library",
    summary = "The signed-in member's learning archive: every lesson played, on every channel, with time spent, how much was covered and whether it was learned, and the totals per quarter",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "the archive", body = ArchiveView),
        (status = 401, description = "not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "an operator token or a platform key: no account", body = Problem, content_type = "application/problem+json")
    )
)]
pub async fn get_archive(
    State(state): State<AppState>,
    Writer(acting): Writer,
) -> Result<axum::Json<ArchiveView>, AppError> {
    let archive = learning::archive(&state.db, &acting.caller).await?;
    Ok(axum::Json(archive.into()))
}

#[utoipa::path(
    get,
    path = "/api/v1/me/learning.csv",
    tag = "library",
    summary = "The signed-in member's learning archive as CSV (UTF-8 with a byte-order mark, so spreadsheet programs read the Chinese); the export is recorded in the audit log",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "one row per lesson and channel", content_type = "text/csv"),
        (status = 401, description = "not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "an operator token or a platform key: no account", body = Problem, content_type = "application/problem+json")
    )
)]
pub async fn get_archive_csv(
    State(state): State<AppState>,
    Writer(acting): Writer,
) -> Result<impl IntoResponse, AppError> {
    let archive = learning::export(&state.db, &acting).await?;
    let body = csv(&archive).map_err(|e| AppError::internal(&e))?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"learning.csv\"; filename*=UTF-8''%E5%AD%A6%E4%B9%A0%E6%A1%A3%E6%A1%88.csv",
            ),
        ],
        body,
    ))
}

/// The archive as CSV: a byte-order mark (spreadsheet programs then read UTF-8), a header row in
/// Chinese, one row per lesson and channel.
fn csv(a: &Archive) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(b"\xEF\xBB\xBF".to_vec());
    w.write_record([
        "课程编号",
        "课程",
        "渠道",
        "学习时长（分钟）",
        "完成度（%）",
        "是否完成",
        "完成时间",
        "首次学习",
        "最近学习",
    ])?;
    let china = crate::domain::time::china_time;
    for l in &a.lessons {
        w.write_record([
            l.lesson_id.clone(),
            l.title.clone().unwrap_or_default(),
            l.source_name.clone().unwrap_or_else(|| l.source.clone()),
            format!("{:.1}", l.time_ms as f64 / 60_000.0),
            l.covered_percent.to_string(),
            if l.completed_at.is_some() {
                "是"
            } else {
                "否"
            }
            .to_owned(),
            l.completed_at.map(china).unwrap_or_default(),
            china(l.first_at),
            china(l.updated_at),
        ])?;
    }
    w.into_inner().map_err(|e| e.into_error().into())
}
