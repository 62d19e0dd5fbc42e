package bundles_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/bundles"
	"github.com/paywire/paywire/engine"
	"github.com/paywire/paywire/store"
	"github.com/paywire/paywire/store/storetest"
)

// benchDecisions is how many stored decisions BenchmarkBacktest replays.
const benchDecisions = 100_000

// collector keeps the records an engine makes, as a node stores them.
type collector struct {
	mu   sync.Mutex
	recs []*engine.Record
}

func (c *collector) Record(_ context.Context, r *engine.Record) error {
	c.mu.Lock()
	c.recs = append(c.recs, r)
	c.mu.Unlock()
	return nil
}

// seedBenchDecisions stores n decisions of the four points, 0.8 s apart
// from bt0: 2,000 distinct ones the built-in bundle made (see decideOne),
// repeated under new ids, inserted 500 to a statement.
func seedBenchDecisions(b *testing.B, db *store.DB, n int) {
	b.Helper()
	e := engine.New(2)
	if _, err := e.Activate(ctx, builtinFiles(b)); err != nil {
		b.Fatal(err)
	}
	c := &collector{}
	e.Recorder = c
	const distinct = 2000
	for i := 0; i < distinct; i++ {
		decideOne(e, i, bt0, "shop", "")
	}
	type stored struct{ input, output, fired json.RawMessage }
	recs := make([]stored, len(c.recs))
	for i, r := range c.recs {
		in, _ := json.Marshal(r.Input)
		out, _ := json.Marshal(r.Output)
		fired, _ := json.Marshal(r.Meta.RulesFired)
		recs[i] = stored{in, out, fired}
	}
	batch := make([]paywire.DecisionRecord, 0, 500)
	for i := 0; i < n; i++ {
		r := c.recs[i%distinct]
		batch = append(batch, paywire.DecisionRecord{ID: fmt.Sprintf("dec_bench_%07d", i), Point: r.Point, MerchantID: "shop",
			BundleRevision: r.Meta.BundleRevision, BundleHash: r.Meta.BundleHash,
			Input: recs[i%distinct].input, Output: recs[i%distinct].output, RulesFired: recs[i%distinct].fired,
			Duration: 100 * time.Microsecond, CreatedAt: bt0.Add(time.Duration(i) * 800 * time.Millisecond)})
		if len(batch) == cap(batch) || i == n-1 {
			if err := db.SaveDecisions(ctx, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
}

// BenchmarkBacktest replays 100,000 stored decisions of the four points
// with a candidate revision, as a node's worker does (batches of 1,000,
// GOMAXPROCS at once): one op is one whole backtest. Figures:
// docs/performance.md.
func BenchmarkBacktest(b *testing.B) {
	dbs := map[string]func(testing.TB) *store.DB{"sqlite": storetest.NewSQLite}
	if dsn := os.Getenv(storetest.PostgresEnv); dsn != "" {
		dbs["postgres"] = func(t testing.TB) *store.DB { return storetest.NewPostgres(t, dsn) }
	}
	for _, name := range []string{"sqlite", "postgres"} {
		open, ok := dbs[name]
		if !ok {
			continue
		}
		b.Run(name, func(b *testing.B) {
			db := open(b)
			if err := db.CreateAdminUser(ctx, &paywire.AdminUser{Username: "ann", PasswordHash: "x", Roles: []string{"risk_analyst"}}); err != nil {
				b.Fatal(err)
			}
			s := &bundles.Service{Store: db, Users: db}
			cand, err := s.Push(ctx, candidateFiles(b), "ann", "review EUR payments from 3,000.00")
			if err != nil {
				b.Fatal(err)
			}
			seedBenchDecisions(b, db, benchDecisions)
			w := &bundles.BacktestWorker{Store: db, Bundles: db}
			var changed int64
			for b.Loop() {
				job, err := s.StartBacktest(ctx, "ann", paywire.Backtest{Revision: cand.Revision, From: bt0, To: bt0.Add(48 * time.Hour)})
				if err != nil {
					b.Fatal(err)
				}
				if ran, err := w.RunOnce(ctx); !ran || err != nil {
					b.Fatal(ran, err)
				}
				job, err = s.Backtest(ctx, job.ID)
				if err != nil {
					b.Fatal(err)
				}
				if job.State != paywire.BacktestDone || job.Done != benchDecisions {
					b.Fatalf("%s: %d of %d (%s)", job.State, job.Done, job.Total, job.Error)
				}
				changed = 0
				for _, p := range job.Report.Points {
					changed += p.Changed
					if p.Unreadable > 0 {
						b.Fatalf("%s: %d decisions could not be replayed", p.Point, p.Unreadable)
					}
				}
			}
			b.ReportMetric(float64(benchDecisions)*float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
			b.ReportMetric(float64(changed), "changed")
		})
	}
}
