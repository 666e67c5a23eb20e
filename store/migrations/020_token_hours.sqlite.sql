-- The token summary at a million tokens, part 2: what the clock changes.
-- Migration 018 counted the tokens expiring within ExpiringSoon and those
-- used within RecentUse over partial indexes, hundreds of thousands of
-- index entries at a million tokens. token_hours counts the open, enabled
-- API tokens (018's tokens_open_expiry, the same predicate) by the hour of
-- their effective expiry (e: effectiveExpiryExpr in store/tokens_list.go,
-- divided by an hour in microseconds) and of their last use (u; -1 if never
-- used), so the summary sums the hours wholly inside each window and counts
-- only the part-hours at its ends from the indexes (store/tokens_summary.go).
--
-- As token_counts: the triggers add rows (-1 for a token's old hours, +1
-- for its new ones), insert only, and the maintenance job folds them
-- (FoldTokenCounts). A use changes a token's row only when the hour of its
-- last use (or of its expiry) changes.
CREATE TABLE token_hours (
    e BIGINT NOT NULL,
    u BIGINT NOT NULL,
    n BIGINT NOT NULL
);

INSERT INTO token_hours (e, u, n)
SELECT (CASE WHEN expires_at IS NOT NULL AND expires_at < (COALESCE(last_used_at, created_at) + idle_ttl) THEN expires_at ELSE (COALESCE(last_used_at, created_at) + idle_ttl) END) / 3600000000,
    COALESCE(last_used_at / 3600000000, -1), COUNT(*)
FROM tokens WHERE revoked_at IS NULL AND expiry_recorded_at IS NULL AND disabled_at IS NULL AND type <> 'app_key'
GROUP BY 1, 2;

-- Rows by expiry hour and by use hour, each with what the summary sums, so
-- that it reads the index alone.
CREATE INDEX token_hours_by_expiry ON token_hours (e, u, n);
CREATE INDEX token_hours_by_use ON token_hours (u, n);

CREATE TRIGGER tokens_hours_insert AFTER INSERT ON tokens
WHEN NEW.revoked_at IS NULL AND NEW.expiry_recorded_at IS NULL AND NEW.disabled_at IS NULL AND NEW.type <> 'app_key' BEGIN
INSERT INTO token_hours (e, u, n) VALUES ((CASE WHEN NEW.expires_at IS NOT NULL AND NEW.expires_at < (COALESCE(NEW.last_used_at, NEW.created_at) + NEW.idle_ttl) THEN NEW.expires_at ELSE (COALESCE(NEW.last_used_at, NEW.created_at) + NEW.idle_ttl) END) / 3600000000,
    COALESCE(NEW.last_used_at / 3600000000, -1), 1);
END;

-- It fires when the token's counting or its hours change; each insert adds
-- its row only for a token counted before (-1) or after (+1).
CREATE TRIGGER tokens_hours_update AFTER UPDATE OF type, revoked_at, expiry_recorded_at, disabled_at, last_used_at, expires_at, idle_ttl, created_at ON tokens
WHEN (OLD.revoked_at IS NULL AND OLD.expiry_recorded_at IS NULL AND OLD.disabled_at IS NULL AND OLD.type <> 'app_key')
        IS NOT (NEW.revoked_at IS NULL AND NEW.expiry_recorded_at IS NULL AND NEW.disabled_at IS NULL AND NEW.type <> 'app_key')
    OR COALESCE(OLD.last_used_at / 3600000000, -1) <> COALESCE(NEW.last_used_at / 3600000000, -1)
    OR (CASE WHEN OLD.expires_at IS NOT NULL AND OLD.expires_at < (COALESCE(OLD.last_used_at, OLD.created_at) + OLD.idle_ttl) THEN OLD.expires_at ELSE (COALESCE(OLD.last_used_at, OLD.created_at) + OLD.idle_ttl) END) / 3600000000
        <> (CASE WHEN NEW.expires_at IS NOT NULL AND NEW.expires_at < (COALESCE(NEW.last_used_at, NEW.created_at) + NEW.idle_ttl) THEN NEW.expires_at ELSE (COALESCE(NEW.last_used_at, NEW.created_at) + NEW.idle_ttl) END) / 3600000000
BEGIN
INSERT INTO token_hours (e, u, n) SELECT (CASE WHEN OLD.expires_at IS NOT NULL AND OLD.expires_at < (COALESCE(OLD.last_used_at, OLD.created_at) + OLD.idle_ttl) THEN OLD.expires_at ELSE (COALESCE(OLD.last_used_at, OLD.created_at) + OLD.idle_ttl) END) / 3600000000,
    COALESCE(OLD.last_used_at / 3600000000, -1), -1
    WHERE OLD.revoked_at IS NULL AND OLD.expiry_recorded_at IS NULL AND OLD.disabled_at IS NULL AND OLD.type <> 'app_key';
INSERT INTO token_hours (e, u, n) SELECT (CASE WHEN NEW.expires_at IS NOT NULL AND NEW.expires_at < (COALESCE(NEW.last_used_at, NEW.created_at) + NEW.idle_ttl) THEN NEW.expires_at ELSE (COALESCE(NEW.last_used_at, NEW.created_at) + NEW.idle_ttl) END) / 3600000000,
    COALESCE(NEW.last_used_at / 3600000000, -1), 1
    WHERE NEW.revoked_at IS NULL AND NEW.expiry_recorded_at IS NULL AND NEW.disabled_at IS NULL AND NEW.type <> 'app_key';
END;

CREATE TRIGGER tokens_hours_delete AFTER DELETE ON tokens
WHEN OLD.revoked_at IS NULL AND OLD.expiry_recorded_at IS NULL AND OLD.disabled_at IS NULL AND OLD.type <> 'app_key' BEGIN
INSERT INTO token_hours (e, u, n) VALUES ((CASE WHEN OLD.expires_at IS NOT NULL AND OLD.expires_at < (COALESCE(OLD.last_used_at, OLD.created_at) + OLD.idle_ttl) THEN OLD.expires_at ELSE (COALESCE(OLD.last_used_at, OLD.created_at) + OLD.idle_ttl) END) / 3600000000,
    COALESCE(OLD.last_used_at / 3600000000, -1), -1);
END;

-- The part-hour of recent use at the window's end is counted from the
-- tokens, with their effective expiry: 018's index by last use, with the
-- expiry in it, so that the count reads the index alone.
DROP INDEX tokens_open_use;
CREATE INDEX tokens_open_use ON tokens (last_used_at, (CASE WHEN expires_at IS NOT NULL AND expires_at < (COALESCE(last_used_at, created_at) + idle_ttl) THEN expires_at ELSE (COALESCE(last_used_at, created_at) + idle_ttl) END),
    revoked_at, expiry_recorded_at, disabled_at, type)
    WHERE revoked_at IS NULL AND expiry_recorded_at IS NULL AND disabled_at IS NULL AND type <> 'app_key';
