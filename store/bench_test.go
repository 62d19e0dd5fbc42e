package store_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/store"
	"github.com/paywire/paywire/store/storetest"
)

// forEachBenchDatabase runs fn on SQLite and, when PAYWIRE_TEST_POSTGRES is
// set, on PostgreSQL, so that both are measured in one run.
func forEachBenchDatabase(b *testing.B, fn func(b *testing.B, db *store.DB)) {
	b.Run("sqlite", func(b *testing.B) { fn(b, storetest.NewSQLite(b)) })
	if dsn := os.Getenv(storetest.PostgresEnv); dsn != "" {
		b.Run("postgres", func(b *testing.B) { fn(b, storetest.NewPostgres(b, dsn)) })
	}
}

// BenchmarkCreatePayment measures storing a payment with its creation event
// and outbox row.
func BenchmarkCreatePayment(b *testing.B) {
	forEachBenchDatabase(b, func(b *testing.B, db *store.DB) {
		storetest.SeedMerchant(b, db, "bench")
		ctx := context.Background()
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			c := paywire.Creation(storetest.SeedPaymentValue("bench", fmt.Sprint("order-", i)), paywire.ActorMerchant, time.Now())
			c.Notification = paywire.Notification(c.Payment, c.Event)
			if err := db.CreatePayment(ctx, c); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkApplyStateChange measures one compare-and-set state change with
// its event and outbox row (a payment moving created -> pending). The
// change is computed outside the measured time: only the store's write is
// measured.
func BenchmarkApplyStateChange(b *testing.B) {
	forEachBenchDatabase(b, func(b *testing.B, db *store.DB) {
		storetest.SeedMerchant(b, db, "bench")
		ctx := context.Background()
		ps := make([]*paywire.Payment, 0, 1024)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			b.StopTimer()
			if len(ps) == 0 {
				for j := 0; j < cap(ps); j++ {
					i++
					ps = append(ps, storetest.SeedPayment(b, db, "bench", fmt.Sprint("order-", i)))
				}
			}
			p := ps[len(ps)-1]
			ps = ps[:len(ps)-1]
			c, err := p.Moved(paywire.Move{To: paywire.StatePending, Type: paywire.EventSubmitted, Source: paywire.ActorSystem, At: time.Now()})
			if err != nil {
				b.Fatal(err)
			}
			c.Notification = paywire.Notification(c.Payment, c.Event)
			b.StartTimer()
			if err := db.ApplyStateChange(ctx, c); err != nil {
				b.Fatal(err)
			}
		}
	})
}
