//! Documents (PDF masters and attachments): the page count (`pdfinfo`) and images of the first
//! pages for previews (`pdftoppm`, JPEG, 1024 pixels wide), recorded as renditions `page_1` …
//! `page_10` with the reading as the content's probe (`page_count`, or why it is unreadable).
//!
//! Poppler reads local files only (it has no HTTP input, unlike ffmpeg), so the object is
//! streamed to the step's scratch folder first, at most [`MAX_DOCUMENT_BYTES`]; a larger one is
//! recorded as not previewed, with the reason.
//!
//! Invariant: a PDF poppler cannot read is a result (unreadable, with poppler's reason), not a
//! failure loop; retries are for storage and for programs that could not run.

use super::run::{self, Budget, Stdout};
use super::{Media, Scratch, Step, os};
use crate::db::media::{NewRendition, ProbeRecord};
use crate::domain::media::RenditionKind;
use futures::StreamExt;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// The largest document copied out of storage to be read.
pub const MAX_DOCUMENT_BYTES: i64 = 256 << 20;
/// The width of a page image, in pixels.
pub const PAGE_WIDTH: i64 = 1024;
/// How long poppler may take for one document (each program).
const POPPLER_BUDGET: Duration = Duration::from_secs(300);

impl Media {
    /// Reads one document: page count and page images, or the reason it cannot be read.
    pub async fn document(&self, job_payload: &str) -> Step {
        let sha256 = match Self::payload(job_payload) {
            Ok(s) => s,
            Err(step) => return step,
        };
        match self.probed(&sha256).await {
            Ok(Some(_)) => return Step::Done,
            Ok(None) => {}
            Err(step) => return step,
        }
        let now = crate::db::now_ms();
        if !self.tools.pdftoppm.usable() {
            return Step::Wait {
                at: now + 60_000,
                why: Some(format!(
                    "waiting: document previews are unavailable: pdftoppm ({}): {}",
                    self.tools.pdftoppm.path,
                    self.tools.pdftoppm.error.as_deref().unwrap_or("unusable")
                )),
            };
        }
        let _slot = match self.slot() {
            Ok(slot) => slot,
            Err(step) => return step,
        };
        let (key, size) = match (
            self.db.blob_key(&sha256).await,
            self.db.blob_size(&sha256).await,
        ) {
            (Ok(Some(k)), Ok(Some(s))) => (k, s),
            (Ok(None), _) | (_, Ok(None)) => return Step::Done, // deleted meanwhile
            (Err(e), _) | (_, Err(e)) => return Step::Retry(format!("database: {e}")),
        };
        let mut probe = ProbeRecord {
            container: Some("pdf".into()),
            ..ProbeRecord::blank(
                &sha256,
                format!(
                    "pdftoppm {}",
                    self.tools.pdftoppm.version.as_deref().unwrap_or("?")
                ),
                now,
            )
        };
        if size > MAX_DOCUMENT_BYTES {
            probe.reason = Some(format!(
                "larger than {} MiB, the most a preview is made of",
                MAX_DOCUMENT_BYTES >> 20
            ));
            return self.record_document(&probe, &[]).await;
        }
        let scratch = match Scratch::new(&self.settings.work_dir).await {
            Ok(s) => s,
            Err(e) => return Step::Retry(format!("cannot make a work folder: {e}")),
        };
        let pdf = scratch.file("document.pdf");
        if let Err(why) = self.copy_out(&key, &pdf).await {
            return Step::Retry(why);
        }
        // Poppler's messages may quote the work copy's path: people read "the file" instead.
        let local = pdf.display().to_string();
        let unreadable = |stderr: &str, otherwise: &str| {
            unreadable(&stderr.replace(&local, "the file"), otherwise)
        };
        let pdfinfo = Path::new(&self.settings.tools.pdftoppm).with_file_name("pdfinfo");
        let args = vec![pdf.clone().into_os_string()];
        let info = match self.poppler(&pdfinfo, &args).await {
            Ok(r) => r,
            Err(e) => return Step::Retry(e.to_string()),
        };
        let pages = String::from_utf8_lossy(&info.stdout)
            .lines()
            .find_map(|l| l.strip_prefix("Pages:").map(|v| v.trim().parse::<i64>()));
        match (info.status.success(), pages) {
            (true, Some(Ok(n))) if n > 0 => probe.page_count = Some(n),
            _ => {
                probe.reason = Some(unreadable(&info.stderr, "pdfinfo cannot read the file"));
                return self.record_document(&probe, &[]).await;
            }
        }
        let out = scratch.file("page");
        let last = RenditionKind::PAGES.len().to_string();
        let width = PAGE_WIDTH.to_string();
        let mut args = os(&[
            "-jpeg",
            "-jpegopt",
            "quality=85",
            "-scale-to-x",
            &width,
            "-scale-to-y",
            "-1",
            "-f",
            "1",
            "-l",
            &last,
        ]);
        args.push(pdf.into_os_string());
        args.push(out.into_os_string());
        let ran = match self
            .poppler(Path::new(&self.settings.tools.pdftoppm), &args)
            .await
        {
            Ok(r) => r,
            Err(e) => return Step::Retry(e.to_string()),
        };
        let images = page_images(&scratch.0).await;
        if !ran.status.success() && images.is_empty() {
            probe.reason = Some(unreadable(&ran.stderr, "pdftoppm cannot draw the pages"));
            probe.page_count = None;
            return self.record_document(&probe, &[]).await;
        }
        probe.playable = true;
        let mut renditions = Vec::new();
        for (n, file) in images {
            let Some(kind) = RenditionKind::page(n) else {
                continue;
            };
            let mut made = match self
                .store_file(&file, &Self::key(&sha256, kind), "image/jpeg")
                .await
            {
                Ok(m) => m,
                Err(step) => return step,
            };
            if let Some((w, h)) = self.image_size(&file).await {
                made.width = Some(w);
                made.height = Some(h);
            }
            renditions.push(NewRendition {
                source_sha256: sha256.clone(),
                kind,
                made: Ok(made),
            });
        }
        self.record_document(&probe, &renditions).await
    }

