package payment_test

import (
	"testing"
	"time"

	"github.com/paywire/paywire"
)

// TestMerchantWorkflowSettings: an auto-capture waits for the merchant's
// capture delay, and a review nobody decides expires after the merchant's
// review expiry rather than the authorization's.
func TestMerchantWorkflowSettings(t *testing.T) {
	t.Parallel()
	e := newHosted(t)
	e.merchant(paywire.Merchant{ID: "later", AutoCapture: true, AutoCaptureMaxScore: 100, CaptureDelay: 2 * time.Hour})
	e.merchant(paywire.Merchant{ID: "quick", ReviewTTL: time.Hour})

	o, err := e.s.Submit(ctx, e.startFor(t, "later", "cd-1"), card("4242424242424242"))
	if err != nil {
		t.Fatal(err)
	}
	p := e.get("later", o.PaymentID)
	fs := e.followUps(p, paywire.FollowUpCapture)
	if p.State != paywire.StateAuthorized || len(fs) != 1 || !fs[0].DueAt.Equal(p.UpdatedAt.Add(2*time.Hour)) {
		t.Fatalf("after the authorization: %s, capture due %v", p.State, fs)
	}
	e.runWorker(time.Hour)
	if got := e.get("later", p.ID); got.State != paywire.StateAuthorized {
		t.Fatalf("an hour later: %s; the capture waits two", got.State)
	}
	e.runWorker(time.Hour + time.Second)
	if got := e.get("later", p.ID); got.State != paywire.StateCompleted {
		t.Fatalf("after the capture delay: %s", got.State)
	}

	e.pin.risk = reviewRisk
	o, err = e.s.Submit(ctx, e.startFor(t, "quick", "rt-1"), card("4242424242424242"))
	if err != nil {
		t.Fatal(err)
	}
	if got := e.get("quick", o.PaymentID); got.State != paywire.StateReview {
		t.Fatalf("held: %s", got.State)
	}
	e.runWorker(time.Hour + time.Second)
	if got := e.get("quick", o.PaymentID); got.State != paywire.StateExpired {
		t.Fatalf("an hour in review: %s; want expired by the merchant's review expiry", got.State)
	}
}

func TestMerchantWorkflowSettingsValidated(t *testing.T) {
	for _, m := range []paywire.Merchant{
		{ID: "a", Name: "A", CaptureDelay: -time.Second},
		{ID: "b", Name: "B", CaptureDelay: paywire.DefaultAuthorizationTTL},
		{ID: "c", Name: "C", AuthorizationTTL: time.Hour, CaptureDelay: 2 * time.Hour},
		{ID: "d", Name: "D", ReviewTTL: 32 * 24 * time.Hour},
	} {
		if err := m.Validate(); paywire.ErrorCode(err) != paywire.EINVALID {
			t.Errorf("%+v: %v", m, err)
		}
	}
	m := paywire.Merchant{AuthorizationTTL: 24 * time.Hour, ReviewTTL: 48 * time.Hour}
	if m.ReviewExpiry() != 24*time.Hour {
		t.Errorf("a review outliving the authorization: %s", m.ReviewExpiry())
	}
}
