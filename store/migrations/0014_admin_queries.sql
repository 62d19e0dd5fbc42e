-- The back office's payment list and reports (store/search.go,
-- store/report.go). The list pages by keyset on (created_at, id), newest
-- first, so each index the list reads ends with created_at and id: the
-- database walks it backwards from the cursor and stops after one page,
-- whatever the page number.
--
-- All merchants by date, and one merchant by date (replacing the index
-- on merchant_id and created_at alone, which it extends).
CREATE INDEX payments_created ON payments (created_at, id);
DROP INDEX payments_merchant_created;
CREATE INDEX payments_merchant_created ON payments (merchant_id, created_at, id);
-- One state by date, of one merchant or of all.
CREATE INDEX payments_merchant_state_created ON payments (merchant_id, state, created_at, id);
CREATE INDEX payments_state_created ON payments (state, created_at, id);
-- Search lookups. A payment id is the primary key, and an e-mail address
-- is looked up by end_user_email_key (lower case, trimmed) in
-- payments_email_features (0009). A merchant reference of one merchant is
-- unique (merchant_id, merchant_reference); this finds it among all.
CREATE INDEX payments_merchant_reference ON payments (merchant_reference);
CREATE INDEX payments_card_last4 ON payments (card_last4, created_at) WHERE card_last4 <> '';
-- The routing arm of a payment is read from its latest routing decision.
CREATE INDEX decisions_routing ON decisions (payment_id, created_at, id) WHERE point = 'routing';
