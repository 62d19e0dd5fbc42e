-- Provider health (store.HealthTallies, store.SetProviderState).
--
-- A provider call that takes a payment records how it ended (answered,
-- refused, error) and how long it took, once, when it returns: a status
-- query that later settles the attempt changes its status, not these.
-- Attempts from before have neither and are not counted.
ALTER TABLE payment_attempts ADD COLUMN call_outcome TEXT;
ALTER TABLE payment_attempts ADD COLUMN latency_ms BIGINT;
-- The health check reads the calls of a recent window.
CREATE INDEX payment_attempts_created ON payment_attempts (created_at);

-- The health state of each provider with each method: one row once a
-- provider was first demoted, moved by compare-and-set on version (the
-- first node to see a breach or a recovery writes the transition, with
-- its audit entry in the same transaction), read by every node.
CREATE TABLE provider_health (
    provider       TEXT NOT NULL,
    method         TEXT NOT NULL,
    state          TEXT NOT NULL CHECK (state IN ('healthy', 'demoted')),
    since          TIMESTAMPTZ NOT NULL,
    version        BIGINT NOT NULL CHECK (version >= 1),
    calls          BIGINT NOT NULL,
    errors         BIGINT NOT NULL,
    error_rate     DOUBLE PRECISION,
    approval_rate  DOUBLE PRECISION,
    latency_p95_ms BIGINT,
    reason         TEXT NOT NULL,
    PRIMARY KEY (provider, method)
);

-- The transitions' history is the audit log's provider.demote and
-- provider.restore entries.
CREATE INDEX audit_log_action ON audit_log (action, id);
