-- Media operations (issue 12): jobs show how far they are, and documents their page count.
-- `progress_permille` is the share of a running job's work done (0 to 1000, NULL when the job
-- reports none), `eta_ms` the estimated time left, both written at most every few seconds while
-- the job runs; `output_tail` keeps the last lines a failed tool wrote (ffmpeg's own words,
-- without the presigned URL it was given). Columns are only added, so the columns other
-- migrations add to the same tables are kept.
ALTER TABLE jobs ADD COLUMN progress_permille BIGINT;
ALTER TABLE jobs ADD COLUMN eta_ms BIGINT;
ALTER TABLE jobs ADD COLUMN output_tail TEXT;
-- The number of pages of a document (PDF), as pdfinfo reads it; NULL for audio and video.
ALTER TABLE media_probes ADD COLUMN page_count BIGINT;
