-- Core tables. Types are chosen so that one text serves PostgreSQL and
-- SQLite: SQLite takes TIMESTAMPTZ, JSONB and BOOLEAN as type names and
-- keeps what bun writes (ISO text, JSON text, 0/1).

CREATE TABLE merchants (
    id                   TEXT PRIMARY KEY,
    name                 TEXT NOT NULL,
    disabled             BOOLEAN NOT NULL DEFAULT FALSE,
    notification_url     TEXT NOT NULL DEFAULT '',
    notification_format  TEXT NOT NULL DEFAULT 'soap',
    return_url_prefixes  JSONB NOT NULL DEFAULT '[]',
    allow_localhost_http BOOLEAN NOT NULL DEFAULT FALSE,
    created_at           TIMESTAMPTZ NOT NULL,
    updated_at           TIMESTAMPTZ NOT NULL
);

CREATE TABLE merchant_credentials (
    id          TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    secret_hash TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    revoked_at  TIMESTAMPTZ
);
CREATE INDEX merchant_credentials_merchant ON merchant_credentials (merchant_id);

CREATE TABLE payments (
    id                 TEXT PRIMARY KEY,
    merchant_id        TEXT NOT NULL REFERENCES merchants (id),
    merchant_reference TEXT NOT NULL,
    kind               TEXT NOT NULL CHECK (kind IN ('deposit', 'withdrawal')),
    amount             BIGINT NOT NULL CHECK (amount > 0),
    currency           TEXT NOT NULL,
    captured           BIGINT NOT NULL DEFAULT 0 CHECK (captured >= 0 AND captured <= amount),
    refunded           BIGINT NOT NULL DEFAULT 0 CHECK (refunded >= 0 AND refunded <= captured),
    state              TEXT NOT NULL,
    method             TEXT NOT NULL DEFAULT '',
    provider           TEXT NOT NULL DEFAULT '',
    provider_reference TEXT NOT NULL DEFAULT '',
    card_brand         TEXT NOT NULL DEFAULT '',
    card_bin           TEXT NOT NULL DEFAULT '',
    card_last4         TEXT NOT NULL DEFAULT '',
    card_expiry_month  INTEGER NOT NULL DEFAULT 0,
    card_expiry_year   INTEGER NOT NULL DEFAULT 0,
    card_fingerprint   TEXT NOT NULL DEFAULT '',
    end_user_id        TEXT NOT NULL DEFAULT '',
    end_user_email     TEXT NOT NULL DEFAULT '',
    end_user_country   TEXT NOT NULL DEFAULT '',
    end_user_ip        TEXT NOT NULL DEFAULT '',
    end_user_language  TEXT NOT NULL DEFAULT '',
    created_at         TIMESTAMPTZ NOT NULL,
    updated_at         TIMESTAMPTZ NOT NULL,
    expires_at         TIMESTAMPTZ,
    version            BIGINT NOT NULL CHECK (version >= 1),
    UNIQUE (merchant_id, merchant_reference)
);
CREATE INDEX payments_merchant_created ON payments (merchant_id, created_at);
CREATE INDEX payments_state ON payments (state);
CREATE INDEX payments_card_fingerprint ON payments (card_fingerprint);

CREATE TABLE payment_events (
    id          TEXT PRIMARY KEY,
    payment_id  TEXT NOT NULL REFERENCES payments (id),
    merchant_id TEXT NOT NULL,
    seq         BIGINT NOT NULL CHECK (seq >= 1),
    from_state  TEXT NOT NULL DEFAULT '',
    to_state    TEXT NOT NULL,
    amount      BIGINT NOT NULL DEFAULT 0,
    reason      TEXT NOT NULL DEFAULT '',
    source      TEXT NOT NULL,
    occurred_at TIMESTAMPTZ NOT NULL,
    UNIQUE (payment_id, seq)
);

CREATE TABLE decisions (
    id              TEXT PRIMARY KEY,
    point           TEXT NOT NULL,
    merchant_id     TEXT NOT NULL DEFAULT '',
    payment_id      TEXT NOT NULL DEFAULT '',
    bundle_revision TEXT NOT NULL DEFAULT '',
    bundle_hash     TEXT NOT NULL DEFAULT '',
    input           JSONB NOT NULL,
    output          JSONB NOT NULL,
    rules_fired     JSONB NOT NULL,
    duration_us     BIGINT NOT NULL DEFAULT 0,
    created_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX decisions_payment ON decisions (payment_id, created_at);
CREATE INDEX decisions_created ON decisions (created_at);

CREATE TABLE admin_users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    roles         JSONB NOT NULL DEFAULT '[]',
    disabled      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    TIMESTAMPTZ NOT NULL
);
