//! The catalogue's side of backups: a consistent copy of the whole database taken while the
//! service runs, putting one back into an empty database, and what the catalogue says object
//! storage must hold.
//!
//! SQLite is copied with `VACUUM INTO` (one read transaction: a consistent snapshot, compacted);
//! PostgreSQL with `pg_dump --format=custom` (one repeatable-read snapshot) and restored with
//! `pg_restore`, the server's own tools, which must be installed where the command runs.

use super::{Backend, Db};
use std::path::Path;

/// The file name of the catalogue in a backup folder, per backend.
pub fn catalogue_file(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "catalogue.sqlite",
        Backend::Postgres => "catalogue.pgdump",
    }
}

/// Why the catalogue could not be copied or put back.
#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{tool} failed: {stderr}")]
    Tool { tool: &'static str, stderr: String },
    #[error(
        "the database to restore into is not empty ({tables} tables); restore needs a fresh one"
    )]
    NotEmpty { tables: i64 },
}

/// An object the catalogue names: its key and, where the catalogue records it, its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalogued {
    pub key: String,
    pub sha256: Option<String>,
    /// What names it: `blob`, `rendition`, `xapi_attachment`, `upload`.
    pub kind: &'static str,
}

/// The parameters of a PostgreSQL URL that libpq (pg_dump, pg_restore) understands; sqlx's own
/// (`options[statement_timeout]`, …) would make it refuse the URL.
const LIBPQ_PARAMETERS: &[&str] = &[
    "sslmode",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "application_name",
    "connect_timeout",
];

/// `url` with only the parameters libpq knows.
fn libpq_url(url: &str) -> String {
    let Some((base, query)) = url.split_once('?') else {
        return url.to_owned();
    };
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| {
            let name = pair.split_once('=').map_or(*pair, |(n, _)| n);
            LIBPQ_PARAMETERS.contains(&name)
        })
        .collect();
    if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    }
}

/// Runs one of PostgreSQL's tools; its standard error on failure.
async fn run_tool(tool: &'static str, args: &[&str]) -> Result<(), CatalogueError> {
    let out = tokio::process::Command::new(tool)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .map_err(|e| CatalogueError::Tool {
            tool,
            stderr: format!("cannot run it ({e}); install PostgreSQL's client tools"),
        })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(CatalogueError::Tool {
            tool,
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        })
    }
}

impl Db {
    /// Writes a consistent copy of the whole catalogue to `dest` (which must not exist), while
    /// the service goes on. `url` is the database's URL (PostgreSQL's tools connect by it).
    pub async fn copy_catalogue(&self, url: &str, dest: &Path) -> Result<(), CatalogueError> {
        let dest_text = dest.to_string_lossy().into_owned();
        match self.backend() {
            Backend::Sqlite => {
                sqlx::query("VACUUM INTO $1")
                    .bind(&dest_text)
                    .execute(self.pool())
                    .await?;
                Ok(())
            }
            Backend::Postgres => {
                let url = libpq_url(url);
                run_tool(
                    "pg_dump",
                    &[
                        "--format=custom",
                        "--no-owner",
                        "--no-privileges",
                        "--file",
                        &dest_text,
                        &url,
                    ],
                )
                .await
            }
        }
    }

    /// How many tables the database has (an empty one, fit to restore into, has none).
    pub async fn table_count(&self) -> Result<i64, sqlx::Error> {
        let sql = match self.backend() {
            Backend::Sqlite => {
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            }
            Backend::Postgres => {
                "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema()"
            }
        };
        sqlx::query_scalar(sql).fetch_one(self.pool()).await
    }

