//! Bulk import: lessons with their files from a folder, or from a CSV or JSON manifest, through
//! the same business steps as the API (create the lesson, upload its file, publish), acting as
//! the operator.
//!
//! Resumable without duplicates: each file's SHA-256 is computed first, and a file some lesson
//! already has as its master is skipped (reported with that lesson); a draft of the same title
//! and organisation with no file at all — what a run stopped between creating a lesson and
//! storing its file leaves — is reused instead of making another. Running the same import again
//! after an interruption therefore finishes it. A dry run checks every entry and says what
//! would be imported, skipped and refused, and changes nothing.
//!
//! A manifest's rows: `title`, `file` (required; relative to the manifest's folder), `kind`
//! (`video`, `audio`, `document`; by default from the file's extension), `tags` (separated by
//! `;`), `series`, `lecturer`, `description`, `recorded_on`, `org_id` (by default the import's
//! `--org`). A folder: every file with a known extension, in name order, titled by its name,
//! the series being its sub-folder's name.

use super::catalog::{self, NewLesson};
use super::review::{self, When};
use super::{Acting, uploads};
use crate::db::workflow::Scheduled;
use crate::ingest::Ingest;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The largest manifest read.
const MAX_MANIFEST_BYTES: u64 = 64 << 20;

/// One lesson to import.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Entry {
    pub title: String,
    pub file: PathBuf,
    pub kind: Option<String>,
    #[serde(deserialize_with = "tags")]
    pub tags: Vec<String>,
    pub series: Option<String>,
    pub lecturer: Option<String>,
    pub description: Option<String>,
    pub recorded_on: Option<String>,
    pub org_id: Option<String>,
}

/// Tags as a list, or as one string separated by `;` (a CSV cell).
fn tags<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Tags {
        List(Vec<String>),
        Text(String),
    }
    Ok(match Option::<Tags>::deserialize(d)? {
        None => Vec::new(),
        Some(Tags::List(v)) => v,
        Some(Tags::Text(s)) => s
            .split(';')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect(),
    })
}

/// The lesson kind a file's extension says, if it is one Lectern takes.
pub fn kind_of(path: &Path) -> Option<&'static str> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    Some(match ext.as_str() {
        "mp4" | "m4v" | "mov" | "mkv" | "webm" | "avi" | "ts" | "flv" => "video",
        "mp3" | "m4a" | "aac" | "wav" | "ogg" | "oga" | "opus" | "flac" | "wma" => "audio",
        "pdf" | "docx" | "pptx" | "doc" | "ppt" | "txt" | "epub" => "document",
        _ => return None,
    })
}

/// An entry that could not even be read as one (a row of a manifest, a file of a folder).
#[derive(Debug, Clone)]
pub struct Unreadable {
    /// `line 7`, `item 3` or the file's path.
    pub at: String,
    pub reason: String,
}

/// Entries with where each came from (`line 7`, `item 3`, a file's path), and what could not be
/// read as one.
pub type Read = (Vec<(String, Entry)>, Vec<Unreadable>);

/// The entries of `source`, with where each came from; and what could not be read.
pub async fn entries(source: &Path) -> Result<Read, ImportError> {
    let meta = tokio::fs::metadata(source)
        .await
        .map_err(|e| ImportError::Source(format!("{}: {e}", source.display())))?;
    if meta.is_dir() {
        return Ok(from_folder(source));
    }
    if meta.len() > MAX_MANIFEST_BYTES {
        return Err(ImportError::Source(format!(
            "the manifest is over {} MiB",
            MAX_MANIFEST_BYTES >> 20
        )));
    }
    let base = source.parent().unwrap_or(Path::new(".")).to_path_buf();
    let bytes = tokio::fs::read(source)
        .await
        .map_err(|e| ImportError::Source(format!("{}: {e}", source.display())))?;
    let ext = source
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let (mut found, bad) = match ext.as_deref() {
        Some("csv") => from_csv(&bytes),
        Some("json") => from_json(&bytes)?,
        _ => {
            return Err(ImportError::Source(
                "give a folder, a .csv or a .json manifest".into(),
            ));
        }
    };
    for (_, e) in &mut found {
        if e.file.is_relative() {
            e.file = base.join(&e.file);
        }
    }
    Ok((found, bad))
}

