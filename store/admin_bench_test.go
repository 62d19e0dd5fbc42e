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

// BenchmarkAdminQueries measures the back office's payment list and
// reports over a history of PAYWIRE_BENCH_PAYMENTS payments (100,000 by
// default on PostgreSQL, 20,000 on SQLite) spread over 90 days, of 20
// merchants of different sizes, routed payments with the routing arm their
// routing decision gave them (as migration 0014's trigger stores it; the
// decisions themselves are not loaded: no query measured reads them). It runs on PostgreSQL when PAYWIRE_TEST_POSTGRES is set, else on
// SQLite, and reports the median, 99th percentile and maximum of single
// calls. On PostgreSQL, -v logs the plan (EXPLAIN ANALYZE) of each query.
func BenchmarkAdminQueries(b *testing.B) {
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
	h := newAdminBenchHistory(n)
	start := time.Now()
	h.load(b, db)
	b.Logf("%s: %d payments loaded in %s", db.Dialect(), n, time.Since(start).Round(time.Second))
	emails := h.emails
	h.payments = nil
	runtime.GC()

	// The statement of each call, for its plan.
	last := &lastQuery{}
	db.Bun().AddQueryHook(last)
	ctx := context.Background()
	merchants := h.merchants[:5] // the largest five
	completed := []paywire.State{paywire.StateCompleted}
	// Page 50 of the list of all merchants, and of each large merchant
	// that has one, found once, walking there.
	page50 := map[string]paywire.PageCursor{}
	var deep []string // the merchants with a page 50
walking:
	for _, m := range append([]string{""}, merchants...) {
		f := paywire.PaymentFilter{MerchantID: m}
		var c paywire.PageCursor
		for range 49 {
			_, next, err := db.SearchPayments(ctx, f, c, 50)
			if err != nil {
				b.Fatalf("walking to page 50 of %q: %v", m, err)
			}
			if next == "" {
				continue walking
			}
			c = next
		}
		page50[m] = c
		if m != "" {
			deep = append(deep, m)
		}
	}
	if page50[""] == "" {
		b.Fatalf("the history has too few payments for a page 50")
	}
	list := func(f func(i int) (paywire.PaymentFilter, paywire.PageCursor), want int) func(i int) error {
		return func(i int) error {
			filter, cursor := f(i)
			ps, _, err := db.SearchPayments(ctx, filter, cursor, 50)
			if err == nil && len(ps) < want {
				err = fmt.Errorf("%+v: %d payments, want at least %d", filter, len(ps), want)
			}
			return err
		}
	}
	report := func(merchant func(i int) string) func(i int) error {
		return func(i int) error {
			rows, err := db.PaymentReport(ctx, paywire.ReportRequest{
				From: h.at.Add(-30 * 24 * time.Hour), To: h.at, MerchantID: merchant(i), GroupBy: paywire.GroupByDay})
			if err == nil && len(rows) < 30 {
				err = fmt.Errorf("report of %q: %d rows", merchant(i), len(rows))
			}
			return err
		}
	}
	cases := []struct {
		name string
		call func(i int) error
	}{
		{"first-page-all", list(func(int) (paywire.PaymentFilter, paywire.PageCursor) { return paywire.PaymentFilter{}, "" }, 50)},
		{"first-page-merchant-state", list(func(i int) (paywire.PaymentFilter, paywire.PageCursor) {
			return paywire.PaymentFilter{MerchantID: merchants[i%len(merchants)], States: completed}, ""
		}, 50)},
		{"search-email", list(func(i int) (paywire.PaymentFilter, paywire.PageCursor) {
			return paywire.PaymentFilter{Search: strings.ToUpper(emails[i%len(emails)])}, ""
		}, 1)},
		{"page-50-all", list(func(int) (paywire.PaymentFilter, paywire.PageCursor) { return paywire.PaymentFilter{}, page50[""] }, 50)},
		{"page-50-merchant", list(func(i int) (paywire.PaymentFilter, paywire.PageCursor) {
			m := deep[i%len(deep)]
			return paywire.PaymentFilter{MerchantID: m}, page50[m]
		}, 50)},
		{"report-day-30d-all", report(func(int) string { return "" })},
		{"report-day-30d-merchant", report(func(i int) string { return merchants[i%len(merchants)] })},
		{"report-arm-30d-all", func(int) error {
			_, err := db.PaymentReport(ctx, paywire.ReportRequest{From: h.at.Add(-30 * 24 * time.Hour), To: h.at, GroupBy: paywire.GroupByArm})
			return err
		}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			if c.name == "page-50-merchant" && len(deep) == 0 {
				b.Skip("no merchant has 50 pages of payments in a history this small")
			}
			if err := c.call(0); err != nil { // warms the cache and checks the result
				b.Fatal(err)
			}
			if db.Dialect() == store.Postgres && testing.Verbose() {
				explain(b, db, last.get())
			}
			took := make([]time.Duration, 0, 4096)
			i := 0
			for b.Loop() {
				t0 := time.Now()
				err := c.call(i)
				took = append(took, time.Since(t0))
				if err != nil {
					b.Fatal(err)
				}
				i++
			}
			slices.Sort(took)
			ms := func(p float64) float64 {
				return float64(took[int(p*float64(len(took)-1))]) / float64(time.Millisecond)
			}
			b.ReportMetric(ms(0.50), "p50-ms")
			b.ReportMetric(ms(0.99), "p99-ms")
			b.ReportMetric(ms(1), "max-ms")
		})
	}
}

