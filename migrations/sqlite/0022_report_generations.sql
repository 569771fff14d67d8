-- Organisation reports at a province's scale (issue 14). A quarter's summary is written in
-- chunks of members, each its own short transaction, under a new generation; readers see only
-- the generation `report_quarters` names, which changes in one small transaction once every
-- chunk is in, so no one sees a half-computed quarter and no statement holds the database (or
-- SQLite's one writer) for long. Older generations are deleted afterwards.
--
-- `report_quarter_members`: each member's home organisation when the quarter was computed, and
-- whether they learned anything — the member counts and the list of members who learned
-- nothing read these rows instead of every member's grants.
--
-- The summaries hold nothing that cannot be computed again: they are emptied and every quarter
-- is computed anew when next asked for (finished quarters then count their members as they
-- stand now).
DROP TABLE report_member_quarters;
DROP TABLE report_series_quarters;
DROP TABLE report_quarters;

CREATE TABLE report_quarters (
    quarter TEXT PRIMARY KEY,
    generation BIGINT NOT NULL,
    computed_at BIGINT NOT NULL,
    final BIGINT NOT NULL
);

CREATE TABLE report_quarter_members (
    quarter TEXT NOT NULL,
    generation BIGINT NOT NULL,
    user_id TEXT NOT NULL,
    org_path TEXT NOT NULL,
    learned BIGINT NOT NULL,
    PRIMARY KEY (quarter, generation, user_id)
);
CREATE INDEX report_quarter_members_idle ON report_quarter_members (quarter, generation, learned, org_path);

CREATE TABLE report_member_quarters (
    quarter TEXT NOT NULL,
    generation BIGINT NOT NULL,
    user_id TEXT NOT NULL,
    org_path TEXT NOT NULL,
    source TEXT NOT NULL,
    time_ms BIGINT NOT NULL,
    lessons BIGINT NOT NULL,
    completed BIGINT NOT NULL,
    PRIMARY KEY (quarter, generation, user_id, source)
);
CREATE INDEX report_member_quarters_path ON report_member_quarters (quarter, generation, org_path);

CREATE TABLE report_series_quarters (
    quarter TEXT NOT NULL,
    generation BIGINT NOT NULL,
    user_id TEXT NOT NULL,
    org_path TEXT NOT NULL,
    series TEXT NOT NULL,
    time_ms BIGINT NOT NULL,
    completed BIGINT NOT NULL,
    PRIMARY KEY (quarter, generation, user_id, series)
);
CREATE INDEX report_series_quarters_path ON report_series_quarters (quarter, generation, org_path);

-- The same summed per home organisation (and channel, or series) once every chunk is in: a few
-- hundred rows for a province, which is what a report reads (a report opens in milliseconds
-- whatever the number of members; only the list of members who learned nothing reads members).
-- `members` is set on the all-channel rows (source '') only.
CREATE TABLE report_org_quarters (
    quarter TEXT NOT NULL,
    generation BIGINT NOT NULL,
    org_path TEXT NOT NULL,
    source TEXT NOT NULL,
    members BIGINT NOT NULL,
    active BIGINT NOT NULL,
    time_ms BIGINT NOT NULL,
    completed BIGINT NOT NULL,
    PRIMARY KEY (quarter, generation, org_path, source)
);

CREATE TABLE report_org_series (
    quarter TEXT NOT NULL,
    generation BIGINT NOT NULL,
    org_path TEXT NOT NULL,
    series TEXT NOT NULL,
    active BIGINT NOT NULL,
    time_ms BIGINT NOT NULL,
    completed BIGINT NOT NULL,
    PRIMARY KEY (quarter, generation, org_path, series)
);

-- Completions of a quarter found by range instead of by reading every record.
CREATE INDEX learning_progress_completed ON learning_progress (completed_at);
