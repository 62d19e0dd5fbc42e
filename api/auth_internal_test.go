package api

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/credential"
	"github.com/paywire/paywire/paywiretest"
)

// TestUnknownMerchantDoesTheSameWork checks the code path that keeps
// merchant ids from being enumerated by timing: a wrong secret for an
// unknown id makes the keyed verification a known id's does.
func TestUnknownMerchantDoesTheSameWork(t *testing.T) {
	core := paywiretest.New(t)
	core.Merchant("known", "")
	k, _ := credential.NewKeyed(credential.DevelopmentKey)
	if err := core.DB.AddMerchantCredential(context.Background(), &paywire.MerchantCredential{MerchantID: "known", SecretHash: k.Hash(credential.NewAPISecret())}); err != nil {
		t.Fatal(err)
	}
	core.Merchant("none", "") // a merchant without credentials
	a, err := newAuthenticator(core.DB, nil, AuthLimits{PerAddress: 1000, PerMerchant: 1000}, func(context.Context, string, ...any) {})
	if err != nil {
		t.Fatal(err)
	}
	work := map[string]int64{}
	for _, id := range []string{"known", "nobody", "none"} {
		before := a.keyedChecks.Load()
		_, err := a.authenticate(httptest.NewRequest("GET", "/", nil), id, "pw_live_wrong")
		if paywire.ErrorCode(err) != paywire.EUNAUTHORIZED {
			t.Fatalf("%s: %v", id, err)
		}
		work[id] = a.keyedChecks.Load() - before
	}
	if work["known"] != 1 || work["nobody"] != work["known"] || work["none"] != work["known"] {
		t.Errorf("keyed verifications per wrong secret: %v; want the same for known and unknown ids", work)
	}
}