    async fn record_document(&self, probe: &ProbeRecord, pages: &[NewRendition]) -> Step {
        match self.db.record_document(probe, pages).await {
            Ok(()) => Step::Done,
            Err(e) => Step::Retry(format!("database: {e}")),
        }
    }

    /// Streams object `key` into `file`.
    async fn copy_out(&self, key: &str, file: &Path) -> Result<(), String> {
        let mut body = self
            .store
            .get(key, None)
            .await
            .map_err(|e| format!("cannot read the document: {e}"))?;
        let mut out = tokio::fs::File::create(file)
            .await
            .map_err(|e| format!("cannot write the work copy: {e}"))?;
        let mut written: i64 = 0;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| format!("cannot read the document: {e}"))?;
            written += chunk.len() as i64;
            if written > MAX_DOCUMENT_BYTES {
                return Err("the document grew past its limit while read".into());
            }
            out.write_all(&chunk)
                .await
                .map_err(|e| format!("cannot write the work copy: {e}"))?;
        }
        out.flush()
            .await
            .map_err(|e| format!("cannot write the work copy: {e}"))
    }

    /// Runs a poppler program at `nice` priority within its budget.
    async fn poppler(
        &self,
        program: &Path,
        args: &[std::ffi::OsString],
    ) -> Result<run::Ran, run::RunError> {
        run::run(
            program,
            args,
            self.nice(),
            Stdout::Collect(1 << 20),
            Budget {
                total: POPPLER_BUDGET.min(self.settings.encode_timeout),
                stall: POPPLER_BUDGET,
            },
        )
        .await
    }
}

/// The page images pdftoppm wrote into `dir` (`page-1.jpg`, or `page-01.jpg` …: the number is
/// padded to the page count's width), by page number.
async fn page_images(dir: &Path) -> Vec<(usize, PathBuf)> {
    let mut found = Vec::new();
    let Ok(mut entries) = tokio::fs::read_dir(dir).await else {
        return found;
    };
    while let Ok(Some(e)) = entries.next_entry().await {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(n) = name
            .strip_prefix("page-")
            .and_then(|r| r.strip_suffix(".jpg"))
            .and_then(|n| n.parse::<usize>().ok())
        {
            found.push((n, e.path()));
        }
    }
    found.sort();
    found
}

/// Why poppler cannot read a file: its last lines (it names no URL: the file is local).
fn unreadable(stderr: &str, otherwise: &str) -> String {
    let reason = run::last_lines(stderr, 3, 600);
    if reason.is_empty() {
        otherwise.to_owned()
    } else {
        reason
    }
}
