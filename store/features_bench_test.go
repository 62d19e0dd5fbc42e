package store_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/store"
	"github.com/paywire/paywire/store/storetest"
)

// BenchmarkFeatures measures the features of one payment with every key
// known, over a history of PAYWIRE_BENCH_PAYMENTS payments (100,000 by
// default on PostgreSQL, 20,000 on SQLite) spread over 90 days. It runs on
// PostgreSQL when PAYWIRE_TEST_POSTGRES is set, else on SQLite. It reports
// the median and 99th percentile of single calls, and of a bare round
// trip (SELECT $1) made before each call, which tells the machine's noise
// from the query's cost:
//
//   - typical: keys drawn from large pools (a card, an e-mail or a device
//     is seen a few times; an IP a few more), as most payments have;
//   - hot: keys of a card-testing burst, each seen with N/2000 payments
//     (500 at 1M) in the last 7 days: a card, e-mail, IP, device and a
//     customer of one merchant.
func BenchmarkFeatures(b *testing.B) {
	var db *store.DB
	n := 20_000
	if dsn := os.Getenv(storetest.PostgresEnv); dsn != "" {
		db, n = storetest.NewPostgres(b, dsn), 100_000
	} else {
		db = storetest.NewSQLite(b)
	}
	if s := os.Getenv("PAYWIRE_BENCH_PAYMENTS"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil || n < 10_000 {
			b.Fatalf("PAYWIRE_BENCH_PAYMENTS=%q: want a number of payments of at least 10000", s)
		}
	}
	h := newBenchHistory(n)
	start := time.Now()
	h.load(b, db)
	b.Logf("%s: %d payments loaded in %s", db.Dialect(), n, time.Since(start).Round(time.Second))
	// The loaded history is garbage now: collected here, not while
	// measuring.
	h.payments = nil
	runtime.GC()

	run := func(b *testing.B, queries []paywire.FeatureQuery) {
		ctx := context.Background()
		// Each call is paired with a bare round trip on the same pool, so
		// that both see the same machine: what the features add is the
		// difference.
		// The round trip is prepared, as the feature statement is (once per
		// connection), so that neither side pays for parsing.
		echoStmt, err := db.Bun().DB.PrepareContext(ctx, "SELECT $1")
		if err != nil {
			b.Fatal(err)
		}
		defer echoStmt.Close()
		features := make([]time.Duration, 0, 4096)
		baseline := make([]time.Duration, 0, 4096)
		i := 0
		for b.Loop() {
			q := queries[i%len(queries)]
			i++
			var echo string
			t0 := time.Now()
			err := echoStmt.QueryRowContext(ctx, q.PaymentID).Scan(&echo)
			baseline = append(baseline, time.Since(t0))
			if err != nil {
				b.Fatal(err)
			}
			t0 = time.Now()
			f, err := db.Features(ctx, q)
			features = append(features, time.Since(t0))
			if err != nil {
				b.Fatal(err)
			}
			if !f.Card.Known || !f.Email.Known || !f.IP.Known || !f.Customer.Known || !f.Device.Known {
				b.Fatalf("features of %+v: a key is unknown", q)
			}
		}
		ms := func(d []time.Duration, p float64) float64 {
			return float64(d[int(p*float64(len(d)-1))]) / float64(time.Millisecond)
		}
		slices.Sort(features)
		slices.Sort(baseline)
		b.ReportMetric(ms(features, 0.50), "p50-ms")
		b.ReportMetric(ms(features, 0.99), "p99-ms")
		b.ReportMetric(ms(features, 1), "max-ms")
		b.ReportMetric(ms(baseline, 0.50), "base-p50-ms")
		b.ReportMetric(ms(baseline, 0.99), "base-p99-ms")
		b.ReportMetric(ms(features, 0.99)-ms(baseline, 0.99), "p99-over-base-ms")
	}
	b.Run("typical", func(b *testing.B) { run(b, h.typical) })
	b.Run("hot", func(b *testing.B) { run(b, h.hot) })
}

// benchPayment is the part of a stored payment the features read, and
// what the table requires.
type benchPayment struct {
	bun.BaseModel `bun:"table:payments"`

	ID                string    `bun:"id,pk"`
	MerchantID        string    `bun:"merchant_id"`
	MerchantReference string    `bun:"merchant_reference"`
	Kind              string    `bun:"kind"`
	Amount            int64     `bun:"amount"`
	Currency          string    `bun:"currency"`
	Captured          int64     `bun:"captured"`
	State             string    `bun:"state"`
	CardFingerprint   string    `bun:"card_fingerprint"`
	EndUserID         string    `bun:"end_user_id"`
	EndUserEmail      string    `bun:"end_user_email"`
	EndUserEmailKey   string    `bun:"end_user_email_key"`
	EndUserIP         string    `bun:"end_user_ip"`
	EndUserDeviceID   string    `bun:"end_user_device_id"`
	RiskAction        string    `bun:"risk_action"`
	CreatedAt         time.Time `bun:"created_at"`
	UpdatedAt         time.Time `bun:"updated_at"`
	Version           int64     `bun:"version"`
}

// benchHistory is a generated payment history and the queries measured
// on it.
type benchHistory struct {
	at           time.Time
	merchants    []string
	payments     []benchPayment
	typical, hot []paywire.FeatureQuery
}

