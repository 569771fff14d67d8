//! The HLS ladder (fMP4 segments) and the small progressive MP4.
//!
//! Each variant is a job of its own (`media-hls-<variant>-<sha256>`; the lowest video variant
//! and the audio in the urgent lane, the higher variants after them), so one can fail or be run
//! again alone. A variant is encoded into the step's scratch folder, then every file is stored
//! (streamed from disk) under `media/<sha256>/hls-<variant>-v1/`, its playlist last, and only then
//! is its rendition row written: no row ever names a variant whose files are not all stored.
//!
//! Video variants carry no sound; the audio group (`audio`) is shared by all of them, so the
//! sound is encoded once. GOPs are closed and cut every [`SEGMENT_SECONDS`] (forced key frames,
//! no scene-cut key frames), so segments of all variants start at the same instants.

use super::{Media, Prepared, Step, os, reason_of, storage_failed};
use crate::db::jobs::NewJob;
use crate::db::media::{MadeRendition, NewRendition, ProbeRecord};
use crate::domain::hls::{self, SEGMENT_SECONDS, Variant};
use crate::domain::job::JobKind;
use crate::domain::media::RenditionKind;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::ffi::OsString;
use std::path::Path;
use tokio::io::AsyncReadExt;

/// The prefix of the HLS jobs' fixed ids (`media-hls-<variant>-<sha256>`).
pub const HLS_JOB: &str = "media-hls-";
/// The prefix of the MP4 jobs' fixed ids (`media-mp4-<sha256>`).
pub const MP4_JOB: &str = "media-mp4-";

/// The payload of an HLS job.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct HlsPayload {
    pub sha256: String,
    pub variant: String,
}

/// The picture of a probed source as shown (rotation honoured), if it has one.
fn display(p: &ProbeRecord) -> Option<(i64, i64)> {
    match (p.has_video, p.width, p.height) {
        (true, Some(w), Some(h)) => Some(hls::display_size(w, h, p.rotation.unwrap_or(0))),
        _ => None,
    }
}

/// Whether a probed source has sound to hear.
fn sound(p: &ProbeRecord) -> bool {
    p.has_audio && !p.silent
}

/// The variants a probed source gets.
fn planned(p: &ProbeRecord) -> Vec<Variant> {
    if !p.playable {
        return Vec::new();
    }
    hls::ladder(display(p), sound(p))
}

/// The output frame rate: the source's, halved above [`hls::MAX_FPS`].
fn out_fps(p: &ProbeRecord) -> f64 {
    let fps = p.fps.filter(|f| f.is_finite() && *f > 0.0).unwrap_or(25.0);
    if fps > hls::MAX_FPS { fps / 2.0 } else { fps }
}

/// The video encoder's arguments for a picture of `size` (H.264 High, closed GOPs cut every
/// segment).
fn x264(p: &ProbeRecord, size: (i64, i64), rates: (i64, i64, i64)) -> (Vec<OsString>, String) {
    let fps = out_fps(p);
    let (level, idc) = hls::h264_level(size.0, size.1, fps);
    let mut filter = String::new();
    if p.fps.is_some_and(|f| f > hls::MAX_FPS) {
        filter.push_str(&format!("fps={fps:.3},"));
    }
    filter.push_str(&format!(
        "scale={}:{}:flags=bicubic,setsar=1,format=yuv420p",
        size.0, size.1
    ));
    let gop = ((fps * f64::from(SEGMENT_SECONDS)).round() as i64).max(1);
    let args = os(&[
        "-map",
        "0:V:0",
        "-sn",
        "-dn",
        "-vf",
        &filter,
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-profile:v",
        "high",
        "-level:v",
        level,
        "-b:v",
        &rates.0.to_string(),
        "-maxrate",
        &rates.1.to_string(),
        "-bufsize",
        &rates.2.to_string(),
        "-g",
        &gop.to_string(),
        "-sc_threshold",
        "0",
        "-flags",
        "+cgop",
        "-force_key_frames",
        &format!("expr:gte(t,n_forced*{SEGMENT_SECONDS})"),
    ]);
    (args, hls::avc_codecs(idc))
}

