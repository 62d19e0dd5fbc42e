package engine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/paywire/paywire/engine"
	"github.com/paywire/paywire/policies"
	"github.com/paywire/paywire/rules"
)

// defaultEngine returns an engine with the built-in default bundle active.
func defaultEngine(t testing.TB) *engine.Engine {
	t.Helper()
	files, err := engine.BundleFiles(policies.FS, rules.FS)
	if err != nil {
		t.Fatal(err)
	}
	e := engine.New(2)
	if _, err := e.Activate(context.Background(), files); err != nil {
		t.Fatal(err)
	}
	return e
}

// decisionCase is one entry of testdata/cases/<point>.yaml, written by
// hand, or of testdata/cases/<point>-*.yaml, generated (risk-histories.yaml
// holds the inputs the payment service's builder makes from payment
// histories; see payment/corpus_test.go): an input (request and features;
// the engine runs the expr rules itself) and the part of the decision it
// must give.
type decisionCase struct {
	Note  string         `yaml:"note"`
	Input map[string]any `yaml:"input"`
	Want  map[string]any `yaml:"want"`
}

// caseFiles are the case files of a decision point.
func caseFiles(t *testing.T, point string) []string {
	t.Helper()
	more, err := filepath.Glob(filepath.Join("testdata", "cases", point+"-*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return append([]string{filepath.Join("testdata", "cases", point+".yaml")}, more...)
}

// TestDecisionCases runs the YAML case corpus of every decision point
// against the default bundle.
func TestDecisionCases(t *testing.T) {
	e := defaultEngine(t)
	ctx := context.Background()
	for _, point := range engine.Points {
		t.Run(point, func(t *testing.T) {
			var cases []decisionCase
			for _, file := range caseFiles(t, point) {
				raw, err := os.ReadFile(file)
				if err != nil {
					t.Fatal(err)
				}
				var these []decisionCase
				if err := yaml.Unmarshal(raw, &these); err != nil {
					t.Fatalf("%s: %v", file, err)
				}
				if len(these) == 0 {
					t.Errorf("%s: no cases", file)
				}
				for _, c := range these {
					c.Note = filepath.Base(file) + ": " + c.Note
					cases = append(cases, c)
				}
			}
			if len(cases) < 8 {
				t.Errorf("%d cases; every point needs at least 8", len(cases))
			}
			for _, c := range cases {
				in, err := json.Marshal(c.Input)
				if err != nil {
					t.Fatal(err)
				}
				var out any
				switch point {
				case engine.PointAvailability:
					var x engine.AvailabilityInput
					strict(t, c.Note, in, &x)
					out, err = e.Availability(ctx, x)
				case engine.PointRisk:
					var x engine.RiskInput
					strict(t, c.Note, in, &x)
					out, err = e.Risk(ctx, x)
				case engine.PointRouting:
					var x engine.RouteInput
					strict(t, c.Note, in, &x)
					out, err = e.Route(ctx, x)
				case engine.PointWorkflow:
					var x engine.WorkflowInput
					strict(t, c.Note, in, &x)
					out, err = e.Workflow(ctx, x)
				}
				if err != nil {
					t.Fatalf("%s: %v", c.Note, err)
				}
				got := normalize(t, out)
				if got["failed_closed"] == true && c.Want["fail_closed"] != true {
					t.Errorf("%s: failed closed: %v", c.Note, got["error"])
					continue
				}
				for k, want := range c.Want {
					if k == "fail_closed" {
						k = "failed_closed"
					}
					if !reflect.DeepEqual(got[k], normalizeValue(t, want)) {
						t.Errorf("%s:\n  %s = %v\n  want %v\n  rules fired: %v", c.Note, k, got[k], want, got["rules_fired"])
					}
				}
			}
		})
	}
}

func strict(t *testing.T, note string, raw []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: input does not fit the schema: %v", note, err)
	}
}

// normalize turns a decision into its JSON form, so that YAML expectations
// compare with it value for value.
func normalize(t *testing.T, v any) map[string]any {
	var m map[string]any
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func normalizeValue(t *testing.T, v any) any {
	var out any
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRegoUnitTests runs the default bundle's *_test.rego files through
// OPA's test runner, as `opa test policies/ rules/` does.
func TestRegoUnitTests(t *testing.T) {
	b := defaultEngine(t).Active()
	results, err := b.RunTests(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(results) < 20 {
		t.Errorf("only %d Rego tests", len(results))
	}
	for _, r := range results {
		if !r.Pass {
			t.Errorf("%s.%s (%s:%d): %s", r.Package, r.Name, r.File, r.Line, r.Error)
		}
	}
}

// TestDefaultBundleRoundTrip builds the default bundle as a .tar.gz and
// reads it back: same files, same content hash.
func TestDefaultBundleRoundTrip(t *testing.T) {
	files, err := engine.BundleFiles(policies.FS, rules.FS)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := files.WriteTarball(&buf); err != nil {
		t.Fatal(err)
	}
	back, err := engine.ReadTarball(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if back.Hash() != files.Hash() || len(back) != len(files) {
		t.Errorf("round trip changed the bundle: %d files %s, was %d files %s", len(back), back.Hash(), len(files), files.Hash())
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
	fromDir, err := engine.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fromDir.Hash() != files.Hash() {
		t.Error("reading the bundle from a directory changed its hash")
	}
}
