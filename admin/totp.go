package admin

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// TOTP (RFC 6238) with the parameters every authenticator app uses:
// HMAC-SHA1, 30-second steps, 6 digits. A code is accepted one step either
// side of now, for clocks that drift.

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewTOTPSecret returns a random 160-bit secret, base32 without padding.
func NewTOTPSecret() string {
	var b [20]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return b32.EncodeToString(b[:])
}

// totpCode is the code of secret for the 30-second step counter.
func totpCode(key []byte, counter uint64) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], counter)
	mac := hmac.New(sha1.New, key)
	mac.Write(msg[:])
	sum := mac.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	v := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	return fmt.Sprintf("%06d", v%1_000_000)
}

// TOTPCode returns the code of secret at t (for tests and enrolment).
func TOTPCode(secret string, t time.Time) (string, error) {
	key, err := b32.DecodeString(strings.ToUpper(secret))
	if err != nil {
		return "", err
	}
	return totpCode(key, uint64(t.Unix()/30)), nil
}

// checkTOTP reports whether code is secret's code at now, or one step
// before or after.
func checkTOTP(secret, code string, now time.Time) bool {
	key, err := b32.DecodeString(strings.ToUpper(secret))
	if err != nil || len(code) != 6 {
		return false
	}
	step := uint64(now.Unix() / 30)
	ok := 0
	for _, c := range []uint64{step - 1, step, step + 1} {
		ok |= subtle.ConstantTimeCompare([]byte(totpCode(key, c)), []byte(code))
	}
	return ok == 1
}

// totpURI is the otpauth:// URI authenticator apps import.
func totpURI(issuer, user, secret string) string {
	q := url.Values{"secret": {secret}, "issuer": {issuer}, "algorithm": {"SHA1"}, "digits": {"6"}, "period": {"30"}}
	return "otpauth://totp/" + url.PathEscape(issuer+":"+user) + "?" + q.Encode()
}
