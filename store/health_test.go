package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/store"
	"github.com/paywire/paywire/store/storetest"
)

// Provider health tallies equal a count by hand over generated calls:
// those that took payments, returned and started in the window, at most
// the newest Limit of each provider and method, with their errors,
// approvals, declines and latencies.
func TestHealthTallies(t *testing.T) {
	storetest.ForEachDatabase(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		rng := rand.New(rand.NewPCG(25, 7))
		storetest.SeedMerchant(t, db, "m1")
		base := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
		type call struct {
			provider string
			method   paywire.Method
			op       paywire.Operation
			outcome  paywire.CallOutcome
			status   paywire.AttemptStatus
			ms       int64
			at       time.Time
			id       string
		}
		var calls []call
		for i := range 600 {
			amt, _ := paywire.NewMoney(100, "EUR")
			method := []paywire.Method{paywire.MethodCard, paywire.MethodCard, paywire.MethodEWallet}[rng.IntN(3)]
			p := &paywire.Payment{MerchantID: "m1", MerchantReference: fmt.Sprint("order-", i), Kind: paywire.KindDeposit, Amount: amt, Method: method}
			if err := db.CreatePayment(ctx, paywire.Creation(p, paywire.ActorMerchant, base)); err != nil {
				t.Fatal(err)
			}
			c := call{
				provider: []string{"acquirer-a", "acquirer-b", "wallet"}[rng.IntN(3)], method: method,
				op:      []paywire.Operation{paywire.OpAuthorize, paywire.OpAuthorize, paywire.OpPay, paywire.OpCapture}[rng.IntN(4)],
				outcome: []paywire.CallOutcome{paywire.CallAnswered, paywire.CallAnswered, paywire.CallError, paywire.CallRefused, ""}[rng.IntN(5)],
				status:  []paywire.AttemptStatus{paywire.AttemptApproved, paywire.AttemptDeclined, paywire.AttemptPending, paywire.AttemptUnknown, paywire.AttemptFailed}[rng.IntN(5)],
				ms:      int64(rng.IntN(3000)),
				// Starts from 40 minutes before base to 5 after, to the
				// microsecond, some exactly on the window's edges.
				at: base.Add(-40*time.Minute + time.Duration(rng.Int64N(int64(45*time.Minute/time.Microsecond)))*time.Microsecond),
			}
			switch i % 50 {
			case 0:
				c.at = base.Add(-15 * time.Minute) // the window's start: in
			case 1:
				c.at = base // its end: out
			}
			a := paywire.Attempt{ID: paywire.NewID("att_"), PaymentID: p.ID, MerchantID: "m1", N: 1, Operation: c.op, Provider: c.provider,
				Amount: 100, IdempotencyKey: p.ID + "-1", Status: paywire.AttemptStarted, CreatedAt: c.at}
			if err := db.ApplyStateChange(ctx, paywire.StateChange{Attempts: []paywire.Attempt{a}}); err != nil {
				t.Fatal(err)
			}
			a.Status, a.Call, a.Latency = c.status, c.outcome, time.Duration(c.ms)*time.Millisecond+time.Duration(rng.IntN(1000))*time.Microsecond
			if err := db.ApplyStateChange(ctx, paywire.StateChange{Attempts: []paywire.Attempt{a}}); err != nil {
				t.Fatal(err)
			}
			if i%7 == 0 && c.outcome != "" {
				// A status query settles it later: the status moves, the
				// call's outcome and latency stay.
				a.Status, a.Call, a.Latency = paywire.AttemptApproved, "", 0
				c.status = paywire.AttemptApproved
				if err := db.ApplyStateChange(ctx, paywire.StateChange{Attempts: []paywire.Attempt{a}}); err != nil {
					t.Fatal(err)
				}
				got, err := db.Attempt(ctx, a.ID)
				if err != nil || got.Call != c.outcome || got.Latency != time.Duration(c.ms)*time.Millisecond {
					t.Fatalf("after a later write: %+v, %v; want the call's %q and %d ms", got, err, c.outcome, c.ms)
				}
			}
			c.id = a.ID
			calls = append(calls, c)
		}

		for _, r := range []paywire.HealthRequest{
			{From: base.Add(-15 * time.Minute), To: base, Limit: 1000},
			{From: base.Add(-15 * time.Minute), To: base, Limit: 7},
			{From: base.Add(-time.Hour), To: base.Add(time.Hour), Limit: 30},
			{From: base.Add(time.Hour), To: base.Add(2 * time.Hour), Limit: 10},
		} {
			got, err := db.HealthTallies(ctx, r)
			if err != nil {
				t.Fatal(err)
			}
			byPair := map[string][]call{}
			for _, c := range calls {
				if c.outcome == "" || (c.op != paywire.OpAuthorize && c.op != paywire.OpPay) || c.at.Before(r.From) || !c.at.Before(r.To) {
					continue
				}
				k := c.provider + "/" + string(c.method)
				byPair[k] = append(byPair[k], c)
			}
			want := []paywire.HealthTally{}
			for _, k := range slices.Sorted(func(yield func(string) bool) {
				for k := range byPair {
					if !yield(k) {
						return
					}
				}
			}) {
				cs := byPair[k]
				slices.SortFunc(cs, func(a, b call) int {
					if c := b.at.Compare(a.at); c != 0 {
						return c
					}
					return strings.Compare(b.id, a.id)
				})
				cs = cs[:min(len(cs), r.Limit)]
				w := paywire.HealthTally{Provider: cs[0].provider, Method: cs[0].method}
				for _, c := range cs {
					w.Calls++
					if c.outcome == paywire.CallError {
						w.Errors++
					}
					switch c.status {
					case paywire.AttemptApproved:
						w.Approved++
					case paywire.AttemptDeclined:
						w.Declined++
					}
					w.Latencies = append(w.Latencies, c.ms)
				}
				slices.Sort(w.Latencies)
				want = append(want, w)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%+v:\n got %+v\nwant %+v", r, got, want)
			}
		}
		if _, err := db.HealthTallies(ctx, paywire.HealthRequest{From: base, To: base, Limit: 10}); paywire.ErrorCode(err) != paywire.EINVALID {
			t.Errorf("an empty window: %v", err)
		}
	})
}

