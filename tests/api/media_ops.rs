//! Media operations end to end (issue 12): document previews, the uploaded poster, the sprite
//! and its thumbnail track, hard inputs (a rotated phone video, a 10-bit file), progress on a
//! running job, a killed ffmpeg and a hanging one, reprocessing, superseded masters, and
//! cancelling when a lesson goes. Fixtures are made in the test (ffmpeg's lavfi sources, a PDF
//! written by hand); the ffmpeg the service runs is, where a test needs to reach it, a small
//! wrapper script around the real one (it records its process id, and can slow down or hang).
//!
//! Without ffmpeg (or poppler) these tests say so loudly and pass — except under `CI=true`.

use crate::common::{Cmd, TestApp, command, fresh_postgres, problem, use_postgres};
use crate::media::{
    ffmpeg, ffprobe, have, jobs_of, media, media_until, ready, rendition, rendition_url, upload,
};
use lectern::db::Db;
use lectern::db::jobs::NewJob;
use lectern::domain::job::{JobKind, JobState, Lane};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A 6 s 640x360 test pattern with a 440 Hz tone, as H.264 + AAC.
async fn lecture(dir: &Path, name: &str) -> PathBuf {
    ffmpeg(
        dir,
        name,
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=640x360:rate=25:duration=6",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=48000:duration=6",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-shortest",
        ],
    )
    .await
}

/// A PDF of `pages` US-letter pages, each with its number and a blue square.
fn pdf(pages: usize) -> Vec<u8> {
    let texts: Vec<String> = (1..=pages).map(|n| format!("Page {n}")).collect();
    crate::common::pdf_with(&texts.iter().map(String::as_str).collect::<Vec<_>>())
}

async fn app_with(tweak: impl FnOnce(&mut lectern::config::Config)) -> TestApp {
    TestApp::spawn_with(|c| {
        c.media_reconcile_ms = 200;
        c.media_concurrency = 2;
        c.media_stall_secs = 10;
        c.media_progress_ms = 200;
        c.job_poll_ms = 100;
        tweak(c);
    })
    .await
}

/// Waits (at most 90 s) until `check` holds.
async fn until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Polls `find` (at most 90 s) until it finds something.
async fn find<T, F, Fut>(what: &str, mut find: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        if let Some(v) = find().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The real binary on the test's database, run to its end.
async fn lectern(t: &TestApp, args: &[&str]) -> std::process::Output {
    let mut c = command(&t.config);
    c.args(args);
    c.output().await
}

/// A wrapper around the real ffmpeg that the service runs instead: it records each process id
/// in `pids` (one a line, the process then becomes ffmpeg itself), hangs once (printing
/// nothing) when the file `hang` exists, and with `slow` reads its input at its native rate
/// (`-re`), so a 6 s file takes 6 s.
fn wrapper(dir: &Path, slow: bool) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let script = dir.join("ffmpeg-wrapper");
    let d = dir.display();
    let re = if slow { "-re" } else { "" };
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n\
             case \"$1\" in -version) exec ffmpeg \"$@\";; esac\n\
             echo $$ >> '{d}/pids'\n\
             if [ -e '{d}/hang' ]; then rm -f '{d}/hang'; exec sleep 600; fi\n\
             exec ffmpeg {re} \"$@\"\n"
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script
}

/// The process ids the wrapper recorded whose command line contains `needle`.
fn wrapped(dir: &Path, needle: &str) -> Vec<u32> {
    std::fs::read_to_string(dir.join("pids"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| {
                    String::from_utf8_lossy(&c)
                        .replace('\0', " ")
                        .contains(needle)
                })
                .unwrap_or(false)
        })
        .collect()
}

