package engine

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/open-policy-agent/opa/v1/bundle"

	"github.com/paywire/paywire/policies"
	"github.com/paywire/paywire/rules"
)

// TestReadContents: the default bundle's contents are its manifest, every
// point's rules in the order they compile, and its data without them; the
// same bundle written as OPA writes bundles (every data file merged into
// /data.json) has the same contents.
func TestReadContents(t *testing.T) {
	files, err := BundleFiles(policies.FS, rules.FS)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ReadContents(files)
	if err != nil {
		t.Fatal(err)
	}
	if rev, _ := c.Manifest["revision"].(string); rev == "" || c.Manifest["roots"] == nil {
		t.Errorf("manifest: %v", c.Manifest)
	}
	compiled, err := Compile(t.Context(), files)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range Points {
		want := compiled.points[p].rules
		got := c.Rules[p]
		if len(got) != len(want) || len(got) == 0 && p == PointRisk {
			t.Fatalf("%s: %d rules read, %d compiled", p, len(got), len(want))
		}
		for i := range want {
			if got[i].ID != want[i].id || got[i].Group != want[i].group || got[i].When == "" {
				t.Errorf("%s rule %d: read %+v, compiled %s", p, i, got[i], want[i].id)
			}
		}
	}
	if first := c.Rules[PointRisk][0]; first.ID != "blocked_bin" || first.Effect["score"] != 100 || first.Effect["reason"] != "blocked_bin" {
		t.Errorf("the first risk rule: %+v", first)
	}
	if _, ok := c.Data["rules"]; ok {
		t.Errorf("the rules are in the data too: %v", c.Data["rules"])
	}
	lists, _ := c.Data["paywire"].(map[string]any)["lists"].(map[string]any)
	if lists["blocked_bins"] == nil {
		t.Errorf("data.paywire.lists: %v", lists)
	}

	// As OPA writes it.
	b, err := readBundle(files, nil)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := bundle.NewWriter(&buf).Write(b); err != nil {
		t.Fatal(err)
	}
	built, err := ReadTarball(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := built["data.json"]; !ok || built["rules/risk/data.yaml"] != nil {
		t.Fatalf("OPA's layout: %v", built.paths())
	}
	bc, err := ReadContents(built)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(bc.Rules, c.Rules) {
		t.Errorf("the rules of the bundle as OPA writes it differ")
	}
	if !reflect.DeepEqual(bc.Data, c.Data) {
		t.Errorf("the data of the bundle as OPA writes it differ")
	}
}
