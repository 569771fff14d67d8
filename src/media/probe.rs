//! What ffprobe and ffmpeg's analysis filters say about a file, parsed into typed values.
//!
//! `ffprobe -v error -of json -show_format -show_streams` is read with serde (no hand-written
//! media parsing); the loudness pass (`volumedetect` and `ebur128`) prints its summaries on
//! standard error, whose last occurrences are read here. Everything is pure and bounded: a
//! field ffprobe leaves out, or writes as "N/A", is `None`.

use serde::Deserialize;
use std::collections::HashMap;

/// ffprobe's JSON document (the parts Lectern uses).
#[derive(Debug, Default, Deserialize)]
pub struct FfProbe {
    #[serde(default)]
    pub streams: Vec<Stream>,
    pub format: Option<Format>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Format {
    pub format_name: Option<String>,
    pub duration: Option<String>,
    pub bit_rate: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Stream {
    pub codec_type: Option<String>,
    pub codec_name: Option<String>,
    pub width: Option<i64>,
    pub height: Option<i64>,
    pub avg_frame_rate: Option<String>,
    pub r_frame_rate: Option<String>,
    pub channels: Option<i64>,
    pub sample_rate: Option<String>,
    pub bit_rate: Option<String>,
    pub duration: Option<String>,
    #[serde(default)]
    pub tags: HashMap<String, String>,
    #[serde(default)]
    pub side_data_list: Vec<SideData>,
    #[serde(default)]
    pub disposition: HashMap<String, i64>,
}

#[derive(Debug, Default, Deserialize)]
pub struct SideData {
    pub rotation: Option<f64>,
}

/// The facts of a file Lectern keeps.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts {
    pub container: Option<String>,
    pub duration_ms: Option<i64>,
    pub bit_rate: Option<i64>,
    pub video: Option<VideoFacts>,
    pub audio: Option<AudioFacts>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct VideoFacts {
    pub codec: Option<String>,
    /// As stored (before rotation).
    pub width: Option<i64>,
    pub height: Option<i64>,
    pub fps: Option<f64>,
    /// Degrees, as the display matrix or the `rotate` tag says (0, 90, 180, 270).
    pub rotation: i64,
    pub bit_rate: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct AudioFacts {
    pub codec: Option<String>,
    pub channels: Option<i64>,
    pub sample_rate: Option<i64>,
    pub bit_rate: Option<i64>,
}

fn int(s: &Option<String>) -> Option<i64> {
    s.as_deref()?.trim().parse::<i64>().ok()
}

fn seconds_ms(s: &Option<String>) -> Option<i64> {
    let v = s.as_deref()?.trim().parse::<f64>().ok()?;
    (v.is_finite() && v >= 0.0).then(|| (v * 1000.0).round() as i64)
}

/// "30000/1001" → 29.97; "0/0" and nonsense → `None`.
fn rate(s: &Option<String>) -> Option<f64> {
    let (n, d) = s.as_deref()?.split_once('/')?;
    let (n, d) = (n.trim().parse::<f64>().ok()?, d.trim().parse::<f64>().ok()?);
    let r = n / d;
    (d > 0.0 && r.is_finite() && r > 0.0).then(|| (r * 1000.0).round() / 1000.0)
}

impl FfProbe {
    pub fn parse(json: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(json)
    }

    /// The facts: the first real video stream (cover pictures are not video) and the first
    /// audio stream.
    pub fn facts(&self) -> Facts {
        let video = self.streams.iter().find(|s| {
            s.codec_type.as_deref() == Some("video")
                && s.disposition.get("attached_pic").copied().unwrap_or(0) == 0
        });
        let audio = self
            .streams
            .iter()
            .find(|s| s.codec_type.as_deref() == Some("audio"));
        let format = self.format.as_ref();
        let duration_ms = format.and_then(|f| seconds_ms(&f.duration)).or_else(|| {
            self.streams
                .iter()
                .filter_map(|s| seconds_ms(&s.duration))
                .max()
        });
        Facts {
            container: format.and_then(|f| f.format_name.clone()),
            duration_ms,
            bit_rate: format.and_then(|f| int(&f.bit_rate)),
            video: video.map(|v| {
                let rotation = v
                    .side_data_list
                    .iter()
                    .find_map(|d| d.rotation)
                    .map(|r| r.round() as i64)
                    .or_else(|| v.tags.get("rotate").and_then(|r| r.trim().parse().ok()))
                    .unwrap_or(0);
                VideoFacts {
                    codec: v.codec_name.clone(),
                    width: v.width,
                    height: v.height,
                    fps: rate(&v.avg_frame_rate).or_else(|| rate(&v.r_frame_rate)),
                    rotation: rotation.rem_euclid(360),
                    bit_rate: int(&v.bit_rate),
                }
            }),
            audio: audio.map(|a| AudioFacts {
                codec: a.codec_name.clone(),
                channels: a.channels,
                sample_rate: int(&a.sample_rate),
                bit_rate: int(&a.bit_rate),
            }),
        }
    }
}

/// What the loudness pass measured.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Loudness {
    /// EBU R128 integrated loudness, LUFS (-70 is the floor: nothing above the gate).
    pub integrated_lufs: Option<f64>,
    /// The loudest sample, dBFS (-91 for digital silence in 16 bits).
    pub max_volume_db: Option<f64>,
}

/// Quieter than this everywhere is silence: nothing a listener would hear.
pub const SILENT_MAX_VOLUME_DB: f64 = -60.0;
/// At or below this integrated loudness (the gate's floor) is silence.
pub const SILENT_LUFS: f64 = -69.5;

impl Loudness {
    /// Reads the summaries `volumedetect` (`max_volume: -3.0 dB`) and `ebur128` (`I: -23.0
    /// LUFS` under "Integrated loudness") print at the end of standard error.
    pub fn parse(stderr: &str) -> Self {
        let mut out = Self::default();
        for line in stderr.lines() {
            let line = line.trim();
            if let Some(i) = line.find("max_volume:") {
                out.max_volume_db = number_before(&line[i + "max_volume:".len()..], "dB");
            }
            if let Some(rest) = line.strip_prefix("I:") {
                out.integrated_lufs = number_before(rest, "LUFS");
            }
        }
        out
    }

    /// Whether the audio is silence (or too quiet to be anything).
    pub fn silent(&self) -> bool {
        self.max_volume_db
            .is_some_and(|v| v <= SILENT_MAX_VOLUME_DB)
            || self.integrated_lufs.is_some_and(|v| v <= SILENT_LUFS)
    }
}

fn number_before(text: &str, unit: &str) -> Option<f64> {
    let v = text.trim().strip_suffix(unit)?.trim();
    if v == "-inf" {
        return Some(-200.0);
    }
    v.parse::<f64>().ok().filter(|v| v.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ffprobe_json_becomes_facts() {
        let json = br#"{
          "streams": [
            {"index":0,"codec_name":"h264","codec_type":"video","width":640,"height":360,
             "avg_frame_rate":"30000/1001","r_frame_rate":"30000/1001","bit_rate":"300000",
             "side_data_list":[{"side_data_type":"Display Matrix","rotation":-90}],
             "disposition":{"default":1,"attached_pic":0}},
            {"index":1,"codec_name":"aac","codec_type":"audio","channels":2,
             "sample_rate":"48000","bit_rate":"128000"},
            {"index":2,"codec_name":"mjpeg","codec_type":"video","disposition":{"attached_pic":1}}
          ],
          "format": {"format_name":"mov,mp4,m4a,3gp,3g2,mj2","duration":"6.016000","bit_rate":"431234"}
        }"#;
        let f = FfProbe::parse(json).unwrap().facts();
        assert_eq!(f.duration_ms, Some(6016));
        assert_eq!(f.container.as_deref(), Some("mov,mp4,m4a,3gp,3g2,mj2"));
        let v = f.video.unwrap();
        assert_eq!((v.width, v.height), (Some(640), Some(360)));
        assert_eq!(v.fps, Some(29.97));
        assert_eq!(v.rotation, 270);
        let a = f.audio.unwrap();
        assert_eq!((a.channels, a.sample_rate), (Some(2), Some(48000)));
        assert_eq!(a.codec.as_deref(), Some("aac"));
    }

    #[test]
    fn cover_pictures_are_not_video_and_missing_fields_are_none() {
        let json = br#"{"streams":[{"codec_type":"video","codec_name":"png","disposition":{"attached_pic":1}},
            {"codec_type":"audio","codec_name":"mp3","sample_rate":"N/A"}],"format":{"duration":"N/A"}}"#;
        let f = FfProbe::parse(json).unwrap().facts();
        assert!(f.video.is_none());
        assert_eq!(f.audio.unwrap().sample_rate, None);
        assert_eq!(f.duration_ms, None);
        assert!(FfProbe::parse(b"{}").unwrap().facts().audio.is_none());
        assert!(FfProbe::parse(b"not json").is_err());
    }

    #[test]
    fn loudness_summaries_are_read_and_silence_is_told() {
        let stderr = "[Parsed_volumedetect_0 @ 0x1] mean_volume: -20.1 dB\n\
            [Parsed_volumedetect_0 @ 0x1] max_volume: -3.0 dB\n\
            [Parsed_ebur128_1 @ 0x2] Summary:\n\n  Integrated loudness:\n    I:         -17.2 LUFS\n\
            Threshold: -27.3 LUFS\n\n  Loudness range:\n    LRA:         0.0 LU\n";
        let l = Loudness::parse(stderr);
        assert_eq!(l.integrated_lufs, Some(-17.2));
        assert_eq!(l.max_volume_db, Some(-3.0));
        assert!(!l.silent());
        let quiet = Loudness::parse("max_volume: -91.0 dB\n    I:         -70.0 LUFS\n");
        assert!(quiet.silent());
        assert!(Loudness::parse("max_volume: -inf dB").silent());
        assert_eq!(Loudness::parse("garbage"), Loudness::default());
    }
}
