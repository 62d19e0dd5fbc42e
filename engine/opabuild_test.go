package engine

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/paywire/paywire/policies"
	"github.com/paywire/paywire/rules"
)

// opaCLI returns the path of the OPA command-line tool: $PAYWIRE_TEST_OPA,
// else opa on the PATH. Without one the test is skipped, except in CI
// (CI=true), where .ci/run installs it and its absence fails the test.
func opaCLI(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("PAYWIRE_TEST_OPA"); p != "" {
		return p
	}
	if p, err := exec.LookPath("opa"); err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("the OPA CLI is missing: set PAYWIRE_TEST_OPA or put opa on the PATH (.ci/run builds it)")
	}
	t.Skip("the OPA CLI is missing (set PAYWIRE_TEST_OPA or put opa on the PATH)")
	return ""
}

// TestOPABuiltBundle builds and signs the default bundle with the standard
// `opa build --signing-key`, which merges every data file (expr rules,
// lists, BINs, risk profiles, decision cases) into /data.json, and checks
// that paywire verifies it, runs its tests, and decides every one of its
// decision cases exactly as the same bundle built and signed by paywire.
func TestOPABuiltBundle(t *testing.T) {
	opa := opaCLI(t)
	ctx := context.Background()
	files, err := BundleFiles(policies.FS, rules.FS)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for p, b := range files {
		full := filepath.Join(dir, "bundle", filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	private := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
	if der, err = x509.MarshalPKIXPublicKey(&key.PublicKey); err != nil {
		t.Fatal(err)
	}
	public := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	if err := os.WriteFile(filepath.Join(dir, "key.pem"), private, 0o600); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(opa, "build", "-b", "bundle", "--signing-key", "key.pem", "--signing-alg", "ES256", "-o", "opa.tar.gz")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("opa build: %v\n%s", err, out)
	}
	fh, err := os.Open(filepath.Join(dir, "opa.tar.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	built, err := ReadTarball(fh)
	if err != nil {
		t.Fatal(err)
	}
	// The layout this test is about: OPA's, not paywire's.
	if _, ok := built["data.json"]; !ok {
		t.Fatalf("opa build wrote no /data.json: %v", built.paths())
	}
	for p := range built {
		if strings.HasSuffix(p, "/data.yaml") {
			t.Fatalf("opa build kept the data file %s: the test would not cover the merged layout", p)
		}
	}

	// OPA names its key "default" unless told otherwise.
	opaBundle, err := CompileVerified(ctx, built, &Verification{KeyID: "default", Key: public, Algorithm: "ES256"})
	if err != nil {
		t.Fatalf("the bundle signed by opa build is refused: %v", err)
	}
	signed, err := Sign(files, string(private), "ES256", "paywire")
	if err != nil {
		t.Fatal(err)
	}
	ours, err := CompileVerified(ctx, signed, &Verification{KeyID: "paywire", Key: public, Algorithm: "ES256"})
	if err != nil {
		t.Fatal(err)
	}
	if opaBundle.Revision != ours.Revision {
		t.Errorf("revision %q, paywire's %q", opaBundle.Revision, ours.Revision)
	}

	// The same tests pass; the cases are in data.json.
	theirs, err := opaBundle.RunTests(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mine, err := ours.RunTests(ctx)
	if err != nil {
		t.Fatal(err)
	}
	count := func(rs []TestResult, kind string) (n int) {
		for _, r := range rs {
			if r.Kind == kind {
				n++
			}
		}
		return n
	}
	for _, kind := range []string{TestRego, TestCase} {
		if count(theirs, kind) != count(mine, kind) || count(mine, kind) == 0 {
			t.Errorf("%s tests: %d in the bundle built by opa, %d in paywire's", kind, count(theirs, kind), count(mine, kind))
		}
	}
	for _, r := range theirs {
		if !r.Pass {
			t.Errorf("opa-built bundle: %s %s.%s (%s): %s", r.Kind, r.Package, r.Name, r.File, r.Error)
		}
		if r.Kind == TestCase && r.File != "data.json" {
			t.Errorf("case %s located in %s, not data.json", r.Name, r.File)
		}
	}

	// Every case decides the same: the whole decision, rules fired and
	// their effects included, not only the part a case wants.
	if len(ours.cases) != len(opaBundle.cases) || len(ours.cases) < 100 {
		t.Fatalf("%d cases in the bundle built by opa, %d in paywire's", len(opaBundle.cases), len(ours.cases))
	}
	a, b := &Engine{}, &Engine{}
	a.active.Store(ours)
	b.active.Store(opaBundle)
	for i := range ours.cases {
		c := &ours.cases[i]
		if oc := opaBundle.cases[i]; oc.note != c.note || !reflect.DeepEqual(normalized(t, oc.input), normalized(t, c.input)) {
			t.Fatalf("case %d: %q in the bundle built by opa, %q in paywire's", i, oc.note, c.note)
		}
		got, want := decideAll(t, b, c), decideAll(t, a, c)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %s\n  opa build: %v\n  paywire:   %v", c.set, c.note, got, want)
		}
	}

	// A case changed after signing is refused, like any data.
	changed := Files{}
	for p, b := range built {
		changed[p] = b
	}
	changed["data.json"] = bytes.Replace(built["data.json"], []byte(`"action":"allow"`), []byte(`"action":"block"`), 1)
	if bytes.Equal(changed["data.json"], built["data.json"]) {
		t.Fatal("the data.json of opa build holds no allowed case to change")
	}
	if _, err := CompileVerified(ctx, changed, &Verification{KeyID: "default", Key: public, Algorithm: "ES256"}); err == nil || !strings.Contains(err.Error(), "signature") {
		t.Errorf("a case changed after opa signed the bundle: %v", err)
	}
}

// decideAll decides a case with e and returns the decision as JSON
// decodes it, without what differs between two runs of it.
func decideAll(t *testing.T, e *Engine, c *decisionCase) map[string]any {
	t.Helper()
	raw, err := json.Marshal(c.input)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	switch c.point {
	case PointAvailability:
		var in AvailabilityInput
		if err = strictJSON(raw, &in); err == nil {
			out, err = e.Availability(context.Background(), in)
		}
	case PointRisk:
		var in RiskInput
		if err = strictJSON(raw, &in); err == nil {
			out, err = e.Risk(context.Background(), in)
		}
	case PointRouting:
		var in RouteInput
		if err = strictJSON(raw, &in); err == nil {
			out, err = e.Route(context.Background(), in)
		}
	case PointWorkflow:
		var in WorkflowInput
		if err = strictJSON(raw, &in); err == nil {
			out, err = e.Workflow(context.Background(), in)
		}
	}
	if err != nil {
		t.Fatalf("%s: %v", c.note, err)
	}
	m := normalized(t, out).(map[string]any)
	for _, k := range []string{"decision_id", "duration_ns", "bundle_hash"} {
		delete(m, k)
	}
	return m
}

func normalized(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}
