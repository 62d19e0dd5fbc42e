package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/api"
	"github.com/paywire/paywire/bundles"
	"github.com/paywire/paywire/engine"
	"github.com/paywire/paywire/paywiretest"
	"github.com/paywire/paywire/store/storetest"
)

// TestOperatorDecisionExport: a payment's decisions as the operator API
// exports them, as its document describes: the decision with its bundle
// revision and hash and its rules, a file to save with download=1, 404 for
// an unknown payment and for another merchant's, and every export in the
// audit log as operator:api.
func TestOperatorDecisionExport(t *testing.T) {
	paywiretest.ForEachDatabase(t, func(t *testing.T, core *paywiretest.Env) {
		ctx := context.Background()
		r := chi.NewRouter()
		(&api.Operator{Merchants: core.DB, Token: operatorToken, Explainer: &bundles.Explainer{
			Payments: core.DB, Decisions: core.DB, Bundles: core.DB, Audit: core.DB, Running: core.Engine.Active}}).Mount(r)
		srv := httptest.NewServer(r)
		t.Cleanup(srv.Close)
		core.Merchant("shop", "")
		core.Merchant("other", "")
		p := storetest.SeedPayment(t, core.DB, "shop", "export-1")
		in := engine.RiskInput{Request: engine.RiskRequest{PaymentID: p.ID, MerchantID: "shop", Kind: "deposit",
			Amount: engine.Money{Minor: 1000, Currency: "EUR", Exponent: 2}, Method: "card",
			Card:     engine.Card{Brand: "visa", BIN: "401288", Last4: "1881", ExpiryMonth: 12, ExpiryYear: 2030, Fingerprint: "fp"},
			Customer: engine.Customer{ID: "u1", Country: "DE", Language: "de"}, Time: core.Clock.Now()},
			Features: engine.Features{CardCount1h: engine.Known(1)}}
		if _, err := core.Engine.Risk(ctx, in); err != nil {
			t.Fatal(err)
		}

		doc, routes := loadOperatorSpec(t, srv.URL)
		spec := &operatorSpec{srv: srv, doc: doc, routes: routes}
		path := "/api/v1/operator/merchants/shop/payments/" + p.ID + "/decisions"
		out := spec.call(t, operatorSpecCall{method: "GET", path: path, status: 200})
		decisions, _ := out["decisions"].([]any)
		if out["format"] != "paywire.decisions/v1" || out["exportedBy"] != "operator:api" || len(decisions) != 1 {
			t.Fatalf("export: %v", out)
		}
		d := decisions[0].(map[string]any)
		bundle, _ := d["bundle"].(map[string]any)
		rules, _ := d["rulesFired"].([]any)
		active := core.Engine.Active()
		if d["point"] != "risk" || d["outcome"] != "allow" || bundle["revision"] != active.Revision || bundle["hash"] != active.Hash ||
			bundle["inRegistry"] != false || len(rules) != 1 || rules[0].(map[string]any)["score"] != 15.0 {
			t.Errorf("the decision: %v", d)
		}
		if pay, _ := out["payment"].(map[string]any); pay["id"] != p.ID || pay["reference"] != "export-1" || pay["amount"] != 1000.0 {
			t.Errorf("the payment: %v", out["payment"])
		}
		for _, c := range []operatorSpecCall{
			{method: "GET", path: path + "?download=yes", status: 400, code: paywire.EINVALID, docRejects: true},
			{method: "GET", path: "/api/v1/operator/merchants/shop/payments/pay_unknown/decisions", status: 404, code: paywire.ENOTFOUND},
			{method: "GET", path: "/api/v1/operator/merchants/other/payments/" + p.ID + "/decisions", status: 404, code: paywire.ENOTFOUND},
			{method: "GET", path: path, token: "-", status: 401, code: paywire.EUNAUTHORIZED, docRejects: true},
		} {
			spec.call(t, c)
		}

		req, _ := http.NewRequest("GET", srv.URL+path+"?download=1", nil)
		req.Header.Set("Authorization", "Bearer "+operatorToken)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(res.Body)
		res.Body.Close()
		var saved bundles.DecisionExport
		if err := json.Unmarshal(raw, &saved); err != nil || len(saved.Decisions) != 1 {
			t.Fatalf("download: %v %s", err, raw)
		}
		if cd := res.Header.Get("Content-Disposition"); cd != `attachment; filename="paywire-decisions-`+p.ID+`.json"` {
			t.Errorf("Content-Disposition %q", cd)
		}

		// Two exports, two audit entries; the refused requests wrote none.
		entries, err := core.DB.AuditEntries(ctx, 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		var exports []paywire.AuditEntry
		for _, e := range entries {
			if e.Action == "payment.decisions_export" {
				exports = append(exports, e)
			}
		}
		var details map[string]any
		if len(exports) > 0 {
			_ = json.Unmarshal(exports[0].Details, &details)
		}
		if len(exports) != 2 || exports[0].Actor != "operator:api" || exports[0].Target != p.ID || exports[0].ID != saved.AuditID ||
			details["merchantId"] != "shop" || details["decisions"] != 1.0 {
			t.Errorf("audit: %+v %v", exports, details)
		}
	})

	// A node without the explainer says so.
	r := chi.NewRouter()
	(&api.Operator{Token: operatorToken}).Mount(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	if st, out := operatorCall(t, srv, operatorToken, "GET", "/api/v1/operator/merchants/shop/payments/pay_x/decisions", ""); st != 503 {
		t.Errorf("without an explainer: %d %v", st, out)
	}
}
