//! Subtitles of a lesson: the list of its languages and the normalized WebVTT of one.
//!
//! Reads go through `catalog::visible_lesson`, the one visibility check: a lesson the caller may
//! not read has no subtitles for them (a 404, like a missing one). Editors' subtitles arrive as
//! `subtitle` assets (`ingest` reads and records them with the asset); the machine transcript is
//! the `transcript_zh` rendition of the lesson's current master (`media::transcript`), served as
//! language `zh` (see `db::subtitles`).
//!
//! Invariant: a language serves one subtitle, the newest editor's, else the newest machine
//! transcript (`db::subtitles::lesson_subtitles` orders them so); a machine transcript is hidden,
//! not deleted, while an editor's subtitle of its primary language exists (`zh-CN` or `zh-Hans`
//! hides a `zh` transcript: the editor's corrected file replaces the machine's), and comes back
//! if that file is deleted.

use super::catalog::visible_lesson;
use super::{Result, ServiceError};
use crate::db::Db;
use crate::db::subtitles::SubtitleRecord;
use crate::domain::subtitle::{self, Origin, SubtitleFormat};
use crate::domain::visibility::Caller;
use crate::storage::ObjectStore;

/// Bumped whenever [`to_webvtt`](subtitle::to_webvtt) writes different bytes for the same cues,
/// so that `ETag`s change with the output.
const WEBVTT_VERSION: u32 = 1;

/// The subtitles lesson `id` serves, one per language, if `caller` may read the lesson: the
/// newest editor's subtitle of each language, and a machine transcript only where no editor's
/// subtitle shares its primary language (an editor's `zh-CN` file hides the `zh` transcript).
pub async fn list(db: &Db, caller: &Caller, id: &str) -> Result<Vec<SubtitleRecord>> {
    let lesson = visible_lesson(db, caller, id).await?;
    let all = db.lesson_subtitles(&lesson.id).await?;
    let primary = |s: &SubtitleRecord| s.language.split('-').next().unwrap_or("").to_owned();
    let edited: std::collections::HashSet<String> = all
        .iter()
        .filter(|s| origin(s) == Origin::Editor)
        .map(primary)
        .collect();
    let mut served: Vec<SubtitleRecord> = Vec::new();
    for s in all {
        let hidden = origin(&s) == Origin::Machine && edited.contains(&primary(&s));
        if !hidden && served.last().is_none_or(|last| last.language != s.language) {
            served.push(s);
        }
    }
    Ok(served)
}

/// The subtitle lesson `id` serves in `language` (any case: `zh-cn` is `zh-CN`), if `caller`
/// may read the lesson; a language it has none in is `NotFound`.
pub async fn served(db: &Db, caller: &Caller, id: &str, language: &str) -> Result<SubtitleRecord> {
    let all = list(db, caller, id).await?;
    let language = subtitle::language(language).map_err(|_| ServiceError::NotFound("subtitle"))?;
    all.into_iter()
        .find(|s| s.language == language)
        .ok_or(ServiceError::NotFound("subtitle"))
}

/// The strong `ETag` of a subtitle's WebVTT: it depends only on the stored bytes (immutable,
/// named by their SHA-256) and on the writer's version, so it is known without reading them.
pub fn etag(record: &SubtitleRecord) -> String {
    format!(
        "\"vtt{WEBVTT_VERSION}-{}\"",
        record.sha256.get(..32).unwrap_or(&record.sha256)
    )
}

/// The origin of a stored subtitle.
pub fn origin(record: &SubtitleRecord) -> Origin {
    Origin::parse(&record.origin).unwrap_or(Origin::Editor)
}

/// The label people see for a stored subtitle (`简体中文`, `中文（机器转写）`).
pub fn label(record: &SubtitleRecord) -> String {
    subtitle::label(&record.language, origin(record))
}

/// A subtitle as normalized WebVTT (see `domain::subtitle::to_webvtt`), read from object storage
/// and decoded and parsed by the same rules as search extraction.
pub async fn webvtt(store: &ObjectStore, record: &SubtitleRecord) -> Result<String> {
    let bytes = store.get_bytes(&record.object_key).await?;
    let format = SubtitleFormat::parse_name(&record.format).unwrap_or(SubtitleFormat::Vtt);
    // Decoding and reading up to 8 MiB takes tens of milliseconds: not on an async worker.
    let render = move || {
        let text = crate::domain::text::decode(&bytes).text;
        subtitle::to_webvtt(&subtitle::parse(format, &text).cues)
    };
    // The reader does not panic (its tests feed it hostile bytes); if it ever did, the panic
    // goes on to the handler's panic guard (an opaque 500), as it would without the thread.
    Ok(tokio::task::spawn_blocking(render)
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic())))
}
