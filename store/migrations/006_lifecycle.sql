-- Token lifecycle: idle expiry, disable, meta, rotation, search, agents.

-- How long a token lives unused, in microseconds (30 days for tokens that
-- predate idle expiry). Every use renews it; see RecordTokenUses.
ALTER TABLE tokens ADD COLUMN idle_ttl BIGINT NOT NULL DEFAULT 2592000000000;
ALTER TABLE tokens ADD COLUMN disabled_at BIGINT;
ALTER TABLE tokens ADD COLUMN meta TEXT NOT NULL DEFAULT '{}';
-- The name lower-cased by the domain (Unicode-aware, the same on both
-- engines), for case-insensitive search and sorting.
ALTER TABLE tokens ADD COLUMN name_lower TEXT NOT NULL DEFAULT '';
UPDATE tokens SET name_lower = LOWER(name);
-- The hash of the secret replaced by the last rotation, and when it stops
-- working.
ALTER TABLE tokens ADD COLUMN prev_hash TEXT;
ALTER TABLE tokens ADD COLUMN prev_hash_expires_at BIGINT;
ALTER TABLE tokens ADD COLUMN rotated_at BIGINT;
ALTER TABLE tokens ADD COLUMN agent_id TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX tokens_by_prev_hash ON tokens (prev_hash);
CREATE INDEX tokens_by_name ON tokens (name_lower, id);
CREATE INDEX tokens_by_last_used ON tokens (last_used_at, id);
CREATE INDEX tokens_by_agent ON tokens (agent_id);

-- Programs of the customer that hold a Keysmith-managed token. token_id is
-- the token of the last activation ('' if never activated).
CREATE TABLE agents (
    id             TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    kind           TEXT NOT NULL,
    owner_id       TEXT NOT NULL REFERENCES users (id),
    status         TEXT NOT NULL,
    token_id       TEXT NOT NULL DEFAULT '',
    created_at     BIGINT NOT NULL,
    created_by     TEXT NOT NULL,
    activated_at   BIGINT,
    deactivated_at BIGINT
);
CREATE INDEX agents_by_created ON agents (created_at, id);
CREATE INDEX agents_by_owner ON agents (owner_id, created_at, id);
CREATE INDEX agents_by_token ON agents (token_id);