/// The audio encoder's arguments: AAC at `bit_rate` with `channels`.
fn aac(channels: i64, bit_rate: &str) -> Vec<OsString> {
    os(&[
        "-map",
        "0:a:0",
        "-c:a",
        "aac",
        "-b:a",
        bit_rate,
        "-ac",
        &channels.to_string(),
        "-ar",
        "48000",
    ])
}

/// The size of the small MP4 and of the lowest video variant.
fn small_size(p: &ProbeRecord) -> Option<(i64, i64)> {
    display(p).and_then(|(w, h)| hls::video_size(Variant::V360p, w, h))
}

impl Media {
    /// The HLS and MP4 jobs a recorded probe calls for, under fixed ids.
    pub(super) fn stream_jobs(p: &ProbeRecord, org: &str) -> Vec<NewJob> {
        let mut jobs: Vec<NewJob> = planned(p)
            .into_iter()
            .map(|v| Self::hls_job(&p.sha256, v, org))
            .collect();
        if p.playable && small_size(p).is_some() {
            jobs.push(Self::job(JobKind::MediaMp4, MP4_JOB, &p.sha256, org));
        }
        jobs
    }

    /// The job that makes variant `v` of content `sha256`, under its fixed id (the lowest video
    /// variant and the audio in the urgent lane).
    pub(super) fn hls_job(sha256: &str, v: Variant, org: &str) -> NewJob {
        let payload = serde_json::to_string(&HlsPayload {
            sha256: sha256.to_owned(),
            variant: v.name().to_owned(),
        })
        .unwrap_or_default();
        let kind = if v.first() {
            JobKind::MediaHls
        } else {
            JobKind::MediaHlsUpper
        };
        NewJob {
            id: Some(format!("{HLS_JOB}{}-{sha256}", v.name())),
            ..NewJob::now(kind, sha256, org, payload)
        }
    }

    /// Makes one HLS variant (the payload names it) and records it once every file is stored.
    pub async fn hls(&self, job_payload: &str) -> Step {
        let Some(variant) = serde_json::from_str::<HlsPayload>(job_payload)
            .ok()
            .and_then(|p| Variant::parse(&p.variant))
        else {
            return Step::Dead("unreadable job".into());
        };
        let Prepared {
            sha256,
            probe,
            url,
            scratch,
            budget,
            ..
        } = match self
            .prepare(job_payload, variant.kind(), |p| {
                planned(p).contains(&variant)
            })
            .await
        {
            Ok(p) => p,
            Err(step) => return step,
        };
        let dir = scratch.file("hls");
        if let Err(e) = tokio::fs::create_dir_all(&dir).await {
            return Step::Retry(format!("cannot make a work folder: {e}"));
        }
        let mut args = self.ffmpeg_input(&url, None);
        let (size, codecs) = match variant {
            Variant::Audio => {
                let channels = probe.audio_channels.unwrap_or(2).clamp(1, 2);
                let rate = if channels == 1 { "96k" } else { "128k" };
                args.extend(os(&["-vn", "-sn", "-dn"]));
                args.extend(aac(channels, rate));
                (None, hls::AAC_CODECS.to_owned())
            }
            Variant::Audio64k => {
                args.extend(os(&["-vn", "-sn", "-dn"]));
                args.extend(aac(1, "64k"));
                (None, hls::AAC_CODECS.to_owned())
            }
            video => {
                let (Some(size), Some(rates)) = (
                    display(&probe).and_then(|(w, h)| hls::video_size(video, w, h)),
                    video.video_rates(),
                ) else {
                    return Step::Done; // not made from this source (`prepare` checked)
                };
                let (x, codecs) = x264(&probe, size, rates);
                args.push("-an".into());
                args.extend(x);
                (Some(size), codecs)
            }
        };
        let playlist = dir.join("index.m3u8");
        args.extend(os(&[
            "-f",
            "hls",
            "-hls_time",
            &SEGMENT_SECONDS.to_string(),
            "-hls_playlist_type",
            "vod",
            "-hls_segment_type",
            "fmp4",
            "-hls_fmp4_init_filename",
            "init.mp4",
            "-hls_flags",
            "independent_segments",
            "-hls_segment_filename",
        ]));
        args.push(dir.join("seg-%05d.m4s").into());
        args.push("-y".into());
        args.push(playlist.clone().into());
        let ran = match self.encode(&args, budget).await {
            Ok(r) => r,
            Err(e) => return Step::Retry(e.to_string()),
        };
        if !ran.status.success() {
            if storage_failed(&ran.stderr) {
                return Step::Retry(reason_of(&ran, &url, "ffmpeg could not read from storage"));
            }
            let why = reason_of(&ran, &url, "ffmpeg failed");
            return self
                .record(&[NewRendition {
                    source_sha256: sha256,
                    kind: variant.kind(),
                    made: Err(why),
                }])
                .await;
        }
        let made = match self.store_variant(&sha256, variant, &dir, &playlist).await {
            Ok(mut m) => {
                m.width = size.map(|s| s.0);
                m.height = size.map(|s| s.1);
                m.codecs = Some(codecs);
                m
            }
            Err(step) => return step,
        };
        self.record(&[NewRendition {
            source_sha256: sha256,
            kind: variant.kind(),
            made: Ok(made),
        }])
        .await
    }

