//! Media renditions: their kinds and states, as SQL stores them and the API shows them.
//!
//! Invariant: parsed where they leave SQL; a value this version does not know is an error,
//! never a default.

use serde::{Deserialize, Serialize};

/// What a rendition is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub enum RenditionKind {
    /// 64 kbit/s mono AAC in an `.m4a` file (moov first): weak connections, audio players.
    #[serde(rename = "audio_64k")]
    Audio64k,
    /// The poster, 320 pixels wide (never upscaled), JPEG.
    #[serde(rename = "poster_small")]
    PosterSmall,
    /// The poster, 1280 pixels wide (never upscaled), JPEG.
    #[serde(rename = "poster_large")]
    PosterLarge,
    /// Thumbnails for scrubbing: one JPEG of tiles 160 pixels wide, one every few seconds (at
    /// most 100), described by a WebVTT track (`thumbnails.vtt`).
    #[serde(rename = "sprite")]
    Sprite,
    /// The image of one of a document's first pages (1024 pixels wide at most, JPEG): one kind
    /// per page, so the table keeps one row per content and kind.
    #[serde(rename = "page_1")]
    Page1,
    #[serde(rename = "page_2")]
    Page2,
    #[serde(rename = "page_3")]
    Page3,
    #[serde(rename = "page_4")]
    Page4,
    #[serde(rename = "page_5")]
    Page5,
    #[serde(rename = "page_6")]
    Page6,
    #[serde(rename = "page_7")]
    Page7,
    #[serde(rename = "page_8")]
    Page8,
    #[serde(rename = "page_9")]
    Page9,
    #[serde(rename = "page_10")]
    Page10,
    /// The machine transcript (机器转写): speech recognised by Whisper offline, in Simplified
    /// Chinese, as WebVTT cues. Not an editor's subtitle; one replaces it.
    #[serde(rename = "transcript_zh")]
    TranscriptZh,
    /// HLS (fMP4) video variant, 360 pixels on its short side (fewer when the source has
    /// fewer: never upscaled), ~800 kbit/s H.264, no sound (the audio group carries it). The
    /// object is its playlist; its init and media segments sit beside it.
    #[serde(rename = "hls_360p")]
    Hls360p,
    /// HLS video variant, 720 pixels on its short side, ~2.5 Mbit/s (only from a source at
    /// least that large).
    #[serde(rename = "hls_720p")]
    Hls720p,
    /// HLS video variant, 1080 pixels on its short side, ~5 Mbit/s (only from a source at
    /// least that large).
    #[serde(rename = "hls_1080p")]
    Hls1080p,
    /// HLS audio group shared by the video variants: AAC, 128 kbit/s stereo (96 kbit/s mono
    /// from a mono source).
    #[serde(rename = "hls_audio")]
    HlsAudio,
    /// HLS audio-only variant: 64 kbit/s mono AAC in fMP4 segments, for weak connections (for
    /// an audio master, the whole ladder).
    #[serde(rename = "hls_audio_64k")]
    HlsAudio64k,
    /// A small progressive MP4 (360p H.264 + AAC, moov first) for offline download.
    #[serde(rename = "mp4_small")]
    Mp4Small,
}

impl RenditionKind {
    pub const ALL: [RenditionKind; 21] = [
        Self::Audio64k,
        Self::PosterSmall,
        Self::PosterLarge,
        Self::Sprite,
        Self::Page1,
        Self::Page2,
        Self::Page3,
        Self::Page4,
        Self::Page5,
        Self::Page6,
        Self::Page7,
        Self::Page8,
        Self::Page9,
        Self::Page10,
        Self::TranscriptZh,
        Self::Hls360p,
        Self::Hls720p,
        Self::Hls1080p,
        Self::HlsAudio,
        Self::HlsAudio64k,
        Self::Mp4Small,
    ];

    /// The page images, first page first.
    pub const PAGES: [RenditionKind; 10] = [
        Self::Page1,
        Self::Page2,
        Self::Page3,
        Self::Page4,
        Self::Page5,
        Self::Page6,
        Self::Page7,
        Self::Page8,
        Self::Page9,
        Self::Page10,
    ];

    /// The image of page `n` (1-based), if pages that far are made.
    pub fn page(n: usize) -> Option<Self> {
        n.checked_sub(1).and_then(|i| Self::PAGES.get(i).copied())
    }

    /// Which page this is the image of.
    pub fn page_number(self) -> Option<usize> {
        Self::PAGES.iter().position(|k| *k == self).map(|i| i + 1)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Audio64k => "audio_64k",
            Self::PosterSmall => "poster_small",
            Self::PosterLarge => "poster_large",
            Self::TranscriptZh => "transcript_zh",
            Self::Sprite => "sprite",
            Self::Page1 => "page_1",
            Self::Page2 => "page_2",
            Self::Page3 => "page_3",
            Self::Page4 => "page_4",
            Self::Page5 => "page_5",
            Self::Page6 => "page_6",
            Self::Page7 => "page_7",
            Self::Page8 => "page_8",
            Self::Page9 => "page_9",
            Self::Page10 => "page_10",
            Self::Hls360p => "hls_360p",
            Self::Hls720p => "hls_720p",
            Self::Hls1080p => "hls_1080p",
            Self::HlsAudio => "hls_audio",
            Self::HlsAudio64k => "hls_audio_64k",
            Self::Mp4Small => "mp4_small",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The file extension of its object.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Audio64k => "m4a",
            Self::PosterSmall | Self::PosterLarge | Self::Sprite => "jpg",
            Self::Page1
            | Self::Page2
            | Self::Page3
            | Self::Page4
            | Self::Page5
            | Self::Page6
            | Self::Page7
            | Self::Page8
            | Self::Page9
            | Self::Page10 => "jpg",
            Self::TranscriptZh => "vtt",
            Self::Hls360p | Self::Hls720p | Self::Hls1080p | Self::HlsAudio | Self::HlsAudio64k => {
                "m3u8"
            }
            Self::Mp4Small => "mp4",
        }
    }

    /// The HLS variant this kind is, if it is one.
    pub fn hls(self) -> Option<crate::domain::hls::Variant> {
        crate::domain::hls::Variant::ALL
            .into_iter()
            .find(|v| v.kind() == self)
    }
}

/// Whether a rendition was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RenditionState {
    /// Stored, and can be downloaded.
    Ready,
    /// ffmpeg could not make it from this file; `error` says why.
    Failed,
}

impl RenditionState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ready => "ready",
            Self::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Ready, Self::Failed]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_states_round_trip_and_unknown_values_are_none() {
        for k in RenditionKind::ALL {
            assert_eq!(RenditionKind::parse(k.as_str()), Some(k));
            assert_eq!(
                serde_json::to_value(k).unwrap(),
                serde_json::json!(k.as_str())
            );
        }
        assert_eq!(RenditionKind::parse("audio_128k"), None);
        assert_eq!(RenditionKind::page(1), Some(RenditionKind::Page1));
        assert_eq!(RenditionKind::page(10), Some(RenditionKind::Page10));
        assert_eq!(RenditionKind::page(11), None);
        assert_eq!(RenditionKind::page(0), None);
        assert_eq!(RenditionKind::Page7.page_number(), Some(7));
        assert_eq!(RenditionKind::Sprite.page_number(), None);
        assert_eq!(RenditionState::parse("ready"), Some(RenditionState::Ready));
        assert_eq!(RenditionState::parse("done"), None);
    }
}
