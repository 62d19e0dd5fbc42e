-- The pending notifications in the order they were written. Nearly every
-- row of outbox is delivered; the worker's claim (due pending messages,
-- oldest first, a batch at a time) and its gauge of the oldest undelivered
-- message read only the pending ones, and without this index read past
-- the delivered ones, or sort every due message to take a batch — 5 to
-- 8 ms a claim with a backlog of ten thousand, paid on every round.
CREATE INDEX outbox_pending ON outbox (id) WHERE status = 'pending';
