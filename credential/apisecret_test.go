package credential_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paywire/paywire/credential"
)

func TestAPISecret(t *testing.T) {
	s := credential.NewAPISecret()
	if !strings.HasPrefix(s, "pw_live_") || len(s) != len("pw_live_")+52 || s == credential.NewAPISecret() {
		t.Fatalf("secret %q", s)
	}
	k, err := credential.NewKeyed([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	h := k.Hash(s)
	if !credential.IsKeyed(h) || strings.Contains(h, s) {
		t.Fatalf("hash %q", h)
	}
	if !k.Verify(h, s) || k.Verify(h, s+"x") || k.Verify("$argon2id$whatever", s) || k.Verify("", s) {
		t.Error("Verify disagrees with Hash")
	}
	other, _ := credential.NewKeyed([]byte("another key of 32 bytes, really."))
	if other.Verify(h, s) {
		t.Error("a hash verified under another key")
	}
	if _, err := credential.NewKeyed([]byte("short")); err == nil {
		t.Error("a short key accepted")
	}
}

func TestGateBoundsConcurrency(t *testing.T) {
	h, _ := credential.Hash("pw", credential.Params{Memory: 8 * 1024, Time: 3, Threads: 1})
	g := credential.NewGate(2, 0)
	var wg sync.WaitGroup
	var mu sync.Mutex
	busy := 0
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := g.Verify(context.Background(), h, "wrong")
			if errors.Is(err, credential.ErrBusy) {
				mu.Lock()
				busy++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if busy == 0 {
		t.Error("20 concurrent verifications through a gate of 2 without a wait: none was refused")
	}
	if ok, err := credential.NewGate(1, time.Second).Verify(context.Background(), h, "pw"); !ok || err != nil {
		t.Errorf("a free gate: %v, %v", ok, err)
	}
}
