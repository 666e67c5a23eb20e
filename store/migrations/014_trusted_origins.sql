-- Trusted origins (issue 19): the web origins whose pages may call the API
-- from a browser (CORS), each normalised as browsers send it.
CREATE TABLE trusted_origins (
    id         TEXT PRIMARY KEY,
    origin     TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

-- One row whose lock serialises additions, so that the count checked
-- against the bound cannot be passed by replicas adding at once.
CREATE TABLE trusted_origins_lock (
    id INTEGER PRIMARY KEY
);
INSERT INTO trusted_origins_lock (id) VALUES (1);
