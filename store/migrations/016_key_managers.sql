-- External key managers (issue 20): identity providers (Okta, Keycloak, any
-- OpenID provider) at which clients are registered and whose access tokens
-- Keysmith verifies. Their secrets are sealed under the master key.
CREATE TABLE key_managers (
    id                          TEXT PRIMARY KEY,
    name                        TEXT NOT NULL UNIQUE,
    type                        TEXT NOT NULL,
    issuer                      TEXT NOT NULL,
    audience                    TEXT NOT NULL DEFAULT '',
    enabled                     INTEGER NOT NULL DEFAULT 1,
    jwks_uri                    TEXT NOT NULL DEFAULT '',
    registration_endpoint       TEXT NOT NULL DEFAULT '',
    introspection_endpoint      TEXT NOT NULL DEFAULT '',
    token_endpoint              TEXT NOT NULL DEFAULT '',
    registration_token_sealed   TEXT NOT NULL DEFAULT '',
    introspection_client_id     TEXT NOT NULL DEFAULT '',
    introspection_secret_sealed TEXT NOT NULL DEFAULT '',
    -- How its opaque tokens begin: only those are sent to its
    -- introspection endpoint; two enabled managers never share one.
    opaque_token_prefix         TEXT NOT NULL DEFAULT '',
    -- Whether tokens of its clients not registered through Keysmith are
    -- accepted (0: they are NOT_FOUND).
    accept_unregistered_clients INTEGER NOT NULL DEFAULT 0,
    created_at                  BIGINT NOT NULL,
    created_by                  TEXT NOT NULL DEFAULT '',
    updated_at                  BIGINT NOT NULL
);
CREATE UNIQUE INDEX key_managers_by_opaque_prefix ON key_managers (opaque_token_prefix)
    WHERE enabled = 1 AND opaque_token_prefix <> '';

-- A client registered at an external manager: its manager, the client_id
-- the manager gave it, and what RFC 7592 needs to update and delete it
-- (the registration access token sealed). '' for Keysmith's own clients.
ALTER TABLE oauth_clients ADD COLUMN key_manager_id TEXT NOT NULL DEFAULT '';
ALTER TABLE oauth_clients ADD COLUMN external_client_id TEXT NOT NULL DEFAULT '';
ALTER TABLE oauth_clients ADD COLUMN registration_uri TEXT NOT NULL DEFAULT '';
ALTER TABLE oauth_clients ADD COLUMN registration_token_sealed TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX oauth_clients_by_external_id ON oauth_clients (key_manager_id, external_client_id)
    WHERE key_manager_id <> '';