func newBenchHistory(n int) *benchHistory {
	rng := rand.New(rand.NewPCG(7, 11))
	h := &benchHistory{at: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}
	for i := range 20 {
		h.merchants = append(h.merchants, fmt.Sprint("merchant-", i))
	}
	const hotKeys = 10
	// Pools: most cards, e-mails and devices are seen a few times, IPs
	// (shared by households and carriers) more, customers of a merchant
	// come back.
	cards, emails, ips, devices, customers := n/2, n/3, n/5, n/3, n/20
	states := []struct {
		state paywire.State
		share int
	}{
		{paywire.StateCompleted, 60}, {paywire.StateAuthorized, 5}, {paywire.StateRefunded, 3}, {paywire.StatePartiallyRefunded, 1},
		{paywire.StateChargedBack, 1}, {paywire.StateRefused, 14}, {paywire.StateFailed, 3}, {paywire.StateCancelled, 4},
		{paywire.StateExpired, 5}, {paywire.StateCreated, 2}, {paywire.StatePending, 1}, {paywire.StateReview, 1},
	}
	weighted := func() paywire.State {
		r := rng.IntN(100)
		for _, s := range states {
			if r < s.share {
				return s.state
			}
			r -= s.share
		}
		return paywire.StateCompleted
	}
	ip := func(i int) string { return fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255) }
	h.payments = make([]benchPayment, n)
	for i := range h.payments {
		p := &h.payments[i]
		// Merchants of different sizes: the first ones take most payments.
		m := min(rng.IntN(len(h.merchants)), rng.IntN(len(h.merchants)))
		hot := rng.IntN(200) == 0 // 0.5%: a burst on the hot keys
		age := time.Duration(rng.Int64N(int64(90 * 24 * time.Hour)))
		if hot {
			age = time.Duration(rng.Int64N(int64(7 * 24 * time.Hour)))
		}
		state := weighted()
		email := ""
		if rng.IntN(10) != 0 {
			email = fmt.Sprintf("user%d@example.com", rng.IntN(emails))
		}
		*p = benchPayment{
			ID: paywire.NewID("pay_"), MerchantID: h.merchants[m], MerchantReference: fmt.Sprint("order-", i),
			Kind: string(paywire.KindDeposit), Amount: 100 + rng.Int64N(50_000), Currency: []string{"EUR", "EUR", "EUR", "EUR", "USD", "GBP"}[rng.IntN(6)],
			State:           string(state),
			CardFingerprint: fmt.Sprintf("fp_%016x", rng.IntN(cards)*2654435761),
			EndUserEmail:    email, EndUserEmailKey: paywire.EmailKey(email),
			EndUserIP:  ip(rng.IntN(ips)),
			RiskAction: []string{"allow", "allow", "allow", "allow", "allow", "allow", "allow", "allow", "challenge", "review", "block"}[rng.IntN(11)],
			CreatedAt:  h.at.Add(-age).Truncate(time.Microsecond),
			Version:    1,
		}
		p.UpdatedAt = p.CreatedAt
		if state.Paid() {
			p.Captured = p.Amount
		}
		if rng.IntN(5) != 0 {
			p.EndUserDeviceID = fmt.Sprintf("dev_%x", rng.IntN(devices)*40503)
		}
		if rng.IntN(20) != 0 {
			p.EndUserID = fmt.Sprint("cust-", rng.IntN(customers))
		}
		if hot {
			k := rng.IntN(hotKeys)
			p.MerchantID = h.merchants[0]
			p.CardFingerprint = fmt.Sprint("fp_hot_", k)
			p.EndUserEmail, p.EndUserEmailKey = fmt.Sprintf("hot%d@example.com", k), fmt.Sprintf("hot%d@example.com", k)
			p.EndUserIP = fmt.Sprint("192.0.2.", k)
			p.EndUserDeviceID = fmt.Sprint("dev_hot_", k)
			p.EndUserID = fmt.Sprint("cust_hot_", k)
		}
	}
	// The payments decided, at the end of the history: payments with every
	// key known (excluded from their own features, as when decided).
	for i := range h.payments {
		p := &h.payments[i]
		if p.CardFingerprint == "" || p.EndUserEmail == "" || p.EndUserIP == "" || p.EndUserID == "" || p.EndUserDeviceID == "" {
			continue
		}
		q := paywire.FeatureQuery{
			MerchantID: p.MerchantID, PaymentID: p.ID, At: h.at, Currency: p.Currency,
			CardFingerprint: p.CardFingerprint, Email: p.EndUserEmail, IP: p.EndUserIP, CustomerID: p.EndUserID, DeviceID: p.EndUserDeviceID,
		}
		switch {
		case strings.HasPrefix(p.EndUserDeviceID, "dev_hot_"):
			if len(h.hot) < 1000 {
				h.hot = append(h.hot, q)
			}
		case len(h.typical) < 1000:
			h.typical = append(h.typical, q)
		}
	}
	return h
}

// load stores the merchants and the payments, in batches of multi-row
// INSERTs on two connections, and has the database gather statistics, as
// autovacuum would have for a history this old.
func (h *benchHistory) load(b *testing.B, db *store.DB) {
	for _, m := range h.merchants {
		storetest.SeedMerchant(b, db, m)
	}
	ctx := context.Background()
	const batch = 1000
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for w := range errs {
		wg.Go(func() {
			for i := w * batch; i < len(h.payments) && errs[w] == nil; i += len(errs) * batch {
				rows := h.payments[i:min(i+batch, len(h.payments))]
				_, errs[w] = db.Bun().NewInsert().Model(&rows).Exec(ctx)
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
	stats := "ANALYZE"
	if db.Dialect() == store.Postgres {
		stats = "VACUUM ANALYZE payments"
	}
	if _, err := db.Bun().ExecContext(ctx, stats); err != nil {
		b.Fatal(err)
	}
}
