package bundles_test

import (
	"bytes"
	"encoding/json"
	"maps"
	"strings"
	"testing"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/bundles"
	"github.com/paywire/paywire/engine"
	"github.com/paywire/paywire/store"
	"github.com/paywire/paywire/store/storetest"
)

// crafted is a small bundle laid out as paywire lays bundles out; Compare
// reads it without compiling it.
func crafted() engine.Files {
	return engine.Files{
		".manifest":    []byte(`{"revision": "1", "roots": ["paywire", "rules"]}`),
		"risk.rego":    []byte("package paywire.risk\n\nimport rego.v1\n\nreview := 60\n\ndecision := {\"score\": 0}\n"),
		"routing.rego": []byte("package paywire.routing\n\nimport rego.v1\n\ndecision := {\"providers\": [\"sandbox\"]}\n"),
		"rules/risk/data.yaml": []byte(`rules:
  - id: blocked_bin
    group: lists
    when: in_list("blocked_bins", card.bin)
    effect: {score: 100, reason: blocked_bin}
  - id: high_amount
    group: amount
    description: a large payment
    when: amount.value > 500000
    effect: {score: 20, reason: high_amount}
  - id: new_email
    when: features.email_age_days < 1
    effect: {score: 10, reason: new_email}
  - id: night
    when: hour < 5
    effect: {score: 5, reason: night}
`),
		"rules/routing/data.yaml": []byte("rules: []\n"),
		"paywire/lists/data.yaml": []byte(`blocked_bins:
  "400666": true
  "510999": true
providers: [adyen, sandbox, stripe]
`),
		"paywire/bins/data.yaml": []byte("csv: |\n  400000,499999,US,visa,credit\n  510000,559999,GB,mastercard,debit\n"),
	}
}

func change(t *testing.T, f engine.Files, path string, from, to string) {
	t.Helper()
	if !bytes.Contains(f[path], []byte(from)) {
		t.Fatalf("%s has no %q", path, from)
	}
	f[path] = bytes.Replace(f[path], []byte(from), []byte(to), 1)
}