// A provider state moves by compare-and-set: of two transitions from the
// same version one is written, with its audit entry; the audit log is
// the history.
func TestProviderStates(t *testing.T) {
	storetest.ForEachDatabase(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		rate := 0.6
		demote := func(version int64) (bool, error) {
			s := &paywire.ProviderState{Provider: "acquirer-a", Method: paywire.MethodCard, State: paywire.HealthDemoted, Version: version,
				Calls: 50, Errors: 30, ErrorRate: &rate, Reason: "error rate 60 %"}
			return db.SetProviderState(ctx, s, &paywire.AuditEntry{Actor: "system", Action: paywire.AuditProviderDemote,
				Target: "provider:acquirer-a/card", Details: json.RawMessage(`{"calls":50}`)})
		}
		for i, want := range []bool{true, false} { // a second node that saw no state loses
			if ok, err := demote(0); err != nil || ok != want {
				t.Fatalf("demotion %d: %v, %v", i, ok, err)
			}
		}
		states, err := db.ProviderStates(ctx)
		if err != nil || len(states) != 1 {
			t.Fatalf("states %+v, %v", states, err)
		}
		s := states[0]
		if s.State != paywire.HealthDemoted || s.Version != 1 || s.Calls != 50 || s.Errors != 30 || s.ErrorRate == nil || *s.ErrorRate != rate ||
			s.ApprovalRate != nil || s.LatencyP95 != nil || s.Since.IsZero() {
			t.Fatalf("state %+v", s)
		}
		restore := &paywire.ProviderState{Provider: "acquirer-a", Method: paywire.MethodCard, State: paywire.HealthHealthy, Version: 1, Reason: "recovered"}
		if ok, err := db.SetProviderState(ctx, restore, &paywire.AuditEntry{Actor: "system", Action: paywire.AuditProviderRestore, Target: "provider:acquirer-a/card"}); err != nil || !ok || restore.Version != 2 {
			t.Fatalf("restoration: %v, %v, %+v", ok, err, restore)
		}
		if ok, err := demote(1); err != nil || ok { // from a version seen before the restoration
			t.Fatalf("a stale demotion: %v, %v", ok, err)
		}
		if ok, err := demote(2); err != nil || !ok {
			t.Fatalf("demoted again: %v, %v", ok, err)
		}
		history, err := db.ProviderTransitions(ctx, 10)
		if err != nil {
			t.Fatal(err)
		}
		var actions []string
		for _, e := range history {
			actions = append(actions, e.Action)
		}
		if strings.Join(actions, ",") != "provider.demote,provider.restore,provider.demote" {
			t.Errorf("history %v", actions)
		}
		if _, err := db.SetProviderState(ctx, &paywire.ProviderState{Provider: "x", Method: "card", State: "broken", Reason: "r"}, &paywire.AuditEntry{Actor: "system", Action: "a"}); paywire.ErrorCode(err) != paywire.EINVALID {
			t.Errorf("an unknown state: %v", err)
		}
	})
}
