package api_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"net/http/httptest"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/api"
	"github.com/paywire/paywire/bundles"
	"github.com/paywire/paywire/engine"
	"github.com/paywire/paywire/paywiretest"
	"github.com/paywire/paywire/policies"
	"github.com/paywire/paywire/rules"
)

// TestOperatorBacktests: the backtests read through the operator API, a
// finished one with its report, as the document describes them.
func TestOperatorBacktests(t *testing.T) {
	core := paywiretest.New(t)
	ctx := context.Background()
	if err := core.DB.CreateAdminUser(ctx, &paywire.AdminUser{Username: "ann", PasswordHash: "x", Roles: []string{"risk_analyst"}}); err != nil {
		t.Fatal(err)
	}
	svc := &bundles.Service{Store: core.DB, Users: core.DB}
	r := chi.NewRouter()
	(&api.Operator{Policies: svc, Token: operatorToken}).Mount(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)

	st, out := operatorCall(t, srv, operatorToken, "GET", "/api/v1/operator/policy/backtests", "")
	if st != 200 || len(out["backtests"].([]any)) != 0 {
		t.Fatalf("no backtests: %d %v", st, out)
	}

	// Four risk decisions of 1,000.00 to 4,000.00 EUR; the candidate
	// reviews from 3,000.00.
	files, err := engine.BundleFiles(policies.FS, rules.FS)
	if err != nil {
		t.Fatal(err)
	}
	e := engine.New(1)
	if _, err := e.Activate(ctx, files); err != nil {
		t.Fatal(err)
	}
	e.Recorder = engine.StoreRecorder{Store: core.DB}
	from := time.Now().Add(-time.Minute)
	for i := int64(1); i <= 4; i++ {
		if _, err := e.Risk(ctx, engine.RiskInput{Request: engine.RiskRequest{MerchantID: "shop", Kind: "deposit",
			Amount: engine.Money{Minor: i * 100000, Currency: "EUR", Exponent: 2}, Method: "card",
			Card:     engine.Card{Brand: "visa", BIN: "411111", Last4: "1111", ExpiryMonth: 12, ExpiryYear: 2030, Fingerprint: "fp"},
			Customer: engine.Customer{ID: "c", Country: "DE", Language: "de"}, Time: time.Now()}}); err != nil {
			t.Fatal(err)
		}
	}
	files["rules/risk/data.yaml"] = append(bytes.Clone(files["rules/risk/data.yaml"]), `
  - id: candidate_amount
    group: amount
    when: request.amount.minor >= 300000 && request.amount.currency == "EUR"
    effect: {score: 60, reason: candidate_amount}
`...)
	b, err := svc.Push(ctx, files, "ann", "review from 3,000.00")
	if err != nil {
		t.Fatal(err)
	}
	job, err := svc.StartBacktest(ctx, "ann", paywire.Backtest{Revision: b.Revision, From: from, To: time.Now().Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	st, out = operatorCall(t, srv, operatorToken, "GET", "/api/v1/operator/policy/backtests/"+job.ID, "")
	if st != 200 || out["state"] != "queued" || out["total"] != 4.0 || out["done"] != 0.0 {
		t.Fatalf("queued: %d %v", st, out)
	}
	if _, err := (&bundles.BacktestWorker{Store: core.DB, Bundles: core.DB}).RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	st, out = operatorCall(t, srv, operatorToken, "GET", "/api/v1/operator/policy/backtests/"+job.ID, "")
	points, _ := out["report"].(map[string]any)["points"].([]any)
	if st != 200 || out["state"] != "done" || out["done"] != 4.0 || len(points) != 1 {
		t.Fatalf("done: %d %v", st, out)
	}
	// 3,000.00 and 4,000.00 were allowed and are now reviewed.
	risk := points[0].(map[string]any)
	changes := risk["changes"].([]any)
	if risk["point"] != "risk" || risk["changed"] != 2.0 || len(changes) != 1 {
		t.Fatalf("risk: %v", risk)
	}
	if c := changes[0].(map[string]any); c["from"] != "allow" || c["to"] != "review" || c["count"] != 2.0 || len(c["sample"].([]any)) != 2 {
		t.Errorf("the change: %v", c)
	}
	st, out = operatorCall(t, srv, operatorToken, "GET", "/api/v1/operator/policy/backtests", "")
	if list := out["backtests"].([]any); st != 200 || len(list) != 1 || list[0].(map[string]any)["id"] != job.ID {
		t.Errorf("list: %d %v", st, out)
	}

	doc, routes := loadOperatorSpec(t, srv.URL)
	spec := &operatorSpec{srv: srv, doc: doc, routes: routes}
	for _, c := range []operatorSpecCall{
		{method: "GET", path: "/api/v1/operator/policy/backtests", status: 200},
		{method: "GET", path: "/api/v1/operator/policy/backtests/" + job.ID, status: 200},
		{method: "GET", path: "/api/v1/operator/policy/backtests/bt_nope", status: 404, code: paywire.ENOTFOUND},
		{method: "GET", path: "/api/v1/operator/policy/backtests/x", status: 400, code: paywire.EINVALID, docRejects: true},
	} {
		spec.call(t, c)
	}
}
