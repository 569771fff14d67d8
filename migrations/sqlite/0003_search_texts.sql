-- Text extracted from documents and subtitles for search. Blobs are immutable and addressed by
-- SHA-256, so each distinct content is extracted once, whatever lessons and assets share it.
-- Both tables are derived data: deleting a row only makes the indexer extract again.

CREATE TABLE extractions (
    sha256 TEXT PRIMARY KEY,
    format TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('ok', 'failed')),
    error TEXT,
    segments BIGINT NOT NULL,
    extracted_at BIGINT NOT NULL
);

-- A document's pages (page is 1-based; NULL for formats without pages) or a subtitle's cues
-- (start_ms and end_ms), in order.
CREATE TABLE text_segments (
    sha256 TEXT NOT NULL,
    seq BIGINT NOT NULL,
    page BIGINT,
    start_ms BIGINT,
    end_ms BIGINT,
    text TEXT NOT NULL,
    PRIMARY KEY (sha256, seq)
);
