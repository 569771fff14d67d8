-- Media processing (src/media): what ffprobe and ffmpeg found in each stored content, and the
-- renditions made from it. Both are keyed by the content's SHA-256, like extractions: the same
-- bytes attached to two lessons are probed and rendered once. Renditions are objects of their
-- own (never asset roles), immutable, at keys derived from the content and the rendition kind.
-- Times are Unix milliseconds, booleans BIGINT, as before.
CREATE TABLE media_probes (
    sha256 TEXT PRIMARY KEY,
    playable BIGINT NOT NULL,
    -- Why the content is not playable (ffprobe's own words, trimmed); NULL when it is.
    reason TEXT,
    container TEXT,
    duration_ms BIGINT,
    bit_rate BIGINT,
    has_video BIGINT NOT NULL,
    video_codec TEXT,
    width BIGINT,
    height BIGINT,
    -- Frames per second, in thousandths (29.97 is 29970).
    fps_milli BIGINT,
    rotation BIGINT,
    video_bit_rate BIGINT,
    has_audio BIGINT NOT NULL,
    audio_codec TEXT,
    audio_channels BIGINT,
    audio_sample_rate BIGINT,
    audio_bit_rate BIGINT,
    -- EBU R128 integrated loudness (LUFS) and the peak sample level (dBFS) of the first audio
    -- stream, in thousandths.
    loudness_milli BIGINT,
    max_volume_milli BIGINT,
    silent BIGINT NOT NULL,
    tool_version TEXT NOT NULL,
    probed_at BIGINT NOT NULL
);

CREATE TABLE media_renditions (
    id TEXT PRIMARY KEY,
    source_sha256 TEXT NOT NULL,
    kind TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('ready', 'failed')),
    object_key TEXT,
    content_type TEXT,
    size BIGINT,
    sha256 TEXT,
    width BIGINT,
    height BIGINT,
    bit_rate BIGINT,
    duration_ms BIGINT,
    error TEXT,
    created_at BIGINT NOT NULL,
    UNIQUE (source_sha256, kind)
);

-- The reconciler looks for masters with no probe by content.
CREATE INDEX assets_sha256 ON assets (sha256);
