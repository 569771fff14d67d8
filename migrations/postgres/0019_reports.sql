-- Organisation reports (issue 14): what each member learned per quarter, per channel (source)
-- and per series, summed from learning_days and learning_progress by the job runner (`reports`,
-- periodic) so a province's report reads a few indexed rows per member instead of every day of
-- every lesson. `org_path` is the member's home organisation (its deepest member grant) when the
-- quarter was computed; a finished quarter is computed once more after it ends and kept.
CREATE TABLE report_member_quarters (
    quarter TEXT NOT NULL,
    user_id TEXT NOT NULL,
    org_path TEXT NOT NULL,
    source TEXT NOT NULL,
    time_ms BIGINT NOT NULL,
    lessons BIGINT NOT NULL,
    completed BIGINT NOT NULL,
    PRIMARY KEY (quarter, user_id, source)
);
CREATE INDEX report_member_quarters_path ON report_member_quarters (quarter, org_path);

CREATE TABLE report_series_quarters (
    quarter TEXT NOT NULL,
    user_id TEXT NOT NULL,
    org_path TEXT NOT NULL,
    series TEXT NOT NULL,
    time_ms BIGINT NOT NULL,
    completed BIGINT NOT NULL,
    PRIMARY KEY (quarter, user_id, series)
);
CREATE INDEX report_series_quarters_path ON report_series_quarters (quarter, org_path);

-- Which quarters are computed, when, and whether for good (the quarter had ended).
CREATE TABLE report_quarters (
    quarter TEXT PRIMARY KEY,
    computed_at BIGINT NOT NULL,
    final BIGINT NOT NULL
);
