-- Shadow evaluation of a candidate policy bundle (issue 14). A row of
-- policy_shadows is one period during which a submitted or approved
-- revision was decided beside the active one on every node; the running
-- one has state 'running' (at most one, the partial unique index keeps a
-- second out) and every node polls it. Starting and stopping lock
-- policy_registry's row, so they are serial with activations, and an
-- activation of the candidate stops it in its own transaction.
-- The disagreements need an increasing id (identity columns are spelled
-- differently): hence one file per dialect.
CREATE TABLE policy_shadows (
    id          BIGINT PRIMARY KEY,
    revision    BIGINT NOT NULL REFERENCES policy_bundles (revision),
    state       TEXT NOT NULL CHECK (state IN ('running', 'stopped')),
    started_by  TEXT NOT NULL,
    started_at  TIMESTAMPTZ NOT NULL,
    stopped_by  TEXT NOT NULL DEFAULT '',
    stopped_at  TIMESTAMPTZ,
    stop_reason TEXT NOT NULL DEFAULT '',
    CHECK ((state = 'running') = (stopped_at IS NULL))
);
CREATE UNIQUE INDEX policy_shadows_one_running ON policy_shadows (state) WHERE state = 'running';

-- How many live decisions of a point the candidate agreed with, disagreed
-- with, could not decide, or a node dropped (its queue was full): nodes
-- add their batches to these rows.
CREATE TABLE policy_shadow_counts (
    shadow_id BIGINT NOT NULL REFERENCES policy_shadows (id),
    point     TEXT NOT NULL,
    result    TEXT NOT NULL CHECK (result IN ('agree', 'disagree', 'error', 'dropped')),
    n         BIGINT NOT NULL,
    PRIMARY KEY (shadow_id, point, result)
);

-- Each live decision the candidate decided otherwise.
CREATE TABLE policy_shadow_disagreements (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    shadow_id       BIGINT NOT NULL REFERENCES policy_shadows (id),
    decision_id     TEXT NOT NULL,
    payment_id      TEXT NOT NULL,
    merchant_id     TEXT NOT NULL,
    point           TEXT NOT NULL,
    live_revision   TEXT NOT NULL,
    live_outcome    TEXT NOT NULL,
    shadow_revision TEXT NOT NULL,
    shadow_outcome  TEXT NOT NULL,
    at              TIMESTAMPTZ NOT NULL
);
CREATE INDEX policy_shadow_disagreements_by_shadow ON policy_shadow_disagreements (shadow_id, id);
