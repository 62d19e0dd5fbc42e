package store

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"time"

	"github.com/uptrace/bun"

	"github.com/paywire/paywire"
)

func messages(rows []outboxRow) []paywire.OutboxMessage {
	out := make([]paywire.OutboxMessage, len(rows))
	for i := range rows {
		out[i] = rows[i].message()
	}
	return out
}

// utc truncates a time as the store keeps times: UTC, microseconds.
func utc(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// claimedRow is an outbox row as a claim returns it.
type claimedRow struct {
	outboxRow              `bun:",extend"`
	PaymentNotificationURL string `bun:"payment_notification_url"`
}

// ClaimOutbox implements paywire.OutboxStore.
func (db *DB) ClaimOutbox(ctx context.Context, worker string, now time.Time, lease time.Duration, limit int) ([]paywire.OutboxMessage, error) {
	const op = "store/DB.ClaimOutbox"
	if worker == "" || lease <= 0 || limit <= 0 {
		return nil, &paywire.Error{Op: op, Code: paywire.EINVALID, Message: "a claim needs a worker, a lease and a limit"}
	}
	now = utc(now)
	// The subquery picks due rows; on PostgreSQL SKIP LOCKED lets workers
	// on other nodes pick others meanwhile. SQLite's write transactions
	// are serial (BEGIN IMMEDIATE), which makes the claim atomic there.
	lock := ""
	if db.dialect == Postgres {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	// Each message comes with its payment's own notification URL.
	var rows []claimedRow
	err := db.inTx(ctx, func(tx bun.Tx) error {
		return tx.NewRaw(`UPDATE outbox SET locked_by = ?, locked_until = ?, attempts = attempts + 1
			WHERE id IN (SELECT id FROM outbox
				WHERE status = ? AND next_attempt_at <= ? AND (locked_until IS NULL OR locked_until < ?)
				ORDER BY id LIMIT ?`+lock+`)
			RETURNING *, (SELECT notification_url FROM payments WHERE payments.id = outbox.payment_id) AS payment_notification_url`,
			worker, now.Add(lease), paywire.OutboxPending, now, now, limit).Scan(ctx, &rows)
	})
	if err != nil {
		return nil, classify(op, err, "")
	}
	out := make([]paywire.OutboxMessage, len(rows))
	for i := range rows {
		out[i] = rows[i].message()
		out[i].PaymentNotificationURL = rows[i].PaymentNotificationURL
	}
	// RETURNING gives no order; deliver oldest first.
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].ID < out[j-1].ID; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out, nil
}

// DeliveredOutbox implements paywire.OutboxStore.
func (db *DB) DeliveredOutbox(ctx context.Context, ids []int64, worker string, at time.Time) ([]int64, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var held []int64
	err := db.bun.NewUpdate().Model((*outboxRow)(nil)).
		Set("status = ?", paywire.OutboxDelivered).Set("delivered_at = ?", utc(at)).
		Set("locked_by = ''").Set("locked_until = NULL").Set("last_error = ''").
		Where("id IN (?) AND locked_by = ? AND status = ?", bun.In(ids), worker, paywire.OutboxPending).
		Returning("id").Scan(ctx, &held)
	if err != nil && !errors.Is(err, sql.ErrNoRows) { // none held
		return nil, classify("store/DB.DeliveredOutbox", err, "")
	}
	var lost []int64
	for _, id := range ids {
		if !slices.Contains(held, id) {
			lost = append(lost, id)
		}
	}
	return lost, nil
}

// FailedOutbox implements paywire.OutboxStore.
func (db *DB) FailedOutbox(ctx context.Context, id int64, worker string, lastError string, next time.Time, dead bool) error {
	status := paywire.OutboxPending
	if dead {
		status = paywire.OutboxDead
	}
	if len(lastError) > 500 {
		lastError = lastError[:500]
	}
	res, err := db.bun.NewUpdate().Model((*outboxRow)(nil)).
		Set("status = ?", status).Set("next_attempt_at = ?", utc(next)).Set("last_error = ?", lastError).
		Set("locked_by = ''").Set("locked_until = NULL").
		Where("id = ? AND locked_by = ? AND status = ?", id, worker, paywire.OutboxPending).
		Exec(ctx)
	return leaseHeld("store/DB.FailedOutbox", res, err)
}

// NoEndpointOutbox implements paywire.OutboxStore.
func (db *DB) NoEndpointOutbox(ctx context.Context, id int64, worker string, lastError string) error {
	if len(lastError) > 500 {
		lastError = lastError[:500]
	}
	res, err := db.bun.NewUpdate().Model((*outboxRow)(nil)).
		Set("status = ?", paywire.OutboxNoEndpoint).Set("last_error = ?", lastError).
		Set("locked_by = ''").Set("locked_until = NULL").
		Where("id = ? AND locked_by = ? AND status = ?", id, worker, paywire.OutboxPending).
		Exec(ctx)
	return leaseHeld("store/DB.NoEndpointOutbox", res, err)
}

func leaseHeld(op string, res interface{ RowsAffected() (int64, error) }, err error) error {
	if err != nil {
		return classify(op, err, "")
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return &paywire.Error{Op: op, Code: paywire.ECONFLICT, Message: "the worker no longer holds this message"}
	}
	return nil
}

// UndeliveredOutbox implements paywire.OutboxStore.
func (db *DB) UndeliveredOutbox(ctx context.Context, merchantID string, since time.Time, limit int) ([]paywire.OutboxMessage, error) {
	var rows []outboxRow
	err := db.bun.NewSelect().Model(&rows).
		Where("merchant_id = ? AND created_at >= ?", merchantID, utc(since)).
		Where("(status = ? AND attempts > 0) OR status IN (?, ?)", paywire.OutboxPending, paywire.OutboxDead, paywire.OutboxNoEndpoint).
		OrderExpr("id DESC").Limit(int64(limit)).Scan(ctx)
	if err != nil {
		return nil, classify("store/DB.UndeliveredOutbox", err, "")
	}
	return messages(rows), nil
}

// ResendOutbox implements paywire.OutboxStore.
func (db *DB) ResendOutbox(ctx context.Context, merchantID string, id int64, now time.Time) error {
	const op = "store/DB.ResendOutbox"
	res, err := db.bun.NewUpdate().Model((*outboxRow)(nil)).
		Set("status = ?", paywire.OutboxPending).Set("next_attempt_at = ?", utc(now)).
		Set("locked_by = ''").Set("locked_until = NULL").
		Where("id = ? AND merchant_id = ?", id, merchantID).
		Exec(ctx)
	if err != nil {
		return classify(op, err, "")
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return &paywire.Error{Op: op, Code: paywire.ENOTFOUND, Message: "no such notification"}
	}
	return nil
}

// OldestUndelivered implements paywire.OutboxStore.
func (db *DB) OldestUndelivered(ctx context.Context) (time.Time, error) {
	var row outboxRow
	err := db.bun.NewSelect().Model(&row).Column("id", "created_at").
		Where("status = ?", paywire.OutboxPending).OrderExpr("id").Limit(1).Scan(ctx)
	if err != nil {
		if paywire.ErrorCode(classify("", err, "")) == paywire.ENOTFOUND {
			return time.Time{}, nil
		}
		return time.Time{}, classify("store/DB.OldestUndelivered", err, "")
	}
	return row.CreatedAt.UTC(), nil
}
