package bundles_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/bundles"
	"github.com/paywire/paywire/engine"
	"github.com/paywire/paywire/policies"
	"github.com/paywire/paywire/rules"
	"github.com/paywire/paywire/store"
	"github.com/paywire/paywire/store/storetest"
)

// bt0 is when the generated decisions start.
var bt0 = time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)

// candidateRule is the candidate's change: payments from 3,000.00 EUR are
// reviewed (score 60), where the default bundle allows up to 5,000.00.
const candidateRule = `
  - id: backtest_candidate
    group: amount
    description: EUR payments from 3,000.00
    when: request.amount.minor >= 300000 && request.amount.currency == "EUR"
    effect: {score: 60, reason: candidate_amount}
`

func builtinFiles(t testing.TB) engine.Files {
	t.Helper()
	return must(engine.BundleFiles(policies.FS, rules.FS))
}

func candidateFiles(t testing.TB) engine.Files {
	f := builtinFiles(t)
	f["rules/risk/data.yaml"] = append(append([]byte{}, f["rules/risk/data.yaml"]...), candidateRule...)
	return f
}

// must returns v; an error fails the test (a panic, in a test, does).
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func count(t *testing.T, db *store.DB) int {
	t.Helper()
	var n int
	if err := db.Bun().NewSelect().Table("decisions").ColumnExpr("count(*)").Scan(ctx, &n); err != nil {
		t.Fatal(err)
	}
	return n
}

// recordDecisions decides n payments' four decisions with the default
// bundle, recording them in db a second apart from bt0 (several in the
// same instant), as nodes record them: amounts from 10.00 to 9,990.00 EUR,
// every fifth payment without a payment (a decision before one), the
// others named after payments[i % len(payments)].
func recordDecisions(t testing.TB, db *store.DB, n int, payments []*paywire.Payment) {
	t.Helper()
	e := engine.New(2)
	if _, err := e.Activate(ctx, builtinFiles(t)); err != nil {
		t.Fatal(err)
	}
	e.Recorder = engine.StoreRecorder{Store: db}
	before := db.Now
	defer func() { db.Now = before }()
	for i := 0; i < n; i++ {
		at := bt0.Add(time.Duration(i/3) * time.Second)
		db.Now = func() time.Time { return at }
		merchant, payment := "shop", ""
		if i%5 != 0 && len(payments) > 0 {
			p := payments[i%len(payments)]
			merchant, payment = p.MerchantID, p.ID
		}
		decideOne(e, i, at, merchant, payment)
	}
}

// decideOne makes the i-th generated decision: availability, risk,
// routing or risk again, by i.
func decideOne(e *engine.Engine, i int, at time.Time, merchant, payment string) {
	amount := engine.Money{Minor: int64(1000 + (i*7919)%999000), Currency: "EUR", Exponent: 2}
	switch i % 4 {
	case 0:
		must(e.Availability(ctx, engine.AvailabilityInput{Request: engine.AvailabilityRequest{
			MerchantID: merchant, Kind: "deposit", Amount: amount, Country: "DE", Language: "de", CustomerID: "c", DepositMethods: []string{"card"}, Time: at}}))
	case 1, 3:
		must(e.Risk(ctx, engine.RiskInput{Request: engine.RiskRequest{
			PaymentID: payment, MerchantID: merchant, Kind: "deposit", Amount: amount, Method: "card",
			Card:     engine.Card{Brand: "visa", BIN: "411111", Last4: "1111", ExpiryMonth: 12, ExpiryYear: 2030, Fingerprint: fmt.Sprintf("fp%d", i%13)},
			Customer: engine.Customer{ID: "c", Email: "a@example.com", EmailDomain: "example.com", Country: "DE", Language: "de"},
			Time:     at,
		}, Features: engine.Features{CardCount24h: engine.Known(int64(i % 9)), CustomerAgeDays: engine.Known(int64(i % 30))}}))
	case 2:
		must(e.Route(ctx, engine.RouteInput{Request: engine.RouteRequest{
			MerchantID: merchant, Kind: "deposit", Amount: amount, Method: "card",
			Card: engine.RouteCard{Brand: "visa", BIN: "411111"}, Customer: engine.RouteCustomer{ID: "c", Country: "DE"},
			RiskScore: int(i % 50), RiskAction: "allow", Time: at}}))
	}
}

type outcomeChange struct{ point, from, to string }

