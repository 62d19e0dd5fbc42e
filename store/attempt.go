package store

import (
	"context"
	"time"

	"github.com/uptrace/bun"

	"github.com/paywire/paywire"
)

type attemptRow struct {
	bun.BaseModel `bun:"table:payment_attempts"`

	ID             string    `bun:"id,pk"`
	PaymentID      string    `bun:"payment_id"`
	MerchantID     string    `bun:"merchant_id"`
	N              int       `bun:"n"`
	Provider       string    `bun:"provider"`
	IdempotencyKey string    `bun:"idempotency_key"`
	Reference      string    `bun:"reference"`
	Status         string    `bun:"status"`
	Code           string    `bun:"code"`
	CreatedAt      time.Time `bun:"created_at"`
	UpdatedAt      time.Time `bun:"updated_at"`
}

func (r *attemptRow) attempt() paywire.Attempt {
	return paywire.Attempt{
		ID: r.ID, PaymentID: r.PaymentID, MerchantID: r.MerchantID, N: r.N, Provider: r.Provider,
		IdempotencyKey: r.IdempotencyKey, Reference: r.Reference, Status: r.Status, Code: r.Code,
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
}

type providerEventRow struct {
	bun.BaseModel `bun:"table:provider_events"`

	Provider   string    `bun:"provider,pk"`
	EventID    string    `bun:"event_id,pk"`
	ReceivedAt time.Time `bun:"received_at"`
}

// AddAttempt implements paywire.AttemptStore.
func (db *DB) AddAttempt(ctx context.Context, a *paywire.Attempt) error {
	const op = "store/DB.AddAttempt"
	if a.ID == "" {
		a.ID = paywire.NewID("att_")
	}
	now := db.now()
	a.CreatedAt, a.UpdatedAt = now, now
	if a.Status == "" {
		a.Status = "started"
	}
	row := &attemptRow{ID: a.ID, PaymentID: a.PaymentID, MerchantID: a.MerchantID, N: a.N, Provider: a.Provider,
		IdempotencyKey: a.IdempotencyKey, Reference: a.Reference, Status: a.Status, Code: a.Code, CreatedAt: now, UpdatedAt: now}
	_, err := db.bun.NewInsert().Model(row).Exec(ctx)
	return classify(op, err, "the payment has this attempt already")
}

// UpdateAttempt implements paywire.AttemptStore.
func (db *DB) UpdateAttempt(ctx context.Context, a *paywire.Attempt) error {
	const op = "store/DB.UpdateAttempt"
	a.UpdatedAt = db.now()
	res, err := db.bun.NewUpdate().Model((*attemptRow)(nil)).
		Set("reference = ?", a.Reference).Set("status = ?", a.Status).Set("code = ?", a.Code).
		Set("updated_at = ?", a.UpdatedAt).
		Where("id = ?", a.ID).Exec(ctx)
	if err != nil {
		return classify(op, err, "")
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return &paywire.Error{Op: op, Code: paywire.ENOTFOUND, Message: "attempt not found"}
	}
	return nil
}

func (db *DB) oneAttempt(ctx context.Context, op string, where string, args ...any) (*paywire.Attempt, error) {
	row := new(attemptRow)
	if err := db.bun.NewSelect().Model(row).Where(where, args...).Limit(1).Scan(ctx); err != nil {
		return nil, notFound(op, err, "attempt not found")
	}
	a := row.attempt()
	return &a, nil
}

// Attempt implements paywire.AttemptStore.
func (db *DB) Attempt(ctx context.Context, id string) (*paywire.Attempt, error) {
	return db.oneAttempt(ctx, "store/DB.Attempt", "id = ?", id)
}

// AttemptByReference implements paywire.AttemptStore.
func (db *DB) AttemptByReference(ctx context.Context, provider, reference string) (*paywire.Attempt, error) {
	if reference == "" {
		return nil, paywire.Errorf(paywire.ENOTFOUND, "attempt not found")
	}
	return db.oneAttempt(ctx, "store/DB.AttemptByReference", "provider = ? AND reference = ?", provider, reference)
}

// Attempts implements paywire.AttemptStore.
func (db *DB) Attempts(ctx context.Context, merchantID, paymentID string) ([]paywire.Attempt, error) {
	const op = "store/DB.Attempts"
	var rows []attemptRow
	if err := db.bun.NewSelect().Model(&rows).Where("merchant_id = ? AND payment_id = ?", merchantID, paymentID).
		OrderExpr("n").Scan(ctx); err != nil {
		return nil, classify(op, err, "")
	}
	out := make([]paywire.Attempt, len(rows))
	for i := range rows {
		out[i] = rows[i].attempt()
	}
	return out, nil
}

// SeenProviderEvent implements paywire.AttemptStore.
func (db *DB) SeenProviderEvent(ctx context.Context, provider, eventID string) (bool, error) {
	const op = "store/DB.SeenProviderEvent"
	res, err := db.bun.NewInsert().Model(&providerEventRow{Provider: provider, EventID: eventID, ReceivedAt: db.now()}).
		On("CONFLICT DO NOTHING").Exec(ctx)
	if err != nil {
		return false, classify(op, err, "")
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}
