-- System log search, version 19 (PostgreSQL). Reading a token's history and
-- searching the log's text were full scans of the largest table (target_ids
-- LIKE '%,id,%', LOWER(data) LIKE '%q%'); these are their indexes.

-- One row per target of an event: a target's events, newest first, are a
-- range of the primary key. Written with the event, deleted with it.
CREATE TABLE event_targets (
    target_id TEXT NOT NULL,
    seq       BIGINT NOT NULL
);

-- Filled from target_ids (",id1,id2,"); the key is built once, after.
INSERT INTO event_targets (target_id, seq)
SELECT DISTINCT t.id, e.seq
FROM events e, unnest(string_to_array(trim(BOTH ',' FROM e.target_ids), ',')) AS t(id)
WHERE e.target_ids <> '' AND t.id <> '';
ALTER TABLE event_targets ADD PRIMARY KEY (target_id, seq);

-- Each event's keysmith.EventSearchText under its seq, indexed by its
-- three-character pieces (pg_trgm), so that LIKE '%q%' reads the index.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE TABLE event_search (
    seq BIGINT PRIMARY KEY,
    doc TEXT NOT NULL
);
-- Grown as the fill adds older events' text (in the background: a GIN
-- index built at once would lock out writes of events for minutes).
CREATE INDEX event_search_doc ON event_search USING gin (doc gin_trgm_ops);

-- The events recorded before this version are indexed at start, newest
-- first, from the highest seq not yet indexed (see fillEventSearch); the
-- row is gone once all are.
CREATE TABLE event_search_fill (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    through BIGINT NOT NULL
);
INSERT INTO event_search_fill (id, through) SELECT 1, MAX(seq) FROM events HAVING MAX(seq) IS NOT NULL;
