//! HLS delivery rules: which variants a source gets (the ladder), their sizes and encoder
//! settings, the master playlist Lectern writes from the ready variants, and the rewriting of a
//! stored variant playlist so that every init and media segment is fetched from object storage.
//!
//! Invariants:
//! - **Never upscaled.** The lowest video variant is made for every picture, at most as large
//!   as the source (short side); each higher variant only when the source's short side reaches
//!   it. Sizes keep the aspect ratio of the picture as shown (rotation honoured) and are even.
//! - **Only our own names are rewritten.** A stored playlist names its files by bare names
//!   (`init.mp4`, `seg-00001.m4s`); anything else (a path, a URL) is refused, never signed.

use crate::domain::media::RenditionKind;
use std::collections::HashMap;

/// The target length of a segment, in seconds; every GOP is closed and starts a segment.
pub const SEGMENT_SECONDS: u32 = 4;

/// Frame rates above this are halved (50 → 25, 59.94 → 29.97): the ladder is for lectures.
pub const MAX_FPS: f64 = 31.0;

/// The content type of playlists.
pub const PLAYLIST_TYPE: &str = "application/vnd.apple.mpegurl";

/// One variant of the ladder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Variant {
    V360p,
    V720p,
    V1080p,
    /// The audio group the video variants share.
    Audio,
    /// The audio-only variant (64 kbit/s mono).
    Audio64k,
}

impl Variant {
    pub const ALL: [Variant; 5] = [
        Self::V360p,
        Self::V720p,
        Self::V1080p,
        Self::Audio,
        Self::Audio64k,
    ];
    pub const VIDEO: [Variant; 3] = [Self::V360p, Self::V720p, Self::V1080p];

    /// Its name in job ids, object keys and URLs.
    pub fn name(self) -> &'static str {
        match self {
            Self::V360p => "360p",
            Self::V720p => "720p",
            Self::V1080p => "1080p",
            Self::Audio => "audio",
            Self::Audio64k => "audio_64k",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.name() == s)
    }

    /// The variant whose rendition is `kind`, if it is one.
    pub fn of_kind(kind: RenditionKind) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.kind() == kind)
    }

    pub fn kind(self) -> RenditionKind {
        match self {
            Self::V360p => RenditionKind::Hls360p,
            Self::V720p => RenditionKind::Hls720p,
            Self::V1080p => RenditionKind::Hls1080p,
            Self::Audio => RenditionKind::HlsAudio,
            Self::Audio64k => RenditionKind::HlsAudio64k,
        }
    }

    pub fn is_video(self) -> bool {
        self.short_side().is_some()
    }

    /// Whether it is part of what makes a lesson playable first (the lowest video variant and
    /// the audio), hence in the urgent lane; the higher variants come after.
    pub fn first(self) -> bool {
        !matches!(self, Self::V720p | Self::V1080p)
    }

    /// The short side of a video variant's picture.
    pub fn short_side(self) -> Option<i64> {
        match self {
            Self::V360p => Some(360),
            Self::V720p => Some(720),
            Self::V1080p => Some(1080),
            Self::Audio | Self::Audio64k => None,
        }
    }

    /// The encoder's target, ceiling and buffer (bits per second, bits) of a video variant.
    pub fn video_rates(self) -> Option<(i64, i64, i64)> {
        match self {
            Self::V360p => Some((800_000, 856_000, 1_200_000)),
            Self::V720p => Some((2_500_000, 2_675_000, 3_750_000)),
            Self::V1080p => Some((5_000_000, 5_350_000, 7_500_000)),
            Self::Audio | Self::Audio64k => None,
        }
    }
}

/// The size of a picture as shown: width and height swapped for a quarter turn.
pub fn display_size(width: i64, height: i64, rotation: i64) -> (i64, i64) {
    if rotation.rem_euclid(180) == 90 {
        (height, width)
    } else {
        (width, height)
    }
}

/// The size of video variant `v` for a source shown at `width`×`height`, or `None` when it is
/// not made from it (a higher variant than the source reaches, or an audio variant).
pub fn video_size(v: Variant, width: i64, height: i64) -> Option<(i64, i64)> {
    let target = v.short_side()?;
    let (short, long) = (width.min(height), width.max(height));
    if short < 2 {
        return None;
    }
    let side = if v == Variant::V360p {
        target.min(short)
    } else if short >= target {
        target
    } else {
        return None;
    };
    let side = side - side % 2;
    let other = ((long as f64 * side as f64 / short as f64) / 2.0).round() as i64 * 2;
    let other = other.max(2);
    Some(if width >= height {
        (other, side)
    } else {
        (side, other)
    })
}