#[tokio::test]
async fn a_pdf_gets_its_page_count_and_images_of_its_first_ten_pages_and_a_broken_one_a_reason() {
    if !have(&["pdftoppm", "pdfinfo", "ffprobe"]).await {
        return;
    }
    let t = app_with(|_| {}).await;
    let lesson = t.lesson("document").await;
    let doc = upload(&t, &lesson, "master", "讲义.pdf", pdf(12)).await;
    let id = doc["id"].as_str().unwrap();
    let m = media_until(&t, id, "the document's reading", |m| {
        m["status"] == "probed"
    })
    .await;
    assert_eq!(m["probe"]["playable"], true, "{m:#}");
    assert_eq!(m["probe"]["page_count"], 12, "{m:#}");
    assert_eq!(m["probe"]["container"], "pdf");
    for n in 1..=10 {
        let kind = format!("page_{n}");
        let r = rendition(&m, &kind).unwrap_or_else(|| panic!("no {kind}: {m:#}"));
        assert_eq!(r["state"], "ready");
        assert_eq!(r["content_type"], "image/jpeg");
        // US letter at 1024 wide: 1024 x 1325 (792/612 of the width).
        assert_eq!(r["width"], 1024, "{r}");
        assert!(
            (1320..=1330).contains(&r["height"].as_i64().unwrap()),
            "{r}"
        );
    }
    assert!(
        rendition(&m, "page_11").is_none(),
        "only the first ten pages"
    );
    // Each page is downloadable through its presigned URL, and is the picture it says.
    let url = rendition_url(&t, id, "page_3").await;
    let image = ffprobe(&url).await;
    assert_eq!(image["streams"][0]["width"], 1024);
    let sha = doc["sha256"].as_str().unwrap();
    let job = jobs_of(&t, JobKind::MediaDocument, sha).await;
    assert_eq!(job.len(), 1);

    // A broken PDF is a result with its reason, read once: no failure loop.
    let broken = upload(
        &t,
        &lesson,
        "attachment",
        "broken.pdf",
        b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R".to_vec(),
    )
    .await;
    let bid = broken["id"].as_str().unwrap();
    let m = media_until(&t, bid, "the broken document's reading", |m| {
        m["status"] == "probed"
    })
    .await;
    assert_eq!(m["probe"]["playable"], false, "{m:#}");
    let reason = m["probe"]["reason"].as_str().unwrap();
    assert!(!reason.is_empty());
    assert!(!reason.contains("media-work"), "no local path in {reason}");
    assert!(m["renditions"].as_array().unwrap().is_empty());
    let bsha = broken["sha256"].as_str().unwrap();
    until("the broken document's job to end", || async {
        jobs_of(&t, JobKind::MediaDocument, bsha)
            .await
            .first()
            .is_some_and(|j| j.state == JobState::Done)
    })
    .await;
    assert_eq!(
        jobs_of(&t, JobKind::MediaDocument, bsha).await[0].attempts,
        1
    );
}

#[tokio::test]
async fn an_uploaded_poster_is_used_and_the_thumbnail_track_points_into_the_sprite() {
    if !have(&["ffmpeg", "ffprobe"]).await {
        return;
    }
    let t = app_with(|_| {}).await;
    let dir = tempfile::tempdir().unwrap();
    let video = lecture(dir.path(), "lecture.mp4").await;
    let poster = ffmpeg(
        dir.path(),
        "poster.jpg",
        &[
            "-f",
            "lavfi",
            "-i",
            "color=c=red:s=800x600",
            "-frames:v",
            "1",
        ],
    )
    .await;
    let lesson = t.lesson("video").await;
    let master = upload(
        &t,
        &lesson,
        "master",
        "lecture.mp4",
        std::fs::read(&video).unwrap(),
    )
    .await;
    let id = master["id"].as_str().unwrap();
    // First the frame poster (640 wide: never upscaled) and the sprite.
    let m = media_until(&t, id, "the frame posters and the sprite", |m| {
        ready(m, "poster_large") && ready(m, "poster_small") && ready(m, "sprite")
    })
    .await;
    assert_eq!(rendition(&m, "poster_large").unwrap()["width"], 640);
    assert!(m["poster_asset_id"].is_null());

    // The sprite: six tiles of 160x90 in one row; the track has one cue per tile.
    let sprite = rendition(&m, "sprite").unwrap();
    assert_eq!(
        (sprite["width"].as_i64(), sprite["height"].as_i64()),
        (Some(960), Some(90))
    );
    let track = m["thumbnails_url"].as_str().unwrap();
    let r = t.get(track).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/vtt")
    );
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    let vtt = r.text().await.unwrap();
    assert!(vtt.starts_with("WEBVTT\n"), "{vtt}");
    let cues: Vec<&str> = vtt.lines().filter(|l| l.contains("#xywh=")).collect();
    assert_eq!(cues.len(), 6, "{vtt}");
    assert!(vtt.contains("00:00:05.000 --> 00:00:06."), "{vtt}");
    assert!(cues[5].ends_with("#xywh=800,0,160,90"), "{vtt}");
    let (sprite_url, _) = cues[0].split_once('#').unwrap();
    let image = ffprobe(sprite_url).await;
    assert_eq!(image["streams"][0]["width"], 960);

    // An uploaded poster: its own two sizes replace the frame's in the master's view.
    let p = upload(
        &t,
        &lesson,
        "poster",
        "poster.jpg",
        std::fs::read(&poster).unwrap(),
    )
    .await;
    let m = media_until(&t, id, "the uploaded poster to be used", |m| {
        m["poster_asset_id"] == p["id"]
    })
    .await;
    let large = rendition(&m, "poster_large").unwrap();
    let small = rendition(&m, "poster_small").unwrap();
    assert_eq!(
        (large["width"].as_i64(), large["height"].as_i64()),
        (Some(800), Some(600))
    );
    assert_eq!(
        (small["width"].as_i64(), small["height"].as_i64()),
        (Some(320), Some(240))
    );
    let url = rendition_url(&t, id, "poster_large").await;
    assert_eq!(ffprobe(&url).await["streams"][0]["width"], 800);
}

