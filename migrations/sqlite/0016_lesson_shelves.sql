-- The members' series and lecturer pages (and the front page's featured series) list one
-- series' or one lecturer's lessons in episode order: without these, each read every lesson.
CREATE INDEX lessons_series ON lessons (series, recorded_on);
CREATE INDEX lessons_lecturer ON lessons (lecturer, recorded_on);
