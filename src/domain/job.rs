//! Background jobs: their kinds, the lane and retry policy of each kind, and their states.
//!
//! Invariant: kinds and states are parsed once where they come out of SQL; a value this module
//! does not know is an error ([`UnknownJobValue`]), never read as a default.

use serde::Serialize;

/// What a job does. The string forms are what SQL stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// Deliver one webhook message to a platform.
    Webhook,
    /// Extract the text of one stored content (a document or subtitle) for search.
    ExtractText,
    /// Carry out the scheduled publications and withdrawals that are due (periodic).
    Schedules,
    /// Periodic housekeeping: expired tus uploads, expired sessions.
    Maintenance,
    /// Does nothing, or fails or sleeps as its payload asks: for operators checking that the
    /// runner works, for the benchmarks and for the test suite.
    Probe,
    /// Look for video and audio contents with no media probe yet and queue one for each
    /// (periodic; see `media`).
    MediaReconcile,
    /// Probe one content with ffprobe (streams, duration, loudness, silence).
    MediaProbe,
    /// Make the 64 kbit/s mono AAC rendition of one content with sound.
    MediaAudio,
    /// Make the two poster sizes of one content with a picture.
    MediaPoster,
    /// Make the machine transcript (Whisper, offline) of one content with speech.
    MediaTranscript,
    /// Read one document (PDF): its page count, and images of its first pages for previews.
    MediaDocument,
    /// Make the thumbnail sprite (and its WebVTT track) of one content with a picture, for
    /// scrubbing.
    MediaSprite,
    /// Make one HLS variant of what makes a lesson playable first: the lowest video variant,
    /// the audio group, the audio-only variant (the variant is in the payload).
    MediaHls,
    /// Make one of the higher HLS video variants (720p, 1080p).
    MediaHlsUpper,
    /// Make the small progressive MP4 for offline download.
    MediaMp4,
    /// Compute the summary the organisation reports read: the current quarter again, and the
    /// last one for good once it has ended (periodic).
    Reports,
}

/// Priority lanes, most urgent first. A claim takes jobs of a more urgent lane first, and the
/// least urgent lane never takes every worker (see `jobs::Runner`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Lane {
    High = 0,
    Normal = 1,
    Low = 2,
}

impl Lane {
    pub fn as_i64(self) -> i64 {
        self as i64
    }
}

/// How a kind of job is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts (claims, so a worker that died mid-job counts) before the job is dead.
    pub max_attempts: i64,
    /// The wait after the first failure; each next one doubles it, up to `max_backoff_ms`.
    pub backoff_ms: i64,
    pub max_backoff_ms: i64,
}

impl RetryPolicy {
    /// The wait after the `attempts`-th failed attempt (1-based), before jitter; `None` when the
    /// attempt budget is spent and the job is dead.
    pub fn backoff(&self, attempts: i64) -> Option<i64> {
        if attempts >= self.max_attempts {
            return None;
        }
        let exp = (attempts - 1).clamp(0, 30);
        Some(
            self.backoff_ms
                .saturating_mul(1i64 << exp)
                .min(self.max_backoff_ms),
        )
    }
}

impl JobKind {
    pub const ALL: [JobKind; 16] = [
        JobKind::Webhook,
        JobKind::ExtractText,
        JobKind::Schedules,
        JobKind::Maintenance,
        JobKind::Probe,
        JobKind::MediaReconcile,
        JobKind::MediaProbe,
        JobKind::MediaAudio,
        JobKind::MediaPoster,
        JobKind::MediaTranscript,
        JobKind::MediaDocument,
        JobKind::MediaSprite,
        JobKind::MediaHls,
        JobKind::MediaHlsUpper,
        JobKind::MediaMp4,
        JobKind::Reports,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Webhook => "webhook",
            Self::ExtractText => "extract_text",
            Self::Schedules => "schedules",
            Self::Maintenance => "maintenance",
            Self::Probe => "probe",
            Self::MediaReconcile => "media_reconcile",
            Self::MediaProbe => "media_probe",
            Self::MediaAudio => "media_audio",
            Self::MediaPoster => "media_poster",
            Self::MediaTranscript => "media_transcript",
            Self::MediaDocument => "media_document",
            Self::MediaSprite => "media_sprite",
            Self::MediaHls => "media_hls",
            Self::MediaHlsUpper => "media_hls_upper",
            Self::MediaMp4 => "media_mp4",
            Self::Reports => "reports",
        }
    }

    pub fn parse(s: &str) -> Result<Self, UnknownJobValue> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownJobValue::new("kind", s))
    }

    /// An optional kind (absent or empty: `None`).
    pub fn parse_opt(s: Option<&str>) -> Result<Option<Self>, UnknownJobValue> {
        s.filter(|s| !s.is_empty()).map(Self::parse).transpose()
    }

    /// The lane: what must happen on time (publications at their hour, webhooks) before bulk
    /// work (text extraction, which can take a minute per file).
    pub fn lane(self) -> Lane {
        match self {
            // What makes a lesson playable first (its probe, audio and poster) is urgent; the
            // media engine bounds how many ffmpeg processes run at once.
            Self::Schedules
            | Self::Maintenance
            | Self::MediaReconcile
            | Self::MediaProbe
            | Self::MediaAudio
            | Self::MediaPoster => Lane::High,
            Self::Webhook | Self::Probe => Lane::Normal,
            // The lowest video variant and the audio make a lesson playable: urgent; the
            // higher variants and the download after them.
            Self::MediaHls => Lane::High,
            Self::MediaHlsUpper | Self::MediaMp4 => Lane::Normal,
            Self::ExtractText => Lane::Low,
            // Bulk work after a lesson is playable: minutes of CPU per hour of speech.
            Self::MediaTranscript => Lane::Low,
            // Previews and scrubbing thumbnails can wait for what makes lessons playable.
            Self::MediaDocument => Lane::Normal,
            Self::MediaSprite => Lane::Low,
            // Reports may be minutes old.
            Self::Reports => Lane::Low,
        }
    }

    /// The default retry policy. Webhooks are bounded by their retry window as well (their
    /// handler says when that is over); periodic kinds are rescheduled, not retried.
    pub fn retry_policy(self) -> RetryPolicy {
        match self {
            Self::Webhook => RetryPolicy {
                max_attempts: 60,
                backoff_ms: 5_000,
                max_backoff_ms: 3_600_000,
            },
            Self::ExtractText => RetryPolicy {
                max_attempts: 8,
                backoff_ms: 2_000,
                max_backoff_ms: 600_000,
            },
            // A file ffmpeg cannot read is a success (unplayable, with its reason); what is
            // retried is storage or a process that could not run.
            Self::MediaProbe
            | Self::MediaAudio
            | Self::MediaPoster
            | Self::MediaDocument
            | Self::MediaSprite
            | Self::MediaHls
            | Self::MediaHlsUpper
            | Self::MediaMp4 => RetryPolicy {
                max_attempts: 6,
                backoff_ms: 5_000,
                max_backoff_ms: 600_000,
            },
            // A run past its time limit (a hallucination loop) is retried a few times.
            Self::MediaTranscript => RetryPolicy {
                max_attempts: 4,
                backoff_ms: 5_000,
                max_backoff_ms: 600_000,
            },
            Self::Schedules | Self::Maintenance | Self::MediaReconcile | Self::Reports => {
                RetryPolicy {
                    max_attempts: i64::MAX,
                    backoff_ms: 1_000,
                    max_backoff_ms: 60_000,
                }
            }
            Self::Probe => RetryPolicy {
                max_attempts: 3,
                backoff_ms: 50,
                max_backoff_ms: 1_000,
            },
        }
    }
}