// bruteForce decides every decision of the window again, one by one, and
// counts as a backtest must: decisions and changes per point, the states
// of the changed decisions' payments now.
func bruteForce(t *testing.T, db *store.DB, cand *engine.Bundle, from, to time.Time) (map[string]int64, map[outcomeChange]int64, map[outcomeChange]map[string]int64) {
	t.Helper()
	var rows []struct {
		Point     string `bun:"point"`
		PaymentID string `bun:"payment_id"`
		Input     string `bun:"input"`
		Output    string `bun:"output"`
	}
	if err := db.Bun().NewSelect().Table("decisions").Column("point", "payment_id", "input", "output").
		Where("created_at >= ? AND created_at < ?", from, to).Scan(ctx, &rows); err != nil {
		t.Fatal(err)
	}
	decisions, changes, outcomes := map[string]int64{}, map[outcomeChange]int64{}, map[outcomeChange]map[string]int64{}
	for _, r := range rows {
		decisions[r.Point]++
		was := must(engine.Outcome(r.Point, []byte(r.Output)))
		now := must(engine.Outcome(r.Point, must(engine.Replay(ctx, cand, r.Point, []byte(r.Input), true))))
		if was == now {
			continue
		}
		c := outcomeChange{r.Point, was, now}
		changes[c]++
		state := bundles.OutcomeNoPayment
		if r.PaymentID != "" {
			p, err := db.Payment(ctx, "shop", r.PaymentID)
			if err != nil {
				t.Fatal(err)
			}
			state = string(p.State)
		}
		if outcomes[c] == nil {
			outcomes[c] = map[string]int64{}
		}
		outcomes[c][state]++
	}
	return decisions, changes, outcomes
}

// backtestSetup returns the service, the candidate's revision and a few
// payments in the states a backtest reports: refused, refunded, charged
// back, completed.
func backtestSetup(t *testing.T, db *store.DB) (*bundles.Service, int64, []*paywire.Payment) {
	t.Helper()
	s := setup(t, db)
	cand, err := s.Push(ctx, candidateFiles(t), "bob", "review EUR payments from 3,000.00")
	if err != nil {
		t.Fatal(err)
	}
	storetest.SeedMerchant(t, db, "shop")
	var ps []*paywire.Payment
	for i, to := range [][]paywire.State{
		{paywire.StateRefused},
		{paywire.StateAuthorized, paywire.StateCompleted, paywire.StateRefunded},
		{paywire.StateAuthorized, paywire.StateCompleted, paywire.StateChargedBack},
		{paywire.StateAuthorized, paywire.StateCompleted},
		{paywire.StatePending},
	} {
		p := storetest.SeedPayment(t, db, "shop", fmt.Sprintf("order-%d", i))
		for _, st := range to {
			m := paywire.Move{To: st}
			switch st {
			case paywire.StateCompleted:
				m.Capture = p.Amount.Amount
			case paywire.StateRefunded:
				m.Refund = p.Amount.Amount
			}
			p = storetest.Move(t, db, p, m)
		}
		ps = append(ps, p)
	}
	return s, cand.Revision, ps
}

// checkReport compares a finished job's report with the brute force.
func checkReport(t *testing.T, db *store.DB, job *paywire.Backtest, cand *engine.Bundle) {
	t.Helper()
	decisions, changes, outcomes := bruteForce(t, db, cand, job.From, job.To)
	if job.State != paywire.BacktestDone || job.Done != job.Total {
		t.Fatalf("job %s: %s, %d of %d (%s)", job.ID, job.State, job.Done, job.Total, job.Error)
	}
	var total int64
	got := map[outcomeChange]int64{}
	for _, p := range job.Report.Points {
		total += p.Decisions
		if p.Decisions != decisions[p.Point] || p.Unreadable != 0 {
			t.Errorf("%s: %d decisions, %d unreadable; brute force: %d", p.Point, p.Decisions, p.Unreadable, decisions[p.Point])
		}
		var changed int64
		for _, c := range p.Changes {
			k := outcomeChange{p.Point, c.From, c.To}
			got[k] = c.Count
			changed += c.Count
			if fmt.Sprint(c.Outcomes) != fmt.Sprint(outcomes[k]) {
				t.Errorf("%s %s -> %s outcomes %v, brute force %v", p.Point, c.From, c.To, c.Outcomes, outcomes[k])
			}
			if len(c.Sample) == 0 || len(c.Sample) > 5 || c.Sample[0].DecisionID == "" {
				t.Errorf("%s %s -> %s sample %v", p.Point, c.From, c.To, c.Sample)
			}
		}
		if changed != p.Changed {
			t.Errorf("%s: changed %d, its changes add up to %d", p.Point, p.Changed, changed)
		}
	}
	if total != job.Total {
		t.Errorf("the points count %d decisions, the job %d", total, job.Total)
	}
	if fmt.Sprint(got) != fmt.Sprint(changes) {
		t.Errorf("changes:\n got %v\nwant %v", got, changes)
	}
	if len(changes) == 0 {
		t.Fatal("the candidate changed nothing: the test proves nothing")
	}
}

