package api_test

import (
	"bytes"
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/api"
	"github.com/paywire/paywire/bundles"
	"github.com/paywire/paywire/engine"
	"github.com/paywire/paywire/paywiretest"
	"github.com/paywire/paywire/policies"
	"github.com/paywire/paywire/rules"
)

// TestOperatorPolicyDiff: what changes between two revisions, through the
// operator API: from ?with= to the revision in the path, with the Rego
// files' unified diffs, the rules and the data that differ, in the
// document's terms; an unknown revision is not found, a missing or
// malformed ?with= refused.
func TestOperatorPolicyDiff(t *testing.T) {
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

	files, err := engine.BundleFiles(policies.FS, rules.FS)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Push(ctx, files, "ann", "first"); err != nil {
		t.Fatal(err)
	}
	edit := func(path, from, to string) {
		t.Helper()
		if !bytes.Contains(files[path], []byte(from)) {
			t.Fatalf("%s has no %q", path, from)
		}
		files[path] = bytes.Replace(files[path], []byte(from), []byte(to), 1)
	}
	edit("risk.rego", "package paywire.risk\n", "package paywire.risk\n\n# second\n")
	edit("rules/risk/data.yaml", "{score: 100, reason: blocked_bin}", "{score: 90, reason: blocked_bin}")
	edit("paywire/lists/data.yaml", `"510999": true`, `"510998": true`)
	if _, err := svc.Push(ctx, files, "ann", "second"); err != nil {
		t.Fatal(err)
	}

	st, out := operatorCall(t, srv, operatorToken, "GET", "/api/v1/operator/policy/bundles/2/diff?with=1", "")
	if st != 200 {
		t.Fatalf("diff: %d %v", st, out)
	}
	from, _ := out["from"].(map[string]any)
	to, _ := out["to"].(map[string]any)
	if from["revision"] != 1.0 || to["revision"] != 2.0 || from["hash"] == to["hash"] {
		t.Errorf("from %v to %v", from, to)
	}
	fs, _ := out["files"].([]any)
	var rego map[string]any
	for _, f := range fs {
		if f := f.(map[string]any); f["path"] == "risk.rego" {
			rego = f
		}
	}
	if len(fs) != 3 || rego["change"] != "changed" || rego["kind"] != "rego" || !strings.Contains(rego["unified"].(string), "\n+# second\n") {
		t.Errorf("files: %v", fs)
	}
	rs, _ := out["rules"].([]any)
	if len(rs) != 1 {
		t.Fatalf("rules: %v", rs)
	}
	rule := rs[0].(map[string]any)
	oldRule, _ := rule["old"].(map[string]any)
	newRule, _ := rule["new"].(map[string]any)
	if rule["point"] != "risk" || rule["id"] != "blocked_bin" || rule["change"] != "changed" ||
		oldRule["effect"].(map[string]any)["score"] != 100.0 || newRule["effect"].(map[string]any)["score"] != 90.0 || newRule["position"] != 1.0 {
		t.Errorf("rule: %v", rule)
	}
	ds, _ := out["data"].([]any)
	if len(ds) != 2 || ds[0].(map[string]any)["path"] != `data.paywire.lists.blocked_bins["510998"]` || ds[0].(map[string]any)["change"] != "added" {
		t.Errorf("data: %v", ds)
	}
	// The other way round, what the rule was is what it becomes.
	_, back := operatorCall(t, srv, operatorToken, "GET", "/api/v1/operator/policy/bundles/1/diff?with=2", "")
	if rs, _ := back["rules"].([]any); len(rs) != 1 || rs[0].(map[string]any)["new"].(map[string]any)["effect"].(map[string]any)["score"] != 100.0 {
		t.Errorf("1 with 2: %v", back["rules"])
	}

	doc, routes := loadOperatorSpec(t, srv.URL)
	spec := &operatorSpec{srv: srv, doc: doc, routes: routes}
	const diff = "/api/v1/operator/policy/bundles/2/diff"
	for _, c := range []operatorSpecCall{
		{method: "GET", path: diff + "?with=1", status: 200},
		{method: "GET", path: diff + "?with=2", status: 200},
		{method: "GET", path: diff + "?with=7", status: 404, code: paywire.ENOTFOUND},
		{method: "GET", path: "/api/v1/operator/policy/bundles/7/diff?with=1", status: 404, code: paywire.ENOTFOUND},
		{method: "GET", path: diff, status: 400, code: paywire.EINVALID, docRejects: true},
		{method: "GET", path: diff + "?with=x", status: 400, code: paywire.EINVALID, docRejects: true},
		{method: "GET", path: diff + "?with=0", status: 400, code: paywire.EINVALID},
		{method: "GET", path: diff + "?with=1", token: "-", status: 401, code: paywire.EUNAUTHORIZED, docRejects: true},
	} {
		spec.call(t, c)
	}
}
