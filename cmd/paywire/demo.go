package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"

	"github.com/paywire/paywire"
	"github.com/paywire/paywire/credential"
	"github.com/paywire/paywire/store"
)

// seedDemo makes sure the demo merchant `demo` and the admin user `admin`
// exist. It is idempotent: on later starts it changes nothing unless
// PAYWIRE_DEMO_SECRET or PAYWIRE_ADMIN_PASSWORD name a secret that does not
// match yet, which is then added (merchant) or set (admin). A secret it
// makes up is printed to out once, when it is made.
func seedDemo(ctx context.Context, db *store.DB, cfg Config, out io.Writer, log *slog.Logger) error {
	if err := seedDemoMerchant(ctx, db, cfg, out, log); err != nil {
		return err
	}
	return seedAdmin(ctx, db, cfg, out, log)
}

func seedDemoMerchant(ctx context.Context, db *store.DB, cfg Config, out io.Writer, log *slog.Logger) error {
	m := &paywire.Merchant{
		ID:                 "demo",
		Name:               "Demo Shop",
		NotificationFormat: "soap",
		// Loopback prefixes without a port admit any port, for a
		// development merchant: the demo may run on any address.
		ReturnURLPrefixes:  []string{"http://localhost/", "http://127.0.0.1/"},
		AllowLocalhostHTTP: true,
		// Card payments risk scores at most 30 are captured at once.
		AutoCapture:         true,
		AutoCaptureMaxScore: 30,
	}
	switch err := db.CreateMerchant(ctx, m); paywire.ErrorCode(err) {
	case "":
		log.Info("demo merchant created", "merchant_id", m.ID)
	case paywire.ECONFLICT: // seeded before, by us or by another node
	default:
		return err
	}
	creds, err := db.MerchantCredentials(ctx, "demo")
	if err != nil {
		return err
	}
	var own []paywire.MerchantCredential // all but the demo shop's
	for _, c := range creds {
		if c.Label != demoShopLabel {
			own = append(own, c)
		}
	}
	secret, made := cfg.DemoSecret, false
	if secret == "" {
		if len(own) > 0 {
			return nil
		}
		secret, made = credential.NewAPISecret(), true
	}
	mg := credentialManager(db, cfg.TokenKey)
	keep, issuedNew := "", false
	for _, c := range own {
		if secretMatches(mg, c, secret) {
			keep = c.ID
			break
		}
	}
	if keep == "" {
		issued, err := mg.IssueSecret(ctx, "system", "demo", "demo", secret)
		if err != nil {
			return fmt.Errorf("PAYWIRE_DEMO_SECRET: %v", err)
		}
		keep, issuedNew = issued.Credential.ID, true
	}
	// The demo secret replaces every other: a new PAYWIRE_DEMO_SECRET
	// revokes the old one instead of adding to it.
	for _, c := range own {
		if c.ID != keep {
			if err := mg.Revoke(ctx, "system", "demo", c.ID); err != nil && paywire.ErrorCode(err) != paywire.ENOTFOUND {
				return err
			}
		}
	}
	if !issuedNew {
		return nil
	}
	if made {
		fmt.Fprintf(out, "Demo merchant \"demo\": API secret (shown once, set PAYWIRE_DEMO_SECRET to choose it): %s\n", secret)
	} else {
		log.Info("demo merchant secret set from PAYWIRE_DEMO_SECRET")
	}
	return nil
}

func seedAdmin(ctx context.Context, db *store.DB, cfg Config, out io.Writer, log *slog.Logger) error {
	existing, err := db.AdminUserByName(ctx, "admin")
	if err != nil && paywire.ErrorCode(err) != paywire.ENOTFOUND {
		return err
	}
	password, made := cfg.AdminPassword, false
	if existing != nil {
		if password == "" {
			return nil
		}
		if ok, _ := credential.Verify(existing.PasswordHash, password); ok {
			return nil
		}
	}
	if password == "" {
		password, made = credential.NewSecret()[:20], true
	}
	hash, err := credential.Hash(password, credential.Default)
	if err != nil {
		return fmt.Errorf("PAYWIRE_ADMIN_PASSWORD: %v", err)
	}
	if existing != nil {
		if err := db.SetAdminPassword(ctx, "admin", hash); err != nil {
			return err
		}
		log.Info("admin password set from PAYWIRE_ADMIN_PASSWORD")
		return nil
	}
	err = db.CreateAdminUser(ctx, &paywire.AdminUser{Username: "admin", PasswordHash: hash, Roles: []string{"admin"}})
	if paywire.ErrorCode(err) == paywire.ECONFLICT {
		return nil // another node seeded it first
	}
	if err != nil {
		return err
	}
	if made {
		fmt.Fprintf(out, "Admin user \"admin\": password (shown once, set PAYWIRE_ADMIN_PASSWORD to choose it): %s\n", password)
	} else {
		log.Info("admin user created with PAYWIRE_ADMIN_PASSWORD")
	}
	return nil
}

// demoShopSecret returns the API secret the in-process demo shop uses, and
// makes sure the demo merchant holds it.
func demoShopSecret(ctx context.Context, db *store.DB, tokenKey []byte) (*paywire.Merchant, string, error) {
	return demoServerSecret(ctx, db, tokenKey, "demo")
}

// demoServerSecret returns the API secret of a demo merchant's own server
// in the node (the demo shop; the simulated traffic of serve --demo), and
// makes sure the merchant holds it. It is derived from the merchant's
// signing secret, so it is the same on every start and no credential
// accumulates.
func demoServerSecret(ctx context.Context, db *store.DB, tokenKey []byte, merchantID string) (*paywire.Merchant, string, error) {
	m, err := db.Merchant(ctx, merchantID)
	if err != nil {
		return nil, "", err
	}
	mac := hmac.New(sha256.New, []byte(m.SigningSecret))
	mac.Write([]byte("demo shop API secret"))
	secret := "shop_" + hex.EncodeToString(mac.Sum(nil))[:40]
	creds, err := db.MerchantCredentials(ctx, merchantID)
	if err != nil {
		return nil, "", err
	}
	mg := credentialManager(db, tokenKey)
	for _, c := range creds {
		if c.Label == demoShopLabel && secretMatches(mg, c, secret) {
			return m, secret, nil
		}
	}
	_, err = mg.IssueSecret(ctx, "system", merchantID, demoShopLabel, secret)
	return m, secret, err
}

// demoShopLabel labels the credential of a demo merchant's own server in
// the node (demoServerSecret), which the demo secret does not replace.
const demoShopLabel = "demo shop"

// secretMatches reports whether secret is credential c's, under a keyed
// hash or (issued before keyed hashes) argon2id.
func secretMatches(mg *credential.Manager, c paywire.MerchantCredential, secret string) bool {
	if credential.IsKeyed(c.SecretHash) {
		return mg.Keyed.Verify(c.SecretHash, secret)
	}
	ok, _ := credential.Verify(c.SecretHash, secret)
	return ok
}
