-- The Learning Record Store (xAPI 1.0.3, issue 14): statements the downstream platforms post at
-- /api/xapi/statements, each as stored (`body`: the statement with the id, stored time,
-- authority and version the store set), with the columns the queries filter on. A statement
-- about a lesson by a member (`user_id`, `lesson_id`) also counts in `learning_progress`, with
-- the platform's id as its source. Statements are never changed, only voided.
CREATE TABLE xapi_statements (
    id TEXT PRIMARY KEY,
    platform_id TEXT NOT NULL,
    stored_ms BIGINT NOT NULL,
    timestamp_ms BIGINT NOT NULL,
    verb_id TEXT NOT NULL,
    registration TEXT,
    -- The statement a StatementRef object points at (voiding statements included).
    ref_id TEXT,
    voiding BIGINT NOT NULL,
    voided BIGINT NOT NULL,
    -- SHA-256 of the statement as received, canonical (keys sorted), without the properties the
    -- store sets: the same id with the same content is accepted again, with other content is 409.
    digest TEXT NOT NULL,
    user_id TEXT,
    lesson_id TEXT,
    body TEXT NOT NULL
);
CREATE INDEX xapi_statements_stored ON xapi_statements (platform_id, stored_ms, id);
CREATE INDEX xapi_statements_ref ON xapi_statements (ref_id);
CREATE INDEX xapi_statements_learner ON xapi_statements (user_id, lesson_id, platform_id);

-- Every agent (its inverse functional identifier, canonical) and activity a statement names:
-- `related` 0 for the actor and object, 1 for the rest (authority, context, sub-statement), so
-- `agent`, `activity`, `related_agents` and `related_activities` are one indexed lookup.
CREATE TABLE xapi_statement_agents (
    statement_id TEXT NOT NULL REFERENCES xapi_statements (id) ON DELETE CASCADE,
    agent TEXT NOT NULL,
    related BIGINT NOT NULL,
    PRIMARY KEY (statement_id, agent, related)
);
CREATE INDEX xapi_statement_agents_agent ON xapi_statement_agents (agent);

CREATE TABLE xapi_statement_activities (
    statement_id TEXT NOT NULL REFERENCES xapi_statements (id) ON DELETE CASCADE,
    activity TEXT NOT NULL,
    related BIGINT NOT NULL,
    PRIMARY KEY (statement_id, activity, related)
);
CREATE INDEX xapi_statement_activities_activity ON xapi_statement_activities (activity);
