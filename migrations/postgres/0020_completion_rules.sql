-- Completion rules (issue 14): every member of an organisation's subtree must complete every
-- published lesson of a series (a monthly series, say). The archive and the reports show each
-- rule as done or missing.
CREATE TABLE completion_rules (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    series TEXT NOT NULL,
    created_by TEXT,
    created_at BIGINT NOT NULL,
    UNIQUE (org_id, series)
);
