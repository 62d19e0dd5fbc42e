package credential_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/credential"
	"github.com/paywire/paywire/paywiretest"
)

func TestManagerLifecycle(t *testing.T) {
	ctx := context.Background()
	core := paywiretest.New(t)
	k, _ := credential.NewKeyed([]byte("0123456789abcdef0123456789abcdef"))
	mg := &credential.Manager{Merchants: core.DB, Audit: core.DB, Keyed: k, Now: core.Clock.Now}
	first, err := mg.CreateMerchant(ctx, "operator", &paywire.Merchant{ID: "shop", Name: "Shop", ReturnURLPrefixes: []string{"https://shop.example/"}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(first.Secret, credential.APISecretPrefix) {
		t.Fatalf("first secret %q", first.Secret)
	}
	valid := func() map[string]paywire.MerchantCredential {
		cs, err := core.DB.MerchantCredentials(ctx, "shop")
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]paywire.MerchantCredential{}
		for _, c := range cs {
			out[c.ID] = c
		}
		return out
	}
	// Rotation: both valid during the overlap, the old one revoked at its end.
	next, err := mg.Rotate(ctx, "operator", "shop", first.Credential.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	v := valid()
	if len(v) != 2 || v[first.Credential.ID].RevokedAt.IsZero() || !v[next.Credential.ID].RevokedAt.IsZero() {
		t.Fatalf("during the overlap: %+v", v)
	}
	if !k.Verify(v[next.Credential.ID].SecretHash, next.Secret) || !k.Verify(v[first.Credential.ID].SecretHash, first.Secret) {
		t.Error("a secret does not verify during the overlap")
	}
	core.Clock.Add(time.Hour + time.Second)
	if v := valid(); len(v) != 1 || v[next.Credential.ID].ID == "" {
		t.Fatalf("after the overlap: %+v", v)
	}
	// An immediate rotation and a revocation.
	if _, err := mg.Rotate(ctx, "operator", "shop", first.Credential.ID, time.Hour); paywire.ErrorCode(err) != paywire.ENOTFOUND {
		t.Errorf("rotating a revoked credential: %v", err)
	}
	if _, err := mg.Rotate(ctx, "operator", "shop", next.Credential.ID, 40*24*time.Hour); paywire.ErrorCode(err) != paywire.EINVALID {
		t.Errorf("an overlap of 40 days: %v", err)
	}
	if err := mg.Revoke(ctx, "operator", "shop", next.Credential.ID); err != nil {
		t.Fatal(err)
	}
	list, err := mg.List(ctx, "shop")
	if err != nil || len(list) != 0 {
		t.Errorf("after revoking the last: %+v, %v", list, err)
	}
	third, _ := mg.Issue(ctx, "operator", "shop", "backup")
	list, _ = mg.List(ctx, "shop")
	if len(list) != 1 || list[0].SecretHash != "" || list[0].Label != "backup" || list[0].ID != third.Credential.ID {
		t.Errorf("list: %+v", list)
	}
	if _, err := mg.List(ctx, "nobody"); paywire.ErrorCode(err) != paywire.ENOTFOUND {
		t.Errorf("list of an unknown merchant: %v", err)
	}
	// Each change is audited.
	entries, _ := core.DB.AuditEntries(ctx, 0, 100)
	var actions []string
	for i := len(entries) - 1; i >= 0; i-- {
		if entries[i].Target == "shop" {
			actions = append(actions, entries[i].Action)
		}
	}
	want := "merchant.create credential.issue credential.issue credential.rotate credential.revoke credential.issue"
	if got := strings.Join(actions, " "); got != want {
		t.Errorf("audit: %s\nwant   %s", got, want)
	}
}
