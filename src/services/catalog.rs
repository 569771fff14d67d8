//! The catalogue: lessons and their files. Creating, reading, listing, changing and deleting a
//! lesson; reading and deleting an asset; and who may change a lesson's files at all (the check
//! the upload paths make before and after ingest).
//!
//! Invariants: what a caller may not read is answered exactly like what does not exist
//! ([`ServiceError::NotFound`]); what they may read but not do is refused through
//! [`super::deny`], which records the attempt. Edits accumulate on the working revision, never on
//! the live fields (operators excepted, who act for the instance and bypass review).

use super::{Acting, Result, ServiceError, deny};
use crate::db::Db;
use crate::db::assets::AssetRecord;
use crate::db::lessons::{LessonFilter, LessonRecord, UpdateError};
use crate::db::orgs::OrgRecord;
use crate::db::texts::ExtractionRow;
use crate::db::workflow::Snapshot;
use crate::domain::Invalid;
use crate::domain::lesson::{self, LessonFields, LessonKind, LessonStatus, RegionCode, Title};
use crate::domain::visibility::{self, Action, Caller, Role, read_scope};

/// A lesson's fields as a client gives them, before validation.
#[derive(Debug, Clone, Default)]
pub struct NewLesson {
    pub title: String,
    pub description: String,
    pub kind: String,
    pub tags: Vec<String>,
    pub lecturer: Option<String>,
    pub series: Option<String>,
    pub region_code: Option<String>,
    pub recorded_on: Option<String>,
    pub language: Option<String>,
    /// The owning organisation; by default the one where the caller is an editor (required when
    /// there are several).
    pub org_id: Option<String>,
}

/// A change of a lesson's fields: `None` keeps a field, `Some(None)` clears an optional one.
#[derive(Debug, Clone, Default)]
pub struct LessonPatch {
    pub title: Option<String>,
    pub description: Option<String>,
    pub kind: Option<String>,
    pub tags: Option<Vec<String>>,
    pub lecturer: Option<Option<String>>,
    pub series: Option<Option<String>>,
    pub region_code: Option<Option<String>>,
    pub recorded_on: Option<Option<String>>,
    pub language: Option<String>,
}

/// A lesson with its files and the text extracted from them.
#[derive(Debug)]
pub struct LessonDetail {
    pub lesson: LessonRecord,
    pub assets: Vec<AssetRecord>,
    pub extractions: Vec<ExtractionRow>,
    /// The ready media renditions of the assets' contents.
    pub renditions: Vec<crate::db::media::RenditionRecord>,
}

/// The filters of a lesson listing, as a client gives them.
#[derive(Debug, Clone, Default)]
pub struct ListLessons {
    pub kind: Option<String>,
    pub tag: Option<String>,
    pub region: Option<String>,
    pub status: Option<String>,
    /// Only lessons owned by this organisation or below it.
    pub org: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<i64>,
}

/// One page of lessons, with the files of each.
#[derive(Debug)]
pub struct LessonPage {
    pub lessons: Vec<LessonRecord>,
    pub assets: Vec<AssetRecord>,
    pub next_cursor: Option<String>,
}

/// Collects every validation failure rather than stopping at the first.
#[derive(Default)]
struct Errors(Vec<Invalid>);

impl Errors {
    fn check<T>(&mut self, r: Result<T, Invalid>) -> Option<T> {
        r.map_err(|e| self.0.push(e)).ok()
    }
}

fn region(s: Option<&str>) -> Result<Option<RegionCode>, Invalid> {
    s.filter(|s| !s.is_empty())
        .map(RegionCode::parse)
        .transpose()
}

fn recorded_on(s: Option<&str>) -> Result<Option<String>, Invalid> {
    s.filter(|s| !s.is_empty())
        .map(|s| lesson::date("recorded_on", s))
        .transpose()
}

