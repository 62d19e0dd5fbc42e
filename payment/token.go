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
// payment. It is "<merchant id>.<payment id>.<expiry unix seconds>.<MAC>",
// the MAC an HMAC-SHA256 over the first three parts keyed with the
// service's token key, so it is bound to the payment and expires; a payment
// takes one submission (its state leaves created), which makes the token
// single-use for submitting.

// SignToken returns the token for a payment that expires at exp.
func SignToken(key []byte, merchantID, paymentID string, exp time.Time) string {
	body := merchantID + "." + paymentID + "." + strconv.FormatInt(exp.Unix(), 10)
	return body + "." + tokenMAC(key, body)
}

// VerifyToken returns the merchant and payment of a token that is intact
// and not expired at now. Returns EUNAUTHORIZED for a tampered or malformed
// token, EEXPIRED for an expired one.
func VerifyToken(key []byte, token string, now time.Time) (merchantID, paymentID string, err error) {
	invalid := paywire.Errorf(paywire.EUNAUTHORIZED, "the payment link is not valid")
	i := strings.LastIndexByte(token, '.')
	if i < 0 || len(token) > 256 {
		return "", "", invalid
	}
	body, mac := token[:i], token[i+1:]
	if !hmac.Equal([]byte(mac), []byte(tokenMAC(key, body))) {
		return "", "", invalid
	}
	parts := strings.Split(body, ".")
	if len(parts) != 3 {
		return "", "", invalid
	}
	exp, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil {
		return "", "", invalid
	}
	if !now.Before(time.Unix(exp, 0)) {
		return "", "", paywire.Errorf(paywire.EEXPIRED, "the payment link has expired")
	}
	return parts[0], parts[1], nil
}

func tokenMAC(key []byte, body string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(body))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
