-- Token lists (issue 22): every sort of GET /v1/tokens read from an index in
-- its order for each status, a page starting with a seek, and name search
-- through a trigram index.
--
-- Generated columns (PostgreSQL indexes the same expressions instead: see
-- its file), computed by the engine on every read and write: list_state is what
-- is stable in a token's status (revoked 0, expiry recorded 1, disabled 2, a
-- live agent's token 3, other live 4, app keys 5; only a token whose deadline passed a
-- moment ago and whose expiry the sweep has yet to record is live here but
-- expired by the clock, and the due indexes of migration 009 find those);
-- list_last_used and list_expiry are the sort keys that are expressions
-- (never NULL: a never-used token sorts as used at -1; the expiry is the
-- earlier of expires_at and the idle deadline). They are columns, not
-- indexed expressions, so that the cursor, a row value (key, id) < ($1, $2),
-- is an index seek on SQLite too. Each list index begins with list_state, so
-- a status is one or two ranges of an index already in the order asked.
-- App keys, listed by application (tokens_by_app), have a state of their
-- own rather than partial indexes: SQLite, without statistics, would scan a
-- partial index as if it were small to answer the summary's full count.
ALTER TABLE tokens ADD COLUMN list_state INTEGER GENERATED ALWAYS AS (CASE WHEN type = 'app_key' THEN 5 WHEN revoked_at IS NOT NULL THEN 0 WHEN expiry_recorded_at IS NOT NULL THEN 1
        WHEN disabled_at IS NOT NULL THEN 2 WHEN type = 'agent' THEN 3 ELSE 4 END) VIRTUAL;
ALTER TABLE tokens ADD COLUMN list_last_used BIGINT GENERATED ALWAYS AS (COALESCE(last_used_at, -1)) VIRTUAL;
ALTER TABLE tokens ADD COLUMN list_expiry BIGINT GENERATED ALWAYS AS (CASE WHEN expires_at IS NOT NULL AND expires_at < (COALESCE(last_used_at, created_at) + idle_ttl)
        THEN expires_at ELSE (COALESCE(last_used_at, created_at) + idle_ttl) END) VIRTUAL;
-- list_due is the effective expiry of a token that is neither revoked nor
-- recorded as expired (NULL otherwise): those of the past are the expired
-- tokens the sweep has yet to record, few, found by a range of its index.
ALTER TABLE tokens ADD COLUMN list_due BIGINT GENERATED ALWAYS AS (CASE WHEN revoked_at IS NULL AND expiry_recorded_at IS NULL
    THEN (CASE WHEN expires_at IS NOT NULL AND expires_at < (COALESCE(last_used_at, created_at) + idle_ttl)
        THEN expires_at ELSE (COALESCE(last_used_at, created_at) + idle_ttl) END) END) VIRTUAL;
CREATE INDEX tokens_list_due ON tokens (list_due);
CREATE INDEX tokens_list_created ON tokens (list_state, created_at, id);
CREATE INDEX tokens_list_name ON tokens (list_state, name_lower, id);
CREATE INDEX tokens_list_last_used ON tokens (list_state, list_last_used, id);
CREATE INDEX tokens_list_expiry ON tokens (list_state, list_expiry, id);

-- Name search: a trigram index of name_lower keeps substring semantics for
-- 3 characters or more (the query checks LIKE as well). It is keyed by
-- token_search.id, not by the rowid of tokens, which VACUUM may renumber
-- (tokens has a TEXT primary key). Triggers keep it current.
CREATE TABLE token_search (
    id       INTEGER PRIMARY KEY,
    token_id TEXT NOT NULL UNIQUE
);
CREATE VIRTUAL TABLE tokens_fts USING fts5 (name, content = '', contentless_delete = 1,
    tokenize = 'trigram case_sensitive 1');
INSERT INTO token_search (token_id) SELECT id FROM tokens;
INSERT INTO tokens_fts (rowid, name)
    SELECT token_search.id, tokens.name_lower FROM token_search JOIN tokens ON tokens.id = token_search.token_id;

CREATE TRIGGER tokens_search_insert AFTER INSERT ON tokens BEGIN
    INSERT INTO token_search (token_id) VALUES (new.id);
    INSERT INTO tokens_fts (rowid, name) VALUES ((SELECT id FROM token_search WHERE token_id = new.id), new.name_lower);
END;
CREATE TRIGGER tokens_search_rename AFTER UPDATE OF name_lower ON tokens WHEN new.name_lower IS NOT old.name_lower BEGIN
    DELETE FROM tokens_fts WHERE rowid = (SELECT id FROM token_search WHERE token_id = new.id);
    INSERT INTO tokens_fts (rowid, name) VALUES ((SELECT id FROM token_search WHERE token_id = new.id), new.name_lower);
END;
CREATE TRIGGER tokens_search_delete AFTER DELETE ON tokens BEGIN
    DELETE FROM tokens_fts WHERE rowid = (SELECT id FROM token_search WHERE token_id = old.id);
    DELETE FROM token_search WHERE token_id = old.id;
END;
