-- Subtitles (src/domain/subtitle.rs): each row is one subtitle of a lesson in one language,
-- uploaded by an editor (an asset of role `subtitle`, read and checked when it was stored) or a
-- machine transcript (no asset: its normalized WebVTT is a blob of its own). The bytes live in
-- object storage under the blob's key, like every other content; this row holds what was learnt
-- by reading them. Which subtitle a language serves is decided when it is read: the newest
-- editor subtitle, else the newest machine transcript (an editor's file replaces the machine's
-- without deleting it, and deleting the editor's asset brings the transcript back).
CREATE TABLE subtitles (
    id TEXT PRIMARY KEY,
    lesson_id TEXT NOT NULL REFERENCES lessons (id) ON DELETE CASCADE,
    -- The editor's asset; NULL for a machine transcript.
    asset_id TEXT REFERENCES assets (id) ON DELETE CASCADE,
    language TEXT NOT NULL,
    origin TEXT NOT NULL CHECK (origin IN ('editor', 'machine')),
    format TEXT NOT NULL CHECK (format IN ('srt', 'vtt', 'ass')),
    -- The encoding the file was decoded from (WHATWG name: UTF-8, UTF-16LE, gb18030, ...).
    encoding TEXT NOT NULL,
    sha256 TEXT NOT NULL REFERENCES blobs (sha256),
    cues BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    CHECK ((origin = 'editor') = (asset_id IS NOT NULL))
);
CREATE INDEX subtitles_lesson_language ON subtitles (lesson_id, language);
CREATE INDEX subtitles_asset_id ON subtitles (asset_id);

-- The language given when a resumable upload was created (tus metadata `language`).
ALTER TABLE uploads ADD COLUMN language TEXT;
