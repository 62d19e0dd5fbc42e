-- The back office's payment list and reports (store/search.go,
-- store/report.go). One file per dialect for the trigger; the indexes are
-- the same in 0014_admin_queries.sqlite.sql.
--
-- The routing experiment and arm of a payment, as its latest routing
-- decision says (decisions.output's "experiment" and "arm"), kept on the
-- payment so that a report groups by them as cheaply as by method: read
-- from the decisions, a month of payments at 1M took seconds (one lookup
-- and one JSON field per payment). The engine records a routing decision
-- after the payment it routes is stored; the trigger copies the arm onto
-- the payment when the decision is inserted, so the decision that was
-- inserted last wins. Payments written before this migration get theirs
-- from the decisions already recorded.
ALTER TABLE payments ADD COLUMN routing_experiment TEXT NOT NULL DEFAULT '';
ALTER TABLE payments ADD COLUMN routing_arm TEXT NOT NULL DEFAULT '';
UPDATE payments p SET routing_experiment = d.experiment, routing_arm = d.arm
    FROM (SELECT DISTINCT ON (payment_id) payment_id,
                 COALESCE(output->>'experiment', '') AS experiment, COALESCE(output->>'arm', '') AS arm
            FROM decisions WHERE point = 'routing' AND payment_id <> ''
           ORDER BY payment_id, created_at DESC, id DESC) d
    WHERE p.id = d.payment_id;

CREATE FUNCTION paywire_routing_arm() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE payments
       SET routing_experiment = COALESCE(NEW.output->>'experiment', ''), routing_arm = COALESCE(NEW.output->>'arm', '')
     WHERE id = NEW.payment_id;
    RETURN NULL;
END;
$$;
CREATE TRIGGER decisions_routing_arm AFTER INSERT ON decisions
    FOR EACH ROW WHEN (NEW.point = 'routing' AND NEW.payment_id <> '') EXECUTE FUNCTION paywire_routing_arm();

-- The list pages by keyset on (created_at, id), newest first, so each
-- index the list reads has created_at and id after its equality columns:
-- the database walks it backwards from the cursor and stops after one
-- page, whatever the page number. The two date indexes also hold every
-- column a report reads after the period (state, currency, amount and the
-- grouping columns), so that a report is an index-only scan of the period
-- rather than a read of the table.
--
-- All merchants by date, and one merchant by date (replacing the index on
-- merchant_id and created_at alone, which it extends).
CREATE INDEX payments_created ON payments (created_at, id, state, currency, amount, method, provider, routing_experiment, routing_arm);
DROP INDEX payments_merchant_created;
CREATE INDEX payments_merchant_created ON payments (merchant_id, created_at, id, state, currency, amount, method, provider, routing_experiment, routing_arm);
-- One state by date, of one merchant or of all.
CREATE INDEX payments_merchant_state_created ON payments (merchant_id, state, created_at, id);
CREATE INDEX payments_state_created ON payments (state, created_at, id);
-- Search lookups. A payment id is the primary key, and an e-mail address
-- is looked up by end_user_email_key (lower case, trimmed) in
-- payments_email_features (0009). A merchant reference of one merchant is
-- unique (merchant_id, merchant_reference); this finds it among all.
CREATE INDEX payments_merchant_reference ON payments (merchant_reference);
CREATE INDEX payments_card_last4 ON payments (card_last4, created_at) WHERE card_last4 <> '';
