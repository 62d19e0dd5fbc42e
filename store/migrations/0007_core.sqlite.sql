-- The payment core: follow-ups (whatever must happen later is a row,
-- written in the transaction that makes it due and claimed by a worker on
-- every node), provider attempts for every operation with their amount,
-- the event type of each history row, chargebacks with their amount, the
-- merchant's authorization expiry, and the payment a seen provider event
-- was applied to. One file per dialect for the identity column.

CREATE TABLE follow_ups (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    payment_id   TEXT NOT NULL REFERENCES payments (id),
    merchant_id  TEXT NOT NULL,
    kind         TEXT NOT NULL,
    attempt_id   TEXT NOT NULL DEFAULT '',
    due_at       TIMESTAMPTZ NOT NULL,
    status       TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'failed')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    locked_until TIMESTAMPTZ,
    locked_by    TEXT NOT NULL DEFAULT '',
    last_error   TEXT NOT NULL DEFAULT '',
    created_at   TIMESTAMPTZ NOT NULL,
    done_at      TIMESTAMPTZ
);
CREATE INDEX follow_ups_due ON follow_ups (status, due_at);
CREATE INDEX follow_ups_payment ON follow_ups (payment_id);

ALTER TABLE payments ADD COLUMN charged_back BIGINT NOT NULL DEFAULT 0;
ALTER TABLE payments ADD COLUMN source_payment_id TEXT NOT NULL DEFAULT '';
ALTER TABLE payment_events ADD COLUMN type TEXT NOT NULL DEFAULT '';
ALTER TABLE payment_attempts ADD COLUMN operation TEXT NOT NULL DEFAULT 'authorize';
ALTER TABLE payment_attempts ADD COLUMN amount BIGINT NOT NULL DEFAULT 0;
ALTER TABLE provider_events ADD COLUMN payment_id TEXT NOT NULL DEFAULT '';
ALTER TABLE merchants ADD COLUMN authorization_ttl_seconds BIGINT NOT NULL DEFAULT 604800;
DROP INDEX payments_state;
CREATE INDEX payments_state ON payments (state, updated_at);

-- Payments completed in one step before captures were always recorded
-- (sales: bank redirects, e-wallets, backend payments) have it recorded
-- now, so that refunds and chargebacks are measured against it.
UPDATE payments SET captured = amount
    WHERE captured = 0 AND state IN ('completed', 'partially_refunded', 'refunded', 'charged_back');
