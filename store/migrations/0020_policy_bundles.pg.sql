-- Policy bundles governed in the database (issue 14). A revision is taken
-- from policy_registry.last_revision, so it increases and is never reused,
-- even when the push that took it failed. The archive and its hash are
-- written once; only the life-cycle columns change, by compare-and-set on
-- state. policy_registry's one row also names the active revision (0:
-- none, the binary's built-in bundle runs) and is locked by every
-- activation, so activations are serial; the partial unique index keeps
-- a second active revision out whatever happens.
CREATE TABLE policy_registry (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    last_revision   BIGINT NOT NULL,
    active_revision BIGINT NOT NULL,
    activations     BIGINT NOT NULL
);
INSERT INTO policy_registry (id, last_revision, active_revision, activations) VALUES (1, 0, 0, 0);

CREATE TABLE policy_bundles (
    revision     BIGINT PRIMARY KEY,
    hash         TEXT NOT NULL,
    archive      BYTEA NOT NULL,
    signature    BYTEA,
    author       TEXT NOT NULL,
    message      TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('draft', 'submitted', 'approved', 'active', 'retired', 'rejected')),
    created_at   TIMESTAMPTZ NOT NULL,
    submitted_at TIMESTAMPTZ,
    approved_by  TEXT NOT NULL DEFAULT '',
    approved_at  TIMESTAMPTZ,
    activated_by TEXT NOT NULL DEFAULT '',
    activated_at TIMESTAMPTZ,
    retired_at   TIMESTAMPTZ,
    rejected_by  TEXT NOT NULL DEFAULT '',
    rejected_at  TIMESTAMPTZ,
    reject_reason TEXT NOT NULL DEFAULT '',
    CHECK (approved_by = '' OR approved_by <> author),
    CHECK (rejected_by = '' OR rejected_by <> author)
);
CREATE UNIQUE INDEX policy_bundles_one_active ON policy_bundles (state) WHERE state = 'active';

-- Which revision was active from when until when (NULL: still), who made
-- it so and how (activate, rollback with its reason).
CREATE TABLE policy_bundle_activations (
    seq          BIGINT PRIMARY KEY,
    revision     BIGINT NOT NULL REFERENCES policy_bundles (revision),
    kind         TEXT NOT NULL CHECK (kind IN ('activate', 'rollback')),
    actor        TEXT NOT NULL,
    reason       TEXT NOT NULL,
    active_from  TIMESTAMPTZ NOT NULL,
    active_until TIMESTAMPTZ
);
