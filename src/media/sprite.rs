//! The thumbnail sprite for scrubbing: one JPEG of tiles [`TILE_WIDTH`] pixels wide, one every
//! few seconds (the interval chosen from the duration so there are at most [`MAX_TILES`]), in
//! rows of at most [`COLUMNS`], and the WebVTT track whose cues point at each tile
//! (`sprite.jpg#xywh=x,y,w,h`), written when it is asked for ([`thumbnails_vtt`]) with a
//! presigned URL of the sprite. Low lane: scrubbing previews can wait for playback.
//!
//! The layout is a function of the probe's duration alone ([`Layout::of`]), so the track is
//! derived from the probe and the sprite's stored size, and nothing else is stored.

use super::{Media, Prepared, Step, os, reason_of};
use crate::db::media::{NewRendition, ProbeRecord};
use crate::domain::media::RenditionKind;
use std::ffi::OsString;

/// The width of a tile, in pixels.
pub const TILE_WIDTH: i64 = 160;
/// The most tiles in a sprite.
pub const MAX_TILES: i64 = 100;
/// Tiles per row.
pub const COLUMNS: i64 = 10;
/// The intervals a sprite may use, in seconds: the smallest that keeps the tiles within
/// [`MAX_TILES`] is chosen.
const INTERVALS: [i64; 12] = [1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 900];
/// From this duration on, only key frames are decoded (a lecture's whole decode costs more
/// than the sprite is worth; key frames are a few seconds apart).
const KEY_FRAMES_FROM_MS: i64 = 10 * 60 * 1000;

/// Whether a content gets a sprite: a picture that lasts (a still image or a clip under two
/// seconds has nothing to scrub).
pub(super) fn wanted(p: &ProbeRecord) -> bool {
    p.has_video && p.duration_ms.is_some_and(|d| d >= 2_000)
}

/// Where the tiles of a sprite are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Seconds between two tiles.
    pub interval_s: i64,
    pub tiles: i64,
    pub columns: i64,
    pub rows: i64,
}

impl Layout {
    /// The layout for media of `duration_ms`.
    pub fn of(duration_ms: i64) -> Self {
        let d = duration_ms.max(1);
        // A tail shorter than a quarter second gets no tile of its own (an audio track's
        // priming often makes a 6 s clip 6.02 s long).
        let tiles_for = |i: i64| ((d + i * 1000 - 250) / (i * 1000)).max(1);
        let interval_s = INTERVALS
            .into_iter()
            .find(|i| tiles_for(*i) <= MAX_TILES)
            .unwrap_or_else(|| (d + MAX_TILES * 1000 - 1) / (MAX_TILES * 1000));
        // Beyond the last interval, the interval is chosen to make exactly the most tiles.
        let tiles = tiles_for(interval_s).clamp(1, MAX_TILES);
        let columns = tiles.min(COLUMNS);
        Self {
            interval_s,
            tiles,
            columns,
            rows: (tiles + columns - 1) / columns,
        }
    }
}

/// The WebVTT thumbnail track of a sprite `width`×`height` pixels made for media of
/// `duration_ms`, its cues pointing at `url` (a presigned URL of the sprite).
pub fn thumbnails_vtt(duration_ms: i64, width: i64, height: i64, url: &str) -> String {
    let l = Layout::of(duration_ms);
    let (w, h) = (width / l.columns, height / l.rows);
    let mut out = String::from("WEBVTT\n");
    for i in 0..l.tiles {
        let start = i * l.interval_s * 1000;
        let end = if i + 1 == l.tiles {
            duration_ms.max(start + 1)
        } else {
            (i + 1) * l.interval_s * 1000
        };
        let (x, y) = ((i % l.columns) * w, (i / l.columns) * h);
        out.push_str(&format!(
            "\n{} --> {}\n{url}#xywh={x},{y},{w},{h}\n",
            crate::domain::subtitle::format_time(start),
            crate::domain::subtitle::format_time(end)
        ));
    }
    out
}

