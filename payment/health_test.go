package payment_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/adapters"
	"github.com/paywire/paywire/engine"
	"github.com/paywire/paywire/health"
)

// A provider that fails with technical errors is demoted through the
// payment path: its calls are recorded with their outcome and latency,
// the health check demotes it, routing then tries it after the healthy
// provider (the decision says so) and payments stop reaching it first;
// once its errors have left the window it is restored and first again.
func TestFailingProviderDemotedAndRestored(t *testing.T) {
	t.Parallel()
	e := newHosted(t)
	policy := defaultEngine(t).Active().HealthPolicy()
	monitor := &health.Monitor{Store: e.db, Policy: func() engine.HealthPolicy { return policy },
		Now: e.clock.Now, Logger: slog.New(slog.DiscardHandler)}
	e.s.Health = monitor
	var mu sync.Mutex
	var last engine.RouteDecision
	var lastIn engine.RouteInput
	e.pin.route = func(ctx context.Context, in engine.RouteInput) (engine.RouteDecision, error) {
		d, err := e.pin.Decider.Route(ctx, in)
		mu.Lock()
		last, lastIn = d, in
		mu.Unlock()
		return d, err
	}
	// One end user pays again and again: risk, not the subject here,
	// allows it.
	e.pin.risk = func(context.Context, engine.RiskInput) (engine.RiskDecision, error) {
		return engine.RiskDecision{Action: engine.RiskAllow, Reasons: []string{}}, nil
	}
	failing, healthy := e.first, e.second
	failing.setScript(func(_ context.Context, c call) reply {
		if c.Op == "authorize" {
			return reply{Result: adapters.Result{Status: adapters.Failed, Code: "processing_error"}}
		}
		return reply{}
	})
	pay := func(ref string) *paywire.Payment {
		t.Helper()
		o, err := e.s.Submit(ctx, e.startFor(t, "shop", ref), card("4242424242424242"))
		if err != nil || o.State != paywire.StateAuthorized {
			t.Fatalf("%s: %+v, %v", ref, o, err)
		}
		e.clock.Add(time.Second)
		return e.get("shop", o.PaymentID)
	}

	// Every payment fails at the first provider and falls back to the
	// second: the failing calls count as technical errors.
	for i := range policy.MinCalls {
		p := pay("fail-" + string(rune('a'+i)))
		atts := e.attempts(p)
		if len(atts) != 2 || atts[0].Provider != failing.name || atts[0].Call != paywire.CallError || atts[1].Call != paywire.CallAnswered {
			t.Fatalf("attempts %+v", atts)
		}
	}
	moved, err := monitor.Check(ctx)
	if err != nil || len(moved) != 1 || moved[0].Provider != failing.name || moved[0].State != paywire.HealthDemoted || moved[0].Method != paywire.MethodCard {
		t.Fatalf("check: %+v, %v", moved, err)
	}

	// Demoted: the healthy provider is asked first, the failing one not
	// at all, and the decision names the demotion.
	before := len(failing.callsOf("authorize"))
	p := pay("after-demotion")
	if atts := e.attempts(p); len(atts) != 1 || atts[0].Provider != healthy.name {
		t.Errorf("after the demotion: %+v", atts)
	}
	if n := len(failing.callsOf("authorize")); n != before {
		t.Errorf("the demoted provider was called %d times more", n-before)
	}
	mu.Lock()
	d, in := last, lastIn
	mu.Unlock()
	if !slices.Equal(d.Providers, []string{healthy.name, failing.name}) || !slices.Equal(d.Demoted, []string{failing.name}) {
		t.Errorf("decision %+v", d)
	}
	if h := in.ProviderHealth[failing.name]; h.State != engine.HealthDemoted || h.ErrorRate == nil || *h.ErrorRate != 1 {
		t.Errorf("routing saw %+v", h)
	}

	// It recovers; a window after its demotion, its errors are out of the
	// window and it is restored: first again.
	failing.setScript(nil)
	e.clock.Add(policy.Window)
	moved, err = monitor.Check(ctx)
	if err != nil || len(moved) != 1 || moved[0].State != paywire.HealthHealthy {
		t.Fatalf("check after a window: %+v, %v", moved, err)
	}
	p = pay("after-restoration")
	if atts := e.attempts(p); len(atts) != 1 || atts[0].Provider != failing.name || atts[0].Call != paywire.CallAnswered {
		t.Errorf("after the restoration: %+v", atts)
	}
	mu.Lock()
	d = last
	mu.Unlock()
	if len(d.Demoted) != 0 {
		t.Errorf("decision after the restoration %+v", d)
	}
}

// A call's outcome as provider health counts it: an answer, a refusal of
// the request, or a technical error.
func TestCallOutcomes(t *testing.T) {
	t.Parallel()
	e := newHosted(t)
	for _, c := range []struct {
		name string
		rep  reply
		want paywire.CallOutcome
	}{
		{"declined", reply{Result: adapters.Result{Status: adapters.Declined, Code: "do_not_honor"}}, paywire.CallAnswered},
		{"failure reported", reply{Result: adapters.Result{Status: adapters.Failed, Code: "processing_error"}}, paywire.CallError},
		{"request refused", reply{Err: paywire.Errorf(paywire.EINVALID, "bad request")}, paywire.CallRefused},
		{"not reachable", reply{Err: errors.Join(adapters.ErrNotSent, errors.New("connection refused"))}, paywire.CallError},
		{"no answer", reply{Err: paywire.Errorf(paywire.EUNAVAILABLE, "timeout")}, paywire.CallError},
	} {
		e.first.setScript(func(_ context.Context, cl call) reply {
			if cl.Op == "authorize" {
				return c.rep
			}
			return reply{}
		})
		o, err := e.s.Submit(ctx, e.startFor(t, "shop", "outcome-"+c.name), card("4242424242424242"))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		atts := e.attempts(e.get("shop", o.PaymentID))
		if len(atts) == 0 || atts[0].Provider != e.first.name || atts[0].Call != c.want {
			t.Errorf("%s: attempts %+v, want the first call %q", c.name, atts, c.want)
		}
	}
}