fn from_csv(bytes: &[u8]) -> Read {
    // A BOM, as spreadsheet programs write, is not part of the first column's name.
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new().flexible(false).from_reader(bytes);
    let (mut found, mut bad) = (Vec::new(), Vec::new());
    for (i, row) in reader.deserialize::<Entry>().enumerate() {
        // Line 1 is the header.
        let at = format!("line {}", i + 2);
        match row {
            Ok(e) => found.push((at, e)),
            Err(e) => bad.push(Unreadable {
                at,
                reason: e.to_string(),
            }),
        }
    }
    (found, bad)
}

fn from_json(bytes: &[u8]) -> Result<Read, ImportError> {
    let items: Vec<serde_json::Value> = serde_json::from_slice(bytes)
        .map_err(|e| ImportError::Source(format!("the manifest is not a JSON array: {e}")))?;
    let (mut found, mut bad) = (Vec::new(), Vec::new());
    for (i, item) in items.into_iter().enumerate() {
        let at = format!("item {}", i + 1);
        match serde_json::from_value::<Entry>(item) {
            Ok(e) => found.push((at, e)),
            Err(e) => bad.push(Unreadable {
                at,
                reason: e.to_string(),
            }),
        }
    }
    Ok((found, bad))
}

fn from_folder(root: &Path) -> Read {
    let (mut found, mut bad) = (Vec::new(), Vec::new());
    let mut stack = vec![root.to_path_buf()];
    let mut files = Vec::new();
    while let Some(dir) = stack.pop() {
        let Ok(read) = std::fs::read_dir(&dir) else {
            bad.push(Unreadable {
                at: dir.display().to_string(),
                reason: "the folder cannot be read".into(),
            });
            continue;
        };
        for entry in read.flatten() {
            let path = entry.path();
            let hidden = entry.file_name().to_string_lossy().starts_with('.');
            match entry.file_type() {
                Ok(t) if t.is_dir() && !hidden => stack.push(path),
                Ok(t) if t.is_file() && !hidden => files.push(path),
                _ => {}
            }
        }
    }
    files.sort();
    for path in files {
        let at = path.display().to_string();
        if kind_of(&path).is_none() {
            bad.push(Unreadable {
                at,
                reason: "not a video, audio or document file (by its extension)".into(),
            });
            continue;
        }
        let title = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let series = path
            .parent()
            .filter(|p| *p != root)
            .and_then(|p| p.file_name())
            .map(|s| s.to_string_lossy().into_owned());
        found.push((
            at,
            Entry {
                title,
                file: path,
                series,
                ..Entry::default()
            },
        ));
    }
    (found, bad)
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{0}")]
    Source(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// What became of one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Imported as this lesson (or, on a dry run, would be).
    Imported {
        lesson_id: Option<String>,
    },
    /// The file is already the master of this lesson.
    Skipped {
        lesson_id: String,
    },
    Refused {
        reason: String,
    },
}

/// How to import.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The organisation of entries that name none.
    pub org_id: Option<String>,
    pub publish: bool,
    pub dry_run: bool,
}

