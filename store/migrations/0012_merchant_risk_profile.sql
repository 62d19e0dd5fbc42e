-- A merchant's risk profile: the name of one of the active bundle's
-- profiles (data.paywire.risk_profiles); empty for the bundle's default.
ALTER TABLE merchants ADD COLUMN risk_profile TEXT NOT NULL DEFAULT '';