/// The variants made for a source: its picture as shown (`None` without one) and whether it
/// has sound to hear.
pub fn ladder(display: Option<(i64, i64)>, sound: bool) -> Vec<Variant> {
    let mut out = Vec::new();
    if let Some((w, h)) = display {
        out.extend(
            Variant::VIDEO
                .into_iter()
                .filter(|v| video_size(*v, w, h).is_some()),
        );
        if sound {
            out.push(Variant::Audio);
        }
    }
    if sound {
        out.push(Variant::Audio64k);
    }
    out
}

/// The H.264 level (as x264 takes it, and as its `CODECS` byte) for a picture and frame rate:
/// the smallest whose frame size and macroblock rate hold it (ITU-T H.264 table A-1).
pub fn h264_level(width: i64, height: i64, fps: f64) -> (&'static str, u8) {
    const LEVELS: [(&str, u8, i64, f64); 9] = [
        ("3.0", 30, 1_620, 40_500.0),
        ("3.1", 31, 3_600, 108_000.0),
        ("3.2", 32, 5_120, 216_000.0),
        ("4.0", 40, 8_192, 245_760.0),
        ("4.2", 42, 8_704, 522_240.0),
        ("5.0", 50, 22_080, 589_824.0),
        ("5.1", 51, 36_864, 983_040.0),
        ("5.2", 52, 36_864, 2_073_600.0),
        ("6.2", 62, 139_264, 16_711_680.0),
    ];
    let mbs = ((width + 15) / 16) * ((height + 15) / 16);
    let rate = mbs as f64 * fps.max(1.0);
    LEVELS
        .iter()
        .find(|(_, _, frame, per_s)| mbs <= *frame && rate <= *per_s)
        .map_or(("6.2", 62), |(name, idc, _, _)| (*name, *idc))
}

/// The RFC 6381 codec of H.264 High profile at level `idc`.
pub fn avc_codecs(level_idc: u8) -> String {
    format!("avc1.6400{level_idc:02x}")
}

/// AAC-LC.
pub const AAC_CODECS: &str = "mp4a.40.2";

/// The content type of a variant's file: its init segment or a media segment.
pub fn file_type(variant: Variant, name: &str) -> &'static str {
    match (variant.is_video(), name.ends_with(".mp4")) {
        (true, true) => "video/mp4",
        (true, false) => "video/iso.segment",
        (false, _) => "audio/mp4",
    }
}

/// A ready variant as the master playlist lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub variant: Variant,
    /// Its playlist, relative to the master playlist.
    pub uri: String,
    /// The highest bit rate of one segment (`BANDWIDTH`).
    pub peak_bit_rate: i64,
    /// Over the whole variant (`AVERAGE-BANDWIDTH`).
    pub average_bit_rate: i64,
    pub size: Option<(i64, i64)>,
    pub codecs: String,
    pub channels: Option<i64>,
}

/// The master playlist of the ready variants. With `sound`, a video variant is listed only
/// with the audio group beside it (a picture without its sound is not a lesson); the audio-only
/// variant comes last, so players start with a picture.
pub fn master(entries: &[Entry], sound: bool) -> Option<String> {
    let audio = entries.iter().find(|e| e.variant == Variant::Audio);
    let mut video: Vec<&Entry> = entries.iter().filter(|e| e.variant.is_video()).collect();
    video.sort_by_key(|e| e.variant);
    if sound && audio.is_none() {
        video.clear();
    }
    let audio = audio.filter(|_| sound && !video.is_empty());
    let audio_only = entries.iter().find(|e| e.variant == Variant::Audio64k);
    if video.is_empty() && audio_only.is_none() {
        return None;
    }
    let mut m = String::from("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n");
    if let Some(a) = audio {
        m.push_str(&format!(
            "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"audio\",NAME=\"audio\",DEFAULT=YES,AUTOSELECT=YES,CHANNELS=\"{}\",URI=\"{}\"\n",
            a.channels.unwrap_or(2),
            a.uri
        ));
    }
    for v in video {
        let (peak, average, codecs) = match audio {
            Some(a) => (
                v.peak_bit_rate + a.peak_bit_rate,
                v.average_bit_rate + a.average_bit_rate,
                format!("{},{}", v.codecs, a.codecs),
            ),
            None => (v.peak_bit_rate, v.average_bit_rate, v.codecs.clone()),
        };
        m.push_str(&format!(
            "#EXT-X-STREAM-INF:BANDWIDTH={peak},AVERAGE-BANDWIDTH={average},CODECS=\"{codecs}\""
        ));
        if let Some((w, h)) = v.size {
            m.push_str(&format!(",RESOLUTION={w}x{h}"));
        }
        if audio.is_some() {
            m.push_str(",AUDIO=\"audio\"");
        }
        m.push('\n');
        m.push_str(&v.uri);
        m.push('\n');
    }
    if let Some(a) = audio_only {
        m.push_str(&format!(
            "#EXT-X-STREAM-INF:BANDWIDTH={},AVERAGE-BANDWIDTH={},CODECS=\"{}\"\n{}\n",
            a.peak_bit_rate, a.average_bit_rate, a.codecs, a.uri
        ));
    }
    Some(m)
}

