-- The one durable job runner (src/jobs): every kind of background work in one queue. Jobs now
-- carry the organisation they are for (per-organisation fairness; '' for the instance's own
-- work), a priority lane, their attempt budget and the worker holding their lease, and a
-- claimed job is 'running' until it finishes or its lease runs out. SQLite cannot change a
-- CHECK constraint, so the table is rebuilt (same columns, in the same order, as PostgreSQL's).
CREATE TABLE jobs_new (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    payload TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'running', 'done', 'dead')),
    attempts BIGINT NOT NULL,
    run_at BIGINT NOT NULL,
    lease_until BIGINT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    org_id TEXT NOT NULL DEFAULT '',
    lane BIGINT NOT NULL DEFAULT 1,
    max_attempts BIGINT NOT NULL DEFAULT 60,
    worker TEXT
);
INSERT INTO jobs_new (id, kind, subject, payload, state, attempts, run_at, lease_until,
                      last_error, created_at, updated_at, org_id, lane, max_attempts, worker)
SELECT j.id, j.kind, j.subject, j.payload, j.state, j.attempts, j.run_at, NULL, j.last_error,
       j.created_at, j.updated_at, COALESCE((SELECT p.org_id FROM platforms p WHERE p.id = j.subject), ''),
       1, 60, NULL
FROM jobs j;
DROP TABLE jobs;
ALTER TABLE jobs_new RENAME TO jobs;
CREATE INDEX jobs_due ON jobs (state, lane, run_at);
CREATE INDEX jobs_subject ON jobs (kind, subject, state, created_at);
CREATE INDEX jobs_listing ON jobs (state, kind, updated_at);
