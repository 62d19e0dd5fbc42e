-- Withdrawal approvals: how many people must approve each withdrawal of a
-- merchant before it is paid out (0, 1 or 2), and who approved a payment
-- held for review. Seq numbers a payment's approvals from 1: two people
-- approving at once cannot both be the first, and nobody approves the same
-- payment twice.
ALTER TABLE merchants ADD COLUMN withdrawal_approvals INTEGER NOT NULL DEFAULT 0;

CREATE TABLE review_approvals (
    payment_id  TEXT NOT NULL REFERENCES payments (id),
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    seq         INTEGER NOT NULL,
    approver    TEXT NOT NULL,
    reason      TEXT NOT NULL,
    approved_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (payment_id, seq),
    UNIQUE (payment_id, approver)
);
