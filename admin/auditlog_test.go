package admin_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/admin"
	"github.com/paywire/paywire/store"
)

// TestAuditLogPage: admins and compliance page through the audit log
// newest first and check its chain; other roles may not read it.
func TestAuditLogPage(t *testing.T) {
	broken := false
	e := newEnv(t, map[string][]string{"root": {"admin"}, "cora": {"compliance"}, "sam": {"support"}}, func(a *admin.App, db *store.DB) {
		a.AuditPages = admin.AuditPages{AuditEntries: db.AuditEntries,
			VerifyAudit: func(ctx context.Context) (int, int64, string, error) {
				if broken {
					return 3, 4, "its content does not match its hash", nil
				}
				return 70, 0, "", nil
			}}
	})
	for i := range 60 {
		if err := e.db.Audit(t.Context(), &paywire.AuditEntry{Actor: "operator:cli", Action: "merchant.create", Target: fmt.Sprintf("m-%02d", i),
			Details: []byte(`{"after":{"name":"<b>Shop</b>"}}`)}); err != nil {
			t.Fatal(err)
		}
	}
	cora := e.browser()
	cora.signIn("cora", "pw-cora")
	first := cora.do("GET", "/admin/audit", nil)
	if first.status != 200 || !strings.Contains(first.body, "m-59") || strings.Contains(first.body, ">m-05<") {
		t.Fatalf("first page: %d", first.status)
	}
	if strings.Contains(first.body, "<b>Shop</b>") || !strings.Contains(first.body, "&lt;b&gt;Shop&lt;/b&gt;") {
		t.Error("details are not escaped")
	}
	older := cora.do("GET", "/admin/audit?before=12", nil)
	if older.status != 200 || !strings.Contains(older.body, ">m-00<") || strings.Contains(older.body, `id="older"`) {
		t.Errorf("the last page: %d", older.status)
	}
	if a := cora.do("GET", "/admin/audit?verify=1", nil); !strings.Contains(a.body, "The chain holds: 70 entries checked") {
		t.Errorf("verify: %s", a.body)
	}
	broken = true
	if a := cora.do("GET", "/admin/audit?verify=1", nil); !strings.Contains(a.body, "broken at entry 4") {
		t.Errorf("verify of a broken chain: %s", a.body)
	}
	if a := cora.do("GET", "/admin/audit?before=x", nil); a.status != http.StatusBadRequest {
		t.Errorf("a bad before: %d", a.status)
	}
	sam := e.browser()
	sam.signIn("sam", "pw-sam")
	if a := sam.do("GET", "/admin/audit", nil); a.status != http.StatusForbidden {
		t.Errorf("support reading the audit log: %d", a.status)
	}
}
