//! Video renditions end to end: the HLS ladder (fMP4, one audio group shared by the video
//! variants, an audio-only variant), the small MP4, and their delivery — playlists served by
//! Lectern with every segment a presigned URL of object storage, played by a real client
//! (ffmpeg reading the master playlist), and gone for whoever may no longer read the lesson.
//!
//! Fixtures are made by ffmpeg in the test (short, small). Without ffmpeg these tests say so
//! loudly and pass — except under `CI=true`.

use crate::common::{Cmd, TestApp, problem};
use crate::media::{H264, ffmpeg, ffprobe, have_ffmpeg, jobs_of, media_until, rendition};
use lectern::domain::job::JobKind;
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;

async fn app() -> TestApp {
    TestApp::spawn_with(|c| {
        c.media_reconcile_ms = 200;
        c.media_concurrency = 2;
        c.media_stall_secs = 20;
        c.job_poll_ms = 100;
    })
    .await
}

/// Uploads `file` as the master of a new lesson of `kind` (in `series`, if given); the lesson
/// id and the asset.
async fn master(t: &TestApp, kind: &str, file: &Path, series: Option<&str>) -> (String, Value) {
    let r = t
        .post("/api/v1/lessons")
        .json(&json!({ "title": "乡村振兴 第一讲", "kind": kind, "series": series }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let lesson = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let name = file.file_name().unwrap().to_str().unwrap();
    let r = t
        .upload(&lesson, "master", name, std::fs::read(file).unwrap())
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    (lesson, r.json().await.unwrap())
}

async fn publish(t: &TestApp, lesson: &str, step: &str) {
    let r = t
        .post(&format!("/api/v1/lessons/{lesson}/{step}"))
        .send()
        .await
        .unwrap();
    assert!(
        r.status().is_success(),
        "{step}: {}",
        r.text().await.unwrap()
    );
}

/// Polls the asset's media until every kind in `kinds` is ready; a failed rendition fails at once.
async fn ready(t: &TestApp, asset: &str, kinds: &[&str]) -> Value {
    media_until(t, asset, &format!("{kinds:?}"), |m| {
        if let Some(failed) = m["renditions"]
            .as_array()
            .and_then(|a| a.iter().find(|r| r["state"] == "failed"))
        {
            panic!("a rendition failed: {failed:#}");
        }
        kinds.iter().all(|k| crate::media::ready(m, k))
    })
    .await
}

/// `GET path` without credentials: status, content type, cache control and body.
async fn anonymous(t: &TestApp, path: &str) -> (u16, reqwest::header::HeaderMap, String) {
    let r = t.client.get(t.url(path)).send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, headers, r.text().await.unwrap())
}

/// The attributes of an `#EXT-X-STREAM-INF` or `#EXT-X-MEDIA` line (quoted values unquoted).
fn attributes(line: &str) -> std::collections::HashMap<String, String> {
    let (_, list) = line.split_once(':').unwrap();
    let mut out = std::collections::HashMap::new();
    let mut rest = list;
    while !rest.is_empty() {
        let (name, after) = rest.split_once('=').unwrap();
        let (value, next) = if let Some(q) = after.strip_prefix('"') {
            let end = q.find('"').unwrap();
            (&q[..end], q[end + 1..].trim_start_matches(','))
        } else {
            match after.split_once(',') {
                Some((v, n)) => (v, n),
                None => (after, ""),
            }
        };
        out.insert(name.to_owned(), value.to_owned());
        rest = next;
    }
    out
}

/// The variants a master playlist lists: (attributes, URI).
fn variants(master: &str) -> Vec<(std::collections::HashMap<String, String>, String)> {
    let lines: Vec<&str> = master.lines().collect();
    lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.starts_with("#EXT-X-STREAM-INF:"))
        .map(|(i, l)| (attributes(l), lines[i + 1].to_owned()))
        .collect()
}

