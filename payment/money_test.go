package payment_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/engine"
)

// footprint is what a refused request must leave as it was.
type footprint struct {
	version  int64
	events   int
	attempts int
	outbox   int
	calls    int
}

func (e *env) footprint(p *paywire.Payment, f *fake) footprint {
	e.t.Helper()
	return footprint{version: e.get(p.MerchantID, p.ID).Version, events: len(e.events(p)), attempts: len(e.attempts(p)),
		outbox: len(e.outbox(p)), calls: len(f.callsOf(""))}
}

// TestCapabilityEnforcement: the core carries out a decision's money
// actions through the provider's capabilities before the move, and refuses
// what no policy may decide.
func TestCapabilityEnforcement(t *testing.T) {
	t.Parallel()
	decide := func(to paywire.State, actions ...string) func(context.Context, engine.WorkflowInput) (engine.WorkflowDecision, error) {
		return func(context.Context, engine.WorkflowInput) (engine.WorkflowDecision, error) {
			return engine.WorkflowDecision{NextState: to, Actions: actions, Reason: "pinned"}, nil
		}
	}
	for _, tc := range []struct {
		note     string
		decision func(context.Context, engine.WorkflowInput) (engine.WorkflowDecision, error)
	}{
		{"a capture without the capture action", decide(paywire.StateCompleted, "notify_merchant")},
		{"an unknown action", decide(paywire.StateCompleted, "capture", "teleport", "notify_merchant")},
		{"an illegal move", decide(paywire.StateRefunded, "capture", "notify_merchant")},
		{"hold for review without the move", decide(paywire.StateCompleted, "capture", "hold_for_review")},
	} {
		t.Run(tc.note, func(t *testing.T) {
			t.Parallel()
			prov := newFake("acquirer-a")
			e := newEnv(t, withProviders(prov))
			p := e.seed("shop", "o-1", 2500, "acquirer-a", paywire.StateAuthorized)
			before := e.footprint(p, prov)
			e.pin.workflow = tc.decision
			_, err := e.s.Capture(ctx, "shop", "key-1", p.ID, "")
			wantCode(t, "capture", err, paywire.EINTERNAL)
			if after := e.footprint(p, prov); after != before {
				t.Errorf("the refused decision changed %+v into %+v", before, after)
			}
			// Nothing was done: the key is free for the retry.
			e.pin.workflow = nil
			if got, err := e.s.Capture(ctx, "shop", "key-1", p.ID, ""); err != nil || got.State != paywire.StateCompleted {
				t.Errorf("retry under the default bundle: %s, %v", describe(got), err)
			}
		})
	}

	t.Run("refund_requested refunds at the provider before the move", func(t *testing.T) {
		t.Parallel()
		prov := newFake("acquirer-a")
		e := newEnv(t, withProviders(prov))
		p := e.seed("shop", "o-2", 2500, "acquirer-a", paywire.StateCompleted)
		var at *paywire.Payment
		var atts []paywire.Attempt
		prov.setScript(func(_ context.Context, c call) reply {
			if c.Op == "refund" {
				at, atts = e.get("shop", p.ID), e.attempts(p)
			}
			return reply{}
		})
		got, err := e.s.Refund(ctx, "shop", "key-r", p.ID, "4.00")
		if err != nil || got.State != paywire.StatePartiallyRefunded || got.Refunded != 400 {
			t.Fatalf("refund: %s, %v", describe(got), err)
		}
		refunds := prov.callsOf("refund")
		if len(refunds) != 1 || refunds[0].Amount != 400 || refunds[0].Reference != p.ProviderReference {
			t.Fatalf("refunds %+v", refunds)
		}
		if at.State != paywire.StateCompleted || at.Refunded != 0 {
			t.Errorf("when the provider was asked the payment was %s; want completed, nothing refunded", describe(at))
		}
		if len(atts) != 1 || atts[0].Status != paywire.AttemptStarted || atts[0].IdempotencyKey != refunds[0].Key {
			t.Errorf("when the provider was asked the attempts were %+v; want the refund, started, with the call's key", atts)
		}
		if a := e.attempts(p); len(a) != 1 || a[0].Status != paywire.AttemptApproved || a[0].Operation != paywire.OpRefund || a[0].Amount != 400 {
			t.Errorf("attempts %+v", a)
		}
	})

	t.Run("a provider that cannot capture", func(t *testing.T) {
		t.Parallel()
		f := newFake("acquirer-b")
		e := newEnv(t, withProviders(lacking{f}))
		p := e.seed("shop", "o-3", 2500, "acquirer-b", paywire.StateAuthorized)
		before := e.footprint(p, f)
		for range 2 { // not stored: refused again, never executed
			_, err := e.s.Capture(ctx, "shop", "key-c", p.ID, "")
			wantCode(t, "capture", err, paywire.EUNSUPPORTED)
		}
		if after := e.footprint(p, f); after != before {
			t.Errorf("the refused capture changed %+v into %+v", before, after)
		}
		// What it can do, it does.
		got, err := e.s.Cancel(ctx, "shop", "key-v", p.ID)
		if err != nil || got.State != paywire.StateCancelled || len(f.callsOf("void")) != 1 {
			t.Errorf("cancel: %s, %v, voids %+v", describe(got), err, f.callsOf("void"))
		}
	})
}

