package main

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/paywire/paywire/store"
)

// TestDemoSecretReplaced: a new PAYWIRE_DEMO_SECRET replaces the old one
// instead of adding to it, and the demo shop's own credential stays.
func TestDemoSecretReplaced(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "demo.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	mg := credentialManager(db, nil)
	for _, s := range []string{"first-demo-secret", "second-demo-secret", "second-demo-secret"} {
		if err := seedDemoMerchant(ctx, db, Config{DemoSecret: s}, io.Discard, log); err != nil {
			t.Fatal(err)
		}
		if _, _, err := demoShopSecret(ctx, db, nil); err != nil {
			t.Fatal(err)
		}
	}
	creds, _ := db.MerchantCredentials(ctx, "demo")
	var demo, shop int
	for _, c := range creds {
		if c.Label == demoShopLabel {
			shop++
			continue
		}
		demo++
		if !secretMatches(mg, c, "second-demo-secret") {
			t.Errorf("credential %+v is not the current demo secret", c)
		}
	}
	if demo != 1 || shop != 1 {
		t.Errorf("%d demo and %d shop credentials; want 1 of each", demo, shop)
	}
}
