package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paywire/paywire/engine"
	"github.com/paywire/paywire/policies"
	"github.com/paywire/paywire/rules"
)

// writeDefaultBundle writes the default bundle into a directory, as an
// analyst checks it out to edit it, with edit applied to the named file.
func writeDefaultBundle(t *testing.T, file string, edit func(string) string) string {
	t.Helper()
	files, err := engine.BundleFiles(policies.FS, rules.FS)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := files[file]; !ok {
		t.Fatalf("the default bundle has no %s", file)
	}
	dir := t.TempDir()
	for p, b := range files {
		if p == file {
			changed := edit(string(b))
			if changed == string(b) {
				t.Fatalf("the edit of %s changed nothing", file)
			}
			b = []byte(changed)
		}
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestPolicyTestCatchesRuleMistakes: `paywire policy test` runs what `opa
// test` cannot: the expr rules. A misspelt attribute refuses the bundle
// when its rules compile, with the rule's file and line; a rule that
// compiles but decides wrongly (a threshold with a zero too many) fails
// the decision cases that cover it, each named with what differed.
func TestPolicyTestCatchesRuleMistakes(t *testing.T) {
	const eur = `request.amount.currency == "EUR" && request.amount.minor >= 500000`

	misspelt := writeDefaultBundle(t, "rules/risk/data.yaml", func(s string) string {
		return strings.Replace(s, eur, `request.amount.currency == "EUR" && request.amout.minor >= 500000`, 1)
	})
	code, out, errOut := runCmd(t, "policy", "test", misspelt)
	if code != 1 || !strings.Contains(errOut, "rules/risk/data.yaml:115: rule \"high_amount\"") || !strings.Contains(errOut, "amout") {
		t.Errorf("policy test with request.amout.minor: exit %d\n%s%s", code, out, errOut)
	}

	threshold := writeDefaultBundle(t, "rules/risk/data.yaml", func(s string) string {
		return strings.Replace(s, eur, `request.amount.currency == "EUR" && request.amount.minor >= 5000000`, 1)
	})
	code, out, errOut = runCmd(t, "policy", "test", threshold)
	if code != 1 || !strings.Contains(errOut, "policy tests failed") {
		t.Errorf("policy test with a wrong threshold: exit %d\n%s%s", code, out, errOut)
	}
	// The guide's example: 6,000.00 EUR is a high amount.
	want := "FAIL case cases.risk.examples (cases/risk/examples/data.yaml:50): 6,000.00 EUR from a French IP"
	if !strings.Contains(out, want) || !strings.Contains(out, `action = "allow", want "challenge"`) {
		t.Errorf("policy test with a wrong threshold does not name the case and what differed:\n%s", out)
	}
	if strings.Contains(out, "FAIL rego") {
		t.Errorf("the Rego tests failed too; the case is the test that catches this:\n%s", out)
	}

	// The unchanged bundle passes, its cases included.
	code, out, errOut = runCmd(t, "policy", "test", writeDefaultBundle(t, ".manifest", func(s string) string { return s + "\n" }))
	if code != 0 || !strings.Contains(out, " 0 failed") || strings.Contains(out, " 0 decision cases") {
		t.Errorf("policy test of the default bundle: exit %d\n%s%s", code, out, errOut)
	}
}
