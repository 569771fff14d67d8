-- Where each account stopped in each lesson (issue 13, "continue watching"), written by the
-- library's player; the learning records (issue 14) take it over. One row per account and
-- lesson, replaced as the member plays; gone with the account or the lesson.
CREATE TABLE playback_positions (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    lesson_id TEXT NOT NULL REFERENCES lessons (id) ON DELETE CASCADE,
    position_ms BIGINT NOT NULL,
    duration_ms BIGINT,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, lesson_id)
);
CREATE INDEX playback_positions_recent ON playback_positions (user_id, updated_at);