/// A stored playlist names a file that is not one of its own.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the playlist names {0:?}, which is not a file beside it")]
pub struct ForeignUri(pub String);

fn own_file(uri: &str) -> bool {
    !uri.is_empty()
        && !uri.starts_with('.')
        && uri.len() <= 128
        && uri
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

/// The `URI="…"` of an `#EXT-X-MAP` line.
fn map_uri(line: &str) -> Option<(usize, usize)> {
    let rest = line.strip_prefix("#EXT-X-MAP:")?;
    let at = rest.find("URI=\"")? + "#EXT-X-MAP:".len() + 5;
    let len = line[at..].find('"')?;
    Some((at, at + len))
}

/// The files a variant playlist names (init and media segments), each once, in order.
pub fn files(playlist: &str) -> Result<Vec<String>, ForeignUri> {
    let mut out: Vec<String> = Vec::new();
    for line in playlist.lines().map(str::trim) {
        let uri = if let Some((a, b)) = map_uri(line) {
            &line[a..b]
        } else if line.is_empty() || line.starts_with('#') {
            continue;
        } else {
            line
        };
        if !own_file(uri) {
            return Err(ForeignUri(uri.chars().take(80).collect()));
        }
        if !out.iter().any(|u| u == uri) {
            out.push(uri.to_owned());
        }
    }
    Ok(out)
}

/// The media segments of a variant playlist with their durations (`#EXTINF`), in seconds.
pub fn segments(playlist: &str) -> Vec<(String, f64)> {
    let mut out = Vec::new();
    let mut next: Option<f64> = None;
    for line in playlist.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("#EXTINF:") {
            next = rest.split(',').next().and_then(|d| d.trim().parse().ok());
        } else if !line.is_empty() && !line.starts_with('#') {
            out.push((line.to_owned(), next.take().unwrap_or(0.0)));
        }
    }
    out
}

/// The highest bit rate of one segment (`sizes` in bytes, by name), over the segments of at
/// least a second (a short last one says little about the rate), or all when none is.
pub fn peak_bit_rate(segments: &[(String, f64)], sizes: &HashMap<String, u64>) -> i64 {
    let rate = |min: f64| {
        segments
            .iter()
            .filter(|(_, d)| *d >= min && *d > 0.0)
            .filter_map(|(n, d)| sizes.get(n).map(|s| (*s as f64 * 8.0 / d).round() as i64))
            .max()
    };
    rate(1.0).or_else(|| rate(0.0)).unwrap_or(0)
}

