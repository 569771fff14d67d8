-- Learning records (issue 14). What each account has played of each lesson, per source
-- (`library`: Lectern's own player; later a platform's id, for what it reports), and the time it
-- spent per day: the archive and the reports sum these. They take over `playback_positions`
-- (where an account stopped is the record's position). Gone with the account or the lesson.
CREATE TABLE learning_progress (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    lesson_id TEXT NOT NULL REFERENCES lessons (id) ON DELETE CASCADE,
    source TEXT NOT NULL,
    -- The stretches played, merged: JSON [[start_ms, end_ms], ...].
    spans TEXT NOT NULL,
    covered_ms BIGINT NOT NULL,
    duration_ms BIGINT,
    time_ms BIGINT NOT NULL,
    position_ms BIGINT NOT NULL,
    -- What further reports may still add, milliseconds of lesson (`domain::learning::budget`).
    credit_ms BIGINT NOT NULL,
    completed_at BIGINT,
    first_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, lesson_id, source)
);
CREATE INDEX learning_progress_recent ON learning_progress (user_id, updated_at);
CREATE INDEX learning_progress_lesson ON learning_progress (lesson_id);

-- Time spent per account, lesson, source and day (`YYYY-MM-DD` in China, UTC+8).
CREATE TABLE learning_days (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    lesson_id TEXT NOT NULL REFERENCES lessons (id) ON DELETE CASCADE,
    source TEXT NOT NULL,
    day TEXT NOT NULL,
    time_ms BIGINT NOT NULL,
    PRIMARY KEY (user_id, lesson_id, source, day)
);
CREATE INDEX learning_days_day ON learning_days (day);

INSERT INTO learning_progress (user_id, lesson_id, source, spans, covered_ms, duration_ms,
                               time_ms, position_ms, credit_ms, completed_at, first_at,
                               updated_at)
SELECT user_id, lesson_id, 'library', '[]', 0, duration_ms, 0, position_ms, 60000, NULL,
       updated_at, updated_at
FROM playback_positions;
DROP TABLE playback_positions;

-- The share of a lesson (percent) an organisation counts as learned.
ALTER TABLE orgs ADD COLUMN completion_percent BIGINT NOT NULL DEFAULT 90;
