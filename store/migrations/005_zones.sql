-- Network zones, each token's network policy and rate-limit share, and
-- server-wide settings (the rate limits).

CREATE TABLE zones (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    gateways   TEXT NOT NULL,             -- JSON array of CIDR strings, masked
    proxies    TEXT NOT NULL,             -- JSON array of CIDR strings, masked
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

ALTER TABLE tokens ADD COLUMN network_mode TEXT NOT NULL DEFAULT 'any';
ALTER TABLE tokens ADD COLUMN rate_limit_percent INTEGER NOT NULL DEFAULT 50;

-- The zones of an in_zones or not_in_zones policy. The foreign key keeps a
-- zone from vanishing under a token that names it.
CREATE TABLE token_zones (
    token_id TEXT NOT NULL REFERENCES tokens (id),
    zone_id  TEXT NOT NULL REFERENCES zones (id),
    PRIMARY KEY (token_id, zone_id)
);
CREATE INDEX token_zones_by_zone ON token_zones (zone_id, token_id);

-- One row per setting; value is JSON.
CREATE TABLE settings (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by TEXT NOT NULL
);
