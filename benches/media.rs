//! Media renditions: the wall time and real-time factor of each step Lectern runs for a video
//! master (probe, audio, poster, each HLS variant, the small MP4), the time from the end of the
//! upload until the lesson is playable (the audio and the lowest video variant stored), and the
//! same ffmpeg encodes run by hand on a local copy of the file, to estimate what Lectern adds
//! around ffmpeg (reading the master over HTTP from object storage, storing every segment, the
//! job runner). Results go to `BENCHMARKS.md`.
//!
//! `cargo bench --bench media`. Settings from the environment:
//! - `LECTERN_BENCH_SECONDS` the test pattern's length (default 60)
//! - `LECTERN_BENCH_SIZE` its picture (default `1280x720`)
//!
//! One worker and one ffmpeg slot, so the steps run one after another and each is timed alone
//! (by polling the job table every 20 ms: the error is well under the steps' seconds). The
//! service is in this process on SQLite and its embedded S3 endpoint. "By hand" runs ffmpeg
//! with the arguments Lectern uses (kept in step with `src/media/hls.rs`; `nice -n 10` as
//! Lectern) on the local file, writing to a local folder.

mod support;

use lectern::domain::job::{JobKind, JobState};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

fn ffmpeg(args: &[&str]) -> Duration {
    let start = Instant::now();
    let out = std::process::Command::new("nice")
        .args([
            "-n",
            "10",
            "ffmpeg",
            "-nostdin",
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
        ])
        .args(args)
        .output()
        .expect("ffmpeg runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    start.elapsed()
}

fn x264<'a>(size: &'a str, rates: [&'a str; 3], level: &'a str) -> Vec<&'a str> {
    vec![
        "-map",
        "0:V:0",
        "-sn",
        "-dn",
        "-vf",
        size,
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-profile:v",
        "high",
        "-level:v",
        level,
        "-b:v",
        rates[0],
        "-maxrate",
        rates[1],
        "-bufsize",
        rates[2],
        "-g",
        "100",
        "-sc_threshold",
        "0",
        "-flags",
        "+cgop",
        "-force_key_frames",
        "expr:gte(t,n_forced*4)",
    ]
}

