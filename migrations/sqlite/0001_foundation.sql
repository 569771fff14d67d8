-- The foundation: lessons, their assets and the content-addressed blobs behind them, the change
-- log, operator tokens and resumable uploads. Times are Unix milliseconds (BIGINT) so that both
-- backends store and compare them the same way; identifiers are UUIDv7 strings.

CREATE TABLE lessons (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('video', 'audio', 'document')),
    lecturer TEXT,
    series TEXT,
    region_code TEXT,
    recorded_on TEXT,
    language TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('draft', 'published', 'withdrawn')),
    version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    published_at BIGINT
);
CREATE INDEX lessons_status_id ON lessons (status, id);
CREATE INDEX lessons_region_code ON lessons (region_code);

CREATE TABLE lesson_tags (
    lesson_id TEXT NOT NULL REFERENCES lessons (id) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    position BIGINT NOT NULL,
    PRIMARY KEY (lesson_id, tag)
);
CREATE INDEX lesson_tags_tag ON lesson_tags (tag);

-- One row per distinct content: objects are immutable and deduplicated by SHA-256.
CREATE TABLE blobs (
    sha256 TEXT PRIMARY KEY,
    object_key TEXT NOT NULL UNIQUE,
    size BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE assets (
    id TEXT PRIMARY KEY,
    lesson_id TEXT NOT NULL REFERENCES lessons (id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('master', 'subtitle', 'attachment', 'poster')),
    filename TEXT NOT NULL,
    sha256 TEXT NOT NULL REFERENCES blobs (sha256),
    content_type TEXT NOT NULL,
    disposition TEXT NOT NULL CHECK (disposition IN ('inline', 'attachment')),
    created_at BIGINT NOT NULL
);
CREATE INDEX assets_lesson_id ON assets (lesson_id);

-- The change log. Positions are handed out by bumping the single row of change_head inside the
-- writing transaction, as its last statement: the row lock serialises appends, so positions are
-- gapless and become visible in order, and a reader following `seq > cursor` never skips one.
CREATE TABLE change_head (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL
);
INSERT INTO change_head (id, seq) VALUES (1, 0);

CREATE TABLE changes (
    seq BIGINT PRIMARY KEY,
    entity TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    lesson_id TEXT NOT NULL,
    op TEXT NOT NULL,
    at BIGINT NOT NULL
);

CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at BIGINT
);

-- Resumable (tus) uploads in progress. The bytes live in an S3 multipart upload plus, for what
-- is too short to be a part yet, a small tail object; this row is the whole state, so an upload
-- survives a restart and can be continued through any node.
CREATE TABLE uploads (
    id TEXT PRIMARY KEY,
    lesson_id TEXT NOT NULL,
    role TEXT NOT NULL,
    filename TEXT NOT NULL,
    length BIGINT NOT NULL,
    received BIGINT NOT NULL,
    object_key TEXT NOT NULL,
    multipart_id TEXT NOT NULL,
    parts TEXT NOT NULL,
    tail_key TEXT,
    hash_state TEXT NOT NULL,
    content_type TEXT,
    disposition TEXT,
    lease_token TEXT,
    lease_until BIGINT,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    asset_id TEXT
);
CREATE INDEX uploads_expires_at ON uploads (expires_at);
