-- The Learning Record Store's documents and attachments (xAPI 1.0.3 Communication 2.2-2.7 and
-- 1.5.2), each platform's own.
--
-- Documents of the State, Activity Profile and Agent Profile resources. A document is keyed by
-- its platform, its kind and what its resource names: the activity IRI ('' for agent profiles),
-- the agent's canonical identifier ('' for activity profiles), the registration ('' when none:
-- only states have one) and the stateId or profileId. `content` is the document's bytes in
-- base64 (a document may be any media type, and TEXT is the one type both databases hold alike),
-- at most 1 MiB before encoding; `etag` is their SHA-1 (hex), compared by `If-Match` and
-- `If-None-Match` in the transaction that writes. Documents live here, not in object storage:
-- they are small, changed in place under preconditions and merged, which a transaction does
-- and immutable objects do not.
CREATE TABLE xapi_documents (
    platform_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('state', 'activity_profile', 'agent_profile')),
    activity_id TEXT NOT NULL,
    agent TEXT NOT NULL,
    registration TEXT NOT NULL,
    document_id TEXT NOT NULL,
    content_type TEXT NOT NULL,
    content TEXT NOT NULL,
    etag TEXT NOT NULL,
    updated_ms BIGINT NOT NULL,
    PRIMARY KEY (platform_id, kind, activity_id, agent, registration, document_id)
);
CREATE INDEX xapi_documents_updated ON xapi_documents (platform_id, kind, activity_id, agent, updated_ms);

-- Attachments sent with statements as multipart/mixed parts: the bytes are in object storage,
-- content-addressed by their checked SHA-2 (`object_key`), and a platform reaches only the
-- attachments it sent itself (the row), whoever else sent the same bytes.
CREATE TABLE xapi_attachments (
    platform_id TEXT NOT NULL,
    sha2 TEXT NOT NULL,
    content_type TEXT NOT NULL,
    length BIGINT NOT NULL,
    object_key TEXT NOT NULL,
    stored_ms BIGINT NOT NULL,
    PRIMARY KEY (platform_id, sha2)
);
