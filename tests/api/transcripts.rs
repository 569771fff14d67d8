//! Machine transcripts end to end: the real speech engine (faster-whisper running Whisper base,
//! installed by `lectern models install`) over a Mandarin recording committed with its text
//! (`tests/fixtures/speech-zh.ogg`, `speech-zh.txt`), stored as a WebVTT rendition and found by
//! search at the second it is said; silent and audio-less videos give empty transcripts; a run
//! past its time limit is killed and retried.
//!
//! The engine's folder comes from `LECTERN_TEST_MODELS_DIR` (`scripts/test` installs it into a
//! cache). Without it the tests that need the engine say so loudly and pass — except under
//! `CI=true`, where its absence fails.

use crate::common::{Cmd, TestApp};
use crate::media::{H264, SILENCE, VIDEO, ffmpeg, have_ffmpeg, jobs_of, master, rendition};
use lectern::domain::job::{JobKind, JobState};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

const SPEECH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/speech-zh.ogg");
const SPEECH_TEXT: &str = include_str!("../fixtures/speech-zh.txt");

/// The installed engine's folder; `None` (said loudly) when there is none, a failure under CI.
fn models_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("LECTERN_TEST_MODELS_DIR").map(PathBuf::from);
    let installed = dir.as_ref().filter(|d| d.join("installed.json").is_file());
    if installed.is_none() {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "under CI the speech engine must be installed (LECTERN_TEST_MODELS_DIR, see scripts/test)"
        );
        eprintln!(
            "\n!!! no speech engine (LECTERN_TEST_MODELS_DIR unset or not installed): the machine transcript tests that need it are SKIPPED\n"
        );
    }
    installed.cloned()
}

/// A test app with the engine in `models` (when given) and `tweak` applied.
async fn app(models: Option<&Path>, tweak: impl FnOnce(&mut lectern::config::Config)) -> TestApp {
    let models = models.map(Path::to_path_buf);
    TestApp::spawn_with(move |c| {
        c.media_reconcile_ms = 200;
        c.media_concurrency = 2;
        c.job_poll_ms = 100;
        if let Some(m) = models {
            c.transcribe_model_dir = m;
        }
        tweak(c);
    })
    .await
}

