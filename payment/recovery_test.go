package payment_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/adapters"
	"github.com/paywire/paywire/engine"
)

// statusQueryDue is when an attempt's status query falls due after the
// call started: the provider timeout (20 s) and 30 s.
const statusQueryDue = 50 * time.Second

// TestTimeoutAfterSuccess: the first provider takes the payment but its
// answer is lost (EUNAVAILABLE). The payment stays pending with the
// attempt open and the next provider is not asked; the status query, due
// later, asks the same provider with the same key and applies what it did.
func TestTimeoutAfterSuccess(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		hosted   bool
		want     paywire.State
		captured int64
		event    paywire.EventType
	}{
		{"hosted authorization", true, paywire.StateAuthorized, 0, paywire.EventProviderAuthorized},
		{"backend sale", false, paywire.StateCompleted, 5000, paywire.EventProviderCaptured},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			route := routeOf(t)
			first, second := newFake(route[0]), newFake(route[1])
			first.setScript(func(_ context.Context, c call) reply {
				switch c.Op {
				case "authorize":
					return reply{Result: adapters.Result{Status: adapters.Approved}, Err: timeout(), Done: true}
				case "pay":
					return reply{Result: adapters.Result{Status: adapters.Approved, Captured: true}, Err: timeout(), Done: true}
				}
				return reply{}
			})
			e := newEnv(t, withProviders(first, second))
			var p *paywire.Payment
			if tc.hosted {
				tok, id := e.start("shop", "t-1", 5000)
				o, err := e.s.Submit(ctx, tok, card("4242424242424242"))
				if err != nil || o.State != paywire.StatePending || o.RedirectURL != "" || o.ToMerchant {
					t.Fatalf("submit: %+v, %v; want pending, the pages asking again", o, err)
				}
				p = e.get("shop", id)
			} else {
				var err error
				if p, err = e.s.Create(ctx, "shop", "", backend("b-1", paidCard(e).ID)); err != nil {
					t.Fatal(err)
				}
			}
			if p.State != paywire.StatePending {
				t.Fatalf("payment %s; want pending", describe(p))
			}
			atts := e.attempts(p)
			if len(atts) != 1 || atts[0].Status != paywire.AttemptUnknown || atts[0].Provider != first.name {
				t.Fatalf("attempts %+v; want one open (unknown) at %s", atts, first.name)
			}
			if n := len(second.callsOf("")); n != 0 {
				t.Fatalf("the next provider was asked %d times after an unknown outcome", n)
			}
			if n := e.runWorker(statusQueryDue - time.Second); n != 0 {
				t.Fatalf("%d follow-ups ran before the status query was due", n)
			}
			e.runWorker(time.Second)
			p = e.get("shop", p.ID)
			if p.State != tc.want || p.Captured != tc.captured || p.Provider != first.name || p.ProviderReference == "" {
				t.Fatalf("after the status query: %s; want %s, captured %d", describe(p), tc.want, tc.captured)
			}
			st := first.callsOf("status")
			if len(st) != 1 || st[0].Key != atts[0].IdempotencyKey || st[0].PaymentID != p.ID {
				t.Errorf("status queries %+v; want one with the attempt's key %s", st, atts[0].IdempotencyKey)
			}
			approved := 0
			for _, a := range e.attempts(p) {
				if a.Status == paywire.AttemptApproved {
					approved++
				}
			}
			if approved != 1 || len(e.attempts(p)) != 1 {
				t.Errorf("attempts %+v; want the one, approved", e.attempts(p))
			}
			if fs := e.followUps(p, paywire.FollowUpStatusQuery); len(fs) != 1 || fs[0].Status != paywire.FollowUpDone {
				t.Errorf("status query follow-ups %+v; want one, done", fs)
			}
			evs := e.events(p)
			if last := evs[len(evs)-1]; last.Type != tc.event || last.Source != paywire.ProviderActor(first.name) {
				t.Errorf("last event %+v; want %s from the provider", last, tc.event)
			}
			if n := len(second.callsOf("")); n != 0 {
				t.Errorf("the next provider was asked %d times", n)
			}
		})
	}
}

