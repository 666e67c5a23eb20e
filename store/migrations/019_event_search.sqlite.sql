-- System log search, version 19 (SQLite). Reading a token's history and
-- searching the log's text were full scans of the largest table (target_ids
-- LIKE '%,id,%', LOWER(data) LIKE '%q%'); these are their indexes.

-- One row per target of an event: a target's events, newest first, are a
-- range of the primary key. Written with the event, deleted with it.
CREATE TABLE event_targets (
    target_id TEXT NOT NULL,
    seq       BIGINT NOT NULL,
    PRIMARY KEY (target_id, seq)
) WITHOUT ROWID;

-- Filled from target_ids (",id1,id2,"), in key order so that the table is
-- written front to back.
INSERT OR IGNORE INTO event_targets (target_id, seq)
WITH RECURSIVE split(seq, rest, id) AS (
    SELECT seq, substr(target_ids, 2), '' FROM events WHERE target_ids <> ''
    UNION ALL
    SELECT seq, substr(rest, instr(rest, ',') + 1), substr(rest, 1, instr(rest, ',') - 1)
    FROM split WHERE rest <> ''
)
SELECT id, seq FROM split WHERE id <> '' ORDER BY id, seq;

-- Each event's keysmith.EventSearchText under its seq (the rowid), indexed
-- by its three-character pieces. Contentless (the text is not stored twice)
-- and detail=none (no positions: the index says which events hold every
-- piece of the query; the store checks the substring itself).
CREATE VIRTUAL TABLE event_search USING fts5(
    doc, content='', contentless_delete=1, detail=none,
    tokenize='trigram case_sensitive 1'
);
-- Pruning deletes the oldest events' rows, 100 a transaction. By default
-- FTS5 rewrites a whole segment once a tenth of its rows are deleted: at a
-- million events, segments of hundreds of MB, rewritten inside a pruning
-- transaction, held every other write for 0.3-5 s. The deleted rows stay
-- as tombstones until the segment is merged as usual.
INSERT INTO event_search (event_search, rank) VALUES ('deletemerge', 0);

-- The events recorded before this version are indexed at start, newest
-- first, from the highest seq not yet indexed (see fillEventSearch); the
-- row is gone once all are.
CREATE TABLE event_search_fill (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    through BIGINT NOT NULL
);
INSERT INTO event_search_fill (id, through) SELECT 1, MAX(seq) FROM events HAVING MAX(seq) IS NOT NULL;
