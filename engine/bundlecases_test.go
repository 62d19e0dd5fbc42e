package engine

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/util"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/policies"
	"github.com/paywire/paywire/rules"
)

const casesManifest = `{"revision": "test-1", "roots": ["paywire", "rules", "cases"]}`

// TestBundleCasesRun: RunTests decides a bundle's cases and reports each
// failure with its file, line and what differed; an input that does not
// fit the schema fails its case; the cases are decided by the bundle alone,
// whatever the live lists of the engine that loaded it hold.
func TestBundleCasesRun(t *testing.T) {
	files := with(with(minimalFiles(), ".manifest", casesManifest), "cases/risk/mine/data.yaml", `# comment
- note: small, allowed
  input:
    request: {amount: {minor: 500, currency: EUR, exponent: 2}, card: {bin: "411111"}, time: "2026-11-25T12:00:00Z"}
    features: {}
  want: {action: allow, score: 0, reasons: []}
- note: big wants block
  input:
    request: {amount: {minor: 200000, currency: EUR, exponent: 2}, time: "2026-11-25T12:00:00Z"}
  want: {action: block}
- input:
    request: {amout: {minor: 1}}
  want: {action: allow}
`)
	e := newEngine(t, files)
	// The live lists block the first case's BIN: a case must not see them.
	e.SetLists(NewListSet([]paywire.ListEntry{entry("blocked_bins", paywire.ListBIN, "411111", time.Time{})}, 1, now))
	if d, _ := e.Risk(ctx, riskInput(500, "411111")); d.Action != RiskBlock {
		t.Fatalf("the live list does not block: %+v", d)
	}
	results, err := e.Active().RunTests(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var cases []TestResult
	for _, r := range results {
		if r.Kind == TestCase {
			cases = append(cases, r)
		}
	}
	if len(cases) != 3 {
		t.Fatalf("%d case results: %+v", len(cases), cases)
	}
	for i, want := range []struct {
		name  string
		line  int
		pass  bool
		error string
	}{
		{"small, allowed", 2, true, ""},
		{"big wants block", 7, false, `action = "allow", want "block"; rules fired: [big]`},
		{"case 3", 11, false, `input does not fit the schema: json: unknown field "amout"`},
	} {
		r := cases[i]
		if r.Package != "cases.risk.mine" || r.Name != want.name || r.File != "cases/risk/mine/data.yaml" || r.Pass != want.pass ||
			!strings.Contains(r.Error, want.error) || want.error == "" && r.Error != "" || r.Line != want.line {
			t.Errorf("case %d = %+v; want %+v", i+1, r, want)
		}
	}
}

// TestBundleCasesRefused: malformed cases refuse the bundle at load, so
// that no case goes untested unnoticed.
func TestBundleCasesRefused(t *testing.T) {
	base := with(minimalFiles(), ".manifest", casesManifest)
	for _, tt := range []struct {
		name, file, content, want string
	}{
		{"unknown point", "cases/rsk/mine/data.yaml", "- {note: x, input: {}, want: {action: allow}}\n", `"rsk" is not a decision point`},
		{"cases without a set", "cases/risk/data.yaml", "- {note: x, input: {}, want: {action: allow}}\n", "object of case sets"},
		{"set not a list", "cases/risk/mine/data.yaml", "note: x\n", "must be a list"},
		{"no want", "cases/risk/mine/data.yaml", "- {note: x, input: {}}\n", "needs input and want"},
		{"misspelt want", "cases/risk/mine/data.yaml", "- {note: x, input: {}, wnat: {action: allow}}\n", `unknown attribute "wnat"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compile(ctx, with(base, tt.file, tt.content))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("%v; want an error saying %q", err, tt.want)
			}
		})
	}
	// Cases outside the manifest's roots are refused by OPA's reader.
	if _, err := Compile(ctx, with(minimalFiles(), "cases/risk/mine/data.yaml", "- {note: x, input: {}, want: {action: allow}}\n")); err == nil {
		t.Error("cases outside the manifest's roots were accepted")
	}
}

// TestRulesFromMergedData: a bundle whose rules are in /data.json, as `opa
// build` writes them, decides as the bundle with the rules files; a rule
// that does not compile is reported by its id, in data.json.
func TestRulesFromMergedData(t *testing.T) {
	merged := map[string]any{}
	opaLayout := minimalFiles()
	for _, p := range Points {
		rs, problems := compileRules(p, opaLayout[rulesFile(p)], nil)
		if len(problems) > 0 || p == PointRisk && len(rs) != 2 {
			t.Fatal(problems)
		}
		var doc any
		if err := yamlToJSON(opaLayout[rulesFile(p)], &doc); err != nil {
			t.Fatal(err)
		}
		merged[p] = doc
		delete(opaLayout, rulesFile(p))
	}
	raw, err := json.Marshal(map[string]any{"rules": merged})
	if err != nil {
		t.Fatal(err)
	}
	opaLayout["data.json"] = raw
	a, b := newEngine(t, minimalFiles()), newEngine(t, opaLayout)
	for _, in := range []RiskInput{riskInput(500, "411111"), riskInput(150000, "411111"), riskInput(150000, "666666")} {
		da, _ := a.Risk(ctx, in)
		db, _ := b.Risk(ctx, in)
		da.Meta.DecisionID, da.Meta.Duration, da.Meta.BundleHash = "", 0, ""
		db.Meta.DecisionID, db.Meta.Duration, db.Meta.BundleHash = "", 0, ""
		if !reflect.DeepEqual(da, db) || db.FailedClosed {
			t.Errorf("rules in data.json decide %+v; in rules files %+v", db, da)
		}
	}

	bad := with(opaLayout, "data.json", strings.Replace(string(raw), "request.amount.minor", "request.amout.minor", 1))
	_, err = Compile(ctx, bad)
	if err == nil || !strings.Contains(err.Error(), `data.json (data.rules.risk): rule "big": when:`) || !strings.Contains(err.Error(), "amout") {
		t.Errorf("a misspelt attribute in data.json: %v", err)
	}
	// The default bundle's rules in data.json compile as its rules files.
	files, err := BundleFiles(policies.FS, rules.FS)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range Points {
		var doc any
		if err := yamlToJSON(files[rulesFile(p)], &doc); err != nil {
			t.Fatal(err)
		}
		_, src, _ := ruleSource(Files{}, map[string]any{"rules": map[string]any{p: doc}}, p)
		fromJSON, problems := compileRules(p, src, nil)
		fromYAML, _ := compileRules(p, files[rulesFile(p)], nil)
		if len(problems) > 0 || len(fromJSON) != len(fromYAML) || len(fromYAML) == 0 && p != PointAvailability {
			t.Fatalf("%s: %d rules from JSON, %d from YAML: %v", p, len(fromJSON), len(fromYAML), problems)
		}
		for i := range fromYAML {
			if fromJSON[i].id != fromYAML[i].id || string(fromJSON[i].effect) != string(fromYAML[i].effect) || fromJSON[i].reads != fromYAML[i].reads || fromJSON[i].group != fromYAML[i].group {
				t.Errorf("%s rule %s differs read from JSON", p, fromYAML[i].id)
			}
		}
	}
}

// yamlToJSON reads YAML as OPA's reader does: into JSON values.
func yamlToJSON(src []byte, v any) error { return util.Unmarshal(src, v) }
