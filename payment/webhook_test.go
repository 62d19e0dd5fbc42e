package payment_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/adapters"
	"github.com/paywire/paywire/engine"
)

// bankPayment submits a 25.00 EUR bank redirect of shop; the bank takes it
// (pending, its page to visit). It returns the payment and the bank's
// reference.
func bankPayment(e *env, ref string) (*paywire.Payment, string) {
	e.t.Helper()
	tok, id := e.start("shop", ref, 2500)
	o, err := e.s.Submit(ctx, tok, bank())
	if err != nil || o.State != paywire.StatePending {
		e.t.Fatalf("bank redirect: %+v, %v", o, err)
	}
	p := e.get("shop", id)
	if p.ProviderReference == "" {
		e.t.Fatalf("the payment has no reference: %s", describe(p))
	}
	return p, p.ProviderReference
}

// pendingBank is a bank that takes every payment to its page.
func pendingBank() *fake {
	f := newFake("sandbox-bank")
	f.setScript(func(_ context.Context, c call) reply {
		if c.Op == "authorize" {
			return reply{Result: adapters.Result{Status: adapters.Pending, RedirectURL: "https://bank.example/login"}}
		}
		return reply{}
	})
	return f
}

func TestWebhooks(t *testing.T) {
	t.Parallel()
	t.Run("an event that failed to apply is applied on redelivery", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, withProviders(pendingBank()))
		p, ref := bankPayment(e, "w-1")
		e.pin.workflow = e.failOnce(paywire.EventProviderCaptured)
		ev := adapters.WebhookEvent{ID: "evt-1", Type: adapters.EventCaptured, Reference: ref, Amount: 2500}
		if err := e.webhook("sandbox-bank", ev); err == nil {
			t.Fatal("the failed application was acknowledged")
		}
		if e.seen("sandbox-bank", "evt-1") {
			t.Fatal("an event that was not applied is marked seen")
		}
		if got := e.get("shop", p.ID); got.Version != p.Version {
			t.Fatalf("the failed application changed the payment: %s", describe(got))
		}
		if err := e.webhook("sandbox-bank", ev); err != nil {
			t.Fatalf("redelivery: %v", err)
		}
		got := e.get("shop", p.ID)
		if got.State != paywire.StateCompleted || got.Captured != 2500 || !e.seen("sandbox-bank", "evt-1") {
			t.Fatalf("after the redelivery: %s, seen %v", describe(got), e.seen("sandbox-bank", "evt-1"))
		}
		if a := e.attempts(got); len(a) != 1 || a[0].Status != paywire.AttemptApproved {
			t.Errorf("attempts %+v; want the one, approved", a)
		}
	})

	t.Run("a duplicate changes nothing", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, withProviders(pendingBank()))
		p, ref := bankPayment(e, "w-2")
		ev := adapters.WebhookEvent{ID: "evt-2", Type: adapters.EventCaptured, Reference: ref, Amount: 2500}
		if err := e.webhook("sandbox-bank", ev); err != nil {
			t.Fatal(err)
		}
		p = e.get("shop", p.ID)
		outbox, events := len(e.outbox(p)), len(e.events(p))
		for range 2 {
			if err := e.webhook("sandbox-bank", ev); err != nil {
				t.Fatalf("duplicate: %v", err)
			}
		}
		if got := e.get("shop", p.ID); got.Version != p.Version || len(e.outbox(p)) != outbox || len(e.events(p)) != events {
			t.Errorf("the duplicate changed %s into %s", describe(p), describe(got))
		}
	})

	t.Run("amounts", func(t *testing.T) {
		t.Parallel()
		acq := newFake("acquirer-a")
		e := newEnv(t, withProviders(pendingBank(), acq))
		// A bank payment was never authorized apart: its capture is the
		// whole sale, whatever amount the event says.
		p, ref := bankPayment(e, "w-3")
		if err := e.webhook("sandbox-bank", adapters.WebhookEvent{ID: "evt-3", Type: adapters.EventCaptured, Reference: ref, Amount: 1}); err != nil {
			t.Fatal(err)
		}
		p = e.get("shop", p.ID)
		if p.State != paywire.StateCompleted || p.Captured != 2500 {
			t.Fatalf("captured webhook of 0.01 on a bank payment: %s; want the whole 25.00 captured", describe(p))
		}
		// An authorization captured at the provider: the event's amount,
		// and the rest is released.
		auth := e.seed("shop", "w-4", 2500, "acquirer-a", paywire.StateAuthorized)
		e.db.ApplyStateChange(ctx, paywire.StateChange{Attempts: []paywire.Attempt{{ID: paywire.NewID("att_"), PaymentID: auth.ID,
			MerchantID: "shop", N: 1, Operation: paywire.OpAuthorize, Provider: "acquirer-a", Amount: 2500,
			IdempotencyKey: auth.ID + "-1", Reference: auth.ProviderReference, Status: paywire.AttemptApproved}}})
		if err := e.webhook("acquirer-a", adapters.WebhookEvent{ID: "evt-4", Type: adapters.EventCaptured, Reference: auth.ProviderReference, Amount: 1}); err != nil {
			t.Fatal(err)
		}
		auth = e.get("shop", auth.ID)
		if auth.State != paywire.StateCompleted || auth.Captured != 1 {
			t.Fatalf("captured webhook of 0.01 on an authorization: %s; want 0.01 captured", describe(auth))
		}
		if fs := e.followUps(auth, paywire.FollowUpRemainderRelease); len(fs) != 1 {
			t.Errorf("remainder follow-ups %+v", fs)
		}
		// A chargeback of 0.01 on the bank payment.
		if err := e.webhook("sandbox-bank", adapters.WebhookEvent{ID: "evt-5", Type: adapters.EventChargeback, Reference: ref, Amount: 1}); err != nil {
			t.Fatal(err)
		}
		if p = e.get("shop", p.ID); p.State != paywire.StateChargedBack || p.ChargedBack != 1 || p.Refunded != 0 {
			t.Errorf("after the chargeback: %s; want charged_back with 0.01", describe(p))
		}
		// A refund made at the provider.
		sold := e.seed("shop", "w-6", 2500, "acquirer-a", paywire.StateAuthorized)
		sold = e.move(sold, paywire.Move{To: paywire.StateCompleted, Capture: 2500})
		e.db.ApplyStateChange(ctx, paywire.StateChange{Attempts: []paywire.Attempt{{ID: paywire.NewID("att_"), PaymentID: sold.ID,
			MerchantID: "shop", N: 1, Operation: paywire.OpAuthorize, Provider: "acquirer-a", Amount: 2500,
			IdempotencyKey: sold.ID + "-1", Reference: sold.ProviderReference, Status: paywire.AttemptApproved}}})
		if err := e.webhook("acquirer-a", adapters.WebhookEvent{ID: "evt-6", Type: adapters.EventRefunded, Reference: sold.ProviderReference, Amount: 700}); err != nil {
			t.Fatal(err)
		}
		sold = e.get("shop", sold.ID)
		evs := e.events(sold)
		if last := evs[len(evs)-1]; sold.State != paywire.StatePartiallyRefunded || sold.Refunded != 700 || last.Amount != 700 || last.Type != paywire.EventProviderRefunded {
			t.Errorf("after the refund webhook: %s, last event %+v", describe(sold), last)
		}
		if n := len(acq.callsOf("refund")); n != 0 {
			t.Errorf("a refund the provider made was asked of it again (%d calls)", n)
		}
	})

	t.Run("a bad signature", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, withProviders(pendingBank()))
		err := e.s.HandleWebhook(ctx, "sandbox-bank", http.Header{}, []byte(`[]`))
		wantCode(t, "unsigned webhook", err, paywire.EUNAUTHORIZED)
		err = e.s.HandleWebhook(ctx, "nobody", http.Header{}, []byte(`[]`))
		wantCode(t, "unknown provider", err, paywire.ENOTFOUND)
	})

	t.Run("a late decline of a superseded attempt", func(t *testing.T) {
		t.Parallel()
		route := routeOf(t)
		first, second := newFake(route[0]), newFake(route[1])
		first.setScript(answers(reply{Result: adapters.Result{Status: adapters.Declined, Code: "acquirer_declined", Soft: true}}))
		second.setScript(answers(reply{Result: adapters.Result{Status: adapters.Pending, RedirectURL: "https://3ds.example/"}}))
		e := newEnv(t, withProviders(first, second))
		tok, id := e.start("shop", "w-7", 2500)
		if o, err := e.s.Submit(ctx, tok, card("4242424242424242")); err != nil || o.State != paywire.StatePending {
			t.Fatalf("submit: %+v, %v", o, err)
		}
		atts := e.attempts(e.get("shop", id))
		if len(atts) != 2 || atts[0].Status != paywire.AttemptDeclined || !atts[1].Status.Open() {
			t.Fatalf("attempts %+v; want a soft decline and an open attempt", atts)
		}
		// The first provider's webhook of its soft decline comes late: the
		// payment is at the second provider now.
		if err := e.webhook(first.name, adapters.WebhookEvent{ID: "evt-7", Type: adapters.EventDeclined, Reference: atts[0].Reference}); err != nil {
			t.Fatal(err)
		}
		if p := e.get("shop", id); p.State != paywire.StatePending {
			t.Fatalf("a superseded attempt's decline decided the payment: %s", describe(p))
		}
		if !e.seen(first.name, "evt-7") {
			t.Error("the late event was not marked seen")
		}
		// The second provider's decision does.
		if err := e.webhook(second.name, adapters.WebhookEvent{ID: "evt-8", Type: adapters.EventAuthorized, Reference: atts[1].Reference}); err != nil {
			t.Fatal(err)
		}
		if p := e.get("shop", id); p.State != paywire.StateAuthorized || p.Provider != second.name {
			t.Errorf("after the second provider's webhook: %s", describe(p))
		}
	})
}

