-- The text of new events is indexed after their commit, in the background
-- (IndexNewEvents in store/eventsearch.go), no longer in the transaction
-- that appends them. event_search_head holds the highest seq whose text is
-- indexed so far; searches read the events above it themselves. Every
-- event until now was indexed as it was appended (or is the fill's, at or
-- below event_search_fill's seq).
CREATE TABLE event_search_head (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    through BIGINT NOT NULL
);
INSERT INTO event_search_head (id, through) SELECT 1, COALESCE(MAX(seq), 0) FROM events;