impl NewLesson {
    /// The validated fields, or every rule they break.
    pub fn parse(&self) -> Result<LessonFields> {
        let mut e = Errors::default();
        let fields = (
            e.check(Title::parse(&self.title)),
            e.check(lesson::description(&self.description)),
            e.check(LessonKind::parse(&self.kind)),
            e.check(lesson::optional_name("lecturer", self.lecturer.as_deref())),
            e.check(lesson::optional_name("series", self.series.as_deref())),
            e.check(region(self.region_code.as_deref())),
            e.check(recorded_on(self.recorded_on.as_deref())),
            e.check(lesson::language(
                self.language.as_deref().unwrap_or("zh-CN"),
            )),
            e.check(lesson::tags(&self.tags)),
        );
        match fields {
            (
                Some(title),
                Some(description),
                Some(kind),
                Some(lecturer),
                Some(series),
                Some(region_code),
                Some(recorded_on),
                Some(language),
                Some(tags),
            ) => Ok(LessonFields {
                title,
                description,
                kind,
                lecturer,
                series,
                region_code,
                recorded_on,
                language,
                tags,
            }),
            _ => Err(ServiceError::Invalid(e.0)),
        }
    }
}

impl LessonPatch {
    /// The lesson's fields after applying this change to `current` (the working revision's
    /// fields, or the live ones when there is none): the merged values are validated exactly as a
    /// new lesson's are.
    fn apply(self, current: &Snapshot) -> Result<LessonFields> {
        if self
            .kind
            .as_ref()
            .is_some_and(|k| k != current.kind.as_str())
        {
            return Err(Invalid::new("kind", "cannot be changed once a lesson exists").into());
        }
        let pick =
            |new: Option<Option<String>>, old: &Option<String>| new.unwrap_or_else(|| old.clone());
        NewLesson {
            title: self.title.unwrap_or_else(|| current.title.clone()),
            description: self
                .description
                .unwrap_or_else(|| current.description.clone()),
            kind: current.kind.as_str().to_owned(),
            tags: self.tags.unwrap_or_else(|| current.tags.clone()),
            lecturer: pick(self.lecturer, &current.lecturer),
            series: pick(self.series, &current.series),
            region_code: pick(self.region_code, &current.region_code),
            recorded_on: pick(self.recorded_on, &current.recorded_on),
            language: Some(self.language.unwrap_or_else(|| current.language.clone())),
            org_id: None,
        }
        .parse()
    }
}

/// Whether `caller` is an operator token (the instance itself, which bypasses review).
pub fn is_operator(caller: &Caller) -> bool {
    matches!(caller, Caller::Operator { .. })
}

/// Loads lesson `id` if `caller` may read it. A lesson the caller may not see is reported as
/// missing, so its existence does not leak.
pub async fn visible_lesson(db: &Db, caller: &Caller, id: &str) -> Result<LessonRecord> {
    match db.lesson(id).await? {
        Some(l) if visibility::may(caller, Action::Read, l.access()) => Ok(l),
        _ => Err(ServiceError::NotFound("lesson")),
    }
}

/// Loads lesson `id` for `action`: missing if the caller may not read it, refused (and audited)
/// if they may read but not do this, so that probing is visible.
pub async fn lesson_for(
    db: &Db,
    acting: &Acting,
    id: &str,
    action: Action,
) -> Result<LessonRecord> {
    let lesson = visible_lesson(db, &acting.caller, id).await?;
    if visibility::may(&acting.caller, action, lesson.access()) {
        Ok(lesson)
    } else {
        Err(deny(
            db,
            acting,
            &format!("{action:?}").to_lowercase(),
            "lesson",
            id,
            lesson.org_id.as_deref(),
        )
        .await)
    }
}

/// Loads lesson `id` for a change of its files. Besides the edit permission, the files are
/// frozen for everyone but operators from submission on (in review, approved or live): files are
/// reviewed with the fields, and would otherwise change under the reviewers or go live unseen.
/// The ingest layer checks the same again when an upload completes.
pub async fn editable_lesson(db: &Db, acting: &Acting, id: &str) -> Result<LessonRecord> {
    let lesson = lesson_for(db, acting, id, Action::Edit).await?;
    if !is_operator(&acting.caller) && db.files_frozen(id).await? {
        return Err(ServiceError::Conflict(
            "the lesson's files cannot change while it is in review or published; \
             withdraw it (or wait for the reviewer's decision) first"
                .to_owned(),
        ));
    }
    Ok(lesson)
}