// TestCrashRecovery: payments whose use case died on the way are taken to
// where they belong by the follow-ups written before it died.
func TestCrashRecovery(t *testing.T) {
	t.Parallel()
	route := routeOf(t)

	t.Run("a created backend payment is processed", func(t *testing.T) {
		t.Parallel()
		first := newFake(route[0])
		first.setScript(answers(sale))
		e := newEnv(t, withProviders(first, newFake(route[1])))
		src := paidCard(e)
		// The process dies when the payment is stored, at its risk decision.
		e.pin.risk = func(ctx context.Context, in engine.RiskInput) (engine.RiskDecision, error) {
			crash(ctx)
			return e.pin.Decider.Risk(ctx, in)
		}
		first1, err := e.s.Create(withCrash(ctx), "shop", "key-1", backend("b-1", src.ID))
		if err == nil {
			t.Fatalf("create went through the crash: %s", describe(first1))
		}
		e.pin.risk = nil
		p, err := e.db.PaymentByReference(ctx, "shop", "b-1")
		if err != nil || p.State != paywire.StateCreated {
			t.Fatalf("after the crash: %s, %v; want created", describe(p), err)
		}
		if fs := e.followUps(p, paywire.FollowUpProcess); len(fs) != 1 || !fs[0].DueAt.Equal(t0.Add(3*time.Minute)) {
			t.Fatalf("process follow-ups %+v", fs)
		}
		if n := e.runWorker(3*time.Minute - time.Second); n != 0 {
			t.Fatalf("%d follow-ups ran before the process was due", n)
		}
		e.runWorker(time.Second)
		p = e.get("shop", p.ID)
		if p.State != paywire.StateCompleted || p.Captured != 5000 || len(first.callsOf("pay")) != 1 {
			t.Fatalf("after the worker: %s, %d calls; want completed, one call", describe(p), len(first.callsOf("pay")))
		}
		if fs := e.followUps(p, paywire.FollowUpProcess); fs[0].Status != paywire.FollowUpDone {
			t.Errorf("process follow-up %+v; want done", fs[0])
		}
		// The request's retry gets the outcome committed with it: the
		// payment as it was created.
		again, err := e.s.Create(ctx, "shop", "key-1", backend("b-1", src.ID))
		if err != nil || again.ID != p.ID || again.Version != 1 {
			t.Errorf("retry: %s, %v; want the created payment", describe(again), err)
		}
		if n := len(first.callsOf("pay")); n != 1 {
			t.Errorf("the provider was asked %d times", n)
		}
	})

	t.Run("a hosted payment pending without an attempt fails", func(t *testing.T) {
		t.Parallel()
		first := newFake(route[0])
		e := newEnv(t, withProviders(first, newFake(route[1])))
		tok, id := e.start("shop", "h-1", 5000)
		// The process dies after the submission, at the routing decision.
		e.pin.route = func(ctx context.Context, in engine.RouteInput) (engine.RouteDecision, error) {
			crash(ctx)
			return e.pin.Decider.Route(ctx, in)
		}
		if o, err := e.s.Submit(withCrash(ctx), tok, card("4242424242424242")); err == nil {
			t.Fatalf("submit went through the crash: %+v", o)
		}
		e.pin.route = nil
		p := e.get("shop", id)
		if p.State != paywire.StatePending || len(e.attempts(p)) != 0 {
			t.Fatalf("after the crash: %s, attempts %+v; want pending without attempts", describe(p), e.attempts(p))
		}
		e.runWorker(3 * time.Minute)
		p = e.get("shop", id)
		if p.State != paywire.StateFailed || len(first.callsOf("")) != 0 {
			t.Fatalf("after the worker: %s; want failed, no provider asked", describe(p))
		}
		evs := e.events(p)
		if last := evs[len(evs)-1]; last.Type != paywire.EventProviderError || e.outbox(p)[last.ID] != 1 {
			t.Errorf("last event %+v, outbox %v; want provider_error, notified", last, e.outbox(p))
		}
		// Its expiry later finds nothing to do.
		e.runWorker(15 * time.Minute)
		if got := e.get("shop", id); got.Version != p.Version {
			t.Errorf("after the expiry: %s", describe(got))
		}
		for _, f := range e.followUps(p, "") {
			if f.Status != paywire.FollowUpDone {
				t.Errorf("follow-up %+v; want done", f)
			}
		}
	})

	t.Run("an authorization cut short is resolved by its status query", func(t *testing.T) {
		t.Parallel()
		first, second := newFake(route[0]), newFake(route[1])
		first.setScript(func(ctx context.Context, c call) reply {
			if c.Op == "authorize" {
				crash(ctx) // the provider authorizes; the process dies before the answer is written
				return reply{Result: adapters.Result{Status: adapters.Approved}, Err: context.Canceled, Done: true}
			}
			return reply{}
		})
		e := newEnv(t, withProviders(first, second))
		tok, id := e.start("shop", "h-2", 5000)
		if o, err := e.s.Submit(withCrash(ctx), tok, card("4242424242424242")); err == nil && o.State != paywire.StatePending {
			t.Fatalf("submit went through the crash: %+v", o)
		}
		p := e.get("shop", id)
		if atts := e.attempts(p); p.State != paywire.StatePending || len(atts) != 1 || atts[0].Status != paywire.AttemptStarted {
			t.Fatalf("after the crash: %s, attempts %+v; want pending, the attempt as written before the call", describe(p), atts)
		}
		e.runWorker(3 * time.Minute) // the status query, then the process follow-up
		p = e.get("shop", id)
		if p.State != paywire.StateAuthorized || len(second.callsOf("")) != 0 {
			t.Fatalf("after the worker: %s; want authorized at the first provider", describe(p))
		}
		if st := first.callsOf("status"); len(st) != 1 || st[0].Key != e.attempts(p)[0].IdempotencyKey {
			t.Errorf("status queries %+v", st)
		}
	})

	t.Run("a created hosted payment expires", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, withProviders(newFake(route[0])))
		_, id := e.start("shop", "h-3", 5000)
		p := e.get("shop", id)
		if !p.ExpiresAt.Equal(t0.Add(15 * time.Minute)) {
			t.Fatalf("expires at %v", p.ExpiresAt)
		}
		if n := e.runWorker(15*time.Minute - time.Second); n != 0 {
			t.Fatalf("%d follow-ups ran before the expiry", n)
		}
		e.runWorker(time.Second)
		p = e.get("shop", id)
		evs := e.events(p)
		last := evs[len(evs)-1]
		if p.State != paywire.StateExpired || last.Type != paywire.EventPaymentExpired || last.From != paywire.StateCreated {
			t.Fatalf("after the expiry: %s, last event %+v", describe(p), last)
		}
		if out := e.outbox(p); out[last.ID] != 1 || len(out) != len(evs) {
			t.Errorf("notifications %v of events %+v; want one each", out, evs)
		}
		if fs := e.followUps(p, paywire.FollowUpPaymentExpiry); len(fs) != 1 || fs[0].Status != paywire.FollowUpDone {
			t.Errorf("expiry follow-ups %+v", fs)
		}
	})
}

