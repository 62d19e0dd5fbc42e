package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paywire/paywire/bundles"
	"github.com/paywire/paywire/engine"
	"github.com/paywire/paywire/policies"
	"github.com/paywire/paywire/rules"
)

// editedBundle writes the built-in bundle with edits (each an old text
// replaced by a new one in a file) as a directory and returns its path.
func editedBundle(t *testing.T, edits ...[3]string) string {
	t.Helper()
	files, err := engine.BundleFiles(policies.FS, rules.FS)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range edits {
		if !bytes.Contains(files[e[0]], []byte(e[1])) {
			t.Fatalf("%s has no %q", e[0], e[1])
		}
		files[e[0]] = bytes.Replace(files[e[0]], []byte(e[1]), []byte(e[2]), 1)
	}
	dir := t.TempDir()
	for p, b := range files {
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

// TestPolicyDiff: `paywire policy diff` compares two stored revisions, or
// a revision with a bundle on disk, as text (unified diffs, then rules,
// then data) or JSON; it says plainly when nothing differs, and what it
// needs when asked wrongly.
func TestPolicyDiff(t *testing.T) {
	c := newPolicyCLI(t, filepath.Join(t.TempDir(), "p.db"), nil)
	r1 := c.push("ann", "the default")
	edits := [][3]string{
		{"risk.rego", "package paywire.risk\n", "package paywire.risk\n\n# reviewed in December\n"},
		{"rules/risk/data.yaml", "{score: 100, reason: blocked_bin}", "{score: 95, reason: blocked_bin}"},
		{"paywire/lists/data.yaml", `"510999": true`, `"510998": true`},
	}
	candidate := editedBundle(t, edits...)
	m := pushedRevision.FindStringSubmatch(c.must("policy", "push", "--bundle", candidate, "--as", "bob", "--message", "a lower score"))
	if m == nil {
		t.Fatal("push did not say the revision")
	}
	r2 := m[1]

	out := c.must("policy", "diff", "--from", r1, "--to", r2)
	for _, want := range []string{
		"From revision 1 (hash ",
		") to revision 2 (hash ",
		"Files (3 changed):\n  changed  paywire/lists/data.yaml\n  changed  risk.rego\n  changed  rules/risk/data.yaml\n",
		"--- a/risk.rego\n+++ b/risk.rego\n",
		"\n+# reviewed in December\n",
		"\n-# the default\n", // the comment push added to revision 1
		"Rules (1 changed):\n  ~ risk.blocked_bin, changed: effect\n",
		`      effect: {"reason":"blocked_bin","score":100}` + "\n" + `          ->  {"reason":"blocked_bin","score":95}` + "\n",
		"Data (1 added, 1 removed):\n",
		`  + data.paywire.lists.blocked_bins["510998"]: true`,
		`  - data.paywire.lists.blocked_bins["510999"]: true`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("diff 1 2 has no %q:\n%s", want, out)
		}
	}
	// The unified diffs come before the rules, the rules before the data.
	if i, j, k := strings.Index(out, "+++ b/risk.rego"), strings.Index(out, "Rules ("), strings.Index(out, "Data ("); i < 0 || i > j || j > k {
		t.Errorf("the sections are out of order:\n%s", out)
	}

	var d bundles.Diff
	if err := json.Unmarshal([]byte(c.must("policy", "diff", "--from", r1, "--to", r2, "--json")), &d); err != nil {
		t.Fatal(err)
	}
	if d.From.Revision != 1 || d.To.Revision != 2 || len(d.Files) != 3 || len(d.Rules) != 1 || d.Rules[0].ID != "blocked_bin" {
		t.Fatalf("--json: %+v", d)
	}
	var effect struct{ Score int }
	if err := json.Unmarshal(d.Rules[0].New.Effect, &effect); err != nil || effect.Score != 95 {
		t.Errorf("--json: the new effect %s", d.Rules[0].New.Effect)
	}

	// A candidate on disk: against revision 2, which was pushed from it,
	// nothing differs; against revision 1, what revision 2 changed.
	if out := c.must("policy", "diff", "--from", r2, "--bundle", candidate); !strings.Contains(out, "to "+candidate+" (hash ") || !strings.Contains(out, "No difference") {
		t.Errorf("diff 2 against its own bundle:\n%s", out)
	}
	if out := c.must("policy", "diff", "--from", r1, "--bundle", candidate); !strings.Contains(out, "~ risk.blocked_bin, changed: effect") {
		t.Errorf("diff 1 against the candidate:\n%s", out)
	}

	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"policy", "diff", "--to", r2}, 2, "--from N is required"},
		{[]string{"policy", "diff", "--from", r1}, 2, "--to N (a revision) or --bundle B"},
		{[]string{"policy", "diff", "--from", r1, "--to", r2, "--bundle", candidate}, 2, "one of them"},
		{[]string{"policy", "diff", "--from", r1, "--to", "9"}, 1, "there is no policy bundle revision 9"},
		{[]string{"policy", "diff", "--from", r1, "--bundle", filepath.Join(t.TempDir(), "missing.tar.gz")}, 1, "missing.tar.gz"},
	} {
		if code, _, errOut := c.run(tc.args...); code != tc.code || !strings.Contains(errOut, tc.want) {
			t.Errorf("%q: exit %d %q; want %d and %q", tc.args, code, errOut, tc.code, tc.want)
		}
	}
}
