package main

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paywire/paywire"
)

// lockedBuffer is a log sink safe for the sandbox's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestDemoHistory: `serve --demo` on a new database gives the back office
// a month of payments in every kind of outcome, made through the use
// cases, and a second start adds none.
func TestDemoHistory(t *testing.T) {
	ctx := context.Background()
	cfg, _, err := parseConfig("serve", []string{"--demo", "--addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0",
		"--db", filepath.Join(t.TempDir(), "demo.db")}, envOf(map[string]string{"PAYWIRE_ADMIN_PASSWORD": "demo-history-test"}))
	if err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	m := NewMain(cfg, io.Discard, logs)
	if err := m.Open(ctx); err != nil {
		t.Fatal(err)
	}
	defer m.Close()

	start := time.Now()
	c, err := m.seedDemoHistory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("seeded %d payments in %v: states %v, methods %v, follow-ups left %d", c.Payments, time.Since(start), c.States, c.Methods, c.LeftToWorker)
	if c.Problems > 0 {
		t.Errorf("%d steps refused; the first: %v", c.Problems, c.FirstProblem)
	}
	if strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("seeding logged errors:\n%s", logs.String())
	}

	// What the back office lists: every state of both merchants.
	days := map[string]bool{}
	states := map[paywire.State]int{}
	methods := map[paywire.Method]int{}
	kinds := map[paywire.Kind]int{}
	total := 0
	for _, merchant := range []string{"demo", demoTravelID} {
		for _, st := range paywire.States {
			ps, err := m.DB.PaymentsInState(ctx, merchant, st, 1000)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range ps {
				total++
				states[p.State]++
				methods[p.Method]++
				kinds[p.Kind]++
				days[p.CreatedAt.UTC().Format(time.DateOnly)] = true
				if !strings.HasPrefix(p.MerchantReference, demoHistoryPrefix) {
					t.Errorf("payment %s has reference %q", p.ID, p.MerchantReference)
				}
				if p.CreatedAt.After(start) || p.CreatedAt.Before(start.Add(-31*24*time.Hour)) {
					t.Errorf("payment %s created at %v, not within the last 30 days", p.ID, p.CreatedAt)
				}
			}
		}
	}
	if total < 250 || total != c.Payments {
		t.Errorf("%d payments stored, %d seeded; want at least 250, the same", total, c.Payments)
	}
	if len(days) < 25 {
		t.Errorf("payments on %d days; want at least 25", len(days))
	}
	for _, st := range []paywire.State{paywire.StateCompleted, paywire.StateRefused, paywire.StateReview, paywire.StateExpired} {
		if states[st] == 0 {
			t.Errorf("no payment %s: %v", st, states)
		}
	}
	if states[paywire.StateRefunded]+states[paywire.StatePartiallyRefunded] == 0 {
		t.Errorf("no payment refunded: %v", states)
	}
	if states[paywire.StateAuthorized]+states[paywire.StatePending] == 0 {
		t.Errorf("no payment authorized or pending: %v", states)
	}
	for _, method := range []paywire.Method{paywire.MethodCard, paywire.MethodBankRedirect, paywire.MethodEWallet} {
		if methods[method] == 0 {
			t.Errorf("no payment by %s: %v", method, methods)
		}
	}
	if kinds[paywire.KindWithdrawal] == 0 {
		t.Errorf("no payout: %v", kinds)
	}
	// The default bundle's experiment routed the EUR card deposits of the
	// history's customers into both its arms, as production routes them.
	tallies, err := m.DB.ExperimentTallies(ctx, paywire.ExperimentRequest{Experiment: "acquirer-split", From: start.Add(-31 * 24 * time.Hour), To: start})
	if err != nil || len(tallies) != 2 || tallies[0].Decided == 0 || tallies[1].Decided == 0 {
		t.Errorf("acquirer-split's arms in the history: %+v, %v", tallies, err)
	}

	// Every state change was notified, at the history's time, to the shop
	// of then: nothing is left for the node's worker, and the running demo
	// shop lists none of them.
	undelivered, err := m.DB.Bun().NewSelect().Table("outbox").Where("status <> ?", "delivered").Count(ctx)
	if err != nil || undelivered > 0 {
		t.Errorf("%d notifications not delivered (%v)", undelivered, err)
	}
	if n := len(m.Shop.Notifications()); n > 0 {
		t.Errorf("the demo shop received %d notifications of the history", n)
	}

	// A later start, or a second node, seeds nothing.
	again, err := m.seedDemoHistory(ctx)
	if err != nil || again.Payments != 0 {
		t.Errorf("second seeding: %d payments, %v; want none", again.Payments, err)
	}
}
