-- Applications, OAuth clients and their secrets, access tokens and signing
-- keys. Secrets and opaque tokens are stored as SHA-256 hex; private signing
-- keys only sealed under the master key (AES-256-GCM), never in the clear.

CREATE TABLE apps (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    owner_id    TEXT NOT NULL REFERENCES users (id),
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX apps_by_created ON apps (created_at, id);
CREATE INDEX apps_by_owner ON apps (owner_id, created_at, id);

-- A revoked client keeps its row (revoked_at set), so its history reads back.
-- app_id is '' for a client without an application, and stays set after the
-- application is deleted (the client is revoked with it).
CREATE TABLE oauth_clients (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    app_id       TEXT NOT NULL DEFAULT '',
    owner_id     TEXT NOT NULL REFERENCES users (id),
    environment  TEXT NOT NULL,
    scopes       TEXT NOT NULL,            -- space-separated, as in OAuth
    grant_types  TEXT NOT NULL,            -- space-separated
    token_ttl    BIGINT NOT NULL,          -- seconds; negative: tokens never expire
    token_format TEXT NOT NULL,
    audience     TEXT NOT NULL DEFAULT '',
    created_at   BIGINT NOT NULL,
    created_by   TEXT NOT NULL,
    revoked_at   BIGINT,
    revoked_by   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX oauth_clients_by_created ON oauth_clients (created_at, id);
CREATE INDEX oauth_clients_by_owner ON oauth_clients (owner_id, created_at, id);
CREATE INDEX oauth_clients_by_app ON oauth_clients (app_id);

CREATE TABLE oauth_client_secrets (
    id          TEXT PRIMARY KEY,
    client_id   TEXT NOT NULL REFERENCES oauth_clients (id),
    hash        TEXT NOT NULL UNIQUE,     -- SHA-256 of the secret; never the secret
    last4       TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT
);
CREATE INDEX oauth_client_secrets_by_client ON oauth_client_secrets (client_id, created_at);

-- Opaque access tokens (hash set) and revoked JWT access tokens (hash NULL),
-- both by their jti. JWTs that are not revoked are not stored at all.
CREATE TABLE oauth_tokens (
    id          TEXT PRIMARY KEY,
    hash        TEXT UNIQUE,
    format      TEXT NOT NULL,
    client_id   TEXT NOT NULL,
    app_id      TEXT NOT NULL DEFAULT '',
    environment TEXT NOT NULL,
    scope       TEXT NOT NULL,
    audience    TEXT NOT NULL,
    issued_at   BIGINT NOT NULL,
    expires_at  BIGINT,
    revoked_at  BIGINT
);
CREATE INDEX oauth_tokens_revoked ON oauth_tokens (revoked_at, expires_at);

CREATE TABLE signing_keys (
    id          TEXT PRIMARY KEY,         -- the JWK kid
    algorithm   TEXT NOT NULL,
    public_jwk  TEXT NOT NULL,
    private_enc TEXT NOT NULL,            -- sealed under the master key
    created_at  BIGINT NOT NULL,
    retired_at  BIGINT
);