// TestRiskPaths: the risk decision at submission, pinned, decides whether
// a provider sees the payment, and a challenge asks the provider for 3-D
// Secure. A review is authorized first (the card details are not kept)
// and then held in review.
func TestRiskPaths(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		action  paywire.RiskAction
		state   paywire.State
		page    string
		calls   int
		threeDS bool
	}{
		{paywire.RiskBlock, paywire.StateRefused, "https://shop.example/refused?", 0, false},
		{paywire.RiskReview, paywire.StateReview, "https://shop.example/pending?", 1, false},
		{paywire.RiskChallenge, paywire.StateAuthorized, "https://shop.example/ok?", 1, true},
		{paywire.RiskAllow, paywire.StateAuthorized, "https://shop.example/ok?", 1, false},
	} {
		t.Run(string(tc.action), func(t *testing.T) {
			t.Parallel()
			route := routeOf(t)
			first, second := newFake(route[0]), newFake(route[1])
			e := newEnv(t, withProviders(first, second))
			e.pin.risk = func(context.Context, engine.RiskInput) (engine.RiskDecision, error) {
				return engine.RiskDecision{Score: 42, Action: tc.action, Reasons: []string{"pinned"}}, nil
			}
			tok, id := e.start("shop", "r-1", 2500)
			o, err := e.s.Submit(ctx, tok, card("4242424242424242"))
			if err != nil || o.State != tc.state || !o.ToMerchant || len(o.RedirectURL) < len(tc.page) || o.RedirectURL[:len(tc.page)] != tc.page {
				t.Fatalf("submit: %+v, %v; want %s to %s", o, err, tc.state, tc.page)
			}
			auths := first.callsOf("authorize")
			if len(auths) != tc.calls || len(second.callsOf("")) != 0 {
				t.Fatalf("authorizations %+v at the first provider, %d calls at the second", auths, len(second.callsOf("")))
			}
			if tc.calls > 0 && (auths[0].ThreeDS != tc.threeDS || first.lastAuthorize().ThreeDS != tc.threeDS) {
				t.Errorf("3-D Secure asked: %v; want %v", auths[0].ThreeDS, tc.threeDS)
			}
			p := e.get("shop", id)
			if p.RiskScore != 42 || p.RiskAction != tc.action || p.Method != paywire.MethodCard || p.Card.Last4 != "4242" {
				t.Errorf("stored %+v", p)
			}
			if len(e.attempts(p)) != tc.calls {
				t.Errorf("attempts %+v", e.attempts(p))
			}
		})
	}
}