func compare(t *testing.T, old, new engine.Files) *bundles.Diff {
	t.Helper()
	d, err := bundles.Compare(old, new)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func ruleChanges(d *bundles.Diff) string {
	var ss []string
	for _, c := range d.Rules {
		s := c.Point + "." + c.ID + " " + string(c.Change)
		if len(c.Fields) > 0 {
			s += " " + strings.Join(c.Fields, ",")
		}
		ss = append(ss, s)
	}
	return strings.Join(ss, "; ")
}

func dataChanges(d *bundles.Diff) string {
	var ss []string
	for _, c := range d.Data {
		ss = append(ss, c.Path+" "+string(c.Change)+" "+string(c.Old)+" -> "+string(c.New))
	}
	return strings.Join(ss, "; ")
}

func fileChanges(d *bundles.Diff) string {
	var ss []string
	for _, c := range d.Files {
		ss = append(ss, c.Path+" "+string(c.Change))
	}
	return strings.Join(ss, "; ")
}

// TestCompareSame: a bundle compared with itself, or with itself signed
// and under another manifest revision, has no difference.
func TestCompareSame(t *testing.T) {
	d := compare(t, crafted(), crafted())
	if !d.Empty() || d.From.Hash != d.To.Hash {
		t.Fatalf("a bundle against itself: %+v", d)
	}
	signed := crafted()
	signed[".signatures.json"] = []byte(`{"signatures": ["x"]}`)
	signed[".manifest"] = []byte(`{"revision": "7", "roots": ["paywire", "rules"]}`)
	if d := compare(t, crafted(), signed); !d.Empty() {
		t.Fatalf("a signature and the stamped revision count as changes: files %s; data %s", fileChanges(d), dataChanges(d))
	}
}

// TestCompareRules: rules are matched by id; an added, removed or changed
// rule is named with its point, a changed one with what changed, its old
// and new condition and effect; a rule shifted by an added one has not
// moved, one moved before another has.
func TestCompareRules(t *testing.T) {
	old, new := crafted(), crafted()
	change(t, new, "rules/risk/data.yaml", "amount.value > 500000", "amount.value > 400000")
	change(t, new, "rules/risk/data.yaml", "{score: 10, reason: new_email}", "{score: 15, reason: new_email}")
	change(t, new, "rules/risk/data.yaml", "    group: amount\n", "    group: size\n")
	// night removed, tor added at the front, new_email before high_amount.
	new["rules/risk/data.yaml"] = []byte(`rules:
  - id: tor
    when: ip.tor
    effect: {score: 30, reason: tor}
` + strings.TrimPrefix(string(new["rules/risk/data.yaml"]), "rules:\n"))
	new["rules/risk/data.yaml"] = []byte(strings.Replace(string(new["rules/risk/data.yaml"]), `  - id: night
    when: hour < 5
    effect: {score: 5, reason: night}
`, "", 1))
	src := string(new["rules/risk/data.yaml"])
	i, j := strings.Index(src, "  - id: high_amount"), strings.Index(src, "  - id: new_email")
	new["rules/risk/data.yaml"] = []byte(src[:i] + src[j:] + src[i:j])
	new["rules/routing/data.yaml"] = []byte("rules:\n  - id: eu_to_adyen\n    when: country == \"DE\"\n    effect: {providers: [adyen]}\n")

	d := compare(t, old, new)
	want := "risk.tor added; risk.new_email changed effect,position; risk.night removed; risk.high_amount changed when,group; routing.eu_to_adyen added"
	if got := ruleChanges(d); got != want {
		t.Fatalf("rule changes:\n got %s\nwant %s", got, want)
	}
	hi := d.Rules[3]
	if hi.Old.When != "amount.value > 500000" || hi.New.When != "amount.value > 400000" || hi.Old.Group != "amount" || hi.New.Group != "size" ||
		hi.Old.Position != 2 || hi.New.Position != 4 || string(hi.Old.Effect) != `{"reason":"high_amount","score":20}` {
		t.Errorf("high_amount: old %+v new %+v", hi.Old, hi.New)
	}
	ne := d.Rules[1]
	if string(ne.Old.Effect) != `{"reason":"new_email","score":10}` || string(ne.New.Effect) != `{"reason":"new_email","score":15}` || ne.New.Position != 3 {
		t.Errorf("new_email: old %+v new %+v", ne.Old, ne.New)
	}
	if d.Rules[0].Old != nil || d.Rules[0].New.When != "ip.tor" || d.Rules[2].New != nil || d.Rules[2].Old.When != "hour < 5" {
		t.Errorf("added and removed: %+v, %+v", d.Rules[0], d.Rules[2])
	}
	if len(d.Data) != 0 {
		t.Errorf("rules reported as data: %s", dataChanges(d))
	}
	if got := fileChanges(d); got != "rules/risk/data.yaml changed; rules/routing/data.yaml changed" {
		t.Errorf("files: %s", got)
	}
	for _, f := range d.Files {
		if f.Kind != "rules" || f.Unified != "" {
			t.Errorf("%s: kind %s, unified %q", f.Path, f.Kind, f.Unified)
		}
	}

	// Comments and layout are no rule change.
	relaid := crafted()
	relaid["rules/risk/data.yaml"] = append([]byte("# the risk rules\n"), relaid["rules/risk/data.yaml"]...)
	change(t, relaid, "rules/risk/data.yaml", "effect: {score: 5, reason: night}", "effect:\n      reason: night\n      score: 5")
	if d := compare(t, crafted(), relaid); len(d.Rules) != 0 || len(d.Files) != 1 {
		t.Errorf("comments and layout: rules %s; files %s", ruleChanges(d), fileChanges(d))
	}
}

// TestCompareRego: Rego files get a unified diff: a changed line removed
// and added, an added file from /dev/null, a removed one to it.
func TestCompareRego(t *testing.T) {
	old, new := crafted(), crafted()
	change(t, new, "risk.rego", "review := 60", "review := 55")
	delete(new, "routing.rego")
	new["paywire/limits.rego"] = []byte("package paywire.limits\n\nmax := 10\n")
	d := compare(t, old, new)
	if got := fileChanges(d); got != "paywire/limits.rego added; risk.rego changed; routing.rego removed" {
		t.Fatalf("files: %s", got)
	}
	u := d.Files[1].Unified
	for _, line := range []string{"--- a/risk.rego\n", "+++ b/risk.rego\n", "\n-review := 60\n", "\n+review := 55\n", "\n import rego.v1\n"} {
		if !strings.Contains(u, line) {
			t.Errorf("risk.rego's diff has no %q:\n%s", line, u)
		}
	}
	if u := d.Files[0].Unified; !strings.HasPrefix(u, "--- /dev/null\n+++ b/paywire/limits.rego\n") || !strings.Contains(u, "\n+max := 10\n") {
		t.Errorf("the added file's diff:\n%s", u)
	}
	if u := d.Files[2].Unified; !strings.HasPrefix(u, "--- a/routing.rego\n+++ /dev/null\n") || !strings.Contains(u, "\n-package paywire.routing\n") {
		t.Errorf("the removed file's diff:\n%s", u)
	}
	if len(d.Rules) != 0 || len(d.Data) != 0 {
		t.Errorf("rego changes reported as rules or data: %s; %s", ruleChanges(d), dataChanges(d))
	}
}

// TestCompareData: data values are compared by path as Rego names them:
// a list member added and removed, an array element inserted (the rest not
// shifted into changes), a multi-line text with its unified diff, a new
// document, a manifest root.
func TestCompareData(t *testing.T) {
	old, new := crafted(), crafted()
	change(t, new, "paywire/lists/data.yaml", `"510999": true`, `"511000": true`)
	change(t, new, "paywire/lists/data.yaml", "[adyen, sandbox, stripe]", "[adyen, worldpay, sandbox, stripe]")
	change(t, new, "paywire/bins/data.yaml", "510000,559999,GB", "510000,559999,IE")
	new["paywire/experiments/data.yaml"] = []byte("checkout: {arms: [a, b]}\n")
	new[".manifest"] = []byte(`{"revision": "2", "roots": ["paywire", "rules", "cases"]}`)
	d := compare(t, old, new)
	want := strings.Join([]string{
		`data.paywire.bins.csv changed "400000,499999,US,visa,credit\n510000,559999,GB,mastercard,debit\n" -> "400000,499999,US,visa,credit\n510000,559999,IE,mastercard,debit\n"`,
		`data.paywire.experiments added  -> {"checkout":{"arms":["a","b"]}}`,
		`data.paywire.lists.blocked_bins["510999"] removed true -> `,
		`data.paywire.lists.blocked_bins["511000"] added  -> true`,
		`data.paywire.lists.providers[1] added  -> "worldpay"`,
		`.manifest.roots[2] added  -> "cases"`,
	}, "; ")
	if got := dataChanges(d); got != want {
		t.Fatalf("data changes:\n got %s\nwant %s", got, want)
	}
	if u := d.Data[0].Unified; !strings.Contains(u, "\n-510000,559999,GB,mastercard,debit\n+510000,559999,IE,mastercard,debit\n") {
		t.Errorf("the BIN table's diff:\n%s", u)
	}
	if d.Data[2].Unified != "" {
		t.Errorf("a one-line value has a text diff: %q", d.Data[2].Unified)
	}

	// An element replaced is a change at its index; a value of another
	// type is a change of the whole.
	new = crafted()
	change(t, new, "paywire/lists/data.yaml", "[adyen, sandbox, stripe]", "[adyen, nuvei, stripe]")
	new["paywire/bins/data.yaml"] = []byte("csv: []\n")
	want = `data.paywire.bins.csv changed "400000,499999,US,visa,credit\n510000,559999,GB,mastercard,debit\n" -> []; data.paywire.lists.providers[1] changed "sandbox" -> "nuvei"`
	if got := dataChanges(compare(t, old, new)); got != want {
		t.Fatalf("data changes:\n got %s\nwant %s", got, want)
	}
}

// TestCompareLayouts: a bundle as `opa build` writes it, every data file
// merged into one data.json, holds the same rules and data as the layout
// it was built from: only the files differ.
func TestCompareLayouts(t *testing.T) {
	dir := crafted()
	c, err := engine.ReadContents(dir)
	if err != nil {
		t.Fatal(err)
	}
	merged := map[string]any{"paywire": c.Data["paywire"], "rules": map[string]any{}}
	for point, rs := range c.Rules {
		var list []map[string]any
		for _, r := range rs {
			m := map[string]any{"id": r.ID, "when": r.When, "effect": r.Effect}
			if r.Group != "" {
				m["group"] = r.Group
			}
			if r.Description != "" {
				m["description"] = r.Description
			}
			list = append(list, m)
		}
		if list == nil {
			list = []map[string]any{}
		}
		merged["rules"].(map[string]any)[point] = map[string]any{"rules": list}
	}
	data, err := json.Marshal(merged)
	if err != nil {
		t.Fatal(err)
	}
	built := engine.Files{".manifest": dir[".manifest"], "risk.rego": dir["risk.rego"], "routing.rego": dir["routing.rego"], "data.json": data}
	d := compare(t, dir, built)
	if len(d.Rules) != 0 || len(d.Data) != 0 {
		t.Fatalf("the same bundle in two layouts: rules %s; data %s", ruleChanges(d), dataChanges(d))
	}
	if !strings.Contains(fileChanges(d), "data.json added") || !strings.Contains(fileChanges(d), "rules/risk/data.yaml removed") {
		t.Errorf("files: %s", fileChanges(d))
	}
}

// TestCompareRefuses: a data file that cannot be read, or rules without
// distinct ids, are refused, naming the file and the side.
func TestCompareRefuses(t *testing.T) {
	for name, tc := range map[string]struct {
		path, content, want string
	}{
		"bad YAML":       {"paywire/lists/data.yaml", "a: [\n", "paywire/lists/data.yaml"},
		"duplicate rule": {"rules/risk/data.yaml", "rules:\n  - {id: a, when: 'true'}\n  - {id: a, when: 'false'}\n", `rule id "a" is used twice`},
		"conflict":       {"paywire/data.json", `{"lists": 1}`, "data.paywire.lists is given twice"},
	} {
		t.Run(name, func(t *testing.T) {
			bad := crafted()
			bad[tc.path] = []byte(tc.content)
			_, err := bundles.Compare(crafted(), bad)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "the new bundle") {
				t.Fatalf("got %v, want an error naming %q and the new bundle", err, tc.want)
			}
		})
	}
}

