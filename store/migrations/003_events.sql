-- System log, version 3. Columns copied from each event's canonical JSON so
-- that the log can be searched by target and outcome (the chain walk checks
-- that they agree with the JSON); the anchor that pruning leaves; and the mark
-- on tokens whose expiry has been recorded.

-- ",id1,id2," of the event's targets; NULL until filled from data at start.
ALTER TABLE events ADD COLUMN target_ids TEXT;
ALTER TABLE events ADD COLUMN outcome TEXT;
CREATE INDEX events_by_time ON events (time, seq);

-- One row at most: the seq and hash of the last pruned event, from which the
-- remaining chain is verified.
CREATE TABLE event_anchor (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    seq       BIGINT NOT NULL,
    hash      TEXT NOT NULL,
    pruned_at BIGINT NOT NULL
);

-- When api_token.expired was recorded for the token, so it is recorded once.
ALTER TABLE tokens ADD COLUMN expiry_recorded_at BIGINT;
CREATE INDEX tokens_by_expiry ON tokens (expires_at);

-- Keeps the fill at start cheap on a large log: only unfilled rows are indexed.
CREATE INDEX events_unfilled ON events (seq) WHERE target_ids IS NULL OR outcome IS NULL;
