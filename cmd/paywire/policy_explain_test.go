package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paywire/paywire/bundles"
	"github.com/paywire/paywire/engine"
)

// TestPolicyExplain: policy explain prints a payment's decisions as the
// export document (revision, hash, the rules with their score and what
// they read), or writes it to a file only its owner reads; each export is
// audited as operator:cli; an unknown payment and a missing flag are told
// apart.
func TestPolicyExplain(t *testing.T) {
	ctx := context.Background()
	dsn, db, p, e := cliPayment(t, "explain-cli-1")
	in := engine.RiskInput{Request: engine.RiskRequest{PaymentID: p.ID, MerchantID: "shop", Kind: "deposit",
		Amount: engine.Money{Minor: 1000, Currency: "EUR", Exponent: 2}, Method: "card",
		Card:     engine.Card{Brand: "visa", BIN: "401288", Last4: "1881", ExpiryMonth: 12, ExpiryYear: 2030, Fingerprint: "fp"},
		Customer: engine.Customer{ID: "u1", Country: "DE", Language: "de"}, Time: time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)},
		Features: engine.Features{CardCount1h: engine.Known(1)}}
	if _, err := e.Risk(ctx, in); err != nil {
		t.Fatal(err)
	}
	db.Close()

	env := func(string) string { return "" }
	var out, errOut strings.Builder
	if code := run(ctx, []string{"policy", "explain", "--merchant", "shop", "--payment", p.ID, "--db", dsn}, &out, &errOut, env); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var doc bundles.DecisionExport
	if err := json.Unmarshal([]byte(out.String()), &doc); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	active := e.Active()
	if doc.Format != "paywire.decisions/v1" || doc.Payment.ID != p.ID || doc.ExportedBy != "operator:cli" || doc.AuditID == 0 || len(doc.Decisions) != 1 {
		t.Fatalf("export: %s", out.String())
	}
	d := doc.Decisions[0]
	if d.Bundle.Revision != active.Revision || d.Bundle.Hash != active.Hash || d.Bundle.InRegistry || len(d.RulesFired) != 1 ||
		*d.RulesFired[0].Score != 15 || d.RulesFired[0].Reads == nil {
		t.Errorf("the decision: %+v", d)
	}

	file := filepath.Join(t.TempDir(), "export.json")
	out.Reset()
	if code := run(ctx, []string{"policy", "explain", "--merchant", "shop", "--payment", p.ID, "--db", dsn, "--out", file}, &out, &errOut, env); code != 0 {
		t.Fatalf("--out: exit %d: %s", code, errOut.String())
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var saved bundles.DecisionExport
	if err := json.Unmarshal(raw, &saved); err != nil || len(saved.Decisions) != 1 || saved.AuditID <= doc.AuditID {
		t.Errorf("the file: %v %s", err, raw)
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("the file's mode: %v %v", fi.Mode(), err)
	}
	if !strings.Contains(out.String(), "wrote "+file+": 1 decisions of payment "+p.ID) {
		t.Errorf("--out says %q", out.String())
	}

	var audit strings.Builder
	if code := run(ctx, []string{"audit", "list", "--db", dsn}, &audit, &errOut, env); code != 0 {
		t.Fatalf("audit list: %s", errOut.String())
	}
	if n := strings.Count(audit.String(), "payment.decisions_export"); n != 2 || !strings.Contains(audit.String(), "operator:cli") {
		t.Errorf("%d exports in the audit log; want 2:\n%s", n, audit.String())
	}

	errOut.Reset()
	if code := run(ctx, []string{"policy", "explain", "--merchant", "other", "--payment", p.ID, "--db", dsn}, &out, &errOut, env); code != 1 || !strings.Contains(errOut.String(), "not found") {
		t.Errorf("another merchant's payment: exit %d: %s", code, errOut.String())
	}
	if code := run(ctx, []string{"policy", "explain", "--payment", p.ID, "--db", dsn}, &out, &errOut, env); code != 2 {
		t.Errorf("without --merchant: exit %d", code)
	}
}
