//! Backup, restore, verification and garbage collection of a whole instance: the catalogue
//! (SQL) and the objects (S3) together.
//!
//! A backup folder holds `catalogue.sqlite` or `catalogue.pgdump` (a consistent copy taken
//! first, while the service runs), `objects/<key>` (every object in the bucket, copied after),
//! `manifest.jsonl` (one line per object: key, size, SHA-256) and, written last, `backup.json`
//! (what it is and when; a folder without it is an interrupted backup and is refused).
//! *Rationale for the order:* objects are written before the catalogue names them and are only
//! ever removed by `gc` after a grace period, so every object the catalogue copy names is still
//! in the bucket when the objects are copied a moment later.

use crate::db::backup::{Catalogued, catalogue_file, restore_catalogue};
use crate::db::{Backend, Db};
use crate::storage::{Listed, ObjectStore};
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use tokio::io::AsyncWriteExt;

/// The format of a backup folder, in `backup.json`.
const FORMAT: u32 = 1;

/// `backup.json`: written last, so its presence says the backup is whole.
#[derive(Debug, Serialize, Deserialize)]
pub struct Summary {
    pub format: u32,
    pub lectern_version: String,
    /// `sqlite` or `postgres`: which catalogue file the folder holds.
    pub backend: String,
    pub created_at: String,
    pub objects: u64,
    pub bytes: u64,
    /// The change log's head in the catalogue copy (feed positions up to it are in it).
    pub change_head: i64,
}

