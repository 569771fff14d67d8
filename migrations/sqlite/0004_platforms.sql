-- Downstream platforms and what they receive: platforms under organisations, their keys, the
-- publication audience of lessons, what each platform has been sent, and the job queue that
-- delivers webhooks. Times are Unix milliseconds, booleans BIGINT, lists JSON text, as before.

CREATE TABLE platforms (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs (id),
    name TEXT NOT NULL,
    channel TEXT NOT NULL CHECK (channel IN ('web', 'tv', 'wechat', 'audio', 'other')),
    -- Filters, each a JSON array; an empty array lets everything through.
    kinds TEXT NOT NULL,
    tags TEXT NOT NULL,
    series TEXT NOT NULL,
    webhook_url TEXT,
    -- The Standard Webhooks secret (whsec_…); kept as is, since every delivery is signed with it.
    webhook_secret TEXT,
    -- Where webhook dispatch has got to in this platform's feed (an opaque feed cursor).
    webhook_cursor TEXT NOT NULL,
    last_pull_at BIGINT,
    last_pull_seq BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    disabled_at BIGINT
);
CREATE INDEX platforms_org_id ON platforms (org_id);

-- API keys of platforms: several at once, so a key can be rotated without downtime.
CREATE TABLE platform_keys (
    id TEXT PRIMARY KEY,
    platform_id TEXT NOT NULL REFERENCES platforms (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at BIGINT
);
CREATE INDEX platform_keys_platform_id ON platform_keys (platform_id);

-- A lesson's audience: a subtree inside its scope (NULL: the whole scope), or named platforms.
ALTER TABLE lessons ADD COLUMN audience_org_id TEXT REFERENCES orgs (id);
CREATE TABLE lesson_platforms (
    lesson_id TEXT NOT NULL REFERENCES lessons (id) ON DELETE CASCADE,
    platform_id TEXT NOT NULL REFERENCES platforms (id) ON DELETE CASCADE,
    PRIMARY KEY (lesson_id, platform_id)
);
CREATE INDEX lesson_platforms_platform_id ON lesson_platforms (platform_id);

-- Every lesson a platform was ever sent as an upsert: only these get tombstones, so a platform
-- never learns the ids of lessons that were not for it. Rows outlive their lessons on purpose.
CREATE TABLE platform_sent (
    platform_id TEXT NOT NULL REFERENCES platforms (id) ON DELETE CASCADE,
    lesson_id TEXT NOT NULL,
    PRIMARY KEY (platform_id, lesson_id)
);

-- Entries up to this position have been pruned from the change log: older cursors get 410.
ALTER TABLE change_head ADD COLUMN pruned_through BIGINT NOT NULL DEFAULT 0;

-- The durable job queue. A job is claimed by setting a lease; a job whose lease ran out (its
-- worker died) is claimed again. Jobs are idempotent, so running one twice is harmless.
CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    -- What the job is about (a platform's id for webhooks), for listings.
    subject TEXT NOT NULL,
    payload TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'done', 'dead')),
    attempts BIGINT NOT NULL,
    run_at BIGINT NOT NULL,
    lease_until BIGINT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX jobs_due ON jobs (state, run_at);
CREATE INDEX jobs_subject ON jobs (kind, subject, state, created_at);
CREATE INDEX changes_lesson_id ON changes (lesson_id, at);
