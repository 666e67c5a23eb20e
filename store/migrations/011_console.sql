-- The console (issue 15): one-time setup codes that let the first super
-- admin choose a password in the browser. Only the SHA-256 of a code is
-- stored; a user has at most one.
CREATE TABLE setup_codes (
    id         TEXT PRIMARY KEY,
    hash       TEXT NOT NULL UNIQUE,
    user_id    TEXT NOT NULL UNIQUE REFERENCES users (id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