/// The playlist with each file replaced by its URL in `urls` (which holds every name
/// [`files`] returned).
pub fn rewrite(playlist: &str, urls: &HashMap<String, String>) -> String {
    let mut out = String::with_capacity(playlist.len() * 4);
    for line in playlist.lines().map(str::trim) {
        if let Some((a, b)) = map_uri(line) {
            match urls.get(&line[a..b]) {
                Some(url) => {
                    out.push_str(&line[..a]);
                    out.push_str(url);
                    out.push_str(&line[b..]);
                }
                None => out.push_str(line),
            }
        } else if line.is_empty() || line.starts_with('#') {
            out.push_str(line);
        } else {
            out.push_str(urls.get(line).map_or(line, String::as_str));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ladder_never_upscales_and_keeps_the_shape() {
        assert_eq!(
            video_size(Variant::V360p, 1280, 720),
            Some((640, 360)),
            "16:9"
        );
        assert_eq!(video_size(Variant::V720p, 1280, 720), Some((1280, 720)));
        assert_eq!(video_size(Variant::V1080p, 1280, 720), None);
        // A source smaller than the lowest variant keeps its own size (made even).
        assert_eq!(video_size(Variant::V360p, 320, 241), Some((318, 240)));
        // A portrait phone video: the short side is the width.
        assert_eq!(video_size(Variant::V360p, 1080, 1920), Some((360, 640)));
        assert_eq!(video_size(Variant::V1080p, 1080, 1920), Some((1080, 1920)));
        assert_eq!(video_size(Variant::Audio, 1080, 1920), None);
        assert_eq!(display_size(1920, 1080, 90), (1080, 1920));
        assert_eq!(display_size(1920, 1080, -90), (1080, 1920));
        assert_eq!(display_size(1920, 1080, 180), (1920, 1080));
        use Variant::*;
        assert_eq!(ladder(Some((640, 360)), true), [V360p, Audio, Audio64k]);
        assert_eq!(ladder(Some((854, 480)), false), [V360p]);
        assert_eq!(
            ladder(Some((1920, 1080)), true),
            [V360p, V720p, V1080p, Audio, Audio64k]
        );
        assert_eq!(ladder(None, true), [Audio64k]);
        assert!(ladder(None, false).is_empty());
    }

    #[test]
    fn levels_fit_the_picture() {
        assert_eq!(h264_level(640, 360, 25.0), ("3.0", 30));
        assert_eq!(h264_level(1280, 720, 30.0), ("3.1", 31));
        assert_eq!(h264_level(1920, 1080, 30.0), ("4.0", 40));
        assert_eq!(avc_codecs(31), "avc1.64001f");
    }

    fn entry(variant: Variant, peak: i64) -> Entry {
        Entry {
            variant,
            uri: format!("{}.m3u8", variant.name()),
            peak_bit_rate: peak,
            average_bit_rate: peak / 2,
            size: video_size(variant, 1280, 720),
            codecs: if variant.is_video() {
                avc_codecs(31)
            } else {
                AAC_CODECS.into()
            },
            channels: Some(2),
        }
    }

    #[test]
    fn the_master_lists_video_with_its_audio_group_and_audio_only_last() {
        let all = [
            entry(Variant::Audio64k, 70_000),
            entry(Variant::V720p, 2_000_000),
            entry(Variant::Audio, 130_000),
            entry(Variant::V360p, 900_000),
        ];
        let m = master(&all, true).unwrap();
        let lines: Vec<&str> = m.lines().collect();
        assert_eq!(lines[0], "#EXTM3U");
        assert!(lines[3].starts_with("#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"audio\""));
        assert!(lines[3].ends_with("URI=\"audio.m3u8\""));
        assert_eq!(
            lines[4],
            "#EXT-X-STREAM-INF:BANDWIDTH=1030000,AVERAGE-BANDWIDTH=515000,\
             CODECS=\"avc1.64001f,mp4a.40.2\",RESOLUTION=640x360,AUDIO=\"audio\""
        );
        assert_eq!(lines[5], "360p.m3u8");
        assert_eq!(lines[7], "720p.m3u8");
        assert_eq!(
            lines[8],
            "#EXT-X-STREAM-INF:BANDWIDTH=70000,AVERAGE-BANDWIDTH=35000,CODECS=\"mp4a.40.2\""
        );
        assert_eq!(lines[9], "audio_64k.m3u8");
        // Without the audio group, a lesson with sound offers no silent picture.
        let m = master(&all[..2], true).unwrap();
        assert!(!m.contains("720p"), "{m}");
        // A mute lesson needs none.
        let m = master(&[entry(Variant::V360p, 900_000)], false).unwrap();
        assert!(m.contains("CODECS=\"avc1.64001f\",RESOLUTION"), "{m}");
        assert_eq!(master(&[], true), None);
    }

    #[test]
    fn only_own_files_are_rewritten() {
        let p = "#EXTM3U\n#EXT-X-MAP:URI=\"init.mp4\"\n#EXTINF:4.0,\nseg-00000.m4s\n#EXTINF:2.0,\nseg-00001.m4s\n#EXT-X-ENDLIST\n";
        let f = files(p).unwrap();
        assert_eq!(f, ["init.mp4", "seg-00000.m4s", "seg-00001.m4s"]);
        let urls: HashMap<String, String> = f
            .iter()
            .map(|n| (n.clone(), format!("https://s3/{n}?X-Amz-Signature=1")))
            .collect();
        let r = rewrite(p, &urls);
        assert!(r.contains("#EXT-X-MAP:URI=\"https://s3/init.mp4?X-Amz-Signature=1\"\n"));
        assert!(r.contains("\nhttps://s3/seg-00001.m4s?X-Amz-Signature=1\n"));
        assert!(r.ends_with("#EXT-X-ENDLIST\n"));
        for bad in ["../x.m4s", "/etc/passwd", "http://x/y", ".hidden"] {
            assert!(files(&format!("#EXTM3U\n{bad}\n")).is_err(), "{bad}");
        }
        assert!(files("#EXT-X-MAP:URI=\"a/b.mp4\"\n").is_err());
        let segs = segments(p);
        assert_eq!(
            segs,
            [("seg-00000.m4s".into(), 4.0), ("seg-00001.m4s".into(), 2.0)]
        );
        let sizes = HashMap::from([
            ("seg-00000.m4s".to_owned(), 400_000u64),
            ("seg-00001.m4s".to_owned(), 300_000u64),
        ]);
        assert_eq!(peak_bit_rate(&segs, &sizes), 1_200_000);
    }
}
