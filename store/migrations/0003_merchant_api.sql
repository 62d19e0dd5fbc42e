-- What a merchant gives when a payment starts, and the idempotency keys of
-- the merchant API.

ALTER TABLE payments ADD COLUMN return_urls JSONB NOT NULL DEFAULT '{}';
ALTER TABLE payments ADD COLUMN notification_url TEXT NOT NULL DEFAULT '';
ALTER TABLE payments ADD COLUMN preselected_method TEXT NOT NULL DEFAULT '';

-- One row per merchant and key: claimed (result NULL) while the first
-- request executes, then holding its result for replays.
CREATE TABLE idempotency_keys (
    merchant_id  TEXT NOT NULL REFERENCES merchants (id),
    key          TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    result       TEXT,
    claimed_at   TIMESTAMPTZ NOT NULL,
    completed_at TIMESTAMPTZ,
    PRIMARY KEY (merchant_id, key)
);
CREATE INDEX idempotency_keys_claimed ON idempotency_keys (claimed_at);
