package admin

import (
	"testing"
	"time"
)

// The RFC 6238 appendix B vectors for SHA-1 (secret "12345678901234567890",
// 8 digits there; the last 6 here).
func TestTOTPVectors(t *testing.T) {
	secret := b32.EncodeToString([]byte("12345678901234567890"))
	for _, v := range []struct {
		unix int64
		code string
	}{
		{59, "287082"}, {1111111109, "081804"}, {1111111111, "050471"},
		{1234567890, "005924"}, {2000000000, "279037"}, {20000000000, "353130"},
	} {
		got, err := TOTPCode(secret, time.Unix(v.unix, 0))
		if err != nil || got != v.code {
			t.Errorf("at %d: %s, %v; want %s", v.unix, got, err, v.code)
		}
	}
}

func TestCheckTOTP(t *testing.T) {
	secret := NewTOTPSecret()
	now := time.Unix(1_800_000_000, 0)
	code, _ := TOTPCode(secret, now)
	for _, d := range []time.Duration{0, -30 * time.Second, 30 * time.Second} {
		if !checkTOTP(secret, code, now.Add(d)) {
			t.Errorf("a code %s from now refused", d)
		}
	}
	for _, d := range []time.Duration{-90 * time.Second, 90 * time.Second} {
		if checkTOTP(secret, code, now.Add(d)) {
			t.Errorf("a code %s from now accepted", d)
		}
	}
	if checkTOTP(secret, "12345", now) || checkTOTP("not base32!", code, now) {
		t.Error("a malformed code or secret accepted")
	}
}
