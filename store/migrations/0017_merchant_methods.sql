-- The payment methods a merchant has turned off (a JSON array of method
-- names): never offered to its end users, whatever the policies say.
ALTER TABLE merchants ADD COLUMN disabled_methods TEXT NOT NULL DEFAULT '[]';
