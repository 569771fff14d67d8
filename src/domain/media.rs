//! Media renditions: their kinds and states, as SQL stores them and the API shows them.
//!
//! Invariant: parsed where they leave SQL; a value this version does not know is an error,
//! never a default.

use serde::Serialize;

/// What a rendition is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
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
    /// The machine transcript (机器转写): speech recognised by Whisper offline, in Simplified
    /// Chinese, as WebVTT cues. Not an editor's subtitle; one replaces it.
    #[serde(rename = "transcript_zh")]
    TranscriptZh,
}

impl RenditionKind {
    pub const ALL: [RenditionKind; 4] = [
        Self::Audio64k,
        Self::PosterSmall,
        Self::PosterLarge,
        Self::TranscriptZh,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Audio64k => "audio_64k",
            Self::PosterSmall => "poster_small",
            Self::PosterLarge => "poster_large",
            Self::TranscriptZh => "transcript_zh",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The file extension of its object.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Audio64k => "m4a",
            Self::PosterSmall | Self::PosterLarge => "jpg",
            Self::TranscriptZh => "vtt",
        }
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
        assert_eq!(RenditionState::parse("ready"), Some(RenditionState::Ready));
        assert_eq!(RenditionState::parse("done"), None);
    }
}