// TestServiceDiff: two stored revisions are compared as stored (their
// revisions and hashes named), and a stored revision with a bundle not
// pushed yet; a revision that is not stored is not found, and a candidate
// that cannot be read is refused.
func TestServiceDiff(t *testing.T) {
	storetest.ForEachDatabase(t, func(t *testing.T, db *store.DB) {
		s := setup(t, db)
		r1 := through(t, s, "bob", true)
		files := defaultFiles(t)
		change(t, files, "rules/risk/data.yaml", "{score: 100, reason: blocked_bin}", "{score: 99, reason: blocked_bin}")
		change(t, files, "risk.rego", "package paywire.risk\n", "package paywire.risk\n\n# reviewed\n")
		b2, err := s.Push(ctx, files, "ann", "lower one score")
		if err != nil {
			t.Fatal(err)
		}
		d, err := s.Diff(ctx, r1, b2.Revision)
		if err != nil {
			t.Fatal(err)
		}
		stored1, err := db.Bundle(ctx, r1)
		if err != nil {
			t.Fatal(err)
		}
		if d.From.Revision != r1 || d.To.Revision != b2.Revision || d.From.Hash != stored1.Hash || d.To.Hash != b2.Hash {
			t.Fatalf("sides: %+v -> %+v", d.From, d.To)
		}
		if got := fileChanges(d); got != "risk.rego changed; rules/risk/data.yaml changed" {
			t.Errorf("files: %s", got)
		}
		if !strings.Contains(d.Files[0].Unified, "\n+# reviewed\n") {
			t.Errorf("risk.rego's diff:\n%s", d.Files[0].Unified)
		}
		if len(d.Rules) != 1 || d.Rules[0].ID != "blocked_bin" || d.Rules[0].Fields[0] != "effect" || len(d.Data) != 0 {
			t.Errorf("rules %s; data %s", ruleChanges(d), dataChanges(d))
		}

		// Revision 1 is signed nowhere, stamped "1": against its own
		// files on disk nothing differs; against the edited files, the
		// same as revision 2.
		d, err = s.DiffBundle(ctx, r1, defaultFiles(t), "policies/")
		if err != nil {
			t.Fatal(err)
		}
		if !d.Empty() || d.To.Bundle != "policies/" || d.To.Revision != 0 {
			t.Errorf("revision 1 against the bundle it was pushed from: files %s; data %s; to %+v", fileChanges(d), dataChanges(d), d.To)
		}
		d, err = s.DiffBundle(ctx, r1, files, "candidate.tar.gz")
		if err != nil {
			t.Fatal(err)
		}
		if got := ruleChanges(d); got != "risk.blocked_bin changed effect" {
			t.Errorf("against the candidate: %s", got)
		}

		_, err = s.Diff(ctx, r1, 99)
		wantCode(t, "a revision not stored", err, paywire.ENOTFOUND)
		_, err = s.Diff(ctx, 0, r1)
		wantCode(t, "revision 0", err, paywire.EINVALID)
		bad := maps.Clone(files)
		bad["paywire/lists/data.yaml"] = []byte("{")
		_, err = s.DiffBundle(ctx, r1, bad, "candidate.tar.gz")
		wantCode(t, "a candidate that cannot be read", err, paywire.EINVALID)
		if err == nil || !strings.Contains(err.Error(), "candidate.tar.gz") || !strings.Contains(err.Error(), "paywire/lists/data.yaml") {
			t.Errorf("the refusal does not name the bundle and the file: %v", err)
		}
	})
}
