package store

import (
	"context"
	"slices"
	"time"

	"github.com/uptrace/bun"

	"github.com/paywire/paywire"
)

type followUpRow struct {
	bun.BaseModel `bun:"table:follow_ups"`

	ID          int64     `bun:"id,pk,autoincrement"`
	PaymentID   string    `bun:"payment_id"`
	MerchantID  string    `bun:"merchant_id"`
	Kind        string    `bun:"kind"`
	AttemptID   string    `bun:"attempt_id"`
	DueAt       time.Time `bun:"due_at"`
	Status      string    `bun:"status"`
	Attempts    int       `bun:"attempts"`
	LockedUntil time.Time `bun:"locked_until,nullzero"`
	LockedBy    string    `bun:"locked_by"`
	LastError   string    `bun:"last_error"`
	CreatedAt   time.Time `bun:"created_at"`
	DoneAt      time.Time `bun:"done_at,nullzero"`
}

func (r *followUpRow) followUp() paywire.FollowUp {
	return paywire.FollowUp{
		ID: r.ID, PaymentID: r.PaymentID, MerchantID: r.MerchantID, Kind: paywire.FollowUpKind(r.Kind),
		AttemptID: r.AttemptID, DueAt: r.DueAt.UTC(), Status: r.Status, Attempts: r.Attempts,
		LastError: r.LastError, CreatedAt: r.CreatedAt.UTC(),
	}
}

// ClaimFollowUps implements paywire.FollowUpStore, as ClaimOutbox claims
// messages: SKIP LOCKED on PostgreSQL, SQLite's serial write transactions.
func (db *DB) ClaimFollowUps(ctx context.Context, worker string, now time.Time, lease time.Duration, limit int) ([]paywire.FollowUp, error) {
	const op = "store/DB.ClaimFollowUps"
	if worker == "" || lease <= 0 || limit <= 0 {
		return nil, &paywire.Error{Op: op, Code: paywire.EINVALID, Message: "a claim needs a worker, a lease and a limit"}
	}
	now = utc(now)
	lock := ""
	if db.dialect == Postgres {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	var rows []followUpRow
	err := db.inTx(ctx, func(tx bun.Tx) error {
		return tx.NewRaw(`UPDATE follow_ups SET locked_by = ?, locked_until = ?, attempts = attempts + 1
			WHERE id IN (SELECT id FROM follow_ups
				WHERE status = ? AND due_at <= ? AND (locked_until IS NULL OR locked_until < ?)
				ORDER BY due_at, id LIMIT ?`+lock+`)
			RETURNING *`,
			worker, now.Add(lease), paywire.FollowUpPending, now, now, limit).Scan(ctx, &rows)
	})
	if err != nil {
		return nil, classify(op, err, "")
	}
	out := make([]paywire.FollowUp, len(rows))
	for i := range rows {
		out[i] = rows[i].followUp()
	}
	slices.SortFunc(out, func(a, b paywire.FollowUp) int {
		if c := a.DueAt.Compare(b.DueAt); c != 0 {
			return c
		}
		return int(a.ID - b.ID)
	})
	return out, nil
}

// RetryFollowUp implements paywire.FollowUpStore.
func (db *DB) RetryFollowUp(ctx context.Context, id int64, worker string, next time.Time, lastError string, failed bool) error {
	status := paywire.FollowUpPending
	if failed {
		status = paywire.FollowUpFailed
	}
	if len(lastError) > 500 {
		lastError = lastError[:500]
	}
	res, err := db.bun.NewUpdate().Model((*followUpRow)(nil)).
		Set("status = ?", status).Set("due_at = ?", utc(next)).Set("last_error = ?", lastError).
		Set("locked_by = ''").Set("locked_until = NULL").
		Where("id = ? AND locked_by = ? AND status = ?", id, worker, paywire.FollowUpPending).
		Exec(ctx)
	return leaseHeld("store/DB.RetryFollowUp", res, err)
}

// FollowUps implements paywire.FollowUpStore.
func (db *DB) FollowUps(ctx context.Context, merchantID, paymentID string) ([]paywire.FollowUp, error) {
	var rows []followUpRow
	if err := db.bun.NewSelect().Model(&rows).Where("merchant_id = ? AND payment_id = ?", merchantID, paymentID).
		Order("created_at", "id").Scan(ctx); err != nil {
		return nil, classify("store/DB.FollowUps", err, "")
	}
	out := make([]paywire.FollowUp, len(rows))
	for i := range rows {
		out[i] = rows[i].followUp()
	}
	return out, nil
}

// FollowUpBacklog implements paywire.FollowUpStore.
func (db *DB) FollowUpBacklog(ctx context.Context, now time.Time) (int, error) {
	n, err := db.bun.NewSelect().Model((*followUpRow)(nil)).
		Where("status = ? AND due_at <= ?", paywire.FollowUpPending, utc(now)).Count(ctx)
	return int(n), classify("store/DB.FollowUpBacklog", err, "")
}
