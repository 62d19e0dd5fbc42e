package main

import (
	"context"
	"io"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/paywire/paywire/credential"
	"github.com/paywire/paywire/store"
)

// TestAdminUserCommand: paywire admin-user creates a user whose printed
// password verifies, lists, changes roles, disables and resets; bad input
// gets a clear message; every change is audited.
func TestAdminUserCommand(t *testing.T) {
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "a.db")
	env := envOf(nil)
	var out, errOut strings.Builder
	if code := run(ctx, []string{"migrate", "up", "--db", db}, &out, &errOut, env); code != 0 {
		t.Fatalf("migrate: %d %s", code, errOut.String())
	}
	out.Reset()
	if code := run(ctx, []string{"admin-user", "create", "--db", db, "--username", "rita", "--role", "risk_analyst", "--role", "viewer"}, &out, &errOut, env); code != 0 {
		t.Fatalf("create: %d %s", code, errOut.String())
	}
	pw := regexp.MustCompile(`password \(shown once\): (\S+)`).FindStringSubmatch(out.String())
	if pw == nil {
		t.Fatalf("create said %q", out.String())
	}
	st, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	u, err := st.AdminUserByName(ctx, "rita")
	if ok, _ := credential.Verify(u.PasswordHash, pw[1]); err != nil || !ok || len(u.Roles) != 2 {
		t.Fatalf("stored %+v, %v; the printed password verifies: %v", u, err, ok)
	}
	for _, args := range [][]string{
		{"admin-user", "roles", "--db", db, "--username", "rita", "--role", "compliance"},
		{"admin-user", "disable", "--db", db, "--username", "rita"},
	} {
		if code := run(ctx, args, io.Discard, &errOut, env); code != 0 {
			t.Fatalf("%v: %d %s", args, code, errOut.String())
		}
	}
	out.Reset()
	run(ctx, []string{"admin-user", "list", "--db", db}, &out, io.Discard, env)
	if !regexp.MustCompile(`rita\s+compliance\s+off\s+disabled`).MatchString(out.String()) {
		t.Errorf("list said %q", out.String())
	}
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"admin-user", "create", "--db", db, "--username", "rita", "--role", "viewer"}, 1, "exists"},
		{[]string{"admin-user", "create", "--db", db, "--username", "sam", "--role", "root"}, 1, `unknown role "root"`},
		{[]string{"admin-user", "create", "--db", db, "--username", "sam"}, 2, "--role is required"},
		{[]string{"admin-user", "roles", "--db", db, "--username", "nobody", "--role", "viewer"}, 1, "not found"},
		{[]string{"admin-user", "frobnicate"}, 2, "unknown admin-user command"},
	} {
		errOut.Reset()
		if code := run(ctx, c.args, io.Discard, &errOut, env); code != c.code || !strings.Contains(errOut.String(), c.want) {
			t.Errorf("%v: %d %q; want %d saying %q", c.args, code, errOut.String(), c.code, c.want)
		}
	}
	es, _ := st.AuditEntries(ctx, 0, 10)
	if len(es) != 3 || es[0].Action != "admin_user.update" || es[2].Action != "admin_user.create" || es[0].Actor != "operator:cli" {
		t.Errorf("audit %+v", es)
	}
}
