package payment_test

import (
	"strings"
	"testing"
	"time"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/payment"
)

func manual(ref string, validFor time.Duration) payment.ManualRequest {
	return payment.ManualRequest{MerchantReference: ref, Kind: paywire.KindDeposit, Amount: money(5000), EndUser: endUser("u1"), ValidFor: validFor}
}

// TestManualPayment: an operator's payment has a link that opens the
// hosted pages until it expires; the end user pays it once; its history
// names the operator; the merchant is notified as for its own payments.
func TestManualPayment(t *testing.T) {
	t.Parallel()
	e := newHosted(t)
	link, err := e.s.StartManual(ctx, alice, "shop", "manual:m-1", manual("m-1", 48*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	prefix := "http://localhost:8080" + payment.LinkPath
	if !strings.HasPrefix(link.URL, prefix) || !link.ExpiresAt.Equal(t0.Add(48*time.Hour)) {
		t.Fatalf("link %+v", link)
	}
	token := strings.TrimPrefix(link.URL, prefix)
	p := e.get("shop", link.PaymentID)
	if evs := e.events(p); evs[0].Source != alice || p.ReturnURLs != (paywire.ReturnURLs{}) {
		t.Errorf("created by %q with return URLs %+v", evs[0].Source, p.ReturnURLs)
	}
	if fs := e.followUps(p, paywire.FollowUpPaymentExpiry); len(fs) != 1 || !fs[0].DueAt.Equal(link.ExpiresAt) {
		t.Errorf("expiry follow-ups %+v", fs)
	}
	if n := e.outbox(p); len(n) == 0 {
		t.Error("the merchant was not told of the creation")
	}
	if as, err := e.db.AuditEntries(ctx, 0, 5); err != nil || len(as) == 0 || as[0].Action != "payment.create_manual" ||
		as[0].Actor != string(alice) || as[0].Target != p.ID {
		t.Errorf("audit %+v, %v", as, err)
	}

	// The same form sent again gets the same link; another request under
	// the key is refused.
	again, err := e.s.StartManual(ctx, alice, "shop", "manual:m-1", manual("m-1", 48*time.Hour))
	if err != nil || *again != *link {
		t.Errorf("the same request again: %+v, %v", again, err)
	}
	_, err = e.s.StartManual(ctx, alice, "shop", "manual:m-1", manual("m-1", 24*time.Hour))
	wantCode(t, "another request under the key", err, paywire.EIDEMPOTENCY)

	// A day later the end user opens it and pays; the pages show the
	// outcome themselves (no return URL).
	e.clock.Add(24 * time.Hour)
	c, err := e.s.OpenRedirect(ctx, token)
	if err != nil || c.State != paywire.StateCreated || len(c.Methods) == 0 {
		t.Fatalf("open after a day: %+v, %v", c, err)
	}
	o, err := e.s.Submit(ctx, token, card("4242424242424242"))
	if err != nil || o.State != paywire.StateAuthorized || o.RedirectURL != "" {
		t.Fatalf("paid: %+v, %v", o, err)
	}
	if evs := e.events(e.get("shop", p.ID)); evs[1].Source != paywire.ActorEndUser {
		t.Errorf("submitted by %q", evs[1].Source)
	}
	// Single use: the link pays once, then shows where the payment stands.
	if _, err := e.s.Submit(ctx, token, card("4242424242424242")); paywire.ErrorCode(err) != paywire.ECONFLICT {
		t.Errorf("a second payment through the link: %v", err)
	}
	if c, err := e.s.OpenRedirect(ctx, token); err != nil || c.State != paywire.StateAuthorized || len(c.Methods) != 0 {
		t.Errorf("the link after paying: %+v, %v", c, err)
	}
}

// TestManualPaymentExpires: a link nobody follows expires with its
// payment.
func TestManualPaymentExpires(t *testing.T) {
	t.Parallel()
	e := newHosted(t)
	link, err := e.s.StartManual(ctx, alice, "shop", "", manual("m-2", time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	token := link.URL[strings.LastIndex(link.URL, "/")+1:]
	e.runWorker(time.Hour + time.Second)
	if p := e.get("shop", link.PaymentID); p.State != paywire.StateExpired {
		t.Fatalf("after its link expired: %s", p.State)
	}
	_, err = e.s.OpenRedirect(ctx, token)
	wantCode(t, "an expired link", err, paywire.EEXPIRED)
}

// TestManualPaymentRefusals: bad requests are refused with a reason and
// create nothing.
func TestManualPaymentRefusals(t *testing.T) {
	t.Parallel()
	e := newHosted(t)
	for _, tt := range []struct {
		note string
		who  paywire.Actor
		req  payment.ManualRequest
	}{
		{"a link shorter than an hour", alice, manual("r-1", 30*time.Minute)},
		{"a link longer than a week", alice, manual("r-2", 8*24*time.Hour)},
		{"nobody", "", manual("r-3", time.Hour)},
		{"no end user", alice, func() payment.ManualRequest { r := manual("r-4", time.Hour); r.EndUser = paywire.EndUser{}; return r }()},
		{"an unknown method", alice, func() payment.ManualRequest { r := manual("r-5", time.Hour); r.PaymentMethod = "cash"; return r }()},
		{"no method for the country", alice, func() payment.ManualRequest { r := manual("r-6", time.Hour); r.EndUser.Country = "AQ"; return r }()},
	} {
		_, err := e.s.StartManual(ctx, tt.who, "shop", "", tt.req)
		wantCode(t, tt.note, err, paywire.EINVALID)
		if _, err := e.db.PaymentByReference(ctx, "shop", tt.req.MerchantReference); paywire.ErrorCode(err) != paywire.ENOTFOUND {
			t.Errorf("%s: a payment was created (%v)", tt.note, err)
		}
	}
	if _, err := e.s.StartManual(ctx, alice, "shop", "", manual("taken", time.Hour)); err != nil {
		t.Fatal(err)
	}
	_, err := e.s.StartManual(ctx, bob, "shop", "", manual("taken", time.Hour))
	wantCode(t, "a reference taken", err, paywire.ECONFLICT)
	_, err = e.s.StartManual(ctx, alice, "nobody", "", manual("m-9", time.Hour))
	wantCode(t, "an unknown merchant", err, paywire.ENOTFOUND)
}

// TestManualPaymentReview: risk's review of a manual card payment holds it
// after the authorization, as for any end user's payment (the card details
// are not kept, so it is never held before the provider).
func TestManualPaymentReview(t *testing.T) {
	t.Parallel()
	e := newHosted(t)
	e.pin.risk = reviewRisk
	link, err := e.s.StartManual(ctx, alice, "shop", "", manual("m-3", time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	o, err := e.s.Submit(ctx, link.URL[strings.LastIndex(link.URL, "/")+1:], card("4242424242424242"))
	if err != nil || o.State != paywire.StateReview {
		t.Fatalf("%+v, %v", o, err)
	}
	if p := e.get("shop", link.PaymentID); p.Provider == "" {
		t.Error("held for review before any provider: the card details are lost")
	}
}
