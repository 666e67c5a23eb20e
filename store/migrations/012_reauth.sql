-- Step-up re-authentication (issue 16): when the session's user last proved
-- their password (sign-in or POST /v1/sessions/reauthenticate). Actions
-- that return or replace a secret require it to be recent.
ALTER TABLE sessions ADD COLUMN authenticated_at BIGINT NOT NULL DEFAULT 0;
UPDATE sessions SET authenticated_at = created_at;
