// Package credential makes, hashes and verifies secrets: merchant API
// secrets (prefixed, high-entropy, under a keyed hash that every node
// shares) and back-office passwords (argon2id, in the PHC string format
// $argon2id$v=19$m=...,t=...,p=...$salt$hash, behind a gate that bounds
// concurrent verifications). Its Manager creates merchants and runs the
// life of their credentials, audited. Secrets themselves are never stored
// or logged.
package credential

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Params are the argon2id cost parameters.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32
	Threads uint8
}

// Default follows the OWASP recommendation for argon2id (19 MiB, 2
// iterations, 1 thread): about 20 ms per hash on a current core.
var Default = Params{Memory: 19 * 1024, Time: 2, Threads: 1}

const (
	saltLen = 16
	keyLen  = 32
	// maxSecretLen bounds the work an attacker can make us do per attempt.
	maxSecretLen = 1024
)

var b64 = base64.RawStdEncoding

// Hash returns the PHC string of secret under p.
func Hash(secret string, p Params) (string, error) {
	if secret == "" || len(secret) > maxSecretLen {
		return "", fmt.Errorf("a secret must be 1 to %d bytes", maxSecretLen)
	}
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(secret), salt, p.Time, p.Memory, p.Threads, keyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// Verify reports whether secret matches the PHC string encoded. A
// malformed or unsupported encoding is an error, never a match.
func Verify(encoded, secret string) (bool, error) {
	if len(secret) > maxSecretLen {
		return false, nil
	}
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return false, fmt.Errorf("not an argon2id hash")
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, fmt.Errorf("unsupported argon2 version %q", parts[2])
	}
	var p Params
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil {
		return false, fmt.Errorf("bad argon2id parameters %q", parts[3])
	}
	// Refuse parameters that would let a stored hash exhaust the machine.
	if p.Memory == 0 || p.Memory > 1<<20 || p.Time == 0 || p.Time > 16 || p.Threads == 0 {
		return false, fmt.Errorf("argon2id parameters out of range %q", parts[3])
	}
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return false, fmt.Errorf("bad salt: %v", err)
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil || len(want) == 0 {
		return false, fmt.Errorf("bad hash")
	}
	got := argon2.IDKey([]byte(secret), salt, p.Time, p.Memory, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// NewSecret returns a random secret of 32 bytes, URL-safe base64 encoded.
func NewSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return base64.RawURLEncoding.EncodeToString(b)
}
