//! Media processing end to end: fixtures made by ffmpeg in the test (never downloaded) are
//! uploaded as masters; the reconciler queues their probes, the probes queue their renditions,
//! and what the API answers is checked against ffprobe's own reading of the outputs.
//!
//! Without ffmpeg these tests say so loudly and pass — except under `CI=true`, where
//! `scripts/test` installs it and its absence fails.

use crate::common::{Cmd, TestApp, problem};
use lectern::domain::job::{JobKind, JobState};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Whether `programs` are here (run with `-version`, poppler's with `-v`); panics under CI when
/// one is not, else says loudly that the test is skipped.
pub(crate) async fn have(programs: &[&str]) -> bool {
    let mut found = true;
    for program in programs {
        let mut c = Cmd::new(program);
        c.arg(if program.starts_with("pdf") {
            "-v"
        } else {
            "-version"
        });
        found &= c.try_output().await.is_some();
    }
    if !found {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "{programs:?} are required under CI"
        );
        eprintln!("\n!!! one of {programs:?} is missing: this media test is SKIPPED\n");
    }
    found
}

/// Whether ffmpeg and ffprobe are here (see [`have`]).
pub(crate) async fn have_ffmpeg() -> bool {
    have(&["ffmpeg", "ffprobe"]).await
}

/// Runs ffmpeg with `args` (quiet, overwriting) and returns the file it wrote.
pub(crate) async fn ffmpeg(dir: &Path, name: &str, args: &[&str]) -> PathBuf {
    let out = dir.join(name);
    let mut c = Cmd::new("ffmpeg");
    c.args(["-nostdin", "-hide_banner", "-loglevel", "error", "-y"])
        .args(args)
        .arg(&out);
    let o = c.output().await;
    assert!(
        o.status.success(),
        "ffmpeg {name}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

pub(crate) const VIDEO: &[&str] = &[
    "-f",
    "lavfi",
    "-i",
    "testsrc=size=640x360:rate=25:duration=6",
];
const TONE: &[&str] = &[
    "-f",
    "lavfi",
    "-i",
    "sine=frequency=440:sample_rate=48000:duration=6",
];
pub(crate) const SILENCE: &[&str] = &["-f", "lavfi", "-i", "anullsrc=r=48000:cl=stereo"];
pub(crate) const H264: &[&str] = &[
    "-c:v",
    "libx264",
    "-preset",
    "ultrafast",
    "-pix_fmt",
    "yuv420p",
];

/// ffprobe's reading of a file (or URL) as JSON: its format and streams.
pub(crate) async fn ffprobe(target: &str) -> Value {
    let mut c = Cmd::new("ffprobe");
    c.args([
        "-v",
        "error",
        "-of",
        "json",
        "-show_format",
        "-show_streams",
        target,
    ]);
    let o = c.output().await;
    assert!(
        o.status.success(),
        "ffprobe {target}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

/// The mean luma (0–255) of an image.
async fn mean_luma(target: &str) -> f64 {
    let mut c = Cmd::new("ffmpeg");
    c.args(["-nostdin", "-hide_banner", "-i", target]).args([
        "-vf",
        "format=gray,scale=64:-1",
        "-f",
        "rawvideo",
        "-",
    ]);
    let o = c.output().await;
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!o.stdout.is_empty());
    o.stdout.iter().map(|&b| f64::from(b)).sum::<f64>() / o.stdout.len() as f64
}

/// A test app that reconciles often and runs two ffmpeg processes at once.
async fn app() -> TestApp {
    TestApp::spawn_with(|c| {
        c.media_reconcile_ms = 200;
        c.media_concurrency = 2;
        c.media_stall_secs = 10;
        c.job_poll_ms = 100;
    })
    .await
}

/// Uploads `file` as the master of a new lesson of `kind`; the asset.
pub(crate) async fn master(t: &TestApp, kind: &str, file: &Path) -> Value {
    let lesson = t.lesson(kind).await;
    let name = file.file_name().unwrap().to_str().unwrap();
    let r = t
        .upload(&lesson, "master", name, std::fs::read(file).unwrap())
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    r.json().await.unwrap()
}

/// Uploads `data` as an asset of `role` of `lesson`; the asset.
pub(crate) async fn upload(
    t: &TestApp,
    lesson: &str,
    role: &str,
    name: &str,
    data: Vec<u8>,
) -> Value {
    let r = t.upload(lesson, role, name, data).await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    r.json().await.unwrap()
}

/// What the API says of an asset's media.
pub(crate) async fn media(t: &TestApp, asset: &str) -> Value {
    let r = t
        .get(&format!("/api/v1/assets/{asset}/media"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

/// Polls the asset's media until `done` holds for it (at most three minutes: the machine is
/// shared), then shows every job if it never does.
pub(crate) async fn media_until(
    t: &TestApp,
    asset: &str,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
    loop {
        let v = media(t, asset).await;
        if done(&v) {
            return v;
        }
        if tokio::time::Instant::now() >= deadline {
            let jobs = t
                .db()
                .list_jobs(&Default::default(), None, 100)
                .await
                .unwrap();
            panic!("timed out waiting for {what}: {v:#}\njobs: {jobs:#?}");
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

/// The rendition of `kind` in what the API says of an asset's media.
pub(crate) fn rendition<'a>(m: &'a Value, kind: &str) -> Option<&'a Value> {
    m["renditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == kind)
}

/// Whether the rendition of `kind` is ready.
pub(crate) fn ready(m: &Value, kind: &str) -> bool {
    rendition(m, kind).is_some_and(|r| r["state"] == "ready")
}

/// The presigned URL of a ready rendition, through the API.
pub(crate) async fn rendition_url(t: &TestApp, asset: &str, kind: &str) -> String {
    let r = t
        .get(&format!("/api/v1/assets/{asset}/media/{kind}/url"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{kind}");
    let v: Value = r.json().await.unwrap();
    v["url"].as_str().unwrap().to_owned()
}

/// The jobs of `kind` about content `sha256` in any state.
pub(crate) async fn jobs_of(
    t: &TestApp,
    kind: JobKind,
    sha256: &str,
) -> Vec<lectern::db::jobs::JobRecord> {
    t.db()
        .jobs_of(kind, sha256, &JobState::ALL, 20)
        .await
        .unwrap()
}

/// `POST /api/v1/assets/{asset}/media/reprocess[?only=…]`, asked again while it is refused
/// with 409 because another step of the content runs (at most three minutes); the last answer.
pub(crate) async fn reprocess(t: &TestApp, asset: &str, only: Option<&str>) -> reqwest::Response {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
    loop {
        let r = t
            .post(&format!("/api/v1/assets/{asset}/media/reprocess"))
            .query(&[("only", only.unwrap_or_default())])
            .send()
            .await
            .unwrap();
        if r.status() != 409 || tokio::time::Instant::now() > deadline {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The one job of `kind` about `sha256`, once it is no longer running (a job records its work,
/// then ends: a poll can fall between the two).
pub(crate) async fn ended(
    t: &TestApp,
    kind: JobKind,
    sha256: &str,
) -> lectern::db::jobs::JobRecord {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let mut jobs = jobs_of(t, kind, sha256).await;
        assert_eq!(jobs.len(), 1, "{jobs:?}");
        let job = jobs.remove(0);
        if job.state != JobState::Running {
            return job;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{job:?} never ended"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn near(actual: f64, expected: f64, tolerance: f64) -> bool {
    (actual - expected).abs() <= tolerance
}

#[tokio::test]
async fn a_video_with_a_tone_is_probed_and_gets_a_mono_64k_audio_rendition_and_posters() {
    if !have_ffmpeg().await {
        return;
    }
    let t = app().await;
    let dir = tempfile::tempdir().unwrap();
    let mut args = VIDEO.to_vec();
    args.extend(TONE);
    args.extend(H264);
    args.extend(["-c:a", "aac", "-b:a", "128k", "-shortest"]);
    let file = ffmpeg(dir.path(), "lecture.mp4", &args).await;
    let audio_args = [TONE, &["-c:a", "libmp3lame", "-b:a", "128k"][..]].concat();
    let mp3 = ffmpeg(dir.path(), "reading.mp3", &audio_args).await;
    let video = master(&t, "video", &file).await;
    let audio = master(&t, "audio", &mp3).await;
    let id = video["id"].as_str().unwrap();

    let m = media_until(
        &t,
        id,
        "the probe, the audio rendition and both posters",
        |m| {
            ["audio_64k", "poster_small", "poster_large", "sprite"]
                .iter()
                .all(|k| rendition(m, k).is_some())
        },
    )
    .await;
    assert_eq!(m["status"], "probed", "{m:#}");
    let p = &m["probe"];
    assert_eq!(p["playable"], true, "{m:#}");
    assert!(p["reason"].is_null());
    assert!(p["container"].as_str().unwrap().contains("mp4"), "{p}");
    let duration = p["duration_ms"].as_i64().unwrap();
    assert!((5800..=6200).contains(&duration), "{duration}");
    assert_eq!(p["video"]["codec"], "h264");
    assert_eq!(
        (p["video"]["width"].as_i64(), p["video"]["height"].as_i64()),
        (Some(640), Some(360))
    );
    assert!(near(p["video"]["fps"].as_f64().unwrap(), 25.0, 0.01), "{p}");
    assert_eq!(p["video"]["rotation"], 0);
    assert_eq!(p["audio"]["codec"], "aac");
    assert_eq!(p["audio"]["sample_rate"], 48000);
    assert_eq!(p["audio"]["silent"], false);
    // A full-scale sine is loud: far above the silence floor, its peak near 0 dBFS.
    let lufs = p["audio"]["loudness_lufs"].as_f64().unwrap();
    assert!(lufs > -30.0 && lufs < 0.0, "{lufs}");
    assert!(p["audio"]["max_volume_db"].as_f64().unwrap() > -20.0, "{p}");

    // The audio rendition: mono AAC at 64 kbit/s (±15 %), as ffprobe reads it from storage.
    let a = rendition(&m, "audio_64k").unwrap();
    assert_eq!(a["state"], "ready");
    assert_eq!(a["content_type"], "audio/mp4");
    let url = rendition_url(&t, id, "audio_64k").await;
    let probed = ffprobe(&url).await;
    let stream = &probed["streams"][0];
    assert_eq!(probed["streams"].as_array().unwrap().len(), 1, "{probed}");
    assert_eq!(stream["codec_name"], "aac");
    assert_eq!(stream["channels"], 1);
    let rate: f64 = stream["bit_rate"].as_str().unwrap().parse().unwrap();
    assert!(near(rate, 64_000.0, 64_000.0 * 0.15), "{rate}");
    let seconds: f64 = probed["format"]["duration"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(near(seconds, 6.0, 0.2), "{seconds}");
    let bytes = t
        .client
        .get(&url)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(a["size"].as_u64(), Some(bytes.len() as u64));
    assert_eq!(a["sha256"], crate::common::sha256_hex(&bytes));

    // The posters: 320 wide, and 640 (the source's width: never upscaled to 1280); not black.
    for (kind, w, h) in [("poster_small", 320, 180), ("poster_large", 640, 360)] {
        let r = rendition(&m, kind).unwrap();
        assert_eq!(
            (r["width"].as_i64(), r["height"].as_i64()),
            (Some(w), Some(h)),
            "{r}"
        );
        assert_eq!(r["content_type"], "image/jpeg");
        let url = rendition_url(&t, id, kind).await;
        let image = ffprobe(&url).await;
        assert_eq!(image["streams"][0]["width"], w);
        assert_eq!(image["streams"][0]["height"], h);
        let luma = mean_luma(&url).await;
        assert!(luma > 40.0, "{kind} is dark: mean luma {luma}");
    }

    // Audio only: an audio rendition, no poster.
    let aid = audio["id"].as_str().unwrap();
    let m = media_until(&t, aid, "the audio-only master's audio rendition", |m| {
        rendition(m, "audio_64k").is_some()
    })
    .await;
    assert!(m["probe"]["video"].is_null(), "{m:#}");
    assert_eq!(m["probe"]["audio"]["codec"], "mp3");
    assert!(
        near(m["probe"]["duration_ms"].as_f64().unwrap(), 6000.0, 200.0),
        "{m:#}"
    );
    let sha = audio["sha256"].as_str().unwrap();
    assert!(jobs_of(&t, JobKind::MediaPoster, sha).await.is_empty());
    assert!(rendition(&m, "poster_small").is_none());
    let r = t
        .get(&format!("/api/v1/assets/{aid}/media/poster_small/url"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    problem(r).await;

    // Probing again changes nothing visible: the probe job is done once, each rendition once,
    // and each object stored once.
    let sha = video["sha256"].as_str().unwrap();
    assert_eq!(jobs_of(&t, JobKind::MediaProbe, sha).await.len(), 1);
    assert_eq!(
        ended(&t, JobKind::MediaProbe, sha).await.state,
        JobState::Done
    );
    // Audio, two posters and the scrubbing sprite. (The HLS ladder and the small MP4 are `media_video.rs`'s.)
    let keys = t.object_keys(&format!("media/{sha}/")).await;
    let firsts = keys
        .iter()
        .filter(|k| k.contains("/audio_64k-") || k.contains("/poster_") || k.contains("/sprite-"))
        .count();
    assert_eq!(firsts, 4, "{keys:?}");
}

#[tokio::test]
async fn silent_and_audio_less_videos_get_posters_and_no_audio_rendition() {
    if !have_ffmpeg().await {
        return;
    }
    let t = app().await;
    let dir = tempfile::tempdir().unwrap();
    let mute = ffmpeg(dir.path(), "mute.mp4", &[VIDEO, H264].concat()).await;
    let mut args = VIDEO.to_vec();
    args.extend(SILENCE);
    args.extend(H264);
    args.extend(["-c:a", "aac", "-shortest"]);
    let silent = ffmpeg(dir.path(), "silent.mp4", &args).await;
    let mute = master(&t, "video", &mute).await;
    let silent = master(&t, "video", &silent).await;

    for (asset, has_audio) in [(&mute, false), (&silent, true)] {
        let id = asset["id"].as_str().unwrap();
        let m = media_until(&t, id, "the probe and the posters", |m| {
            rendition(m, "poster_large").is_some() && rendition(m, "poster_small").is_some()
        })
        .await;
        let p = &m["probe"];
        assert_eq!(p["playable"], true, "{m:#}");
        assert_eq!(p["video"]["width"], 640);
        if has_audio {
            assert_eq!(p["audio"]["silent"], true, "{m:#}");
        } else {
            assert!(p["audio"].is_null(), "{m:#}");
        }
        // No audio rendition, and no job for one: nothing failed, there is nothing to hear.
        assert!(rendition(&m, "audio_64k").is_none(), "{m:#}");
        let sha = asset["sha256"].as_str().unwrap();
        assert!(jobs_of(&t, JobKind::MediaAudio, sha).await.is_empty());
        assert_eq!(jobs_of(&t, JobKind::MediaProbe, sha).await.len(), 1);
        assert_eq!(
            ended(&t, JobKind::MediaProbe, sha).await.state,
            JobState::Done
        );
        assert_eq!(
            ended(&t, JobKind::MediaPoster, sha).await.state,
            JobState::Done
        );
    }
}

#[tokio::test]
async fn a_truncated_file_is_unplayable_with_its_reason_and_hidden_from_strangers() {
    if !have_ffmpeg().await {
        return;
    }
    let t = app().await;
    let dir = tempfile::tempdir().unwrap();
    // Without faststart the index (moov) is at the end: the first half has none.
    let mut args = VIDEO.to_vec();
    args.extend(TONE);
    args.extend(H264);
    args.extend(["-c:a", "aac", "-shortest"]);
    let whole = std::fs::read(ffmpeg(dir.path(), "whole.mp4", &args).await).unwrap();
    let cut = dir.path().join("cut.mp4");
    std::fs::write(&cut, &whole[..whole.len() / 2]).unwrap();
    let asset = master(&t, "video", &cut).await;
    let id = asset["id"].as_str().unwrap();

    let m = media_until(&t, id, "the probe", |m| m["status"] == "probed").await;
    let p = &m["probe"];
    assert_eq!(p["playable"], false, "{m:#}");
    let reason = p["reason"].as_str().unwrap();
    assert!(reason.contains("moov atom not found"), "{reason}");
    // The reason never carries the presigned URL ffprobe was given.
    assert!(!reason.contains("X-Amz-"), "{reason}");
    assert!(m["renditions"].as_array().unwrap().is_empty());
    // A success of the job, tried once: no retry loop.
    let sha = asset["sha256"].as_str().unwrap();
    let probe = ended(&t, JobKind::MediaProbe, sha).await;
    assert_eq!(probe.state, JobState::Done);
    assert_eq!(probe.attempts, 1);
    assert!(jobs_of(&t, JobKind::MediaAudio, sha).await.is_empty());

    // The draft's media is as invisible to an anonymous caller as the asset itself.
    for path in [
        format!("/api/v1/assets/{id}/media"),
        format!("/api/v1/assets/{id}/media/audio_64k/url"),
    ] {
        let r = t.client.get(t.url(&path)).send().await.unwrap();
        assert_eq!(r.status(), 404, "{path}");
        problem(r).await;
    }
    // An unknown rendition kind is no rendition.
    let r = t
        .get(&format!("/api/v1/assets/{id}/media/audio_9000k/url"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    problem(r).await;
}

#[tokio::test]
async fn without_ffmpeg_media_jobs_wait_and_the_service_stays_ready() {
    let t = TestApp::spawn_with(|c| {
        c.media_reconcile_ms = 200;
        c.job_poll_ms = 100;
        c.ffmpeg_path = "/nonexistent/ffmpeg".into();
        c.ffprobe_path = "/nonexistent/ffprobe".into();
    })
    .await;
    let r = t.client.get(t.url("/health/ready")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let ready: Value = r.json().await.unwrap();
    assert_eq!(ready["media"]["available"], false, "{ready}");
    assert!(ready["media"]["ffmpeg"].is_null(), "{ready}");

    // Uploads still work; the probe is queued and waits, attempts not spent, saying why.
    let lesson = t.lesson("video").await;
    let r = t
        .upload(&lesson, "master", "lecture.mp4", crate::common::mp4(4096))
        .await;
    assert_eq!(r.status(), 201);
    let asset: Value = r.json().await.unwrap();
    let sha = asset["sha256"].as_str().unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let job = loop {
        let jobs = jobs_of(&t, JobKind::MediaProbe, sha).await;
        if let Some(j) = jobs.into_iter().find(|j| j.last_error.is_some()) {
            break j;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no waiting probe job"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(job.state, JobState::Pending);
    assert_eq!(job.attempts, 0);
    let error = job.last_error.unwrap();
    assert!(
        error.contains("unavailable") && error.contains("ffprobe"),
        "{error}"
    );
    assert!(
        job.run_at > lectern::db::now_ms() + 30_000,
        "waits, not spins"
    );
    let m = t
        .json(&format!(
            "/api/v1/assets/{}/media",
            asset["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(m["status"], "pending", "{m}");
    assert!(m["probe"].is_null());
}
