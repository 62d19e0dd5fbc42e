package api_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/api"
	"github.com/paywire/paywire/bundles"
	"github.com/paywire/paywire/engine"
	"github.com/paywire/paywire/paywiretest"
	"github.com/paywire/paywire/policies"
	"github.com/paywire/paywire/rules"
)

// TestOperatorPolicyShadow: the shadow read through the operator API: the
// running period with its counts by point, and its disagreements in
// pages, filtered; answers as the document describes them.
func TestOperatorPolicyShadow(t *testing.T) {
	core := paywiretest.New(t)
	ctx := context.Background()
	if err := core.DB.CreateAdminUser(ctx, &paywire.AdminUser{Username: "ann", PasswordHash: "x", Roles: []string{"risk_analyst"}}); err != nil {
		t.Fatal(err)
	}
	svc := &bundles.Service{Store: core.DB, Users: core.DB, Shadows: core.DB}
	r := chi.NewRouter()
	(&api.Operator{Policies: svc, Token: operatorToken}).Mount(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)

	st, out := operatorCall(t, srv, operatorToken, "GET", "/api/v1/operator/policy/shadow", "")
	if st != 200 || out["shadow"] != nil || len(out["counts"].([]any)) != 0 {
		t.Fatalf("before any shadow: %d %v", st, out)
	}
	files, err := engine.BundleFiles(policies.FS, rules.FS)
	if err != nil {
		t.Fatal(err)
	}
	b, err := svc.Push(ctx, files, "ann", "candidate")
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Submit(ctx, b.Revision, "ann"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.StartShadow(ctx, b.Revision, "ann"); err != nil {
		t.Fatal(err)
	}
	var rows []paywire.ShadowDisagreement
	for i := range 5 {
		point := engine.PointRisk
		if i == 0 {
			point = engine.PointRouting
		}
		rows = append(rows, paywire.ShadowDisagreement{DecisionID: fmt.Sprintf("dec_%d", i), PaymentID: fmt.Sprintf("pay_%d", i), MerchantID: "shop",
			Point: point, LiveRevision: "builtin", LiveOutcome: "allow", ShadowRevision: "1", ShadowOutcome: "review", At: time.Now()})
	}
	counts := []paywire.ShadowCount{{Point: "risk", Result: "agree", N: 40}, {Point: "risk", Result: "disagree", N: 4},
		{Point: "routing", Result: "disagree", N: 1}, {Point: "risk", Result: "dropped", N: 3}}
	if err := core.DB.RecordShadow(ctx, 1, counts, rows); err != nil {
		t.Fatal(err)
	}

	st, out = operatorCall(t, srv, operatorToken, "GET", "/api/v1/operator/policy/shadow", "")
	sh, _ := out["shadow"].(map[string]any)
	cs, _ := out["counts"].([]any)
	if st != 200 || sh["revision"] != 1.0 || sh["running"] != true || sh["startedBy"] != "ann" || len(cs) != 2 {
		t.Fatalf("status: %d %v", st, out)
	}
	if risk := cs[0].(map[string]any); risk["point"] != "risk" || risk["agree"] != 40.0 || risk["disagree"] != 4.0 || risk["dropped"] != 3.0 {
		t.Errorf("risk counts: %v", risk)
	}

	st, out = operatorCall(t, srv, operatorToken, "GET", "/api/v1/operator/policy/shadow/disagreements?point=risk&limit=3", "")
	ds, _ := out["disagreements"].([]any)
	if st != 200 || len(ds) != 3 || ds[0].(map[string]any)["decisionId"] != "dec_4" || out["next"] == nil {
		t.Fatalf("first page: %d %v", st, out)
	}
	next := int64(out["next"].(float64))
	st, out = operatorCall(t, srv, operatorToken, "GET", fmt.Sprintf("/api/v1/operator/policy/shadow/disagreements?point=risk&limit=3&before=%d", next), "")
	ds, _ = out["disagreements"].([]any)
	if st != 200 || len(ds) != 1 || ds[0].(map[string]any)["decisionId"] != "dec_1" || out["next"] != nil {
		t.Fatalf("second page: %d %v", st, out)
	}

	doc, routes := loadOperatorSpec(t, srv.URL)
	spec := &operatorSpec{srv: srv, doc: doc, routes: routes}
	for _, c := range []operatorSpecCall{
		{method: "GET", path: "/api/v1/operator/policy/shadow", status: 200},
		{method: "GET", path: "/api/v1/operator/policy/shadow?shadow=1", status: 200},
		{method: "GET", path: "/api/v1/operator/policy/shadow?shadow=9", status: 404, code: paywire.ENOTFOUND},
		{method: "GET", path: "/api/v1/operator/policy/shadow?shadow=x", status: 400, code: paywire.EINVALID, docRejects: true},
		{method: "GET", path: "/api/v1/operator/policy/shadow/disagreements", status: 200},
		{method: "GET", path: "/api/v1/operator/policy/shadow/disagreements?merchantId=shop&limit=2", status: 200},
		{method: "GET", path: "/api/v1/operator/policy/shadow/disagreements?point=pricing", status: 400, code: paywire.EINVALID, docRejects: true},
		{method: "GET", path: "/api/v1/operator/policy/shadow/disagreements?limit=0", status: 400, code: paywire.EINVALID, docRejects: true},
		{method: "GET", path: "/api/v1/operator/policy/shadow", token: "-", status: 401, code: paywire.EUNAUTHORIZED, docRejects: true},
	} {
		spec.call(t, c)
	}
}
