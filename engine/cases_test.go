package engine_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

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

// TestDecisionCases decides the default bundle's decision cases
// (policies/cases/<point>/<set>/data.yaml: examples written by hand, and
// histories generated from payment histories by the real input builder, see
// payment/corpus_test.go) as `paywire policy test` does: every case must
// give the decision it wants.
func TestDecisionCases(t *testing.T) {
	results, err := defaultEngine(t).Active().RunTests(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	perPoint := map[string]int{}
	sets := map[string]bool{}
	for _, r := range results {
		if r.Kind != engine.TestCase {
			continue
		}
		point := strings.Split(r.Package, ".")[1]
		perPoint[point]++
		sets[r.Package] = true
		if !r.Pass {
			t.Errorf("%s:%d: %s:\n  %s", r.File, r.Line, r.Name, r.Error)
		}
		if !strings.HasPrefix(r.File, "cases/"+point+"/") || r.Line == 0 {
			t.Errorf("%s: located at %s:%d, not in its case file", r.Name, r.File, r.Line)
		}
	}
	for _, point := range engine.Points {
		if perPoint[point] < 8 {
			t.Errorf("%s: %d cases; every point needs at least 8", point, perPoint[point])
		}
	}
	for _, set := range []string{"cases.risk.examples", "cases.risk.histories", "cases.availability.histories"} {
		if !sets[set] {
			t.Errorf("case set %s is missing", set)
		}
	}
}

// TestRegoUnitTests runs the default bundle's *_test.rego files through
// OPA's test runner, as `opa test policies/ rules/` does.
func TestRegoUnitTests(t *testing.T) {
	b := defaultEngine(t).Active()
	results, err := b.RunTests(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	rego := 0
	for _, r := range results {
		if r.Kind != engine.TestRego {
			continue
		}
		rego++
		if !r.Pass {
			t.Errorf("%s.%s (%s:%d): %s", r.Package, r.Name, r.File, r.Line, r.Error)
		}
	}
	if rego < 20 {
		t.Errorf("only %d Rego tests", rego)
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
