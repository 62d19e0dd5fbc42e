-- API credentials say what they are for, and may be revoked at a future
-- time (the overlap of a rotation).
ALTER TABLE merchant_credentials ADD COLUMN label TEXT NOT NULL DEFAULT '';
