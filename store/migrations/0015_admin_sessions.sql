-- Back-office sessions live in the database, so that any node serves them
-- and a sign-out or a disabled user ends them everywhere at once. The
-- session token itself is never stored: id_hash is its SHA-256.
CREATE TABLE admin_sessions (
    id_hash               TEXT PRIMARY KEY,
    user_id               TEXT NOT NULL REFERENCES admin_users (id),
    csrf_token            TEXT NOT NULL,
    second_factor_pending BOOLEAN NOT NULL DEFAULT FALSE,
    created_at            TIMESTAMPTZ NOT NULL,
    last_seen_at          TIMESTAMPTZ NOT NULL,
    expires_at            TIMESTAMPTZ NOT NULL
);
CREATE INDEX admin_sessions_user ON admin_sessions (user_id);
CREATE INDEX admin_sessions_expiry ON admin_sessions (expires_at);

-- An optional TOTP second factor (RFC 6238): the base32 secret, empty for
-- none.
ALTER TABLE admin_users ADD COLUMN totp_secret TEXT NOT NULL DEFAULT '';
