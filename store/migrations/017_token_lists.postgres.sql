-- Token lists (issue 22): every sort of GET /v1/tokens read from an index in
-- its order for each status, a page starting with a seek, and name search
-- through a trigram index.
--
-- The SQLite file has generated columns; here they are indexed expressions
-- (listExpr in store/postgres.go), since stored generated columns would
-- rewrite the table under an exclusive lock. list_state is what is stable
-- in a token's status (tokenStateExpr: revoked 0, expiry recorded 1,
-- disabled 2, a live agent's token 3, other live 4, app keys 5); the sort
-- keys are COALESCE(last_used_at, -1) and the effective expiry
-- (effectiveExpiryExpr). Each list index begins with the state, so a status
-- is one or two ranges of an index already in the order asked, and the
-- cursor, a row value (key, id) < ($1, $2), starts the range.
CREATE INDEX tokens_list_created ON tokens ((CASE WHEN type = 'app_key' THEN 5 WHEN revoked_at IS NOT NULL THEN 0 WHEN expiry_recorded_at IS NOT NULL THEN 1
    WHEN disabled_at IS NOT NULL THEN 2 WHEN type = 'agent' THEN 3 ELSE 4 END), created_at, id);
CREATE INDEX tokens_list_name ON tokens ((CASE WHEN type = 'app_key' THEN 5 WHEN revoked_at IS NOT NULL THEN 0 WHEN expiry_recorded_at IS NOT NULL THEN 1
    WHEN disabled_at IS NOT NULL THEN 2 WHEN type = 'agent' THEN 3 ELSE 4 END), name_lower, id);
CREATE INDEX tokens_list_last_used ON tokens ((CASE WHEN type = 'app_key' THEN 5 WHEN revoked_at IS NOT NULL THEN 0 WHEN expiry_recorded_at IS NOT NULL THEN 1
    WHEN disabled_at IS NOT NULL THEN 2 WHEN type = 'agent' THEN 3 ELSE 4 END), (COALESCE(last_used_at, -1)), id);
CREATE INDEX tokens_list_expiry ON tokens ((CASE WHEN type = 'app_key' THEN 5 WHEN revoked_at IS NOT NULL THEN 0 WHEN expiry_recorded_at IS NOT NULL THEN 1
    WHEN disabled_at IS NOT NULL THEN 2 WHEN type = 'agent' THEN 3 ELSE 4 END),
    (CASE WHEN expires_at IS NOT NULL AND expires_at < (COALESCE(last_used_at, created_at) + idle_ttl)
    THEN expires_at ELSE (COALESCE(last_used_at, created_at) + idle_ttl) END), id);

-- list_due is the effective expiry of a token that is neither revoked nor
-- recorded as expired (NULL otherwise): those of the past are the expired
-- tokens the sweep has yet to record, few, found by a range of this index.
-- (Its statistics tell the planner how few: with the due indexes of
-- migration 009 it multiplies the guesses of each condition.)
CREATE INDEX tokens_list_due ON tokens ((CASE WHEN revoked_at IS NULL AND expiry_recorded_at IS NULL
    THEN (CASE WHEN expires_at IS NOT NULL AND expires_at < (COALESCE(last_used_at, created_at) + idle_ttl)
    THEN expires_at ELSE (COALESCE(last_used_at, created_at) + idle_ttl) END) END));

-- Name search: LIKE '%q%' through a trigram index (3 characters or more).
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX tokens_by_name_trigram ON tokens USING gin (name_lower gin_trgm_ops);

-- The planner knows the indexed expressions' values only once the table is
-- analysed: without, it guesses every state to hold 0.5% of the tokens.
ANALYZE tokens;
