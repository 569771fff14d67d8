-- The one durable job runner (src/jobs): every kind of background work in one queue. Jobs now
-- carry the organisation they are for (per-organisation fairness; '' for the instance's own
-- work), a priority lane, their attempt budget and the worker holding their lease, and a
-- claimed job is 'running' until it finishes or its lease runs out.
ALTER TABLE jobs ADD COLUMN org_id TEXT NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN lane BIGINT NOT NULL DEFAULT 1;
ALTER TABLE jobs ADD COLUMN max_attempts BIGINT NOT NULL DEFAULT 60;
ALTER TABLE jobs ADD COLUMN worker TEXT;
UPDATE jobs SET lease_until = NULL,
    org_id = COALESCE((SELECT p.org_id FROM platforms p WHERE p.id = jobs.subject), '');
ALTER TABLE jobs DROP CONSTRAINT IF EXISTS jobs_state_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_state_check
    CHECK (state IN ('pending', 'running', 'done', 'dead'));
DROP INDEX IF EXISTS jobs_due;
CREATE INDEX jobs_due ON jobs (state, lane, run_at);
CREATE INDEX jobs_listing ON jobs (state, kind, updated_at);
