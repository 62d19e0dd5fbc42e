package payment_test

import (
	"encoding/json"
	"testing"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/payment"
)

// TestOperatorActionsAreAudited: an operator's capture, refund and cancel
// name them in the payment's history and write their audit entry, with
// the reason and the payment before and after, in the change's
// transaction: one entry a change, none for a request answered from its
// stored outcome, none without a reason. The merchant's own requests are
// not audited.
func TestOperatorActionsAreAudited(t *testing.T) {
	t.Parallel()
	e := newHosted(t)
	entries := func() []paywire.AuditEntry {
		t.Helper()
		as, err := e.db.AuditEntries(ctx, 0, 50)
		if err != nil {
			t.Fatal(err)
		}
		return as
	}
	o, err := e.s.Submit(ctx, e.startFor(t, "shop", "op-1"), card("4242424242424242"))
	if err != nil || o.State != paywire.StateAuthorized {
		t.Fatalf("%+v, %v", o, err)
	}
	by := payment.Operator{Actor: alice, Reason: "merchant asked by phone"}
	_, err = e.s.CaptureAs(ctx, payment.Operator{Actor: alice}, "shop", "k-0", o.PaymentID, "20.00")
	wantCode(t, "no reason", err, paywire.EINVALID)
	before := len(entries())
	p, err := e.s.CaptureAs(ctx, by, "shop", "k-1", o.PaymentID, "20.00")
	if err != nil || p.State != paywire.StateCompleted {
		t.Fatalf("capture: %+v, %v", p, err)
	}
	as := entries()
	if len(as) != before+1 || as[0].Action != "payment.capture" || as[0].Actor != string(alice) || as[0].Target != p.ID {
		t.Fatalf("audit after the capture: %+v", as[:min(2, len(as))])
	}
	var d struct {
		Reason, Amount string
		Before, After  map[string]any
	}
	if err := json.Unmarshal(as[0].Details, &d); err != nil || d.Reason != by.Reason || d.Amount != "20.00 EUR" ||
		d.Before["state"] != "authorized" || d.After["state"] != "completed" || d.After["captured"] != "20.00 EUR" {
		t.Errorf("details %s", as[0].Details)
	}
	if evs := e.events(p); evs[len(evs)-1].Source != alice {
		t.Errorf("captured by %q", evs[len(evs)-1].Source)
	}
	// The same request again is answered from its outcome: no new entry.
	if _, err := e.s.CaptureAs(ctx, by, "shop", "k-1", o.PaymentID, "20.00"); err != nil || len(entries()) != before+1 {
		t.Errorf("the same capture again: %v, %d entries", err, len(entries())-before)
	}
	if _, err := e.s.RefundAs(ctx, payment.Operator{Actor: bob, Reason: "returned"}, "shop", "k-2", o.PaymentID, "5.00"); err != nil {
		t.Fatal(err)
	}
	if as := entries(); as[0].Action != "payment.refund" || as[0].Actor != string(bob) {
		t.Errorf("refund audit %+v", as[0])
	}
	// The merchant's own refund is not audited.
	n := len(entries())
	if _, err := e.s.Refund(ctx, "shop", "k-3", o.PaymentID, "5.00"); err != nil || len(entries()) != n {
		t.Errorf("the merchant's refund: %v, %d entries", err, len(entries())-n)
	}
}
