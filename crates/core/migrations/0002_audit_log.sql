-- Audit log of guarded actions: one row per finished, refused or failed
-- action, chained by hash. `hash` is SHA-256 over the row's canonical bytes,
-- computed in Rust (crates/core/src/store/audit.rs says how), never by SQLite;
-- `prev_hash` is the previous row's `hash`, 64 zeros for the first. Times are
-- RFC 3339 UTC with milliseconds, as in incident_episodes.
CREATE TABLE audit_log (
    seq        INTEGER NOT NULL CHECK (seq >= 1),  -- 1, 2, 3, ... with no gaps
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL,
    fleet      TEXT NOT NULL,
    action     TEXT NOT NULL,                      -- 'switchover', 'failover', 'index_create', ...
    targets    TEXT NOT NULL,                      -- JSON array of node / index names
    os_user    TEXT NOT NULL,
    operator   TEXT NOT NULL,                      -- the name the operator gave (may equal os_user)
    started_at TEXT NOT NULL,
    ended_at   TEXT NOT NULL,
    outcome    TEXT NOT NULL,                      -- 'done', 'refused', 'rolled_back', ...
    body       TEXT NOT NULL                       -- canonical JSON: plan, checks, overrides, steps, verification
);

-- Two consoles that read the same head cannot both write its successor: the
-- second insert fails instead of forking the chain.
CREATE UNIQUE INDEX audit_log_seq ON audit_log (seq);
CREATE INDEX audit_log_by_fleet ON audit_log (fleet, seq);

-- The last record's seq and hash, advanced in the transaction that appends.
-- Without it, removing the newest rows would leave a shorter chain that still
-- verifies. Seeded with the genesis (seq 0, 64 zeros) so it always exists.
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),       -- one row
    seq  INTEGER NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash)
    VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

-- Append-only in SQL too. These stop mistakes and other programs, not someone
-- who holds the file (they can drop the triggers); the chain is what exposes
-- that, see audit.rs.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only: a record cannot be changed');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only: a record cannot be removed');
END;
-- A row may only extend the chain at the head.
CREATE TRIGGER audit_log_extends_the_head BEFORE INSERT ON audit_log
WHEN NEW.seq IS NOT (SELECT seq + 1 FROM audit_head WHERE id = 1)
  OR NEW.prev_hash IS NOT (SELECT hash FROM audit_head WHERE id = 1)
BEGIN
    SELECT RAISE(ABORT, 'audit_log: a record must follow the head (seq = head + 1, prev_hash = the head''s hash)');
END;
-- The head only moves forward by one, onto the record just appended.
CREATE TRIGGER audit_head_advances_by_one BEFORE UPDATE ON audit_head
WHEN NEW.id IS NOT OLD.id
  OR NEW.seq IS NOT OLD.seq + 1
  OR NEW.hash IS NOT (SELECT hash FROM audit_log WHERE seq = NEW.seq)
BEGIN
    SELECT RAISE(ABORT, 'audit_head only advances by one, to the record just appended');
END;
CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head
BEGIN
    SELECT RAISE(ABORT, 'audit_head cannot be removed');
END;