#[tokio::test]
async fn a_rotated_phone_video_and_a_ten_bit_file_are_probed_and_rendered_upright() {
    if !have(&["ffmpeg", "ffprobe"]).await {
        return;
    }
    let t = app_with(|_| {}).await;
    let dir = tempfile::tempdir().unwrap();
    let source = [
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=640x360:rate=25:duration=3",
    ];
    // A phone's picture is stored sideways with a display matrix saying how to turn it
    // (ffmpeg 5.1 writes one from the `rotate` tag when copying the stream).
    let upright = ffmpeg(
        dir.path(),
        "upright.mp4",
        &[
            &source[..],
            &[
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-pix_fmt",
                "yuv420p",
            ],
        ]
        .concat(),
    )
    .await;
    let rotated = ffmpeg(
        dir.path(),
        "phone.mp4",
        &[
            "-i",
            upright.to_str().unwrap(),
            "-c",
            "copy",
            "-metadata:s:v:0",
            "rotate=90",
        ],
    )
    .await;
    let deep = ffmpeg(
        dir.path(),
        "ten-bit.mp4",
        &[
            &source[..],
            &[
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-pix_fmt",
                "yuv420p10le",
                "-profile:v",
                "high10",
            ],
        ]
        .concat(),
    )
    .await;
    let lesson = t.lesson("video").await;
    let other = t.lesson("video").await;
    let phone = upload(
        &t,
        &lesson,
        "master",
        "phone.mp4",
        std::fs::read(&rotated).unwrap(),
    )
    .await;
    let ten = upload(
        &t,
        &other,
        "master",
        "ten-bit.mp4",
        std::fs::read(&deep).unwrap(),
    )
    .await;

    let m = media_until(
        &t,
        phone["id"].as_str().unwrap(),
        "the phone video's posters",
        |m| ready(m, "poster_large") && ready(m, "poster_small"),
    )
    .await;
    let rotation = m["probe"]["video"]["rotation"].as_i64().unwrap();
    assert!(rotation == 90 || rotation == 270, "{m:#}");
    // Stored 640x360, shown turned: the posters stand upright (portrait).
    assert_eq!(m["probe"]["video"]["width"], 640);
    let large = rendition(&m, "poster_large").unwrap();
    assert_eq!(
        (large["width"].as_i64(), large["height"].as_i64()),
        (Some(360), Some(640)),
        "{m:#}"
    );
    let small = rendition(&m, "poster_small").unwrap();
    assert!(small["height"].as_i64() > small["width"].as_i64(), "{m:#}");

    let m = media_until(
        &t,
        ten["id"].as_str().unwrap(),
        "the 10-bit file's posters",
        |m| ready(m, "poster_large"),
    )
    .await;
    assert_eq!(m["probe"]["playable"], true, "{m:#}");
    assert_eq!(m["probe"]["video"]["codec"], "h264");
    assert_eq!(rendition(&m, "poster_large").unwrap()["width"], 640);
    let url = rendition_url(&t, ten["id"].as_str().unwrap(), "poster_large").await;
    let image = ffprobe(&url).await;
    assert_eq!(image["streams"][0]["codec_name"], "mjpeg");
}

