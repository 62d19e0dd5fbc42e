package health_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/engine"
	"github.com/paywire/paywire/health"
	"github.com/paywire/paywire/policies"
	"github.com/paywire/paywire/rules"
	"github.com/paywire/paywire/store"
	"github.com/paywire/paywire/store/storetest"
)

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// history writes provider calls through the store, as the provider loop
// writes them: a payment of the method and its attempt, started at the
// clock's time, with the call's outcome.
type history struct {
	t   *testing.T
	db  *store.DB
	n   int
	now time.Time
}

func (h *history) calls(provider string, method paywire.Method, n, errors int) {
	h.t.Helper()
	ctx := context.Background()
	for i := range n {
		h.n++
		amt, _ := paywire.NewMoney(1000, "EUR")
		p := &paywire.Payment{MerchantID: "m1", MerchantReference: fmt.Sprint("order-", h.n), Kind: paywire.KindDeposit, Amount: amt, Method: method}
		if err := h.db.CreatePayment(ctx, paywire.Creation(p, paywire.ActorMerchant, h.now)); err != nil {
			h.t.Fatal(err)
		}
		a := paywire.Attempt{ID: paywire.NewID("att_"), PaymentID: p.ID, MerchantID: "m1", N: 1, Operation: paywire.OpAuthorize,
			Provider: provider, Amount: 1000, IdempotencyKey: p.ID + "-1", Status: paywire.AttemptApproved, Call: paywire.CallAnswered,
			Latency: 300 * time.Millisecond, CreatedAt: h.now}
		if i < errors {
			a.Status, a.Call, a.Latency = paywire.AttemptUnknown, paywire.CallError, 20*time.Second
		}
		if err := h.db.ApplyStateChange(ctx, paywire.StateChange{Attempts: []paywire.Attempt{a}}); err != nil {
			h.t.Fatal(err)
		}
	}
}

// node is one serve node's monitor.
func node(db *store.DB, policy engine.HealthPolicy, now func() time.Time) *health.Monitor {
	return &health.Monitor{Store: db, Policy: func() engine.HealthPolicy { return policy }, Now: now, Logger: discard}
}