    /// Every object the catalogue names, with the SHA-256 it records where it records one.
    pub async fn catalogued_objects(&self) -> Result<Vec<Catalogued>, sqlx::Error> {
        let mut all = Vec::new();
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT object_key, sha256 FROM blobs ORDER BY object_key")
                .fetch_all(self.pool())
                .await?;
        all.extend(rows.into_iter().map(|(key, sha)| Catalogued {
            key,
            sha256: Some(sha),
            kind: "blob",
        }));
        let rows: Vec<(String, Option<String>)> = sqlx::query_as(
            "SELECT object_key, sha256 FROM media_renditions WHERE object_key IS NOT NULL \
             ORDER BY object_key",
        )
        .fetch_all(self.pool())
        .await?;
        all.extend(rows.into_iter().map(|(key, sha256)| Catalogued {
            key,
            sha256,
            kind: "rendition",
        }));
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT DISTINCT object_key FROM xapi_attachments ORDER BY object_key")
                .fetch_all(self.pool())
                .await?;
        all.extend(rows.into_iter().map(|(key,)| Catalogued {
            key,
            // Content-addressed by the statement's SHA-2, which need not be SHA-256.
            sha256: None,
            kind: "xapi_attachment",
        }));
        Ok(all)
    }

    /// The key prefixes whose objects belong to something catalogued although each object is
    /// not named: everything derived from a stored file (`media/<sha256>/`: renditions' HLS
    /// segments, page images, sprites) and the pieces of unfinished uploads (`uploads/<id>/`,
    /// and their multipart object).
    pub async fn catalogued_prefixes(&self) -> Result<Vec<String>, sqlx::Error> {
        let mut prefixes: Vec<String> = sqlx::query_scalar("SELECT sha256 FROM blobs")
            .fetch_all(self.pool())
            .await?
            .into_iter()
            .map(|sha: String| format!("media/{sha}/"))
            .collect();
        let uploads: Vec<(String, String)> = sqlx::query_as("SELECT id, object_key FROM uploads")
            .fetch_all(self.pool())
            .await?;
        for (id, key) in uploads {
            prefixes.push(format!("uploads/{id}/"));
            prefixes.push(key);
        }
        Ok(prefixes)
    }
}

/// Refuses a database that has tables: a restore goes into a fresh one only.
async fn ensure_empty(url: &str) -> Result<(), CatalogueError> {
    let db = Db::connect(url, 1)
        .await
        .map_err(|e| CatalogueError::Tool {
            tool: "restore",
            stderr: e.to_string(),
        })?;
    let tables = db.table_count().await?;
    db.close().await;
    if tables > 0 {
        return Err(CatalogueError::NotEmpty { tables });
    }
    Ok(())
}

/// Puts the copy at `src` back as the catalogue at `url`, which must be empty (a fresh SQLite
/// file or PostgreSQL database).
pub async fn restore_catalogue(
    backend: Backend,
    url: &str,
    sqlite_path: Option<&Path>,
    src: &Path,
) -> Result<(), CatalogueError> {
    match backend {
        Backend::Sqlite => {
            let dest = sqlite_path.ok_or_else(|| CatalogueError::Tool {
                tool: "restore",
                stderr: "the SQLite URL names no file".into(),
            })?;
            if tokio::fs::metadata(dest).await.is_ok_and(|m| m.len() > 0) {
                ensure_empty(url).await?;
            }
            if let Some(parent) = dest.parent() {
                tokio::fs::create_dir_all(parent).await?;
            }
            // Copied beside, then renamed: never a half-written catalogue under the real name.
            let tmp = dest.with_extension("restoring");
            tokio::fs::copy(src, &tmp).await?;
            tokio::fs::rename(&tmp, dest).await?;
            Ok(())
        }
        Backend::Postgres => {
            ensure_empty(url).await?;
            let src = src.to_string_lossy().into_owned();
            run_tool(
                "pg_restore",
                &[
                    "--no-owner",
                    "--no-privileges",
                    "--exit-on-error",
                    "--single-transaction",
                    "--dbname",
                    &libpq_url(url),
                    &src,
                ],
            )
            .await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libpq_gets_only_the_parameters_it_knows() {
        assert_eq!(
            libpq_url("postgres://u@h:5432/d?sslmode=require&options[statement_timeout]=5000"),
            "postgres://u@h:5432/d?sslmode=require"
        );
        assert_eq!(
            libpq_url("postgres://u@h/d?options[statement_timeout]=0"),
            "postgres://u@h/d"
        );
        assert_eq!(libpq_url("postgres://u@h/d"), "postgres://u@h/d");
    }
}
