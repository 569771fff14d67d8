-- Synonyms (issue 13): groups of terms that mean the same in this installation (training words of
-- member education, say), which searches use at query time. Replaced as a whole by an
-- administrator (`PUT /api/v1/search/synonyms`, `/admin/synonyms`); the order is theirs.
CREATE TABLE synonym_groups (
    position BIGINT PRIMARY KEY,
    -- The group's terms as written, one per line.
    terms TEXT NOT NULL
);
