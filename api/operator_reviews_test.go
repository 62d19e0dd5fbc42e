package api_test

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/api"
	"github.com/paywire/paywire/credential"
	"github.com/paywire/paywire/paywiretest"
	"github.com/paywire/paywire/store/storetest"
)

// TestOperatorReviews: the review queue lists payments held for review;
// a decision needs approve or decline and a reason, refuses a payment not
// in review, and is audited with who and why.
func TestOperatorReviews(t *testing.T) {
	core := paywiretest.New(t)
	k, _ := credential.NewKeyed(credential.DevelopmentKey)
	r := chi.NewRouter()
	(&api.Operator{Credentials: &credential.Manager{Merchants: core.DB, Audit: core.DB, Keyed: k, Now: core.Clock.Now},
		Merchants: core.DB, Reviews: core.Payments, Token: operatorToken}).Mount(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	core.Merchant("shop", "")
	p := storetest.SeedPayment(t, core.DB, "shop", "held-1")
	p = core.Move(p, paywire.Move{To: paywire.StateReview})

	st, out := operatorCall(t, srv, operatorToken, "GET", "/api/v1/operator/reviews", "")
	reviews, _ := out["reviews"].([]any)
	if st != 200 || len(reviews) != 1 || reviews[0].(map[string]any)["payment"].(map[string]any)["paymentId"] != p.ID {
		t.Fatalf("queue: %d %v", st, out)
	}
	path := "/api/v1/operator/merchants/shop/payments/" + p.ID + "/review"
	for body, want := range map[string]int{
		`{"decision": "maybe", "reason": "x"}`:               400,
		`{"decision": "decline"}`:                            400,
		`{"decision": "decline", "reason": ""}`:              400,
		`{"decision": "decline", "reason": "x", "extra": 1}`: 400,
	} {
		if st, out := operatorCall(t, srv, operatorToken, "POST", path, body); st != want {
			t.Errorf("%s: %d %v; want %d", body, st, out, want)
		}
	}
	if st, _ := operatorCall(t, srv, operatorToken, "POST", "/api/v1/operator/merchants/other/payments/"+p.ID+"/review", `{"decision": "decline", "reason": "x"}`); st != 404 {
		t.Errorf("another merchant's payment: %d; want 404", st)
	}
	st, out = operatorCall(t, srv, operatorToken, "POST", path, `{"decision": "decline", "reason": "stolen card reported"}`)
	if st != 200 || out["payment"].(map[string]any)["state"] != "REFUSED" {
		t.Fatalf("decline: %d %v", st, out)
	}
	if st, _ := operatorCall(t, srv, operatorToken, "POST", path, `{"decision": "approve", "reason": "changed my mind"}`); st != 409 {
		t.Errorf("a decided payment: %d; want 409", st)
	}
	entries, err := core.DB.AuditEntries(context.Background(), 0, 5)
	if err != nil || len(entries) == 0 || entries[0].Action != "payment.review.decline" || entries[0].Actor != "operator:api" || entries[0].Target != p.ID {
		t.Errorf("audit: %+v, %v", entries, err)
	}
}
