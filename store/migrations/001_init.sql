-- Keysmith schema, version 1. One text for SQLite and PostgreSQL: times are
-- BIGINT microseconds since the Unix epoch (UTC), hashes are hex TEXT, and no
-- engine-specific types are used.

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,   -- lower-cased by the domain
    name          TEXT NOT NULL,
    role          TEXT NOT NULL,
    type          TEXT NOT NULL,
    status        TEXT NOT NULL,
    password_hash TEXT NOT NULL DEFAULT '',
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

-- One row at most: the unique key makes concurrent first starts of several
-- replicas create exactly one first admin.
CREATE TABLE bootstrap (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    user_id    TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE tokens (
    id           TEXT PRIMARY KEY,
    hash         TEXT NOT NULL UNIQUE,    -- SHA-256 of the secret; never the secret
    name         TEXT NOT NULL,
    type         TEXT NOT NULL,
    owner_id     TEXT NOT NULL REFERENCES users (id),
    created_at   BIGINT NOT NULL,
    created_by   TEXT NOT NULL,
    expires_at   BIGINT,
    last_used_at BIGINT,
    last_used_ip TEXT NOT NULL DEFAULT '',
    revoked_at   BIGINT,
    revoked_by   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX tokens_by_created ON tokens (created_at, id);
CREATE INDEX tokens_by_owner ON tokens (owner_id, created_at, id);

-- The system log, a hash chain: hash = SHA-256(prev_hash || data).
CREATE TABLE events (
    seq       BIGINT PRIMARY KEY,
    id        TEXT NOT NULL UNIQUE,
    time      BIGINT NOT NULL,
    type      TEXT NOT NULL,
    actor_id  TEXT NOT NULL,
    data      TEXT NOT NULL,              -- canonical JSON of the event
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);
CREATE INDEX events_by_type ON events (type, seq);
CREATE INDEX events_by_actor ON events (actor_id, seq);
