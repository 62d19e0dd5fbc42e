-- Block and allow lists kept in the database: policies see the entries in
-- effect as data (engine.ListSet) without a new bundle. Removing an entry
-- deletes its row; the audit log keeps what it was.
CREATE TABLE risk_list_entries (
    id         TEXT PRIMARY KEY,
    list       TEXT NOT NULL,
    type       TEXT NOT NULL,
    value      TEXT NOT NULL,
    reason     TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ
);
CREATE UNIQUE INDEX risk_list_entries_value ON risk_list_entries (list, value);

-- One row whose version every change to the lists moves, in the change's
-- transaction: nodes poll it and reload the lists only when it moved.
CREATE TABLE risk_lists_version (
    id      INTEGER PRIMARY KEY,
    version BIGINT NOT NULL
);
INSERT INTO risk_lists_version (id, version) VALUES (1, 0);
