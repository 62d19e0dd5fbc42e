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

type approvalRow struct {
	bun.BaseModel `bun:"table:review_approvals"`

	PaymentID  string    `bun:"payment_id,pk"`
	Seq        int       `bun:"seq,pk"`
	MerchantID string    `bun:"merchant_id"`
	Approver   string    `bun:"approver"`
	Reason     string    `bun:"reason"`
	ApprovedAt time.Time `bun:"approved_at"`
}

// Approvals implements paywire.PaymentStore. Approvals are written with
// the change they lead to (paywire.StateChange.Approval).
func (db *DB) Approvals(ctx context.Context, merchantID, paymentID string) ([]paywire.Approval, error) {
	const op = "store/DB.Approvals"
	var rows []approvalRow
	if err := db.bun.NewSelect().Model(&rows).Where("payment_id = ? AND merchant_id = ?", paymentID, merchantID).
		Order("seq").Scan(ctx); err != nil {
		return nil, classify(op, err, "")
	}
	out := make([]paywire.Approval, len(rows))
	for i, r := range rows {
		out[i] = paywire.Approval{PaymentID: r.PaymentID, MerchantID: r.MerchantID, Seq: r.Seq,
			Approver: paywire.Actor(r.Approver), Reason: r.Reason, At: r.ApprovedAt.UTC()}
	}
	return out, nil
}

// ApprovalsOf returns the approvals of several payments, by payment id
// (for the review queue).
func (db *DB) ApprovalsOf(ctx context.Context, paymentIDs []string) (map[string][]paywire.Approval, error) {
	const op = "store/DB.ApprovalsOf"
	out := map[string][]paywire.Approval{}
	if len(paymentIDs) == 0 {
		return out, nil
	}
	var rows []approvalRow
	if err := db.bun.NewSelect().Model(&rows).Where("payment_id IN (?)", bun.In(paymentIDs)).
		Order("payment_id", "seq").Scan(ctx); err != nil {
		return nil, classify(op, err, "")
	}
	for _, r := range rows {
		out[r.PaymentID] = append(out[r.PaymentID], paywire.Approval{PaymentID: r.PaymentID, MerchantID: r.MerchantID,
			Seq: r.Seq, Approver: paywire.Actor(r.Approver), Reason: r.Reason, At: r.ApprovedAt.UTC()})
	}
	return out, nil
}
