-- A notification for a merchant without a notification URL (neither the
-- payment's own nor the account's) is kept as 'no_endpoint': no worker
-- claims or retries it, and a resend makes it pending once the merchant
-- has a URL. One file per dialect: SQLite cannot change a CHECK constraint
-- but by rebuilding the table (0026_outbox_no_endpoint.sqlite.sql).
ALTER TABLE outbox DROP CONSTRAINT outbox_status_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_status_check
    CHECK (status IN ('pending', 'delivered', 'dead', 'no_endpoint'));
