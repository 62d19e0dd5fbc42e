package main

import (
	"context"
	"io"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/store"
)

// TestAuditCommand: paywire audit verify passes a log written by admin
// commands and prints its head; after a row is changed behind Paywire's
// back it names that row and exits 1. paywire audit list shows the entries
// with their hashes.
func TestAuditCommand(t *testing.T) {
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "a.db")
	env := envOf(nil)
	var out, errOut strings.Builder
	if code := run(ctx, []string{"migrate", "up", "--db", db}, io.Discard, &errOut, env); code != 0 {
		t.Fatalf("migrate: %d %s", code, errOut.String())
	}
	for _, v := range []string{"a@example.com", "b@example.com", "c@example.com"} {
		if code := run(ctx, []string{"list", "add", "--db", db, "--list", "blocked_emails", "--type", "email", "--value", v, "--reason", "fraud"},
			io.Discard, &errOut, env); code != 0 {
			t.Fatalf("list add: %d %s", code, errOut.String())
		}
	}
	if code := run(ctx, []string{"audit", "verify", "--db", db}, &out, &errOut, env); code != 0 {
		t.Fatalf("verify: %d %s %s", code, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), "audit log OK: 3 rows checked") || !regexp.MustCompile(`head: row 3, hash [0-9a-f]{64}`).MatchString(out.String()) {
		t.Errorf("verify said:\n%s", out.String())
	}

	head := regexp.MustCompile(`head: row (\d+), hash ([0-9a-f]{64})`).FindStringSubmatch(out.String())
	kept := head[1] + ":" + head[2]
	out.Reset()
	if code := run(ctx, []string{"audit", "verify", "--db", db, "--head", kept}, &out, &errOut, env); code != 0 ||
		!strings.Contains(out.String(), "passes through the head kept, row 3") {
		t.Fatalf("verify --head: %d %s %s", code, out.String(), errOut.String())
	}
	out.Reset()
	if code := run(ctx, []string{"audit", "list", "--db", db, "--limit", "2"}, &out, &errOut, env); code != 0 {
		t.Fatalf("list: %d %s", code, errOut.String())
	}
	if lines := strings.Split(strings.TrimSpace(out.String()), "\n"); len(lines) != 3 ||
		!regexp.MustCompile(`^3\s+\S+\s+operator:cli\s+list\.add\s+blocked_emails\s+[0-9a-f]{16}\s+\{.*"value":"c@example.com"`).MatchString(lines[1]) {
		t.Errorf("list said:\n%s", out.String())
	}

	// A database administrator changes who added the second entry.
	st, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		"DROP TRIGGER audit_log_no_update",
		"UPDATE audit_log SET actor = 'admin:someone-else' WHERE id = 2",
		"CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
	} {
		if _, err := st.Bun().ExecContext(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	st.Close()
	out.Reset()
	errOut.Reset()
	code := run(ctx, []string{"audit", "verify", "--db", db}, &out, &errOut, env)
	if code != 1 || !strings.Contains(out.String(), "audit log BROKEN at row 2: its content does not match its hash") ||
		!strings.Contains(out.String(), "1 rows before it check out") || !strings.Contains(errOut.String(), "broken at row 2") {
		t.Errorf("verify of a changed log: exit %d\n%s%s", code, out.String(), errOut.String())
	}

	// A superuser rewrites the whole chain: every row and the head are
	// consistent again, but the chain no longer ends in the head kept.
	st, err = store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	rewrite(t, st)
	st.Close()
	out.Reset()
	errOut.Reset()
	if code := run(ctx, []string{"audit", "verify", "--db", db}, &out, &errOut, env); code != 0 {
		t.Fatalf("verify of a rewritten chain by itself: exit %d %s %s", code, out.String(), errOut.String())
	}
	out.Reset()
	code = run(ctx, []string{"audit", "verify", "--db", db, "--head", kept}, &out, &errOut, env)
	if code != 1 || !strings.Contains(out.String(), "REWRITTEN") {
		t.Errorf("verify --head of a rewritten chain: exit %d\n%s%s", code, out.String(), errOut.String())
	}

	errOut.Reset()
	if code := run(ctx, []string{"audit", "verify", "--db", db, "--head", "3:abc"}, io.Discard, &errOut, env); code != 2 || !strings.Contains(errOut.String(), "--head must be ID:HASH") {
		t.Errorf("bad --head: %d %q", code, errOut.String())
	}
	errOut.Reset()
	if code := run(ctx, []string{"audit", "frobnicate"}, io.Discard, &errOut, env); code != 2 || !strings.Contains(errOut.String(), "unknown audit command") {
		t.Errorf("unknown command: %d %q", code, errOut.String())
	}
}

// rewrite replaces the whole audit log with a new chain of three rows,
// head included, as someone in full control of the database could.
func rewrite(t *testing.T, st *store.DB) {
	t.Helper()
	ctx := context.Background()
	for _, s := range []string{
		"DROP TRIGGER audit_log_no_delete",
		"DELETE FROM audit_log",
		"DROP TRIGGER audit_chain_forward",
		"UPDATE audit_chain SET genesis_id = 0, last_id = 0, last_hash = ''",
	} {
		if _, err := st.Bun().ExecContext(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	for range 3 {
		if err := st.Audit(ctx, &paywire.AuditEntry{Actor: "admin:mallory", Action: "list.add", Target: "blocked_emails"}); err != nil {
			t.Fatal(err)
		}
	}
}
