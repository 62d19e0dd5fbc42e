package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/uptrace/bun"

	"github.com/paywire/paywire"
)

type reviewAssignmentRow struct {
	bun.BaseModel `bun:"table:review_assignments"`

	PaymentID  string    `bun:"payment_id,pk"`
	MerchantID string    `bun:"merchant_id"`
	Assignee   string    `bun:"assignee"`
	AssignedAt time.Time `bun:"assigned_at"`
}

// AssignReview hands the merchant's payment held for review to assignee (a
// back-office username) and returns who had it before, "" for nobody.
// Returns EINVALID for an empty assignee, ENOTFOUND for a payment the
// merchant does not have. Whether the payment is still in review is the
// caller's question: the store keeps the assignment only.
func (db *DB) AssignReview(ctx context.Context, merchantID, paymentID, assignee string) (previous string, err error) {
	const op = "store/DB.AssignReview"
	if assignee == "" || len(assignee) > 128 {
		return "", &paywire.Error{Op: op, Code: paywire.EINVALID, Message: "an assignee is 1 to 128 characters"}
	}
	now := db.now()
	err = db.inTx(ctx, func(tx bun.Tx) error {
		n, err := tx.NewSelect().Table("payments").Where("id = ? AND merchant_id = ?", paymentID, merchantID).Count(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			return &paywire.Error{Op: op, Code: paywire.ENOTFOUND, Message: "payment not found"}
		}
		var old reviewAssignmentRow
		q := tx.NewSelect().Model(&old).Where("payment_id = ?", paymentID)
		if db.dialect == Postgres {
			q = q.For("UPDATE")
		}
		switch err := q.Scan(ctx); {
		case err == nil:
			previous = old.Assignee
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		_, err = tx.NewInsert().
			Model(&reviewAssignmentRow{PaymentID: paymentID, MerchantID: merchantID, Assignee: assignee, AssignedAt: now}).
			On("CONFLICT (payment_id) DO UPDATE").
			Set("assignee = EXCLUDED.assignee").Set("assigned_at = EXCLUDED.assigned_at").
			Exec(ctx)
		return err
	})
	if err != nil {
		return "", classify(op, err, "")
	}
	return previous, nil
}

// ReviewAssignees returns the assignee of each of the payments that has
// one, by payment id.
func (db *DB) ReviewAssignees(ctx context.Context, paymentIDs []string) (map[string]string, error) {
	out := make(map[string]string, len(paymentIDs))
	if len(paymentIDs) == 0 {
		return out, nil
	}
	var rows []reviewAssignmentRow
	err := db.bun.NewSelect().Model(&rows).Where("payment_id IN (?)", bun.In(paymentIDs)).Scan(ctx)
	if err != nil {
		return nil, classify("store/DB.ReviewAssignees", err, "")
	}
	for _, r := range rows {
		out[r.PaymentID] = r.Assignee
	}
	return out, nil
}
