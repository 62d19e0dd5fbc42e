-- Provider attempts of payments, provider events seen (for deduplicating
-- webhooks), and the secret merchants verify signed result parameters and
-- notifications with.

CREATE TABLE payment_attempts (
    id              TEXT PRIMARY KEY,
    payment_id      TEXT NOT NULL REFERENCES payments (id),
    merchant_id     TEXT NOT NULL,
    n               INTEGER NOT NULL CHECK (n >= 1),
    provider        TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    reference       TEXT NOT NULL DEFAULT '',
    status          TEXT NOT NULL,
    code            TEXT NOT NULL DEFAULT '',
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    UNIQUE (payment_id, n),
    UNIQUE (provider, idempotency_key)
);
CREATE INDEX payment_attempts_reference ON payment_attempts (provider, reference);

CREATE TABLE provider_events (
    provider    TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    received_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (provider, event_id)
);

ALTER TABLE merchants ADD COLUMN signing_secret TEXT NOT NULL DEFAULT '';
