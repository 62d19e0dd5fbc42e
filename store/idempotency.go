package store

import (
	"context"
	"time"

	"github.com/uptrace/bun"

	"github.com/paywire/paywire"
)

// IdempotencyLease is how long a claimed key stays claimed without a
// result. A request that claims a key (a capture, cancel or refund) makes
// one provider call, bounded by the provider timeout; a claim older than
// this belongs to a process that died, and a retry takes it over (its
// provider call carries the same key as the dead one's, so nothing moves
// twice). Requests that create payments claim nothing: their answer is
// stored with the payment.
const IdempotencyLease = 45 * time.Second

type idempotencyRow struct {
	bun.BaseModel `bun:"table:idempotency_keys"`

	MerchantID  string    `bun:"merchant_id,pk"`
	Key         string    `bun:"key,pk"`
	RequestHash string    `bun:"request_hash"`
	Result      *string   `bun:"result"`
	ClaimedAt   time.Time `bun:"claimed_at"`
	CompletedAt time.Time `bun:"completed_at,nullzero"`
}

// ClaimIdempotencyKey implements paywire.IdempotencyStore.
func (db *DB) ClaimIdempotencyKey(ctx context.Context, merchantID, key, requestHash string) ([]byte, error) {
	const op = "store/DB.ClaimIdempotencyKey"
	now := db.now()
	var result []byte
	err := db.inTx(ctx, func(tx bun.Tx) error {
		res, err := tx.NewInsert().
			Model(&idempotencyRow{MerchantID: merchantID, Key: key, RequestHash: requestHash, ClaimedAt: now}).
			On("CONFLICT DO NOTHING").
			Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			return nil // ours: execute
		}
		var row idempotencyRow
		q := tx.NewSelect().Model(&row).Where("merchant_id = ? AND key = ?", merchantID, key)
		if db.dialect == Postgres {
			q = q.For("UPDATE")
		}
		if err := q.Scan(ctx); err != nil {
			return err
		}
		switch {
		case row.RequestHash != requestHash:
			return paywire.Errorf(paywire.EIDEMPOTENCY, "this idempotency key was used with a different request")
		case row.Result != nil:
			result = []byte(*row.Result)
			return nil
		case now.Sub(row.ClaimedAt) < IdempotencyLease:
			return paywire.Errorf(paywire.EINPROGRESS, "a request with this idempotency key is still in progress; retry later")
		}
		// The claimant died: take the claim over.
		_, err = tx.NewUpdate().Model((*idempotencyRow)(nil)).
			Set("claimed_at = ?", now).
			Where("merchant_id = ? AND key = ? AND result IS NULL", merchantID, key).
			Exec(ctx)
		return err
	})
	if err != nil {
		return nil, classify(op, err, "")
	}
	return result, nil
}

// SaveIdempotentResult implements paywire.IdempotencyStore.
func (db *DB) SaveIdempotentResult(ctx context.Context, merchantID, key string, result []byte) error {
	const op = "store/DB.SaveIdempotentResult"
	text := string(result)
	res, err := db.bun.NewUpdate().Model((*idempotencyRow)(nil)).
		Set("result = ?", text).
		Set("completed_at = ?", db.now()).
		Where("merchant_id = ? AND key = ? AND result IS NULL", merchantID, key).
		Exec(ctx)
	if err != nil {
		return classify(op, err, "")
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return &paywire.Error{Op: op, Code: paywire.ENOTFOUND, Message: "no claim on this idempotency key"}
	}
	return nil
}

// ReleaseIdempotencyKey implements paywire.IdempotencyStore.
func (db *DB) ReleaseIdempotencyKey(ctx context.Context, merchantID, key string) error {
	const op = "store/DB.ReleaseIdempotencyKey"
	_, err := db.bun.NewDelete().Model((*idempotencyRow)(nil)).
		Where("merchant_id = ? AND key = ? AND result IS NULL", merchantID, key).
		Exec(ctx)
	return classify(op, err, "")
}

// IdempotentResult implements paywire.IdempotencyStore.
func (db *DB) IdempotentResult(ctx context.Context, merchantID, key string) (string, []byte, error) {
	var row idempotencyRow
	if err := db.bun.NewSelect().Model(&row).Where("merchant_id = ? AND key = ?", merchantID, key).Scan(ctx); err != nil {
		return "", nil, notFound("store/DB.IdempotentResult", err, "no such idempotency key")
	}
	if row.Result == nil {
		return row.RequestHash, nil, nil
	}
	return row.RequestHash, []byte(*row.Result), nil
}
