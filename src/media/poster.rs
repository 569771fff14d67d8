//! The poster in two sizes: a representative frame away from black frames and the opening.

use super::probe::FfProbe;
use super::run::{self, Budget, Stdout};
use super::{
    Media, POSTER_LARGE, POSTER_LARGE_WIDTH, POSTER_SMALL, POSTER_SMALL_WIDTH, Prepared, Step,
    file_len, os, reason_of,
};
use crate::db::media::NewRendition;
use std::path::Path;
use std::time::Duration;

impl Media {
    /// Makes the poster in two sizes: a representative frame (ffmpeg's `thumbnail` filter)
    /// among those that are not dark, after skipping the opening (titles fade in from black);
    /// any frame when every frame is dark.
    pub async fn poster(&self, job_payload: &str) -> Step {
        let Prepared {
            sha256,
            probe,
            url,
            scratch,
            budget,
            ..
        } = match self
            .prepare(job_payload, POSTER_LARGE, |p| p.has_video)
            .await
        {
            Ok(p) => p,
            Err(step) => return step,
        };
        let small = scratch.file("small.jpg");
        let large = scratch.file("large.jpg");
        // Skip a tenth of the lesson, at most 30 s, when it is long enough to have an opening.
        let skip = probe
            .duration_ms
            .filter(|d| *d >= 4_000)
            .map(|d| (d / 10).min(30_000));
        let mut last = String::new();
        for bright_only in [true, false] {
            let pick = if bright_only {
                "signalstats,metadata=mode=select:key=lavfi.signalstats.YAVG:value=40:function=greater,thumbnail=n=50"
            } else {
                "thumbnail=n=50"
            };
            let graph = format!(
                "[0:v:0]{pick},split=2[a][b];\
                 [a]scale='min({POSTER_SMALL_WIDTH},iw)':-2[s];\
                 [b]scale='min({POSTER_LARGE_WIDTH},iw)':-2[l]"
            );
            let mut args = self.ffmpeg_input(&url, skip);
            args.extend(os(&["-filter_complex", &graph]));
            for (label, file) in [("[s]", &small), ("[l]", &large)] {
                args.extend(os(&["-map", label, "-frames:v", "1", "-q:v", "3", "-y"]));
                args.push(file.clone().into());
            }
            let ran = match self.encode(&args, budget).await {
                Ok(r) => r,
                Err(e) => return Step::Retry(e.to_string()),
            };
            let made =
                ran.status.success() && file_len(&small).await > 0 && file_len(&large).await > 0;
            if made {
                last.clear();
                break;
            }
            last = reason_of(&ran, &url, "ffmpeg made no frame");
        }
        let renditions = if last.is_empty() {
            let mut out = Vec::new();
            for (kind, file) in [(POSTER_SMALL, &small), (POSTER_LARGE, &large)] {
                let mut m = match self
                    .store_file(file, &Self::key(&sha256, kind), "image/jpeg")
                    .await
                {
                    Ok(m) => m,
                    Err(step) => return step,
                };
                if let Some((w, h)) = self.image_size(file).await {
                    m.width = Some(w);
                    m.height = Some(h);
                }
                out.push(NewRendition {
                    source_sha256: sha256.clone(),
                    kind,
                    made: Ok(m),
                });
            }
            out
        } else {
            [POSTER_SMALL, POSTER_LARGE]
                .into_iter()
                .map(|kind| NewRendition {
                    source_sha256: sha256.clone(),
                    kind,
                    made: Err(last.clone()),
                })
                .collect()
        };
        self.record(&renditions).await
    }

    /// The width and height of an image file, as ffprobe reads them.
    async fn image_size(&self, file: &Path) -> Option<(i64, i64)> {
        let mut args = os(&["-v", "error", "-of", "json", "-show_streams"]);
        args.push(file.into());
        let ran = run::run(
            Path::new(&self.settings.tools.ffprobe),
            &args,
            None,
            Stdout::Collect(1 << 20),
            Budget {
                total: Duration::from_secs(30),
                stall: Duration::from_secs(30),
            },
        )
        .await
        .ok()?;
        let v = FfProbe::parse(&ran.stdout).ok()?.facts().video?;
        Some((v.width?, v.height?))
    }
}
