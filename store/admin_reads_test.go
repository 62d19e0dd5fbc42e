package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/store"
	"github.com/paywire/paywire/store/storetest"
)

// TestOutboxOf: a payment's notifications, every status, oldest first,
// with the delivery facts a person looks at; none for another merchant
// or another payment.
func TestOutboxOf(t *testing.T) {
	storetest.ForEachDatabase(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		storetest.SeedMerchant(t, db, "m-of")
		storetest.SeedMerchant(t, db, "m-of-2")
		p := storetest.SeedPayment(t, db, "m-of", "of-1")
		other := storetest.SeedPayment(t, db, "m-of", "of-2")
		p2 := storetest.Move(t, db, p, paywire.Move{To: paywire.StatePending})

		// The creation's message fails once; the move's is delivered.
		now := time.Now().UTC().Add(time.Hour)
		claimed, err := db.ClaimOutbox(ctx, "w", now, time.Minute, 1000)
		if err != nil {
			t.Fatal(err)
		}
		next := now.Add(10 * time.Minute).Truncate(time.Microsecond)
		for _, m := range claimed {
			switch {
			case m.PaymentID == p.ID && m.Seq == 1:
				if err := db.FailedOutbox(ctx, m.ID, "w", "merchant answered 503", next, false); err != nil {
					t.Fatal(err)
				}
			case m.PaymentID == p.ID && m.Seq == 2:
				if _, err := db.DeliveredOutbox(ctx, []int64{m.ID}, "w", now); err != nil {
					t.Fatal(err)
				}
			}
		}

		got, err := db.OutboxOf(ctx, "m-of", p2.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].Seq != 1 || got[1].Seq != 2 || got[0].ID >= got[1].ID {
			t.Fatalf("messages %+v; want the two of the payment, oldest first", got)
		}
		if m := got[0]; m.Status != paywire.OutboxPending || m.Attempts != 1 || m.LastError != "merchant answered 503" || !m.NextAttemptAt.Equal(next) {
			t.Errorf("failed message %+v", m)
		}
		if m := got[1]; m.Status != paywire.OutboxDelivered || m.Attempts != 1 || m.DeliveredAt.IsZero() {
			t.Errorf("delivered message %+v", m)
		}
		if ms, err := db.OutboxOf(ctx, "m-of-2", p.ID); err != nil || len(ms) != 0 {
			t.Errorf("another merchant reads the payment's messages: %+v, %v", ms, err)
		}
		if ms, err := db.OutboxOf(ctx, "m-of", other.ID); err != nil || len(ms) != 1 || ms[0].PaymentID != other.ID {
			t.Errorf("the other payment's messages: %+v, %v", ms, err)
		}
		if ms, err := db.OutboxOf(ctx, "m-of", "pay_none"); err != nil || len(ms) != 0 {
			t.Errorf("no payment: %+v, %v", ms, err)
		}
	})
}
