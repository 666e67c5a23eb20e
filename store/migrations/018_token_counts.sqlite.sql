-- The token summary (SummarizeTokens) at a million tokens: counts of each
-- type in each stored state, kept current by triggers, instead of a scan of
-- every token; what the clock changes (a deadline passed, expiring soon,
-- used lately) is counted over the partial indexes below, which hold only
-- the tokens that can still change that way.
--
-- A token's stored state: revoked, expired (expiry recorded), disabled, or
-- open; statusCond in store/tokens_list.go gives their precedence. The
-- triggers add one row per change (+1 for the new state, -1 for the old),
-- insert only, as on PostgreSQL, where writers must not queue on a shared
-- counter row; the maintenance job folds them (FoldTokenCounts).
CREATE TABLE token_counts (
    type  TEXT NOT NULL,
    state TEXT NOT NULL,
    n     BIGINT NOT NULL
);

INSERT INTO token_counts (type, state, n)
SELECT type, CASE WHEN revoked_at IS NOT NULL THEN 'revoked' WHEN expiry_recorded_at IS NOT NULL THEN 'expired'
    WHEN disabled_at IS NOT NULL THEN 'disabled' ELSE 'open' END, COUNT(*)
FROM tokens GROUP BY 1, 2;

CREATE TRIGGER tokens_count_insert AFTER INSERT ON tokens BEGIN
INSERT INTO token_counts (type, state, n) VALUES (NEW.type, CASE WHEN NEW.revoked_at IS NOT NULL THEN 'revoked'
    WHEN NEW.expiry_recorded_at IS NOT NULL THEN 'expired' WHEN NEW.disabled_at IS NOT NULL THEN 'disabled' ELSE 'open' END, 1);
END;

-- Only a change of the state's columns fires it: the use flush (last_used_at)
-- does no trigger work.
CREATE TRIGGER tokens_count_update AFTER UPDATE OF type, revoked_at, expiry_recorded_at, disabled_at ON tokens
WHEN NEW.type IS NOT OLD.type OR (NEW.revoked_at IS NULL) IS NOT (OLD.revoked_at IS NULL)
    OR (NEW.expiry_recorded_at IS NULL) IS NOT (OLD.expiry_recorded_at IS NULL)
    OR (NEW.disabled_at IS NULL) IS NOT (OLD.disabled_at IS NULL) BEGIN
INSERT INTO token_counts (type, state, n) VALUES (OLD.type, CASE WHEN OLD.revoked_at IS NOT NULL THEN 'revoked'
    WHEN OLD.expiry_recorded_at IS NOT NULL THEN 'expired' WHEN OLD.disabled_at IS NOT NULL THEN 'disabled' ELSE 'open' END, -1);
INSERT INTO token_counts (type, state, n) VALUES (NEW.type, CASE WHEN NEW.revoked_at IS NOT NULL THEN 'revoked'
    WHEN NEW.expiry_recorded_at IS NOT NULL THEN 'expired' WHEN NEW.disabled_at IS NOT NULL THEN 'disabled' ELSE 'open' END, 1);
END;

CREATE TRIGGER tokens_count_delete AFTER DELETE ON tokens BEGIN
INSERT INTO token_counts (type, state, n) VALUES (OLD.type, CASE WHEN OLD.revoked_at IS NOT NULL THEN 'revoked'
    WHEN OLD.expiry_recorded_at IS NOT NULL THEN 'expired' WHEN OLD.disabled_at IS NOT NULL THEN 'disabled' ELSE 'open' END, -1);
END;

-- Open, enabled API tokens by effective expiry (effectiveExpiryExpr in
-- store/tokens_list.go, word for word) and last use: those whose deadline
-- passed (few: the sweep records them within a minute), those expiring
-- within ExpiringSoon, and which of them were used within RecentUse. The
-- columns of the WHERE end each key, NULL or short, so that SQLite counts
-- from the index alone (it reads the table for a column the query names
-- that the index lacks, even one the WHERE of a partial index fixes).
CREATE INDEX tokens_open_expiry ON tokens ((CASE WHEN expires_at IS NOT NULL AND expires_at < (COALESCE(last_used_at, created_at) + idle_ttl) THEN expires_at ELSE (COALESCE(last_used_at, created_at) + idle_ttl) END), last_used_at,
    revoked_at, expiry_recorded_at, disabled_at, type)
    WHERE revoked_at IS NULL AND expiry_recorded_at IS NULL AND disabled_at IS NULL AND type <> 'app_key';
-- The same tokens by last use: those used within RecentUse.
CREATE INDEX tokens_open_use ON tokens (last_used_at, revoked_at, expiry_recorded_at, disabled_at, type)
    WHERE revoked_at IS NULL AND expiry_recorded_at IS NULL AND disabled_at IS NULL AND type <> 'app_key';
-- Disabled tokens not recorded expired, by effective expiry: those whose
-- deadline passed are expired, not disabled.
CREATE INDEX tokens_open_disabled ON tokens ((CASE WHEN expires_at IS NOT NULL AND expires_at < (COALESCE(last_used_at, created_at) + idle_ttl) THEN expires_at ELSE (COALESCE(last_used_at, created_at) + idle_ttl) END),
    revoked_at, expiry_recorded_at, disabled_at, type)
    WHERE revoked_at IS NULL AND expiry_recorded_at IS NULL AND disabled_at IS NOT NULL AND type <> 'app_key';
-- Agent tokens that may be suspicious.
CREATE INDEX tokens_open_agents ON tokens (agent_id)
    WHERE type = 'agent' AND revoked_at IS NULL AND expiry_recorded_at IS NULL;