// Two nodes share one database: the first to check after a provider's
// error rate reaches the threshold demotes it, once, audited; both then
// route it last. A rate between the two thresholds moves nothing, whether
// the provider is demoted or healthy; it is restored at or below the lower
// one, and demoted again at the upper one. Other methods and providers are
// untouched; below the minimum sample nothing is known.
func TestDemotionAndRestorationAcrossNodes(t *testing.T) {
	storetest.ForEachDatabase(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		storetest.SeedMerchant(t, db, "m1")
		files, err := engine.BundleFiles(policies.FS, rules.FS)
		if err != nil {
			t.Fatal(err)
		}
		b, err := engine.Compile(ctx, files)
		if err != nil {
			t.Fatal(err)
		}
		policy := b.HealthPolicy() // the default bundle's: 15m, 20 calls, 50 %, 20 %
		h := &history{t: t, db: db, now: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}
		var mu sync.Mutex
		clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return h.now.Add(time.Second) }
		advance := func(d time.Duration) { mu.Lock(); h.now = h.now.Add(d); mu.Unlock() }
		db.Now = clock // the store stamps the transitions
		a, bNode := node(db, policy, clock), node(db, policy, clock)
		check := func(m *health.Monitor) []paywire.ProviderState {
			t.Helper()
			moved, err := m.Check(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return moved
		}
		stateAt := func(m *health.Monitor, provider string, method paywire.Method) engine.ProviderHealth {
			return m.ProviderHealth(method)[provider]
		}
		audited := func(action string) int {
			t.Helper()
			entries, err := db.ProviderTransitions(ctx, 100)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, e := range entries {
				if e.Action == action && e.Target == "provider:acquirer-a/card" && e.Actor == "system" {
					n++
				}
			}
			return n
		}

		// Below the minimum sample: nothing is known, nobody is demoted.
		h.calls("acquirer-a", paywire.MethodCard, 10, 10)
		if moved := check(a); len(moved) != 0 {
			t.Fatalf("10 calls: %+v", moved)
		}
		if got := stateAt(a, "acquirer-a", paywire.MethodCard); got.Calls != 10 || got.Errors != 10 || got.ErrorRate != nil || got.ApprovalRate != nil || got.LatencyP95 != nil || got.State != engine.HealthHealthy {
			t.Fatalf("below the sample: %+v", got)
		}

		// 40 calls, 20 errors: 50 %. Both nodes check at once; one demotes.
		h.calls("acquirer-a", paywire.MethodCard, 30, 10)
		h.calls("acquirer-b", paywire.MethodCard, 40, 2)
		h.calls("acquirer-a", paywire.MethodEWallet, 40, 0)
		var wg sync.WaitGroup
		results := make([][]paywire.ProviderState, 2)
		for i, m := range []*health.Monitor{a, bNode} {
			wg.Go(func() { results[i] = check(m) })
		}
		wg.Wait()
		if n := len(results[0]) + len(results[1]); n != 1 {
			t.Fatalf("two nodes wrote %d transitions: %+v", n, results)
		}
		if n := audited(paywire.AuditProviderDemote); n != 1 {
			t.Fatalf("%d demotions audited", n)
		}
		for _, m := range []*health.Monitor{a, bNode} {
			if err := m.Read(ctx); err != nil {
				t.Fatal(err)
			}
			got := stateAt(m, "acquirer-a", paywire.MethodCard)
			if got.State != engine.HealthDemoted || got.Calls != 40 || got.Errors != 20 || got.ErrorRate == nil || *got.ErrorRate != 0.5 ||
				got.ApprovalRate == nil || *got.ApprovalRate != 1 || got.LatencyP50 == nil || *got.LatencyP50 != 300 || *got.LatencyP95 != 20000 {
				t.Errorf("acquirer-a with cards: %+v", got)
			}
			if got := stateAt(m, "acquirer-b", paywire.MethodCard); got.State != engine.HealthHealthy || *got.ErrorRate != 0.05 {
				t.Errorf("acquirer-b with cards: %+v", got)
			}
			if got := stateAt(m, "acquirer-a", paywire.MethodEWallet); got.State != engine.HealthHealthy {
				t.Errorf("acquirer-a with e-wallets: %+v", got)
			}
			if d := m.Snapshot().Demoted(); d != 1 {
				t.Errorf("%d demoted", d)
			}
		}
		states, err := db.ProviderStates(ctx)
		if err != nil || len(states) != 1 || states[0].Calls != 40 || states[0].Errors != 20 || states[0].ErrorRate == nil || *states[0].ErrorRate != 0.5 {
			t.Fatalf("recorded: %+v, %v", states, err)
		}

		// Hovering between the thresholds (a new window at 35 %): it stays
		// demoted, check after check, on both nodes.
		advance(16 * time.Minute)
		h.calls("acquirer-a", paywire.MethodCard, 40, 14)
		for range 3 {
			for _, m := range []*health.Monitor{a, bNode} {
				if moved := check(m); len(moved) != 0 {
					t.Fatalf("at 35 %%, demoted: %+v", moved)
				}
			}
		}
		// Recovered (a window at 10 %): restored once.
		advance(16 * time.Minute)
		h.calls("acquirer-a", paywire.MethodCard, 40, 4)
		if moved := append(check(bNode), check(a)...); len(moved) != 1 || moved[0].State != paywire.HealthHealthy {
			t.Fatalf("at 10 %%: %+v", moved)
		}
		if got := stateAt(a, "acquirer-a", paywire.MethodCard); got.State != engine.HealthHealthy {
			t.Fatalf("restored: %+v", got)
		}
		// Hovering again, now healthy: it stays healthy.
		advance(16 * time.Minute)
		h.calls("acquirer-a", paywire.MethodCard, 40, 14)
		for range 3 {
			for _, m := range []*health.Monitor{a, bNode} {
				if moved := check(m); len(moved) != 0 {
					t.Fatalf("at 35 %%, healthy: %+v", moved)
				}
			}
		}
		// Failing again: demoted again.
		h.calls("acquirer-a", paywire.MethodCard, 40, 40) // 80 calls, 54 errors: 67.5 %
		if moved := append(check(a), check(bNode)...); len(moved) != 1 || moved[0].State != paywire.HealthDemoted {
			t.Fatalf("at 67.5 %%: %+v", moved)
		}
		if d, r := audited(paywire.AuditProviderDemote), audited(paywire.AuditProviderRestore); d != 2 || r != 1 {
			t.Errorf("audited %d demotions and %d restorations; want 2 and 1", d, r)
		}

		// Demoted last, it gets few calls: a window after its demotion with
		// too few calls for a rate, it is restored; until then it is not.
		advance(10 * time.Minute)
		h.calls("acquirer-a", paywire.MethodCard, 3, 0)
		if moved := check(a); len(moved) != 0 {
			t.Fatalf("10 minutes after the demotion: %+v", moved)
		}
		advance(6 * time.Minute)
		if moved := check(bNode); len(moved) != 1 || moved[0].State != paywire.HealthHealthy {
			t.Fatalf("a window after the demotion, 3 calls: %+v", moved)
		}
	})
}

