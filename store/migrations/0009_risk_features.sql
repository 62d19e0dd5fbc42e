-- Risk features: the end user's optional facts, and the indexes the
-- feature queries (store/features.go) read the payment history by.
ALTER TABLE payments ADD COLUMN end_user_device_id TEXT NOT NULL DEFAULT '';
ALTER TABLE payments ADD COLUMN end_user_billing_country TEXT NOT NULL DEFAULT '';
ALTER TABLE payments ADD COLUMN end_user_registered_at TIMESTAMPTZ;
-- The e-mail address as features compare it: trimmed, lower case.
ALTER TABLE payments ADD COLUMN end_user_email_key TEXT NOT NULL DEFAULT '';
UPDATE payments SET end_user_email_key = lower(trim(end_user_email));

-- Each feature index holds every column its query reads after the key
-- and time (state, risk action, currency, amount, the card for the
-- distinct cards of an e-mail or IP, the id that excludes the payment
-- decided), so that a key with hundreds of recent payments is counted from
-- the index alone (PostgreSQL's index-only scan, SQLite's covering index)
-- instead of one table row each. As key columns, not INCLUDE, which SQLite
-- does not have.
DROP INDEX payments_card_fingerprint;
CREATE INDEX payments_card_features ON payments (card_fingerprint, created_at, state, risk_action, currency, amount, id) WHERE card_fingerprint <> '';
CREATE INDEX payments_email_features ON payments (end_user_email_key, created_at, state, risk_action, currency, amount, card_fingerprint, id) WHERE end_user_email_key <> '';
CREATE INDEX payments_ip_features ON payments (end_user_ip, created_at, state, risk_action, currency, amount, card_fingerprint, id) WHERE end_user_ip <> '';
CREATE INDEX payments_device_features ON payments (end_user_device_id, created_at, state, risk_action, currency, amount, id) WHERE end_user_device_id <> '';
CREATE INDEX payments_customer_features ON payments (merchant_id, end_user_id, created_at, state, risk_action, currency, amount, id) WHERE end_user_id <> '';
