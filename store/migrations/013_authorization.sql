-- The authorization code flow (issue 17): client settings for user-facing
-- apps, authorization codes, consents and refresh tokens. Codes and refresh
-- tokens are stored as SHA-256 hex only. A grant is one code's exchange and
-- everything issued from it; its id is the code's id.
ALTER TABLE oauth_clients ADD COLUMN redirect_uris TEXT NOT NULL DEFAULT '';              -- space-separated
ALTER TABLE oauth_clients ADD COLUMN post_logout_redirect_uris TEXT NOT NULL DEFAULT '';  -- space-separated
ALTER TABLE oauth_clients ADD COLUMN token_endpoint_auth_method TEXT NOT NULL DEFAULT 'client_secret_basic';
ALTER TABLE oauth_clients ADD COLUMN pkce_required INTEGER NOT NULL DEFAULT 1;
ALTER TABLE oauth_clients ADD COLUMN pkce_allow_plain INTEGER NOT NULL DEFAULT 0;
ALTER TABLE oauth_clients ADD COLUMN first_party INTEGER NOT NULL DEFAULT 0;
ALTER TABLE oauth_clients ADD COLUMN refresh_token_ttl BIGINT NOT NULL DEFAULT 2592000;     -- seconds
ALTER TABLE oauth_clients ADD COLUMN refresh_token_idle_ttl BIGINT NOT NULL DEFAULT 604800; -- seconds

-- Access tokens issued to a client acting for a person: who, and under
-- which grant (both '' for client_credentials). Such tokens are stored in
-- either format (a JWT without hash), so that revoking the grant finds them.
ALTER TABLE oauth_tokens ADD COLUMN user_id TEXT NOT NULL DEFAULT '';
ALTER TABLE oauth_tokens ADD COLUMN grant_id TEXT NOT NULL DEFAULT '';
CREATE INDEX oauth_tokens_by_grant ON oauth_tokens (grant_id) WHERE grant_id <> '';

CREATE TABLE oauth_codes (
    id               TEXT PRIMARY KEY,
    hash             TEXT NOT NULL UNIQUE,
    client_id        TEXT NOT NULL,
    user_id          TEXT NOT NULL,
    redirect_uri     TEXT NOT NULL,
    scope            TEXT NOT NULL,
    challenge        TEXT NOT NULL DEFAULT '',
    challenge_method TEXT NOT NULL DEFAULT '',
    nonce            TEXT NOT NULL DEFAULT '',
    auth_time        BIGINT NOT NULL,
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    used_at          BIGINT
);
CREATE INDEX oauth_codes_by_expiry ON oauth_codes (expires_at);

CREATE TABLE oauth_consents (
    user_id    TEXT NOT NULL REFERENCES users (id),
    client_id  TEXT NOT NULL REFERENCES oauth_clients (id),
    scopes     TEXT NOT NULL,            -- space-separated
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, client_id)
);

CREATE TABLE oauth_refresh_tokens (
    id              TEXT PRIMARY KEY,
    hash            TEXT NOT NULL UNIQUE,
    grant_id        TEXT NOT NULL,
    client_id       TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    scope           TEXT NOT NULL,
    auth_time       BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    idle_expires_at BIGINT NOT NULL,
    used_at         BIGINT,
    revoked_at      BIGINT
);
CREATE INDEX oauth_refresh_tokens_by_grant ON oauth_refresh_tokens (grant_id);
CREATE INDEX oauth_refresh_tokens_by_user ON oauth_refresh_tokens (user_id, client_id);
CREATE INDEX oauth_refresh_tokens_by_expiry ON oauth_refresh_tokens (expires_at);