/// `lesson` with its files and their extracted text.
pub async fn detail(db: &Db, lesson: LessonRecord) -> Result<LessonDetail> {
    let assets = db.lesson_assets(&lesson.id).await?;
    let shas: Vec<&str> = assets.iter().map(|a| a.sha256.as_str()).collect();
    let extractions = db.extractions_of(&shas).await?;
    let renditions = db.ready_renditions(&shas, None).await?;
    Ok(LessonDetail {
        lesson,
        assets,
        extractions,
        renditions,
    })
}

/// Lesson `id` with its files, if `caller` may read it.
pub async fn get_lesson(db: &Db, caller: &Caller, id: &str) -> Result<LessonDetail> {
    let lesson = visible_lesson(db, caller, id).await?;
    detail(db, lesson).await
}

/// Creates a lesson (a draft, with its first revision) in the organisation the caller edits for.
pub async fn create_lesson(db: &Db, acting: &Acting, input: NewLesson) -> Result<LessonDetail> {
    let org_id = owning_org(db, acting, input.org_id.clone()).await?;
    let fields = input.parse()?;
    let lesson = db
        .create_lesson(&fields, org_id.as_deref(), &acting.actor)
        .await?;
    detail(db, lesson).await
}

/// The organisation a new lesson belongs to: the one asked for, if the caller is an editor there,
/// or else the caller's only editing organisation. Operators may leave it unset.
async fn owning_org(db: &Db, acting: &Acting, asked: Option<String>) -> Result<Option<String>> {
    match (asked, acting.caller.user()) {
        (Some(id), _) => match db.org(&id).await? {
            Some(o) if visibility::may_create_in(&acting.caller, &o.path) => Ok(Some(o.id)),
            _ => Err(deny(db, acting, "create", "org", &id, Some(&id)).await),
        },
        // Operators may make lessons outside any organisation; nobody else may.
        (None, None) if is_operator(&acting.caller) => Ok(None),
        (None, None) => Err(deny(db, acting, "create", "lesson", "-", None).await),
        (None, Some(user)) => {
            let mut orgs: Vec<&str> = user
                .grants
                .iter()
                .filter(|g| g.role == Role::Editor)
                .map(|g| g.org_id.as_str())
                .collect();
            orgs.dedup();
            match orgs.as_slice() {
                [one] => Ok(Some((*one).to_owned())),
                [] => Err(deny(db, acting, "create", "lesson", "-", None).await),
                _ => Err(Invalid::new(
                    "org_id",
                    "you edit for several organisations: say which one owns the lesson",
                )
                .into()),
            }
        }
    }
}

/// Changes lesson `id`'s fields, if its version is one of `expected` (any, when `None`). The
/// change lands on the working revision; operators change the live lesson directly.
pub async fn update_lesson(
    db: &Db,
    acting: &Acting,
    id: &str,
    expected: Option<&[i64]>,
    patch: LessonPatch,
) -> Result<LessonDetail> {
    let current = lesson_for(db, acting, id, Action::Edit).await?;
    // Edits accumulate on the revision being worked on, not on the live fields.
    let base = match db.working_revision(id).await? {
        Some(w) => w.snapshot()?,
        None => Snapshot::of_record(&current),
    };
    let fields = patch.apply(&base)?;
    let live = is_operator(&acting.caller);
    match db
        .update_lesson(id, &fields, expected, &acting.actor, live)
        .await
    {
        Ok(lesson) => detail(db, lesson).await,
        Err(UpdateError::NotFound) => Err(ServiceError::NotFound("lesson")),
        Err(e @ UpdateError::VersionMismatch { .. }) => {
            Err(ServiceError::PreconditionFailed(e.to_string()))
        }
        Err(e @ UpdateError::UnderReview { .. }) => Err(ServiceError::Conflict(e.to_string())),
        Err(UpdateError::Db(e)) => Err(e.into()),
    }
}

/// Deletes lesson `id` with its files; a published lesson must be withdrawn first.
pub async fn delete_lesson(db: &Db, acting: &Acting, id: &str) -> Result<()> {
    lesson_for(db, acting, id, Action::Delete).await?;
    match db
        .delete_lesson(id, &acting.actor, is_operator(&acting.caller))
        .await?
    {
        Some(true) => Ok(()),
        Some(false) => Err(ServiceError::NotFound("lesson")),
        None => Err(ServiceError::Conflict(
            "a published lesson cannot be deleted; withdraw it first".to_owned(),
        )),
    }
}

