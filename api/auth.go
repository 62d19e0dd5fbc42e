package api

import (
	"context"
	"crypto/sha256"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/credential"
)

// authenticator checks merchant credentials. Secrets are stored as argon2id
// hashes, which are slow to verify on purpose; a successful check is
// remembered for a minute (by a hash of merchant id, secret and stored hash,
// never the secret itself), so that a busy merchant does not pay for it on
// every call, and a revoked or rotated credential stops working within a
// minute.
type authenticator struct {
	merchants paywire.MerchantStore
	verified  *expirable.LRU[[32]byte, bool]
}

func newAuthenticator(m paywire.MerchantStore) *authenticator {
	return &authenticator{merchants: m, verified: expirable.NewLRU[[32]byte, bool](10000, nil, time.Minute)}
}

// errBadCredentials is the one answer to every failed authentication, so
// that a caller learns nothing about which part was wrong.
var errBadCredentials = paywire.Errorf(paywire.EUNAUTHORIZED, "the merchant id or secret is wrong")

// authenticate returns the merchant whose id and secret these are.
func (a *authenticator) authenticate(ctx context.Context, merchantID, secret string) (*paywire.Merchant, error) {
	if merchantID == "" || secret == "" || len(merchantID) > 64 || len(secret) > 256 {
		return nil, errBadCredentials
	}
	m, err := a.merchants.Merchant(ctx, merchantID)
	if paywire.ErrorCode(err) == paywire.ENOTFOUND {
		return nil, errBadCredentials
	} else if err != nil {
		return nil, err
	}
	if m.Disabled {
		return nil, errBadCredentials
	}
	creds, err := a.merchants.MerchantCredentials(ctx, merchantID)
	if err != nil {
		return nil, err
	}
	for _, c := range creds {
		k := sha256.Sum256([]byte(merchantID + "\x00" + secret + "\x00" + c.SecretHash))
		if a.verified.Contains(k) {
			return m, nil
		}
		if ok, err := credential.Verify(c.SecretHash, secret); err == nil && ok {
			a.verified.Add(k, true)
			return m, nil
		}
	}
	return nil, errBadCredentials
}