/// Checks a variant playlist served by Lectern: every init and media segment is a presigned URL
/// of object storage (at `store`'s origin), never of Lectern; how many files it names.
fn all_presigned(t: &TestApp, playlist: &str, store: &str) -> usize {
    let mut n = 0;
    for line in playlist.lines() {
        let uri = if let Some(rest) = line.strip_prefix("#EXT-X-MAP:URI=\"") {
            rest.trim_end_matches('"')
        } else if line.starts_with('#') || line.is_empty() {
            continue;
        } else {
            line
        };
        assert!(uri.starts_with(store), "{uri} is not at {store}");
        assert!(!uri.starts_with(&t.url("")), "{uri} points at Lectern");
        assert!(uri.contains("X-Amz-Signature="), "{uri}");
        n += 1;
    }
    n
}

/// The origin of the object store's presigned URLs.
async fn store_origin(t: &TestApp) -> String {
    let url = t
        .store()
        .presign_get("x", Duration::from_secs(60), "text/plain", "attachment")
        .await
        .unwrap();
    let u = reqwest::Url::parse(&url).unwrap();
    u.origin().ascii_serialization()
}

/// ffmpeg reads every stream of every variant of `url` to the end; whether it exited 0, and
/// its error output.
async fn play(url: &str) -> (bool, String) {
    let mut c = Cmd::new("ffmpeg");
    c.args([
        "-nostdin",
        "-hide_banner",
        "-loglevel",
        "error",
        "-i",
        url,
        "-map",
        "0",
        "-f",
        "null",
        "-",
    ]);
    let o = c.output().await;
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn stream<'a>(probe: &'a Value, codec_type: &str) -> &'a Value {
    probe["streams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["codec_type"] == codec_type)
        .unwrap_or_else(|| panic!("no {codec_type} stream: {probe:#}"))
}