// TestAutoCaptureIsAFollowUp: an approved authorization of a merchant
// that auto-captures moves to authorized with a capture follow-up, which
// the request carries out at once; the worker leaves it to the request
// for the provider's deadline and a status query's pause (50 s here), so
// that the two do not capture side by side. When carrying it out at once
// fails (here the workflow decision for it), the payment stays authorized
// and the worker captures it then, once, with the payment's capture key.
func TestAutoCaptureIsAFollowUp(t *testing.T) {
	t.Parallel()
	route := routeOf(t)
	first := newFake(route[0])
	e := newEnv(t, withProviders(first, newFake(route[1])))
	e.merchant(paywire.Merchant{ID: "eager", AutoCapture: true, AutoCaptureMaxScore: 100})
	e.pin.workflow = e.failOnce(paywire.EventCaptureDue)
	tok, id := e.start("eager", "ac-1", 5000)
	o, err := e.s.Submit(ctx, tok, card("4242424242424242"))
	if err != nil || o.State != paywire.StateAuthorized {
		t.Fatalf("submit: %+v, %v; want authorized", o, err)
	}
	p := e.get("eager", id)
	fs := e.followUps(p, paywire.FollowUpCapture)
	grace := 20*time.Second + 30*time.Second
	if len(fs) != 1 || fs[0].Status != paywire.FollowUpPending || !fs[0].DueAt.Equal(t0.Add(grace)) || len(first.callsOf("capture")) != 0 {
		t.Fatalf("capture follow-ups %+v, captures %+v; want one pending, due in %s, no capture yet", fs, first.callsOf("capture"), grace)
	}
	if len(e.followUps(p, paywire.FollowUpAuthorizationExpiry)) != 0 {
		t.Errorf("an auto-captured authorization got an expiry")
	}
	e.runWorker(grace - time.Second)
	if p = e.get("eager", id); p.State != paywire.StateAuthorized || len(first.callsOf("capture")) != 0 {
		t.Fatalf("the worker within the grace: %s, captures %+v; want it left to the request", describe(p), first.callsOf("capture"))
	}
	e.runWorker(time.Second) // the grace is over
	p = e.get("eager", id)
	caps := first.callsOf("capture")
	if p.State != paywire.StateCompleted || p.Captured != 5000 || len(caps) != 1 || caps[0].Key != id+"-capture" || caps[0].Amount != 5000 {
		t.Fatalf("after the worker: %s, captures %+v; want completed, one capture with key %s-capture", describe(p), caps, id)
	}
	evs := e.events(p)
	if last := evs[len(evs)-1]; last.Type != paywire.EventCaptureDue || last.Amount != 5000 || last.Source != paywire.ActorSystem {
		t.Errorf("last event %+v", last)
	}
	if fs := e.followUps(p, paywire.FollowUpCapture); fs[0].Status != paywire.FollowUpDone {
		t.Errorf("capture follow-up %+v; want done", fs[0])
	}
	e.runWorker(time.Hour)
	if n := len(first.callsOf("capture")); n != 1 {
		t.Errorf("captured %d times", n)
	}
}

