package main

import (
	"context"
	"slices"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"

	"github.com/paywire/paywire"
)

// merchantTTL is how long a node answers a merchant's settings and API
// credentials from memory: a change (disabling a merchant, its URLs, its
// risk profile, a new or revoked secret) reaches the merchant API and the
// payment use cases of every node within it.
const merchantTTL = time.Second

// merchantCache is a MerchantStore whose Merchant and MerchantCredentials
// reads are kept for a TTL: every merchant request reads its merchant and
// credentials to authenticate and the merchant again in the use case, so
// a busy merchant's rows would otherwise be read three times per request.
// Unknown merchants are not kept. Everything else goes to the store.
type merchantCache struct {
	paywire.MerchantStore
	kept  *expirable.LRU[string, paywire.Merchant]
	creds *expirable.LRU[string, []paywire.MerchantCredential]
}

// newMerchantCache keeps up to 10,000 merchants, and their credentials,
// for ttl each.
func newMerchantCache(s paywire.MerchantStore, ttl time.Duration) *merchantCache {
	return &merchantCache{MerchantStore: s,
		kept:  expirable.NewLRU[string, paywire.Merchant](10_000, nil, ttl),
		creds: expirable.NewLRU[string, []paywire.MerchantCredential](10_000, nil, ttl)}
}

// MerchantCredentials implements paywire.MerchantStore. Each caller gets
// its own copy.
func (c *merchantCache) MerchantCredentials(ctx context.Context, merchantID string) ([]paywire.MerchantCredential, error) {
	if cs, ok := c.creds.Get(merchantID); ok {
		return slices.Clone(cs), nil
	}
	cs, err := c.MerchantStore.MerchantCredentials(ctx, merchantID)
	if err != nil {
		return nil, err
	}
	c.creds.Add(merchantID, slices.Clone(cs))
	return cs, nil
}

// Merchant implements paywire.MerchantStore. Each caller gets its own copy.
func (c *merchantCache) Merchant(ctx context.Context, id string) (*paywire.Merchant, error) {
	if m, ok := c.kept.Get(id); ok {
		return &m, nil
	}
	m, err := c.MerchantStore.Merchant(ctx, id)
	if err != nil {
		return nil, err
	}
	c.kept.Add(id, *m)
	return m, nil
}