// lastQuery is a bun query hook that keeps the text of the last query.
type lastQuery struct {
	mu    sync.Mutex
	query string
}

func (q *lastQuery) BeforeQuery(ctx context.Context, e *bun.QueryEvent) context.Context { return ctx }

func (q *lastQuery) AfterQuery(_ context.Context, e *bun.QueryEvent) {
	if !strings.HasPrefix(e.Query, "SELECT") || strings.Contains(e.Query, "set_config") {
		return // the transaction around a report, and its settings
	}
	q.mu.Lock()
	q.query = e.Query
	q.mu.Unlock()
}

func (q *lastQuery) get() string {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.query
}

// explain logs the plan of query, run as PaymentReport runs its query
// (in a transaction without JIT and with its work_mem).
func explain(b *testing.B, db *store.DB, query string) {
	ctx := context.Background()
	tx, err := db.Bun().DB.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "SELECT set_config('jit', 'off', true), set_config('work_mem', '64MB', true)"); err != nil {
		b.Fatal(err)
	}
	rows, err := tx.QueryContext(ctx, "EXPLAIN (ANALYZE, BUFFERS) "+query)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			b.Fatal(err)
		}
		plan = append(plan, line)
	}
	b.Logf("%s\n%s", query, strings.Join(plan, "\n"))
}

// adminBenchPayment is the part of a stored payment the back office
// reads, and what the table requires.
type adminBenchPayment struct {
	bun.BaseModel `bun:"table:payments"`

	ID                string    `bun:"id,pk"`
	MerchantID        string    `bun:"merchant_id"`
	MerchantReference string    `bun:"merchant_reference"`
	Kind              string    `bun:"kind"`
	Amount            int64     `bun:"amount"`
	Currency          string    `bun:"currency"`
	Captured          int64     `bun:"captured"`
	State             string    `bun:"state"`
	Method            string    `bun:"method"`
	Provider          string    `bun:"provider"`
	CardBrand         string    `bun:"card_brand"`
	CardBIN           string    `bun:"card_bin"`
	CardLast4         string    `bun:"card_last4"`
	CardFingerprint   string    `bun:"card_fingerprint"`
	EndUserID         string    `bun:"end_user_id"`
	EndUserEmail      string    `bun:"end_user_email"`
	EndUserEmailKey   string    `bun:"end_user_email_key"`
	EndUserIP         string    `bun:"end_user_ip"`
	EndUserCountry    string    `bun:"end_user_country"`
	RiskScore         int       `bun:"risk_score"`
	RiskAction        string    `bun:"risk_action"`
	RoutingExperiment string    `bun:"routing_experiment"`
	RoutingArm        string    `bun:"routing_arm"`
	CreatedAt         time.Time `bun:"created_at"`
	UpdatedAt         time.Time `bun:"updated_at"`
	Version           int64     `bun:"version"`
}

type adminBenchHistory struct {
	at        time.Time
	merchants []string
	payments  []adminBenchPayment
	emails    []string // of some payments, to search for
}

