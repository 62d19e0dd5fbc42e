package storetest

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/store"
)

// saveDecisionAt records a decision of point for the merchant's payment at
// at and returns its id.
func saveDecisionAt(t *testing.T, db *store.DB, at time.Time, id, point, merchant, payment string) {
	t.Helper()
	before := db.Now
	db.Now = func() time.Time { return at }
	defer func() { db.Now = before }()
	d := &paywire.DecisionRecord{ID: id, Point: point, MerchantID: merchant, PaymentID: payment, BundleRevision: "1", BundleHash: "h",
		Input: json.RawMessage(`{}`), Output: json.RawMessage(`{"action":"allow"}`), RulesFired: json.RawMessage(`[]`)}
	if err := db.SaveDecision(ctx, d); err != nil {
		t.Fatal(err)
	}
}

// testBacktests: a job counts its window's decisions when it is created
// (points and merchant filtered) with its audit entry; one worker holds it
// at a time; its decisions come in (created_at, id) order from the cursor,
// several in the same microsecond included; progress is a compare-and-set
// on the lease and the count done, so a worker whose lease was taken over
// writes nothing; the report and the final state are kept.
func testBacktests(t *testing.T, db *store.DB) {
	now := t0
	db.Now = func() time.Time { return now }
	b := pushBundle(t, db, "ann")
	// 30 decisions, three per instant (ids out of insertion order), of two
	// merchants and two points; and two outside the window.
	for i := 0; i < 10; i++ {
		at := t0.Add(time.Duration(i) * time.Second)
		for j, id := range []string{"c", "a", "b"} {
			point, merchant := "risk", "m1"
			if j == 1 {
				point = "routing"
			}
			if i%2 == 1 {
				merchant = "m2"
			}
			saveDecisionAt(t, db, at, fmt.Sprintf("dec_%02d_%s", i, id), point, merchant, fmt.Sprintf("pay_%d", i))
		}
	}
	saveDecisionAt(t, db, t0.Add(-time.Second), "dec_before", "risk", "m1", "")
	saveDecisionAt(t, db, t0.Add(10*time.Second), "dec_after", "risk", "m1", "")

	window := func(points []string, merchant string) *paywire.Backtest {
		return &paywire.Backtest{Revision: b.Revision, By: "ann", From: t0, To: t0.Add(10 * time.Second), Points: points, MerchantID: merchant}
	}
	for _, c := range []struct {
		b    *paywire.Backtest
		want int64
	}{
		{window(nil, ""), 30},
		{window([]string{"risk"}, ""), 20},
		{window([]string{"risk", "routing"}, "m2"), 15},
		{window([]string{"workflow"}, ""), 0},
	} {
		now = now.Add(time.Millisecond) // the jobs' order
		if err := db.CreateBacktest(ctx, c.b, &paywire.AuditEntry{Actor: "admin:ann", Action: "policy_bundle.backtest"}); err != nil {
			t.Fatal(err)
		}
		if c.b.Total != c.want || c.b.State != paywire.BacktestQueued || c.b.ID == "" {
			t.Errorf("backtest of %v/%q: total %d, state %s; want %d queued", c.b.Points, c.b.MerchantID, c.b.Total, c.b.State, c.want)
		}
	}
	wantCode(t, "unknown revision", db.CreateBacktest(ctx, &paywire.Backtest{Revision: 99, By: "ann", From: t0, To: t0.Add(time.Hour)}, &paywire.AuditEntry{Actor: "admin:ann", Action: "policy_bundle.backtest"}), paywire.ENOTFOUND)
	wantCode(t, "empty window", db.CreateBacktest(ctx, &paywire.Backtest{Revision: b.Revision, By: "ann", From: t0, To: t0}, &paywire.AuditEntry{Actor: "admin:ann", Action: "policy_bundle.backtest"}), paywire.EINVALID)
	if es, _ := db.AuditEntries(ctx, 0, 1); len(es) != 1 || es[0].Action != "policy_bundle.backtest" || es[0].Target == "" {
		t.Errorf("the last audit entry: %+v", es)
	}
	list, err := db.Backtests(ctx, 10)
	if err != nil || len(list) != 4 {
		t.Fatalf("backtests: %d, %v", len(list), err)
	}

	// The oldest job first, one worker at a time.
	job, err := db.ClaimBacktest(ctx, "w1", now, time.Minute)
	if err != nil || job == nil || job.Total != 30 || job.State != paywire.BacktestRunning || job.LeaseOwner != "w1" || !job.StartedAt.Equal(now) {
		t.Fatalf("claim: %+v, %v", job, err)
	}
	var seen []string
	for {
		ds, err := db.BacktestDecisions(ctx, job, 4)
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) == 0 {
			break
		}
		for _, d := range ds {
			seen = append(seen, d.ID)
		}
		last := ds[len(ds)-1]
		done := job.Done
		job.Done += int64(len(ds))
		job.CursorAt, job.CursorID = last.CreatedAt, last.ID
		job.Report = paywire.BacktestReport{Points: []paywire.BacktestPoint{{Point: "risk", Decisions: job.Done}}}
		if err := db.AdvanceBacktest(ctx, job, "w1", done, now.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if len(seen) == 8 {
			break
		}
	}
	if len(seen) != 8 || seen[0] != "dec_00_a" || seen[1] != "dec_00_b" || seen[2] != "dec_00_c" || seen[3] != "dec_01_a" || seen[7] != "dec_02_b" {
		t.Fatalf("decisions in order: %v", seen)
	}
	other := *job
	other.Done += 4
	wantCode(t, "another worker advances", db.AdvanceBacktest(ctx, &other, "w2", job.Done, now.Add(time.Minute)), paywire.ECONFLICT)
	wantCode(t, "a stale count", db.AdvanceBacktest(ctx, &other, "w1", job.Done-4, now.Add(time.Minute)), paywire.ECONFLICT)
	if again, err := db.ClaimBacktest(ctx, "w2", now.Add(30*time.Second), time.Minute); err != nil || again == nil || again.ID == job.ID {
		t.Fatalf("a second claim while w1 holds its lease: %+v, %v", again, err)
	}

	// w1 dies; after its lease w2 takes over from the cursor.
	now = t0.Add(2 * time.Minute)
	var took *paywire.Backtest
	for {
		c, err := db.ClaimBacktest(ctx, "w2", now, time.Minute)
		if err != nil || c == nil {
			t.Fatalf("claims after the lease ran out never reached %s: %v", job.ID, err)
		}
		if c.ID == job.ID {
			took = c
			break
		}
	}
	if took.Done != 8 || took.CursorID != "dec_02_b" || !took.CursorAt.Equal(t0.Add(2*time.Second)) || took.LeaseOwner != "w2" ||
		len(took.Report.Points) != 1 || took.Report.Points[0].Decisions != 8 {
		t.Fatalf("taken over: %+v", took)
	}
	wantCode(t, "the dead worker advances", db.AdvanceBacktest(ctx, job, "w1", job.Done, now.Add(time.Minute)), paywire.ECONFLICT)
	rest, err := db.BacktestDecisions(ctx, took, 100)
	if err != nil || len(rest) != 22 || rest[0].ID != "dec_02_c" || rest[21].ID != "dec_09_c" {
		t.Fatalf("the rest after the cursor: %d, %v", len(rest), err)
	}
	done := took.Done
	took.Done, took.State = 30, paywire.BacktestDone
	if err := db.AdvanceBacktest(ctx, took, "w2", done, time.Time{}); err != nil {
		t.Fatal(err)
	}
	got, err := db.Backtest(ctx, took.ID)
	if err != nil || got.State != paywire.BacktestDone || got.Done != 30 || got.LeaseOwner != "" || !got.FinishedAt.Equal(now) {
		t.Fatalf("finished: %+v, %v", got, err)
	}
	wantCode(t, "advance a finished job", db.AdvanceBacktest(ctx, took, "w2", 30, now), paywire.ECONFLICT)
	if _, err := db.Backtest(ctx, "bt_nope"); paywire.ErrorCode(err) != paywire.ENOTFOUND {
		t.Errorf("unknown backtest: %v", err)
	}

	// The payments' current states.
	SeedMerchant(t, db, "m-states")
	p := SeedPayment(t, db, "m-states", "o1")
	p = Move(t, db, p, paywire.Move{To: paywire.StateRefused})
	states, err := db.PaymentStates(ctx, []string{p.ID, "pay_unknown"})
	if err != nil || len(states) != 1 || states[p.ID] != paywire.StateRefused {
		t.Errorf("payment states: %v, %v", states, err)
	}
}