// TestPartialCapture: a partial capture completes the payment with what
// was captured, and the worker releases the rest of the authorization at
// the provider, once.
func TestPartialCapture(t *testing.T) {
	t.Parallel()
	prov := newFake("acquirer-a")
	e := newEnv(t, withProviders(prov))
	p := e.seed("shop", "o-1", 2500, "acquirer-a", paywire.StateAuthorized)
	got, err := e.s.Capture(ctx, "shop", "key-c", p.ID, "10.00")
	if err != nil || got.State != paywire.StateCompleted || got.Captured != 1000 {
		t.Fatalf("capture: %s, %v", describe(got), err)
	}
	caps := prov.callsOf("capture")
	if len(caps) != 1 || caps[0].Amount != 1000 || caps[0].Key != p.ID+"-capture" || caps[0].Reference != p.ProviderReference {
		t.Fatalf("captures %+v", caps)
	}
	fs := e.followUps(p, paywire.FollowUpRemainderRelease)
	if len(fs) != 1 || fs[0].Status != paywire.FollowUpPending || len(prov.callsOf("void")) != 0 {
		t.Fatalf("remainder follow-ups %+v, voids %+v; want one pending, no void yet", fs, prov.callsOf("void"))
	}
	e.runWorker(0)
	voids := prov.callsOf("void")
	if len(voids) != 1 || voids[0].Amount != 1500 || voids[0].Key != p.ID+"-void" {
		t.Fatalf("voids %+v; want one of 15.00", voids)
	}
	e.runWorker(time.Hour)
	if n := len(prov.callsOf("void")); n != 1 {
		t.Errorf("voided %d times", n)
	}
	after := e.get("shop", p.ID)
	if after.State != paywire.StateCompleted || after.Captured != 1000 || after.Version != got.Version {
		t.Errorf("after the release: %s; want it as the capture left it", describe(after))
	}
	if fs := e.followUps(p, paywire.FollowUpRemainderRelease); fs[0].Status != paywire.FollowUpDone {
		t.Errorf("remainder follow-up %+v; want done", fs[0])
	}
	if _, err := e.s.Capture(ctx, "shop", "key-c2", p.ID, "1.00"); paywire.ErrorCode(err) != paywire.EILLEGALMOVE {
		t.Errorf("a second capture: %v", err)
	}
	if _, err := e.s.Capture(ctx, "shop", "", e.seed("shop", "o-2", 2500, "acquirer-a", paywire.StateAuthorized).ID, "25.01"); paywire.ErrorCode(err) != paywire.EINVALID {
		t.Errorf("a capture above the authorization: %v", err)
	}
}

