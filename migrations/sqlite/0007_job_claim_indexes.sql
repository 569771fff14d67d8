-- Claims cost the same whatever the backlog (src/db/jobs.rs, `claim_candidates`): the
-- organisations with due work are found by a loose scan of `jobs_claim` (one seek each), each
-- one's first jobs read from it in order; the next due time and the lost leases are the ends of
-- `jobs_wake` and `jobs_lease`. `jobs_due` (state, lane, run_at) served the old ranking of the
-- whole backlog and nothing else.
DROP INDEX IF EXISTS jobs_due;
CREATE INDEX jobs_claim ON jobs (state, lane, org_id, run_at, id);
CREATE INDEX jobs_wake ON jobs (state, run_at);
CREATE INDEX jobs_lease ON jobs (state, lease_until);
