package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut strings.Builder
	code = run(context.Background(), args, &out, &errOut, func(string) string { return "" })
	return code, out.String(), errOut.String()
}

const riskInput = `{"request": {"payment_id": "pay_1", "merchant_id": "demo", "kind": "deposit",
  "amount": {"minor": 1999, "currency": "EUR", "exponent": 2}, "method": "card",
  "card": {"brand": "visa", "bin": "411111", "last4": "1111", "country": "DE", "expiry_month": 12, "expiry_year": 2030},
  "customer": {"id": "c1", "email": "a@example.com", "email_domain": "example.com", "country": "DE", "ip": "192.0.2.1", "ip_country": "DE", "language": "de"},
  "billing_country": "DE", "time": "2026-11-25T12:00:00Z"},
 "features": {"customer_age_days": 400, "card_age_days": 300, "email_age_days": 400}}`

func TestPolicyCommands(t *testing.T) {
	dir := t.TempDir()
	input := filepath.Join(dir, "payment.json")
	if err := os.WriteFile(input, []byte(riskInput), 0o600); err != nil {
		t.Fatal(err)
	}

	code, out, errOut := runCmd(t, "policy", "test")
	if code != 0 || !strings.Contains(out, " passed, 0 failed") {
		t.Fatalf("policy test: %d\n%s%s", code, out, errOut)
	}

	code, out, errOut = runCmd(t, "policy", "eval", "--point", "risk", "--input", input)
	if code != 0 {
		t.Fatalf("policy eval: %d %s", code, errOut)
	}
	var d struct {
		Action     string `json:"action"`
		DecisionID string `json:"decision_id"`
		Revision   string `json:"bundle_revision"`
		RulesFired []any  `json:"rules_fired"`
	}
	if err := json.Unmarshal([]byte(out), &d); err != nil || d.Action == "" || d.DecisionID == "" || d.Revision == "" || d.RulesFired == nil {
		t.Errorf("policy eval printed %s (%v)", out, err)
	}

	tarball := filepath.Join(dir, "bundle.tar.gz")
	code, out, errOut = runCmd(t, "policy", "build", "--out", tarball)
	if code != 0 || !strings.Contains(out, "revision default-") {
		t.Fatalf("policy build: %d %s %s", code, out, errOut)
	}
	code, out, _ = runCmd(t, "policy", "test", tarball)
	if code != 0 || !strings.Contains(out, " passed, 0 failed") {
		t.Errorf("policy test on the built tarball: %d %s", code, out)
	}
	code, out, errOut = runCmd(t, "policy", "eval", "--point", "risk", "--input", input, "--bundle", tarball)
	if code != 0 || !strings.Contains(out, d.Revision) {
		t.Errorf("policy eval --bundle: %d %s %s", code, out, errOut)
	}
}

func TestPolicyCommandsRefuseBadInput(t *testing.T) {
	dir := t.TempDir()
	typo := filepath.Join(dir, "typo.json")
	os.WriteFile(typo, []byte(`{"request": {"amount": {"minr": 5}}}`), 0o600)
	broken := filepath.Join(dir, "broken")
	os.MkdirAll(filepath.Join(broken, "rules", "risk"), 0o755)
	os.WriteFile(filepath.Join(broken, ".manifest"), []byte(`{"revision": "x", "roots": ["paywire", "rules"]}`), 0o644)
	os.WriteFile(filepath.Join(broken, "risk.rego"), []byte("package paywire.risk\n\ndecision := {\n"), 0o644)

	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"policy", "eval", "--point", "risk", "--input", typo}, 1, `unknown field "minr"`},
		{[]string{"policy", "eval", "--point", "fraud", "--input", typo}, 2, "--point"},
		{[]string{"policy", "eval", "--point", "risk"}, 2, "--input"},
		{[]string{"policy", "eval", "--point", "risk", "--input", filepath.Join(dir, "none.json")}, 1, "no such file"},
		{[]string{"policy", "test", broken}, 1, "risk.rego:4: rego_parse_error"},
		{[]string{"policy", "build"}, 2, "--out"},
		{[]string{"policy", "lint"}, 2, "unknown policy command"},
	}
	for _, tt := range tests {
		code, _, errOut := runCmd(t, tt.args...)
		if code != tt.code || !strings.Contains(errOut, tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d saying %q", tt.args, code, errOut, tt.code, tt.want)
		}
	}
}

func TestPolicySigning(t *testing.T) {
	dir := t.TempDir()
	input := filepath.Join(dir, "payment.json")
	if err := os.WriteFile(input, []byte(riskInput), 0o600); err != nil {
		t.Fatal(err)
	}
	writeKeys := func(name string) (private, public string) {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		der, _ := x509.MarshalECPrivateKey(k)
		pub, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
		private, public = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".pub.pem")
		_ = os.WriteFile(private, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600)
		_ = os.WriteFile(public, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o600)
		return private, public
	}
	private, public := writeKeys("release")
	_, otherPublic := writeKeys("other")

	signed := filepath.Join(dir, "signed.tar.gz")
	code, out, errOut := runCmd(t, "policy", "build", "--out", signed, "--signing-key", private, "--signing-alg", "ES256", "--key-id", "release")
	if code != 0 || !strings.Contains(out, "signed (ES256, key release)") {
		t.Fatalf("signed build: %d %s %s", code, out, errOut)
	}
	verify := []string{"--verification-key", public, "--signing-alg", "ES256", "--key-id", "release"}
	if code, out, errOut := runCmd(t, append([]string{"policy", "eval", "--point", "risk", "--input", input, "--bundle", signed}, verify...)...); code != 0 || !strings.Contains(out, `"action"`) {
		t.Errorf("eval of the signed bundle, verified: %d %s %s", code, out, errOut)
	}
	if code, out, _ := runCmd(t, append(append([]string{"policy", "test"}, verify...), signed)...); code != 0 || !strings.Contains(out, " passed, 0 failed") {
		t.Errorf("test of the signed bundle, verified: %d %s", code, out)
	}
	unsigned := filepath.Join(dir, "unsigned.tar.gz")
	if code, _, errOut := runCmd(t, "policy", "build", "--out", unsigned); code != 0 {
		t.Fatal(errOut)
	}
	for _, c := range []struct {
		note   string
		bundle string
		key    string
	}{
		{"unsigned", unsigned, public},
		{"signed with another key", signed, otherPublic},
	} {
		code, _, errOut := runCmd(t, "policy", "eval", "--point", "risk", "--input", input, "--bundle", c.bundle,
			"--verification-key", c.key, "--signing-alg", "ES256", "--key-id", "release")
		if code == 0 || !strings.Contains(errOut, ".signatures.json") {
			t.Errorf("%s: exit %d, %s", c.note, code, errOut)
		}
	}
	// The signature is OPA's: the standard OPA CLI verifies it in CI
	// (.ci/run), where the same key pair is made with openssl.
}