func newAdminBenchHistory(n int) *adminBenchHistory {
	rng := rand.New(rand.NewPCG(13, 17))
	h := &adminBenchHistory{at: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}
	for i := range 20 {
		h.merchants = append(h.merchants, fmt.Sprint("merchant-", i))
	}
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
	methods := []string{"card", "card", "card", "bank_redirect", "ewallet"}
	providers := map[string][]string{"card": {"acquirer-a", "acquirer-b", "sandbox"}, "bank_redirect": {"bank-x"}, "ewallet": {"wallet-y"}}
	arms := []string{"control", "treatment"}
	emails := n / 3
	h.payments = make([]adminBenchPayment, n)
	for i := range h.payments {
		p := &h.payments[i]
		// Merchants of different sizes: the first ones take most payments.
		m := min(rng.IntN(len(h.merchants)), rng.IntN(len(h.merchants)))
		state := weighted()
		email := ""
		if rng.IntN(10) != 0 {
			email = fmt.Sprintf("user%d@example.com", rng.IntN(emails))
		}
		*p = adminBenchPayment{
			ID: paywire.NewID("pay_"), MerchantID: h.merchants[m], MerchantReference: fmt.Sprint("order-", i),
			Kind: string(paywire.KindDeposit), Amount: 100 + rng.Int64N(50_000), Currency: []string{"EUR", "EUR", "EUR", "EUR", "USD", "GBP"}[rng.IntN(6)],
			State:        string(state),
			EndUserEmail: email, EndUserEmailKey: paywire.EmailKey(email),
			EndUserID: fmt.Sprint("cust-", rng.IntN(n/20)), EndUserIP: fmt.Sprintf("10.%d.%d.%d", rng.IntN(256), rng.IntN(256), rng.IntN(256)),
			EndUserCountry: "DE", RiskAction: "allow", RiskScore: rng.IntN(100),
			CreatedAt: h.at.Add(-time.Duration(rng.Int64N(int64(90 * 24 * time.Hour)))).Truncate(time.Microsecond),
			Version:   1,
		}
		p.UpdatedAt = p.CreatedAt
		if email != "" && len(h.emails) < 1000 {
			h.emails = append(h.emails, email)
		}
		if state == paywire.StateCreated || state == paywire.StateExpired && rng.IntN(2) == 0 {
			continue // never got further than the merchant's request
		}
		p.Method = methods[rng.IntN(len(methods))]
		p.Provider = providers[p.Method][rng.IntN(len(providers[p.Method]))]
		if p.Method == "card" {
			p.CardBrand, p.CardBIN, p.CardLast4 = "visa", "424242", fmt.Sprintf("%04d", rng.IntN(10000))
			p.CardFingerprint = fmt.Sprintf("fp_%016x", rng.IntN(n/2))
		}
		if state.Paid() && state != paywire.StateAuthorized {
			p.Captured = p.Amount
		}
		if rng.IntN(2) == 0 {
			p.RoutingExperiment, p.RoutingArm = "acquirer-split", arms[rng.IntN(2)]
		}
	}
	return h
}

// load stores the merchants and payments in batches of multi-row INSERTs
// on two connections, and has the database gather statistics, as
// autovacuum would have for a history this old.
func (h *adminBenchHistory) load(b *testing.B, db *store.DB) {
	for _, m := range h.merchants {
		storetest.SeedMerchant(b, db, m)
	}
	ctx := context.Background()
	const batch = 1000
	insert := func(rows func(i, j int) any, n int) {
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for w := range errs {
			wg.Go(func() {
				for i := w * batch; i < n && errs[w] == nil; i += len(errs) * batch {
					_, errs[w] = db.Bun().NewInsert().Model(rows(i, min(i+batch, n))).Exec(ctx)
				}
			})
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	insert(func(i, j int) any { s := h.payments[i:j]; return &s }, len(h.payments))
	stats := []string{"ANALYZE"}
	if db.Dialect() == store.Postgres {
		stats = []string{"VACUUM ANALYZE payments"}
	}
	for _, s := range stats {
		if _, err := db.Bun().ExecContext(ctx, s); err != nil {
			b.Fatal(err)
		}
	}
}