// With demotion off in the bundle, a demoted provider is restored and
// none is demoted; the figures are still computed.
func TestDemotionOff(t *testing.T) {
	db := storetest.NewSQLite(t)
	ctx := context.Background()
	storetest.SeedMerchant(t, db, "m1")
	h := &history{t: t, db: db, now: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}
	clock := func() time.Time { return h.now.Add(time.Second) }
	h.calls("acquirer-a", paywire.MethodCard, 40, 40)
	on := engine.DefaultHealthPolicy
	if moved, err := node(db, on, clock).Check(ctx); err != nil || len(moved) != 1 {
		t.Fatalf("demotion on: %+v, %v", moved, err)
	}
	off := on
	off.Demotion = false
	m := node(db, off, clock)
	if moved, err := m.Check(ctx); err != nil || len(moved) != 1 || moved[0].State != paywire.HealthHealthy {
		t.Fatalf("demotion off: %+v, %v", moved, err)
	}
	if got := m.ProviderHealth(paywire.MethodCard)["acquirer-a"]; got.State != engine.HealthHealthy || *got.ErrorRate != 1 {
		t.Errorf("%+v", got)
	}
	if moved, err := m.Check(ctx); err != nil || len(moved) != 0 {
		t.Fatalf("demotion off, again: %+v, %v", moved, err)
	}
}

// Next's thresholds, edge by edge.
func TestNext(t *testing.T) {
	p := engine.DefaultHealthPolicy
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	r := func(f float64) *float64 { return &f }
	demoted := paywire.ProviderState{State: paywire.HealthDemoted, Since: now.Add(-5 * time.Minute), Version: 1}
	for _, c := range []struct {
		name string
		f    paywire.HealthFigures
		cur  paywire.ProviderState
		want paywire.HealthState
	}{
		{"healthy at the threshold", paywire.HealthFigures{Calls: 20, ErrorRate: r(0.5)}, paywire.ProviderState{}, paywire.HealthDemoted},
		{"healthy just below", paywire.HealthFigures{Calls: 20, ErrorRate: r(0.49)}, paywire.ProviderState{}, ""},
		{"healthy, rate unknown", paywire.HealthFigures{Calls: 19}, paywire.ProviderState{}, ""},
		{"demoted at the restore rate", paywire.HealthFigures{Calls: 20, ErrorRate: r(0.2)}, demoted, paywire.HealthHealthy},
		{"demoted just above it", paywire.HealthFigures{Calls: 20, ErrorRate: r(0.21)}, demoted, ""},
		{"demoted, rate unknown, within the window", paywire.HealthFigures{Calls: 3}, demoted, ""},
		{"demoted, rate unknown, a window on", paywire.HealthFigures{Calls: 3},
			paywire.ProviderState{State: paywire.HealthDemoted, Since: now.Add(-15 * time.Minute), Version: 1}, paywire.HealthHealthy},
		{"demoted, still failing, a window on", paywire.HealthFigures{Calls: 30, ErrorRate: r(0.9)},
			paywire.ProviderState{State: paywire.HealthDemoted, Since: now.Add(-time.Hour), Version: 1}, ""},
	} {
		if got, reason := health.Next(c.f, c.cur, p, now); got != c.want || (got != "" && reason == "") {
			t.Errorf("%s: %q (%s), want %q", c.name, got, reason, c.want)
		}
	}
}