impl Media {
    /// Makes the thumbnail sprite of a content with a picture.
    pub async fn sprite(&self, job_payload: &str) -> Step {
        let Prepared {
            sha256,
            probe,
            url,
            scratch,
            budget,
            ..
        } = match self
            .prepare(job_payload, RenditionKind::Sprite, wanted)
            .await
        {
            Ok(p) => p,
            Err(step) => return step,
        };
        let duration = probe.duration_ms.unwrap_or(0);
        let l = Layout::of(duration);
        let out = scratch.file("sprite.jpg");
        let mut args: Vec<OsString> = self.ffmpeg_input(&url, None);
        if duration >= KEY_FRAMES_FROM_MS
            && let Some(i) = args.iter().position(|a| a == "-i")
        {
            let mut input = args.split_off(i);
            args.extend(os(&["-skip_frame", "nokey"]));
            args.append(&mut input);
        }
        let graph = format!(
            "fps=1/{},scale={TILE_WIDTH}:-2,tile={}x{}",
            l.interval_s, l.columns, l.rows
        );
        args.extend(os(&[
            "-map",
            "0:v:0",
            "-an",
            "-sn",
            "-dn",
            "-vf",
            &graph,
            "-frames:v",
            "1",
            "-q:v",
            "4",
            "-y",
        ]));
        args.push(out.clone().into());
        let ran = match self.encode(&args, budget).await {
            Ok(r) => r,
            Err(e) => return Step::Retry(e.to_string()),
        };
        let made = if ran.status.success() && super::file_len(&out).await > 0 {
            let mut m = match self
                .store_file(
                    &out,
                    &Self::key(&sha256, RenditionKind::Sprite),
                    "image/jpeg",
                )
                .await
            {
                Ok(m) => m,
                Err(step) => return step,
            };
            if let Some((w, h)) = self.image_size(&out).await {
                m.width = Some(w);
                m.height = Some(h);
            }
            m.duration_ms = probe.duration_ms;
            Ok(m)
        } else {
            if super::storage_failed(&ran.stderr) {
                return Step::Retry(reason_of(&ran, &url, "ffmpeg could not read from storage"));
            }
            Err(reason_of(&ran, &url, "ffmpeg made no sprite"))
        };
        self.record(&[NewRendition {
            source_sha256: sha256,
            kind: RenditionKind::Sprite,
            made,
        }])
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_keep_within_a_hundred_tiles() {
        assert_eq!(
            Layout::of(6_000),
            Layout {
                interval_s: 1,
                tiles: 6,
                columns: 6,
                rows: 1
            }
        );
        let hour = Layout::of(3_600_000);
        assert_eq!(
            (hour.interval_s, hour.tiles, hour.columns, hour.rows),
            (60, 60, 10, 6)
        );
        let day = Layout::of(86_400_000);
        assert!(day.tiles <= MAX_TILES, "{day:?}");
        assert_eq!(Layout::of(100_000).tiles, 100);
        assert_eq!(Layout::of(100_100).tiles, 100);
        assert_eq!(Layout::of(100_300).interval_s, 2);
        assert_eq!(Layout::of(6_016).tiles, 6);
        assert_eq!(Layout::of(500).tiles, 1);
    }

    #[test]
    fn the_track_points_at_each_tile() {
        let vtt = thumbnails_vtt(2_500, 480, 90, "https://s/x.jpg?sig=1");
        assert!(vtt.starts_with("WEBVTT\n"));
        assert!(
            vtt.contains("00:00:00.000 --> 00:00:01.000\nhttps://s/x.jpg?sig=1#xywh=0,0,160,90")
        );
        assert!(
            vtt.contains("00:00:02.000 --> 00:00:02.500\nhttps://s/x.jpg?sig=1#xywh=320,0,160,90")
        );
        assert_eq!(vtt.matches("#xywh=").count(), 3);
    }
}