/// One line of `manifest.jsonl`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ManifestEntry {
    pub key: String,
    pub size: u64,
    pub sha256: String,
}

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0}")]
    Refused(String),
    #[error("catalogue: {0}")]
    Catalogue(#[from] crate::db::backup::CatalogueError),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("object storage: {0}")]
    Storage(#[from] crate::storage::StorageError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("the backup is damaged: {0}")]
    Damaged(String),
}

/// Where an object's copy lives in a backup folder; `None` for a key that could climb out of it
/// (never one of Lectern's own).
fn object_path(root: &Path, key: &str) -> Option<PathBuf> {
    let mut path = root.join("objects");
    for part in key.split('/') {
        if part.is_empty() || part == "." || part == ".." || part.contains('\\') {
            return None;
        }
        path.push(part);
    }
    Some(path)
}

/// Streams object `key` into `dest`, returning its size and SHA-256.
async fn copy_out(
    store: &ObjectStore,
    key: &str,
    dest: &Path,
) -> Result<(u64, String), BackupError> {
    if let Some(parent) = dest.parent() {
        tokio::fs::create_dir_all(parent).await?;
    }
    let mut file = tokio::fs::File::create(dest).await?;
    let mut body = store.get(key, None).await?;
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    while let Some(chunk) = body.try_next().await? {
        hasher.update(&chunk);
        size += chunk.len() as u64;
        file.write_all(&chunk).await?;
    }
    file.sync_all().await?;
    Ok((size, hex::encode(hasher.finalize())))
}

/// The size and SHA-256 of a file, read in pieces.
pub(super) async fn file_sha256(path: &Path) -> Result<(u64, String), std::io::Error> {
    use tokio::io::AsyncReadExt;
    let mut file = tokio::fs::File::open(path).await?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok((size, hex::encode(hasher.finalize())))
}

/// The SHA-256 of object `key` as stored.
async fn object_sha256(store: &ObjectStore, key: &str) -> Result<String, BackupError> {
    let mut body = store.get(key, None).await?;
    let mut hasher = Sha256::new();
    while let Some(chunk) = body.try_next().await? {
        hasher.update(&chunk);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// What `backup` did.
#[derive(Debug, Default)]
pub struct BackupReport {
    pub objects: u64,
    pub bytes: u64,
    /// Catalogued objects whose bytes no longer match the catalogue's SHA-256 (copied anyway,
    /// as found; `verify` says the same).
    pub mismatched: Vec<String>,
}

/// Backs the instance up into `to`, which must not exist or be empty. `url` is the database's
/// URL; `progress` is told each object copied.
pub async fn backup(
    db: &Db,
    store: &ObjectStore,
    url: &str,
    to: &Path,
    progress: &(dyn Fn(u64, u64) + Send + Sync),
) -> Result<BackupReport, BackupError> {
    if let Ok(mut entries) = tokio::fs::read_dir(to).await
        && entries.next_entry().await?.is_some()
    {
        return Err(BackupError::Refused(format!(
            "{} is not empty; back up into a new folder",
            to.display()
        )));
    }
    tokio::fs::create_dir_all(to.join("objects")).await?;
    // The catalogue first (see the module's documentation for why).
    db.copy_catalogue(url, &to.join(catalogue_file(db.backend())))
        .await?;
    let change_head = db.change_head().await?;
    let expected: BTreeMap<String, String> = db
        .catalogued_objects()
        .await?
        .into_iter()
        .filter_map(|c| Some((c.key, c.sha256?)))
        .collect();
    let listed = store.list_objects("").await?;
    let mut report = BackupReport::default();
    let mut manifest = String::new();
    for object in &listed {
        let Some(dest) = object_path(to, &object.key) else {
            tracing::warn!(key = %object.key, "an object key that cannot be a file name is not backed up");
            continue;
        };
        let (size, sha256) = copy_out(store, &object.key, &dest).await?;
        if expected
            .get(&object.key)
            .is_some_and(|want| *want != sha256)
        {
            report.mismatched.push(object.key.clone());
        }
        let line = ManifestEntry {
            key: object.key.clone(),
            size,
            sha256,
        };
        manifest.push_str(&serde_json::to_string(&line).unwrap_or_default());
        manifest.push('\n');
        report.objects += 1;
        report.bytes += size;
        progress(report.objects, listed.len() as u64);
    }
    tokio::fs::write(to.join("manifest.jsonl"), manifest).await?;
    let summary = Summary {
        format: FORMAT,
        lectern_version: env!("CARGO_PKG_VERSION").to_owned(),
        backend: db.backend().name().to_owned(),
        created_at: crate::domain::time::rfc3339(crate::db::now_ms()),
        objects: report.objects,
        bytes: report.bytes,
        change_head,
    };
    let tmp = to.join("backup.json.tmp");
    tokio::fs::write(
        &tmp,
        serde_json::to_vec_pretty(&summary).unwrap_or_default(),
    )
    .await?;
    tokio::fs::rename(&tmp, to.join("backup.json")).await?;
    Ok(report)
}

/// Reads a backup folder's summary and manifest, refusing an unfinished or foreign one.
pub async fn read_backup(from: &Path) -> Result<(Summary, Vec<ManifestEntry>), BackupError> {
    let summary = tokio::fs::read(from.join("backup.json"))
        .await
        .map_err(|e| {
            BackupError::Refused(format!(
                "{} has no backup.json ({e}): not a backup, or one that did not finish",
                from.display()
            ))
        })?;
    let summary: Summary = serde_json::from_slice(&summary)
        .map_err(|e| BackupError::Damaged(format!("backup.json: {e}")))?;
    if summary.format != FORMAT {
        return Err(BackupError::Refused(format!(
            "backup format {} is not the one this version reads ({FORMAT})",
            summary.format
        )));
    }
    let text = tokio::fs::read_to_string(from.join("manifest.jsonl")).await?;
    let mut manifest = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let entry: ManifestEntry = serde_json::from_str(line)
            .map_err(|e| BackupError::Damaged(format!("manifest.jsonl line {}: {e}", i + 1)))?;
        manifest.push(entry);
    }
    if manifest.len() as u64 != summary.objects {
        return Err(BackupError::Damaged(format!(
            "the manifest lists {} objects, backup.json {}",
            manifest.len(),
            summary.objects
        )));
    }
    Ok((summary, manifest))
}

/// Restores a backup into an empty catalogue (`url`; `sqlite_path` its file on SQLite) and the
/// store, checking every object's SHA-256 against the manifest before it is uploaded. The
/// caller then opens the database (which applies newer migrations) and rebuilds the index.
pub async fn restore(
    backend: Backend,
    url: &str,
    sqlite_path: Option<&Path>,
    store: &ObjectStore,
    from: &Path,
    progress: &(dyn Fn(u64, u64) + Send + Sync),
) -> Result<Summary, BackupError> {
    let (summary, manifest) = read_backup(from).await?;
    if summary.backend != backend.name() {
        return Err(BackupError::Refused(format!(
            "the backup holds a {} catalogue and the configured database is {}; \
             restore into the same kind of database (then `lectern migrate-db` to move)",
            summary.backend,
            backend.name()
        )));
    }
    // Every object is checked before anything is written anywhere.
    for entry in &manifest {
        let path = object_path(from, &entry.key)
            .ok_or_else(|| BackupError::Damaged(format!("object key {:?}", entry.key)))?;
        let (size, sha256) = file_sha256(&path)
            .await
            .map_err(|e| BackupError::Damaged(format!("{}: {e}", entry.key)))?;
        if size != entry.size || sha256 != entry.sha256 {
            return Err(BackupError::Damaged(format!(
                "{}: {size} bytes with SHA-256 {sha256}, the manifest says {} bytes with {}",
                entry.key, entry.size, entry.sha256
            )));
        }
    }
    restore_catalogue(
        backend,
        url,
        sqlite_path,
        &from.join(catalogue_file(backend)),
    )
    .await?;
    for (i, entry) in manifest.iter().enumerate() {
        let path = object_path(from, &entry.key)
            .ok_or_else(|| BackupError::Damaged(format!("object key {:?}", entry.key)))?;
        store
            .put_file(&entry.key, &path, "application/octet-stream")
            .await?;
        progress(i as u64 + 1, manifest.len() as u64);
    }
    Ok(summary)
}

/// What `verify` found.
#[derive(Debug, Default)]
pub struct VerifyReport {
    /// Catalogued objects checked.
    pub checked: u64,
    /// Catalogued objects the store does not have.
    pub missing: Vec<Catalogued>,
    /// Catalogued objects whose bytes do not have the recorded SHA-256: (object, found).
    pub corrupt: Vec<(Catalogued, String)>,
    /// Objects nothing catalogued names or derives from.
    pub orphans: Vec<Listed>,
}

impl VerifyReport {
    pub fn is_sound(&self) -> bool {
        self.missing.is_empty() && self.corrupt.is_empty()
    }
}

/// Whether `key` is an object the catalogue names or one under a prefix it derives from.
fn is_catalogued(key: &str, named: &HashSet<String>, prefixes: &HashSet<String>) -> bool {
    named.contains(key)
        || prefixes.contains(key)
        || key
            .match_indices('/')
            .any(|(i, _)| prefixes.contains(&key[..=i]))
}

/// Checks that every catalogued object exists (and, unless `quick`, has its recorded SHA-256,
/// which reads every byte), and lists the objects nothing refers to.
pub async fn verify(
    db: &Db,
    store: &ObjectStore,
    quick: bool,
) -> Result<VerifyReport, BackupError> {
    // The listing first: an object stored after it and catalogued before the catalogue is read
    // would otherwise count as missing.
    let listed = store.list_objects("").await?;
    let catalogued = db.catalogued_objects().await?;
    let prefixes: HashSet<String> = db.catalogued_prefixes().await?.into_iter().collect();
    let present: HashSet<&str> = listed.iter().map(|o| o.key.as_str()).collect();
    let mut report = VerifyReport::default();
    for c in &catalogued {
        report.checked += 1;
        if !present.contains(c.key.as_str()) {
            report.missing.push(c.clone());
            continue;
        }
        if quick {
            continue;
        }
        if let Some(want) = &c.sha256 {
            let found = object_sha256(store, &c.key).await?;
            if found != *want {
                report.corrupt.push((c.clone(), found));
            }
        }
    }
    let named: HashSet<String> = catalogued.into_iter().map(|c| c.key).collect();
    report.orphans = listed
        .into_iter()
        .filter(|o| !is_catalogued(&o.key, &named, &prefixes))
        .collect();
    Ok(report)
}

/// Deletes the objects nothing refers to that were last written more than `grace_ms` ago (an
/// upload in flight writes its object before the catalogue names it); `dry_run` only lists them.
/// Returns what was (or would be) deleted.
pub async fn gc(
    db: &Db,
    store: &ObjectStore,
    grace_ms: i64,
    dry_run: bool,
) -> Result<Vec<Listed>, BackupError> {
    let report = verify(db, store, true).await?;
    let before = crate::db::now_ms() - grace_ms;
    let old: Vec<Listed> = report
        .orphans
        .into_iter()
        .filter(|o| o.modified_ms < before)
        .collect();
    if !dry_run {
        // Asked again just before each deletion: a key the catalogue has come to name since
        // the listing is kept.
        let catalogued = db.catalogued_objects().await?;
        let named: HashSet<String> = catalogued.into_iter().map(|c| c.key).collect();
        let prefixes: HashSet<String> = db.catalogued_prefixes().await?.into_iter().collect();
        for o in &old {
            if !is_catalogued(&o.key, &named, &prefixes) {
                store.delete(&o.key).await?;
            }
        }
    }
    Ok(old)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_keys_stay_inside_the_backup_folder() {
        let root = Path::new("/b");
        assert_eq!(
            object_path(root, "media/ab/hls-720p-1/index.m3u8"),
            Some(PathBuf::from("/b/objects/media/ab/hls-720p-1/index.m3u8"))
        );
        for bad in ["../x", "a/../../x", "/abs", "a//b", "a\\b", ".", ""] {
            assert_eq!(object_path(root, bad), None, "{bad}");
        }
    }

    #[test]
    fn derived_objects_belong_to_their_source() {
        let named: HashSet<String> = ["objects/1".to_owned()].into();
        let prefixes: HashSet<String> = [
            "media/abc/".to_owned(),
            "uploads/u1/".to_owned(),
            "objects/2".to_owned(),
        ]
        .into();
        assert!(is_catalogued("objects/1", &named, &prefixes));
        assert!(is_catalogued("objects/2", &named, &prefixes));
        assert!(is_catalogued(
            "media/abc/hls-360p/seg-1.ts",
            &named,
            &prefixes
        ));
        assert!(is_catalogued("uploads/u1/tail-9", &named, &prefixes));
        assert!(!is_catalogued("media/abd/poster.jpg", &named, &prefixes));
        assert!(!is_catalogued("objects/3", &named, &prefixes));
        assert!(!is_catalogued("media/ab", &named, &prefixes));
    }
}