/// The lessons `caller` may read that pass the filters, one page at a time.
pub async fn list_lessons(db: &Db, caller: &Caller, q: ListLessons) -> Result<LessonPage> {
    let mut e = Errors::default();
    let kind = q.kind.as_deref().map(LessonKind::parse).transpose();
    let status = q.status.as_deref().map(LessonStatus::parse).transpose();
    let region = region(q.region.as_deref());
    let (kind, status, region) = (e.check(kind), e.check(status), e.check(region));
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        e.0.push(Invalid::new("limit", "must be between 1 and 200"));
    }
    if let Some(c) = &q.cursor
        && uuid::Uuid::parse_str(c).is_err()
    {
        e.0.push(Invalid::new("cursor", "is not a cursor this API returned"));
    }
    if !e.0.is_empty() {
        return Err(ServiceError::Invalid(e.0));
    }
    let org_prefix = match &q.org {
        None => None,
        Some(id) => Some(
            db.org(id)
                .await?
                .ok_or_else(|| Invalid::new("org", "no such organisation"))?
                .path,
        ),
    };
    let filter = LessonFilter {
        kind: kind.flatten().map(|k| k.as_str().to_owned()),
        status: status.flatten().map(|s| s.as_str().to_owned()),
        tag: q.tag,
        region_prefix: region.flatten().map(|r| r.subtree_prefix().to_owned()),
        org_prefix,
        after_id: q.cursor,
        ..Default::default()
    };
    let lessons = db.lessons(&read_scope(caller), &filter, limit + 1).await?;
    let more = lessons.len() as i64 > limit;
    let lessons: Vec<_> = lessons.into_iter().take(limit as usize).collect();
    let ids: Vec<&str> = lessons.iter().map(|l| l.id.as_str()).collect();
    let assets = db.assets_of_lessons(&ids).await?;
    let next_cursor = more.then(|| lessons.last().map(|l| l.id.clone())).flatten();
    Ok(LessonPage {
        lessons,
        assets,
        next_cursor,
    })
}

/// Loads asset `id` if `caller` may read its lesson; otherwise it does not exist for them.
pub async fn visible_asset(db: &Db, caller: &Caller, id: &str) -> Result<AssetRecord> {
    let asset = db.asset(id).await?.ok_or(ServiceError::NotFound("asset"))?;
    visible_lesson(db, caller, &asset.lesson_id)
        .await
        .map_err(|_| ServiceError::NotFound("asset"))?;
    Ok(asset)
}

/// Asset `id` with the text extracted from it, if `caller` may read its lesson.
pub async fn get_asset(
    db: &Db,
    caller: &Caller,
    id: &str,
) -> Result<(AssetRecord, Vec<ExtractionRow>)> {
    let asset = visible_asset(db, caller, id).await?;
    let extractions = db.extractions_of(&[asset.sha256.as_str()]).await?;
    Ok((asset, extractions))
}

/// Deletes asset `id`, if the caller may change its lesson's files.
pub async fn delete_asset(db: &Db, acting: &Acting, id: &str) -> Result<()> {
    let asset = visible_asset(db, &acting.caller, id).await?;
    editable_lesson(db, acting, &asset.lesson_id).await?;
    match db
        .delete_asset(id, &acting.actor, is_operator(&acting.caller))
        .await?
    {
        Some(true) => Ok(()),
        Some(false) => Err(ServiceError::NotFound("asset")),
        None => Err(ServiceError::Conflict(
            "the lesson's files cannot change while it is in review or published".to_owned(),
        )),
    }
}

/// The organisations in which `caller` may create lessons (for the form that asks which).
pub async fn creatable_orgs(db: &Db, caller: &Caller) -> Result<Vec<OrgRecord>> {
    let orgs = match caller {
        Caller::Operator { .. } => db.orgs_within(None).await?,
        Caller::User(u) => db.orgs_within(Some(&u.subtrees(&[Role::Editor]))).await?,
        Caller::Anonymous | Caller::Platform(_) => Vec::new(),
    };
    Ok(orgs
        .into_iter()
        .filter(|o| visibility::may_create_in(caller, &o.path))
        .collect())
}
