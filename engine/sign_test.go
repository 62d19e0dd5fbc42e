package engine_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"

	"github.com/paywire/paywire/engine"
	"github.com/paywire/paywire/policies"
	"github.com/paywire/paywire/rules"
)

func ecKeys(t *testing.T) (private, public string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalECPrivateKey(k)
	pub, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	return string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}))
}

func TestSignedBundles(t *testing.T) {
	ctx := context.Background()
	files, err := engine.BundleFiles(policies.FS, rules.FS)
	if err != nil {
		t.Fatal(err)
	}
	private, public := ecKeys(t)
	signed, err := engine.Sign(files, private, "ES256", "release-2026")
	if err != nil {
		t.Fatal(err)
	}
	v := &engine.Verification{KeyID: "release-2026", Key: public, Algorithm: "ES256"}
	if _, err := engine.CompileVerified(ctx, signed, v); err != nil {
		t.Fatalf("a signed bundle is refused: %v", err)
	}
	_, otherPublic := ecKeys(t)
	tampered := engine.Files{}
	for p, b := range signed {
		tampered[p] = b
	}
	tampered["rules/risk/data.yaml"] = []byte(strings.Replace(string(signed["rules/risk/data.yaml"]), "{score: 100, reason: blocked_bin}", "{score: 0, reason: blocked_bin}", 1))
	if string(tampered["rules/risk/data.yaml"]) == string(signed["rules/risk/data.yaml"]) {
		t.Fatal("the tampering changed nothing")
	}
	added := engine.Files{}
	for p, b := range signed {
		added[p] = b
	}
	added["extra.rego"] = []byte("package paywire.extra\nx := 1\n")
	for _, c := range []struct {
		note  string
		files engine.Files
		v     *engine.Verification
	}{
		{"unsigned", files, v},
		{"another key", signed, &engine.Verification{KeyID: "release-2026", Key: otherPublic, Algorithm: "ES256"}},
		{"an expr rule changed after signing", tampered, v},
		{"a policy added after signing", added, v},
	} {
		_, err := engine.CompileVerified(ctx, c.files, c.v)
		var le *engine.LoadError
		if err == nil || !asLoadError(err, &le) {
			t.Errorf("%s: %v; want a refusal", c.note, err)
			continue
		}
		t.Logf("%s: %v", c.note, err)
	}
	// Without verification a signed bundle loads as any other.
	if _, err := engine.Compile(ctx, signed); err != nil {
		t.Errorf("unverified: %v", err)
	}
	// An engine that requires signatures refuses the unsigned bundle and
	// keeps the signed one active.
	e := engine.New(4)
	e.Verification = v
	if _, err := e.Activate(ctx, signed); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Activate(ctx, files); err == nil {
		t.Error("the engine activated an unsigned bundle")
	}
	if e.Active().Hash != signed.Hash() {
		t.Error("the active bundle changed")
	}
	// HMAC works too.
	hs, err := engine.Sign(files, "a shared secret", "HS256", "k")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := engine.CompileVerified(ctx, hs, &engine.Verification{KeyID: "k", Key: "a shared secret", Algorithm: "HS256"}); err != nil {
		t.Errorf("HS256: %v", err)
	}
}

func asLoadError(err error, le **engine.LoadError) bool {
	e, ok := err.(*engine.LoadError)
	*le = e
	return ok
}
