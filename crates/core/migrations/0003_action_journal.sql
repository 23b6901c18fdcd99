-- The action journal: every guarded action (switchover, failover, index
-- builds, recoveries) as one run row, and each of its steps written before it
-- runs and again when it ends, so a console that dies mid-action leaves a
-- record the next console (desktop or CLI) reads back as "interrupted".
-- Times are RFC 3339 UTC with milliseconds, like incident_episodes.
CREATE TABLE action_runs (
    id          INTEGER PRIMARY KEY,
    fleet       TEXT NOT NULL,
    kind        TEXT NOT NULL,                 -- switchover, failover, recovery, ...
    targets     TEXT NOT NULL,                 -- JSON array of names
    operator    TEXT NOT NULL,
    os_user     TEXT NOT NULL,
    host        TEXT NOT NULL,                 -- the machine of the console that runs it
    pid         INTEGER NOT NULL,              -- and its process: a dead pid means interrupted
    started_at  TEXT NOT NULL,
    ended_at    TEXT,                          -- NULL while running (or interrupted)
    state       TEXT NOT NULL,                 -- running, done, refused, rolled_back, needs_attention, recovered
    message     TEXT NOT NULL DEFAULT '',      -- the outcome, in words, with the fleet's state
    plan        TEXT NOT NULL DEFAULT '{}',    -- JSON Plan
    checks      TEXT NOT NULL DEFAULT '[]',    -- JSON array of Check
    context     TEXT NOT NULL DEFAULT '{}',    -- JSON: what recovery needs (nodes, poolers, settings before)
    recovered_by INTEGER REFERENCES action_runs (id)
);
CREATE INDEX action_runs_open ON action_runs (fleet) WHERE ended_at IS NULL;

CREATE TABLE action_steps (
    run_id      INTEGER NOT NULL REFERENCES action_runs (id),
    seq         INTEGER NOT NULL,
    step        TEXT NOT NULL,                 -- stable id, e.g. pause:pgb0, promote:pg1
    title       TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    ended_at    TEXT,                          -- NULL: started and never ended
    outcome     TEXT,                          -- ok, failed
    ms          REAL,
    message     TEXT,
    PRIMARY KEY (run_id, seq)
);

-- Nodes FleetDeck fenced (a former primary after a switchover, a lost primary
-- after a failover): shown as "needs rejoin" and never as a healthy primary,
-- across restarts of the console and of the node.
CREATE TABLE fences (
    id          INTEGER PRIMARY KEY,
    fleet       TEXT NOT NULL,
    node        TEXT NOT NULL,
    since       TEXT NOT NULL,
    run_id      INTEGER REFERENCES action_runs (id),
    reason      TEXT NOT NULL,
    lifted_at   TEXT
);
CREATE UNIQUE INDEX fences_one_open ON fences (fleet, node) WHERE lifted_at IS NULL;

-- The last WAL position each fleet's primary was seen at (one row per fleet,
-- replaced on every refresh that saw a primary): what a failover compares its
-- candidates with to state the possible loss once the primary is gone.
CREATE TABLE primary_positions (
    fleet       TEXT PRIMARY KEY,
    node        TEXT NOT NULL,
    lsn         TEXT NOT NULL,
    timeline    INTEGER,
    seen_at     TEXT NOT NULL
);