    /// Stores a variant's files, the playlist last; what its row says of it.
    async fn store_variant(
        &self,
        sha256: &str,
        variant: Variant,
        dir: &Path,
        playlist: &Path,
    ) -> Result<MadeRendition, Step> {
        let text = tokio::fs::read_to_string(playlist)
            .await
            .map_err(|e| Step::Retry(format!("ffmpeg wrote no playlist: {e}")))?;
        let files = hls::files(&text).map_err(|e| Step::Dead(e.to_string()))?;
        let segments = hls::segments(&text);
        if segments.is_empty() {
            return Err(Step::Retry("ffmpeg wrote no segment".into()));
        }
        let prefix = format!("media/{sha256}/hls-{}-{}", variant.name(), super::RECIPE);
        let mut sizes: HashMap<String, u64> = HashMap::new();
        let mut media_bytes = 0u64;
        for name in &files {
            let path = dir.join(name);
            let len = super::file_len(&path).await;
            if len == 0 {
                return Err(Step::Retry(format!("ffmpeg wrote no {name}")));
            }
            let content_type = hls::file_type(variant, name);
            self.store
                .put_file(&format!("{prefix}/{name}"), &path, content_type)
                .await
                .map_err(|e| Step::Retry(format!("cannot store {name}: {e}")))?;
            sizes.insert(name.clone(), len);
            media_bytes += len;
        }
        // Last: the playlist, which makes the variant whole.
        let key = format!("{prefix}/index.m3u8");
        self.store
            .put(&key, bytes::Bytes::from(text.clone()), hls::PLAYLIST_TYPE)
            .await
            .map_err(|e| Step::Retry(format!("cannot store the playlist: {e}")))?;
        let seconds: f64 = segments.iter().map(|(_, d)| d).sum();
        let duration_ms = (seconds * 1000.0).round() as i64;
        Ok(MadeRendition {
            object_key: key,
            content_type: hls::PLAYLIST_TYPE.to_owned(),
            size: (media_bytes + text.len() as u64) as i64,
            sha256: hex::encode(Sha256::digest(text.as_bytes())),
            width: None,
            height: None,
            bit_rate: (duration_ms > 0).then(|| (media_bytes * 8 * 1000) as i64 / duration_ms),
            duration_ms: Some(duration_ms),
            peak_bit_rate: Some(hls::peak_bit_rate(&segments, &sizes)),
            codecs: None,
        })
    }

