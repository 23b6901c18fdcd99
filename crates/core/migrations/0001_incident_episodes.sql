-- Incident memory: one row per episode of an anomaly (kind + subject) of a
-- fleet, from when it was first seen until it cleared. Times are RFC 3339 UTC
-- with milliseconds ('2026-12-02T07:21:06.123Z'), so text order is time order.
CREATE TABLE incident_episodes (
    id            INTEGER PRIMARY KEY,
    fleet         TEXT NOT NULL,
    kind          TEXT NOT NULL,               -- AnomalyKind, snake_case
    subject       TEXT NOT NULL,               -- Subject as canonical JSON
    severity      TEXT NOT NULL,               -- the worst seen in the episode
    first_seen    TEXT NOT NULL,
    last_seen     TEXT NOT NULL,
    cleared_at    TEXT,                        -- NULL while open
    first_message TEXT NOT NULL,
    last_message  TEXT NOT NULL,
    peak          TEXT NOT NULL DEFAULT '{}'   -- JSON object: figure name -> worst value
);

-- At most one open episode per anomaly: two consoles watching one fleet share it.
CREATE UNIQUE INDEX incident_episodes_one_open
    ON incident_episodes (fleet, kind, subject) WHERE cleared_at IS NULL;
CREATE INDEX incident_episodes_by_fleet ON incident_episodes (fleet, first_seen);
