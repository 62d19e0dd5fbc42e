-- While a merchant's signing secret rotates, notifications carry a
-- signature under the previous secret too.
ALTER TABLE merchants ADD COLUMN previous_signing_secret TEXT NOT NULL DEFAULT '';
