-- payments_state (state, updated_at) serves no query: every read that
-- filters on state orders by created_at and uses payments_state_created
-- or payments_merchant_state_created (0014), and nothing reads payments
-- by updated_at. Every payment written and every move of one (a
-- non-HOT update, as state is indexed) still paid for an entry in it.
DROP INDEX IF EXISTS payments_state;
