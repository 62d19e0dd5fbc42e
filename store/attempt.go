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
	Operation      string    `bun:"operation"`
	Provider       string    `bun:"provider"`
	Amount         int64     `bun:"amount"`
	IdempotencyKey string    `bun:"idempotency_key"`
	Reference      string    `bun:"reference"`
	Status         string    `bun:"status"`
	Code           string    `bun:"code"`
	CallOutcome    string    `bun:"call_outcome,nullzero"`
	LatencyMS      *int64    `bun:"latency_ms"`
	CreatedAt      time.Time `bun:"created_at"`
	UpdatedAt      time.Time `bun:"updated_at"`
}

func toAttemptRow(a *paywire.Attempt, now time.Time) *attemptRow {
	if a.CreatedAt.IsZero() {
		a.CreatedAt = now
	}
	a.UpdatedAt = now
	row := &attemptRow{ID: a.ID, PaymentID: a.PaymentID, MerchantID: a.MerchantID, N: a.N, Operation: string(a.Operation),
		Provider: a.Provider, Amount: a.Amount, IdempotencyKey: a.IdempotencyKey, Reference: a.Reference,
		Status: string(a.Status), Code: a.Code, CallOutcome: string(a.Call), CreatedAt: utc(a.CreatedAt), UpdatedAt: now}
	if a.Call != "" {
		ms := max(0, a.Latency.Milliseconds())
		row.LatencyMS = &ms
	}
	return row
}

func (r *attemptRow) attempt() paywire.Attempt {
	a := paywire.Attempt{
		ID: r.ID, PaymentID: r.PaymentID, MerchantID: r.MerchantID, N: r.N, Operation: paywire.Operation(r.Operation),
		Provider: r.Provider, Amount: r.Amount, IdempotencyKey: r.IdempotencyKey, Reference: r.Reference,
		Status: paywire.AttemptStatus(r.Status), Code: r.Code, Call: paywire.CallOutcome(r.CallOutcome),
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
	if r.LatencyMS != nil && a.Call != "" {
		a.Latency = time.Duration(*r.LatencyMS) * time.Millisecond
	}
	return a
}

type providerEventRow struct {
	bun.BaseModel `bun:"table:provider_events"`

	Provider   string    `bun:"provider,pk"`
	EventID    string    `bun:"event_id,pk"`
	PaymentID  string    `bun:"payment_id"`
	ReceivedAt time.Time `bun:"received_at"`
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
	return db.oneAttempt(ctx, "store/DB.AttemptByReference", "provider = ? AND reference = ? AND operation IN (?)",
		provider, reference, bun.In([]string{string(paywire.OpAuthorize), string(paywire.OpPay)}))
}

// Attempts implements paywire.AttemptStore.
func (db *DB) Attempts(ctx context.Context, merchantID, paymentID string) ([]paywire.Attempt, error) {
	const op = "store/DB.Attempts"
	var rows []attemptRow
	if err := db.scanPrepared(ctx, db.reads.attempts, &rows, merchantID, paymentID); err != nil {
		return nil, classify(op, err, "")
	}
	out := make([]paywire.Attempt, len(rows))
	for i := range rows {
		out[i] = rows[i].attempt()
	}
	return out, nil
}

// ProviderEventSeen implements paywire.AttemptStore.
func (db *DB) ProviderEventSeen(ctx context.Context, provider, eventID string) (bool, error) {
	n, err := db.bun.NewSelect().Model((*providerEventRow)(nil)).
		Where("provider = ? AND event_id = ?", provider, eventID).Count(ctx)
	if err != nil {
		return false, classify("store/DB.ProviderEventSeen", err, "")
	}
	return n > 0, nil
}
