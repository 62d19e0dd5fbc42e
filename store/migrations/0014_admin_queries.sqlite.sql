-- See 0014_admin_queries.pg.sql for why the routing arm is kept on the
-- payment and what each index is for; this file differs in the trigger
-- and the backfill only.
ALTER TABLE payments ADD COLUMN routing_experiment TEXT NOT NULL DEFAULT '';
ALTER TABLE payments ADD COLUMN routing_arm TEXT NOT NULL DEFAULT '';
UPDATE payments
   SET routing_experiment = COALESCE((SELECT d.output->>'experiment' FROM decisions d
                                       WHERE d.payment_id = payments.id AND d.point = 'routing'
                                       ORDER BY d.created_at DESC, d.id DESC LIMIT 1), ''),
       routing_arm = COALESCE((SELECT d.output->>'arm' FROM decisions d
                                WHERE d.payment_id = payments.id AND d.point = 'routing'
                                ORDER BY d.created_at DESC, d.id DESC LIMIT 1), '')
 WHERE id IN (SELECT payment_id FROM decisions WHERE point = 'routing');

CREATE TRIGGER decisions_routing_arm AFTER INSERT ON decisions
    WHEN NEW.point = 'routing' AND NEW.payment_id <> ''
BEGIN
    UPDATE payments
       SET routing_experiment = COALESCE(NEW.output->>'experiment', ''), routing_arm = COALESCE(NEW.output->>'arm', '')
     WHERE id = NEW.payment_id;
END;

CREATE INDEX payments_created ON payments (created_at, id, state, currency, amount, method, provider, routing_experiment, routing_arm);
DROP INDEX payments_merchant_created;
CREATE INDEX payments_merchant_created ON payments (merchant_id, created_at, id, state, currency, amount, method, provider, routing_experiment, routing_arm);
CREATE INDEX payments_merchant_state_created ON payments (merchant_id, state, created_at, id);
CREATE INDEX payments_state_created ON payments (state, created_at, id);
CREATE INDEX payments_merchant_reference ON payments (merchant_reference);
CREATE INDEX payments_card_last4 ON payments (card_last4, created_at) WHERE card_last4 <> '';