fn hls_out(dir: &Path) -> Vec<String> {
    std::fs::create_dir_all(dir).unwrap();
    [
        "-f",
        "hls",
        "-hls_time",
        "4",
        "-hls_playlist_type",
        "vod",
        "-hls_segment_type",
        "fmp4",
        "-hls_fmp4_init_filename",
        "init.mp4",
        "-hls_flags",
        "independent_segments",
        "-hls_segment_filename",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([
        dir.join("seg-%05d.m4s").display().to_string(),
        dir.join("index.m3u8").display().to_string(),
    ])
    .collect()
}

/// The same encodes by hand, those `wanted`: (step, wall time).
fn by_hand(src: &str, dir: &Path, wanted: impl Fn(&str) -> bool) -> Vec<(String, Duration)> {
    std::fs::create_dir_all(dir).unwrap();
    let mut out = Vec::new();
    let scale360 = "scale=640:360:flags=bicubic,setsar=1,format=yuv420p";
    let scale720 = "scale=1280:720:flags=bicubic,setsar=1,format=yuv420p";
    let scale1080 = "scale=1920:1080:flags=bicubic,setsar=1,format=yuv420p";
    let aac = |ch: &'static str, rate: &'static str| {
        vec![
            "-map", "0:a:0", "-c:a", "aac", "-b:a", rate, "-ac", ch, "-ar", "48000",
        ]
    };
    let mut run = |name: &str, mut args: Vec<String>| {
        if !wanted(name) {
            return;
        }
        let mut all = vec!["-i".to_owned(), src.to_owned()];
        all.append(&mut args);
        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
        out.push((name.to_owned(), ffmpeg(&refs)));
    };
    let s = |v: Vec<&str>| v.into_iter().map(str::to_owned).collect::<Vec<_>>();
    let mut a = s(vec![
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
    ]);
    a.push(dir.join("audio.m4a").display().to_string());
    run("media_audio", a);
    let mut v = s(vec!["-an"]);
    v.extend(s(x264(scale360, ["800000", "856000", "1200000"], "3.0")));
    v.extend(hls_out(&dir.join("360p")));
    run("hls 360p", v);
    let mut v = s(vec!["-an"]);
    v.extend(s(x264(scale720, ["2500000", "2675000", "3750000"], "3.1")));
    v.extend(hls_out(&dir.join("720p")));
    run("hls 720p", v);
    let mut v = s(vec!["-an"]);
    v.extend(s(x264(scale1080, ["5000000", "5350000", "7500000"], "4.0")));
    v.extend(hls_out(&dir.join("1080p")));
    run("hls 1080p", v);
    let mut v = s(vec!["-vn", "-sn", "-dn"]);
    v.extend(s(aac("1", "96k")));
    v.extend(hls_out(&dir.join("audio")));
    run("hls audio", v);
    let mut v = s(vec!["-vn", "-sn", "-dn"]);
    v.extend(s(aac("1", "64k")));
    v.extend(hls_out(&dir.join("audio_64k")));
    run("hls audio_64k", v);
    let mut v = s(x264(scale360, ["700000", "856000", "1700000"], "3.0"));
    v.extend(s(aac("1", "64k")));
    v.extend(s(vec!["-movflags", "+faststart", "-f", "mp4"]));
    v.push(dir.join("small.mp4").display().to_string());
    run("media_mp4", v);
    out
}

fn label(job: &lectern::db::jobs::JobRecord) -> String {
    if job.kind == JobKind::MediaHls || job.kind == JobKind::MediaHlsUpper {
        let v: serde_json::Value = serde_json::from_str(&job.payload).unwrap_or_default();
        format!("hls {}", v["variant"].as_str().unwrap_or("?"))
    } else {
        job.kind.as_str().to_owned()
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let seconds: u64 = std::env::var("LECTERN_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let size = std::env::var("LECTERN_BENCH_SIZE").unwrap_or_else(|_| "1280x720".into());
    let dir = tempfile::tempdir()?;
    let src = dir.path().join("lecture.mp4");
    let src_s = src.display().to_string();
    let pattern = format!("testsrc=size={size}:rate=25:duration={seconds}");
    let tone = format!("sine=frequency=440:sample_rate=48000:duration={seconds}");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        &pattern,
        "-f",
        "lavfi",
        "-i",
        &tone,
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-shortest",
        &src_s,
    ]);
    let bytes = std::fs::read(&src)?;
    println!("fixture: {size}, {seconds} s, {} MiB", bytes.len() >> 20);

    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("lectern.db").display()
    );
    let support::Service { app, token, base } = support::start(dir.path(), url, |c| {
        c.job_workers = 1;
        c.job_poll_ms = 20;
        c.media_concurrency = 1;
        c.media_reconcile_ms = 100;
    })
    .await?;
    let db = app.state().db.clone();
    let client = reqwest::Client::new();
    let lesson: serde_json::Value = client
        .post(format!("{base}/api/v1/lessons"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"title": "基准", "kind": "video"}))
        .send()
        .await?
        .json()
        .await?;
    let id = lesson["id"].as_str().unwrap_or_default().to_owned();
    let r = client
        .post(format!("{base}/api/v1/lessons/{id}/assets"))
        .bearer_auth(&token)
        .query(&[("role", "master"), ("filename", "lecture.mp4")])
        .body(bytes)
        .send()
        .await?;
    anyhow::ensure!(r.status() == 201, "upload: {}", r.status());
    let uploaded = Instant::now();

    // Poll the job table: when each media job was first seen running and first seen ended.
    let mut started: BTreeMap<String, Instant> = BTreeMap::new();
    let mut ended: BTreeMap<String, Instant> = BTreeMap::new();
    let media = [
        JobKind::MediaProbe,
        JobKind::MediaAudio,
        JobKind::MediaPoster,
        JobKind::MediaHls,
        JobKind::MediaHlsUpper,
        JobKind::MediaMp4,
        JobKind::MediaSprite,
    ];
    let deadline = Instant::now() + Duration::from_secs(seconds * 20 + 120);
    loop {
        let jobs = db.list_jobs(&Default::default(), None, 200).await?;
        let now = Instant::now();
        let mut open = 0;
        for j in jobs.iter().filter(|j| media.contains(&j.kind)) {
            let name = label(j);
            match j.state {
                JobState::Running => {
                    started.entry(name).or_insert(now);
                    open += 1;
                }
                JobState::Done => {
                    ended.entry(name).or_insert(now);
                }
                JobState::Dead => anyhow::bail!("{name} died: {:?}", j.last_error),
                JobState::Pending => open += 1,
            }
        }
        if ended.len() >= 8 && open == 0 {
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "timed out: {ended:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!("\n| step | Lectern wall (s) | × real time |");
    println!("| --- | ---: | ---: |");
    let mut lectern_walls = BTreeMap::new();
    for (name, end) in &ended {
        let start = started.get(name).copied().unwrap_or(*end);
        let wall = end.duration_since(start).as_secs_f64();
        lectern_walls.insert(name.clone(), wall);
        println!(
            "| {name} | {wall:.2} | {:.2} |",
            seconds as f64 / wall.max(0.001)
        );
    }
    let playable = ["media_probe", "media_audio", "hls 360p", "hls audio"]
        .iter()
        .filter_map(|n| ended.get(*n))
        .max()
        .map(|t| t.duration_since(uploaded).as_secs_f64())
        .unwrap_or(0.0);
    println!(
        "\nupload complete → playable (probe, audio, 360p and the audio group stored): {playable:.2} s"
    );
    // The service's own peak memory (this process: the service, its embedded S3 endpoint and
    // this harness; ffmpeg runs in child processes, not counted here).
    let hwm = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l.trim_start_matches("VmHWM:").trim().to_owned())
        })
        .unwrap_or_else(|| "?".into());
    println!("peak memory of the service process while processing (VmHWM): {hwm}");
    drop(app);

    println!("\n| step | by hand (s) | Lectern (s) | Lectern's overhead |");
    println!("| --- | ---: | ---: | ---: |");
    let hand_dir = dir.path().join("hand");
    for (name, wall) in by_hand(&src_s, &hand_dir, |n| lectern_walls.contains_key(n)) {
        let hand = wall.as_secs_f64();
        let l = lectern_walls.get(&name).copied().unwrap_or(f64::NAN);
        println!(
            "| {name} | {hand:.2} | {l:.2} | {:+.1} % |",
            (l / hand - 1.0) * 100.0
        );
    }
    Ok(())
}