// TestBacktest: a backtest's counts, per point and per change, and the
// outcomes of the changed decisions' payments are those of deciding every
// decision of the window again one by one; replaying records nothing.
func TestBacktest(t *testing.T) {
	storetest.ForEachDatabase(t, func(t *testing.T, db *store.DB) {
		s, rev, payments := backtestSetup(t, db)
		recordDecisions(t, db, 600, payments)
		before := count(t, db)

		job, err := s.StartBacktest(ctx, "ann", paywire.Backtest{Revision: rev, From: bt0.Add(10 * time.Second), To: bt0.Add(190 * time.Second)})
		if err != nil {
			t.Fatal(err)
		}
		if job.Total != 540 || job.State != paywire.BacktestQueued {
			t.Fatalf("queued: %+v", job)
		}
		w := &bundles.BacktestWorker{Store: db, Bundles: db, Batch: 64}
		if ran, err := w.RunOnce(ctx); !ran || err != nil {
			t.Fatalf("run: %v, %v", ran, err)
		}
		job = must(s.Backtest(ctx, job.ID))
		checkReport(t, db, job, must(engine.Compile(ctx, candidateFiles(t))))
		if after := count(t, db); after != before {
			t.Errorf("the backtest recorded %d decisions", after-before)
		}
		if ran, err := w.RunOnce(ctx); ran || err != nil {
			t.Errorf("a second run found work: %v, %v", ran, err)
		}

		// Filters: the risk point of one merchant.
		job, err = s.StartBacktest(ctx, "carl", paywire.Backtest{Revision: rev, From: bt0, To: bt0.Add(time.Hour), Points: []string{"risk"}, MerchantID: "shop"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		job = must(s.Backtest(ctx, job.ID))
		if len(job.Report.Points) != 1 || job.Report.Points[0].Point != "risk" || job.Report.Points[0].Decisions != 300 || job.Report.Points[0].Changed == 0 {
			t.Errorf("risk only: %+v", job.Report)
		}
	})
}

// TestBacktestLeaseTakeover: a worker that dies mid-job (its context ends
// after three batches, leaving its lease) is taken over by another once
// the lease ran out, which continues from the cursor; and a worker whose
// lease was taken while it replayed a batch writes nothing. The counts
// are those of an uninterrupted run.
func TestBacktestLeaseTakeover(t *testing.T) {
	storetest.ForEachDatabase(t, func(t *testing.T, db *store.DB) {
		s, rev, payments := backtestSetup(t, db)
		recordDecisions(t, db, 450, payments)
		clock := time.Now()
		now := func() time.Time { return clock }
		start := func() *paywire.Backtest {
			return must(s.StartBacktest(ctx, "ann", paywire.Backtest{Revision: rev, From: bt0, To: bt0.Add(time.Hour)}))
		}

		// The uninterrupted run.
		whole := start()
		if _, err := (&bundles.BacktestWorker{Store: db, Bundles: db, Batch: 40, Name: "whole", Now: now}).RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		whole = must(s.Backtest(ctx, whole.ID))

		// w1 dies after three batches.
		job := start()
		dying, die := context.WithCancel(ctx)
		batches := 0
		w1 := &bundles.BacktestWorker{Store: db, Bundles: db, Batch: 40, Name: "w1", Lease: time.Minute, Now: now,
			OnBatch: func(*paywire.Backtest) {
				if batches++; batches == 3 {
					die()
				}
			}}
		if _, err := w1.RunOnce(dying); err == nil {
			t.Fatal("the dying worker finished")
		}
		mid := must(s.Backtest(ctx, job.ID))
		if mid.State != paywire.BacktestRunning || mid.Done != 120 || mid.LeaseOwner != "w1" {
			t.Fatalf("after w1 died: %s, done %d, lease %s", mid.State, mid.Done, mid.LeaseOwner)
		}
		w2 := &bundles.BacktestWorker{Store: db, Bundles: db, Batch: 40, Name: "w2", Lease: time.Minute, Now: now}
		if ran, _ := w2.RunOnce(ctx); ran {
			t.Fatal("w2 took the job while w1's lease held")
		}
		clock = clock.Add(2 * time.Minute)

		// w2 takes over; while it replays its second batch, its lease runs
		// out and w3 takes the job and finishes it: w2 then writes nothing.
		w3 := &bundles.BacktestWorker{Store: db, Bundles: db, Batch: 40, Name: "w3", Lease: time.Minute, Now: now}
		w2batches := 0
		w2.OnBatch = func(b *paywire.Backtest) {
			if w2batches++; w2batches == 2 {
				clock = clock.Add(2 * time.Minute)
				if ran, err := w3.RunOnce(ctx); !ran || err != nil {
					t.Errorf("w3: %v, %v", ran, err)
				}
			}
		}
		if ran, err := w2.RunOnce(ctx); !ran || err != nil {
			t.Fatalf("w2: %v, %v", ran, err)
		}
		got := must(s.Backtest(ctx, job.ID))
		checkReport(t, db, got, must(engine.Compile(ctx, candidateFiles(t))))
		if fmt.Sprint(got.Report) != fmt.Sprint(whole.Report) || got.Done != whole.Done {
			t.Errorf("taken over twice:\n%+v\nuninterrupted:\n%+v", got.Report, whole.Report)
		}
	})
}

// TestStartBacktest: who may start one, what a request must say, and the
// audit entry.
func TestStartBacktest(t *testing.T) {
	storetest.ForEachDatabase(t, func(t *testing.T, db *store.DB) {
		s, rev, _ := backtestSetup(t, db)
		ok := paywire.Backtest{Revision: rev, From: bt0, To: bt0.Add(time.Hour)}
		for _, c := range []struct {
			who  string
			req  paywire.Backtest
			code string
			want string
		}{
			{"vic", ok, paywire.EFORBIDDEN, "lacks the role"},
			{"dan", ok, paywire.EFORBIDDEN, "disabled"},
			{"", ok, paywire.EINVALID, "say who you are"},
			{"ann", paywire.Backtest{Revision: rev, From: bt0}, paywire.EINVALID, "window"},
			{"ann", paywire.Backtest{Revision: rev, From: bt0, To: bt0.Add(-time.Hour)}, paywire.EINVALID, "start before it ends"},
			{"ann", paywire.Backtest{Revision: rev, From: time.Now().Add(time.Hour), To: time.Now().Add(2 * time.Hour)}, paywire.EINVALID, "before now"},
			{"ann", paywire.Backtest{Revision: rev, From: bt0, To: bt0.Add(time.Hour), Points: []string{"pricing"}}, paywire.EINVALID, "unknown decision point"},
			{"ann", paywire.Backtest{Revision: 99, From: bt0, To: bt0.Add(time.Hour)}, paywire.ENOTFOUND, "no policy bundle revision 99"},
		} {
			_, err := s.StartBacktest(ctx, c.who, c.req)
			if paywire.ErrorCode(err) != c.code || !strings.Contains(paywire.ErrorMessage(err), c.want) {
				t.Errorf("%s %+v: %v, want %s %q", c.who, c.req, err, c.code, c.want)
			}
		}
		for _, who := range []string{"bob", "carl", "ada"} {
			if _, err := s.StartBacktest(ctx, who, ok); err != nil {
				t.Errorf("%s: %v", who, err)
			}
		}
		es := must(db.AuditEntries(ctx, 0, 1))
		var details struct {
			Revision int64 `json:"revision"`
		}
		_ = json.Unmarshal(es[0].Details, &details)
		if es[0].Action != "policy_bundle.backtest" || es[0].Actor != "admin:ada" || !strings.HasPrefix(es[0].Target, "policy_backtest:bt_") || details.Revision != rev {
			t.Errorf("audit: %+v %s", es[0], es[0].Details)
		}
		list := must(s.Backtests(ctx))
		if len(list) != 3 || list[0].By != "ada" {
			t.Errorf("list: %d, newest by %s", len(list), list[0].By)
		}
	})
}