/// Imports one entry; `sent` is told the bytes of its file as they are stored.
pub async fn import_one(
    ingest: &Ingest,
    entry: &Entry,
    options: &Options,
    sent: &(dyn Fn(u64) + Send + Sync),
) -> Result<Outcome, ImportError> {
    let refuse = |reason: String| Ok(Outcome::Refused { reason });
    let acting = Acting::cli();
    let db = &ingest.db;
    let Some(kind) = entry
        .kind
        .clone()
        .or_else(|| kind_of(&entry.file).map(str::to_owned))
    else {
        return refuse("no kind given, and the file's extension does not say one".into());
    };
    let Some(org_id) = entry.org_id.clone().or_else(|| options.org_id.clone()) else {
        return refuse("no organisation: give org_id in the manifest or --org".into());
    };
    let new = NewLesson {
        title: entry.title.clone(),
        description: entry.description.clone().unwrap_or_default(),
        kind,
        tags: entry.tags.clone(),
        lecturer: entry.lecturer.clone(),
        series: entry.series.clone(),
        region_code: None,
        recorded_on: entry.recorded_on.clone(),
        language: None,
        org_id: Some(org_id.clone()),
    };
    // Every rule of the lesson's fields, checked before anything is written.
    if let Err(e) = new.parse() {
        return refuse(e.to_string());
    }
    if db.org(&org_id).await?.is_none() {
        return refuse(format!("there is no organisation {org_id}"));
    }
    let (size, sha256) = match super::backup::file_sha256(&entry.file).await {
        Ok(d) => d,
        Err(e) => return refuse(format!("{}: {e}", entry.file.display())),
    };
    if size == 0 {
        return refuse(format!("{} is empty", entry.file.display()));
    }
    if size > ingest.max_bytes {
        return refuse(format!(
            "{} is {size} bytes, over the limit of {}",
            entry.file.display(),
            ingest.max_bytes
        ));
    }
    if let Some(lesson_id) = db.lesson_with_master(&sha256).await? {
        return Ok(Outcome::Skipped { lesson_id });
    }
    if options.dry_run {
        return Ok(Outcome::Imported { lesson_id: None });
    }
    let lesson_id = match db.empty_draft(&entry.title, &org_id).await? {
        Some(id) => id,
        None => match catalog::create_lesson(db, &acting, new).await {
            Ok(detail) => detail.lesson.id,
            Err(e) => return refuse(e.to_string()),
        },
    };
    let filename = entry
        .file
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    let file = match tokio::fs::File::open(&entry.file).await {
        Ok(f) => f,
        Err(e) => return refuse(format!("{}: {e}", entry.file.display())),
    };
    let body = futures::StreamExt::inspect(tokio_util::io::ReaderStream::new(file), |chunk| {
        if let Ok(c) = chunk {
            sent(c.len() as u64);
        }
    });
    let stored = uploads::upload_asset(
        ingest,
        &acting,
        &lesson_id,
        "master",
        &filename,
        None,
        Some(size),
        Box::pin(body),
    )
    .await;
    if let Err(e) = stored {
        // The empty lesson stays: the next run reuses it.
        return refuse(e.to_string());
    }
    if options.publish
        && let Err(e) =
            review::step(db, &acting, &lesson_id, Scheduled::Publish, When::Now, None).await
    {
        return refuse(format!(
            "stored as lesson {lesson_id}, but not published: {e}"
        ));
    }
    Ok(Outcome::Imported {
        lesson_id: Some(lesson_id),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_come_from_extensions_in_any_case() {
        assert_eq!(kind_of(Path::new("a/第一讲.MP4")), Some("video"));
        assert_eq!(kind_of(Path::new("x.flac")), Some("audio"));
        assert_eq!(kind_of(Path::new("讲义.pdf")), Some("document"));
        assert_eq!(kind_of(Path::new("setup.exe")), None);
        assert_eq!(kind_of(Path::new("README")), None);
    }

    #[test]
    fn a_csv_manifest_reads_tags_and_names_bad_rows_by_line() {
        let csv = "\u{feff}title,file,tags,series\n第一讲,a.mp4,党史;理论,系列一\n第二讲,b.pdf,,\n\"unclosed,x\n";
        let (found, bad) = from_csv(csv.as_bytes());
        assert_eq!(found.len(), 2, "{bad:?}");
        assert_eq!(found[0].1.tags, vec!["党史", "理论"]);
        assert_eq!(found[0].1.series.as_deref(), Some("系列一"));
        assert_eq!(found[1].1.file, PathBuf::from("b.pdf"));
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].at, "line 4");
        let (_, bad) = from_csv(b"title,file,colour\nx,y.mp4,red\n");
        assert_eq!(bad.len(), 1, "an unknown column is refused");
    }

    #[test]
    fn a_json_manifest_takes_tags_as_a_list_or_a_string() {
        let (found, bad) = from_json(
            br#"[{"title":"a","file":"a.mp3","tags":["x","y"]},{"title":"b","file":"b.mp3","tags":"z; w"},{"title":1}]"#,
        )
        .unwrap();
        assert_eq!(found[0].1.tags, vec!["x", "y"]);
        assert_eq!(found[1].1.tags, vec!["z", "w"]);
        assert_eq!(bad[0].at, "item 3");
        assert!(from_json(b"{}").is_err());
    }
}
