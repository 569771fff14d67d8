-- Organisations, accounts, roles, sessions, the review workflow and the audit log.
-- Booleans are BIGINT 0/1 and times Unix milliseconds, as in 0001, so both backends agree.

-- The organisation tree. `path` is the materialised path of ids from the root, `/root/…/self/`:
-- a node's subtree is every row whose path starts with its path, and moving a node rewrites the
-- prefix of its subtree in one statement.
CREATE TABLE orgs (
    id TEXT PRIMARY KEY,
    parent_id TEXT REFERENCES orgs (id),
    name TEXT NOT NULL,
    level TEXT NOT NULL CHECK (level IN ('province', 'city', 'county', 'township', 'branch', 'other')),
    region_code TEXT,
    path TEXT NOT NULL UNIQUE,
    review_required BIGINT NOT NULL,
    self_approval BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX orgs_parent_id ON orgs (parent_id);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    login TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    password_changed_at BIGINT NOT NULL,
    disabled_at BIGINT
);

-- A role applies to the organisation it names and everything below it.
CREATE TABLE role_grants (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('administrator', 'reviewer', 'editor', 'member')),
    org_id TEXT NOT NULL REFERENCES orgs (id),
    granted_by TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, role, org_id)
);
CREATE INDEX role_grants_org_id ON role_grants (org_id);

-- Web sessions; the cookie carries a secret whose SHA-256 is the key here.
CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    address TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_user_id ON sessions (user_id);

-- Failed logins, for throttling per account and per address.
CREATE TABLE login_failures (
    id TEXT PRIMARY KEY,
    login TEXT NOT NULL,
    address TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX login_failures_login ON login_failures (login, at);
CREATE INDEX login_failures_address ON login_failures (address, at);

-- Personal API tokens are api_tokens rows with a user; operator tokens have none.
ALTER TABLE api_tokens ADD COLUMN user_id TEXT REFERENCES users (id) ON DELETE CASCADE;
ALTER TABLE api_tokens ADD COLUMN expires_at BIGINT;

-- Ownership, publication scope and schedules of lessons.
ALTER TABLE lessons ADD COLUMN org_id TEXT REFERENCES orgs (id);
ALTER TABLE lessons ADD COLUMN created_by TEXT;
ALTER TABLE lessons ADD COLUMN scope_org_id TEXT REFERENCES orgs (id);
ALTER TABLE lessons ADD COLUMN publish_at BIGINT;
ALTER TABLE lessons ADD COLUMN withdraw_at BIGINT;
CREATE INDEX lessons_org_id ON lessons (org_id);
CREATE INDEX lessons_publish_at ON lessons (publish_at);
CREATE INDEX lessons_withdraw_at ON lessons (withdraw_at);

-- Revisions of a lesson's fields (a JSON snapshot each) and where each is in review. The lessons
-- row shows the live fields; an edit of a published lesson becomes a new revision that goes
-- through review while the live one stays up.
CREATE TABLE lesson_revisions (
    lesson_id TEXT NOT NULL REFERENCES lessons (id) ON DELETE CASCADE,
    number BIGINT NOT NULL,
    fields TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('draft', 'submitted', 'approved', 'rejected', 'published', 'superseded')),
    author_id TEXT,
    scope_org_id TEXT,
    chain TEXT,
    submitted_by TEXT,
    submitted_at BIGINT,
    decided_at BIGINT,
    comment TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (lesson_id, number)
);
CREATE INDEX lesson_revisions_state ON lesson_revisions (state);

-- One row per level that approved a submitted revision.
CREATE TABLE approvals (
    lesson_id TEXT NOT NULL,
    revision BIGINT NOT NULL,
    org_id TEXT NOT NULL,
    reviewer_id TEXT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (lesson_id, revision, org_id),
    FOREIGN KEY (lesson_id, revision) REFERENCES lesson_revisions (lesson_id, number) ON DELETE CASCADE
);

-- Upward recommendations of a published lesson to the parent organisation.
CREATE TABLE recommendations (
    id TEXT PRIMARY KEY,
    lesson_id TEXT NOT NULL REFERENCES lessons (id) ON DELETE CASCADE,
    from_org_id TEXT NOT NULL REFERENCES orgs (id),
    to_org_id TEXT NOT NULL REFERENCES orgs (id),
    recommended_by TEXT NOT NULL,
    note TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'adopted', 'declined')),
    decided_by TEXT,
    decision_comment TEXT,
    created_at BIGINT NOT NULL,
    decided_at BIGINT
);
CREATE INDEX recommendations_to_org_id ON recommendations (to_org_id, state);

-- Who did what, where, when and from which address. Append-only: the database refuses changes.
CREATE TABLE audit_log (
    id TEXT PRIMARY KEY,
    at BIGINT NOT NULL,
    actor_id TEXT,
    actor TEXT NOT NULL,
    org_id TEXT,
    address TEXT,
    action TEXT NOT NULL,
    target_kind TEXT NOT NULL,
    target_id TEXT,
    before_state TEXT,
    after_state TEXT
);
CREATE INDEX audit_log_org_id ON audit_log (org_id, id);
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
