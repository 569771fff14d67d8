//! The 64 kbit/s mono AAC rendition: weak connections, podcast feeds and village audio players.

use super::{AUDIO_64K, Media, Prepared, Step, os, reason_of, storage_failed};
use crate::db::media::NewRendition;

impl Media {
    /// Makes the 64 kbit/s mono AAC rendition (`.m4a`, moov first) of a content with sound.
    pub async fn audio(&self, job_payload: &str) -> Step {
        let Prepared {
            sha256,
            probe,
            url,
            scratch,
            budget,
            ..
        } = match self
            .prepare(job_payload, AUDIO_64K, |p| p.has_audio && !p.silent)
            .await
        {
            Ok(p) => p,
            Err(step) => return step,
        };
        let out = scratch.file("audio.m4a");
        let mut args = self.ffmpeg_input(&url, None);
        args.extend(os(&[
            "-map",
            "0:a:0",
            "-vn",
            "-sn",
            "-dn",
            "-ac",
            "1",
            "-c:a",
            "aac",
            "-b:a",
            "64k",
            "-movflags",
            "+faststart",
            "-f",
            "mp4",
            "-y",
        ]));
        args.push(out.clone().into());
        let ran = match self.encode(&args, budget).await {
            Ok(r) => r,
            Err(e) => return Step::Retry(e.to_string()),
        };
        if !ran.status.success() && storage_failed(&ran.stderr) {
            return Step::Retry(reason_of(&ran, &url, "ffmpeg could not read from storage"));
        }
        let made = if ran.status.success() {
            match self
                .store_file(&out, &Self::key(&sha256, AUDIO_64K), "audio/mp4")
                .await
            {
                Ok(mut m) => {
                    m.duration_ms = ran.progress_ms.or(probe.duration_ms);
                    m.bit_rate = m
                        .duration_ms
                        .filter(|d| *d > 0)
                        .map(|d| m.size * 8 * 1000 / d);
                    Ok(m)
                }
                Err(step) => return step,
            }
        } else {
            Err(reason_of(&ran, &url, "ffmpeg failed"))
        };
        self.record(&[NewRendition {
            source_sha256: sha256,
            kind: AUDIO_64K,
            made,
        }])
        .await
    }
}