#[tokio::test]
async fn a_720p_lecture_gets_an_hls_ladder_that_ffmpeg_plays_through_presigned_urls() {
    if !have_ffmpeg().await {
        return;
    }
    let t = app().await;
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec![
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=1280x720:rate=25:duration=6",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=48000:duration=6",
    ];
    args.extend(H264);
    args.extend(["-c:a", "aac", "-b:a", "128k", "-shortest"]);
    let file = ffmpeg(dir.path(), "lecture.mp4", &args).await;
    let (lesson, asset) = master(&t, "video", &file, None).await;
    let id = asset["id"].as_str().unwrap();
    let sha = asset["sha256"].as_str().unwrap();
    publish(&t, &lesson, "publish").await;

    let m = ready(
        &t,
        id,
        &[
            "hls_360p",
            "hls_720p",
            "hls_audio",
            "hls_audio_64k",
            "mp4_small",
        ],
    )
    .await;
    // Never above the source: no 1080p variant, and no job for one.
    assert!(rendition(&m, "hls_1080p").is_none(), "{m:#}");
    let upper = jobs_of(&t, JobKind::MediaHlsUpper, sha).await;
    assert_eq!(upper.len(), 1, "{upper:#?}");
    assert_eq!(upper[0].id, format!("media-hls-720p-{sha}"));
    // Priorities: the lowest video variant and the audio in the urgent lane with the probe,
    // the higher variant and the download after them.
    let first = jobs_of(&t, JobKind::MediaHls, sha).await;
    let mut ids: Vec<&str> = first.iter().map(|j| j.id.as_str()).collect();
    ids.sort_unstable();
    assert_eq!(
        ids,
        [
            format!("media-hls-360p-{sha}"),
            format!("media-hls-audio-{sha}"),
            format!("media-hls-audio_64k-{sha}"),
        ]
    );
    let probe_lane = jobs_of(&t, JobKind::MediaProbe, sha).await[0].lane;
    assert!(first.iter().all(|j| j.lane == probe_lane), "{first:#?}");
    assert!(upper[0].lane > probe_lane);
    let mp4 = jobs_of(&t, JobKind::MediaMp4, sha).await;
    assert_eq!(mp4.len(), 1);
    assert!(mp4[0].lane > probe_lane);

    // The rows: sizes, rates, durations as promised.
    for (kind, w, h, rate, tolerance) in [
        ("hls_360p", Some(640), Some(360), 800_000.0, (0.3, 1.15)),
        ("hls_720p", Some(1280), Some(720), 2_500_000.0, (0.3, 1.15)),
        ("hls_audio", None, None, 96_000.0, (0.85, 1.15)),
        ("hls_audio_64k", None, None, 64_000.0, (0.85, 1.15)),
    ] {
        let r = rendition(&m, kind).unwrap();
        assert_eq!((r["width"].as_i64(), r["height"].as_i64()), (w, h), "{r}");
        assert_eq!(r["content_type"], "application/vnd.apple.mpegurl");
        let got = r["bit_rate"].as_f64().unwrap();
        assert!(
            got >= rate * tolerance.0 && got <= rate * tolerance.1,
            "{kind}: {got} bit/s against {rate}"
        );
        let d = r["duration_ms"].as_i64().unwrap();
        assert!((5_800..=6_200).contains(&d), "{kind}: {d} ms");
        // Every file of the variant is stored under its own prefix.
        let variant = kind.strip_prefix("hls_").unwrap();
        let keys = t
            .object_keys(&format!("media/{sha}/hls-{variant}-v1/"))
            .await;
        assert!(keys.iter().any(|k| k.ends_with("/index.m3u8")), "{keys:?}");
        assert!(keys.iter().any(|k| k.ends_with("/init.mp4")), "{keys:?}");
        assert!(keys.iter().filter(|k| k.ends_with(".m4s")).count() >= 2);
    }

    // The master playlist, as anyone may read the published lesson.
    let (status, headers, master) =
        anonymous(&t, &format!("/api/v1/assets/{id}/media/hls/master.m3u8")).await;
    assert_eq!(status, 200, "{master}");
    assert_eq!(headers["content-type"], "application/vnd.apple.mpegurl");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    let cache = headers["cache-control"].to_str().unwrap();
    let max_age: u64 = cache
        .strip_prefix("private, max-age=")
        .unwrap()
        .parse()
        .unwrap();
    assert!(max_age < t.config.presign_secs, "{cache}");
    assert!(master.starts_with("#EXTM3U\n"), "{master}");
    let media: Vec<&str> = master
        .lines()
        .filter(|l| l.starts_with("#EXT-X-MEDIA:"))
        .collect();
    assert_eq!(media.len(), 1, "{master}");
    let group = attributes(media[0]);
    assert_eq!(group["TYPE"], "AUDIO");
    assert_eq!(group["URI"], "audio.m3u8");
    assert_eq!(group["CHANNELS"], "1", "the sine is mono");
    let listed = variants(&master);
    assert_eq!(
        listed.iter().map(|(_, u)| u.as_str()).collect::<Vec<_>>(),
        ["360p.m3u8", "720p.m3u8", "audio_64k.m3u8"],
        "{master}"
    );
    for (a, uri) in &listed {
        let peak: i64 = a["BANDWIDTH"].parse().unwrap();
        let average: i64 = a["AVERAGE-BANDWIDTH"].parse().unwrap();
        assert!(peak >= average && average > 0, "{uri}: {a:?}");
        if uri == "audio_64k.m3u8" {
            assert_eq!(a["CODECS"], "mp4a.40.2");
            assert!(!a.contains_key("RESOLUTION") && !a.contains_key("AUDIO"));
        } else {
            assert!(a["CODECS"].starts_with("avc1.6400"), "{a:?}");
            assert!(a["CODECS"].ends_with(",mp4a.40.2"), "{a:?}");
            assert_eq!(a["AUDIO"], "audio");
        }
    }
    assert_eq!(listed[0].0["RESOLUTION"], "640x360");
    assert_eq!(listed[1].0["RESOLUTION"], "1280x720");
    assert_eq!(listed[0].0["CODECS"], "avc1.64001e,mp4a.40.2");
    assert_eq!(listed[1].0["CODECS"], "avc1.64001f,mp4a.40.2");

    // Each variant playlist names only presigned URLs of object storage.
    let store = store_origin(&t).await;
    for variant in ["360p", "720p", "audio", "audio_64k"] {
        let (status, headers, playlist) =
            anonymous(&t, &format!("/api/v1/assets/{id}/media/hls/{variant}.m3u8")).await;
        assert_eq!(status, 200, "{variant}: {playlist}");
        assert_eq!(headers["content-type"], "application/vnd.apple.mpegurl");
        assert!(playlist.contains("#EXT-X-ENDLIST"), "{playlist}");
        assert!(all_presigned(&t, &playlist, &store) >= 3, "{playlist}");
    }

    // ffprobe reads each variant through Lectern's playlist: the codecs and sizes promised.
    let base = t.url(&format!("/api/v1/assets/{id}/media/hls"));
    for (variant, w, h) in [("360p", 640, 360), ("720p", 1280, 720)] {
        let p = ffprobe(&format!("{base}/{variant}.m3u8")).await;
        assert_eq!(p["streams"].as_array().unwrap().len(), 1, "{p:#}");
        let v = stream(&p, "video");
        assert_eq!(v["codec_name"], "h264");
        assert_eq!(v["profile"], "High");
        assert_eq!(
            (v["width"].as_i64(), v["height"].as_i64()),
            (Some(w), Some(h))
        );
    }
    for (variant, channels) in [("audio", 1), ("audio_64k", 1)] {
        let p = ffprobe(&format!("{base}/{variant}.m3u8")).await;
        assert_eq!(p["streams"].as_array().unwrap().len(), 1, "{p:#}");
        let a = stream(&p, "audio");
        assert_eq!(a["codec_name"], "aac");
        assert_eq!(a["channels"], channels);
    }
    // ffmpeg's HLS client reads the master playlist and every stream of every variant to the end.
    let (ok, stderr) = play(&format!("{base}/master.m3u8")).await;
    assert!(ok, "ffmpeg could not play the ladder: {stderr}");

    // The small MP4: 360p H.264 + AAC, moov before mdat (plays while it downloads).
    let r = rendition(&m, "mp4_small").unwrap();
    assert_eq!(r["content_type"], "video/mp4");
    assert_eq!(
        (r["width"].as_i64(), r["height"].as_i64()),
        (Some(640), Some(360))
    );
    let url = t
        .json(&format!("/api/v1/assets/{id}/media/mp4_small/url"))
        .await["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let p = ffprobe(&url).await;
    assert_eq!(stream(&p, "video")["codec_name"], "h264");
    assert_eq!(stream(&p, "video")["width"], 640);
    assert_eq!(stream(&p, "audio")["codec_name"], "aac");
    let bytes = t
        .client
        .get(&url)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(r["size"].as_u64(), Some(bytes.len() as u64));
    let at = |tag: &[u8]| bytes.windows(4).position(|w| w == tag).unwrap();
    assert!(at(b"moov") < at(b"mdat"), "not faststart");

    // The lesson's JSON lists the master's ready renditions with their links.
    let (status, _, body) = anonymous(&t, &format!("/api/v1/lessons/{lesson}")).await;
    assert_eq!(status, 200, "{body}");
    let view: Value = serde_json::from_str(&body).unwrap();
    let media = &view["assets"][0]["media"];
    assert_eq!(
        media["hls_url"],
        format!("/api/v1/assets/{id}/media/hls/master.m3u8")
    );
    let listed = media["renditions"].as_array().unwrap();
    let r360 = listed.iter().find(|r| r["kind"] == "hls_360p").unwrap();
    assert_eq!(
        r360["url"],
        format!("/api/v1/assets/{id}/media/hls/360p.m3u8")
    );
    assert_eq!(r360["height"], 360);
    let small = listed.iter().find(|r| r["kind"] == "mp4_small").unwrap();
    assert_eq!(
        small["url"],
        format!("/api/v1/assets/{id}/media/mp4_small/file")
    );
    assert_eq!(small["size"], r["size"]);

    // Withdrawn: the playlists are gone for whoever may no longer read the lesson.
    publish(&t, &lesson, "withdraw").await;
    for file in ["master.m3u8", "360p.m3u8", "audio_64k.m3u8"] {
        let r = t
            .client
            .get(t.url(&format!("/api/v1/assets/{id}/media/hls/{file}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{file}");
        problem(r).await;
    }
    // An unknown variant is no playlist, even for the operator.
    for file in ["4k.m3u8", "360p", "hls_360p.m3u8", "1080p.m3u8"] {
        let r = t
            .get(&format!("/api/v1/assets/{id}/media/hls/{file}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{file}");
        problem(r).await;
    }
}

#[tokio::test]
async fn a_small_mute_video_is_never_upscaled_and_an_audio_lesson_gets_the_audio_only_ladder() {
    if !have_ffmpeg().await {
        return;
    }
    let t = app().await;
    let dir = tempfile::tempdir().unwrap();
    // 320x180 without sound: the lowest variant at the source's size, nothing above it.
    let mut args = vec![
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=320x180:rate=25:duration=5",
    ];
    args.extend(H264);
    let mute = ffmpeg(dir.path(), "mute.mp4", &args).await;
    let tone = ffmpeg(
        dir.path(),
        "reading.m4a",
        &[
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=330:sample_rate=44100:duration=5",
            "-c:a",
            "aac",
            "-b:a",
            "128k",
        ],
    )
    .await;
    let series = "乡村振兴音频课";
    let (mute_lesson, mute) = master(&t, "video", &mute, None).await;
    let (audio_lesson, audio) = master(&t, "audio", &tone, Some(series)).await;
    publish(&t, &mute_lesson, "publish").await;
    publish(&t, &audio_lesson, "publish").await;

    let id = mute["id"].as_str().unwrap();
    let sha = mute["sha256"].as_str().unwrap();
    let m = ready(&t, id, &["hls_360p", "mp4_small", "poster_large"]).await;
    let r = rendition(&m, "hls_360p").unwrap();
    assert_eq!(
        (r["width"].as_i64(), r["height"].as_i64()),
        (Some(320), Some(180))
    );
    for kind in [
        "hls_720p",
        "hls_1080p",
        "hls_audio",
        "hls_audio_64k",
        "audio_64k",
    ] {
        assert!(rendition(&m, kind).is_none(), "{kind}: {m:#}");
    }
    assert!(jobs_of(&t, JobKind::MediaHlsUpper, sha).await.is_empty());
    let first = jobs_of(&t, JobKind::MediaHls, sha).await;
    assert_eq!(first.len(), 1, "{first:#?}");
    let (status, _, master_playlist) =
        anonymous(&t, &format!("/api/v1/assets/{id}/media/hls/master.m3u8")).await;
    assert_eq!(status, 200);
    assert!(
        !master_playlist.contains("#EXT-X-MEDIA"),
        "{master_playlist}"
    );
    let listed = variants(&master_playlist);
    assert_eq!(listed.len(), 1, "{master_playlist}");
    assert_eq!(listed[0].0["RESOLUTION"], "320x180");
    assert_eq!(listed[0].0["CODECS"], "avc1.64001e");
    let url = t.url(&format!("/api/v1/assets/{id}/media/hls/master.m3u8"));
    let (ok, stderr) = play(&url).await;
    assert!(ok, "{stderr}");
    let p = ffprobe(&url).await;
    assert!(
        p["streams"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["codec_type"] == "video" && s["height"] == 180),
        "{p:#}"
    );
    // The small MP4 of a mute video has no audio track.
    let url = t
        .json(&format!("/api/v1/assets/{id}/media/mp4_small/url"))
        .await["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let p = ffprobe(&url).await;
    assert_eq!(p["streams"].as_array().unwrap().len(), 1, "{p:#}");
    assert_eq!(stream(&p, "video")["height"], 180);

    // An audio lesson: the 64 kbit/s audio-only variant is its whole ladder; no MP4, no video.
    let aid = audio["id"].as_str().unwrap();
    let asha = audio["sha256"].as_str().unwrap();
    let m = ready(&t, aid, &["hls_audio_64k", "audio_64k"]).await;
    for kind in ["hls_360p", "hls_audio", "mp4_small"] {
        assert!(rendition(&m, kind).is_none(), "{kind}: {m:#}");
    }
    assert!(jobs_of(&t, JobKind::MediaMp4, asha).await.is_empty());
    let (status, _, master_playlist) =
        anonymous(&t, &format!("/api/v1/assets/{aid}/media/hls/master.m3u8")).await;
    assert_eq!(status, 200);
    let listed = variants(&master_playlist);
    assert_eq!(listed.len(), 1, "{master_playlist}");
    assert_eq!(listed[0].0["CODECS"], "mp4a.40.2");
    assert_eq!(listed[0].1, "audio_64k.m3u8");
    let (ok, stderr) = play(&t.url(&format!("/api/v1/assets/{aid}/media/hls/master.m3u8"))).await;
    assert!(ok, "{stderr}");

    // The podcast feed encloses the 64 kbit/s rendition, not the master.
    let a64 = rendition(&m, "audio_64k").unwrap();
    let sid = lectern::domain::platform::series_id(series);
    let (status, _, feed) = anonymous(&t, &format!("/feeds/series/{sid}.rss")).await;
    assert_eq!(status, 200, "{feed}");
    let enclosure = feed
        .lines()
        .flat_map(|l| l.split('<'))
        .find(|l| l.starts_with("enclosure "))
        .unwrap_or_else(|| panic!("no enclosure: {feed}"));
    assert!(
        enclosure.contains(&format!("/api/v1/assets/{aid}/media/audio_64k/file")),
        "{enclosure}"
    );
    assert!(
        enclosure.contains(&format!("length=\"{}\"", a64["size"])),
        "{enclosure}"
    );
    assert!(enclosure.contains("type=\"audio/mp4\""), "{enclosure}");
    // The enclosure's URL sends a podcast app to object storage.
    let url = t.url(&format!("/api/v1/assets/{aid}/media/audio_64k/file"));
    let no_redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = no_redirect.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 302);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with(&store_origin(&t).await), "{location}");
    let bytes = t
        .client
        .get(&url)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(a64["size"].as_u64(), Some(bytes.len() as u64));

    // One variant made again alone (`only`): its job replaced under its fixed id, the other
    // steps left as they are. Asked again while another step of the content still runs (409).
    let before = rendition(&m, "hls_audio_64k").unwrap()["created_at"].clone();
    let audio_job = jobs_of(&t, JobKind::MediaAudio, asha).await.remove(0);
    let r = crate::media::reprocess(&t, aid, Some("hls_audio_64k")).await;
    assert_eq!(r.status(), 202, "{}", r.text().await.unwrap());
    let m = media_until(&t, aid, "hls_audio_64k made again", |m| {
        rendition(m, "hls_audio_64k").is_some_and(|r| r["created_at"] != before)
    })
    .await;
    assert_eq!(rendition(&m, "hls_audio_64k").unwrap()["state"], "ready");
    let hls = jobs_of(&t, JobKind::MediaHls, asha).await;
    assert_eq!(hls.len(), 1, "{hls:?}");
    assert_eq!(hls[0].id, format!("media-hls-audio_64k-{asha}"));
    assert_eq!(hls[0].attempts, 1, "{hls:?}");
    let again = jobs_of(&t, JobKind::MediaAudio, asha).await.remove(0);
    assert_eq!(
        (again.id, again.attempts, again.state),
        (audio_job.id, audio_job.attempts, audio_job.state),
        "the audio step is untouched"
    );
    // What an audio file never has is refused, and nothing is queued.
    let r = t
        .post(&format!("/api/v1/assets/{aid}/media/reprocess?only=page_3"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    problem(r).await;
}
