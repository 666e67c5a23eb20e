-- APIs (resource servers) and their scopes, which scopes each credential
-- names, and app API keys.
--
-- A scope name is unique across all APIs, so a bare name is never
-- ambiguous; the OpenID Connect scopes (openid, offline_access, profile,
-- email) are built in and have no rows.
CREATE TABLE apis (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    identifier  TEXT NOT NULL UNIQUE,     -- the audience: a URI
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX apis_by_created ON apis (created_at, id);

CREATE TABLE api_scopes (
    name         TEXT PRIMARY KEY,
    api_id       TEXT NOT NULL REFERENCES apis (id),
    description  TEXT NOT NULL DEFAULT '',
    self_service INTEGER NOT NULL DEFAULT 0,   -- 1: any developer may grant it
    position     INTEGER NOT NULL          -- the order the API lists them in
);
CREATE INDEX api_scopes_by_api ON api_scopes (api_id, position);

-- scope_grants says which registered scope each live credential (an OAuth
-- client, an API token or an app key, by id) names: deleting a scope or an
-- API that one still names is refused, as deleting a zone a token names is.
-- The credential's own scopes column stays what reads return.
CREATE TABLE scope_grants (
    scope     TEXT NOT NULL REFERENCES api_scopes (name),
    holder_id TEXT NOT NULL,
    PRIMARY KEY (scope, holder_id)
);
CREATE INDEX scope_grants_by_holder ON scope_grants (holder_id);

-- API tokens may name scopes; app keys are tokens of type app_key that
-- belong to an application's environment ('' for other tokens).
ALTER TABLE tokens ADD COLUMN scopes TEXT NOT NULL DEFAULT '';      -- space-separated
ALTER TABLE tokens ADD COLUMN app_id TEXT NOT NULL DEFAULT '';
ALTER TABLE tokens ADD COLUMN environment TEXT NOT NULL DEFAULT '';
CREATE INDEX tokens_by_app ON tokens (app_id, created_at, id) WHERE app_id <> '';