// TestAutoCaptureNotBesideTheWorker: while the request carries out its
// auto-capture, a worker running at the same moment leaves the capture
// follow-up alone: one capture call, and no follow-up retried for an
// "in progress" answer.
func TestAutoCaptureNotBesideTheWorker(t *testing.T) {
	t.Parallel()
	route := routeOf(t)
	first := newFake(route[0])
	e := newEnv(t, withProviders(first, newFake(route[1])))
	e.merchant(paywire.Merchant{ID: "eager", AutoCapture: true, AutoCaptureMaxScore: 100})
	var ticked atomic.Bool
	first.setScript(func(ctx context.Context, c call) reply {
		if c.Op == "capture" && ticked.CompareAndSwap(false, true) {
			e.runWorker(0) // the worker's tick, during the request's capture call
		}
		return reply{}
	})
	tok, id := e.start("eager", "ac-beside", 5000)
	o, err := e.s.Submit(ctx, tok, card("4242424242424242"))
	if err != nil || o.State != paywire.StateCompleted {
		t.Fatalf("submit: %+v, %v; want completed", o, err)
	}
	p := e.get("eager", id)
	if caps := first.callsOf("capture"); len(caps) != 1 || !ticked.Load() {
		t.Errorf("captures %+v (the worker ticked during the first: %v); want one", caps, ticked.Load())
	}
	if fs := e.followUps(p, paywire.FollowUpCapture); len(fs) != 1 || fs[0].Status != paywire.FollowUpDone || fs[0].Attempts != 0 {
		t.Errorf("capture follow-ups %+v; want one, done by the request, never claimed", fs)
	}
}

// TestExpiryWaitsForAnUnknownOutcome: a pending payment whose authorize got
// no answer, and whose provider cannot tell on a status query either, does
// not expire when its link does — expired, an authorization the provider
// made would never be voided; it waits, and once the provider can tell,
// the payment takes its answer. A payment the provider holds waiting for
// the end user (pending there) expires and is cancelled at the provider.
func TestExpiryWaitsForAnUnknownOutcome(t *testing.T) {
	t.Parallel()
	route := routeOf(t)

	t.Run("no answer", func(t *testing.T) {
		t.Parallel()
		first := newFake(route[0])
		var down atomic.Bool
		down.Store(true)
		unavailable := paywire.Errorf(paywire.EUNAVAILABLE, "the provider is not answering")
		first.setScript(func(ctx context.Context, c call) reply {
			switch {
			case c.Op == "authorize":
				// Done, but the answer is lost.
				return reply{Result: adapters.Result{Status: adapters.Approved}, Err: unavailable, Done: true}
			case c.Op == "status" && down.Load():
				return reply{Err: unavailable}
			}
			return reply{}
		})
		e := newEnv(t, withProviders(first, newFake(route[1])))
		tok, id := e.start("shop", "exp-unknown", 5000)
		if _, err := e.s.Submit(ctx, tok, card("4242424242424242")); err != nil {
			t.Logf("submit: %v", err) // the answer was lost
		}
		e.runWorker(20 * time.Minute) // past the link's expiry, the provider still cannot tell
		p := e.get("shop", id)
		if p.State != paywire.StatePending {
			t.Fatalf("after the expiry, the provider unable to tell: %s; want pending", describe(p))
		}
		if fs := e.followUps(p, paywire.FollowUpPaymentExpiry); len(fs) != 1 || fs[0].Status != paywire.FollowUpPending {
			t.Fatalf("expiry follow-ups %+v; want it waiting", fs)
		}
		down.Store(false)
		e.runWorker(2 * time.Hour)
		if p = e.get("shop", id); p.State != paywire.StateAuthorized {
			t.Fatalf("once the provider tells: %s; want authorized", describe(p))
		}
	})

	t.Run("waiting for the end user", func(t *testing.T) {
		t.Parallel()
		first := newFake(route[0])
		first.setScript(func(ctx context.Context, c call) reply {
			if c.Op == "authorize" {
				return reply{Result: adapters.Result{Status: adapters.Pending, Reference: "ref-waiting", RedirectURL: "https://acs.example/challenge"}}
			}
			return reply{}
		})
		e := newEnv(t, withProviders(first, newFake(route[1])))
		tok, id := e.start("shop", "exp-waiting", 5000)
		if _, err := e.s.Submit(ctx, tok, card("4242424242424242")); err != nil {
			t.Fatal(err)
		}
		e.runWorker(20 * time.Minute)
		p := e.get("shop", id)
		if p.State != paywire.StateExpired {
			t.Fatalf("after the expiry, the provider waiting for the end user: %s; want expired", describe(p))
		}
		if len(first.callsOf("void")) == 0 {
			t.Errorf("calls %+v; want the payment cancelled at the provider", first.callsOf(""))
		}
	})
}
