-- Workflow settings of a merchant: how long after the authorization an
-- auto-capture happens (0: at once), and how long a payment waits in
-- review before it expires (0: as long as its authorization lasts).
ALTER TABLE merchants ADD COLUMN capture_delay_seconds BIGINT NOT NULL DEFAULT 0;
ALTER TABLE merchants ADD COLUMN review_ttl_seconds BIGINT NOT NULL DEFAULT 0;
