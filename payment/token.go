package payment

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"github.com/paywire/paywire"
)

// A redirect token sends the end user's browser to the hosted pages for one
// payment. It is "<payment id>.<expiry unix seconds>.<HMAC-SHA256>", the
// MAC over the first two parts keyed with the service's token key, so it is
// bound to the payment and expires; the hosted pages make it single-use.

// SignToken returns the token for a payment that expires at exp.
func SignToken(key []byte, paymentID string, exp time.Time) string {
	body := paymentID + "." + strconv.FormatInt(exp.Unix(), 10)
	return body + "." + tokenMAC(key, body)
}

// VerifyToken returns the payment id of a token that is intact and not
// expired at now. Returns EUNAUTHORIZED for a tampered or malformed token,
// EFORBIDDEN for an expired one.
func VerifyToken(key []byte, token string, now time.Time) (string, error) {
	i := strings.LastIndexByte(token, '.')
	if i < 0 || len(token) > 256 {
		return "", paywire.Errorf(paywire.EUNAUTHORIZED, "the payment link is not valid")
	}
	body, mac := token[:i], token[i+1:]
	if !hmac.Equal([]byte(mac), []byte(tokenMAC(key, body))) {
		return "", paywire.Errorf(paywire.EUNAUTHORIZED, "the payment link is not valid")
	}
	j := strings.LastIndexByte(body, '.')
	exp, err := strconv.ParseInt(body[j+1:], 10, 64)
	if j < 0 || err != nil {
		return "", paywire.Errorf(paywire.EUNAUTHORIZED, "the payment link is not valid")
	}
	if !now.Before(time.Unix(exp, 0)) {
		return "", paywire.Errorf(paywire.EFORBIDDEN, "the payment link has expired")
	}
	return body[:j], nil
}

func tokenMAC(key []byte, body string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(body))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
