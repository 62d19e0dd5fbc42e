package payment_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/adapters"
	"github.com/paywire/paywire/engine"
)

// reviewRisk pins the risk decision to review.
func reviewRisk(context.Context, engine.RiskInput) (engine.RiskDecision, error) {
	return engine.RiskDecision{Score: 65, Action: engine.RiskReview, Reasons: []string{"test"}}, nil
}

var operator = paywire.OperatorActor("api")

// TestReviewOfAnAuthorization: an end user's card payment that risk holds
// for review is authorized first and held in review with its funds
// reserved; approving captures it (the merchant auto-captures), declining
// voids it, and nobody deciding expires it with a void. Who and why are
// in the audit log.
func TestReviewOfAnAuthorization(t *testing.T) {
	t.Parallel()
	e := newHosted(t)
	e.pin.risk = reviewRisk
	e.merchant(paywire.Merchant{ID: "eager", AutoCapture: true, AutoCaptureMaxScore: 30})
	held := func(merchant, ref string) *paywire.Payment {
		t.Helper()
		o, err := e.s.Submit(ctx, e.startFor(t, merchant, ref), card("4242424242424242"))
		if err != nil {
			t.Fatal(err)
		}
		p := e.get(merchant, o.PaymentID)
		if p.State != paywire.StateReview || p.Provider == "" || len(e.followUps(p, paywire.FollowUpReviewExpiry)) != 1 {
			t.Fatalf("%s: %+v; want held in review with an authorization and an expiry", ref, p)
		}
		return p
	}

	// Approve: authorized and, for an auto-capturing merchant, captured.
	p := held("eager", "rv-1")
	captures := len(e.first.callsOf("capture"))
	if _, err := e.s.Review(ctx, "eager", p.ID, true, operator, ""); paywire.ErrorCode(err) != paywire.EINVALID {
		t.Errorf("a decision without a reason: %v", err)
	}
	got, err := e.s.Review(ctx, "eager", p.ID, true, operator, "customer called, known to us")
	if err != nil || got.State != paywire.StateCompleted || len(e.first.callsOf("capture")) != captures+1 {
		t.Fatalf("approve: %+v, %v, captures %d", got, err, len(e.first.callsOf("capture"))-captures)
	}
	if _, err := e.s.Review(ctx, "eager", p.ID, false, operator, "again"); paywire.ErrorCode(err) != paywire.ECONFLICT {
		t.Errorf("a second decision: %v", err)
	}
	audit, err := e.db.AuditEntries(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, a := range audit {
		var d map[string]string
		_ = json.Unmarshal(a.Details, &d)
		if a.Target == p.ID && a.Action == "payment.review.approve" && a.Actor == "operator:api" && d["reason"] == "customer called, known to us" {
			found = true
		}
	}
	if !found {
		t.Errorf("no audit entry for the approval: %+v", audit)
	}

	// Decline: refused, the authorization voided.
	p = held("shop", "rv-2")
	voids := len(e.first.callsOf("void"))
	got, err = e.s.Review(ctx, "shop", p.ID, false, operator, "card testing pattern")
	if err != nil || got.State != paywire.StateRefused || len(e.first.callsOf("void")) != voids+1 {
		t.Fatalf("decline: %+v, %v, voids %d", got, err, len(e.first.callsOf("void"))-voids)
	}

	// Nobody decides: expired with the authorization's lifetime, voided.
	p = held("shop", "rv-3")
	voids = len(e.first.callsOf("void"))
	e.runWorker(paywire.DefaultAuthorizationTTL + 1)
	if got := e.get("shop", p.ID); got.State != paywire.StateExpired || len(e.first.callsOf("void")) != voids+1 {
		t.Fatalf("expiry: %s, voids %d", got.State, len(e.first.callsOf("void"))-voids)
	}

	// The queue, oldest first, holds only what waits.
	held("shop", "rv-4")
	q, err := e.s.ReviewQueue(ctx, "", 10)
	if err != nil || len(q) != 1 || q[0].MerchantReference != "rv-4" {
		t.Errorf("queue %v, %v", q, err)
	}
}

// TestReviewOfABackendPayment: a backend payment held for review waits
// before any provider; approving sends it to its providers.
func TestReviewOfABackendPayment(t *testing.T) {
	t.Parallel()
	route := routeOf(t)
	first, second := newFake(route[0]), newFake(route[1])
	first.setScript(answers(sale))
	second.setScript(answers(sale))
	e := newEnv(t, withProviders(first, second))
	src := paidCard(e)
	e.pin.risk = reviewRisk
	p, err := e.s.Create(ctx, "shop", "", backend("rb-1", src.ID))
	if err != nil || p.State != paywire.StateReview || len(first.callsOf("pay")) != 0 {
		t.Fatalf("created: %+v, %v, calls %d", p, err, len(first.callsOf("pay")))
	}
	got, err := e.s.Review(ctx, "shop", p.ID, true, operator, "payout checked")
	if err != nil || got.State != paywire.StateCompleted || len(first.callsOf("pay")) != 1 {
		t.Fatalf("approved: %+v, %v, calls %d", got, err, len(first.callsOf("pay")))
	}
}

// TestReviewOfMoneyIn: a bank payment pays at once, so risk's review holds
// it after the money came in: approving completes it, declining refunds it
// in full (once, under one key, however often the decision is retried),
// the merchant cancelling refunds it, and nobody deciding completes it.
func TestReviewOfMoneyIn(t *testing.T) {
	t.Parallel()
	e := newHosted(t)
	e.pin.risk = reviewRisk
	n := 0
	held := func(ref string) *paywire.Payment {
		t.Helper()
		o, err := e.s.Submit(ctx, e.startFor(t, "shop", ref), bank())
		if err != nil {
			t.Fatal(err)
		}
		atts, _ := e.db.Attempts(ctx, "shop", o.PaymentID)
		n++
		ev := adapters.WebhookEvent{ID: fmt.Sprintf("evt-in-%d", n), Type: adapters.EventCaptured, Reference: atts[0].Reference, Amount: 5000}
		if err := e.webhook("sandbox-bank", ev); err != nil {
			t.Fatal(err)
		}
		p := e.get("shop", o.PaymentID)
		if p.State != paywire.StateReview || p.Captured != 5000 || len(e.followUps(p, paywire.FollowUpReviewExpiry)) != 1 {
			t.Fatalf("%s: %s; want held in review with the money in and an expiry", ref, describe(p))
		}
		return p
	}

	p := held("in-1")
	got, err := e.s.Review(ctx, "shop", p.ID, true, operator, "known customer")
	if err != nil || got.State != paywire.StateCompleted || got.Captured != 5000 || got.Refunded != 0 {
		t.Fatalf("approve: %v, %v", got, err)
	}

	p = held("in-2")
	refunds := len(e.bank.callsOf("refund"))
	got, err = e.s.Review(ctx, "shop", p.ID, false, operator, "stolen account")
	if err != nil || got.State != paywire.StateRefunded || got.Refunded != 5000 || len(e.bank.callsOf("refund")) != refunds+1 {
		t.Fatalf("decline: %v, %v, refunds %d", got, err, len(e.bank.callsOf("refund"))-refunds)
	}
	if c := e.bank.callsOf("refund")[refunds]; c.Amount != 5000 || !strings.HasPrefix(c.Key, p.ID+"-refund-") {
		t.Errorf("the refund: %+v; want 5000 under the payment's refund key", c)
	}

	p = held("in-3")
	got, err = e.s.Cancel(ctx, "shop", "", p.ID)
	if err != nil || got.State != paywire.StateRefunded || got.Refunded != 5000 {
		t.Fatalf("cancel: %v, %v", got, err)
	}

	p = held("in-4")
	e.runWorker(paywire.DefaultAuthorizationTTL + 1)
	if got := e.get("shop", p.ID); got.State != paywire.StateCompleted || got.Captured != 5000 {
		t.Fatalf("expiry: %s; want completed with the money kept", describe(got))
	}
}