    /// Makes the small progressive MP4 (the lowest variant's picture, H.264 + AAC, moov first)
    /// for offline download.
    pub async fn mp4(&self, job_payload: &str) -> Step {
        let kind = RenditionKind::Mp4Small;
        let Prepared {
            sha256,
            probe,
            url,
            scratch,
            budget,
            ..
        } = match self
            .prepare(job_payload, kind, |p| small_size(p).is_some())
            .await
        {
            Ok(p) => p,
            Err(step) => return step,
        };
        let Some(size) = small_size(&probe) else {
            return Step::Done;
        };
        let out = scratch.file("small.mp4");
        let mut args = self.ffmpeg_input(&url, None);
        let (x, codecs) = x264(&probe, size, (700_000, 856_000, 1_700_000));
        args.extend(x);
        if sound(&probe) {
            let channels = probe.audio_channels.unwrap_or(2).clamp(1, 2);
            args.extend(aac(channels, if channels == 1 { "64k" } else { "96k" }));
        } else {
            args.push("-an".into());
        }
        args.extend(os(&["-movflags", "+faststart", "-f", "mp4", "-y"]));
        args.push(out.clone().into());
        let ran = match self.encode(&args, budget).await {
            Ok(r) => r,
            Err(e) => return Step::Retry(e.to_string()),
        };
        let made = if ran.status.success() {
            match self
                .store_streamed(&out, &Self::key(&sha256, kind), "video/mp4")
                .await
            {
                Ok(mut m) => {
                    m.width = Some(size.0);
                    m.height = Some(size.1);
                    m.duration_ms = ran.progress_ms.or(probe.duration_ms);
                    m.bit_rate = m
                        .duration_ms
                        .filter(|d| *d > 0)
                        .map(|d| m.size * 8 * 1000 / d);
                    m.codecs = Some(if sound(&probe) {
                        format!("{codecs},{}", hls::AAC_CODECS)
                    } else {
                        codecs
                    });
                    Ok(m)
                }
                Err(step) => return step,
            }
        } else if storage_failed(&ran.stderr) {
            return Step::Retry(reason_of(&ran, &url, "ffmpeg could not read from storage"));
        } else {
            Err(reason_of(&ran, &url, "ffmpeg failed"))
        };
        self.record(&[NewRendition {
            source_sha256: sha256,
            kind,
            made,
        }])
        .await
    }

    /// Stores a finished file of any size, streamed from disk (its SHA-256 read first).
    async fn store_streamed(
        &self,
        file: &Path,
        key: &str,
        content_type: &str,
    ) -> Result<MadeRendition, Step> {
        let (size, sha256) = hash_file(file)
            .await
            .map_err(|e| Step::Retry(format!("cannot read the rendition: {e}")))?;
        if size == 0 {
            return Err(Step::Retry("ffmpeg wrote an empty file".into()));
        }
        self.store
            .put_file(key, file, content_type)
            .await
            .map_err(|e| Step::Retry(format!("cannot store the rendition: {e}")))?;
        Ok(MadeRendition {
            object_key: key.to_owned(),
            content_type: content_type.to_owned(),
            size: size as i64,
            sha256,
            width: None,
            height: None,
            bit_rate: None,
            duration_ms: None,
            peak_bit_rate: None,
            codecs: None,
        })
    }
}

/// The length and SHA-256 (hex) of a file, read in blocks.
async fn hash_file(path: &Path) -> std::io::Result<(u64, String)> {
    let mut f = tokio::fs::File::open(path).await?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut len = 0u64;
    loop {
        let n = f.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        len += n as u64;
    }
    Ok((len, hex::encode(hasher.finalize())))
}
