package payment_test

import (
	"context"
	"testing"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/engine"
)

// The provider loop's cascade rules hold whatever the route: at most three
// providers are tried for one payment, however many the routing decision
// lists; a hard decline is final (hostedDeclineAndFallback); and the loop
// stops at the first approval, so a payment is never authorized twice.
func TestCascadeIsBounded(t *testing.T) {
	t.Parallel()
	third, fourth := newFake("acquirer-c"), newFake("acquirer-d")
	e := newHosted(t, third, fourth)
	route := []string{e.first.name, e.second.name, third.name, fourth.name}
	e.pin.route = func(ctx context.Context, in engine.RouteInput) (engine.RouteDecision, error) {
		d, err := e.pin.Decider.Route(ctx, in)
		d.Providers = route
		return d, err
	}

	// Declined softly everywhere: three attempts, the fourth provider untouched.
	o, err := e.s.Submit(ctx, e.startFor(t, "shop", "cascade-1"), card("4000000000000366"))
	if err != nil || o.State != paywire.StateRefused {
		t.Fatalf("soft declines everywhere: %+v, %v", o, err)
	}
	atts, _ := e.db.Attempts(ctx, "shop", o.PaymentID)
	if len(atts) != 3 || len(fourth.callsOf("authorize")) != 0 {
		t.Errorf("%d attempts, %d calls to the fourth provider; want 3 and 0", len(atts), len(fourth.callsOf("authorize")))
	}

	// Approved by the first: nobody else is asked.
	before := len(e.second.callsOf("authorize")) + len(third.callsOf("authorize"))
	o, err = e.s.Submit(ctx, e.startFor(t, "shop", "cascade-2"), card("4242424242424242"))
	if err != nil || o.State != paywire.StateAuthorized {
		t.Fatalf("approved: %+v, %v", o, err)
	}
	if atts, _ := e.db.Attempts(ctx, "shop", o.PaymentID); len(atts) != 1 || atts[0].Status != paywire.AttemptApproved ||
		len(e.second.callsOf("authorize"))+len(third.callsOf("authorize")) != before {
		t.Errorf("an approved payment went on to other providers: %+v", atts)
	}
}
