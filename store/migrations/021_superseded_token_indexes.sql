-- The token indexes that migration 017's per-state list indexes replaced:
-- no statement reads them any more (every list reads a tokens_list_* index,
-- the expiry sweep tokens_idle_due and tokens_absolute_due), and each
-- token written wrote an entry into each (at a million tokens, about 100 MB
-- on either engine). tokens_by_name stays: SQLite's search of names by
-- their first letters reads it.
DROP INDEX tokens_by_created;
DROP INDEX tokens_by_last_used;
DROP INDEX tokens_by_expiry;