/// Polls the asset's media until its transcript is recorded (bounded: recognition on a
/// loaded two-core machine is slow).
async fn transcript_of(t: &TestApp, asset: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(300);
    loop {
        let m = t.json(&format!("/api/v1/assets/{asset}/media")).await;
        if let Some(r) = rendition(&m, "transcript_zh") {
            return r.clone();
        }
        if tokio::time::Instant::now() >= deadline {
            let jobs = t
                .db()
                .list_jobs(&Default::default(), None, 100)
                .await
                .unwrap();
            panic!("no transcript: {m:#}\njobs: {jobs:#?}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The transcript's WebVTT file, fetched through its presigned URL: (start_ms, end_ms, text).
async fn cues(t: &TestApp, asset: &str) -> (String, Vec<(i64, i64, String)>) {
    let r = t
        .get(&format!("/api/v1/assets/{asset}/media/transcript_zh/url"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let url = r.json::<Value>().await.unwrap()["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = t.client.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let vtt = r.text().await.unwrap();
    let mut out = Vec::new();
    let mut lines = vtt.lines();
    while let Some(line) = lines.next() {
        if let Some((a, b)) = line.split_once(" --> ") {
            let text = lines.next().unwrap_or_default().to_owned();
            out.push((vtt_ms(a), vtt_ms(b), text));
        }
    }
    (vtt, out)
}

fn vtt_ms(t: &str) -> i64 {
    let (hms, ms) = t.trim().split_once('.').unwrap();
    let p: Vec<i64> = hms.split(':').map(|x| x.parse().unwrap()).collect();
    ((p[0] * 60 + p[1]) * 60 + p[2]) * 1000 + ms.parse::<i64>().unwrap()
}

/// The character error rate of `hypothesis` against `reference`: the edit distance over their
/// letters, digits and ideographs (punctuation and spaces ignored) over the reference's length.
fn cer(reference: &str, hypothesis: &str) -> f64 {
    let r: Vec<char> = reference.chars().filter(|c| c.is_alphanumeric()).collect();
    let h: Vec<char> = hypothesis.chars().filter(|c| c.is_alphanumeric()).collect();
    let mut prev: Vec<usize> = (0..=h.len()).collect();
    for (i, rc) in r.iter().enumerate() {
        let mut cur = vec![i + 1; h.len() + 1];
        for (j, hc) in h.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(rc != hc))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[h.len()] as f64 / r.len().max(1) as f64
}

#[test]
fn cer_counts_edits_over_characters_without_punctuation() {
    assert_eq!(cer("今天，学习。", "今天学习"), 0.0);
    assert_eq!(cer("今天学习", "今天学"), 0.25);
    assert_eq!(cer("今天学习", "明天学习啊"), 0.5);
    assert_eq!(cer("今天学习", ""), 1.0);
}

/// The voiced stretches of a file, as ffmpeg's `silencedetect` finds them: (start_ms, end_ms).
async fn voiced(file: &str) -> Vec<(i64, i64)> {
    let mut c = Cmd::new("ffmpeg");
    c.args(["-nostdin", "-hide_banner", "-i", file]).args([
        "-af",
        "silencedetect=noise=-35dB:d=0.15",
        "-f",
        "null",
        "-",
    ]);
    let o = c.output().await;
    assert!(o.status.success());
    let log = String::from_utf8_lossy(&o.stderr);
    let num = |line: &str, key: &str| -> Option<i64> {
        let v = line.split(key).nth(1)?.split_whitespace().next()?;
        Some((v.parse::<f64>().ok()? * 1000.0) as i64)
    };
    let mut out = Vec::new();
    let mut start = 0;
    for line in log.lines() {
        if let Some(s) = num(line, "silence_start: ") {
            out.push((start, s));
        } else if let Some(e) = num(line, "silence_end: ") {
            start = e;
        }
    }
    out.push((start, i64::MAX));
    out
}

/// Creates a lesson of `kind`, uploads `file` as its master and publishes it; the asset.
async fn published_master(t: &TestApp, kind: &str, file: &Path) -> Value {
    let asset = master(t, kind, file).await;
    let lesson = asset["lesson_id"].as_str().unwrap();
    let r = t
        .post(&format!("/api/v1/lessons/{lesson}/publish"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    asset
}

#[tokio::test]
async fn mandarin_speech_is_transcribed_closely_and_found_by_search_at_its_second() {
    if !have_ffmpeg().await {
        return;
    }
    let Some(models) = models_dir() else { return };
    let t = app(Some(&models), |_| {}).await;
    let r = t.json("/health/ready").await;
    assert_eq!(r["media"]["transcription"]["available"], true, "{r}");
    assert_eq!(r["media"]["transcription"]["model"], "whisper-base", "{r}");

    let asset = published_master(&t, "audio", Path::new(SPEECH)).await;
    let id = asset["id"].as_str().unwrap();
    let tr = transcript_of(&t, id).await;
    assert_eq!(tr["state"], "ready", "{tr}");
    assert_eq!(tr["content_type"], "text/vtt");
    let (vtt, cues) = cues(&t, id).await;
    assert!(vtt.starts_with("WEBVTT"), "{vtt}");
    // The lesson offers it as its subtitle: language zh, of origin machine, the same cues.
    let lesson = asset["lesson_id"].as_str().unwrap();
    let list = t.json(&format!("/api/v1/lessons/{lesson}/subtitles")).await;
    assert_eq!(list["subtitles"][0]["language"], "zh", "{list}");
    assert_eq!(list["subtitles"][0]["origin"], "machine", "{list}");
    assert_eq!(list["subtitles"][0]["cues"], cues.len(), "{list}");
    let served = t
        .get(&format!("/api/v1/lessons/{lesson}/subtitles/zh.vtt"))
        .send()
        .await
        .unwrap();
    assert_eq!(served.status(), 200);
    assert_eq!(served.text().await.unwrap(), vtt);

    // Close to what was said: a character error rate under 30 %.
    let heard: String = cues.iter().map(|c| c.2.as_str()).collect();
    let rate = cer(SPEECH_TEXT, &heard);
    assert!(
        rate < 0.30,
        "CER {rate:.3}: heard {heard:?}, said {SPEECH_TEXT:?}"
    );
    // Subtitle-sized cues, in order, not one cue for the whole window.
    assert!(cues.len() >= 4, "{vtt}");
    for c in &cues {
        let chars = c.2.chars().filter(|ch| ch.is_alphanumeric()).count();
        assert!(chars <= 20 && c.1 - c.0 <= 7_000 && c.1 > c.0, "{c:?}");
    }
    assert!(cues.windows(2).all(|w| w[0].0 <= w[1].0), "{vtt}");
    // In Simplified characters (the recording says 农业技术, never 農業技術).
    assert!(!heard.contains('農') && !heard.contains('業'), "{heard}");

    // The job is done, once.
    let sha = asset["sha256"].as_str().unwrap();
    let jobs = jobs_of(&t, JobKind::MediaTranscript, sha).await;
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(jobs[0].id, format!("media-transcript-{sha}"));

    // Search finds a word of the fourth clause (合理使用有机肥料) in a cue of the master that
    // overlaps the stretch of sound where it is said.
    crate::search::indexed(&t).await;
    let v = search(&t, "有机肥料").await;
    let hit = v["hits"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["id"] == asset["lesson_id"])
        .unwrap_or_else(|| panic!("not found: {v:#}"));
    let cue = &hit["cues"][0];
    assert_eq!(cue["asset_id"], id, "{hit}");
    assert_eq!(cue["machine_transcript"], true, "{hit}");
    let (start, end) = (
        cue["start_ms"].as_i64().unwrap(),
        cue["end_ms"].as_i64().unwrap(),
    );
    let stretches = voiced(SPEECH).await;
    assert_eq!(
        stretches.len(),
        7,
        "the recording has seven clauses: {stretches:?}"
    );
    let (s, e) = stretches[3];
    assert!(
        start < e && end > s,
        "cue {start}–{end} ms, said at {s}–{e} ms: {hit}"
    );
    assert!(
        (start - s).abs() <= 1_500,
        "cue {start} ms, said at {s} ms: {hit}"
    );

    // An editor's subtitle replaces the machine transcript in search.
    let vtt = "WEBVTT\n\n00:00:01.000 --> 00:00:03.000\n今天我们学习乡村振兴。\n";
    let r = t
        .upload(lesson, "subtitle", "zh.vtt", vtt.as_bytes().to_vec())
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    crate::search::indexed(&t).await;
    let v = search(&t, "有机肥料").await;
    assert!(
        v["hits"]
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h["id"] != lesson),
        "{v:#}"
    );
    let v = search(&t, "乡村振兴").await;
    let hit = v["hits"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["id"] == lesson)
        .unwrap_or_else(|| panic!("not found: {v:#}"));
    let cues = hit["cues"].as_array().unwrap();
    assert!(!cues.is_empty(), "{hit}");
    assert!(
        cues.iter().all(|c| c["machine_transcript"] == false),
        "{hit}"
    );
}

/// What an anonymous caller finds for `q`.
async fn search(t: &TestApp, q: &str) -> Value {
    let r = t
        .client
        .get(t.url("/api/v1/search"))
        .query(&[("q", q)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

#[tokio::test]
async fn silent_and_audio_less_videos_get_empty_transcripts_and_their_jobs_are_done() {
    if !have_ffmpeg().await {
        return;
    }
    // No engine is needed: there is nothing to hear.
    let t = app(None, |_| {}).await;
    let dir = tempfile::tempdir().unwrap();
    let mute = ffmpeg(dir.path(), "mute.mp4", &[VIDEO, H264].concat()).await;
    let mut args = VIDEO.to_vec();
    args.extend(SILENCE);
    args.extend(H264);
    args.extend(["-c:a", "aac", "-shortest"]);
    let silent = ffmpeg(dir.path(), "silent.mp4", &args).await;
    for file in [mute, silent] {
        let asset = master(&t, "video", &file).await;
        let id = asset["id"].as_str().unwrap();
        let tr = transcript_of(&t, id).await;
        assert_eq!(tr["state"], "ready", "{tr}");
        let (vtt, cues) = cues(&t, id).await;
        assert!(vtt.starts_with("WEBVTT"), "{vtt}");
        assert!(cues.is_empty(), "{vtt}");
        let sha = asset["sha256"].as_str().unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let jobs = jobs_of(&t, JobKind::MediaTranscript, sha).await;
            assert_eq!(jobs.len(), 1, "{jobs:?}");
            if jobs[0].state == JobState::Done {
                assert_eq!(jobs[0].attempts, 1);
                assert!(jobs[0].last_error.is_none(), "{jobs:?}");
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "{jobs:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[tokio::test]
async fn without_a_model_transcripts_are_off_and_their_jobs_wait() {
    if !have_ffmpeg().await {
        return;
    }
    let t = app(None, |_| {}).await;
    let r = t.json("/health/ready").await;
    let tr = &r["media"]["transcription"];
    assert_eq!(tr["available"], false, "{r}");
    assert!(
        tr["reason"]
            .as_str()
            .unwrap()
            .contains("lectern models install"),
        "{r}"
    );
    assert!(tr["model"].is_null());

    let asset = master(&t, "audio", Path::new(SPEECH)).await;
    let sha = asset["sha256"].as_str().unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let job = loop {
        let jobs = jobs_of(&t, JobKind::MediaTranscript, sha).await;
        if let Some(j) = jobs.into_iter().find(|j| j.last_error.is_some()) {
            break j;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no waiting transcript job"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(job.state, JobState::Pending);
    assert_eq!(job.attempts, 0, "waiting spends no attempt");
    assert!(
        job.last_error
            .unwrap()
            .contains("machine transcripts are off")
    );
    assert!(
        job.run_at > lectern::db::now_ms() + 30_000,
        "waits, not spins"
    );
}

#[tokio::test]
async fn a_transcription_past_its_time_limit_is_killed_and_retried() {
    if !have_ffmpeg().await {
        return;
    }
    let Some(models) = models_dir() else { return };
    // One second in all: the engine cannot even load its model in that time.
    let t = app(Some(&models), |c| {
        c.transcribe_timeout_secs = 1;
        c.transcribe_timeout_percent = 0;
    })
    .await;
    let asset = master(&t, "audio", Path::new(SPEECH)).await;
    let sha = asset["sha256"].as_str().unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    let job = loop {
        let jobs = jobs_of(&t, JobKind::MediaTranscript, sha).await;
        if let Some(j) = jobs
            .into_iter()
            .find(|j| j.attempts >= 2 && j.state != JobState::Running)
        {
            break j;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no retried transcript job"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        matches!(job.state, JobState::Pending | JobState::Dead),
        "{job:?}"
    );
    let error = job.last_error.unwrap();
    assert!(error.contains("time limit of 1 s"), "{error}");
    // Nothing half-made is visible.
    let m = t
        .json(&format!(
            "/api/v1/assets/{}/media",
            asset["id"].as_str().unwrap()
        ))
        .await;
    assert!(rendition(&m, "transcript_zh").is_none(), "{m:#}");
}
