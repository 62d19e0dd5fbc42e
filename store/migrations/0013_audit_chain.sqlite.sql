-- See 0013_audit_chain.pg.sql for the chain's columns, its head and why
-- rows from before it have no hash.

ALTER TABLE audit_log ADD COLUMN prev_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_log ADD COLUMN hash TEXT NOT NULL DEFAULT '';

CREATE TRIGGER audit_log_chained BEFORE INSERT ON audit_log
WHEN length(NEW.hash) <> 64 OR length(NEW.prev_hash) NOT IN (0, 64)
BEGIN SELECT RAISE(ABORT, 'audit_log rows are appended through the chain'); END;

CREATE TABLE audit_chain (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    genesis_id BIGINT NOT NULL,
    last_id    BIGINT NOT NULL,
    last_hash  TEXT NOT NULL
);
INSERT INTO audit_chain (id, genesis_id, last_id, last_hash)
SELECT 1, COALESCE(MAX(id), 0), COALESCE(MAX(id), 0), '' FROM audit_log;

CREATE TRIGGER audit_chain_forward BEFORE UPDATE ON audit_chain
WHEN NEW.id <> OLD.id OR NEW.genesis_id <> OLD.genesis_id OR NEW.last_id <= OLD.last_id
BEGIN SELECT RAISE(ABORT, 'audit_chain only moves forward'); END;
CREATE TRIGGER audit_chain_no_delete BEFORE DELETE ON audit_chain
BEGIN SELECT RAISE(ABORT, 'audit_chain only moves forward'); END;
