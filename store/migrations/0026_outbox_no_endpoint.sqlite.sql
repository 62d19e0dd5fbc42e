-- See 0026_outbox_no_endpoint.pg.sql. SQLite changes a CHECK constraint by
-- rebuilding the table: the same columns, the wider check, every row with
-- its id (AUTOINCREMENT continues after the highest), the same index.
CREATE TABLE outbox_rebuilt (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id        TEXT NOT NULL UNIQUE REFERENCES payment_events (id),
    merchant_id     TEXT NOT NULL,
    payment_id      TEXT NOT NULL,
    seq             BIGINT NOT NULL,
    payload         JSONB NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'dead', 'no_endpoint')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    locked_until    TIMESTAMPTZ,
    locked_by       TEXT NOT NULL DEFAULT '',
    last_error      TEXT NOT NULL DEFAULT '',
    created_at      TIMESTAMPTZ NOT NULL,
    delivered_at    TIMESTAMPTZ
);
INSERT INTO outbox_rebuilt (id, event_id, merchant_id, payment_id, seq, payload, status, attempts,
                            next_attempt_at, locked_until, locked_by, last_error, created_at, delivered_at)
    SELECT id, event_id, merchant_id, payment_id, seq, payload, status, attempts,
           next_attempt_at, locked_until, locked_by, last_error, created_at, delivered_at
      FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_rebuilt RENAME TO outbox;
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
