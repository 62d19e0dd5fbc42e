-- The risk decision a payment was submitted with, and the merchant's
-- auto-capture setting, which the workflow decision reads.
ALTER TABLE payments ADD COLUMN risk_score INTEGER NOT NULL DEFAULT 0;
ALTER TABLE payments ADD COLUMN risk_action TEXT NOT NULL DEFAULT '';
ALTER TABLE merchants ADD COLUMN auto_capture BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE merchants ADD COLUMN auto_capture_max_score INTEGER NOT NULL DEFAULT 0;
