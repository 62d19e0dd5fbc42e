package main

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paywire/paywire"
)

type countingMerchants struct {
	paywire.MerchantStore
	reads     atomic.Int64
	credReads atomic.Int64
	name      string
}

func (c *countingMerchants) MerchantCredentials(_ context.Context, id string) ([]paywire.MerchantCredential, error) {
	c.credReads.Add(1)
	return []paywire.MerchantCredential{{ID: "cred-1", MerchantID: id, SecretHash: c.name}}, nil
}

func (c *countingMerchants) Merchant(_ context.Context, id string) (*paywire.Merchant, error) {
	c.reads.Add(1)
	if id != "m1" {
		return nil, paywire.Errorf(paywire.ENOTFOUND, "merchant not found")
	}
	return &paywire.Merchant{ID: id, Name: c.name}, nil
}

// TestMerchantCache: a merchant and its credentials are read from the
// store once per TTL; each caller gets its own copy; errors are not kept;
// a change is seen after the TTL.
func TestMerchantCache(t *testing.T) {
	st := &countingMerchants{name: "before"}
	c := newMerchantCache(st, 200*time.Millisecond)
	ctx := context.Background()
	a, err := c.Merchant(ctx, "m1")
	if err != nil {
		t.Fatal(err)
	}
	a.Name = "changed by a caller"
	b, err := c.Merchant(ctx, "m1")
	if err != nil || b.Name != "before" || st.reads.Load() != 1 {
		t.Fatalf("second read: %+v, %v after %d store reads", b, err, st.reads.Load())
	}
	for range 2 {
		if _, err := c.Merchant(ctx, "nobody"); paywire.ErrorCode(err) != paywire.ENOTFOUND {
			t.Fatalf("unknown merchant: %v", err)
		}
	}
	if st.reads.Load() != 3 {
		t.Errorf("%d store reads; an unknown merchant must be read each time", st.reads.Load())
	}
	cs, _ := c.MerchantCredentials(ctx, "m1")
	cs[0].SecretHash = "changed by a caller"
	if again, _ := c.MerchantCredentials(ctx, "m1"); len(again) != 1 || again[0].SecretHash != "before" || st.credReads.Load() != 1 {
		t.Errorf("credentials read again: %+v after %d store reads", again, st.credReads.Load())
	}
	st.name = "after"
	time.Sleep(300 * time.Millisecond)
	if m, _ := c.Merchant(ctx, "m1"); m == nil || m.Name != "after" {
		t.Errorf("after the TTL: %+v", m)
	}
	if cs, _ := c.MerchantCredentials(ctx, "m1"); len(cs) != 1 || cs[0].SecretHash != "after" {
		t.Errorf("credentials after the TTL: %+v", cs)
	}
}
