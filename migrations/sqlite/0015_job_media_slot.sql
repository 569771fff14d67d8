-- Media steps (the kinds that take one of the media engine's process slots) apart in the claim
-- index. With every slot busy a claim must pass over them; filtered by kind, it read each one
-- (a backlog of 10,000 probes made every claim read 10,000 rows, and webhooks, publications and
-- text extraction waited behind it). With `media` in the index it seeks past them.
ALTER TABLE jobs ADD COLUMN media BIGINT NOT NULL DEFAULT 0;
UPDATE jobs SET media = 1 WHERE kind LIKE 'media\_%' ESCAPE '\' AND kind <> 'media_reconcile';
CREATE INDEX jobs_claim_free ON jobs (state, lane, media, org_id, run_at, id);
