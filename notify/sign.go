package notify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"github.com/paywire/paywire"
)

// Headers of every notification. The signature covers the body only; the
// event id and sequence number repeat what the body says, so that a
// merchant can route or drop a duplicate before parsing it.
const (
	SignatureHeader = "Paywire-Signature"
	EventIDHeader   = "Paywire-Event-Id"
	SequenceHeader  = "Paywire-Sequence"
)

// DefaultTolerance is how far the timestamp of a signature may lie from the
// receiver's clock when Verify is given no tolerance.
const DefaultTolerance = 5 * time.Minute

// Limits of Verify, which parses a header that arrives from the internet.
const (
	maxSignatureHeader = 2048
	maxSignatureParts  = 16
)

// Sign returns the value of the Paywire-Signature header for body sent at t:
// "t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">", with one v1 per
// secret in the order given. Empty secrets are skipped. While a merchant's
// secret rotates, Paywire passes the new secret and the previous one, so
// that a receiver that knows either accepts the notification.
func Sign(secrets []string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	var b strings.Builder
	b.WriteString("t=")
	b.WriteString(ts)
	for _, s := range secrets {
		if s == "" {
			continue
		}
		b.WriteString(",v1=")
		b.WriteString(hex.EncodeToString(mac(s, ts, body)))
	}
	return b.String()
}

func mac(secret, ts string, body []byte) []byte {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write([]byte(ts))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// Verify checks a Paywire-Signature header against the body received and
// the secrets the receiver holds: it accepts when any v1 value matches any
// non-empty secret and the timestamp lies within tolerance of now, before
// or after (DefaultTolerance when tolerance is not positive), which stops an
// old notification from being replayed much later. Comparisons take
// constant time. Values of schemes other than v1 are ignored, so that a
// later scheme can be added beside v1.
//
// The error is an EUNAUTHORIZED *paywire.Error that says what is wrong; it
// never contains the expected signature.
func Verify(header string, secrets []string, body []byte, now time.Time, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	if header == "" {
		return paywire.Errorf(paywire.EUNAUTHORIZED, "the %s header is missing", SignatureHeader)
	}
	if len(header) > maxSignatureHeader {
		return paywire.Errorf(paywire.EUNAUTHORIZED, "the %s header is longer than %d bytes", SignatureHeader, maxSignatureHeader)
	}
	parts := strings.Split(header, ",")
	if len(parts) > maxSignatureParts {
		return paywire.Errorf(paywire.EUNAUTHORIZED, "the %s header has more than %d parts", SignatureHeader, maxSignatureParts)
	}
	var ts string
	var sigs [][]byte
	for _, p := range parts {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok {
			return paywire.Errorf(paywire.EUNAUTHORIZED, "the %s header is malformed: want t=<seconds>,v1=<hex>", SignatureHeader)
		}
		switch k {
		case "t":
			if ts != "" {
				return paywire.Errorf(paywire.EUNAUTHORIZED, "the %s header has more than one timestamp", SignatureHeader)
			}
			ts = v
		case "v1":
			if sig, err := hex.DecodeString(v); err == nil && len(sig) == sha256.Size {
				sigs = append(sigs, sig)
			}
		}
	}
	if ts == "" {
		return paywire.Errorf(paywire.EUNAUTHORIZED, "the %s header has no timestamp", SignatureHeader)
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || sec < 0 || ts != strconv.FormatInt(sec, 10) {
		return paywire.Errorf(paywire.EUNAUTHORIZED, "the timestamp of the %s header is not a number of seconds", SignatureHeader)
	}
	if skew := now.Sub(time.Unix(sec, 0)).Abs(); skew > tolerance {
		return paywire.Errorf(paywire.EUNAUTHORIZED, "the timestamp of the %s header is %s away from now, more than %s", SignatureHeader, skew.Round(time.Second), tolerance)
	}
	if len(sigs) == 0 {
		return paywire.Errorf(paywire.EUNAUTHORIZED, "the %s header has no v1 signature", SignatureHeader)
	}
	ok := false
	for _, s := range secrets {
		if s == "" {
			continue
		}
		want := mac(s, ts, body)
		for _, sig := range sigs {
			// Keep comparing after a match, so that the time taken does not
			// tell which secret or value matched.
			if hmac.Equal(want, sig) {
				ok = true
			}
		}
	}
	if !ok {
		return paywire.Errorf(paywire.EUNAUTHORIZED, "no signature in the %s header matches the body", SignatureHeader)
	}
	return nil
}