#[tokio::test]
async fn a_running_job_shows_its_progress_and_an_ffmpeg_killed_mid_encode_is_retried_to_the_end() {
    if !have(&["ffmpeg", "ffprobe"]).await {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ffmpeg_path = wrapper(dir.path(), true);
    let t = app_with(|c| c.ffmpeg_path = ffmpeg_path).await;
    let mp3 = ffmpeg(
        dir.path(),
        "reading.mp3",
        &[
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=48000:duration=6",
            "-c:a",
            "libmp3lame",
        ],
    )
    .await;
    let lesson = t.lesson("audio").await;
    let asset = upload(
        &t,
        &lesson,
        "master",
        "reading.mp3",
        std::fs::read(&mp3).unwrap(),
    )
    .await;
    let sha = asset["sha256"].as_str().unwrap().to_owned();

    // The audio rendition runs at the input's own pace: its progress shows on the job, in the
    // jobs API, on the jobs page and in `lectern jobs list`.
    let job = find("the audio job to report progress", || async {
        jobs_of(&t, JobKind::MediaAudio, &sha)
            .await
            .into_iter()
            .find(|j| j.state == JobState::Running && j.progress_permille.is_some_and(|p| p > 0))
    })
    .await;
    assert!(job.progress_permille.unwrap() < 1000);
    let page = t.json("/api/v1/jobs?kind=media_audio").await;
    let item = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["id"] == job.id.as_str())
        .unwrap()
        .clone();
    assert!(item["progress_permille"].as_i64().is_some(), "{item}");
    let o = lectern(&t, &["jobs", "list", "--kind", "media_audio"]).await;
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let listed = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(listed.contains(" %"), "{listed}");

    // kill -9 the encoder mid-file: the step is retried (not recorded as the file's failure)
    // and the second attempt finishes the rendition.
    // (The audio-only HLS variant encodes at 64k too: its output is not `audio.m4a`.)
    let pids = wrapped(dir.path(), "audio.m4a");
    assert_eq!(pids.len(), 1, "one audio encoder running: {pids:?}");
    let mut kill = Cmd::new("kill");
    kill.args(["-9", &pids[0].to_string()]);
    assert!(kill.output().await.status.success());
    let m = media_until(
        &t,
        asset["id"].as_str().unwrap(),
        "the audio rendition",
        |m| ready(m, "audio_64k"),
    )
    .await;
    assert_eq!(rendition(&m, "audio_64k").unwrap()["state"], "ready");
    let done = find("the audio job to end", || async {
        jobs_of(&t, JobKind::MediaAudio, &sha)
            .await
            .into_iter()
            .find(|j| j.state == JobState::Done)
    })
    .await;
    assert_eq!(done.attempts, 2, "{done:?}");
    assert_eq!(done.progress_permille, Some(1000));
    // The rendition is whole: 6 s of audio.
    let url = rendition_url(&t, asset["id"].as_str().unwrap(), "audio_64k").await;
    let seconds: f64 = ffprobe(&url).await["format"]["duration"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((seconds - 6.0).abs() < 0.2, "{seconds}");
}

#[tokio::test]
async fn a_hanging_ffmpeg_is_stopped_by_the_watchdog_and_the_step_retried() {
    if !have(&["ffmpeg", "ffprobe"]).await {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ffmpeg_path = wrapper(dir.path(), false);
    // The first ffmpeg the service starts (the probe's loudness pass) hangs, printing nothing.
    std::fs::write(dir.path().join("hang"), b"").unwrap();
    let t = app_with(|c| {
        c.ffmpeg_path = ffmpeg_path;
        c.media_stall_secs = 5;
    })
    .await;
    let mp3 = ffmpeg(
        dir.path(),
        "reading.mp3",
        &[
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=48000:duration=3",
            "-c:a",
            "libmp3lame",
        ],
    )
    .await;
    let lesson = t.lesson("audio").await;
    let asset = upload(
        &t,
        &lesson,
        "master",
        "reading.mp3",
        std::fs::read(&mp3).unwrap(),
    )
    .await;
    let sha = asset["sha256"].as_str().unwrap().to_owned();
    let failed = find("the watchdog to stop the hanging probe", || async {
        jobs_of(&t, JobKind::MediaProbe, &sha)
            .await
            .into_iter()
            .find(|j| {
                j.state == JobState::Pending
                    && j.last_error
                        .as_deref()
                        .is_some_and(|e| e.contains("no progress"))
            })
    })
    .await;
    assert_eq!(failed.attempts, 1);
    // The hanging process is gone (killed, not left behind).
    let first: u32 = std::fs::read_to_string(dir.path().join("pids"))
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        !Path::new(&format!("/proc/{first}")).exists() || {
            let stat = std::fs::read_to_string(format!("/proc/{first}/stat")).unwrap_or_default();
            stat.contains(") Z ")
        }
    );
    let m = media_until(
        &t,
        asset["id"].as_str().unwrap(),
        "the retried probe and the audio",
        |m| ready(m, "audio_64k"),
    )
    .await;
    assert_eq!(m["probe"]["playable"], true);
    let probe = jobs_of(&t, JobKind::MediaProbe, &sha).await.remove(0);
    assert_eq!(probe.attempts, 2, "{probe:?}");
}

#[tokio::test]
async fn reprocess_remakes_a_rendition_through_the_api_and_the_command_line() {
    if !have(&["ffmpeg", "ffprobe"]).await {
        return;
    }
    let t = app_with(|_| {}).await;
    let dir = tempfile::tempdir().unwrap();
    let mp3 = ffmpeg(
        dir.path(),
        "reading.mp3",
        &[
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=48000:duration=3",
            "-c:a",
            "libmp3lame",
        ],
    )
    .await;
    let lesson = t.lesson("audio").await;
    let asset = upload(
        &t,
        &lesson,
        "master",
        "reading.mp3",
        std::fs::read(&mp3).unwrap(),
    )
    .await;
    let id = asset["id"].as_str().unwrap();
    let sha = asset["sha256"].as_str().unwrap().to_owned();
    let m = media_until(&t, id, "the audio rendition", |m| ready(m, "audio_64k")).await;
    let first = rendition(&m, "audio_64k").unwrap()["created_at"].clone();
    let probed_at = m["probe"]["probed_at"].clone();
    until("the first audio job to end", || async {
        jobs_of(&t, JobKind::MediaAudio, &sha).await[0].state == JobState::Done
    })
    .await;

    // Refused: an unknown kind (400), no credentials (401), a stranger (404, as if absent).
    let r = t
        .post(&format!(
            "/api/v1/assets/{id}/media/reprocess?only=audio_9000k"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    problem(r).await;
    let r = t
        .client
        .post(t.url(&format!("/api/v1/assets/{id}/media/reprocess")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    problem(r).await;
    let tree = t.tree().await;
    let stranger = t
        .account("stranger", &[("editor", &tree.sibling_city)])
        .await;
    let r = t
        .r#as(&stranger)
        .post(&format!("/api/v1/assets/{id}/media/reprocess"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    problem(r).await;

    // The audio alone, made again: a new row, a fresh job (attempts from zero), the probe kept.
    // While another step of the content runs (its HLS variants, its transcript) the answer is
    // 409 and nothing changes; it is asked again until they are done.
    tokio::time::sleep(Duration::from_millis(5)).await;
    let r = crate::media::reprocess(&t, id, Some("audio_64k")).await;
    assert_eq!(r.status(), 202);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["queued"], serde_json::json!([sha]));
    let m = media_until(&t, id, "the audio made again", |m| {
        rendition(m, "audio_64k").is_some_and(|r| r["created_at"] != first)
    })
    .await;
    assert!(ready(&m, "audio_64k"));
    assert_eq!(m["probe"]["probed_at"], probed_at, "the probe is kept");
    let jobs = jobs_of(&t, JobKind::MediaAudio, &sha).await;
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(jobs[0].attempts, 1);
    assert_eq!(jobs_of(&t, JobKind::MediaProbe, &sha).await.len(), 1);

    // The whole lesson from the command line: the probe too.
    until("the second audio job to end", || async {
        jobs_of(&t, JobKind::MediaAudio, &sha).await[0].state == JobState::Done
    })
    .await;
    // (Skipped, and asked again, while another step of the content still runs.)
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    let o = loop {
        let o = lectern(&t, &["media", "reprocess", &lesson]).await;
        let queued = String::from_utf8_lossy(&o.stdout).contains("1 content(s) queued again");
        if queued || !o.status.success() || std::time::Instant::now() > deadline {
            break o;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("1 content(s) queued again"));
    let m = media_until(&t, id, "the probe made again", |m| {
        m["probe"]["probed_at"] != probed_at && ready(m, "audio_64k")
    })
    .await;
    assert_eq!(m["status"], "probed");
    // An unknown kind from the command line is refused with the kinds it knows.
    let o = lectern(&t, &["media", "reprocess", "--all", "--only", "hd"]).await;
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("audio_64k"));
    // Each reprocess is in the audit log.
    let audited: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'media.reprocess'")
            .fetch_one(t.db().pool())
            .await
            .unwrap();
    assert_eq!(audited, 2);
}

#[tokio::test]
async fn a_new_master_supersedes_the_old_and_deleting_a_lesson_cancels_its_pending_jobs() {
    // Without the programs every media job waits, pending: what is cancelled can be seen.
    let t = app_with(|c| {
        c.ffmpeg_path = "/nonexistent/ffmpeg".into();
        c.ffprobe_path = "/nonexistent/ffprobe".into();
    })
    .await;
    let a = t.lesson("video").await;
    let b = t.lesson("video").await;
    let old = upload(&t, &a, "master", "old.mp4", crate::common::mp4(4096)).await;
    let old_sha = old["sha256"].as_str().unwrap().to_owned();
    until("the old master's probe to be queued", || async {
        !jobs_of(&t, JobKind::MediaProbe, &old_sha).await.is_empty()
    })
    .await;
    // A new master: the old content's pending probe is cancelled, the new one's queued, and
    // the old asset's media shows nothing.
    let new = upload(&t, &a, "master", "new.mp4", crate::common::mp4(5000)).await;
    let new_sha = new["sha256"].as_str().unwrap().to_owned();
    assert_ne!(old_sha, new_sha);
    until("the old master's probe to be cancelled", || async {
        jobs_of(&t, JobKind::MediaProbe, &old_sha).await.is_empty()
    })
    .await;
    until("the new master's probe to be queued", || async {
        !jobs_of(&t, JobKind::MediaProbe, &new_sha).await.is_empty()
    })
    .await;
    let m = media(&t, old["id"].as_str().unwrap()).await;
    assert_eq!(m["status"], "superseded", "{m:#}");
    // Not queued again by the reconciler.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(jobs_of(&t, JobKind::MediaProbe, &old_sha).await.is_empty());

    // The same bytes in another lesson keep their job when the first lesson goes.
    upload(&t, &b, "master", "same.mp4", crate::common::mp4(5000)).await;
    let r = t
        .delete(&format!("/api/v1/lessons/{a}"))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    assert_eq!(jobs_of(&t, JobKind::MediaProbe, &new_sha).await.len(), 1);
    let r = t
        .delete(&format!("/api/v1/lessons/{b}"))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    until("the deleted lessons' probe to be cancelled", || async {
        jobs_of(&t, JobKind::MediaProbe, &new_sha).await.is_empty()
    })
    .await;
}

/// A fresh database of the configured backend, migrated, with no service on it.
async fn bare_db(dir: &Path) -> Db {
    let url = if use_postgres() {
        fresh_postgres().await
    } else {
        format!("sqlite://{}?mode=rwc", dir.join("claims.db").display())
    };
    let db = Db::connect(&url, 4).await.unwrap();
    db.migrate().await.unwrap();
    db
}

#[tokio::test]
async fn a_claim_takes_no_more_media_steps_than_there_are_free_slots() {
    let dir = tempfile::tempdir().unwrap();
    let db = bare_db(dir.path()).await;
    // Three media steps queued before a webhook-lane job.
    let media: Vec<NewJob> = (0..3)
        .map(|i| NewJob::now(JobKind::MediaAudio, &format!("sha{i}"), "org", "{}".into()))
        .collect();
    db.enqueue_jobs(&media).await.unwrap();
    db.enqueue_jobs(&[NewJob::now(JobKind::Probe, "", "org", "{}".into())])
        .await
        .unwrap();
    // No slot free: the media steps are passed over, the other job is taken.
    let none = db
        .claim_jobs_capped("w", 4, Lane::Low, 60_000, 0)
        .await
        .unwrap();
    assert_eq!(
        none.iter().map(|j| j.kind).collect::<Vec<_>>(),
        [JobKind::Probe]
    );
    // One slot: one media step, however many workers are free.
    let one = db
        .claim_jobs_capped("w", 4, Lane::Low, 60_000, 1)
        .await
        .unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].kind, JobKind::MediaAudio);
    let two = db
        .claim_jobs_capped("w", 4, Lane::Low, 60_000, 5)
        .await
        .unwrap();
    assert_eq!(two.len(), 2);
    assert!(two.iter().all(|j| j.kind == JobKind::MediaAudio));
}
