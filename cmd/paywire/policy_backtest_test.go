package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/engine"
	"github.com/paywire/paywire/policies"
	"github.com/paywire/paywire/rules"
	"github.com/paywire/paywire/store"
)

// recordRiskDecisions records n risk decisions of the built-in bundle in
// the database at dsn, a minute apart from at: amounts from 10.00 EUR up in
// steps of 100.00.
func recordRiskDecisions(t *testing.T, dsn string, at time.Time, n int) {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	files, err := engine.BundleFiles(policies.FS, rules.FS)
	if err != nil {
		t.Fatal(err)
	}
	e := engine.New(1)
	if _, err := e.Activate(ctx, files); err != nil {
		t.Fatal(err)
	}
	e.Recorder = engine.StoreRecorder{Store: db}
	for i := 0; i < n; i++ {
		when := at.Add(time.Duration(i) * time.Minute)
		db.Now = func() time.Time { return when }
		_, err := e.Risk(ctx, engine.RiskInput{Request: engine.RiskRequest{
			MerchantID: "shop", Kind: "deposit", Amount: engine.Money{Minor: int64(1000 + i*10000), Currency: "EUR", Exponent: 2}, Method: "card",
			Card:     engine.Card{Brand: "visa", BIN: "411111", Last4: "1111", ExpiryMonth: 12, ExpiryYear: 2030, Fingerprint: "fp"},
			Customer: engine.Customer{ID: "c", Country: "DE", Language: "de"}, Time: when,
		}})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// writeCandidate writes the built-in bundle with a rule that reviews EUR
// payments from 3,000.00 as a .tar.gz and returns its path.
func writeCandidate(t *testing.T) string {
	t.Helper()
	files, err := engine.BundleFiles(policies.FS, rules.FS)
	if err != nil {
		t.Fatal(err)
	}
	files["rules/risk/data.yaml"] = append(bytes.Clone(files["rules/risk/data.yaml"]), `
  - id: candidate_amount
    group: amount
    when: request.amount.minor >= 300000 && request.amount.currency == "EUR"
    effect: {score: 60, reason: candidate_amount}
`...)
	var buf bytes.Buffer
	if err := files.WriteTarball(&buf); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "candidate.tar.gz")
	if err := os.WriteFile(p, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPolicyBacktestCommand: a backtest started from the CLI with --wait
// prints how the window's decisions change (the amounts from 3,000.00 up
// to 5,000.00 go from allow to review); --id, --json and --list read it
// back; refusals say why.
func TestPolicyBacktestCommand(t *testing.T) {
	dir := t.TempDir()
	dsn := filepath.Join(dir, "p.db")
	c := newPolicyCLI(t, dsn, nil)
	c.must("admin-user", "create", "--username", "vic", "--role", "viewer")
	day := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	recordRiskDecisions(t, dsn, day, 60) // 10.00 .. 5,910.00 EUR
	m := pushedRevision.FindStringSubmatch(c.must("policy", "push", "--bundle", writeCandidate(t), "--as", "ann", "--message", "review from 3,000.00"))
	if m == nil {
		t.Fatal("push did not say the revision")
	}
	rev := m[1]

	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--revision", rev, "--from", "2026-11-20", "--to", "2026-11-21"}, 2, "--as USER is required"},
		{[]string{"--as", "ann", "--from", "2026-11-20", "--to", "2026-11-21"}, 2, "--revision N is required"},
		{[]string{"--as", "ann", "--revision", rev, "--to", "2026-11-21"}, 2, "--from and --to are required"},
		{[]string{"--as", "ann", "--revision", rev, "--from", "yesterday", "--to", "2026-11-21"}, 2, "neither an RFC 3339 time"},
		{[]string{"--as", "ann", "--revision", rev, "--from", "2026-11-21", "--to", "2026-11-20"}, 1, "must start before it ends"},
		{[]string{"--as", "ann", "--revision", rev, "--from", "2026-11-20", "--to", "2026-11-21", "--point", "pricing"}, 1, `unknown decision point "pricing"`},
		{[]string{"--as", "vic", "--revision", rev, "--from", "2026-11-20", "--to", "2026-11-21"}, 1, "lacks the role"},
		{[]string{"--as", "ann", "--revision", "9", "--from", "2026-11-20", "--to", "2026-11-21"}, 1, "no policy bundle revision 9"},
		{[]string{"--id", "bt_nope"}, 1, `no backtest "bt_nope"`},
	} {
		if code, _, errOut := c.run(append([]string{"policy", "backtest"}, tc.args...)...); code != tc.code || !strings.Contains(errOut, tc.want) {
			t.Errorf("%q: exit %d %q; want %d and %q", tc.args, code, errOut, tc.code, tc.want)
		}
	}
	if out := c.must("policy", "backtest", "--list"); !strings.Contains(out, "no backtests yet") {
		t.Errorf("empty list: %q", out)
	}

	out := c.must("policy", "backtest", "--revision", rev, "--from", "2026-11-20", "--to", "2026-11-20T00:50:00Z", "--as", "ann", "--point", "risk", "--wait")
	// Decisions 30..49 (3,010.00 .. 4,910.00 EUR) of the first 50 change:
	// the default bundle allowed them.
	for _, want := range []string{
		"state    done: 50 of 50 decisions replayed",
		"risk: 50 decisions, 20 changed",
		"allow -> review:  20  now: no payment 20",
		"window   2026-11-20T00:00:00Z to 2026-11-20T00:50:00Z (risk; all merchants)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the report lacks %q:\n%s", want, out)
		}
	}
	id := regexp.MustCompile(`backtest (bt_\w+)`).FindStringSubmatch(out)
	if id == nil {
		t.Fatalf("no id in %q", out)
	}
	var b paywire.Backtest
	if err := json.Unmarshal([]byte(c.must("policy", "backtest", "--id", id[1], "--json")), &b); err != nil {
		t.Fatal(err)
	}
	if b.State != paywire.BacktestDone || len(b.Report.Points) != 1 || b.Report.Points[0].Changed != 20 ||
		len(b.Report.Points[0].Changes[0].Sample) != 5 || b.By != "ann" {
		t.Errorf("--json: %+v", b)
	}
	if out := c.must("policy", "backtest", "--id", id[1]); !strings.Contains(out, "risk: 50 decisions, 20 changed") {
		t.Errorf("--id:\n%s", out)
	}
	// Queued without --wait: the list shows both.
	out = c.must("policy", "backtest", "--revision", rev, "--from", "2026-11-20", "--to", "2026-11-21", "--as", "ann")
	if !strings.Contains(out, "queued: 60 decisions") {
		t.Errorf("queued: %q", out)
	}
	out = c.must("policy", "backtest", "--list")
	if !regexp.MustCompile(fmt.Sprintf(`(?m)^bt_\w+\s+%s\s+ann\s+\S+\s+all points; all merchants\s+queued\s+0/60\s+0$`, rev)).MatchString(out) ||
		!strings.Contains(out, id[1]) {
		t.Errorf("list:\n%s", out)
	}
}
