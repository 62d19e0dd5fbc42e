-- Who in the back office took on a payment held for review. One row per
-- payment: assigning again hands it to another person. The row outlives
-- the review as a record of who had it; the decision itself is in the
-- payment's events and the audit log.
CREATE TABLE review_assignments (
    payment_id  TEXT PRIMARY KEY REFERENCES payments (id),
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    assignee    TEXT NOT NULL,
    assigned_at TIMESTAMPTZ NOT NULL
);