impl JobKind {
    /// Whether a job of this kind takes one of the media engine's process slots while it runs
    /// (every `media_*` step but the reconciler). The runner claims no more of them than it
    /// has slots free, so no worker is held by a job that could only wait for one.
    pub fn uses_media_slot(self) -> bool {
        self != Self::MediaReconcile && self.as_str().starts_with("media_")
    }
}

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting for its time (`run_at`); after a failure it carries `last_error`.
    Pending,
    /// Claimed by a worker whose lease runs until `lease_until`; once that passes (the worker
    /// died) it is claimed again.
    Running,
    Done,
    /// Out of attempts (or failed for good): kept, listed, and retried only by hand.
    Dead,
}

impl JobState {
    pub const ALL: [JobState; 4] = [
        JobState::Pending,
        JobState::Running,
        JobState::Done,
        JobState::Dead,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::Done => "done",
            Self::Dead => "dead",
        }
    }

    pub fn parse(s: &str) -> Result<Self, UnknownJobValue> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownJobValue::new("state", s))
    }

    /// An optional state (absent or empty: `None`).
    pub fn parse_opt(s: Option<&str>) -> Result<Option<Self>, UnknownJobValue> {
        s.filter(|s| !s.is_empty()).map(Self::parse).transpose()
    }

    /// Whether a job in this state may be put back to run by hand.
    pub fn retryable(self) -> bool {
        matches!(self, Self::Dead | Self::Done)
    }
}

/// A kind or state that this version does not know: read from SQL, a corrupt or newer row.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown job {what} {value:?}")]
pub struct UnknownJobValue {
    pub what: &'static str,
    pub value: String,
}

impl UnknownJobValue {
    fn new(what: &'static str, value: &str) -> Self {
        Self {
            what,
            value: value.chars().take(64).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_states_round_trip_and_unknown_values_are_errors() {
        for k in JobKind::ALL {
            assert_eq!(JobKind::parse(k.as_str()), Ok(k));
        }
        for s in JobState::ALL {
            assert_eq!(JobState::parse(s.as_str()), Ok(s));
        }
        assert!(JobKind::parse("Webhook").is_err());
        assert!(JobKind::parse("").is_err());
        assert!(JobState::parse("failed").is_err());
    }

    #[test]
    fn backoff_doubles_up_to_its_cap_and_ends_after_the_budget() {
        let p = RetryPolicy {
            max_attempts: 5,
            backoff_ms: 100,
            max_backoff_ms: 500,
        };
        assert_eq!(p.backoff(1), Some(100));
        assert_eq!(p.backoff(2), Some(200));
        assert_eq!(p.backoff(3), Some(400));
        assert_eq!(p.backoff(4), Some(500));
        assert_eq!(p.backoff(5), None);
        assert_eq!(p.backoff(50), None);
    }

    #[test]
    fn media_steps_take_a_slot_and_the_reconciler_does_not() {
        assert!(JobKind::MediaProbe.uses_media_slot());
        assert!(JobKind::MediaSprite.uses_media_slot());
        assert!(!JobKind::MediaReconcile.uses_media_slot());
        assert!(!JobKind::ExtractText.uses_media_slot());
    }

    #[test]
    fn bulk_work_runs_in_the_lowest_lane() {
        assert!(JobKind::Schedules.lane() < JobKind::Webhook.lane());
        assert!(JobKind::Webhook.lane() < JobKind::ExtractText.lane());
    }
}
