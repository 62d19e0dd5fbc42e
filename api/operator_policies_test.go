package api_test

import (
	"bytes"
	"context"
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
	"github.com/paywire/paywire/policies"
	"github.com/paywire/paywire/rules"
)

// TestOperatorPolicyRegistry: the registry read through the operator API:
// the revisions and activations, one revision with its files, and its
// archive as nodes load it (signed once approved with a key).
func TestOperatorPolicyRegistry(t *testing.T) {
	core := paywiretest.New(t)
	ctx := context.Background()
	for name, roles := range map[string][]string{"ann": {"risk_analyst"}, "carl": {"compliance"}, "ada": {"admin"}} {
		if err := core.DB.CreateAdminUser(ctx, &paywire.AdminUser{Username: name, PasswordHash: "x", Roles: roles}); err != nil {
			t.Fatal(err)
		}
	}
	svc := &bundles.Service{Store: core.DB, Users: core.DB, Signing: &bundles.SigningKey{Key: "registry-test-secret", Algorithm: "HS256", KeyID: "k1"}}
	r := chi.NewRouter()
	(&api.Operator{Policies: svc, Token: operatorToken}).Mount(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)

	st, out := operatorCall(t, srv, operatorToken, "GET", "/api/v1/operator/policy/bundles", "")
	if st != 200 || out["active"] != 0.0 || len(out["bundles"].([]any)) != 0 {
		t.Fatalf("an empty registry: %d %v", st, out)
	}
	files, err := engine.BundleFiles(policies.FS, rules.FS)
	if err != nil {
		t.Fatal(err)
	}
	b, err := svc.Push(ctx, files, "ann", "first")
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Submit(ctx, b.Revision, "ann"); err != nil {
		t.Fatal(err)
	}
	if err := svc.Approve(ctx, b.Revision, "carl"); err != nil {
		t.Fatal(err)
	}
	if err := svc.Activate(ctx, b.Revision, "ada"); err != nil {
		t.Fatal(err)
	}

	st, out = operatorCall(t, srv, operatorToken, "GET", "/api/v1/operator/policy/bundles", "")
	bs, _ := out["bundles"].([]any)
	as, _ := out["activations"].([]any)
	if st != 200 || out["active"] != 1.0 || len(bs) != 1 || len(as) != 1 {
		t.Fatalf("the registry: %d %v", st, out)
	}
	if got := bs[0].(map[string]any); got["state"] != "active" || got["approvedBy"] != "carl" || got["signed"] != true || got["hash"] != b.Hash {
		t.Errorf("revision 1: %v", got)
	}
	if got := as[0].(map[string]any); got["by"] != "ada" || got["kind"] != "activate" || got["until"] != nil {
		t.Errorf("activation: %v", got)
	}

	st, out = operatorCall(t, srv, operatorToken, "GET", "/api/v1/operator/policy/bundles/1", "")
	fs, _ := out["files"].([]any)
	if st != 200 || len(fs) != len(files)+1 { // its files, and the signature
		t.Errorf("revision 1: %d, %d files; want %d", st, len(fs), len(files)+1)
	}
	for path, want := range map[string]int{"/api/v1/operator/policy/bundles/7": 404, "/api/v1/operator/policy/bundles/x": 400} {
		if st, _ := operatorCall(t, srv, operatorToken, "GET", path, ""); st != want {
			t.Errorf("GET %s: %d; want %d", path, st, want)
		}
	}

	req, _ := http.NewRequest("GET", srv.URL+"/api/v1/operator/policy/bundles/1/bundle.tar.gz", nil)
	req.Header.Set("Authorization", "Bearer "+operatorToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(res.Body)
	res.Body.Close()
	got, err := engine.ReadTarball(bytes.NewReader(raw))
	if err != nil || res.Header.Get("Content-Type") != "application/gzip" {
		t.Fatalf("download: %s %v", res.Header.Get("Content-Type"), err)
	}
	v := &engine.Verification{KeyID: "k1", Key: "registry-test-secret", Algorithm: "HS256"}
	if _, err := engine.CompileVerified(ctx, got, v); err != nil {
		t.Errorf("the downloaded archive does not verify: %v", err)
	}
	if st, _ := operatorCall(t, srv, "", "GET", "/api/v1/operator/policy/bundles", ""); st != 401 {
		t.Errorf("without the token: %d", st)
	}

	// The answers as the document describes them.
	doc, routes := loadOperatorSpec(t, srv.URL)
	spec := &operatorSpec{srv: srv, doc: doc, routes: routes}
	for _, c := range []operatorSpecCall{
		{method: "GET", path: "/api/v1/operator/policy/bundles", status: 200},
		{method: "GET", path: "/api/v1/operator/policy/bundles/1", status: 200},
		{method: "GET", path: "/api/v1/operator/policy/bundles/7", status: 404, code: paywire.ENOTFOUND},
		{method: "GET", path: "/api/v1/operator/policy/bundles/x", status: 400, code: paywire.EINVALID, docRejects: true},
	} {
		spec.call(t, c)
	}
}
