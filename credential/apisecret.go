package credential

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"strings"
	"time"
)

// APISecretPrefix starts every API secret Paywire issues, so that secret
// scanners (and people) recognise a leaked one.
const APISecretPrefix = "pw_live_"

var base32Lower = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewAPISecret returns a new API secret: the prefix and 32 random bytes in
// lower-case base32 (52 characters). With 256 bits of entropy it needs no
// slow hash: a keyed hash of it cannot be reversed by guessing.
func NewAPISecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return APISecretPrefix + base32Lower.EncodeToString(b)
}

// keyedScheme starts the stored form of a keyed hash.
const keyedScheme = "$hmac-sha256$"

// Keyed hashes API secrets with HMAC-SHA256 under a server-side key that
// every node shares. A stored hash is useless without the key, and
// verifying costs microseconds, so that wrong secrets cost the service
// nothing worth attacking.
type Keyed struct{ key []byte }

// NewKeyed returns a Keyed under key, which must be at least 16 bytes.
func NewKeyed(key []byte) (*Keyed, error) {
	if len(key) < 16 {
		return nil, errors.New("the API secret key must be at least 16 bytes")
	}
	return &Keyed{key: append([]byte(nil), key...)}, nil
}

// Hash returns the stored form of secret: $hmac-sha256$<hex>.
func (k *Keyed) Hash(secret string) string {
	return keyedScheme + hex.EncodeToString(k.sum(secret))
}

func (k *Keyed) sum(secret string) []byte {
	mac := hmac.New(sha256.New, k.key)
	mac.Write([]byte(secret))
	return mac.Sum(nil)
}

// IsKeyed reports whether encoded is a keyed hash (and not an argon2id one).
func IsKeyed(encoded string) bool { return strings.HasPrefix(encoded, keyedScheme) }

// Verify reports whether secret matches the keyed hash encoded, comparing
// in constant time. It always computes one HMAC, whatever encoded holds,
// so that a caller can verify against a dummy hash for an unknown merchant
// and do the same work as for a known one.
func (k *Keyed) Verify(encoded, secret string) bool {
	got := k.sum(secret)
	want, err := hex.DecodeString(strings.TrimPrefix(encoded, keyedScheme))
	if err != nil || !IsKeyed(encoded) || len(secret) > maxSecretLen {
		want = make([]byte, len(got))
		hmac.Equal(got, want)
		return false
	}
	return hmac.Equal(got, want)
}

// ErrBusy is returned by Gate.Verify when every slot stayed taken for the
// whole wait.
var ErrBusy = errors.New("too many password verifications in progress")

// Gate bounds the number of argon2id verifications that run at once: each
// takes tens of MiB and tens of milliseconds, so that unbounded, a flood of
// wrong passwords exhausts memory and CPU. Excess callers wait briefly,
// then get ErrBusy.
type Gate struct {
	slots chan struct{}
	wait  time.Duration
}

// NewGate returns a gate admitting n verifications at once, each waiting at
// most wait for a slot.
func NewGate(n int, wait time.Duration) *Gate {
	if n < 1 {
		n = 1
	}
	return &Gate{slots: make(chan struct{}, n), wait: wait}
}

// Verify is credential.Verify run in one of the gate's slots.
func (g *Gate) Verify(ctx context.Context, encoded, secret string) (bool, error) {
	t := time.NewTimer(g.wait)
	defer t.Stop()
	select {
	case g.slots <- struct{}{}:
	case <-t.C:
		return false, ErrBusy
	case <-ctx.Done():
		return false, ctx.Err()
	}
	defer func() { <-g.slots }()
	return Verify(encoded, secret)
}

// DevelopmentKey keys API secrets when no key is configured. It is public,
// so a deployment must configure its own (PAYWIRE_TOKEN_KEY).
var DevelopmentKey = []byte("paywire development key: configure PAYWIRE_TOKEN_KEY")
