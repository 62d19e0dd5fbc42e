package main

import (
	"context"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"

	"github.com/paywire/paywire"
)

// merchantTTL is how long a node answers a merchant's settings from
// memory: a change (disabling a merchant, its URLs, its risk profile)
// reaches the merchant API and the payment use cases of every node within
// it. Credentials are not kept: a revoked secret fails at once.
const merchantTTL = time.Second

// merchantCache is a MerchantStore whose Merchant reads are kept for
// merchantTTL: a request reads its merchant once to authenticate and again
// in the use case, and a busy merchant's settings would otherwise be read
// twice per request. Everything else goes to the store.
type merchantCache struct {
	paywire.MerchantStore
	kept *expirable.LRU[string, paywire.Merchant]
}

// newMerchantCache keeps up to 10,000 merchants for ttl each.
func newMerchantCache(s paywire.MerchantStore, ttl time.Duration) *merchantCache {
	return &merchantCache{MerchantStore: s, kept: expirable.NewLRU[string, paywire.Merchant](10_000, nil, ttl)}
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
