package api_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/api"
	"github.com/paywire/paywire/credential"
	"github.com/paywire/paywire/engine"
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
		Merchants: core.DB, Reviews: core.Payments, Decisions: core.DB, ActiveBundle: core.Engine.Active, Token: operatorToken}).Mount(r)
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

// TestOperatorExplainRisk: a payment's recorded risk decision, broken down
// by rule with what each read and the features known.
func TestOperatorExplainRisk(t *testing.T) {
	core := paywiretest.New(t)
	r := chi.NewRouter()
	(&api.Operator{Merchants: core.DB, Decisions: core.DB, ActiveBundle: core.Engine.Active, Token: operatorToken}).Mount(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	core.Merchant("shop", "")
	p := storetest.SeedPayment(t, core.DB, "shop", "explain-1")
	path := "/api/v1/operator/merchants/shop/payments/" + p.ID + "/risk"
	if st, _ := operatorCall(t, srv, operatorToken, "GET", path, ""); st != 404 {
		t.Errorf("no decision yet: %d; want 404", st)
	}
	in := engine.RiskInput{Request: engine.RiskRequest{PaymentID: p.ID, MerchantID: "shop", Kind: "deposit",
		Amount: engine.Money{Minor: 4999, Currency: "EUR", Exponent: 2}, Method: "card",
		Card:     engine.Card{Brand: "visa", BIN: "401288", Last4: "1881", ExpiryMonth: 12, ExpiryYear: 2030, Fingerprint: "fp"},
		Customer: engine.Customer{ID: "u1", Country: "DE", Language: "de"}, Time: core.Clock.Now()},
		Features: engine.Features{CardCount1h: engine.Known(1)}}
	if _, err := core.Engine.Risk(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	st, out := operatorCall(t, srv, operatorToken, "GET", path, "")
	rules, _ := out["rules"].([]any)
	features, _ := out["features"].(map[string]any)
	if st != 200 || out["score"] != 15.0 || len(rules) != 1 || rules[0].(map[string]any)["id"] != "watched_bin" || features["card_count_1h"] != 1.0 || len(features) != 1 {
		t.Errorf("explanation: %d %v", st, out)
	}
	if st, _ := operatorCall(t, srv, operatorToken, "GET", "/api/v1/operator/merchants/other/payments/"+p.ID+"/risk", ""); st != 404 {
		t.Errorf("another merchant's payment: %d; want 404", st)
	}
}

// TestOperatorMerchantRiskProfile: a merchant is created with one of the
// active bundle's risk profiles, shown back; a name the bundle lacks is
// refused, and nothing is created.
func TestOperatorMerchantRiskProfile(t *testing.T) {
	core := paywiretest.New(t)
	k, _ := credential.NewKeyed(credential.DevelopmentKey)
	r := chi.NewRouter()
	(&api.Operator{Credentials: &credential.Manager{Merchants: core.DB, Audit: core.DB, Keyed: k, Now: core.Clock.Now},
		Merchants: core.DB, ActiveBundle: core.Engine.Active, Token: operatorToken}).Mount(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)

	st, out := operatorCall(t, srv, operatorToken, "POST", "/api/v1/operator/merchants", `{"id": "travel", "name": "Travel", "riskProfile": "high_ticket", "withdrawalApprovals": 2}`)
	m, _ := out["merchant"].(map[string]any)
	if st != 201 || m["riskProfile"] != "high_ticket" || m["withdrawalApprovals"] != float64(2) {
		t.Fatalf("create: %d %v", st, out)
	}
	if back, err := core.DB.Merchant(ctx, "travel"); err != nil || back.RiskProfile != "high_ticket" || back.WithdrawalApprovals != 2 {
		t.Fatalf("stored: %+v, %v", back, err)
	}
	st, out = operatorCall(t, srv, operatorToken, "POST", "/api/v1/operator/merchants", `{"id": "lost", "name": "Lost", "riskProfile": "lenient"}`)
	if st != 400 || !strings.Contains(fmt.Sprint(out), `no risk profile "lenient"`) {
		t.Fatalf("unknown profile: %d %v", st, out)
	}
	if _, err := core.DB.Merchant(ctx, "lost"); paywire.ErrorCode(err) != paywire.ENOTFOUND {
		t.Errorf("a refused merchant was stored: %v", err)
	}
	st, out = operatorCall(t, srv, operatorToken, "POST", "/api/v1/operator/merchants", `{"id": "many", "name": "Many", "withdrawalApprovals": 3}`)
	if st != 400 || !strings.Contains(fmt.Sprint(out), "withdrawal approvals must be 0, 1 or 2") {
		t.Fatalf("three approvals: %d %v", st, out)
	}
}
