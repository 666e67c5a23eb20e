-- Dynamic client registration (issue 20, RFC 7591/7592). Initial access
-- tokens ("registration tokens") and registration access tokens are stored
-- as SHA-256 hex only. A registration token registers clients in one
-- application and environment, at most max_uses times; uses is counted
-- under its row lock.
CREATE TABLE registration_tokens (
    id          TEXT PRIMARY KEY,
    hash        TEXT NOT NULL UNIQUE,
    app_id      TEXT NOT NULL,
    environment TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    expires_at  BIGINT NOT NULL,
    max_uses    INTEGER NOT NULL,
    uses        INTEGER NOT NULL DEFAULT 0,
    created_at  BIGINT NOT NULL,
    created_by  TEXT NOT NULL,
    revoked_at  BIGINT,
    revoked_by  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX registration_tokens_newest ON registration_tokens (created_at, id);

-- One row per client registered by DCR: its registration access token's
-- hash, and where it came from. The client itself is in oauth_clients.
CREATE TABLE client_registrations (
    client_id             TEXT PRIMARY KEY,
    access_hash           TEXT NOT NULL UNIQUE,
    registration_token_id TEXT NOT NULL,
    created_by            TEXT NOT NULL,
    created_at            BIGINT NOT NULL
);
