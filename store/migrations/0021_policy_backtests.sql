-- Backtests of candidate policy bundles (issue 14): a job is a row, claimed
-- by a worker on any node with a lease (lease_owner until lease_expires)
-- and advanced batch by batch; each batch moves the cursor (the last
-- decision replayed, by created_at and id), the count done and the partial
-- report in one compare-and-set on lease_owner and done, so that a worker
-- that lost its lease writes nothing and a batch is never counted twice.
CREATE TABLE policy_backtests (
    id            TEXT PRIMARY KEY,
    revision      BIGINT NOT NULL REFERENCES policy_bundles (revision),
    created_by    TEXT NOT NULL,
    window_from   TIMESTAMPTZ NOT NULL,
    window_to     TIMESTAMPTZ NOT NULL,
    points        TEXT NOT NULL DEFAULT '',
    merchant_id   TEXT NOT NULL DEFAULT '',
    state         TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed')),
    total         BIGINT NOT NULL,
    done          BIGINT NOT NULL DEFAULT 0,
    cursor_at     TIMESTAMPTZ,
    cursor_id     TEXT NOT NULL DEFAULT '',
    lease_owner   TEXT NOT NULL DEFAULT '',
    lease_expires TIMESTAMPTZ,
    report        TEXT NOT NULL DEFAULT '{}',
    error         TEXT NOT NULL DEFAULT '',
    created_at    TIMESTAMPTZ NOT NULL,
    started_at    TIMESTAMPTZ,
    finished_at   TIMESTAMPTZ,
    CHECK (window_from < window_to)
);
CREATE INDEX policy_backtests_due ON policy_backtests (state, created_at);

-- Decisions are read in (created_at, id) order, from a cursor.
DROP INDEX decisions_created;
CREATE INDEX decisions_created ON decisions (created_at, id);
