-- Readiness probes write here, one row per running service node, so that /health/ready tells
-- whether the database accepts writes (a full disk, a read-only replica) and not only reads.
CREATE TABLE node_probes (
    node TEXT PRIMARY KEY,
    probed_at BIGINT NOT NULL
);
