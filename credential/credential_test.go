package credential_test

import (
	"strings"
	"testing"

	"github.com/paywire/paywire/credential"
)

var fast = credential.Params{Memory: 64, Time: 1, Threads: 1}

func TestHashVerify(t *testing.T) {
	h, err := credential.Hash("correct horse", fast)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") || strings.Contains(h, "correct horse") {
		t.Fatalf("hash %q", h)
	}
	if ok, err := credential.Verify(h, "correct horse"); !ok || err != nil {
		t.Errorf("right secret: %v, %v", ok, err)
	}
	if ok, err := credential.Verify(h, "correct horsf"); ok || err != nil {
		t.Errorf("wrong secret: %v, %v", ok, err)
	}
	h2, _ := credential.Hash("correct horse", fast)
	if h == h2 {
		t.Error("two hashes of one secret are equal: the salt is not random")
	}
}

func TestVerifyRefusesMalformed(t *testing.T) {
	for _, enc := range []string{
		"", "plain", "$argon2i$v=19$m=64,t=1,p=1$c2FsdA$aGFzaA",
		"$argon2id$v=18$m=64,t=1,p=1$c2FsdA$aGFzaA",
		"$argon2id$v=19$m=99999999,t=1,p=1$c2FsdA$aGFzaA",
		"$argon2id$v=19$m=64,t=1,p=1$!!$aGFzaA",
		"$argon2id$v=19$m=64,t=1,p=1$c2FsdA$",
	} {
		if ok, err := credential.Verify(enc, "x"); ok || err == nil {
			t.Errorf("Verify(%q) = %v, %v; want an error", enc, ok, err)
		}
	}
	if _, err := credential.Hash("", fast); err == nil {
		t.Error("empty secret hashed")
	}
}

func TestNewSecret(t *testing.T) {
	a, b := credential.NewSecret(), credential.NewSecret()
	if len(a) != 43 || a == b {
		t.Errorf("secrets %q %q", a, b)
	}
}
