-- A routing experiment's results (store.ExperimentTallies) read the
-- payments of one experiment by creation time: only payments routed in an
-- experiment are indexed.
CREATE INDEX payments_experiment ON payments (routing_experiment, created_at) WHERE routing_experiment <> '';
