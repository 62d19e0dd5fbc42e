package store

import (
	"context"

	"github.com/paywire/paywire"
)

// OutboxOf returns every notification of the merchant's payment — pending,
// delivered or dead — with its attempts, last error and next attempt,
// oldest first. A payment of another merchant, or none, has no messages.
// Only the back office calls it.
//
// The outbox has no index on the payment; its messages are found through
// the payment's events (unique on payment and sequence number), each of
// which has at most one message (unique on the event).
func (db *DB) OutboxOf(ctx context.Context, merchantID, paymentID string) ([]paywire.OutboxMessage, error) {
	var rows []outboxRow
	err := db.bun.NewSelect().Model(&rows).
		Where("event_id IN (SELECT id FROM payment_events WHERE payment_id = ? AND merchant_id = ?)", paymentID, merchantID).
		Where("merchant_id = ?", merchantID).
		Order("id").Scan(ctx)
	if err != nil {
		return nil, classify("store/DB.OutboxOf", err, "")
	}
	return messages(rows), nil
}
