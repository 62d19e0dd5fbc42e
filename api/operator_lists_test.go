package api_test

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/paywire/paywire/api"
	"github.com/paywire/paywire/credential"
	"github.com/paywire/paywire/paywiretest"
)

// TestOperatorLists: entries are added (normalised, 201), refused with a
// clear 400 or a 409 for a duplicate, listed, and removed (204, then 404);
// every request and response matches the document, and every change is
// audited as operator:api.
func TestOperatorLists(t *testing.T) {
	core := paywiretest.New(t)
	k, _ := credential.NewKeyed(credential.DevelopmentKey)
	r := chi.NewRouter()
	(&api.Operator{Credentials: &credential.Manager{Merchants: core.DB, Audit: core.DB, Keyed: k, Now: core.Clock.Now},
		Merchants: core.DB, Lists: core.DB, Token: operatorToken}).Mount(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	doc, routes := loadOperatorSpec(t, srv.URL)
	s := &operatorSpec{srv: srv, doc: doc, routes: routes}

	added := s.call(t, operatorSpecCall{method: "POST", path: "/api/v1/operator/lists/blocked_emails/entries",
		body: `{"type": "email", "value": " Fraud@Example.com", "reason": "chargebacks", "expiresAt": "2099-01-01T00:00:00Z"}`, status: 201})
	if added["value"] != "fraud@example.com" || added["createdBy"] != "operator:api" || added["expiresAt"] != "2099-01-01T00:00:00Z" {
		t.Fatalf("added %v", added)
	}
	s.call(t, operatorSpecCall{method: "POST", path: "/api/v1/operator/lists/blocked_ips/entries",
		body: `{"type": "ip", "value": "198.51.100.7/24", "reason": "botnet"}`, status: 201})
	for _, c := range []operatorSpecCall{
		{body: `{"type": "email", "value": "FRAUD@example.com", "reason": "again"}`, status: 409, code: "conflict"},
		{body: `{"type": "email", "value": "x@y.com"}`, status: 400, code: "invalid", docRejects: true},
		{body: `{"type": "email", "value": "x@y.com", "reason": " "}`, status: 400, code: "invalid"},
		{body: `{"type": "email", "value": "not-an-address", "reason": "r"}`, status: 400, code: "invalid"},
		{body: `{"type": "phone", "value": "123", "reason": "r"}`, status: 400, code: "invalid", docRejects: true},
		{body: `{"type": "email", "value": "x@y.com", "reason": "r", "expiresAt": "tomorrow"}`, status: 400, code: "invalid", docRejects: true},
		{body: `{"type": "email", "value": "x@y.com", "reason": "r", "expiresAt": "2001-01-01T00:00:00Z"}`, status: 400, code: "invalid"},
		{body: `{"type": "email_domain", "value": "y.com", "reason": "r"}`, status: 409, code: "conflict"},
	} {
		c.method, c.path = "POST", "/api/v1/operator/lists/blocked_emails/entries"
		s.call(t, c)
	}
	s.call(t, operatorSpecCall{method: "POST", path: "/api/v1/operator/lists/Blocked-Emails/entries",
		body: `{"type": "email", "value": "x@y.com", "reason": "r"}`, status: 400, code: "invalid", docRejects: true})

	lists := s.call(t, operatorSpecCall{method: "GET", path: "/api/v1/operator/lists", status: 200})
	if ls, _ := lists["lists"].([]any); len(ls) != 2 || ls[0].(map[string]any)["list"] != "blocked_emails" || ls[0].(map[string]any)["entries"] != 1.0 {
		t.Errorf("lists: %v", lists)
	}
	entries := s.call(t, operatorSpecCall{method: "GET", path: "/api/v1/operator/lists/blocked_ips", status: 200})
	if es, _ := entries["entries"].([]any); len(es) != 1 || es[0].(map[string]any)["value"] != "198.51.100.0/24" {
		t.Errorf("entries: %v", entries)
	}

	path := "/api/v1/operator/lists/blocked_emails/entries/" + added["id"].(string)
	s.call(t, operatorSpecCall{method: "DELETE", path: "/api/v1/operator/lists/blocked_ips/entries/" + added["id"].(string), status: 404, code: "not_found"})
	s.call(t, operatorSpecCall{method: "DELETE", path: path, status: 204})
	s.call(t, operatorSpecCall{method: "DELETE", path: path, status: 404, code: "not_found"})

	audit, err := core.DB.AuditEntries(context.Background(), 0, 10)
	if err != nil || len(audit) != 3 || audit[0].Action != "list.remove" || audit[0].Actor != "operator:api" || audit[0].Target != "blocked_emails" ||
		audit[2].Action != "list.add" {
		t.Errorf("audit: %+v, %v", audit, err)
	}
}

// TestOperatorListsUnavailable: a node without a list store says so.
func TestOperatorListsUnavailable(t *testing.T) {
	srv, _ := operatorEnv(t, operatorToken)
	if st, out := operatorCall(t, srv, operatorToken, "GET", "/api/v1/operator/lists", ""); st != 503 {
		t.Errorf("%d %v; want 503", st, out)
	}
}