// TestIdempotentRefund: a refund retried with the merchant's key is one
// refund: answered from the stored outcome once it is stored, and asked
// of the provider with the same key when the first answer was lost, so
// that the provider's own idempotency keeps it one.
func TestIdempotentRefund(t *testing.T) {
	t.Parallel()
	prov := newFake("acquirer-a")
	e := newEnv(t, withProviders(prov))
	p := e.seed("shop", "o-1", 2500, "acquirer-a", paywire.StateCompleted)

	first, err := e.s.Refund(ctx, "shop", "r-1", p.ID, "5.00")
	if err != nil || first.State != paywire.StatePartiallyRefunded || first.Refunded != 500 {
		t.Fatalf("refund: %s, %v", describe(first), err)
	}
	again, err := e.s.Refund(ctx, "shop", "r-1", p.ID, "5.00")
	if err != nil || again.Version != first.Version || again.Refunded != 500 || !again.UpdatedAt.Equal(first.UpdatedAt) {
		t.Fatalf("retry: %s, %v; want the first outcome %s", describe(again), err, describe(first))
	}
	if n := len(prov.callsOf("refund")); n != 1 {
		t.Fatalf("the provider was asked %d times", n)
	}

	// The provider refunds, but its answer is lost.
	var mu sync.Mutex
	lost := 0
	prov.setScript(func(_ context.Context, c call) reply {
		mu.Lock()
		defer mu.Unlock()
		if c.Op == "refund" && lost == 0 {
			lost++
			return reply{Err: timeout(), Done: true}
		}
		return reply{}
	})
	_, err = e.s.Refund(ctx, "shop", "r-2", p.ID, "3.00")
	wantCode(t, "refund with a lost answer", err, paywire.EUNAVAILABLE)
	if got := e.get("shop", p.ID); got.Version != first.Version || got.Refunded != 500 {
		t.Fatalf("after the lost answer: %s; want unchanged", describe(got))
	}
	open := slices.DeleteFunc(e.attempts(p), func(a paywire.Attempt) bool { return a.Status != paywire.AttemptUnknown })
	if len(open) != 1 || open[0].Operation != paywire.OpRefund {
		t.Fatalf("attempts %+v; want the refund open (unknown)", e.attempts(p))
	}
	second, err := e.s.Refund(ctx, "shop", "r-2", p.ID, "3.00")
	if err != nil || second.Refunded != 800 || second.State != paywire.StatePartiallyRefunded {
		t.Fatalf("retry after the lost answer: %s, %v", describe(second), err)
	}
	refunds := prov.callsOf("refund")
	if len(refunds) != 3 || refunds[1].Key != refunds[2].Key || refunds[1].Key == refunds[0].Key || !refunds[2].Kept {
		t.Fatalf("refund calls %+v; want the retry with the lost one's key, kept by the provider", refunds)
	}
	var atts []paywire.Attempt
	for _, a := range e.attempts(p) {
		if a.IdempotencyKey == refunds[1].Key {
			atts = append(atts, a)
		}
	}
	if len(atts) != 1 || atts[0].Status != paywire.AttemptApproved || atts[0].Amount != 300 {
		t.Errorf("the retried refund's attempts %+v; want one, approved", atts)
	}
	if third, err := e.s.Refund(ctx, "shop", "r-2", p.ID, "3.00"); err != nil || third.Version != second.Version {
		t.Errorf("another retry: %s, %v", describe(third), err)
	}
	// Without a key, every request is a refund of its own.
	if _, err := e.s.Refund(ctx, "shop", "", p.ID, "1.00"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.Refund(ctx, "shop", "", p.ID, "1.00"); err != nil {
		t.Fatal(err)
	}
	refunds = prov.callsOf("refund")
	if len(refunds) != 5 || refunds[3].Key == refunds[4].Key {
		t.Errorf("refund calls %+v", refunds)
	}
	if got := e.get("shop", p.ID); got.Refunded != 1000 {
		t.Errorf("refunded %d; want 10.00", got.Refunded)
	}
}

// staleFirstRead answers the first read of a payment with the copy it
// holds, as a request that read the payment just before another changed
// it would have it; later reads are the store's.
type staleFirstRead struct {
	paywire.PaymentStore
	mu    sync.Mutex
	stale *paywire.Payment
}

func (s *staleFirstRead) Payment(ctx context.Context, merchantID, id string) (*paywire.Payment, error) {
	s.mu.Lock()
	p := s.stale
	s.stale = nil
	s.mu.Unlock()
	if p != nil && p.ID == id {
		return p, nil
	}
	return s.PaymentStore.Payment(ctx, merchantID, id)
}

// TestRefusedMoveNamesTheStateNow: a merchant's request that the workflow
// refuses after losing its compare-and-set to another change names the
// state the payment is in, not the one it was read in first.
func TestRefusedMoveNamesTheStateNow(t *testing.T) {
	t.Parallel()
	prov := newFake("acquirer-a")
	e := newEnv(t, withProviders(prov))
	p := e.seed("shop", "stale-1", 2500, "acquirer-a", paywire.StateAuthorized)
	authorized := e.get("shop", p.ID)
	if got, err := e.s.Capture(ctx, "shop", "cap-1", p.ID, ""); err != nil || got.State != paywire.StateCompleted {
		t.Fatalf("capture: %s, %v", describe(got), err)
	}
	e.s.Payments = &staleFirstRead{PaymentStore: e.s.Payments, stale: authorized}
	_, err := e.s.Capture(ctx, "shop", "cap-2", p.ID, "")
	wantCode(t, "a capture of a payment captured meanwhile", err, paywire.EILLEGALMOVE)
	if msg := paywire.ErrorMessage(err); msg != "a payment in state completed cannot be captured" {
		t.Errorf("the refusal says %q", msg)
	}
}
